/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hub-dbus-source.h"

typedef struct {
	GSource source;
	sd_bus *bus;
	gpointer fd_tag;
	int events;
	gint64 ready_time;
} HubDbusSource;

static gboolean source_prepare(GSource *source, gint *timeout)
{
	HubDbusSource *s = (HubDbusSource *)source;
	uint64_t usec;
	gint64 ready = -1;
	int events = sd_bus_get_events(s->bus);

	if (events < 0)
		events = 0;
	/* Only touch the source on change: each call wakes the context (busy loop otherwise). */
	if (events != s->events) {
		g_source_modify_unix_fd(source, s->fd_tag, (GIOCondition)events);
		s->events = events;
	}
	/* sd_bus_get_timeout() is 0 when messages are already queued; the fd stays quiet then. */
	if (sd_bus_get_timeout(s->bus, &usec) >= 0 && usec != UINT64_MAX)
		ready = (gint64)usec;
	if (ready != s->ready_time) {
		g_source_set_ready_time(source, ready);
		s->ready_time = ready;
	}
	*timeout = -1;
	return ready == 0;
}

static gboolean source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	HubDbusSource *s = (HubDbusSource *)source;
	int r, n = 0;

	/* Bounded, so a client that never stops sending cannot starve timers and
	 * commands; sd-bus reports a zero timeout while messages wait, so the
	 * next loop turn comes back here at once. */
	while ((r = sd_bus_process(s->bus, NULL)) > 0 && ++n < 64)
		;
	if (r < 0) {
		g_warning("D-Bus connection failed: %s", g_strerror(-r));
		if (callback)
			callback(user_data);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static void source_finalize(GSource *source)
{
	HubDbusSource *s = (HubDbusSource *)source;

	sd_bus_flush_close_unref(s->bus);
}

static GSourceFuncs source_funcs = {
	.prepare = source_prepare,
	.dispatch = source_dispatch,
	.finalize = source_finalize,
};

GSource *hub_dbus_source_attach(sd_bus *bus, GSourceFunc on_lost, gpointer user_data)
{
	GSource *source = g_source_new(&source_funcs, sizeof(HubDbusSource));
	HubDbusSource *s = (HubDbusSource *)source;

	s->bus = sd_bus_ref(bus);
	s->events = G_IO_IN;
	s->ready_time = -1;
	s->fd_tag = g_source_add_unix_fd(source, sd_bus_get_fd(bus), G_IO_IN);
	g_source_set_name(source, "sd-bus");
	if (on_lost)
		g_source_set_callback(source, on_lost, user_data, NULL);
	g_source_attach(source, NULL);
	return source;
}
