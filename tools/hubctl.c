/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hubctl.c - command line, dispatch and usage of hubctl, the hubd client.
 * hubctl talks to hubd over D-Bus only (doc/hubctl.md).
 */
#include "config.h"

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hubctl.h"

enum {
	OPT_SECONDS = 1 << 0,
	OPT_LIST = 1 << 1,
	OPT_NO_WAIT = 1 << 2,
	OPT_TIMEOUT = 1 << 3,
	OPT_KEY_TYPE = 1 << 4,
	OPT_CERT = 1 << 5,
	OPT_KEY = 1 << 6,
	OPT_PROFILE = 1 << 7,
	OPT_OUT = 1 << 8,
	OPT_NEW_KEY = 1 << 9,
	OPT_FORCE = 1 << 10,
};

typedef struct {
	const char *name;
	guint min_args;
	guint max_args;
	guint what_args;        /* arguments named in error messages (never secrets) */
	guint options;          /* command options it accepts */
	int (*run)(HubctlContext *ctx);
} HubctlCommand;

static const HubctlCommand commands[] = {
	{ "status",   0, 0,          0, 0, hubctl_cmd_status },
	{ "plugins",  0, 0,          0, 0, hubctl_cmd_plugins },
	{ "list",     0, 0,          0, 0, hubctl_cmd_list },
	{ "show",     1, 1,          1, 0, hubctl_cmd_show },
	{ "get",      1, 4,          4, 0, hubctl_cmd_get },
	{ "set",      5, 5,          4, 0, hubctl_cmd_set },
	{ "invoke",   4, G_MAXUINT,  4, OPT_NO_WAIT | OPT_TIMEOUT, hubctl_cmd_invoke },
	{ "monitor",  0, 0,          0, 0, hubctl_cmd_monitor },
	{ "discover", 0, 0,          0, OPT_SECONDS | OPT_LIST, hubctl_cmd_discover },
	{ "onboard",  2, 3,          2, 0, hubctl_cmd_onboard },
	{ "remove",   1, 1,          1, 0, hubctl_cmd_remove },
	{ "cert",     1, 2,          2, OPT_KEY_TYPE | OPT_CERT | OPT_KEY | OPT_PROFILE | OPT_OUT | OPT_NEW_KEY,
	  hubctl_cmd_cert },
	{ "provision", 0, 0,         0, 0, hubctl_cmd_provision },
	{ "offboard", 0, 0,          0, OPT_FORCE, hubctl_cmd_offboard },
};

static const HubctlCommand *current_command;

static const char usage_text[] =
	"Usage: hubctl [OPTIONS] COMMAND [ARGUMENTS...]\n"
	"\n"
	"Show and control the devices of hubd, the IoT hub daemon, over D-Bus.\n"
	"\n"
	"Commands:\n"
	"  status                        Daemon version, ABI, devices, discovery, plugins, cloud\n"
	"  plugins                       Loaded plugins\n"
	"  list                          Devices, one per line\n"
	"  show DEV                      A device's identity, endpoints and capabilities\n"
	"  get DEV [EP [CAP [PROP]]]     Property values with the time they last changed\n"
	"  set DEV EP CAP PROP VALUE     Write a property (VALUE is JSON or a plain string)\n"
	"  invoke DEV EP CAP ACTION [NAME=VALUE...]\n"
	"                                Run an action and print its result\n"
	"  monitor                       Print changes, events and commands as they happen\n"
	"  discover [--seconds N]        Open a discovery window and show what it finds\n"
	"  discover --list               Devices found by the current or last window\n"
	"  onboard PROTOCOL ID [AUTH]    Onboard a discovered device\n"
	"  remove DEV                    Remove a device\n"
	"  cert status                   Credentials by role: store, subject, expiry, hardware\n"
	"  cert generate ROLE [--key-type ec-p256|rsa-2048]\n"
	"                                Generate a key inside the role's store\n"
	"  cert csr ROLE [--new-key] [--key-type T] [--out FILE]\n"
	"                                Print a CSR signed by the role's key (makes a key if none)\n"
	"  cert import ROLE --cert FILE [--key FILE]\n"
	"  cert import ROLE --profile FILE\n"
	"                                Store a certificate (and key), or the claim credential\n"
	"                                from a CreateProvisioningProfile JSON answer\n"
	"  cert erase ROLE               Erase a role's key and certificates\n"
	"  provision                     Onboard the hub to its cloud now (or retry at once)\n"
	"  offboard [--force]            Tell the cloud, erase the permanent identity and every\n"
	"                                device, keep the claim credential; --force also with\n"
	"                                child devices, or to reset a hub in any state\n"
	"\n"
	"Options:\n"
	"  --system             Use the system bus (default)\n"
	"  --session            Use the session bus\n"
	"  --address ADDRESS    Use the bus at ADDRESS (e.g. unix:path=/run/hubd/bus)\n"
	"  --json               Print JSON instead of text\n"
	"  --seconds N          discover: length of the window, 1-3600 (default 30)\n"
	"  --list               discover: list the devices found, open no window\n"
	"  --no-wait            invoke: print the trace id and return at once\n"
	"  --timeout MS         invoke: how long the daemon waits (default: its own)\n"
	"  --key-type TYPE      cert: ec-p256 (default) or rsa-2048\n"
	"  --cert FILE          cert import: PEM certificate chain, leaf first (- = stdin)\n"
	"  --key FILE           cert import: PEM private key\n"
	"  --profile FILE       cert import: JSON with ClaimCertificate and ClaimCertificatePrivateKey\n"
	"  --out FILE           cert csr: write the CSR to FILE instead of stdout\n"
	"  --new-key            cert csr: generate a new key first\n"
	"  --force              offboard: see above\n"
	"\n"
	"ROLE is claim, permanent or root-ca.\n"
	"  -h, --help           Show this help\n"
	"  --version            Show the version\n"
	"\n"
	"DEV is a device id as printed by 'hubctl list' (or its object path).\n"
	"Exit status: 0 success, 1 the operation failed, 2 bad usage.\n";

int
hubctl_usage_error(const char *fmt, ...)
{
	va_list ap;
	g_autofree char *message = NULL;

	va_start(ap, fmt);
	message = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "hubctl: %s\nTry 'hubctl --help' for more information.\n", message);
	return HUBCTL_EXIT_USAGE;
}

/* "set light-1 1 matter.OnOff@1.4 OnOff": the command and the arguments
 * that identify its target, for error messages. */
char *
hubctl_what(const HubctlContext *ctx)
{
	GString *what = g_string_new(ctx->command);
	guint n = current_command ? MIN(ctx->n_args, current_command->what_args) : 0;

	for (guint i = 0; i < n; i++)
		g_string_append_printf(what, " %s", ctx->args[i]);
	return g_string_free(what, FALSE);
}

static const HubctlCommand *
find_command(const char *name)
{
	for (gsize i = 0; i < G_N_ELEMENTS(commands); i++)
		if (g_str_equal(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* "-5" and "-.5" are values (set DEV EP CAP Level -5), not options. */
static gboolean
looks_like_number(const char *arg)
{
	return arg[0] == '-' && (g_ascii_isdigit(arg[1]) || arg[1] == '.');
}

static gboolean
parse_uint(const char *option, const char *text, guint64 min, guint64 max, guint *ret)
{
	guint64 value;
	g_autoptr(GError) error = NULL;

	if (!g_ascii_string_to_unsigned(text, 10, min, max, &value, &error)) {
		hubctl_usage_error("%s: expected a number from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT ", got '%s'",
				   option, min, max, text);
		return FALSE;
	}
	*ret = (guint)value;
	return TRUE;
}

typedef struct {
	gboolean help;
	gboolean version;
	gboolean session;
	gboolean system;
	const char *address;
	guint options_seen;
} HubctlOptions;

/* Takes the value of "--name VALUE" or "--name=VALUE"; NULL after a usage
 * error. */
static const char *
option_value(int argc, char **argv, int *i, const char *name)
{
	const char *arg = argv[*i];
	gsize len = strlen(name);

	if (arg[len] == '=')
		return arg + len + 1;
	if (*i + 1 >= argc) {
		hubctl_usage_error("option %s needs a value", name);
		return NULL;
	}
	*i += 1;
	return argv[*i];
}

static gboolean
option_is(const char *arg, const char *name)
{
	gsize len = strlen(name);

	return strncmp(arg, name, len) == 0 && (arg[len] == '\0' || arg[len] == '=');
}

static gboolean
option_is_flag(const char *arg, const char *name)
{
	return g_str_equal(arg, name);
}

/* The file and key-type options of "cert". */
static gboolean
parse_cert_option(int argc, char **argv, int *i, HubctlContext *ctx, HubctlOptions *opts)
{
	static const struct {
		const char *name;
		guint flag;
		gsize offset;
	} table[] = {
		{ "--key-type", OPT_KEY_TYPE, G_STRUCT_OFFSET(HubctlContext, key_type) },
		{ "--cert", OPT_CERT, G_STRUCT_OFFSET(HubctlContext, cert_file) },
		{ "--key", OPT_KEY, G_STRUCT_OFFSET(HubctlContext, key_file) },
		{ "--profile", OPT_PROFILE, G_STRUCT_OFFSET(HubctlContext, profile_file) },
		{ "--out", OPT_OUT, G_STRUCT_OFFSET(HubctlContext, out_file) },
	};

	for (gsize k = 0; k < G_N_ELEMENTS(table); k++) {
		const char *value;

		if (!option_is(argv[*i], table[k].name))
			continue;
		value = option_value(argc, argv, i, table[k].name);
		if (!value)
			return FALSE;
		if (!*value) {
			hubctl_usage_error("%s: empty value", table[k].name);
			return FALSE;
		}
		G_STRUCT_MEMBER(const char *, ctx, table[k].offset) = value;
		opts->options_seen |= table[k].flag;
		return TRUE;
	}
	return FALSE;
}

/* Options may stand anywhere; "--" ends them. Returns FALSE after a usage
 * error (already printed). */
static gboolean
parse_command_line(int argc, char **argv, HubctlContext *ctx, HubctlOptions *opts, GPtrArray *positional)
{
	gboolean options_done = FALSE;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *value;

		if (options_done || arg[0] != '-' || arg[1] == '\0' || looks_like_number(arg)) {
			g_ptr_array_add(positional, argv[i]);
			continue;
		}
		if (g_str_equal(arg, "--")) {
			options_done = TRUE;
		} else if (option_is_flag(arg, "-h") || option_is_flag(arg, "--help")) {
			opts->help = TRUE;
		} else if (option_is_flag(arg, "--version")) {
			opts->version = TRUE;
		} else if (option_is_flag(arg, "--json")) {
			ctx->json = TRUE;
		} else if (option_is_flag(arg, "--session")) {
			opts->session = TRUE;
		} else if (option_is_flag(arg, "--system")) {
			opts->system = TRUE;
		} else if (option_is(arg, "--address")) {
			value = option_value(argc, argv, &i, "--address");
			if (!value)
				return FALSE;
			if (value[0] == '\0') {
				hubctl_usage_error("--address: empty bus address");
				return FALSE;
			}
			opts->address = value;
		} else if (option_is_flag(arg, "--list")) {
			ctx->list = TRUE;
			opts->options_seen |= OPT_LIST;
		} else if (option_is_flag(arg, "--no-wait")) {
			ctx->no_wait = TRUE;
			opts->options_seen |= OPT_NO_WAIT;
		} else if (option_is(arg, "--seconds")) {
			value = option_value(argc, argv, &i, "--seconds");
			if (!value || !parse_uint("--seconds", value, 1, 3600, &ctx->seconds))
				return FALSE;
			opts->options_seen |= OPT_SECONDS;
		} else if (option_is(arg, "--timeout")) {
			value = option_value(argc, argv, &i, "--timeout");
			if (!value || !parse_uint("--timeout", value, 0, G_MAXUINT32, &ctx->timeout_ms))
				return FALSE;
			opts->options_seen |= OPT_TIMEOUT;
		} else if (option_is_flag(arg, "--force")) {
			ctx->force = TRUE;
			opts->options_seen |= OPT_FORCE;
		} else if (option_is_flag(arg, "--new-key")) {
			ctx->new_key = TRUE;
			opts->options_seen |= OPT_NEW_KEY;
		} else if (option_is(arg, "--key-type") || option_is(arg, "--cert") || option_is(arg, "--key") ||
			   option_is(arg, "--profile") || option_is(arg, "--out")) {
			if (!parse_cert_option(argc, argv, &i, ctx, opts))
				return FALSE;
		} else {
			hubctl_usage_error("unknown option '%s'", arg);
			return FALSE;
		}
	}
	return TRUE;
}

static const char *
option_name(guint option)
{
	switch (option) {
	case OPT_SECONDS:
		return "--seconds";
	case OPT_LIST:
		return "--list";
	case OPT_NO_WAIT:
		return "--no-wait";
	case OPT_TIMEOUT:
		return "--timeout";
	case OPT_KEY_TYPE:
		return "--key-type";
	case OPT_CERT:
		return "--cert";
	case OPT_KEY:
		return "--key";
	case OPT_PROFILE:
		return "--profile";
	case OPT_OUT:
		return "--out";
	case OPT_NEW_KEY:
		return "--new-key";
	case OPT_FORCE:
		return "--force";
	default:
		return "?";
	}
}

static int
check_arguments(const HubctlCommand *cmd, const HubctlContext *ctx, guint options_seen)
{
	guint extra = options_seen & ~cmd->options;

	if (extra)
		return hubctl_usage_error("%s: option %s does not apply to this command",
					  cmd->name, option_name(extra & -extra));
	if (ctx->n_args < cmd->min_args)
		return hubctl_usage_error("%s: missing arguments", cmd->name);
	if (ctx->n_args > cmd->max_args)
		return hubctl_usage_error("%s: too many arguments", cmd->name);
	if (ctx->list && (options_seen & OPT_SECONDS))
		return hubctl_usage_error("discover: --list and --seconds exclude each other");
	if (ctx->no_wait && (options_seen & OPT_TIMEOUT))
		return hubctl_usage_error("invoke: --no-wait and --timeout exclude each other");
	for (guint i = 0; i < ctx->n_args; i++) {
		if (!g_utf8_validate(ctx->args[i], -1, NULL))
			return hubctl_usage_error("%s: argument %u is not valid UTF-8", cmd->name, i + 1);
		if (i < cmd->what_args && ctx->args[i][0] == '\0')
			return hubctl_usage_error("%s: argument %u is empty", cmd->name, i + 1);
	}
	return HUBCTL_EXIT_OK;
}

int
main(int argc, char **argv)
{
	HubctlContext ctx = { .seconds = 30 };
	HubctlOptions opts = { 0 };
	g_autoptr(GPtrArray) positional = g_ptr_array_new();
	_cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
	const HubctlCommand *cmd;
	int r;

	setlocale(LC_ALL, "");
	setlocale(LC_NUMERIC, "C");
	ctx.utf8 = g_get_charset(NULL);
	ctx.tty = isatty(STDOUT_FILENO);

	if (!parse_command_line(argc, argv, &ctx, &opts, positional))
		return HUBCTL_EXIT_USAGE;
	if (opts.help) {
		fputs(usage_text, stdout);
		return HUBCTL_EXIT_OK;
	}
	if (opts.version) {
		printf("hubctl %s\n", PACKAGE_VERSION);
		return HUBCTL_EXIT_OK;
	}
	if (positional->len == 0)
		return hubctl_usage_error("no command given");
	if (g_str_equal(positional->pdata[0], "help")) {
		fputs(usage_text, stdout);
		return HUBCTL_EXIT_OK;
	}
	if (opts.session + opts.system + (opts.address != NULL) > 1)
		return hubctl_usage_error("--system, --session and --address exclude each other");

	cmd = find_command(positional->pdata[0]);
	if (!cmd)
		return hubctl_usage_error("unknown command '%s'", (const char *)positional->pdata[0]);
	current_command = cmd;
	ctx.command = cmd->name;
	ctx.args = (char **)positional->pdata + 1;
	ctx.n_args = positional->len - 1;
	r = check_arguments(cmd, &ctx, opts.options_seen);
	if (r != HUBCTL_EXIT_OK)
		return r;

	r = hubctl_bus_connect(opts.address, opts.session, &bus);
	if (r < 0) {
		fprintf(stderr, "hubctl: cannot connect to the %s: %s\n",
			opts.address ? "bus" : opts.session ? "session bus" : "system bus", g_strerror(-r));
		return HUBCTL_EXIT_FAILURE;
	}
	ctx.bus = bus;
	return cmd->run(&ctx);
}
