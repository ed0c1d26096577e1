/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <unistd.h>

#include "hub-dbus-private.h"
#include "hub-dbus-source.h"
#include "hub-error.h"
#include "hub-json.h"

int hub_dbus_error_from_gerror(sd_bus_error *error, const GError *gerror)
{
	const char *name = gerror->domain == HUB_ERROR ? hub_error_dbus_name(gerror->code) : "org.hubd.Hub1.Error.Failed";
	/* Messages may quote caller input; an invalid UTF-8 reply could not be sent at all. */
	g_autofree char *message = g_utf8_make_valid(gerror->message, -1);

	return sd_bus_error_set(error, name, message);
}

char *hub_dbus_device_path(const char *device_id)
{
	char *path = NULL;
	char *copy;

	if (sd_bus_path_encode(HUB_DBUS_DEVICES, device_id, &path) < 0)
		return NULL;
	copy = g_strdup(path);
	free(path);
	return copy;
}

#define MAX_CACHED_WRITERS 256

static gid_t lookup_hubd_gid(void)
{
	struct group *gr = getgrnam("hubd");

	return gr ? gr->gr_gid : (gid_t)-1;
}

/* A write waiting for the bus to say who sent it. */
typedef struct {
	HubDbus *dbus;
	sd_bus_message *m;
	HubDbusHandler handler;
	sd_bus_slot *slot;
} PendingWrite;

static void pending_write_free(gpointer data)
{
	PendingWrite *pending = data;

	sd_bus_slot_unref(pending->slot);
	sd_bus_message_unref(pending->m);
	g_free(pending);
}

static void remember_writer(HubDbus *dbus, const char *sender, gboolean allowed)
{
	if (g_hash_table_size(dbus->writers) >= MAX_CACHED_WRITERS)
		g_hash_table_remove_all(dbus->writers);
	g_hash_table_insert(dbus->writers, g_strdup(sender), GINT_TO_POINTER(allowed + 1));
}

/* Reads GetConnectionCredentials' a{sv}: root, the daemon's own user, or group hubd. */
static gboolean credentials_allow_write(sd_bus_message *reply)
{
	g_autoptr(GArray) gids = g_array_new(FALSE, FALSE, sizeof(guint32));
	gboolean have_uid = FALSE;
	guint32 uid = 0;
	gid_t hubd_gid;
	int r;

	r = sd_bus_message_enter_container(reply, 'a', "{sv}");
	while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
		const char *key;

		r = sd_bus_message_read(reply, "s", &key);
		if (r >= 0 && g_strcmp0(key, "UnixUserID") == 0) {
			r = sd_bus_message_read(reply, "v", "u", &uid);
			have_uid = r >= 0;
		} else if (r >= 0 && g_strcmp0(key, "UnixGroupIDs") == 0) {
			const void *data;
			size_t size;

			r = sd_bus_message_enter_container(reply, 'v', "au");
			if (r >= 0)
				r = sd_bus_message_read_array(reply, 'u', &data, &size);
			if (r >= 0)
				g_array_append_vals(gids, data, size / sizeof(guint32));
			if (r >= 0)
				r = sd_bus_message_exit_container(reply);
		} else if (r >= 0) {
			r = sd_bus_message_skip(reply, "v");
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
	}
	if (r < 0 || !have_uid)
		return FALSE;
	if (uid == 0 || uid == geteuid())
		return TRUE;
	/* Looked up only here: the NSS modules it loads cost an idle hub memory,
	 * and a group created after start-up counts at once. */
	hubd_gid = lookup_hubd_gid();
	for (guint i = 0; hubd_gid != (gid_t)-1 && i < gids->len; i++)
		if (g_array_index(gids, guint32, i) == hubd_gid)
			return TRUE;
	return FALSE;
}

/* The object a parked call was for: the manager, or a device that may have gone meanwhile. */
static void *resolve_userdata(HubDbus *dbus, sd_bus_message *m)
{
	void *found = NULL;

	if (g_strcmp0(sd_bus_message_get_path(m), HUB_DBUS_ROOT) == 0)
		return dbus;
	if (hub_dbus_device_find(dbus->bus, sd_bus_message_get_path(m), NULL, dbus, &found, NULL) > 0)
		return found;
	return NULL;
}

static int credentials_cb(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	PendingWrite *pending = userdata;
	HubDbus *dbus = pending->dbus;
	__attribute__((cleanup(sd_bus_error_free))) sd_bus_error error = SD_BUS_ERROR_NULL;
	gboolean allowed = !sd_bus_message_is_method_error(reply, NULL) && credentials_allow_write(reply);
	void *target;
	int r;

	remember_writer(dbus, sd_bus_message_get_sender(pending->m), allowed);
	target = resolve_userdata(dbus, pending->m);
	if (!target) {
		r = sd_bus_error_setf(&error, SD_BUS_ERROR_UNKNOWN_OBJECT, "Unknown object '%s'.",
				      sd_bus_message_get_path(pending->m));
	} else {
		/* Run the method again from the start; the check now answers from the cache. */
		sd_bus_message_rewind(pending->m, 1);
		r = pending->handler(pending->m, target, &error);
	}
	if (r < 0 || sd_bus_error_is_set(&error)) {
		if (!sd_bus_error_is_set(&error))
			sd_bus_error_set_errno(&error, r);
		r = sd_bus_reply_method_error(pending->m, &error);
		if (r < 0)
			g_warning("Failed to answer a parked call: %s", g_strerror(-r));
	}
	g_hash_table_remove(dbus->pending_writes, pending);
	return 0;
}

int hub_dbus_check_write(HubDbus *dbus, sd_bus_message *m, HubDbusHandler handler, sd_bus_error *error)
{
	const char *sender = sd_bus_message_get_sender(m);
	gpointer cached = sender ? g_hash_table_lookup(dbus->writers, sender) : NULL;
	PendingWrite *pending;
	int r;

	if (!sender)
		return sd_bus_error_set(error, "org.hubd.Hub1.Error.AccessDenied", "cannot identify the caller");
	/* A connection's credentials are fixed when it connects and unique names are
	 * never reused on a bus, so one answer per sender stays true. */
	if (cached) {
		if (GPOINTER_TO_INT(cached) - 1)
			return 1;
		return sd_bus_error_set(error, "org.hubd.Hub1.Error.AccessDenied",
					"changing the hub needs membership of group hubd");
	}
	/* Ask the bus without blocking the main loop; the call resumes in credentials_cb. */
	pending = g_new0(PendingWrite, 1);
	pending->dbus = dbus;
	pending->m = sd_bus_message_ref(m);
	pending->handler = handler;
	r = sd_bus_call_method_async(dbus->bus, &pending->slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				     "org.freedesktop.DBus", "GetConnectionCredentials", credentials_cb, pending, "s",
				     sender);
	if (r < 0) {
		pending_write_free(pending);
		return sd_bus_error_set_errnof(error, -r, "cannot ask the bus who the caller is: %s", g_strerror(-r));
	}
	g_hash_table_add(dbus->pending_writes, pending);
	return 0;
}

/* ---- waiting for command results ---- */

typedef struct {
	sd_bus_message *m;
	gboolean with_trace_id;
} PendingReply;

static void reply_done(const char *trace_id, gint response_code, JsonNode *result, const GError *error,
		       gpointer user_data)
{
	PendingReply *pending = user_data;
	g_autofree char *text = NULL;
	int r;

	if (error) {
		__attribute__((cleanup(sd_bus_error_free))) sd_bus_error e = SD_BUS_ERROR_NULL;

		hub_dbus_error_from_gerror(&e, error);
		r = sd_bus_reply_method_error(pending->m, &e);
	} else {
		text = hub_json_to_string(result);
		if (pending->with_trace_id)
			r = sd_bus_reply_method_return(pending->m, "sis", trace_id, response_code, text);
		else
			r = sd_bus_reply_method_return(pending->m, "is", response_code, text);
	}
	if (r < 0)
		g_warning("Failed to reply with the result of %s: %s", trace_id, g_strerror(-r));
	sd_bus_message_unref(pending->m);
	g_free(pending);
}

void hub_dbus_reply_when_done(HubDbus *dbus, sd_bus_message *m, const char *trace_id, guint timeout_ms,
			      gboolean with_trace_id)
{
	PendingReply *pending = g_new0(PendingReply, 1);

	pending->m = sd_bus_message_ref(m);
	pending->with_trace_id = with_trace_id;
	hub_command_pipeline_wait(dbus->daemon->commands, trace_id, timeout_ms, reply_done, pending);
}

/* ---- events to signals ---- */

static void emit_manager_changed(HubDbus *dbus, const char *property)
{
	sd_bus_emit_properties_changed(dbus->bus, HUB_DBUS_ROOT, HUB_DBUS_MANAGER_IFACE, property, NULL);
}

static gboolean flush_dirty(gpointer user_data)
{
	HubDbus *dbus = user_data;
	GHashTableIter iter;
	gpointer key, value;

	dbus->flush_source = 0;
	g_hash_table_iter_init(&iter, dbus->dirty);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		g_autofree char *path = NULL;
		g_autofree char **names = NULL;
		int r;

		if (!hub_registry_lookup(dbus->daemon->registry, key))
			continue;
		path = hub_dbus_device_path(key);
		names = (char **)g_hash_table_get_keys_as_array(value, NULL);
		r = sd_bus_emit_properties_changed_strv(dbus->bus, path, HUB_DBUS_DEVICE_IFACE, names);
		if (r < 0)
			g_debug("Failed to announce changes of %s: %s", (char *)key, g_strerror(-r));
	}
	g_hash_table_remove_all(dbus->dirty);
	if (dbus->count_dirty) {
		dbus->count_dirty = FALSE;
		emit_manager_changed(dbus, "DeviceCount");
	}
	return G_SOURCE_REMOVE;
}

/* Changes are gathered per device and announced once per main-loop turn. */
static void mark_dirty(HubDbus *dbus, const char *device_id, const char *property)
{
	GHashTable *names = g_hash_table_lookup(dbus->dirty, device_id);

	if (!names) {
		names = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_insert(dbus->dirty, g_strdup(device_id), names);
	}
	g_hash_table_add(names, (gpointer)property);
	if (!dbus->flush_source)
		dbus->flush_source = g_idle_add_full(G_PRIORITY_HIGH, flush_dirty, dbus, NULL);
}

static void on_event(const HubEvent *event, gpointer user_data)
{
	HubDbus *dbus = user_data;
	g_autofree char *path = event->device_id ? hub_dbus_device_path(event->device_id) : NULL;
	g_autofree char *json = NULL;
	static const char *const identity[] = { "Name", "Manufacturer", "Model", "SerialNumber", "Firmware",
						"Capabilities", "State", "Online", "Health", NULL };

	switch (event->type) {
	case HUB_EVENT_DEVICE_ADDED:
		sd_bus_emit_object_added(dbus->bus, path);
		emit_manager_changed(dbus, "DeviceCount");
		break;
	case HUB_EVENT_DEVICE_UPDATED:
		for (guint i = 0; identity[i]; i++)
			mark_dirty(dbus, event->device_id, identity[i]);
		break;
	case HUB_EVENT_DEVICE_REMOVED:
		g_hash_table_remove(dbus->dirty, event->device_id);
		sd_bus_emit_object_removed(dbus->bus, path);
		/* DeviceCount is read after the removal completes. */
		dbus->count_dirty = TRUE;
		if (!dbus->flush_source)
			dbus->flush_source = g_idle_add_full(G_PRIORITY_HIGH, flush_dirty, dbus, NULL);
		break;
	case HUB_EVENT_PROPERTY_CHANGED:
		mark_dirty(dbus, event->device_id, "State");
		break;
	case HUB_EVENT_CLOUD_CHANGED:
		sd_bus_emit_properties_changed(dbus->bus, HUB_DBUS_ROOT, HUB_DBUS_MANAGER_IFACE, "ProvisioningState",
					       "CloudState", NULL);
		break;
	case HUB_EVENT_ONLINE_CHANGED:
		mark_dirty(dbus, event->device_id, "Online");
		break;
	case HUB_EVENT_HEALTH_CHANGED:
		mark_dirty(dbus, event->device_id, "Health");
		break;
	case HUB_EVENT_DEVICE_EVENT:
		json = hub_json_to_string(event->value);
		sd_bus_emit_signal(dbus->bus, path, HUB_DBUS_DEVICE_IFACE, "Event", "ssss", event->endpoint_id,
				   event->capability_id, event->name, json);
		break;
	case HUB_EVENT_COMMAND_ACCEPTED:
		sd_bus_emit_signal(dbus->bus, HUB_DBUS_ROOT, HUB_DBUS_MANAGER_IFACE, "CommandAccepted", "ss",
				   event->trace_id, event->device_id);
		break;
	case HUB_EVENT_COMMAND_COMPLETED:
		/* The device's confirmed changes go out before the result that reports them. */
		if (dbus->flush_source) {
			g_clear_handle_id(&dbus->flush_source, g_source_remove);
			flush_dirty(dbus);
		}
		json = hub_json_to_string(event->value);
		sd_bus_emit_signal(dbus->bus, HUB_DBUS_ROOT, HUB_DBUS_MANAGER_IFACE, "CommandCompleted", "ssis",
				   event->trace_id, event->device_id, event->response_code, json);
		break;
	case HUB_EVENT_DEVICE_DISCOVERED:
		sd_bus_emit_signal(dbus->bus, HUB_DBUS_ROOT, HUB_DBUS_MANAGER_IFACE, "DeviceDiscovered", "ssss",
				   event->name, event->protocol, event->display_name, event->device_types);
		break;
	case HUB_EVENT_DISCOVERY_CHANGED:
		emit_manager_changed(dbus, "Discovering");
		if (!event->response_code)
			sd_bus_emit_signal(dbus->bus, HUB_DBUS_ROOT, HUB_DBUS_MANAGER_IFACE, "DiscoveryFinished", "u",
					   event->count);
		break;
	}
}

/* ---- set-up ---- */

HubDbus *hub_dbus_new(HubDaemon *daemon, gboolean session, GSourceFunc on_lost, gpointer on_lost_data,
		      GError **error)
{
	g_autoptr(HubDbus) dbus = g_new0(HubDbus, 1);
	int r;

	dbus->daemon = daemon;
	dbus->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_hash_table_unref);
	dbus->writers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	dbus->pending_writes = g_hash_table_new_full(NULL, NULL, pending_write_free, NULL);
	r = session ? sd_bus_open_user(&dbus->bus) : sd_bus_open_system(&dbus->bus);
	if (r < 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot connect to the %s bus: %s",
			    session ? "session" : "system", g_strerror(-r));
		return NULL;
	}
	r = sd_bus_add_object_manager(dbus->bus, NULL, HUB_DBUS_ROOT);
	if (r >= 0)
		r = sd_bus_add_object_vtable(dbus->bus, NULL, HUB_DBUS_ROOT, HUB_DBUS_MANAGER_IFACE,
					     hub_dbus_manager_vtable, dbus);
	if (r >= 0)
		r = sd_bus_add_object_vtable(dbus->bus, NULL, HUB_DBUS_ROOT, HUB_DBUS_CERTIFICATES_IFACE,
					     hub_dbus_certificates_vtable, dbus);
	if (r >= 0)
		r = sd_bus_add_fallback_vtable(dbus->bus, NULL, HUB_DBUS_DEVICES, HUB_DBUS_DEVICE_IFACE,
					       hub_dbus_device_vtable, hub_dbus_device_find, dbus);
	if (r >= 0)
		r = sd_bus_add_node_enumerator(dbus->bus, NULL, HUB_DBUS_DEVICES, hub_dbus_device_enumerate, dbus);
	if (r < 0) {
		g_set_error(error, HUB_ERROR, HUB_ERROR_FAILED, "cannot register D-Bus objects: %s", g_strerror(-r));
		return NULL;
	}
	dbus->subscription = hub_event_bus_subscribe(daemon->bus, on_event, dbus);
	r = sd_bus_request_name(dbus->bus, HUB_DBUS_NAME, 0);
	if (r < 0) {
		g_set_error(error, HUB_ERROR, r == -EEXIST ? HUB_ERROR_EXISTS : HUB_ERROR_FAILED,
			    r == -EEXIST ? "another process already owns %s on this bus" : "cannot own %s: %s",
			    HUB_DBUS_NAME, g_strerror(-r));
		return NULL;
	}
	dbus->name_owned = TRUE;
	dbus->source = hub_dbus_source_attach(dbus->bus, on_lost, on_lost_data);
	return g_steal_pointer(&dbus);
}

void hub_dbus_free(HubDbus *dbus)
{
	if (!dbus)
		return;
	g_clear_handle_id(&dbus->flush_source, g_source_remove);
	if (dbus->subscription)
		hub_event_bus_unsubscribe(dbus->daemon->bus, dbus->subscription);
	/* Parked writes die with the connection; their slots must go before the bus. */
	g_hash_table_unref(dbus->pending_writes);
	if (dbus->name_owned)
		sd_bus_release_name(dbus->bus, HUB_DBUS_NAME);
	if (dbus->source) {
		g_source_destroy(dbus->source);
		g_source_unref(dbus->source);
	}
	sd_bus_flush_close_unref(dbus->bus);
	g_hash_table_unref(dbus->dirty);
	g_hash_table_unref(dbus->writers);
	g_free(dbus);
}
