/* SPDX-License-Identifier: MIT
 *
 * "Is the guest up": connect to @ip:@port until a connection is accepted.
 * The same probe as the cloud-hypervisor backend's (holder-ch-vm.c: every
 * 250 ms, each attempt bounded to 2 s), as a standalone asynchronous call
 * so that another backend can take it as is.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Unbounded: completes when a connection is accepted, or with
 * G_IO_ERROR_CANCELLED once @cancellable is cancelled (within one
 * interval). The callback runs on the caller's thread-default context. */
void     holder_tcp_probe_async  (const char          *ip,
                                  guint16              port,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
gboolean holder_tcp_probe_finish (GAsyncResult  *result,
                                  GError       **error);

G_END_DECLS
