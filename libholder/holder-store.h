/* SPDX-License-Identifier: MIT */
#pragma once

#if !defined(__HOLDER_H_INSIDE__) && !defined(HOLDER_COMPILATION)
#error "Only <holder.h> can be included directly."
#endif

#include <glib.h>
#include "holder-export.h"

G_BEGIN_DECLS

/* Longest member name, in bytes. Names become folder names and are hashed
 * into socket names; the cap keeps them readable and well inside NAME_MAX. */
#define HOLDER_NAME_MAX 64

/* The storage root: $FLEETBOX_HOME if non-empty; else, as root with
 * SUDO_USER set, that user's home + "/.fleetbox"; else $HOME/.fleetbox.
 * Creates nothing. */
HOLDER_EXPORT
char *holder_store_resolve_root (GError **error);

/* Creates the root and its clusters/, images/ and run/ folders (0755).
 * Fails up front, creating nothing, when the root is too long for its
 * socket paths to fit a Unix socket address (HOLDER_ERROR_INVALID_ARGUMENT,
 * naming the length and the limit). Running as root, refuses a root (or a
 * folder of it) that is a symbolic link, belongs to someone other than root
 * or SUDO_UID, or can be written by group or others
 * (HOLDER_ERROR_UNSAFE_PATH; see docs/security.md); what it creates for a
 * SUDO_UID user belongs to that user. */
HOLDER_EXPORT
gboolean holder_store_ensure_root (const char *root,
                                   GError    **error);

/* Refuses names that cannot safely become a path component: empty, ".",
 * "..", containing '/', a control character or invalid UTF-8, or longer than
 * HOLDER_NAME_MAX bytes. The message says which rule failed. */
HOLDER_EXPORT
gboolean holder_name_validate (const char *name,
                               GError    **error);

/* The member name minus one trailing "-<digits>" group, unless nothing
 * would be left: "web-3" -> "web", "web-1-2" -> "web-1", "-5" -> "-5". */
HOLDER_EXPORT
char *holder_store_cluster_name (const char *name);

/* <root>/clusters/<cluster>/<name> */
HOLDER_EXPORT
char *holder_store_member_dir (const char *root,
                               const char *name);
/* <member dir>/pid */
HOLDER_EXPORT
char *holder_store_pidfile_path (const char *root,
                                 const char *name);
/* The first 16 lowercase hex digits of SHA-256(name). */
HOLDER_EXPORT
char *holder_store_socket_hash (const char *name);
/* <root>/run/<hash(name)>.sock */
HOLDER_EXPORT
char *holder_store_socket_path (const char *root,
                                const char *name);
/* <root>/run/<hash(primary)>.ctl */
HOLDER_EXPORT
char *holder_store_control_socket_path (const char *root,
                                        const char *primary);

/* SHA-256 of "fleetbox:<name>", first 6 bytes, byte 0 made unicast and
 * locally administered, lowercase hex joined by ':'. */
HOLDER_EXPORT
char *holder_mac_for_name (const char *name);

/* Writes this process's pid (decimal, no newline, mode 0644) to @name's
 * pidfile, atomically: readers see the whole pid or no file. The member's
 * folder must exist; no link is followed. (A helper writes its pidfiles
 * under the member's lock; this is for tools and tests.) */
HOLDER_EXPORT
gboolean holder_store_write_pidfile (const char *root,
                                     const char *name,
                                     GError    **error);

/* Removes @name's pidfile; a missing pidfile is not an error. */
HOLDER_EXPORT
gboolean holder_store_remove_pidfile (const char *root,
                                      const char *name,
                                      GError    **error);

/* Reads a pidfile strictly: decimal digits only, no newline, > 0.
 * G_FILE_ERROR_NOENT when missing, HOLDER_ERROR_PROTOCOL when malformed.
 * A pid alone says nothing of who serves @name (the pid may have been
 * reused): ask holder_store_member_is_served(). */
HOLDER_EXPORT
gboolean holder_store_read_pidfile (const char *root,
                                    const char *name,
                                    GPid       *out_pid,
                                    GError    **error);

/* TRUE if @pid names a process that exists and is not a zombie (PID 1 may
 * not reap orphans, and kill(pid, 0) succeeds on a zombie). */
HOLDER_EXPORT
gboolean holder_pid_is_alive (GPid pid);

/* TRUE when a live helper serves @name: it holds the member's lock
 * (<root>/run/<h>.sock.lock), which a helper takes before it binds the
 * member's socket and keeps until it has removed it, and which the kernel
 * drops when the helper dies. A zombie or a reused pid holds no lock, so
 * neither fools it. @out_pid (nullable) gets that helper's pid from the
 * pidfile, or 0 in the instant between the lock and the pidfile. Looks
 * without taking anything. */
HOLDER_EXPORT
gboolean holder_store_member_is_served (const char *root,
                                        const char *name,
                                        GPid       *out_pid);

/* Removes what no live helper holds: member sockets, control sockets,
 * pidfiles (and their temporary files), lock files and private bind folders
 * of helpers that died without cleaning up (SIGKILL). Each is removed while
 * holding its member's lock, so a helper starting at that moment is never
 * robbed. Calls @report (nullable) with a kind ("socket", "control socket",
 * "pidfile", "temporary file", "lock file", "bind folder") and the path of
 * each. With @dry_run, changes nothing and reports what it would remove. A
 * missing root has nothing to prune. Running as root, the store is checked
 * as by holder_store_ensure_root(). */
HOLDER_EXPORT
gboolean holder_store_prune (const char  *root,
                             gboolean     dry_run,
                             void       (*report) (const char *kind,
                                                   const char *what,
                                                   gpointer    user_data),
                             gpointer     user_data,
                             GError     **error);

G_END_DECLS
