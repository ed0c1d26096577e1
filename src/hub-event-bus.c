/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "hub-event-bus.h"

typedef struct {
	guint id;
	HubEventFunc func;
	gpointer user_data;
} Subscriber;

struct _HubEventBus {
	GArray *subscribers; /* Subscriber */
	guint next_id;
};

HubEventBus *hub_event_bus_new(void)
{
	HubEventBus *bus = g_new0(HubEventBus, 1);

	bus->subscribers = g_array_new(FALSE, FALSE, sizeof(Subscriber));
	bus->next_id = 1;
	return bus;
}

void hub_event_bus_free(HubEventBus *bus)
{
	if (!bus)
		return;
	g_array_unref(bus->subscribers);
	g_free(bus);
}

guint hub_event_bus_subscribe(HubEventBus *bus, HubEventFunc func, gpointer user_data)
{
	Subscriber s = { bus->next_id++, func, user_data };

	g_array_append_val(bus->subscribers, s);
	return s.id;
}

void hub_event_bus_unsubscribe(HubEventBus *bus, guint id)
{
	for (guint i = 0; i < bus->subscribers->len; i++) {
		if (g_array_index(bus->subscribers, Subscriber, i).id == id) {
			g_array_remove_index(bus->subscribers, i);
			return;
		}
	}
}

void hub_event_bus_emit(HubEventBus *bus, const HubEvent *event)
{
	/* Index loop: a subscriber may unsubscribe itself while we iterate. */
	for (guint i = 0; i < bus->subscribers->len; i++) {
		Subscriber s = g_array_index(bus->subscribers, Subscriber, i);

		s.func(event, s.user_data);
	}
}
