/* SPDX-License-Identifier: MIT
 *
 * A member of the helper: a name with its folder, socket, pidfile and
 * state (see holder-server-state-private.h for the struct).
 */
#pragma once

#include "holder-server-state-private.h"

G_BEGIN_DECLS

HolderMember *holder_member_ref (HolderMember *m);
void holder_member_unref (HolderMember *m);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderMember, holder_member_unref)

/* Makes @name addressable: takes its lock (failing, and touching nothing,
 * when a live helper serves it), then its folder, its socket, its pidfile,
 * in that order, then `starting`; the registry keeps a reference. Undoes
 * what it did on failure. The socket's connections go to
 * server->accept_member. */
HolderMember *holder_member_register (HolderServer  *server,
                                      const char    *name,
                                      GError       **error);

void holder_member_set_state (HolderMember      *m,
                              HolderMemberState  state);

HolderStatus *holder_member_status (HolderMember *m);

/* Closes the listener, removes the socket and the pidfile (only the ones
 * it made) and releases the lock; the member leaves the registry (a later boot-member registers it anew). Idempotent. */
void holder_member_retire (HolderMember *m);

/* Stops the adopted VM; when it is down the member is retired (outside a
 * shutdown) and the server told. */
void holder_member_stop_vm (HolderMember *m);

/* The stop command's teardown: the VM is stopped, or the boot in flight
 * cancelled, and the member retired. */
void holder_member_stop (HolderMember *m);

/* The number of active members (the helper lives while there is one). */
guint holder_member_count_active (HolderServer *server);

G_END_DECLS
