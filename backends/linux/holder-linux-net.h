/* SPDX-License-Identifier: MIT
 *
 * The cluster network of the Linux VM backends: one bridge per helper, one
 * tap per VM, one nftables table for egress NAT and ingress filtering,
 * per-interface forwarding, and write-ahead records in a root-owned runtime
 * folder (holder-linux-net-dir.h) that let reconcile undo whatever a dead
 * helper left behind.
 *
 * Netlink goes through libnl-route-3 and nf_tables through libnftables: no
 * `ip`, `nft`, `iptables` or `sysctl` processes. The calls below block
 * (the host-wide lock, kernel round trips, waiting for killed processes):
 * call them on a worker thread, one at a time per network, never on the
 * main loop. Each call opens the handles it needs.
 *
 * Invariant of the records: a record always lists at least what exists on
 * the host. It is written before the bridge is created, before each tap is
 * created and before a forwarding value changes; a tap leaves it only once
 * confirmed gone; it is deleted only once the bridge and its table are
 * confirmed gone.
 */
#pragma once

#include <gio/gio.h>

#include "holder-ipam.h"

G_BEGIN_DECLS

typedef struct _HolderLinuxNet HolderLinuxNet;

/* Creates the network. Under the host-wide lock of the runtime folder:
 * picks the first 192.168.X.0/24 that overlaps no host address or route,
 * no live record and nothing this process handed out; writes the record;
 * creates the bridge (fbx-<8 hex>) with .1/24 and brings it up; checks the
 * choice again against the host's addresses and routes (another /24 that
 * appeared meanwhile: the address is taken back and another chosen);
 * installs the nft table; enables forwarding on the bridge and the uplink
 * (remembering the uplink's value). Waits for the lock until @cancellable
 * fires. Fails with a message that says what to do: "needs root
 * (CAP_NET_ADMIN) to create bridges", a refused runtime folder, "the
 * kernel has no nf_tables support", "no free 192.168.X.0/24 subnet".
 * Undoes what it did on failure. */
HolderLinuxNet *holder_linux_net_create (GCancellable  *cancellable,
                                         GError       **error);

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

/* The two halves of holder_linux_net_remove_tap(), for a caller that must
 * not hold its other network work back while the kernel deletes a link
 * (a deletion waits for an RCU grace period, 10 to 20 ms):
 * delete_tap_link only deletes the link (any thread, a socket of its own,
 * a missing link counts as deleted) and touches no record; forget_tap
 * then drops the tap from the record (where the network's other calls
 * run). The record lists the tap until the link is confirmed gone. */
gboolean holder_linux_net_delete_tap_link (const char  *tap,
                                           GError     **error);
gboolean holder_linux_net_forget_tap (HolderLinuxNet *net,
                                      const char     *tap,
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
                                 GCancellable   *cancellable,
                                 GError        **error);

/* Frees the handle; does not touch the host (close first). */
void holder_linux_net_free (HolderLinuxNet *net);

/* What reconcile did (or, in a dry run, would do). */
typedef struct {
  GPtrArray *kinds;    /* of char *: "link", "table", "record", "marker",
                        * "forwarding", "process", "file" */
  GPtrArray *whats;    /* of char *, one per kind: what it names */
  GPtrArray *warnings; /* of char *: what was skipped, and why */
  guint      networks; /* records of dead owners reclaimed */
} HolderNetReport;

HolderNetReport *holder_net_report_new (void);
void holder_net_report_free (HolderNetReport *report);
void holder_net_report_reclaimed (HolderNetReport *report,
                                  const char      *kind,
                                  const char      *format,
                                  ...) G_GNUC_PRINTF (3, 4);
void holder_net_report_warn (HolderNetReport *report,
                             const char      *format,
                             ...) G_GNUC_PRINTF (2, 3);

/* Under the host-wide lock, for every record in this network namespace's
 * folder whose owner is dead: kill the VMM processes attached to its taps,
 * delete taps, table and bridge, and delete the record once nothing of it
 * survives; then give back every uplink that no live network uses, and
 * remove the temporary files of dead writers. Only files the helper's euid
 * wrote are believed: anything else is skipped with a warning. Records of
 * live owners are never touched.
 *
 * With @dry_run, nothing changes: @report lists what would go. Records
 * that a helper of an older version left in @storage_root/networks/
 * (nullable) are never read or acted on, only reported as a warning.
 * Returns FALSE only when reconcile could not run at all (a refused
 * runtime folder, no lock). */
gboolean holder_linux_net_reconcile (const char      *storage_root,
                                     gboolean         dry_run,
                                     GCancellable    *cancellable,
                                     HolderNetReport *report,
                                     GError         **error);

/* The taps named in records of live owners in this namespace's folder
 * (read without the lock: records are replaced atomically). */
GHashTable *holder_linux_net_live_taps (GError **error);

/* Tests only: called after the bridge got its address and before the
 * choice is checked again, to make a conflicting /24 appear there. */
typedef void (*HolderLinuxNetHook) (const char *bridge,
                                    const char *subnet,
                                    gpointer    user_data);
void holder_linux_net_set_address_hook (HolderLinuxNetHook hook,
                                        gpointer           user_data);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderLinuxNet, holder_linux_net_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderNetReport, holder_net_report_free)

G_END_DECLS
