/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-provisioning-baseline.h - the least a hub has to do to be onboarded
 * by AWS IoT fleet provisioning, written with bare libmosquitto, OpenSSL and
 * json-glib against the test cloud (tests/cloudsim): the baseline for the
 * start -> PROVISIONED figure (bench/README.md, figure 7). Not part of hubd.
 */
#pragma once

#include <glib.h>

#include "hub-cloudsim.h"

/* One onboarding, as a minimal hub would do it:
 *  1. an EC P-256 key and a CSR with CN=@serial, in memory;
 *  2. connect with the claim certificate (any client id), subscribe to
 *     CreateCertificateFromCsr's accepted/rejected topics, publish the CSR,
 *     read certificatePem and certificateOwnershipToken;
 *  3. subscribe to RegisterThing's (template hub-fleet-template) topics,
 *     publish the token with SerialNumber=@serial and UPC=@upc, read
 *     thingName; disconnect;
 *  4. connect with the new certificate and key, client id = thingName.
 * Returns the milliseconds from the call to step 4's CONNACK, or a negative
 * value after printing why on stderr.
 *
 * The thing must be registered first (hub_cloudsim_add_managed_thing(@sim,
 * @serial, @upc)), and every call needs a new serial: RegisterThing binds
 * the thing to the certificate. Blocking (no GLib main loop); each step gives
 * up after 10 s. One call at a time per cloudsim: its replies go to every
 * claim client. Nothing is written to disk, so the figure leaves out storing
 * the key and certificate. Any thread, but calls must not overlap. */
double bench_bare_provision_ms(HubCloudsim *sim, const char *serial, const char *upc);
