/* SPDX-License-Identifier: MIT
 *
 * What `holderctl doctor` checks for the libvirt backend
 * (holder-libvirt-doctor.c): the URI answers, its versions, and the
 * virtualisation type it offers.
 */
#pragma once

#include "holder-backend.h"

G_BEGIN_DECLS

/* The URI used when FLEETBOX_LIBVIRT_URI is unset. */
#define HOLDER_LIBVIRT_DEFAULT_URI "qemu:///system"

/* How long the check waits for the URI to answer. */
#define HOLDER_LIBVIRT_DOCTOR_TIMEOUT_MS 5000

/* The backend's check_host. */
gboolean holder_libvirt_check_host (const HolderBackendClass *klass,
                                    const char               *storage_root,
                                    GPtrArray                *checks);

G_END_DECLS
