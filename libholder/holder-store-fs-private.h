/* SPDX-License-Identifier: MIT
 *
 * The one way libholder reaches files in the storage root.
 *
 * The helper often runs as root while the store sits in a user's home, and
 * that user (or, in a shared folder, another one) can rename, replace or
 * symlink anything in it at any moment. So no store path is ever handed to
 * a path-taking call that creates, opens, changes or removes something.
 * The root is opened once and checked; every folder below it is reached
 * with openat(O_NOFOLLOW | O_DIRECTORY) from a descriptor that was checked
 * in turn; files are created, renamed and removed with *at() calls relative
 * to those descriptors. A symbolic link where the store has a folder or a
 * file of its own is refused, never followed.
 *
 * "Checked", when the process runs as root (euid 0): the folder belongs to
 * root or to the user who ran sudo (SUDO_UID), and neither group nor others
 * may write to it. Every folder on the way to the root must pass the same
 * test, except that a sticky folder (/tmp) may be world-writable. Without
 * root, the process acts with its own rights, so only the shape is checked
 * (no links inside the store).
 */
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <glib.h>

G_BEGIN_DECLS

typedef struct _HolderStoreDir HolderStoreDir;

typedef enum {
  /* Open what exists; create nothing. run/ and clusters/ may be missing. */
  HOLDER_STORE_DIR_READ   = 0,
  /* Create the root and its clusters/, images/ and run/ (0755). */
  HOLDER_STORE_DIR_CREATE = 1 << 0,
  /* Only look (a client's question): owners and modes are not checked,
   * links inside the store are still refused. Nothing may be created,
   * changed or removed through such a store. */
  HOLDER_STORE_DIR_QUERY  = 1 << 1,
} HolderStoreDirFlags;

/* The longest path of a Unix socket, terminating NUL excluded. */
gsize holder_store_sun_path_max (void);

/* Fails (HOLDER_ERROR_INVALID_ARGUMENT) when the sockets under @root would
 * not fit a Unix socket address, naming the length and the limit. */
gboolean holder_store_check_socket_paths (const char *root,
                                          GError    **error);

/* Opens @root as described above. Fails with HOLDER_ERROR_UNSAFE_PATH
 * (links, owners, modes: the message says what to fix),
 * HOLDER_ERROR_INVALID_ARGUMENT (socket paths too long; checked before
 * anything is created) or a G_FILE_ERROR. */
HolderStoreDir *holder_store_dir_open (const char           *root,
                                       HolderStoreDirFlags   flags,
                                       GError              **error);

HolderStoreDir *holder_store_dir_ref (HolderStoreDir *store);
void holder_store_dir_unref (HolderStoreDir *store);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderStoreDir, holder_store_dir_unref)

/* The root as given. */
const char *holder_store_dir_get_path (HolderStoreDir *store);

/* Descriptors of run/ and clusters/; -1 when opened READ and missing. */
int holder_store_dir_get_run_fd (HolderStoreDir *store);
int holder_store_dir_get_clusters_fd (HolderStoreDir *store);

/* run/.bind-shared-<euid> (0700, this uid's), opened, made if missing:
 * where this uid's helpers bind their sockets before renaming them into
 * run/, each under names of its own. -1 when the name holds anything we
 * cannot trust (someone else's folder, a link, a file); the caller then
 * binds in a fresh folder. The last reference to @store removes it if this
 * process used it and it is empty. */
int holder_store_dir_open_bind_folder (HolderStoreDir *store);
#define HOLDER_STORE_SHARED_BIND_PREFIX ".bind-shared-"

/* TRUE when owners and modes are checked (euid 0). */
gboolean holder_store_dir_is_strict (HolderStoreDir *store);

/* TRUE when @uid may own something the store's helper relies on: root or
 * SUDO_UID as root, else (not strict) anyone. */
gboolean holder_store_dir_trusts_uid (HolderStoreDir *store,
                                      uid_t           uid);

/* Gives @fd, a file or folder this process has just created in the store,
 * to the store's owner, so that a user whose store a root helper filled
 * keeps full use of it. Does nothing unless running as root in a store
 * that belongs to another uid. */
void holder_store_dir_give_to_owner (HolderStoreDir *store,
                                     int             fd);

/* Opens the folder @name below @parent_fd (whose path, for messages, is
 * @parent_path), creating it (0755, given to the store's owner) when
 * @create. Refuses a link, a non-folder and, when strict, a folder of an
 * untrusted owner or writable by group or others. Missing and !@create:
 * -1 with G_FILE_ERROR_NOENT. The caller closes the descriptor. */
int holder_store_dir_open_folder (HolderStoreDir  *store,
                                  int              parent_fd,
                                  const char      *parent_path,
                                  const char      *name,
                                  gboolean         create,
                                  GError         **error);

/* clusters/<cluster>/<name>, as holder_store_dir_open_folder() does. */
int holder_store_dir_open_member (HolderStoreDir  *store,
                                  const char      *name,
                                  gboolean         create,
                                  GError         **error);

/* Opens (creating, 0644) the log file @name in the root for appending:
 * never through a link, never a FIFO or a file with other names. Errors
 * are HOLDER_ERROR_PERMISSION_DENIED or HOLDER_ERROR_FAILED. */
int holder_store_dir_open_log (HolderStoreDir  *store,
                               const char      *name,
                               GError         **error);

/* Reads the pidfile in the member folder @dir_fd strictly (see
 * holder_store_read_pidfile()), without following a link and without
 * blocking on a FIFO; @shown names it in messages. */
gboolean holder_store_read_pidfile_at (int          dir_fd,
                                       const char  *shown,
                                       GPid        *out_pid,
                                       GError     **error);

/* The same file: device, inode, type and change time. */
gboolean holder_store_same_file (const struct stat *a,
                                 const struct stat *b);

/* After renaming a file we made (described by @before) to @name in
 * @dir_fd: its identity there, in @out_stat, if it is still ours. */
gboolean holder_store_stat_renamed (int                dir_fd,
                                    const char        *name,
                                    const struct stat *before,
                                    struct stat       *out_stat);

/* Unlinks @name in @dir_fd if it is still the file @st describes
 * (holder_store_same_file()): a helper removes only what it made, never
 * what replaced it. */
gboolean holder_store_unlink_if_same (int                dir_fd,
                                      const char        *name,
                                      const struct stat *st);

G_END_DECLS
