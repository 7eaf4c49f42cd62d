/* SPDX-License-Identifier: MIT
 *
 * The server half: one HolderServer per helper process. It owns the
 * members, their sockets and pidfiles, the reservations, the backend
 * instance and the lifetime watches, all on the thread-default main context.
 */
#pragma once

#include <gio/gio.h>
#include "holder-backend.h"

G_BEGIN_DECLS

/* How long a command connection may take to deliver its request line before
 * it is dropped, so half-open clients cannot pin file descriptors. */
#define HOLDER_SERVER_REQUEST_TIMEOUT_SECONDS 10
/* The whole shutdown (every VM stopped, network closed) fits in this. */
#define HOLDER_SERVER_SHUTDOWN_BUDGET_SECONDS 30

typedef struct _HolderServer HolderServer;

typedef struct {
  /* Storage root; holder_server_new() opens it (making what is missing)
   * and checks it (holder-store-fs-private.h). */
  const char               *root;
  const HolderBackendClass *backend_class;
  /* The runner names, primary first; validated by holder_server_new(). */
  const char *const        *names;
  /* Bound mode: listen on the control socket for the bind handshake. */
  gboolean                  bound;
  /* Bound mode: the parent to watch; 0 disables the parent watch. */
  GPid                      parent_pid;
  /* Bound on the wait for a request line; 0 means
   * HOLDER_SERVER_REQUEST_TIMEOUT_SECONDS. Tests shorten it. */
  guint                     request_timeout_ms;
} HolderServerOptions;

HolderServer *holder_server_new (const HolderServerOptions *options,
                                 GError                   **error);

/* Prunes the store's leftovers of dead helpers and reconciles (iterating
 * the thread-default context until the backend is done), registers every
 * runner name (folder, socket, pidfile, `starting`),
 * then opens the control socket and arms the parent watch in bound mode. */
gboolean holder_server_start (HolderServer *server,
                              GError      **error);

/* Begins the teardown (idempotent): every VM stopped, every member retired,
 * the control socket removed, the network closed once. @reason is logged. */
void holder_server_shutdown (HolderServer *server,
                             const char   *reason);

/* TRUE once the teardown has completed (or, before it started, never). */
gboolean holder_server_is_finished (HolderServer *server);

/* Iterates the thread-default main context until the server has finished. */
void holder_server_run_until_finished (HolderServer *server);

void holder_server_free (HolderServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderServer, holder_server_free)

G_END_DECLS
