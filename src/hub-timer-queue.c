/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hub-timer-queue.h"

/* How long one dispatch may run timers before it lets the loop go round. */
#define DISPATCH_BUDGET_US 4000

typedef struct {
	guint64 id;
	gint64 deadline; /* monotonic µs */
	guint interval_ms;
	HubTimerFunc func;
	gpointer user_data;
	GSequenceIter *iter; /* NULL while firing */
	gboolean cancelled;
} Entry;

typedef struct {
	GSource source;
	HubTimerQueue *queue;
} QueueSource;

struct _HubTimerQueue {
	GSequence *order;    /* Entry*, by deadline then id */
	GHashTable *entries; /* guint64* id -> Entry* (owns) */
	GSource *source;
	guint64 next_id;
	gint64 armed;        /* ready time last given to the source */
};

static gint compare_entries(gconstpointer a, gconstpointer b, gpointer user_data)
{
	const Entry *ea = a, *eb = b;

	if (ea->deadline != eb->deadline)
		return ea->deadline < eb->deadline ? -1 : 1;
	return ea->id < eb->id ? -1 : ea->id > eb->id;
}

/* Only touch the source when the earliest deadline moved: each change wakes the context. */
static void rearm(HubTimerQueue *queue)
{
	GSequenceIter *first = g_sequence_get_begin_iter(queue->order);
	gint64 ready = g_sequence_iter_is_end(first) ? -1 : ((Entry *)g_sequence_get(first))->deadline;

	if (ready != queue->armed) {
		g_source_set_ready_time(queue->source, ready);
		queue->armed = ready;
	}
}

static gboolean queue_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	HubTimerQueue *queue = ((QueueSource *)source)->queue;
	gint64 now = g_source_get_time(source);
	gint64 budget_end = g_get_monotonic_time() + DISPATCH_BUDGET_US;

	queue->armed = -2; /* GLib clears the ready time after dispatch; force rearm */
	for (guint fired = 0;; fired++) {
		GSequenceIter *first = g_sequence_get_begin_iter(queue->order);
		Entry *entry;
		gboolean again;

		if (g_sequence_iter_is_end(first))
			break;
		entry = g_sequence_get(first);
		if (entry->deadline > now)
			break;
		/* Overdue timers wait for the next iteration: the sockets (the
		 * cloud's acknowledgements, D-Bus) get their turn in between. */
		if (fired % 16 == 15 && g_get_monotonic_time() > budget_end)
			break;
		g_sequence_remove(first);
		entry->iter = NULL;
		again = entry->func(entry->user_data);
		if (again && !entry->cancelled) {
			/* At least 1 ms: a 0 ms repeating timer must not keep this loop busy forever. */
			gint64 period = (gint64)MAX(entry->interval_ms, 1u) * 1000;

			entry->deadline += period;
			/* Late by more than a period: skip the missed beats, do not burst. */
			if (entry->deadline <= now)
				entry->deadline = now + period;
			entry->iter = g_sequence_insert_sorted(queue->order, entry, compare_entries, NULL);
		} else {
			g_hash_table_remove(queue->entries, &entry->id);
		}
	}
	rearm(queue);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs queue_funcs = {
	.dispatch = queue_dispatch,
};

HubTimerQueue *hub_timer_queue_new(void)
{
	HubTimerQueue *queue = g_new0(HubTimerQueue, 1);

	queue->order = g_sequence_new(NULL);
	queue->entries = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	queue->next_id = 1;
	queue->armed = -1;
	queue->source = g_source_new(&queue_funcs, sizeof(QueueSource));
	((QueueSource *)queue->source)->queue = queue;
	g_source_set_name(queue->source, "hub-timer-queue");
	g_source_attach(queue->source, NULL);
	return queue;
}

void hub_timer_queue_free(HubTimerQueue *queue)
{
	if (!queue)
		return;
	g_source_destroy(queue->source);
	g_source_unref(queue->source);
	g_sequence_free(queue->order);
	g_hash_table_unref(queue->entries);
	g_free(queue);
}

guint64 hub_timer_queue_add(HubTimerQueue *queue, guint interval_ms, HubTimerFunc func, gpointer user_data)
{
	Entry *entry = g_new0(Entry, 1);

	entry->id = queue->next_id++;
	entry->interval_ms = interval_ms;
	entry->deadline = g_get_monotonic_time() + (gint64)interval_ms * 1000;
	entry->func = func;
	entry->user_data = user_data;
	entry->iter = g_sequence_insert_sorted(queue->order, entry, compare_entries, NULL);
	g_hash_table_insert(queue->entries, &entry->id, entry);
	rearm(queue);
	return entry->id;
}

void hub_timer_queue_remove(HubTimerQueue *queue, guint64 id)
{
	Entry *entry = g_hash_table_lookup(queue->entries, &id);

	if (!entry)
		return;
	if (!entry->iter) {
		/* Firing now: dispatch drops it when the callback returns. */
		entry->cancelled = TRUE;
		return;
	}
	g_sequence_remove(entry->iter);
	g_hash_table_remove(queue->entries, &id);
	rearm(queue);
}

guint hub_timer_queue_size(HubTimerQueue *queue)
{
	return g_hash_table_size(queue->entries);
}
