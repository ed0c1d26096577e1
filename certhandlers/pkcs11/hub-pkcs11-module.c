/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-pkcs11-module.c - PKCS#11 module loading, token lookup by label,
 * session and login, and reconnection.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include <openssl/err.h>

#include "hub-pkcs11-module.h"

struct _HubPkcs11Module {
	gatomicrefcount ref;
	GRecMutex lock;
	char *path;
	char *token_label;
	HubPkcs11Pin *pin;

	void *dl;
	CK_FUNCTION_LIST_PTR p11;
	gboolean initialised;
	gboolean owns_init; /* our C_Initialize did it, so C_Finalize is ours too */
	guint32 generation; /* bumped at every C_Initialize: handles from before are void */
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	gboolean have_session;
	GHashTable *destroyed; /* handle -> times destroyed through us (in this generation) */
};

HubPkcs11Module *hub_pkcs11_module_new(const char *path, const char *token_label, HubPkcs11Pin *pin)
{
	HubPkcs11Module *module = g_new0(HubPkcs11Module, 1);

	g_atomic_ref_count_init(&module->ref);
	g_rec_mutex_init(&module->lock);
	module->path = g_strdup(path);
	module->token_label = g_strdup(token_label);
	module->pin = pin;
	module->destroyed = g_hash_table_new(g_direct_hash, g_direct_equal);
	return module;
}

HubPkcs11Module *hub_pkcs11_module_ref(HubPkcs11Module *module)
{
	g_atomic_ref_count_inc(&module->ref);
	return module;
}

void hub_pkcs11_module_unref(HubPkcs11Module *module)
{
	if (!module || !g_atomic_ref_count_dec(&module->ref))
		return;
	if (module->have_session)
		module->p11->C_CloseSession(module->session);
	if (module->initialised && module->owns_init)
		module->p11->C_Finalize(NULL);
	if (module->dl)
		dlclose(module->dl);
	g_hash_table_unref(module->destroyed);
	hub_pkcs11_pin_free(module->pin);
	g_free(module->path);
	g_free(module->token_label);
	g_rec_mutex_clear(&module->lock);
	g_free(module);
}

void hub_pkcs11_module_lock(HubPkcs11Module *module)
{
	g_rec_mutex_lock(&module->lock);
}

void hub_pkcs11_module_unlock(HubPkcs11Module *module)
{
	g_rec_mutex_unlock(&module->lock);
}

const char *hub_pkcs11_module_get_path(const HubPkcs11Module *module)
{
	return module->path;
}

const char *hub_pkcs11_module_get_token_label(const HubPkcs11Module *module)
{
	return module->token_label;
}

const char *hub_pkcs11_rv_to_string(CK_RV rv, char buf[32])
{
	static const struct {
		CK_RV rv;
		const char *name;
	} names[] = {
#define RV(x) { x, #x }
		RV(CKR_OK),
		RV(CKR_CANCEL),
		RV(CKR_HOST_MEMORY),
		RV(CKR_SLOT_ID_INVALID),
		RV(CKR_GENERAL_ERROR),
		RV(CKR_FUNCTION_FAILED),
		RV(CKR_ARGUMENTS_BAD),
		RV(CKR_ATTRIBUTE_READ_ONLY),
		RV(CKR_ATTRIBUTE_SENSITIVE),
		RV(CKR_ATTRIBUTE_TYPE_INVALID),
		RV(CKR_ATTRIBUTE_VALUE_INVALID),
		RV(CKR_DATA_INVALID),
		RV(CKR_DATA_LEN_RANGE),
		RV(CKR_DEVICE_ERROR),
		RV(CKR_DEVICE_MEMORY),
		RV(CKR_DEVICE_REMOVED),
		RV(CKR_FUNCTION_NOT_SUPPORTED),
		RV(CKR_KEY_HANDLE_INVALID),
		RV(CKR_KEY_TYPE_INCONSISTENT),
		RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
		RV(CKR_MECHANISM_INVALID),
		RV(CKR_MECHANISM_PARAM_INVALID),
		RV(CKR_OBJECT_HANDLE_INVALID),
		RV(CKR_OPERATION_ACTIVE),
		RV(CKR_OPERATION_NOT_INITIALIZED),
		RV(CKR_PIN_INCORRECT),
		RV(CKR_PIN_INVALID),
		RV(CKR_PIN_LEN_RANGE),
		RV(CKR_PIN_EXPIRED),
		RV(CKR_PIN_LOCKED),
		RV(CKR_SESSION_CLOSED),
		RV(CKR_SESSION_COUNT),
		RV(CKR_SESSION_HANDLE_INVALID),
		RV(CKR_SESSION_READ_ONLY),
		RV(CKR_TEMPLATE_INCOMPLETE),
		RV(CKR_TEMPLATE_INCONSISTENT),
		RV(CKR_TOKEN_NOT_PRESENT),
		RV(CKR_TOKEN_NOT_RECOGNIZED),
		RV(CKR_TOKEN_WRITE_PROTECTED),
		RV(CKR_USER_ALREADY_LOGGED_IN),
		RV(CKR_USER_NOT_LOGGED_IN),
		RV(CKR_USER_PIN_NOT_INITIALIZED),
		RV(CKR_USER_TYPE_INVALID),
		RV(CKR_DOMAIN_PARAMS_INVALID),
		RV(CKR_CURVE_NOT_SUPPORTED),
		RV(CKR_BUFFER_TOO_SMALL),
		RV(CKR_CRYPTOKI_NOT_INITIALIZED),
		RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
#undef RV
	};

	for (gsize i = 0; i < G_N_ELEMENTS(names); i++)
		if (names[i].rv == rv)
			return names[i].name;
	g_snprintf(buf, 32, "CKR_0x%lx", (unsigned long)rv);
	return buf;
}

/* The label of a token is 32 bytes padded with blanks (some modules: NULs). */
static char *token_label_dup(const CK_TOKEN_INFO *info)
{
	gsize len = sizeof(info->label);

	while (len > 0 && (info->label[len - 1] == ' ' || info->label[len - 1] == '\0'))
		len--;
	return g_strndup((const char *)info->label, len);
}

static int module_load(HubPkcs11Module *module, char *message, size_t message_size)
{
	CK_C_GetFunctionList get_function_list;
	CK_FUNCTION_LIST_PTR p11 = NULL;
	char rvbuf[32];
	void *sym;
	CK_RV rv;

	if (module->dl)
		return 0;
	module->dl = dlopen(module->path, RTLD_NOW | RTLD_LOCAL);
	if (!module->dl) {
		const char *err = dlerror();

		g_snprintf(message, message_size, "Cannot load PKCS#11 module %s: %s", module->path,
			   err ? err : "unknown error");
		return -ENODEV;
	}
	sym = dlsym(module->dl, "C_GetFunctionList");
	/* POSIX guarantees that a data pointer from dlsym() converts to a function pointer. */
	get_function_list = (CK_C_GetFunctionList)(uintptr_t)sym;
	rv = get_function_list ? get_function_list(&p11) : CKR_FUNCTION_NOT_SUPPORTED;
	if (rv != CKR_OK || !p11) {
		g_snprintf(message, message_size, "%s is not a PKCS#11 module (C_GetFunctionList: %s)", module->path,
			   hub_pkcs11_rv_to_string(rv, rvbuf));
		dlclose(module->dl);
		module->dl = NULL;
		return -ENODEV;
	}
	module->p11 = p11;
	return 0;
}

static int module_initialise(HubPkcs11Module *module, char *message, size_t message_size)
{
	/* The module may be called from several threads (TLS handshakes). */
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	char rvbuf[32];
	CK_RV rv;

	if (module->initialised)
		return 0;
	/* Modules built on OpenSSL (SoftHSM) leave errors on the caller's queue. */
	ERR_set_mark();
	rv = module->p11->C_Initialize(&args);
	ERR_pop_to_mark();
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		g_snprintf(message, message_size, "Cannot initialise PKCS#11 module %s: C_Initialize: %s",
			   module->path, hub_pkcs11_rv_to_string(rv, rvbuf));
		return -ENODEV;
	}
	/* Someone else in the process initialised it: they finalise it. */
	module->owns_init = rv == CKR_OK;
	module->initialised = TRUE;
	module->generation++;
	g_hash_table_remove_all(module->destroyed);
	return 0;
}

static void module_finalise(HubPkcs11Module *module)
{
	if (module->initialised && module->owns_init)
		module->p11->C_Finalize(NULL);
	module->initialised = FALSE;
	module->have_session = FALSE;
}

static int module_find_slot(HubPkcs11Module *module, char *message, size_t message_size)
{
	g_autofree CK_SLOT_ID *slots = NULL;
	g_autoptr(GString) found = g_string_new(NULL);
	CK_ULONG n = 0;
	char rvbuf[32];
	CK_RV rv;

	/* The slot count may change between the two calls. */
	do {
		rv = module->p11->C_GetSlotList(CK_TRUE, NULL, &n);
		if (rv != CKR_OK)
			break;
		g_free(slots);
		slots = g_new0(CK_SLOT_ID, n + 1);
		rv = module->p11->C_GetSlotList(CK_TRUE, slots, &n);
	} while (rv == CKR_BUFFER_TOO_SMALL);
	if (rv != CKR_OK) {
		g_snprintf(message, message_size, "Cannot list the slots of PKCS#11 module %s: C_GetSlotList: %s",
			   module->path, hub_pkcs11_rv_to_string(rv, rvbuf));
		return -EIO;
	}

	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;
		g_autofree char *label = NULL;

		if (module->p11->C_GetTokenInfo(slots[i], &info) != CKR_OK)
			continue;
		label = token_label_dup(&info);
		if (g_str_equal(label, module->token_label)) {
			module->slot = slots[i];
			return 0;
		}
		if (!(info.flags & CKF_TOKEN_INITIALIZED))
			continue;
		g_string_append_printf(found, "%s'%s'", found->len ? ", " : "", label);
	}

	g_snprintf(message, message_size, "No token labelled '%s' in PKCS#11 module %s (%s%s)", module->token_label,
		   module->path, found->len ? "tokens found: " : "no initialised token found",
		   found->len ? found->str : "");
	/* Many modules list tokens only as they were at C_Initialize: start
	 * over next time, so a token initialised later is seen. */
	module_finalise(module);
	return -ENODEV;
}

static int module_open_session(HubPkcs11Module *module, char *message, size_t message_size)
{
	char rvbuf[32];
	CK_RV rv;

	rv = module->p11->C_OpenSession(module->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
					&module->session);
	/* A write-protected token can still serve load(). */
	if (rv == CKR_TOKEN_WRITE_PROTECTED)
		rv = module->p11->C_OpenSession(module->slot, CKF_SERIAL_SESSION, NULL, NULL, &module->session);
	if (rv != CKR_OK) {
		gboolean gone = rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED || rv == CKR_SLOT_ID_INVALID;

		g_snprintf(message, message_size, "Cannot open a session on token '%s': C_OpenSession: %s",
			   module->token_label, hub_pkcs11_rv_to_string(rv, rvbuf));
		return gone ? -ENODEV : -EIO;
	}
	module->have_session = TRUE;
	return 0;
}

static void module_close_session(HubPkcs11Module *module)
{
	if (module->have_session)
		module->p11->C_CloseSession(module->session);
	module->have_session = FALSE;
}

static gboolean rv_refuses_pin(CK_RV rv)
{
	return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED || rv == CKR_PIN_INVALID ||
	       rv == CKR_PIN_LEN_RANGE;
}

static int module_login(HubPkcs11Module *module, char *message, size_t message_size)
{
	const char *source = hub_pkcs11_pin_source(module->pin);
	HubPkcs11PinValue pin;
	CK_TOKEN_INFO info;
	char rvbuf[32];
	CK_RV rv;
	int r;

	rv = module->p11->C_GetTokenInfo(module->slot, &info);
	if (rv == CKR_OK && !(info.flags & CKF_LOGIN_REQUIRED))
		return 0;
	if (rv == CKR_OK && (info.flags & CKF_USER_PIN_LOCKED)) {
		g_snprintf(message, message_size, "The user PIN of token '%s' is locked; the security officer must reset it",
			   module->token_label);
		return -EACCES;
	}

	r = hub_pkcs11_pin_read(module->pin, &pin, message, message_size);
	if (r < 0)
		return r;
	if (hub_pkcs11_pin_is_refused(module->pin, &pin, &rv)) {
		hub_pkcs11_pin_value_clear(&pin);
		g_snprintf(message, message_size,
			   "Token '%s' refused the PIN from %s (%s); it is not offered again until %s holds another PIN",
			   module->token_label, source, hub_pkcs11_rv_to_string(rv, rvbuf), source);
		return -EACCES;
	}
	rv = module->p11->C_Login(module->session, CKU_USER, (CK_UTF8CHAR_PTR)pin.value, pin.len);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
		hub_pkcs11_pin_clear_refused(module->pin);
		hub_pkcs11_pin_value_clear(&pin);
		return 0;
	}
	if (rv_refuses_pin(rv)) {
		hub_pkcs11_pin_set_refused(module->pin, &pin, rv);
		hub_pkcs11_pin_value_clear(&pin);
		g_snprintf(message, message_size,
			   "Token '%s' refused the PIN from %s (%s); it is not offered again until %s holds another PIN",
			   module->token_label, source, hub_pkcs11_rv_to_string(rv, rvbuf), source);
		return -EACCES;
	}
	hub_pkcs11_pin_value_clear(&pin);
	g_snprintf(message, message_size, "Cannot log in to token '%s': C_Login: %s", module->token_label,
		   hub_pkcs11_rv_to_string(rv, rvbuf));
	return rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED ? -ENODEV : -EIO;
}

int hub_pkcs11_module_session(HubPkcs11Module *module, CK_FUNCTION_LIST_PTR *p11, CK_SESSION_HANDLE *session,
			      char *message, size_t message_size)
{
	int r;

	if (!module->have_session) {
		r = module_load(module, message, message_size);
		if (r == 0)
			r = module_initialise(module, message, message_size);
		if (r == 0)
			r = module_find_slot(module, message, message_size);
		if (r == 0)
			r = module_open_session(module, message, message_size);
		if (r == 0) {
			r = module_login(module, message, message_size);
			/* Not logged in: the session is useless, open a new one next time. */
			if (r < 0)
				module_close_session(module);
		}
		if (r < 0)
			return r;
	}
	*p11 = module->p11;
	*session = module->session;
	return 0;
}

gboolean hub_pkcs11_module_session_lost(HubPkcs11Module *module, CK_RV rv)
{
	switch (rv) {
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		/* Someone finalised the module under us: initialise it again. */
		module->initialised = FALSE;
		module->owns_init = FALSE;
		module->have_session = FALSE;
		return TRUE;
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_USER_NOT_LOGGED_IN:
		module_close_session(module);
		return TRUE;
	default:
		return FALSE;
	}
}

CK_RV hub_pkcs11_module_destroy_object(HubPkcs11Module *module, CK_OBJECT_HANDLE object)
{
	gpointer key = GSIZE_TO_POINTER((gsize)object);
	CK_RV rv;

	if (!module->have_session)
		return CKR_SESSION_HANDLE_INVALID;
	rv = module->p11->C_DestroyObject(module->session, object);
	if (rv == CKR_OK) {
		guint times = GPOINTER_TO_UINT(g_hash_table_lookup(module->destroyed, key));

		g_hash_table_insert(module->destroyed, key, GUINT_TO_POINTER(times + 1));
	}
	return rv;
}

uint64_t hub_pkcs11_module_object_stamp(HubPkcs11Module *module, CK_OBJECT_HANDLE object)
{
	gpointer key = GSIZE_TO_POINTER((gsize)object);
	guint times = GPOINTER_TO_UINT(g_hash_table_lookup(module->destroyed, key));

	return ((uint64_t)module->generation << 32) | times;
}
