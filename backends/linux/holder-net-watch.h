/* SPDX-License-Identifier: MIT
 *
 * What the host sees of a booting guest, as it happens: one rtnetlink
 * socket per process, subscribed to link and neighbour notifications
 * (RTNLGRP_LINK, RTNLGRP_NEIGH), read by a GSource on the main context.
 * A guest's readiness probe (holder-guest-wait.c) uses it to probe at
 * once when
 * - the VM's tap gains its carrier (the VMM attached to it),
 * - a bridge learns the guest's MAC (the guest sent its first frame), or
 * - the kernel confirms a neighbour entry for the guest's address (a
 *   network without a permanent entry: the guest answered ARP).
 * None of these says the guest's port is open; each says that probing now
 * is worth it. The socket exists only while some watch does, and needs
 * no privilege: it only listens.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _HolderNetWatch HolderNetWatch;

/**
 * HolderNetSign:
 * @HOLDER_NET_SIGN_CARRIER: the tap gained its carrier: the VMM attached
 *   to it (the guest itself may be seconds away)
 * @HOLDER_NET_SIGN_FRAME: a bridge learnt the guest's MAC: it sent its
 *   first frame (its link is up; its address, if not there yet, is near)
 * @HOLDER_NET_SIGN_NEIGHBOUR: the kernel confirmed the guest's address
 *   (it answered address resolution)
 * @HOLDER_NET_SIGN_LOST: notifications were lost; any may have been one
 */
typedef enum {
  HOLDER_NET_SIGN_CARRIER,
  HOLDER_NET_SIGN_FRAME,
  HOLDER_NET_SIGN_NEIGHBOUR,
  HOLDER_NET_SIGN_LOST,
} HolderNetSign;

typedef void (*HolderNetWatchFunc) (HolderNetSign sign,
                                    gpointer      user_data);

/* Calls @func (on the caller's thread-default main context) on each sign
 * of the guest named by @link (its tap), @mac ("52:54:00:12:34:56") and
 * @ip (dotted IPv4); each may be NULL, and a watch with none of them
 * never fires. Returns NULL when netlink cannot be watched here (logged
 * at debug level): the caller's own schedule still finds the guest.
 * Every watch lives on one main context: a watch asked for from another
 * one while the first still has watches gets NULL too. */
HolderNetWatch *holder_net_watch_new (const char         *link,
                                      const char         *mac,
                                      const char         *ip,
                                      HolderNetWatchFunc  func,
                                      gpointer            user_data);

/* Stops the watch; the last one closes the socket. Safe from @func. */
void holder_net_watch_free (HolderNetWatch *watch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderNetWatch, holder_net_watch_free)

G_END_DECLS
