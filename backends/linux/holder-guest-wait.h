/* SPDX-License-Identifier: MIT
 *
 * Waiting for a guest to be up, for every Linux VM backend: its address is
 * known from the reservation, so "up" means TCP port 22 accepting at that
 * address. The wait ends with the address, with the error its VM's backend
 * gives it (holder_guest_wait_abort(): the VMM exited), or cancelled.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _HolderGuestWait HolderGuestWait;

/* Starts probing @ip:@port; @callback runs once, on the caller's
 * thread-default context, with a GTask of no source object whose result
 * is the address (holder_backend_task_finish_string() fits a backend's
 * wait_ip_finish). The returned handle (owned by the caller) can abort the
 * wait and stays valid after it ended. Unbounded: the caller cancels
 * @cancellable. */
HolderGuestWait *holder_guest_wait_start (const char          *ip,
                                          guint16              port,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);

/* The address, once the guest answered. */
char *holder_guest_wait_finish (GAsyncResult  *result,
                                GError       **error);

/* Ends the wait now with @error (taken), unless it already ended. */
void holder_guest_wait_abort (HolderGuestWait *wait,
                              GError          *error);

/* TRUE until the wait has ended. */
gboolean holder_guest_wait_is_pending (HolderGuestWait *wait);

/* TRUE once the guest answered (the wait ended with its address). */
gboolean holder_guest_wait_reached (HolderGuestWait *wait);

void holder_guest_wait_unref (HolderGuestWait *wait);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderGuestWait, holder_guest_wait_unref)

G_END_DECLS
