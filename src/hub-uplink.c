/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "hub-json.h"
#include "hub-uplink.h"

/* Publishes handed to the session and not yet acknowledged: enough to keep
 * a loopback link busy, few enough that libmosquitto's own queue stays small. */
#define WINDOW 256
#define REPORTS_OWNER "hubd.uplink.capabilities" /* store kv: device id -> checksum of its last report */

#define DAY_S (24 * 3600)

/* How long a message of each kind is worth sending, and what goes first
 * when the outbox is full (hub-outbox.h). Answers to the cloud overtake. */
static const struct {
	guint priority;
	guint ttl_s;
} kind_policy[HUB_UPLINK_N_KINDS] = {
	[HUB_UPLINK_KIND_COMMAND_ACK] = { 3, 300 },
	[HUB_UPLINK_KIND_COMMAND_RESPONSE] = { 3, DAY_S },
	[HUB_UPLINK_KIND_SETUP_RESPONSE] = { 3, DAY_S },
	[HUB_UPLINK_KIND_STATE] = { 1, DAY_S },
	[HUB_UPLINK_KIND_EVENT] = { 2, 7 * DAY_S },
	[HUB_UPLINK_KIND_LIFECYCLE] = { 2, 7 * DAY_S },
	[HUB_UPLINK_KIND_CAPABILITIES] = { 2, 7 * DAY_S },
};
/* A full state replaces the one before: the first to go when space runs out. */
#define SNAPSHOT_PRIORITY 0

/* A capability report in the outbox: remembered as sent at its PUBACK. */
typedef struct {
	char *device_id;
	char *checksum;
} QueuedReport;

static void queued_report_free(gpointer data)
{
	QueuedReport *report = data;

	g_free(report->device_id);
	g_free(report->checksum);
	g_free(report);
}

struct _HubUplink {
	HubRegistry *registry;
	HubEventBus *bus;
	HubCommandPipeline *commands;
	HubStore *store;
	HubOutbox *outbox;
	guint subscription;
	gboolean enabled;

	char *topics[HUB_UPLINK_N_KINDS];
	gboolean attached;
	gboolean connected;
	HubUplinkPublishFunc publish;
	gpointer publish_data;
	GHashTable *mids;        /* GINT_TO_POINTER(mid) -> guint64* outbox id */
	guint drain_source;

	GHashTable *tracked;     /* trace ids of the cloud's running commands */
	GHashTable *reports;     /* guint64* outbox id -> QueuedReport*: capability reports not yet acknowledged */
	char message_prefix[17]; /* random per start: message ids stay unique across restarts */
	guint64 message_count;
};

static void drain(HubUplink *uplink);

static gboolean drain_cb(gpointer user_data)
{
	HubUplink *uplink = user_data;

	uplink->drain_source = 0;
	drain(uplink);
	return G_SOURCE_REMOVE;
}

static void schedule_drain(HubUplink *uplink)
{
	/* Default priority, not idle: devices reporting without pause would
	 * otherwise starve the uplink. */
	if (!uplink->drain_source && uplink->attached && uplink->connected)
		uplink->drain_source = g_idle_add_full(G_PRIORITY_DEFAULT, drain_cb, uplink, NULL);
}

/* ---- the envelope ---- */

static gboolean push_with_priority(HubUplink *uplink, HubUplinkKind kind, const char *message_type,
				   JsonObject *payload, guint priority)
{
	g_autoptr(JsonObject) owned = payload;
	g_autoptr(JsonObject) envelope = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *message_id = NULL;
	g_autofree char *timestamp = NULL;
	g_autofree char *text = NULL;

	/* Queued with or without a session: the topic is chosen when it is sent. */
	if (!uplink->enabled)
		return FALSE;
	message_id = g_strdup_printf("%s-%" G_GUINT64_FORMAT, uplink->message_prefix, ++uplink->message_count);
	timestamp = hub_time_format_ms(hub_now_ms());
	envelope = json_object_new();
	json_object_set_string_member(envelope, "version", "1.0");
	json_object_set_string_member(envelope, "messageId", message_id);
	json_object_set_string_member(envelope, "messageType", message_type);
	json_object_set_string_member(envelope, "source", "hubd");
	json_object_set_string_member(envelope, "timestamp", timestamp);
	json_object_set_object_member(envelope, "payload", g_steal_pointer(&owned));
	root = json_node_new(JSON_NODE_OBJECT);
	json_node_set_object(root, envelope);
	text = hub_json_to_string(root);
	if (!hub_outbox_push(uplink->outbox, kind, priority, kind_policy[kind].ttl_s, text, strlen(text), &error))
		return FALSE; /* counted and logged by the outbox */
	schedule_drain(uplink);
	return TRUE;
}

gboolean hub_uplink_push(HubUplink *uplink, HubUplinkKind kind, const char *message_type, JsonObject *payload)
{
	return push_with_priority(uplink, kind, message_type, payload, kind_policy[kind].priority);
}

/* ---- what happened, as messages ---- */

/* {"endpoints":[{"endpointId","capabilities":[{"id","name","version",@member:[@item]}]}]};
 * @cap may be NULL (then only its id). */
static JsonObject *one_capability(const char *endpoint_id, const char *capability_id, HubCapability *cap,
				  const char *member, JsonNode *item)
{
	JsonObject *root = json_object_new();
	JsonArray *endpoints = json_array_new();
	JsonObject *ep = json_object_new();
	JsonArray *caps = json_array_new();
	JsonObject *cap_obj = json_object_new();
	JsonArray *items = json_array_new();

	json_object_set_string_member(cap_obj, "id", capability_id);
	if (cap) {
		json_object_set_string_member(cap_obj, "name", cap->def->name);
		json_object_set_string_member(cap_obj, "version", cap->def->version);
	}
	json_array_add_element(items, item);
	json_object_set_array_member(cap_obj, member, items);
	json_array_add_object_element(caps, cap_obj);
	json_object_set_string_member(ep, "endpointId", endpoint_id);
	json_object_set_array_member(ep, "capabilities", caps);
	json_array_add_object_element(endpoints, ep);
	json_object_set_array_member(root, "endpoints", endpoints);
	return root;
}

static HubCapability *event_capability(const HubEvent *event)
{
	return hub_device_lookup_capability(event->device, event->endpoint_id, event->capability_id, NULL);
}

static void push_property(HubUplink *uplink, const HubEvent *event)
{
	HubCapability *cap = event_capability(event);
	HubPropertyState *state = cap ? hub_capability_find_property(cap, event->name) : NULL;
	const char *trace_id = hub_command_pipeline_running_trace(uplink->commands, event->device_id);
	JsonObject *payload;

	if (!state)
		return;
	payload = json_object_new();
	json_object_set_string_member(payload, "deviceId", event->device_id);
	if (trace_id)
		json_object_set_string_member(payload, "traceId", trace_id);
	json_object_set_boolean_member(payload, "full", FALSE);
	json_object_set_object_member(payload, "addedStates",
				      one_capability(event->endpoint_id, event->capability_id, cap, "properties",
						     hub_property_state_to_json(state)));
	hub_uplink_push(uplink, HUB_UPLINK_KIND_STATE, "DEVICE_STATE", payload);
}

static void push_event(HubUplink *uplink, const HubEvent *event)
{
	JsonObject *item = json_object_new();
	JsonNode *item_node = json_node_new(JSON_NODE_OBJECT);
	JsonObject *payload;

	json_object_set_string_member(item, "name", event->name);
	if (event->value && JSON_NODE_HOLDS_OBJECT(event->value))
		json_object_set_member(item, "parameters", json_node_copy(event->value));
	else
		json_object_set_object_member(item, "parameters", json_object_new());
	json_node_take_object(item_node, item);
	payload = one_capability(event->endpoint_id, event->capability_id, event_capability(event), "events",
				 item_node);
	json_object_set_string_member(payload, "deviceId", event->device_id);
	hub_uplink_push(uplink, HUB_UPLINK_KIND_EVENT, "DEVICE_EVENT", payload);
}

static void push_lifecycle(HubUplink *uplink, HubDevice *device, const char *status)
{
	JsonObject *payload = json_object_new();
	JsonObject *details = json_object_new();
	g_autofree char *now = hub_time_format_ms(hub_now_ms());

	json_object_set_string_member(details, "id", device->id);
	json_object_set_string_member(details, "protocol", device->protocol);
	if (device->name)
		json_object_set_string_member(details, "name", device->name);
	json_object_set_string_member(details, "updatedAt", now);
	json_object_set_object_member(payload, "deviceDetails", details);
	json_object_set_string_member(payload, "status", status);
	hub_uplink_push(uplink, HUB_UPLINK_KIND_LIFECYCLE, "DEVICE_LIFE_CYCLE", payload);
}

/* Whether a report of @device with @checksum waits in the outbox already. */
static gboolean report_queued(HubUplink *uplink, const char *device_id, const char *checksum)
{
	GHashTableIter iter;
	gpointer v;

	g_hash_table_iter_init(&iter, uplink->reports);
	while (g_hash_table_iter_next(&iter, NULL, &v)) {
		QueuedReport *report = v;

		if (g_str_equal(report->device_id, device_id) && g_str_equal(report->checksum, checksum))
			return TRUE;
	}
	return FALSE;
}

/* Sends the device's capability report unless the cloud has this very one
 * (remembered at the broker's PUBACK, so a report dropped or lost on the
 * way is sent again) or it waits in the outbox already. */
static void push_capabilities(HubUplink *uplink, HubDevice *device)
{
	g_autoptr(JsonNode) report = hub_device_build_capability_report(device);
	g_autofree char *text = hub_json_to_string(report);
	g_autofree char *checksum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
	g_autofree char *sent = hub_store_kv_get(uplink->store, REPORTS_OWNER, device->id);
	JsonObject *payload;
	QueuedReport *queued;
	guint64 *id;

	if (g_strcmp0(sent, checksum) == 0 || report_queued(uplink, device->id, checksum))
		return;
	payload = json_object_new();
	json_object_set_string_member(payload, "deviceId", device->id);
	json_object_set_member(payload, "capabilityReport", g_steal_pointer(&report));
	if (!hub_uplink_push(uplink, HUB_UPLINK_KIND_CAPABILITIES, "CAPABILITY_REPORT", payload))
		return;
	id = g_new(guint64, 1);
	*id = hub_outbox_last_id(uplink->outbox);
	queued = g_new(QueuedReport, 1);
	queued->device_id = g_strdup(device->id);
	queued->checksum = g_steal_pointer(&checksum);
	g_hash_table_insert(uplink->reports, id, queued);
}

static void push_full_state(HubUplink *uplink, HubDevice *device)
{
	JsonObject *payload = json_object_new();

	json_object_set_string_member(payload, "deviceId", device->id);
	json_object_set_boolean_member(payload, "full", TRUE);
	json_object_set_member(payload, "addedStates", hub_device_build_state_report(device, NULL, NULL, NULL));
	push_with_priority(uplink, HUB_UPLINK_KIND_STATE, "DEVICE_STATE", payload, SNAPSHOT_PRIORITY);
}

static void on_event(const HubEvent *event, gpointer user_data)
{
	HubUplink *uplink = user_data;

	/* Forgotten also while disabled: the table must not grow. */
	if (event->type == HUB_EVENT_COMMAND_COMPLETED) {
		if (g_hash_table_remove(uplink->tracked, event->trace_id) && uplink->enabled && event->value &&
		    JSON_NODE_HOLDS_OBJECT(event->value))
			hub_uplink_push(uplink, HUB_UPLINK_KIND_COMMAND_RESPONSE, "DEVICE_COMMAND_RESPONSE",
					json_object_ref(json_node_get_object(event->value)));
		return;
	}
	if (!uplink->enabled)
		return;
	switch (event->type) {
	case HUB_EVENT_PROPERTY_CHANGED:
		push_property(uplink, event);
		break;
	case HUB_EVENT_DEVICE_EVENT:
		push_event(uplink, event);
		break;
	case HUB_EVENT_DEVICE_ADDED:
		push_lifecycle(uplink, event->device, "ACTIVATED");
		push_capabilities(uplink, event->device);
		push_full_state(uplink, event->device);
		break;
	case HUB_EVENT_DEVICE_UPDATED:
		push_capabilities(uplink, event->device);
		break;
	case HUB_EVENT_DEVICE_REMOVED:
		push_lifecycle(uplink, event->device, "DELETED");
		hub_store_kv_set(uplink->store, REPORTS_OWNER, event->device->id, NULL);
		break;
	case HUB_EVENT_ONLINE_CHANGED:
		push_lifecycle(uplink, event->device, event->device->online ? "ONLINE" : "OFFLINE");
		break;
	default:
		break;
	}
}

/* ---- sending ---- */

static void drain(HubUplink *uplink)
{
	while (uplink->attached && uplink->connected && g_hash_table_size(uplink->mids) < WINDOW) {
		g_autoptr(HubOutboxRecord) record = hub_outbox_next(uplink->outbox);
		const char *topic;
		const void *data;
		gsize len;
		guint64 *id;
		int mid;

		if (!record)
			break;
		topic = record->kind < HUB_UPLINK_N_KINDS ? uplink->topics[record->kind] : NULL;
		if (!topic) {
			/* The transport carries no messages of this kind. */
			hub_outbox_discard(uplink->outbox, record->id);
			continue;
		}
		data = g_bytes_get_data(record->payload, &len);
		mid = uplink->publish(topic, data, len, uplink->publish_data);
		if (mid == -ENOTCONN) {
			/* Not connected after all: the state callback follows. */
			hub_uplink_disconnected(uplink);
			break;
		}
		if (mid < 0) {
			/* Refused for good (e.g. too large for the client): it must
			 * not block the queue behind it. */
			hub_outbox_discard(uplink->outbox, record->id);
			continue;
		}
		id = g_new(guint64, 1);
		*id = record->id;
		g_hash_table_insert(uplink->mids, GINT_TO_POINTER(mid), id);
	}
}

void hub_uplink_attach(HubUplink *uplink, const char *const *topics, HubUplinkPublishFunc publish,
		       gpointer user_data)
{
	hub_uplink_detach(uplink);
	for (guint i = 0; i < HUB_UPLINK_N_KINDS; i++)
		uplink->topics[i] = g_strdup(topics[i]);
	uplink->publish = publish;
	uplink->publish_data = user_data;
	uplink->attached = TRUE;
}

void hub_uplink_detach(HubUplink *uplink)
{
	if (uplink->attached)
		hub_uplink_disconnected(uplink);
	uplink->attached = FALSE;
	uplink->publish = NULL;
	uplink->publish_data = NULL;
	for (guint i = 0; i < HUB_UPLINK_N_KINDS; i++)
		g_clear_pointer(&uplink->topics[i], g_free);
}

void hub_uplink_connected(HubUplink *uplink)
{
	if (!uplink->attached)
		return;
	uplink->connected = TRUE;
	if (uplink->enabled) {
		g_autoptr(GPtrArray) devices = hub_registry_list(uplink->registry);
		GHashTableIter iter;
		gpointer id;

		/* Reports dropped or expired meanwhile are sent again below. */
		g_hash_table_iter_init(&iter, uplink->reports);
		while (g_hash_table_iter_next(&iter, &id, NULL))
			if (!hub_outbox_contains(uplink->outbox, *(guint64 *)id))
				g_hash_table_iter_remove(&iter);

		/* The cloud may have missed anything while we were away. */
		for (guint i = 0; i < devices->len; i++) {
			HubDevice *device = g_ptr_array_index(devices, i);

			push_capabilities(uplink, device);
			push_full_state(uplink, device);
		}
	}
	drain(uplink);
}

void hub_uplink_disconnected(HubUplink *uplink)
{
	uplink->connected = FALSE;
	g_clear_handle_id(&uplink->drain_source, g_source_remove);
	g_hash_table_remove_all(uplink->mids);
	hub_outbox_rewind(uplink->outbox);
}

gboolean hub_uplink_published(HubUplink *uplink, int mid)
{
	guint64 *id = g_hash_table_lookup(uplink->mids, GINT_TO_POINTER(mid));
	QueuedReport *report;

	if (!id)
		return FALSE;
	hub_outbox_ack(uplink->outbox, *id);
	report = g_hash_table_lookup(uplink->reports, id);
	if (report) {
		/* Not for a device removed meanwhile. */
		if (hub_registry_lookup(uplink->registry, report->device_id))
			hub_store_kv_set(uplink->store, REPORTS_OWNER, report->device_id, report->checksum);
		g_hash_table_remove(uplink->reports, id);
	}
	g_hash_table_remove(uplink->mids, GINT_TO_POINTER(mid));
	drain(uplink);
	return TRUE;
}

/* ---- life ---- */

HubUplink *hub_uplink_new(HubRegistry *registry, HubEventBus *bus, HubCommandPipeline *commands, HubStore *store,
			  HubOutbox *outbox)
{
	HubUplink *uplink = g_new0(HubUplink, 1);

	uplink->registry = registry;
	uplink->bus = bus;
	uplink->commands = commands;
	uplink->store = store;
	uplink->outbox = outbox;
	uplink->mids = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	uplink->tracked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	uplink->reports = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, queued_report_free);
	g_snprintf(uplink->message_prefix, sizeof(uplink->message_prefix), "%08x%08x", g_random_int(),
		   g_random_int());
	uplink->subscription = hub_event_bus_subscribe(bus, on_event, uplink);
	return uplink;
}

void hub_uplink_free(HubUplink *uplink)
{
	if (!uplink)
		return;
	hub_event_bus_unsubscribe(uplink->bus, uplink->subscription);
	hub_uplink_detach(uplink);
	g_hash_table_unref(uplink->mids);
	g_hash_table_unref(uplink->tracked);
	g_hash_table_unref(uplink->reports);
	g_free(uplink);
}

void hub_uplink_set_enabled(HubUplink *uplink, gboolean enabled)
{
	uplink->enabled = enabled;
}

void hub_uplink_track_command(HubUplink *uplink, const char *trace_id)
{
	g_hash_table_add(uplink->tracked, g_strdup(trace_id));
}

void hub_uplink_clear(HubUplink *uplink)
{
	g_hash_table_remove_all(uplink->mids);
	g_hash_table_remove_all(uplink->tracked);
	g_hash_table_remove_all(uplink->reports);
	hub_outbox_clear(uplink->outbox);
	hub_store_kv_clear(uplink->store, REPORTS_OWNER);
}
