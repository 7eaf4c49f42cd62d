/* SPDX-License-Identifier: MIT
 *
 * What the Mac's macOS version decides: clustering and the network mode.
 * ADR-0012 of fleetbox: vmnet logical networks (and with them guests that
 * reach each other) arrive with macOS 26; below it each VM sits alone
 * behind its own NAT attachment.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The first macOS with vmnet shared-mode networks for VZ guests. */
#define HOLDER_VZ_MACOS_CLUSTERING 26
/* The floor: the EFI boot loader and variable store. */
#define HOLDER_VZ_MACOS_MINIMUM    13

typedef enum {
  HOLDER_VZ_NET_NAT,    /* VZNATNetworkDeviceAttachment, one VM alone */
  HOLDER_VZ_NET_SHARED, /* one vmnet shared-mode network per cluster */
} HolderVzNetMode;

/* The integer before the first '.' of "kern.osproductversion"
 * ("26.4.1" -> 26, "15.5" -> 15, "26" -> 26); 0 when there is none
 * ("", ".4", "notaversion"), which selects the conservative NAT path. */
guint           holder_vz_parse_macos_major   (const char *version);

gboolean        holder_vz_supports_clustering (guint major);
HolderVzNetMode holder_vz_net_mode            (guint major);
const char     *holder_vz_net_mode_to_string  (HolderVzNetMode mode);

/* May a VM be made while @other_members other members hold one? Always on
 * 26+; below, only the first. The error says why and what to do. */
gboolean        holder_vz_cluster_allows      (guint      major,
                                               guint      other_members,
                                               GError   **error);

G_END_DECLS
