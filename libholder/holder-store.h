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

/* Creates the root and its clusters/, images/ and run/ folders (0755). */
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
 * pidfile, atomically: readers see the whole pid or no file. */
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
 * G_FILE_ERROR_NOENT when missing, HOLDER_ERROR_PROTOCOL when malformed. */
HOLDER_EXPORT
gboolean holder_store_read_pidfile (const char *root,
                                    const char *name,
                                    GPid       *out_pid,
                                    GError    **error);

/* TRUE if @pid names a process that exists and is not a zombie (PID 1 may
 * not reap orphans, and kill(pid, 0) succeeds on a zombie). */
HOLDER_EXPORT
gboolean holder_pid_is_alive (GPid pid);

/* ---- liveness and clean-up ------------------------------------------------
 *
 * INTERIM: holder-store-live.c implements these two on pidfiles and
 * holder_pid_is_alive(); the per-member liveness lock of the safety work
 * replaces the implementation at merge. Callers rely on the signatures
 * only. */

/* TRUE when a live helper serves @name (holds its member lock); @out_pid
 * (nullable) gets that helper's pid, or 0. */
HOLDER_EXPORT
gboolean holder_store_member_is_served (const char *root,
                                        const char *name,
                                        GPid       *out_pid);

/* Removes the sockets, pidfiles and locks under @root that no live helper
 * holds, calling @report (nullable) with a kind ("file") and the path of
 * each; with @dry_run, removes nothing and reports what it would remove. */
HOLDER_EXPORT
gboolean holder_store_prune (const char  *root,
                             gboolean     dry_run,
                             void       (*report) (const char *kind,
                                                   const char *what,
                                                   gpointer    user_data),
                             gpointer     user_data,
                             GError     **error);

/* ---- what a helper records about its members ------------------------------ */

/* The backend that serves (or last served) @name, as its helper recorded
 * it in the member folder at registration (the file `backend`); NULL when
 * nothing was recorded. */
HOLDER_EXPORT
char *holder_store_read_member_backend (const char *root,
                                        const char *name);

/* Where @name's serial console is written: the serial_log_path of its last
 * boot, as its helper recorded it (the file `console`), else `serial.log`
 * in the member folder, the backends' default. The file may not exist. */
HOLDER_EXPORT
char *holder_store_member_console_path (const char *root,
                                        const char *name);

G_END_DECLS
