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

/* Many clients connect at once (a test suite's workers): let them queue
 * instead of being refused. The kernel caps it at somaxconn. */
#define HOLDER_LISTENER_BACKLOG 1024

/* Calls @func for every connection on the listening socket @fd (which it
 * takes; bound by holder_store_claim_listen()). @path is for logs. */
HolderListener *holder_listener_new (int                 fd,
                                     const char         *path,
                                     HolderListenerFunc  func,
                                     gpointer            user_data);

/* Stops accepting and closes the socket. Removing its file is the store's
 * business (holder_store_claim_release()). */
void holder_listener_free (HolderListener *listener);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderListener, holder_listener_free)

G_END_DECLS
