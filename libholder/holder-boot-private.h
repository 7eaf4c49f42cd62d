/* SPDX-License-Identifier: MIT
 *
 * A member's boot: create, start, wait for the IP (bounded by
 * FLEETBOX_IP_WAIT_TIMEOUT), each an asynchronous backend step. The boot
 * owns its VM until it succeeds; only then does the member adopt it. A
 * stop or a shutdown cancels member->boot_cancellable: the step in flight
 * ends, the boot stops the VM it made and replies
 * `member <n> was stopped during boot`.
 */
#pragma once

#include "holder-server-state-private.h"

G_BEGIN_DECLS

/* Boots @m, which is registered and has neither a VM nor a boot, and
 * replies on @conn once the member runs or the boot failed. The boot is in
 * server->boots until it ends; then the server is told. */
void holder_boot_start (HolderMember            *m,
                        HolderConn              *conn,
                        const HolderMemberSpec  *spec,
                        const HolderReservation *reservation);

G_END_DECLS
