/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl-bus.c - sd-bus helpers for hubctl: connecting, calling hubd,
 * reading replies into GVariants, error messages and a GSource that drives
 * sd-bus from a GMainLoop.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "hubctl.h"

int
hubctl_bus_connect(const char *address, gboolean session, sd_bus **ret)
{
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	int r;

	if (!address) {
		r = session ? sd_bus_open_user(&bus) : sd_bus_open_system(&bus);
		if (r < 0)
			return r;
		*ret = g_steal_pointer(&bus);
		return 0;
	}
	r = sd_bus_new(&bus);
	if (r < 0)
		return r;
	r = sd_bus_set_address(bus, address);
	if (r < 0)
		return r;
	r = sd_bus_set_bus_client(bus, 1);
	if (r < 0)
		return r;
	r = sd_bus_start(bus);
	if (r < 0)
		return r;
	*ret = g_steal_pointer(&bus);
	return 0;
}

static int read_value(sd_bus_message *m, GVariant **ret);

static GVariant *
new_basic(char type, const void *p)
{
	switch (type) {
	case SD_BUS_TYPE_BYTE:
		return g_variant_new_byte(*(const uint8_t *)p);
	case SD_BUS_TYPE_BOOLEAN:
		return g_variant_new_boolean(*(const int *)p);
	case SD_BUS_TYPE_INT16:
		return g_variant_new_int16(*(const int16_t *)p);
	case SD_BUS_TYPE_UINT16:
		return g_variant_new_uint16(*(const uint16_t *)p);
	case SD_BUS_TYPE_INT32:
		return g_variant_new_int32(*(const int32_t *)p);
	case SD_BUS_TYPE_UINT32:
		return g_variant_new_uint32(*(const uint32_t *)p);
	case SD_BUS_TYPE_INT64:
		return g_variant_new_int64(*(const int64_t *)p);
	case SD_BUS_TYPE_UINT64:
		return g_variant_new_uint64(*(const uint64_t *)p);
	case SD_BUS_TYPE_DOUBLE:
		return g_variant_new_double(*(const double *)p);
	case SD_BUS_TYPE_UNIX_FD:
		return g_variant_new_handle(*(const int *)p);
	case SD_BUS_TYPE_STRING:
		return g_variant_new_string(*(const char *const *)p);
	case SD_BUS_TYPE_OBJECT_PATH:
		return g_variant_new_object_path(*(const char *const *)p);
	case SD_BUS_TYPE_SIGNATURE:
		return g_variant_new_signature(*(const char *const *)p);
	default:
		return NULL;
	}
}

static int
read_container(sd_bus_message *m, char type, const char *contents, GVariant **ret)
{
	g_autofree char *signature = NULL;
	int r;

	switch (type) {
	case SD_BUS_TYPE_ARRAY:
		signature = g_strconcat("a", contents, NULL);
		break;
	case SD_BUS_TYPE_STRUCT:
		signature = g_strconcat("(", contents, ")", NULL);
		break;
	case SD_BUS_TYPE_DICT_ENTRY:
		signature = g_strconcat("{", contents, "}", NULL);
		break;
	default:
		return -EBADMSG;
	}
	if (!g_variant_type_string_is_valid(signature))
		return -EBADMSG;

	r = sd_bus_message_enter_container(m, type, contents);
	if (r < 0)
		return r;

	g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE(signature));

	for (;;) {
		GVariant *child = NULL;

		r = sd_bus_message_peek_type(m, NULL, NULL);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		r = read_value(m, &child);
		if (r < 0)
			return r;
		g_variant_builder_add_value(&builder, child);
	}
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	*ret = g_variant_builder_end(&builder);
	return 0;
}

/* Reads the next complete value of @m; the result is floating. */
static int
read_value(sd_bus_message *m, GVariant **ret)
{
	const char *contents = NULL;
	char type;
	int r;

	r = sd_bus_message_peek_type(m, &type, &contents);
	if (r < 0)
		return r;
	if (r == 0)
		return -EBADMSG;

	if (type == SD_BUS_TYPE_VARIANT) {
		GVariant *inner = NULL;

		if (!contents || !g_variant_type_string_is_valid(contents))
			return -EBADMSG;
		r = sd_bus_message_enter_container(m, SD_BUS_TYPE_VARIANT, contents);
		if (r < 0)
			return r;
		r = read_value(m, &inner);
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(m);
		if (r < 0) {
			g_variant_unref(g_variant_ref_sink(inner));
			return r;
		}
		*ret = g_variant_new_variant(inner);
		return 0;
	}
	if (type == SD_BUS_TYPE_ARRAY || type == SD_BUS_TYPE_STRUCT || type == SD_BUS_TYPE_DICT_ENTRY)
		return read_container(m, type, contents, ret);

	{
		union {
			uint8_t y;
			int b;
			int16_t n;
			uint16_t q;
			int32_t i;
			uint32_t u;
			int64_t x;
			uint64_t t;
			double d;
			const char *s;
		} value = { 0 };
		GVariant *v;

		r = sd_bus_message_read_basic(m, type, &value);
		if (r < 0)
			return r;
		v = new_basic(type, &value);
		if (!v)
			return -EBADMSG;
		*ret = v;
		return 0;
	}
}

/* All remaining arguments of @m as one tuple, e.g. "(is)" for SetProperty's
 * reply. The result is a full reference. */
int
hubctl_message_read_tuple(sd_bus_message *m, GVariant **ret)
{
	g_auto(GVariantBuilder) builder = G_VARIANT_BUILDER_INIT(G_VARIANT_TYPE_TUPLE);
	int r;

	for (;;) {
		GVariant *child = NULL;

		r = sd_bus_message_peek_type(m, NULL, NULL);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		r = read_value(m, &child);
		if (r < 0)
			return r;
		g_variant_builder_add_value(&builder, child);
	}
	*ret = g_variant_ref_sink(g_variant_builder_end(&builder));
	return 0;
}

int
hubctl_new_call(sd_bus *bus, const char *path, const char *interface, const char *member, sd_bus_message **ret)
{
	return sd_bus_message_new_method_call(bus, ret, HUBCTL_SERVICE, path, interface, member);
}

/* Sends @m and waits for the reply; @ret (optional) receives its
 * arguments as a tuple. */
int
hubctl_call_message(sd_bus *bus, sd_bus_message *m, uint64_t timeout_usec, sd_bus_error *error, GVariant **ret)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_call(bus, m, timeout_usec, error, &reply);
	if (r < 0)
		return r;
	if (!ret)
		return 0;
	return hubctl_message_read_tuple(reply, ret);
}

static int
call_va(sd_bus *bus, const char *path, const char *interface, const char *member, uint64_t timeout_usec,
	sd_bus_error *error, GVariant **ret, const char *types, va_list ap)
{
	_cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
	int r;

	r = hubctl_new_call(bus, path, interface, member, &m);
	if (r < 0)
		return r;
	if (types) {
		r = sd_bus_message_appendv(m, types, ap);
		if (r < 0)
			return r;
	}
	return hubctl_call_message(bus, m, timeout_usec, error, ret);
}

#define JSON_MAX_DEPTH 128

static int append_json(sd_bus_message *m, JsonNode *node, guint depth);

static int
append_json_array(sd_bus_message *m, JsonArray *array, guint depth)
{
	int r;

	r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "v");
	if (r < 0)
		return r;
	for (guint i = 0; i < json_array_get_length(array); i++) {
		r = append_json(m, json_array_get_element(array, i), depth + 1);
		if (r < 0)
			return r;
	}
	return sd_bus_message_close_container(m);
}

static int
append_json_object(sd_bus_message *m, JsonObject *object, guint depth)
{
	g_autoptr(GList) members = json_object_get_members(object);
	int r;

	r = sd_bus_message_open_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
	if (r < 0)
		return r;
	for (GList *l = members; l; l = l->next) {
		r = sd_bus_message_open_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv");
		if (r < 0)
			return r;
		r = sd_bus_message_append_basic(m, SD_BUS_TYPE_STRING, l->data);
		if (r < 0)
			return r;
		r = append_json(m, json_object_get_member(object, l->data), depth + 1);
		if (r < 0)
			return r;
		r = sd_bus_message_close_container(m);
		if (r < 0)
			return r;
	}
	return sd_bus_message_close_container(m);
}

/* One JSON value as a variant, the way hubd carries JSON on the bus. */
static int
append_json(sd_bus_message *m, JsonNode *node, guint depth)
{
	const char *contents;
	int r;

	if (depth > JSON_MAX_DEPTH)
		return -ELOOP;
	if (!node || JSON_NODE_HOLDS_NULL(node))
		return sd_bus_message_append(m, "v", "av", 0);
	/* An empty "av" means null, so an empty array travels as "as". */
	if (JSON_NODE_HOLDS_ARRAY(node) && json_array_get_length(json_node_get_array(node)) == 0)
		return sd_bus_message_append(m, "v", "as", 0);
	if (JSON_NODE_HOLDS_ARRAY(node) || JSON_NODE_HOLDS_OBJECT(node)) {
		contents = JSON_NODE_HOLDS_ARRAY(node) ? "av" : "a{sv}";
		r = sd_bus_message_open_container(m, SD_BUS_TYPE_VARIANT, contents);
		if (r < 0)
			return r;
		if (JSON_NODE_HOLDS_ARRAY(node))
			r = append_json_array(m, json_node_get_array(node), depth);
		else
			r = append_json_object(m, json_node_get_object(node), depth);
		if (r < 0)
			return r;
		return sd_bus_message_close_container(m);
	}
	switch (json_node_get_value_type(node)) {
	case G_TYPE_BOOLEAN:
		return sd_bus_message_append(m, "v", "b", (int)json_node_get_boolean(node));
	case G_TYPE_INT64:
		return sd_bus_message_append(m, "v", "x", (int64_t)json_node_get_int(node));
	case G_TYPE_DOUBLE:
		return sd_bus_message_append(m, "v", "d", json_node_get_double(node));
	case G_TYPE_STRING:
		return sd_bus_message_append(m, "v", "s", json_node_get_string(node));
	default:
		return -EINVAL;
	}
}

/* Appends @node as a variant: boolean "b", integer "x", number "d",
 * string "s", array "av" (empty: "as"), object "a{sv}", null an empty "av". */
int
hubctl_append_json_variant(sd_bus_message *m, JsonNode *node)
{
	return append_json(m, node, 0);
}

/* Calls @member on hubd; @ret (optional) receives the reply's arguments
 * as a tuple. @timeout_usec 0 is sd-bus's default (25 s). */
int
hubctl_call(sd_bus *bus, const char *path, const char *interface, const char *member,
	    uint64_t timeout_usec, sd_bus_error *error, GVariant **ret, const char *types, ...)
{
	va_list ap;
	int r;

	va_start(ap, types);
	r = call_va(bus, path, interface, member, timeout_usec, error, ret, types, ap);
	va_end(ap);
	return r;
}

/* The value of one property, unboxed from its variant. */
int
hubctl_get_property(sd_bus *bus, const char *path, const char *interface, const char *name,
		    sd_bus_error *error, GVariant **ret)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) boxed = NULL;
	int r;

	r = hubctl_call(bus, path, HUBCTL_PROPERTIES_IFACE, "Get", 0, error, &reply, "ss", interface, name);
	if (r < 0)
		return r;
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(v)")))
		return -EBADMSG;
	g_variant_get(reply, "(v)", &boxed);
	*ret = g_steal_pointer(&boxed);
	return 0;
}

/* Every property of @interface as a{sv}. */
int
hubctl_get_all_properties(sd_bus *bus, const char *path, const char *interface,
			  sd_bus_error *error, GVariant **ret)
{
	g_autoptr(GVariant) reply = NULL;
	int r;

	r = hubctl_call(bus, path, HUBCTL_PROPERTIES_IFACE, "GetAll", 0, error, &reply, "s", interface);
	if (r < 0)
		return r;
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(a{sv})")))
		return -EBADMSG;
	*ret = g_variant_get_child_value(reply, 0);
	return 0;
}

void
hubctl_device_free(HubctlDevice *device)
{
	if (!device)
		return;
	g_free(device->path);
	g_free(device->id);
	g_clear_pointer(&device->props, g_variant_unref);
	g_free(device);
}

static gint
compare_devices(gconstpointer a, gconstpointer b)
{
	const HubctlDevice *da = *(HubctlDevice *const *)a;
	const HubctlDevice *db = *(HubctlDevice *const *)b;

	return strcmp(da->id, db->id);
}

/* Every device object from GetManagedObjects, sorted by id. */
int
hubctl_get_devices(sd_bus *bus, sd_bus_error *error, GPtrArray **ret)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func((GDestroyNotify)hubctl_device_free);
	g_autoptr(GVariant) objects = NULL;
	GVariantIter iter;
	const char *path;
	GVariant *interfaces;
	int r;

	r = hubctl_call(bus, HUBCTL_ROOT_PATH, HUBCTL_OM_IFACE, "GetManagedObjects", 0, error, &reply, NULL);
	if (r < 0)
		return r;
	if (!g_variant_is_of_type(reply, G_VARIANT_TYPE("(a{oa{sa{sv}}})")))
		return -EBADMSG;
	objects = g_variant_get_child_value(reply, 0);
	g_variant_iter_init(&iter, objects);
	while (g_variant_iter_loop(&iter, "{&o@a{sa{sv}}}", &path, &interfaces)) {
		g_autoptr(GVariant) props = g_variant_lookup_value(interfaces, HUBCTL_DEVICE_IFACE,
								   G_VARIANT_TYPE("a{sv}"));
		HubctlDevice *device;
		const char *id;

		if (!props)
			continue;
		device = g_new0(HubctlDevice, 1);
		device->path = g_strdup(path);
		id = hubctl_lookup_string(props, "Id");
		device->id = id[0] ? g_strdup(id) : hubctl_device_id_from_path(path);
		device->props = g_steal_pointer(&props);
		g_ptr_array_add(devices, device);
	}
	g_ptr_array_sort(devices, compare_devices);
	*ret = g_steal_pointer(&devices);
	return 0;
}

/* The object path of @device_id; an object path under the devices folder
 * is taken as it is. */
char *
hubctl_device_path(const char *device_id)
{
	char *encoded = NULL;
	char *path;

	if (g_str_has_prefix(device_id, HUBCTL_DEVICES_PATH "/") && sd_bus_object_path_is_valid(device_id))
		return g_strdup(device_id);
	if (sd_bus_path_encode(HUBCTL_DEVICES_PATH, device_id, &encoded) < 0)
		return g_strdup(HUBCTL_DEVICES_PATH "/_");
	path = g_strdup(encoded);
	free(encoded);
	return path;
}

char *
hubctl_device_id_from_path(const char *path)
{
	char *decoded = NULL;
	char *id;

	if (sd_bus_path_decode(path, HUBCTL_DEVICES_PATH, &decoded) <= 0 || !decoded)
		return g_strdup(path);
	id = g_strdup(decoded);
	free(decoded);
	return id;
}

gboolean
hubctl_error_is_unknown_object(const sd_bus_error *error)
{
	return sd_bus_error_has_names(error, SD_BUS_ERROR_UNKNOWN_OBJECT, SD_BUS_ERROR_UNKNOWN_INTERFACE);
}

gboolean
hubctl_error_is_no_service(const sd_bus_error *error)
{
	return sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

/* Prints "hubctl: WHAT: MESSAGE" and returns the exit status 1. */
int
hubctl_fail(const char *what, const sd_bus_error *error, int r)
{
	g_autofree char *message = NULL;

	if (error && sd_bus_error_is_set(error)) {
		const char *text = error->message && error->message[0] ? error->message : error->name;

		if (hubctl_error_is_no_service(error))
			message = g_strdup("hubd is not running (nobody owns " HUBCTL_SERVICE " on this bus)");
		else if (sd_bus_error_has_names(error, SD_BUS_ERROR_ACCESS_DENIED, "org.hubd.Hub1.Error.AccessDenied"))
			message = g_strdup_printf("%s (writes need root or membership of group hubd)", text);
		else
			message = g_strdup(text);
		g_strchomp(message);
	} else {
		message = g_strdup(g_strerror(r < 0 ? -r : EIO));
	}
	fprintf(stderr, "hubctl: %s: %s\n", what, message);
	return HUBCTL_EXIT_FAILURE;
}

static gboolean
device_exists(sd_bus *bus, const char *path)
{
	g_autoptr(GPtrArray) devices = NULL;

	if (hubctl_get_devices(bus, NULL, &devices) < 0)
		return TRUE; /* cannot tell: keep the daemon's message */
	for (guint i = 0; i < devices->len; i++)
		if (g_str_equal(((HubctlDevice *)devices->pdata[i])->path, path))
			return TRUE;
	return FALSE;
}

/* Like hubctl_fail(), but says that @device_id does not exist when the bus
 * has no such object (UnknownObject from sd-bus, UnknownMethod from some
 * other bindings, NotFound without a message, or NotFound for a device the
 * daemon does not list: Manager.RemoveDevice names it its own way). */
int
hubctl_fail_device(sd_bus *bus, const char *what, const char *device_id, const sd_bus_error *error, int r)
{
	gboolean missing = FALSE;

	if (error && hubctl_error_is_unknown_object(error)) {
		missing = TRUE;
	} else if (error && sd_bus_error_has_name(error, "org.hubd.Hub1.Error.NotFound")) {
		g_autofree char *path = hubctl_device_path(device_id);

		/* A message about a missing endpoint or property of an existing
		 * device is kept. */
		missing = !error->message || !error->message[0] || !device_exists(bus, path);
	} else if (error && sd_bus_error_has_name(error, SD_BUS_ERROR_UNKNOWN_METHOD)) {
		g_autofree char *path = hubctl_device_path(device_id);

		missing = !device_exists(bus, path);
	}
	if (missing) {
		fprintf(stderr, "hubctl: %s: device '%s' not found\n", what, device_id);
		return HUBCTL_EXIT_FAILURE;
	}
	return hubctl_fail(what, error, r);
}

const char *
hubctl_lookup_string(GVariant *dict, const char *name)
{
	const char *value = NULL;

	if (dict && g_variant_lookup(dict, name, "&s", &value))
		return value;
	return "";
}

gboolean
hubctl_lookup_boolean(GVariant *dict, const char *name, gboolean fallback)
{
	gboolean value;

	if (dict && g_variant_lookup(dict, name, "b", &value))
		return value;
	return fallback;
}

void
hubctl_state_entry_free(HubctlStateEntry *entry)
{
	if (!entry)
		return;
	g_free(entry->key);
	g_free(entry->endpoint);
	g_free(entry->capability);
	g_free(entry->property);
	g_clear_pointer(&entry->value, g_variant_unref);
	g_free(entry);
}

/* "1/matter.OnOff@1.4/OnOff" -> "1", "matter.OnOff@1.4", "OnOff"; a key
 * without two slashes is all property. */
void
hubctl_split_state_key(const char *key, char **endpoint, char **capability, char **property)
{
	const char *first = strchr(key, '/');
	const char *last = strrchr(key, '/');

	if (!first || first == last) {
		*endpoint = g_strdup("");
		*capability = g_strdup("");
		*property = g_strdup(key);
		return;
	}
	*endpoint = g_strndup(key, first - key);
	*capability = g_strndup(first + 1, last - first - 1);
	*property = g_strdup(last + 1);
}

/* Endpoint ids compare as numbers when both are numbers ("2" < "10"). */
static gint
compare_endpoints(const char *a, const char *b)
{
	guint64 na, nb;

	if (g_ascii_string_to_unsigned(a, 10, 0, G_MAXUINT64, &na, NULL) &&
	    g_ascii_string_to_unsigned(b, 10, 0, G_MAXUINT64, &nb, NULL))
		return na < nb ? -1 : na > nb ? 1 : 0;
	return strcmp(a, b);
}

static gint
compare_state_entries(gconstpointer a, gconstpointer b)
{
	const HubctlStateEntry *ea = *(HubctlStateEntry *const *)a;
	const HubctlStateEntry *eb = *(HubctlStateEntry *const *)b;
	gint c;

	c = compare_endpoints(ea->endpoint, eb->endpoint);
	if (c == 0)
		c = strcmp(ea->capability, eb->capability);
	if (c == 0)
		c = strcmp(ea->property, eb->property);
	return c;
}

/* The entries of a State value (a{s(vx)}), sorted by endpoint, capability
 * and property. Anything of another type gives no entries. */
GPtrArray *
hubctl_state_parse(GVariant *state)
{
	GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)hubctl_state_entry_free);
	GVariantIter iter;
	const char *key;
	GVariant *value;
	gint64 ms;

	if (!state || !g_variant_is_of_type(state, G_VARIANT_TYPE("a{s(vx)}")))
		return entries;
	g_variant_iter_init(&iter, state);
	while (g_variant_iter_loop(&iter, "{&s(vx)}", &key, &value, &ms)) {
		HubctlStateEntry *entry = g_new0(HubctlStateEntry, 1);

		entry->key = g_strdup(key);
		hubctl_split_state_key(key, &entry->endpoint, &entry->capability, &entry->property);
		entry->value = g_variant_ref(value);
		entry->last_changed_ms = ms;
		g_ptr_array_add(entries, entry);
	}
	g_ptr_array_sort(entries, compare_state_entries);
	return entries;
}

/* "matter.OnOff" selects "matter.OnOff@1.4"; a full id selects itself. */
gboolean
hubctl_capability_matches(const char *id, const char *wanted)
{
	gsize len;

	if (g_str_equal(id, wanted))
		return TRUE;
	if (strchr(wanted, '@'))
		return FALSE;
	len = strlen(wanted);
	return strncmp(id, wanted, len) == 0 && id[len] == '@';
}

/* A GSource that runs sd_bus_process() from a GMainLoop. */
typedef struct {
	GSource source;
	sd_bus *bus;
	gpointer tag;
	int events;
	int error;
} HubctlBusSource;

static gboolean
bus_source_prepare(GSource *source, gint *timeout)
{
	HubctlBusSource *s = (HubctlBusSource *)source;
	uint64_t usec;
	int events;

	/* Changing the fd or the ready time wakes the context: only on change. */
	events = sd_bus_get_events(s->bus);
	if (events < 0)
		events = 0;
	if (events != s->events) {
		g_source_modify_unix_fd(source, s->tag, (GIOCondition)events);
		s->events = events;
	}
	/* 0 when messages are already queued: the fd will not wake us then. */
	if (sd_bus_get_timeout(s->bus, &usec) < 0 || usec == UINT64_MAX)
		g_source_set_ready_time(source, -1);
	else
		g_source_set_ready_time(source, (gint64)MIN(usec, (uint64_t)G_MAXINT64));
	*timeout = -1;
	return FALSE;
}

static gboolean
bus_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	HubctlBusSource *s = (HubctlBusSource *)source;
	int r;

	do {
		r = sd_bus_process(s->bus, NULL);
	} while (r > 0);
	if (r < 0) {
		s->error = r;
		if (callback)
			callback(user_data);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static void
bus_source_finalize(GSource *source)
{
	HubctlBusSource *s = (HubctlBusSource *)source;

	sd_bus_unref(s->bus);
}

static GSourceFuncs bus_source_funcs = {
	.prepare = bus_source_prepare,
	.dispatch = bus_source_dispatch,
	.finalize = bus_source_finalize,
};

/* The callback set with g_source_set_callback() runs once when the
 * connection fails; hubctl_bus_source_get_error() then tells why. */
GSource *
hubctl_bus_source_new(sd_bus *bus)
{
	GSource *source = g_source_new(&bus_source_funcs, sizeof(HubctlBusSource));
	HubctlBusSource *s = (HubctlBusSource *)source;

	s->bus = sd_bus_ref(bus);
	s->events = G_IO_IN;
	s->tag = g_source_add_unix_fd(source, sd_bus_get_fd(bus), G_IO_IN);
	g_source_set_name(source, "hubctl-sd-bus");
	return source;
}

int
hubctl_bus_source_get_error(GSource *source)
{
	return ((HubctlBusSource *)source)->error;
}
