/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-timer-queue.h - many timers behind one GSource. Plugins may hold a
 * timer per device; as separate GSources, 1,000 of them make every main-loop
 * wake-up walk 1,000 sources. Here they sit in one queue ordered by deadline
 * and the source wakes only for the earliest.
 */
#pragma once

#include <glib.h>

typedef struct _HubTimerQueue HubTimerQueue;

/* Returns TRUE to fire again after the same interval. */
typedef gboolean (*HubTimerFunc)(gpointer user_data);

/* Attaches its source to the default main context. */
HubTimerQueue *hub_timer_queue_new(void);
/* Drops every timer without calling it. NULL-safe. */
void hub_timer_queue_free(HubTimerQueue *queue);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubTimerQueue, hub_timer_queue_free)

/* Calls @func(@user_data) after @interval_ms and then every @interval_ms while
 * it returns TRUE. Returns an id > 0. */
guint64 hub_timer_queue_add(HubTimerQueue *queue, guint interval_ms, HubTimerFunc func, gpointer user_data);
/* Cancels a timer; unknown ids are ignored. Safe from inside any timer's callback. */
void hub_timer_queue_remove(HubTimerQueue *queue, guint64 id);
guint hub_timer_queue_size(HubTimerQueue *queue);
