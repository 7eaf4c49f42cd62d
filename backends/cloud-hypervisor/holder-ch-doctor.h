/* SPDX-License-Identifier: MIT
 *
 * What `holderctl doctor` checks for the cloud-hypervisor backend
 * (holder-ch-doctor.c): KVM, CAP_NET_ADMIN, the binary and its version,
 * nested virtualisation.
 */
#pragma once

#include "holder-backend.h"

G_BEGIN_DECLS

/* The backend's check_host. */
gboolean holder_ch_check_host (const HolderBackendClass *klass,
                               const char               *storage_root,
                               GPtrArray                *checks);

/* The KVM check alone, on @device (normally /dev/kvm); for tests. */
gboolean holder_ch_check_kvm (const char *device,
                              GPtrArray  *checks);

G_END_DECLS
