/* SPDX-License-Identifier: MIT */
#pragma once

#if !defined(__HOLDER_H_INSIDE__) && !defined(HOLDER_COMPILATION)
#error "Only <holder.h> can be included directly."
#endif

#include <gio/gio.h>
#include "holder-export.h"
#include "holder-types.h"

G_BEGIN_DECLS

/**
 * SECTION:holder-client
 *
 * The client half: start a helper, bind to it, send it commands and wait for
 * its members. Every function that takes a @root accepts NULL for "resolve
 * the storage root as the helper does" (holder_store_resolve_root()).
 *
 * The synchronous calls block the calling thread (they iterate a private
 * main context), never the thread-default one: use them from tests and
 * command-line tools. holder_client_send_async() is the non-blocking form.
 */

/* How long a command waits for its reply unless told otherwise. Boot-member
 * replies only once the guest is up: give it the boot's own bound. */
#define HOLDER_CLIENT_DEFAULT_TIMEOUT_MS   (30 * 1000)
/* How long a command retries dialling a socket that is not there yet (a
 * detached helper that is still starting). */
#define HOLDER_CLIENT_DIAL_WINDOW_MS       (10 * 1000)
/* How long holder_helper_spawn() retries the bind handshake; the
 * FLEETBOX_BIND_TIMEOUT variable (a Go duration such as "60s") overrides it
 * for helpers that start slowly, under valgrind for instance. */
#define HOLDER_CLIENT_BIND_WINDOW_MS       (5 * 1000)

typedef enum {
  HOLDER_SPAWN_FLAGS_NONE     = 0,
  /* A new session that outlives the caller; no control connection. */
  HOLDER_SPAWN_FLAGS_DETACHED = 1 << 0,
} HolderSpawnFlags;

typedef struct _HolderHelper HolderHelper;

/**
 * holder_helper_spawn:
 * @helper_path: (nullable): the helper binary; NULL re-executes the calling
 *   program (which must call holder_main_hook() first in main())
 * @names: the members, primary first
 * @envp: (nullable): the helper's environment; NULL inherits the caller's
 * @flags: bound (the default) or detached
 *
 * Bound: sets FLEETBOX_PARENT_PID, then performs the bind handshake on the
 * control socket (retrying for HOLDER_CLIENT_BIND_WINDOW_MS) and checks the
 * protocol version. The helper lives as long as the returned handle's
 * control connection (or this process). Detached: starts the helper in a new
 * session and returns once its primary's socket accepts connections.
 * Fails with HOLDER_ERROR_HELPER_EXITED (with the helper's exit status) if
 * the helper dies first, HOLDER_ERROR_VERSION_MISMATCH on another protocol.
 */
HOLDER_EXPORT
HolderHelper *holder_helper_spawn (const char         *helper_path,
                                   const char *const  *names,
                                   const char *const  *envp,
                                   HolderSpawnFlags    flags,
                                   GError            **error);

/* The helper's pid. */
HOLDER_EXPORT
GPid holder_helper_get_pid (HolderHelper *helper);

/* The storage root the helper was started with. */
HOLDER_EXPORT
const char *holder_helper_get_root (HolderHelper *helper);

/* The primary member's name (where holder-wide commands go). */
HOLDER_EXPORT
const char *holder_helper_get_primary (HolderHelper *helper);

/* Closes the control connection of a bound helper, which makes it tear
 * down, and waits up to @timeout_ms for it to exit. Detached helpers are
 * not touched. Sets @out_exit_status to the helper's exit status (as
 * waitpid() reports it) when it exited. */
HOLDER_EXPORT
gboolean holder_helper_close (HolderHelper  *helper,
                              guint          timeout_ms,
                              int           *out_exit_status,
                              GError       **error);

/* Frees the handle. A bound helper whose connection is still open tears
 * down as the connection closes; nothing waits for it. */
HOLDER_EXPORT
void holder_helper_free (HolderHelper *helper);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderHelper, holder_helper_free)

/**
 * holder_client_send:
 * @root: (nullable): the storage root
 * @name: the member whose socket to dial
 * @request: the request
 * @timeout_ms: bound on the wait for the reply (0 for the default)
 * @error: return location
 *
 * Sends one request and returns the reply. An error reply becomes a FALSE
 * return: the message is the helper's text, the code is derived from it
 * (for example HOLDER_ERROR_NETWORK_NOT_CREATED for "network not created").
 * The dial is retried for HOLDER_CLIENT_DIAL_WINDOW_MS.
 */
HOLDER_EXPORT
HolderReply *holder_client_send (const char           *root,
                                 const char           *name,
                                 const HolderRequest  *request,
                                 guint                 timeout_ms,
                                 GError              **error);

HOLDER_EXPORT
void holder_client_send_async (const char           *root,
                               const char           *name,
                               const HolderRequest  *request,
                               guint                 timeout_ms,
                               GCancellable         *cancellable,
                               GAsyncReadyCallback   callback,
                               gpointer              user_data);
HOLDER_EXPORT
HolderReply *holder_client_send_finish (GAsyncResult  *result,
                                        GError       **error);

/* createnetwork on @primary's socket; @out_subnet gets "" on a DHCP-style
 * backend. */
HOLDER_EXPORT
gboolean holder_client_create_network (const char  *root,
                                       const char  *primary,
                                       char       **out_subnet,
                                       GError     **error);

/* reserve @name (with an optional @ip_hint) on @primary's socket. */
HOLDER_EXPORT
HolderReservation *holder_client_reserve (const char  *root,
                                          const char  *primary,
                                          const char  *name,
                                          const char  *ip_hint,
                                          GError     **error);

/* boot-member on @primary's socket; returns once the member is running. */
HOLDER_EXPORT
gboolean holder_client_boot_member (const char              *root,
                                    const char              *primary,
                                    const HolderMemberSpec  *spec,
                                    guint                    timeout_ms,
                                    GError                 **error);

/* The member's status: from its live helper if one serves it
 * (holder_store_member_is_served()), else from the store (state "stopped"
 * if its folder exists; HOLDER_ERROR_NOT_FOUND if not). */
HOLDER_EXPORT
HolderStatus *holder_client_status (const char  *root,
                                    const char  *name,
                                    GError     **error);

/* Sends stop, then waits up to @timeout_ms (0: 30 s) for the member to be
 * served no more (holder_store_member_is_served(): its helper has removed
 * its socket and pidfile and let go of its lock). A member no helper
 * serves is already stopped: TRUE. */
HOLDER_EXPORT
gboolean holder_client_stop (const char  *root,
                             const char  *name,
                             guint        timeout_ms,
                             GError     **error);

/* TRUE if a live helper serves @name (holder_store_member_is_served(): it
 * holds the member's lock; a zombie or a reused pid does not). */
HOLDER_EXPORT
gboolean holder_client_is_running (const char *root,
                                   const char *name);

/* Polls until every member in @names is running with an IP; fails at once
 * with the member's error if one goes to `error`, or HOLDER_ERROR_TIMED_OUT.
 * @out_statuses (nullable) gets name -> HolderStatus*. */
HOLDER_EXPORT
gboolean holder_client_wait_running (const char          *root,
                                     const char *const   *names,
                                     guint                timeout_ms,
                                     GHashTable         **out_statuses,
                                     GError             **error);

G_END_DECLS
