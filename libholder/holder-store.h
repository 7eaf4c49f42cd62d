/* SPDX-License-Identifier: MIT */
#pragma once

#if !defined(__HOLDER_H_INSIDE__) && !defined(HOLDER_COMPILATION)
#error "Only <holder.h> can be included directly."
#endif

#include <glib.h>
#include "holder-export.h"

G_BEGIN_DECLS

/**
 * SECTION:holder-store
 * @title: The store
 * @short_description: the storage root, member folders, socket paths and pidfiles
 * @include: holder.h
 *
 * Where helpers keep what clients and tools find: under the storage root,
 * `clusters/<cluster>/<member>/` (the member's folder, its pidfile and what
 * its helper records there) and `run/<hash>.sock` (its socket). See
 * docs/protocol.md, section 3.
 */

/**
 * HOLDER_NAME_MAX:
 *
 * Longest member name, in bytes. Names become folder names and are hashed
 * into socket names; the cap keeps them readable and well inside NAME_MAX.
 */
#define HOLDER_NAME_MAX 64

/**
 * holder_store_resolve_root:
 * @error: return location for a #GError
 *
 * The storage root: $FLEETBOX_HOME if non-empty; else, as root with
 * SUDO_USER set, that user's home + "/.fleetbox"; else $HOME/.fleetbox.
 * Creates nothing.
 *
 * Returns: (transfer full) (nullable): the root, or %NULL when no home is
 *   known
 */
HOLDER_EXPORT
char *holder_store_resolve_root (GError **error);

/**
 * holder_store_ensure_root:
 * @root: the storage root
 * @error: return location for a #GError
 *
 * Creates the root and its clusters/, images/ and run/ folders (0755).
 * Fails up front, creating nothing, when the root is too long for its
 * socket paths to fit a Unix socket address (HOLDER_ERROR_INVALID_ARGUMENT,
 * naming the length and the limit). Running as root, refuses a root (or a
 * folder of it) that is a symbolic link, belongs to someone other than root
 * or SUDO_UID, or can be written by group or others
 * (HOLDER_ERROR_UNSAFE_PATH; see docs/security.md); what it creates for a
 * SUDO_UID user belongs to that user.
 *
 * Returns: whether they exist now
 */
HOLDER_EXPORT
gboolean holder_store_ensure_root (const char *root,
                                   GError    **error);

/**
 * holder_name_validate:
 * @name: (nullable): a member name
 * @error: return location for a #GError
 *
 * Refuses names that cannot safely become a path component: empty, ".",
 * "..", containing '/', ',', a control character or invalid UTF-8, or
 * longer than %HOLDER_NAME_MAX bytes. The message says which rule failed
 * (HOLDER_ERROR_INVALID_NAME).
 *
 * Returns: whether @name is valid
 */
HOLDER_EXPORT
gboolean holder_name_validate (const char *name,
                               GError    **error);

/**
 * holder_store_cluster_name:
 * @name: a member name
 *
 * The member name minus one trailing `-<digits>` group, unless nothing
 * would be left: "web-3" -> "web", "web-1-2" -> "web-1", "-5" -> "-5".
 *
 * Returns: (transfer full): the cluster's name
 */
HOLDER_EXPORT
char *holder_store_cluster_name (const char *name);

/**
 * holder_store_member_dir:
 * @root: the storage root
 * @name: a member name
 *
 * The path of a member's folder.
 *
 * Returns: (transfer full): `<root>/clusters/<cluster>/<name>`
 */
HOLDER_EXPORT
char *holder_store_member_dir (const char *root,
                               const char *name);

/**
 * holder_store_pidfile_path:
 * @root: the storage root
 * @name: a member name
 *
 * The path of a member's pidfile.
 *
 * Returns: (transfer full): `<member dir>/pid`
 */
HOLDER_EXPORT
char *holder_store_pidfile_path (const char *root,
                                 const char *name);

/**
 * holder_store_socket_hash:
 * @name: a member name
 *
 * The hash that names a member's socket.
 *
 * Returns: (transfer full): the first 16 lowercase hex digits of
 *   SHA-256(@name)
 */
HOLDER_EXPORT
char *holder_store_socket_hash (const char *name);

/**
 * holder_store_socket_path:
 * @root: the storage root
 * @name: a member name
 *
 * The path of a member's socket.
 *
 * Returns: (transfer full): `<root>/run/<hash(name)>.sock`
 */
HOLDER_EXPORT
char *holder_store_socket_path (const char *root,
                                const char *name);

/**
 * holder_store_control_socket_path:
 * @root: the storage root
 * @primary: a helper's primary member
 *
 * The path of a bound helper's control socket.
 *
 * Returns: (transfer full): `<root>/run/<hash(primary)>.ctl`
 */
HOLDER_EXPORT
char *holder_store_control_socket_path (const char *root,
                                        const char *primary);

/**
 * holder_mac_for_name:
 * @name: a member name
 *
 * SHA-256 of `fleetbox:<name>`, first 6 bytes, byte 0 made unicast and
 * locally administered, lowercase hex joined by ':'.
 *
 * Returns: (transfer full): the member's MAC address
 */
HOLDER_EXPORT
char *holder_mac_for_name (const char *name);

/**
 * holder_store_write_pidfile:
 * @root: the storage root
 * @name: a member name
 * @error: return location for a #GError
 *
 * Writes this process's pid (decimal, no newline, mode 0644) to @name's
 * pidfile, atomically: readers see the whole pid or no file. The member's
 * folder must exist; no link is followed. (A helper writes its pidfiles
 * under the member's lock; this is for tools and tests.)
 *
 * Returns: whether it was written
 */
HOLDER_EXPORT
gboolean holder_store_write_pidfile (const char *root,
                                     const char *name,
                                     GError    **error);

/**
 * holder_store_remove_pidfile:
 * @root: the storage root
 * @name: a member name
 * @error: return location for a #GError
 *
 * Removes @name's pidfile; a missing pidfile is not an error.
 *
 * Returns: whether no pidfile is left
 */
HOLDER_EXPORT
gboolean holder_store_remove_pidfile (const char *root,
                                      const char *name,
                                      GError    **error);

/**
 * holder_store_read_pidfile:
 * @root: the storage root
 * @name: a member name
 * @out_pid: (out) (optional): the pid
 * @error: return location for a #GError
 *
 * Reads a pidfile strictly: decimal digits only, no newline, > 0.
 * G_FILE_ERROR_NOENT when missing, HOLDER_ERROR_PROTOCOL when malformed.
 * A pid alone says nothing of who serves @name (the pid may have been
 * reused): ask holder_store_member_is_served().
 *
 * Returns: whether a pid was read
 */
HOLDER_EXPORT
gboolean holder_store_read_pidfile (const char *root,
                                    const char *name,
                                    GPid       *out_pid,
                                    GError    **error);

/**
 * holder_pid_is_alive:
 * @pid: a process id
 *
 * Whether a process lives.
 *
 * Returns: %TRUE if @pid names a process that exists and is not a zombie
 *   (PID 1 may not reap orphans, and kill(pid, 0) succeeds on a zombie)
 */
HOLDER_EXPORT
gboolean holder_pid_is_alive (GPid pid);

/* ---- liveness and clean-up ------------------------------------------------ */

/**
 * HolderReclaimFunc:
 * @kind: one word: "socket", "pidfile", "lock file", "link", "table",
 *   "record", "process", "domain", "network", "forwarding", ...
 * @what: what it names (a path, a link's name, ...)
 * @user_data: the data given with the function
 *
 * Reports one piece of state that was (or, in a dry run, would be)
 * removed. The same type as #HolderBackendHost's reclaimed callback.
 */
typedef void (*HolderReclaimFunc) (const char *kind,
                                   const char *what,
                                   gpointer    user_data);

/**
 * holder_store_member_is_served:
 * @root: the storage root
 * @name: a member name
 * @out_pid: (out) (optional): that helper's pid, or 0
 *
 * Whether a live helper serves @name: it holds the member's lock
 * (`<root>/run/<h>.sock.lock`), which a helper takes before it binds the
 * member's socket and keeps until it has removed it, and which the kernel
 * drops when the helper dies. A zombie or a reused pid holds no lock, so
 * neither fools it. @out_pid gets that helper's pid from the pidfile, or 0
 * in the instant between the lock and the pidfile. Looks without taking
 * anything.
 *
 * Returns: %TRUE when a live helper serves @name
 */
HOLDER_EXPORT
gboolean holder_store_member_is_served (const char *root,
                                        const char *name,
                                        GPid       *out_pid);

/**
 * holder_store_prune:
 * @root: the storage root
 * @dry_run: remove nothing; report what would go
 * @report: (nullable) (scope call): called for each piece
 * @user_data: data for @report
 * @error: return location for a #GError
 *
 * Removes what no live helper holds: member sockets, control sockets,
 * pidfiles (and their temporary files), lock files and private bind
 * folders of helpers that died without cleaning up (SIGKILL). Each is
 * removed while holding its member's lock, so a helper starting at that
 * moment is never robbed. Calls @report with a kind ("socket", "control
 * socket", "pidfile", "temporary file", "lock file", "bind folder") and the
 * path of each. With @dry_run, changes nothing and reports what it would
 * remove. A missing root has nothing to prune. Running as root, the store
 * is checked as by holder_store_ensure_root().
 *
 * Returns: whether every stale piece could be removed
 */
HOLDER_EXPORT
gboolean holder_store_prune (const char        *root,
                             gboolean           dry_run,
                             HolderReclaimFunc  report,
                             gpointer           user_data,
                             GError           **error);

/* ---- what a helper records about its members ------------------------------ */

/**
 * holder_store_read_member_backend:
 * @root: the storage root
 * @name: a member name
 *
 * The backend that serves (or last served) @name, as its helper recorded
 * it in the member folder at registration (the file `backend`).
 *
 * Returns: (transfer full) (nullable): the backend's name, or %NULL when
 *   nothing was recorded
 */
HOLDER_EXPORT
char *holder_store_read_member_backend (const char *root,
                                        const char *name);

/**
 * holder_store_member_console_path:
 * @root: the storage root
 * @name: a member name
 *
 * Where @name's serial console is written: the serial_log_path of its last
 * boot, as its helper recorded it (the file `console`), else `serial.log`
 * in the member folder, the backends' default. The file may not exist.
 *
 * Returns: (transfer full): the console log's path
 */
HOLDER_EXPORT
char *holder_store_member_console_path (const char *root,
                                        const char *name);

G_END_DECLS
