/* SPDX-License-Identifier: MIT
 *
 * The serial log, written by the helper: the domain's console is streamed
 * from libvirt (virDomainOpenConsole, on the worker) and copied on the main
 * context into the log's descriptor, which was opened as the user the
 * helper works for (holder-vm-files.c): the spec's serial_log_path, or
 * serial.log in the member's folder. Unlike a <serial type='file'> written
 * by virtlogd (root:root 0600, on the hypervisor host, opened by root),
 * this log belongs to the helper's user and lives on the helper's machine,
 * local or remote URI alike.
 */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

typedef struct _HolderLibvirtConsole HolderLibvirtConsole;

typedef void (*HolderLibvirtConsoleEnded) (HolderLibvirtConsole *console,
                                           gpointer              user_data);

/* Takes @fd, the log open for writing (named @log_path in messages), and
 * truncates it when it is a regular file: each start begins a new log. */
HolderLibvirtConsole *holder_libvirt_console_new (int          fd,
                                                  const char  *log_path,
                                                  GError     **error);

/* Copies everything @stream (non-blocking, opened on the domain's console
 * on the worker) gives into the log, from the main context. Takes
 * @stream. */
void holder_libvirt_console_attach (HolderLibvirtConsole *console,
                                    virStreamPtr          stream);

/* Called once, on the main context, at the stream's end (the domain
 * stopped, or the connection went). */
void holder_libvirt_console_set_ended_handler (HolderLibvirtConsole      *console,
                                               HolderLibvirtConsoleEnded  handler,
                                               gpointer                   user_data);

gboolean holder_libvirt_console_has_ended (HolderLibvirtConsole *console);

/* Stops the copy (what is buffered is written first) and hands the stream
 * back, to be finished and freed on the worker (virStreamFinish or
 * virStreamAbort are RPCs). NULL when already taken. */
virStreamPtr holder_libvirt_console_steal_stream (HolderLibvirtConsole *console);

/* Frees the console; a stream still held is freed without an RPC (use
 * only once the connection is closed). */
void holder_libvirt_console_free (HolderLibvirtConsole *console);

G_END_DECLS
