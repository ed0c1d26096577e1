/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl.h - shared declarations of the hubctl client (tools/hubctl*.c).
 * Private to hubctl; nothing here is installed. hubctl is single-threaded.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

#ifndef _cleanup_
#define _cleanup_(f) __attribute__((cleanup(f)))
#endif

#define HUBCTL_SERVICE		"org.hubd.Hub1"
#define HUBCTL_ROOT_PATH	"/org/hubd/Hub1"
#define HUBCTL_DEVICES_PATH	"/org/hubd/Hub1/devices"
#define HUBCTL_MANAGER_IFACE	"org.hubd.Hub1.Manager"
#define HUBCTL_DEVICE_IFACE	"org.hubd.Hub1.Device"
#define HUBCTL_PROPERTIES_IFACE	"org.freedesktop.DBus.Properties"
#define HUBCTL_OM_IFACE		"org.freedesktop.DBus.ObjectManager"
#define HUBCTL_CERTIFICATES_IFACE "org.hubd.Hub1.Certificates"

/* Client-side limit for calls that wait for a device (SetProperty,
 * InvokeAndWait with the daemon's default timeout); the daemon times the
 * command out itself long before this. */
#define HUBCTL_WAIT_TIMEOUT_USEC (120ULL * G_USEC_PER_SEC)

enum {
	HUBCTL_EXIT_OK = 0,
	HUBCTL_EXIT_FAILURE = 1, /* the operation failed */
	HUBCTL_EXIT_USAGE = 2,   /* bad command line */
};

typedef struct {
	sd_bus *bus;
	gboolean json;          /* --json */
	gboolean tty;           /* stdout is a terminal */
	gboolean utf8;          /* the locale's charset is UTF-8 */
	const char *command;
	char **args;            /* positional arguments after the command */
	guint n_args;
	/* command options */
	gboolean list;          /* discover --list */
	guint seconds;          /* discover --seconds */
	gboolean no_wait;       /* invoke --no-wait */
	guint timeout_ms;       /* invoke --timeout */
	const char *key_type;   /* cert --key-type */
	const char *cert_file;  /* cert import --cert */
	const char *key_file;   /* cert import --key */
	const char *profile_file; /* cert import --profile */
	const char *out_file;   /* cert csr --out */
	gboolean new_key;       /* cert csr --new-key */
	gboolean force;         /* offboard --force */
} HubctlContext;

/* A device object as returned by GetManagedObjects. */
typedef struct {
	char *path;
	char *id;
	GVariant *props;        /* a{sv} of org.hubd.Hub1.Device */
} HubctlDevice;

/* One entry of a device's State property. */
typedef struct {
	char *key;              /* "<endpoint>/<capability>/<property>" */
	char *endpoint;
	char *capability;
	char *property;
	GVariant *value;        /* the value, not boxed in a variant */
	gint64 last_changed_ms;
} HubctlStateEntry;

/* hubctl.c */
int hubctl_usage_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
char *hubctl_what(const HubctlContext *ctx);

/* hubctl-bus.c: sd-bus helpers. Functions returning int give a negative
 * errno on failure with @error filled in when the peer sent an error. */
int hubctl_bus_connect(const char *address, gboolean session, sd_bus **ret);
int hubctl_message_read_tuple(sd_bus_message *m, GVariant **ret);
int hubctl_new_call(sd_bus *bus, const char *path, const char *interface, const char *member, sd_bus_message **ret);
int hubctl_call_message(sd_bus *bus, sd_bus_message *m, uint64_t timeout_usec, sd_bus_error *error, GVariant **ret);
int hubctl_append_json_variant(sd_bus_message *m, JsonNode *node);
int hubctl_call(sd_bus *bus, const char *path, const char *interface, const char *member,
		uint64_t timeout_usec, sd_bus_error *error, GVariant **ret, const char *types, ...);
int hubctl_get_property(sd_bus *bus, const char *path, const char *interface, const char *name,
			sd_bus_error *error, GVariant **ret);
int hubctl_get_all_properties(sd_bus *bus, const char *path, const char *interface,
			      sd_bus_error *error, GVariant **ret);
int hubctl_get_devices(sd_bus *bus, sd_bus_error *error, GPtrArray **ret);
char *hubctl_device_path(const char *device_id);
char *hubctl_device_id_from_path(const char *path);
gboolean hubctl_error_is_unknown_object(const sd_bus_error *error);
gboolean hubctl_error_is_no_service(const sd_bus_error *error);
int hubctl_fail(const char *what, const sd_bus_error *error, int r);
int hubctl_fail_device(sd_bus *bus, const char *what, const char *device_id, const sd_bus_error *error, int r);
GSource *hubctl_bus_source_new(sd_bus *bus);
int hubctl_bus_source_get_error(GSource *source);

void hubctl_device_free(HubctlDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubctlDevice, hubctl_device_free)
const char *hubctl_lookup_string(GVariant *dict, const char *name);
gboolean hubctl_lookup_boolean(GVariant *dict, const char *name, gboolean fallback);

void hubctl_state_entry_free(HubctlStateEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HubctlStateEntry, hubctl_state_entry_free)
GPtrArray *hubctl_state_parse(GVariant *state);
void hubctl_split_state_key(const char *key, char **endpoint, char **capability, char **property);
gboolean hubctl_capability_matches(const char *id, const char *wanted);

/* hubctl-output.c: printing. Everything goes to stdout unless named. */
char *hubctl_format_time_ms(gint64 ms);
char *hubctl_format_local_clock(gint64 real_usec);
char *hubctl_variant_to_json_string(GVariant *value);
char *hubctl_variant_to_text(GVariant *value);
JsonNode *hubctl_variant_to_json(GVariant *value);
JsonNode *hubctl_parse_json(const char *text, GError **error);
JsonNode *hubctl_parse_json_argument(const char *text);
void hubctl_print_json(JsonNode *node, gboolean pretty);
void hubctl_print_json_text(const char *text);
void hubctl_print_table(GPtrArray *rows, guint n_columns, const char *const *header);
const char *hubctl_reason_phrase(gint code);
void hubctl_print_result_errors(JsonNode *result);
char *hubctl_health_to_text(GVariant *health);
const char *hubctl_json_object_string(JsonObject *object, const char *member);
JsonArray *hubctl_json_object_array(JsonObject *object, const char *member);
char *hubctl_json_to_text(JsonNode *node);
void hubctl_print_result_properties(JsonNode *result);

/* Commands; each returns an exit status. */
int hubctl_cmd_status(HubctlContext *ctx);
int hubctl_cmd_plugins(HubctlContext *ctx);
int hubctl_cmd_list(HubctlContext *ctx);
int hubctl_cmd_show(HubctlContext *ctx);
int hubctl_cmd_get(HubctlContext *ctx);
int hubctl_cmd_set(HubctlContext *ctx);
int hubctl_cmd_invoke(HubctlContext *ctx);
int hubctl_cmd_remove(HubctlContext *ctx);
int hubctl_cmd_discover(HubctlContext *ctx);
int hubctl_cmd_onboard(HubctlContext *ctx);
int hubctl_cmd_monitor(HubctlContext *ctx);
int hubctl_cmd_cert(HubctlContext *ctx);
int hubctl_cmd_provision(HubctlContext *ctx);
int hubctl_cmd_offboard(HubctlContext *ctx);
/* The daemon's GetCloudStatus document, or NULL (an older daemon) with @error set. */
JsonNode *hubctl_cloud_status(HubctlContext *ctx, sd_bus_error *error);
/* Prints the cloud lines of `hubctl status`. */
void hubctl_cloud_print(JsonObject *cloud);
