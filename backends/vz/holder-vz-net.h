/* SPDX-License-Identifier: MIT
 *
 * The cluster network's address plan on macOS 26+: which 192.168.X.0/24
 * to ask vmnet for, what to pass it, and what its status codes mean.
 *
 * Why a random start and a process-wide set (ADR-0031 of fleetbox): a
 * vmnet reservation leaked by a killed helper cannot be listed or
 * reclaimed until sleep/wake or a reboot, and a scan from X=0 would pick
 * that /24 again and fail forever. The set covers the gap between asking
 * vmnet for a subnet and its bridge appearing on the host (only when the
 * first VM boots), during which getifaddrs() cannot see it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An IPv4 prefix, host byte order. */
typedef struct {
  guint32 network;
  guint8  length;
} HolderVzIpv4Prefix;

/* The third octets handed out already: a 256-bit set. */
typedef struct {
  guint32 bits[256 / 32];
} HolderVzSubnetSet;

gboolean holder_vz_subnet_set_contains (const HolderVzSubnetSet *set,
                                        guint8                   octet);
void     holder_vz_subnet_set_add      (HolderVzSubnetSet       *set,
                                        guint8                   octet);

/* The IPv4 prefixes of the host's interfaces (getifaddrs), address and
 * mask combined: an array of HolderVzIpv4Prefix. */
GArray  *holder_vz_host_ipv4_prefixes  (GError                 **error);

/* Scans 192.168.X.0/24 from X = @start_octet upwards, wrapping, and
 * takes the first X that is not in @handed_out and does not overlap any of
 * @occupied that lies inside 192.168.0.0/16; adds it to @handed_out.
 * Fails with "no free /24 subnet available in 192.168.0.0/16". */
gboolean holder_vz_pick_subnet         (const HolderVzIpv4Prefix *occupied,
                                        gsize                     n_occupied,
                                        HolderVzSubnetSet        *handed_out,
                                        guint8                    start_octet,
                                        guint8                   *out_octet,
                                        GError                  **error);

/* The same over the process-wide set (locked), the host's interfaces and
 * a random start: what the backend uses. */
gboolean holder_vz_pick_subnet_for_process (guint8  *out_octet,
                                            GError **error);

/* What vmnet_network_configuration_set_ipv4_subnet wants for X: the first
 * host address X.1 (X.0 fails later with "Internal Network Error") and
 * 255.255.255.0, both in network byte order (struct in_addr.s_addr). */
void     holder_vz_vmnet_subnet_args   (guint8   octet,
                                        guint32 *out_addr_be,
                                        guint32 *out_mask_be);
/* "192.168.X.0/24" */
char    *holder_vz_subnet_to_string    (guint8   octet);

/* What a vmnet_return_t (1000..1010) means; "unknown vmnet status" else. */
const char *holder_vz_vmnet_status_text (int status);

G_END_DECLS
