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
 * @title: The client half
 * @short_description: spawn a helper, bind to it, send it commands, wait for its members
 * @include: holder.h
 *
 * The client half: start a helper, bind to it, send it commands and wait for
 * its members. Every function that takes a @root accepts NULL for "resolve
 * the storage root as the helper does" (holder_store_resolve_root()).
 *
 * The synchronous calls block the calling thread (they iterate a private
 * main context), never the thread-default one: use them from tests and
 * command-line tools. holder_client_send_async() is the non-blocking form.
 */

/**
 * HOLDER_CLIENT_DEFAULT_TIMEOUT_MS:
 *
 * How long a command waits for its reply unless told otherwise, in
 * milliseconds. Boot-member replies only once the guest is up: give it the
 * boot's own bound.
 */
#define HOLDER_CLIENT_DEFAULT_TIMEOUT_MS   (30 * 1000)

/**
 * HOLDER_CLIENT_DIAL_WINDOW_MS:
 *
 * How long a command retries dialling a socket that is not there yet (a
 * detached helper that is still starting), in milliseconds.
 */
#define HOLDER_CLIENT_DIAL_WINDOW_MS       (10 * 1000)

/**
 * HOLDER_CLIENT_BIND_WINDOW_MS:
 *
 * How long holder_helper_spawn() retries the bind handshake, in
 * milliseconds; the FLEETBOX_BIND_TIMEOUT variable (a Go duration such as
 * "60s") overrides it for helpers that start slowly, under valgrind for
 * instance.
 */
#define HOLDER_CLIENT_BIND_WINDOW_MS       (5 * 1000)

/**
 * HolderSpawnFlags:
 * @HOLDER_SPAWN_FLAGS_NONE: bound: the helper lives as long as the handle's
 *   control connection, or this process
 * @HOLDER_SPAWN_FLAGS_DETACHED: a new session that outlives the caller; no
 *   control connection
 *
 * How holder_helper_spawn() starts a helper.
 */
typedef enum {
  HOLDER_SPAWN_FLAGS_NONE     = 0,
  HOLDER_SPAWN_FLAGS_DETACHED = 1 << 0,
} HolderSpawnFlags;

/**
 * HolderHelper:
 *
 * A helper this process started (holder_helper_spawn()). Opaque.
 */
typedef struct _HolderHelper HolderHelper;

/**
 * holder_helper_spawn:
 * @helper_path: (nullable): the helper binary; NULL re-executes the calling
 *   program (which must call holder_main_hook() first in main())
 * @names: the members, primary first
 * @envp: (nullable): the helper's environment; NULL inherits the caller's
 * @flags: bound (the default) or detached
 * @error: return location for a #GError
 *
 * Bound: sets FLEETBOX_PARENT_PID, then performs the bind handshake on the
 * control socket (retrying for HOLDER_CLIENT_BIND_WINDOW_MS) and checks the
 * protocol version. The helper lives as long as the returned handle's
 * control connection (or this process). Detached: starts the helper in a new
 * session and returns once its primary's socket accepts connections.
 * Fails with HOLDER_ERROR_HELPER_EXITED (with the helper's exit status) if
 * the helper dies first, HOLDER_ERROR_VERSION_MISMATCH on another protocol.
 *
 * Returns: (transfer full) (nullable): the helper's handle
 */
HOLDER_EXPORT
HolderHelper *holder_helper_spawn (const char         *helper_path,
                                   const char *const  *names,
                                   const char *const  *envp,
                                   HolderSpawnFlags    flags,
                                   GError            **error);

/**
 * holder_helper_get_pid:
 * @helper: a helper
 *
 * The helper's process id.
 *
 * Returns: the helper's pid
 */
HOLDER_EXPORT
GPid holder_helper_get_pid (HolderHelper *helper);

/**
 * holder_helper_get_root:
 * @helper: a helper
 *
 * The storage root of the helper.
 *
 * Returns: the storage root the helper was started with
 */
HOLDER_EXPORT
const char *holder_helper_get_root (HolderHelper *helper);

/**
 * holder_helper_get_primary:
 * @helper: a helper
 *
 * The helper's primary member.
 *
 * Returns: the primary member's name (where helper-wide commands go)
 */
HOLDER_EXPORT
const char *holder_helper_get_primary (HolderHelper *helper);

/**
 * holder_helper_close:
 * @helper: a helper
 * @timeout_ms: how long to wait for it to exit (0: 30 s)
 * @out_exit_status: (out) (optional): its wait status, as waitpid()
 *   reports it, when it exited
 * @error: return location for a #GError
 *
 * Closes the control connection of a bound helper, which makes it tear
 * down, and waits up to @timeout_ms for it to exit. Detached helpers are
 * not touched.
 *
 * Returns: whether the helper exited in time (always %TRUE when detached)
 */
HOLDER_EXPORT
gboolean holder_helper_close (HolderHelper  *helper,
                              guint          timeout_ms,
                              int           *out_exit_status,
                              GError       **error);

/**
 * holder_helper_free:
 * @helper: (nullable): a helper
 *
 * Frees the handle. A bound helper whose connection is still open tears
 * down as the connection closes; nothing waits for it.
 */
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
 * The dial is retried for %HOLDER_CLIENT_DIAL_WINDOW_MS.
 *
 * Returns: (transfer full) (nullable): the reply
 */
HOLDER_EXPORT
HolderReply *holder_client_send (const char           *root,
                                 const char           *name,
                                 const HolderRequest  *request,
                                 guint                 timeout_ms,
                                 GError              **error);

/**
 * holder_client_send_async:
 * @root: (nullable): the storage root
 * @name: the member whose socket to dial
 * @request: the request (serialised at once)
 * @timeout_ms: bound on the wait for the reply (0 for the default)
 * @cancellable: (nullable): a #GCancellable
 * @callback: called on the thread-default main context when done
 * @user_data: data for @callback
 *
 * The non-blocking form of holder_client_send().
 */
HOLDER_EXPORT
void holder_client_send_async (const char           *root,
                               const char           *name,
                               const HolderRequest  *request,
                               guint                 timeout_ms,
                               GCancellable         *cancellable,
                               GAsyncReadyCallback   callback,
                               gpointer              user_data);

/**
 * holder_client_send_finish:
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Finishes holder_client_send_async().
 *
 * Returns: (transfer full) (nullable): the reply, as holder_client_send()
 */
HOLDER_EXPORT
HolderReply *holder_client_send_finish (GAsyncResult  *result,
                                        GError       **error);

/**
 * holder_client_create_network:
 * @root: (nullable): the storage root
 * @primary: the helper's primary member
 * @out_subnet: (out) (optional): the subnet, "" on a DHCP-style backend
 * @error: return location for a #GError
 *
 * Sends createnetwork on @primary's socket.
 *
 * Returns: whether the network exists
 */
HOLDER_EXPORT
gboolean holder_client_create_network (const char  *root,
                                       const char  *primary,
                                       char       **out_subnet,
                                       GError     **error);

/**
 * holder_client_reserve:
 * @root: (nullable): the storage root
 * @primary: the helper's primary member
 * @name: the member to reserve for
 * @ip_hint: (nullable): the address wanted
 * @error: return location for a #GError
 *
 * Sends reserve for @name on @primary's socket.
 *
 * Returns: (transfer full) (nullable): the reservation
 */
HOLDER_EXPORT
HolderReservation *holder_client_reserve (const char  *root,
                                          const char  *primary,
                                          const char  *name,
                                          const char  *ip_hint,
                                          GError     **error);

/**
 * holder_client_boot_member:
 * @root: (nullable): the storage root
 * @primary: the helper's primary member
 * @spec: the member to boot
 * @timeout_ms: bound on the wait (0: FLEETBOX_IP_WAIT_TIMEOUT plus a minute)
 * @error: return location for a #GError
 *
 * Sends boot-member on @primary's socket and waits for the reply, which
 * comes once the member is running.
 *
 * Returns: whether the member runs
 */
HOLDER_EXPORT
gboolean holder_client_boot_member (const char              *root,
                                    const char              *primary,
                                    const HolderMemberSpec  *spec,
                                    guint                    timeout_ms,
                                    GError                 **error);

/**
 * holder_client_status:
 * @root: (nullable): the storage root
 * @name: a member
 * @error: return location for a #GError
 *
 * The member's status: from its live helper if one serves it
 * (holder_store_member_is_served()), else from the store (state "stopped"
 * and pid 0 if its folder exists; HOLDER_ERROR_NOT_FOUND if not).
 *
 * Returns: (transfer full) (nullable): the status
 */
HOLDER_EXPORT
HolderStatus *holder_client_status (const char  *root,
                                    const char  *name,
                                    GError     **error);

/**
 * holder_client_stop:
 * @root: (nullable): the storage root
 * @name: a member
 * @timeout_ms: how long to wait for it to stop (0: 30 s)
 * @error: return location for a #GError
 *
 * Sends stop, then waits up to @timeout_ms for the member to be served no
 * more (holder_store_member_is_served(): its helper has removed its socket
 * and pidfile and let go of its lock).
 *
 * Returns: whether the member stopped; a member no helper serves is
 *   already stopped: %TRUE
 */
HOLDER_EXPORT
gboolean holder_client_stop (const char  *root,
                             const char  *name,
                             guint        timeout_ms,
                             GError     **error);

/**
 * holder_client_is_running:
 * @root: (nullable): the storage root
 * @name: a member
 *
 * Whether a live helper serves @name now (holder_store_member_is_served():
 * it holds the member's lock; a zombie or a reused pid does not).
 *
 * Returns: %TRUE if a live helper serves @name
 */
HOLDER_EXPORT
gboolean holder_client_is_running (const char *root,
                                   const char *name);

/**
 * holder_client_wait_running:
 * @root: (nullable): the storage root
 * @names: (array zero-terminated=1): the members
 * @timeout_ms: how long to wait (0: FLEETBOX_IP_WAIT_TIMEOUT plus a minute)
 * @out_statuses: (out) (optional) (transfer full): name -> #HolderStatus
 * @error: return location for a #GError
 *
 * Polls until every member in @names is running with an IP; fails at once
 * with the member's error if one goes to `error`, or
 * HOLDER_ERROR_TIMED_OUT.
 *
 * Returns: whether every member runs
 */
HOLDER_EXPORT
gboolean holder_client_wait_running (const char          *root,
                                     const char *const   *names,
                                     guint                timeout_ms,
                                     GHashTable         **out_statuses,
                                     GError             **error);

G_END_DECLS
