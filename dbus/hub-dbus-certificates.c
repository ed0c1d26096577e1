/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-dbus-certificates.c - org.hubd.Hub1.Certificates on /org/hubd/Hub1:
 * the hub's credentials by role, for local management apps and hubctl.
 * Reading the status is open to everyone; anything that changes or uses a
 * credential needs write permission (group hubd or root).
 */
#include "config.h"

#include "hub-dbus-private.h"
#include "hub-error.h"

static gboolean parse_role(const char *name, guint32 *role, sd_bus_error *error)
{
	if (hub_cert_role_from_string(name, role) && *role != HUB_CERT_ROLE_ATTESTATION)
		return TRUE;
	if (hub_cert_role_from_string(name, role))
		sd_bus_error_setf(error, hub_error_dbus_name(HUB_ERROR_NOT_SUPPORTED),
				  "the attestation role is reserved and not supported yet");
	else
		sd_bus_error_setf(error, hub_error_dbus_name(HUB_ERROR_INVALID_ARGUMENT),
				  "unknown role '%s' (claim, permanent, root-ca)", name);
	return FALSE;
}

static int append_entry(sd_bus_message *reply, const char *key, const char *type, ...)
{
	va_list ap;
	int r;

	r = sd_bus_message_open_container(reply, 'e', "sv");
	if (r >= 0)
		r = sd_bus_message_append(reply, "s", key);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'v', type);
	if (r >= 0) {
		va_start(ap, type);
		r = sd_bus_message_appendv(reply, type, ap);
		va_end(ap);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

static int append_status(sd_bus_message *reply, const HubCertStatus *status)
{
	int r = sd_bus_message_open_container(reply, 'a', "{sv}");

	if (r >= 0)
		r = append_entry(reply, "Role", "s", hub_cert_role_to_string(status->role));
	if (r >= 0)
		r = append_entry(reply, "State", "s", hub_cert_status_state(status));
	if (r >= 0)
		r = append_entry(reply, "Store", "s", status->store ? status->store : "");
	if (r >= 0)
		r = append_entry(reply, "Location", "s", status->location ? status->location : "");
	if (r >= 0)
		r = append_entry(reply, "HardwareBacked", "b",
				 (int)!!(status->capabilities & HUB_CERTSTORE_CAP_HARDWARE));
	if (r >= 0)
		r = append_entry(reply, "KeyImportable", "b",
				 (int)!!(status->capabilities & HUB_CERTSTORE_CAP_IMPORT_KEY));
	if (r >= 0)
		r = append_entry(reply, "HasKey", "b", (int)status->has_key);
	if (r >= 0)
		r = append_entry(reply, "KeyType", "s", status->key_type ? status->key_type : "");
	if (r >= 0)
		r = append_entry(reply, "Certificates", "u", (uint32_t)status->n_certificates);
	if (r >= 0 && status->has_certificate) {
		r = append_entry(reply, "Subject", "s", status->subject);
		if (r >= 0)
			r = append_entry(reply, "Issuer", "s", status->issuer);
		if (r >= 0)
			r = append_entry(reply, "Serial", "s", status->serial);
		if (r >= 0)
			r = append_entry(reply, "NotBefore", "x", (int64_t)status->not_before);
		if (r >= 0)
			r = append_entry(reply, "NotAfter", "x", (int64_t)status->not_after);
	}
	if (r >= 0 && status->error)
		r = append_entry(reply, "Error", "s", status->error);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

static int method_get_status(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	__attribute__((cleanup(sd_bus_message_unrefp))) sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "a{sv}");
	for (guint32 role = HUB_CERT_ROLE_CLAIM; r >= 0 && role <= HUB_CERT_ROLE_ROOT_CA; role++) {
		g_autoptr(HubCertStatus) status = hub_cert_manager_get_status(dbus->daemon->certs, role);

		r = append_status(reply, status);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r < 0)
		return r;
	return sd_bus_send(NULL, reply, NULL);
}

static int method_generate_key(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	const char *role_name, *type_name;
	guint32 role, key_type;
	int r;

	r = hub_dbus_check_write(dbus, m, method_generate_key, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "ss", &role_name, &type_name);
	if (r < 0)
		return r;
	if (!parse_role(role_name, &role, error))
		return -EINVAL;
	if (!hub_cert_key_type_from_string(type_name, &key_type))
		return sd_bus_error_setf(error, hub_error_dbus_name(HUB_ERROR_INVALID_ARGUMENT),
					 "unknown key type '%s' (ec-p256, rsa-2048)", type_name);
	if (!hub_cert_manager_generate_key(dbus->daemon->certs, role, key_type, &gerror))
		return hub_dbus_error_from_gerror(error, gerror);
	return sd_bus_reply_method_return(m, "");
}

static int method_create_csr(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	g_autofree char *csr = NULL;
	const char *role_name;
	guint32 role;
	int r;

	r = hub_dbus_check_write(dbus, m, method_create_csr, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "s", &role_name);
	if (r < 0)
		return r;
	if (!parse_role(role_name, &role, error))
		return -EINVAL;
	csr = hub_cert_manager_create_csr(dbus->daemon->certs, role, &gerror);
	if (!csr)
		return hub_dbus_error_from_gerror(error, gerror);
	return sd_bus_reply_method_return(m, "s", csr);
}

static int method_store_certificate(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	const char *role_name, *pem;
	guint32 role;
	int r;

	r = hub_dbus_check_write(dbus, m, method_store_certificate, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "ss", &role_name, &pem);
	if (r < 0)
		return r;
	if (!parse_role(role_name, &role, error))
		return -EINVAL;
	if (!hub_cert_manager_store_certificates(dbus->daemon->certs, role, pem, &gerror))
		return hub_dbus_error_from_gerror(error, gerror);
	return sd_bus_reply_method_return(m, "");
}

static int method_import(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	const char *role_name, *cert_pem, *key_pem;
	guint32 role;
	int r;

	r = hub_dbus_check_write(dbus, m, method_import, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "sss", &role_name, &cert_pem, &key_pem);
	if (r < 0)
		return r;
	if (!parse_role(role_name, &role, error))
		return -EINVAL;
	if (!hub_cert_manager_import(dbus->daemon->certs, role, cert_pem, key_pem, &gerror))
		return hub_dbus_error_from_gerror(error, gerror);
	return sd_bus_reply_method_return(m, "");
}

static int method_erase(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	HubDbus *dbus = userdata;
	g_autoptr(GError) gerror = NULL;
	const char *role_name;
	guint32 role;
	int r;

	r = hub_dbus_check_write(dbus, m, method_erase, error);
	if (r <= 0)
		return r < 0 ? r : 1;
	r = sd_bus_message_read(m, "s", &role_name);
	if (r < 0)
		return r;
	if (!parse_role(role_name, &role, error))
		return -EINVAL;
	if (!hub_cert_manager_erase(dbus->daemon->certs, role, &gerror))
		return hub_dbus_error_from_gerror(error, gerror);
	return sd_bus_reply_method_return(m, "");
}

const sd_bus_vtable hub_dbus_certificates_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD_WITH_ARGS("GetStatus", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", roles), method_get_status,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GenerateKey", SD_BUS_ARGS("s", role, "s", key_type), SD_BUS_NO_RESULT,
				method_generate_key, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("CreateCsr", SD_BUS_ARGS("s", role), SD_BUS_RESULT("s", csr_pem), method_create_csr,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("StoreCertificate", SD_BUS_ARGS("s", role, "s", certificate_pem), SD_BUS_NO_RESULT,
				method_store_certificate, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("Import", SD_BUS_ARGS("s", role, "s", certificate_pem, "s", key_pem),
				SD_BUS_NO_RESULT, method_import, SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
	SD_BUS_METHOD_WITH_ARGS("Erase", SD_BUS_ARGS("s", role), SD_BUS_NO_RESULT, method_erase,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};
