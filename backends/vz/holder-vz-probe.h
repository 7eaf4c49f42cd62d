/* SPDX-License-Identifier: MIT
 *
 * One TCP connection attempt, bounded in time: "does the guest's sshd
 * answer yet". A GSocketClient connect whose timeout is a GLib timer that
 * cancels it, so the bound holds whatever the kernel does with the SYN.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Completes with TRUE once @ip:@port accepted a connection (closed again
 * at once), G_IO_ERROR_TIMED_OUT after @timeout_ms, G_IO_ERROR_CANCELLED
 * when @cancellable fires, or the connect's own error. */
void     holder_vz_tcp_probe_async  (const char          *ip,
                                     guint16              port,
                                     guint                timeout_ms,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
gboolean holder_vz_tcp_probe_finish (GAsyncResult        *result,
                                     GError             **error);

G_END_DECLS
