/* SPDX-License-Identifier: MIT
 *
 * Address reservation in one IPv4 /24, shared by the Linux VM backends:
 * pure bookkeeping, no host state. The gateway is always .1; .0 and .255
 * are the network and broadcast addresses; members get .2 to .254.
 */
#pragma once

#include <gio/gio.h>

#include "holder-backend.h"

G_BEGIN_DECLS

typedef struct _HolderIpam HolderIpam;

/* @subnet_base is the /24's network address in host byte order
 * (0xC0A86400 for 192.168.100.0/24); its last byte is ignored. */
HolderIpam *holder_ipam_new (guint32 subnet_base);
void holder_ipam_free (HolderIpam *ipam);

/* Reserves an address for @name, or returns the one it already holds:
 * @ip_hint when it is inside the subnet, free, not the gateway, network or
 * broadcast address; else the lowest free one from .2. A full subnet fails
 * with HOLDER_ERROR_BACKEND "no free IP in subnet". Returns "A.B.C.D". */
char *holder_ipam_reserve (HolderIpam  *ipam,
                           const char  *name,
                           const char  *ip_hint,
                           GError     **error);

/* A member's reservation: the address as holder_ipam_reserve() gives it
 * and the MAC derived from @name (holder_mac_for_name()). @ipam NULL (no
 * network yet) fails with HOLDER_ERROR_NETWORK_NOT_CREATED. */
HolderReservation *holder_ipam_reserve_member (HolderIpam  *ipam,
                                               const char  *name,
                                               const char  *ip_hint,
                                               GError     **error);

/* Runs once a reservation is made, before it is returned: a backend's
 * chance to prepare the host for it (a neighbour entry). */
typedef void (*HolderIpamReservedFunc) (const char              *name,
                                        const HolderReservation *reservation,
                                        gpointer                 user_data);

/* A backend's reserve_async for a network whose addresses @ipam hands
 * out: holder_ipam_reserve_member(), @reserved (nullable) run with it
 * first. The result fits holder_backend_task_finish_reservation(). */
void holder_ipam_reserve_async (HolderIpam             *ipam,
                                const char             *name,
                                const char             *ip_hint,
                                HolderIpamReservedFunc  reserved,
                                gpointer                reserved_data,
                                GCancellable           *cancellable,
                                GAsyncReadyCallback     callback,
                                gpointer                user_data);

/* The address @name holds, or NULL. */
const char *holder_ipam_lookup (HolderIpam *ipam,
                                const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderIpam, holder_ipam_free)

G_END_DECLS
