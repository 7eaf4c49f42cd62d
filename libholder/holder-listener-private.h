/* SPDX-License-Identifier: MIT
 *
 * A listening Unix socket on the main context: the member and control
 * sockets. Written for this server instead of GSocketService so that
 * running out of file descriptors backs off instead of spinning on a
 * failing accept(), and closing a listener is immediate and silent.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _HolderListener HolderListener;

/* @fd is a connected, non-blocking, close-on-exec socket: the callee owns it. */
typedef void (*HolderListenerFunc) (int      fd,
                                    gpointer user_data);

/* Replaces a stale file at @path, binds and listens, makes the socket
 * connectable by anyone when running as root (the protocol wants the
 * invoking user to reach it), and calls @func for every connection. */
HolderListener *holder_listener_new (const char          *path,
                                     HolderListenerFunc   func,
                                     gpointer             user_data,
                                     GError             **error);

/* Stops accepting, closes the socket and removes @path. */
void holder_listener_free (HolderListener *listener);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderListener, holder_listener_free)

G_END_DECLS
