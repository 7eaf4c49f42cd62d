/* SPDX-License-Identifier: MIT
 *
 * The checks boot-member makes on a spec before the backend sees it
 * (holder-spec-check.c). Each failure says which field, which file and
 * what to do; the boot adds "create <name>: " in front.
 */
#pragma once

#include <gio/gio.h>

#include "holder-types.h"

G_BEGIN_DECLS

/* Guests below this get no usable Linux. */
#define HOLDER_SPEC_MIN_MEMORY_BYTES (G_GUINT64_CONSTANT (64) * 1024 * 1024)

/* cpus >= 1; memory_bytes at least HOLDER_SPEC_MIN_MEMORY_BYTES and at most
 * the host's RAM (@host_memory_bytes, 0 for this host's). No I/O. */
gboolean holder_spec_check_sizing (const HolderMemberSpec  *spec,
                                   guint64                  host_memory_bytes,
                                   GError                 **error);

/* Every file the spec names (kernel, initramfs, disk, seed, fixtures, EFI
 * store) exists, is a regular file and opens for reading. Blocks on the
 * file system: holder_spec_check_async() runs it on a worker thread. */
gboolean holder_spec_check_files (const HolderMemberSpec  *spec,
                                  GError                 **error);

/* Both checks, the files on a worker thread; completes on the caller's
 * thread-default context. */
void     holder_spec_check_async  (const HolderMemberSpec  *spec,
                                   GCancellable            *cancellable,
                                   GAsyncReadyCallback      callback,
                                   gpointer                 user_data);
gboolean holder_spec_check_finish (GAsyncResult            *result,
                                   GError                 **error);

G_END_DECLS
