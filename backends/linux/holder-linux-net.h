/* SPDX-License-Identifier: MIT
 *
 * The cluster network of the Linux VM backends: one bridge per helper, one
 * tap per VM, one nftables table for egress NAT and ingress filtering,
 * per-interface forwarding, and write-ahead records under <root>/networks/
 * that let reconcile undo whatever a dead helper left behind.
 *
 * Netlink goes through libnl-route-3 and nf_tables through libnftables: no
 * `ip`, `nft`, `iptables` or `sysctl` processes. Every call is a short
 * kernel round trip, made on the main loop.
 *
 * Invariant of the records: a record always lists at least what exists on
 * the host. It is written before the bridge is created, before each tap is
 * created and before a forwarding value changes; a tap leaves it only once
 * confirmed gone; it is deleted only once the bridge and its table are
 * confirmed gone.
 */
#pragma once

#include <glib.h>

#include "holder-ipam.h"

G_BEGIN_DECLS

typedef struct _HolderLinuxNet HolderLinuxNet;

/* Creates the network: picks the first 192.168.X.0/24 that overlaps no
 * host address or route and that this process has not handed out, writes
 * the record, creates the bridge (fbx-<8 hex>) with .1/24 and brings it up,
 * installs the nft table, enables forwarding on the bridge and the uplink
 * (remembering the uplink's value). Fails with a message that says what to
 * do: "needs root (CAP_NET_ADMIN) to create bridges", "the kernel has no
 * nf_tables support", "no free 192.168.X.0/24 subnet". Undoes what it did
 * on failure. */
HolderLinuxNet *holder_linux_net_create (const char *root,
                                         GError    **error);

/* "192.168.X.0/24" */
const char *holder_linux_net_get_subnet (HolderLinuxNet *net);
/* "fbx-1a2b3c4d" */
const char *holder_linux_net_get_bridge (HolderLinuxNet *net);
/* "192.168.X.1" */
const char *holder_linux_net_get_gateway (HolderLinuxNet *net);

/* The addresses of the subnet (holder-ipam.h): .1 is the gateway. */
HolderIpam *holder_linux_net_get_ipam (HolderLinuxNet *net);

/* Creates a persistent tap (fbt-<8 hex>) on the bridge, up, recorded first.
 * Returns its name. */
char *holder_linux_net_add_tap (HolderLinuxNet *net,
                                GError        **error);

/* Deletes the tap (a missing one counts as deleted), then drops it from the
 * record. */
gboolean holder_linux_net_remove_tap (HolderLinuxNet *net,
                                      const char     *tap,
                                      GError        **error);

/* Installs the permanent neighbour entry @ip -> @mac on the bridge (one
 * RTM_NEWNEIGH, replacing any entry of @ip): the kernel then sends to the
 * guest at once, where it would otherwise resolve the address first and,
 * while the guest is not up, retry that only once a second. No record:
 * the entry lives on the bridge, which is recorded, and goes with it
 * (close, reconcile). The bridge has a fixed address of its own, which
 * is what keeps the entries when taps come and go. */
gboolean holder_linux_net_add_neighbour (HolderLinuxNet *net,
                                         const char     *ip,
                                         const char     *mac,
                                         GError        **error);

/* Deletes the neighbour entry of @ip from the bridge; a missing one counts
 * as deleted, and so does any on a closed network. */
gboolean holder_linux_net_remove_neighbour (HolderLinuxNet *net,
                                            const char     *ip,
                                            GError        **error);

/* Removes every tap, the table and the bridge, restores the uplink's
 * forwarding value when no other live cluster needs it, then deletes the
 * record. Idempotent. */
gboolean holder_linux_net_close (HolderLinuxNet *net,
                                 GError        **error);

/* Frees the handle; does not touch the host (close first). */
void holder_linux_net_free (HolderLinuxNet *net);

/* For every record under <root>/networks/ whose owner is dead: kill the
 * VMM processes attached to its taps, delete taps, table and bridge,
 * restore forwarding, and delete the record once nothing of it survives.
 * Records of live owners are never touched. Corrupt records are skipped
 * and reported through @out_warnings (NULL-terminated, may be NULL), never
 * fatal. Returns FALSE only when reconcile could not run at all. */
gboolean holder_linux_net_reconcile (const char   *root,
                                     guint        *out_reclaimed,
                                     char       ***out_warnings,
                                     GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderLinuxNet, holder_linux_net_free)

G_END_DECLS
