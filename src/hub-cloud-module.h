/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hub-cloud-module.h - the hubd-cloud.so module: all of hubd's OpenSSL and
 * libmosquitto work (certificates, TLS contexts, the MQTT session service),
 * loaded with the first certificate or cloud operation so that a hub
 * without a cloud never maps those libraries. $HUBD_CLOUD_MODULE names
 * another module file (tests, uninstalled trees).
 */
#pragma once

#include <glib.h>

/* The address of the module's exported @symbol (a query function), loading
 * the module first. The module must be a regular file owned by root or the
 * daemon's user and not writable by group or other, like a plugin. It is
 * never unloaded: keys, contexts and sessions it made may be freed at any
 * time. HUB_ERROR_UNAVAILABLE when it is missing, unsafe or lacks @symbol. */
gpointer hub_cloud_module_symbol(const char *symbol, GError **error);

/* The table the module's query function @symbol returns; every table
 * starts with its gsize size, which must be at least @min_size. */
gconstpointer hub_cloud_module_table(const char *symbol, gsize min_size, GError **error);
