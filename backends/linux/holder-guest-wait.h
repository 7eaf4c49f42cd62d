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

/* What a backend knows of the guest besides its address, to notice it
 * sooner (holder-net-watch.h) and to name it in logs; every field may be
 * NULL. */
typedef struct {
  const char *name;  /* the member: debug logs and the boot trace */
  const char *link;  /* its tap on the host: probe once it has carrier */
  const char *mac;   /* its MAC: probe once a bridge learns it */
} HolderGuestWaitHints;

/* Starts probing @ip:@port (holder-tcp-probe.h: every 5 ms at first); @callback runs once, on the caller's
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

/* The same, probing also at once whenever the host sees a sign of the
 * guest named by @hints (nullable): the tap's carrier, the guest's first
 * frame on the bridge, or a neighbour confirmation of @ip. When
 * hints->name is set, the moment the guest answers is a boot trace step
 * ("port22", see holder_boot_trace()). */
HolderGuestWait *holder_guest_wait_start_full (const char                 *ip,
                                               guint16                     port,
                                               const HolderGuestWaitHints *hints,
                                               GCancellable               *cancellable,
                                               GAsyncReadyCallback         callback,
                                               gpointer                    user_data);

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
