/* SPDX-License-Identifier: MIT
 *
 * One owner per name: the lock a helper holds on a socket of the store for
 * as long as it serves it, and what it makes under that lock.
 *
 * Every socket of the store, run/<h>.sock (a member) or run/<h>.ctl (a
 * bound helper's control socket), has a lock file beside it,
 * run/<h>.sock.lock or run/<h>.ctl.lock. The helper that serves the socket
 * holds a write lock on it (an open-file-description lock on Linux, flock()
 * elsewhere) from before it binds the socket until after it has removed
 * it. The kernel drops the lock when the helper dies, however it dies, so
 * "held" means "a live helper serves it": no pid is trusted, and a pid
 * reused by another process blocks nothing. A duplicate start finds the
 * lock taken and fails before it has touched anything.
 *
 * A helper removes only what it made: the socket inode it bound, the
 * pidfile it wrote (both compared by device and inode before unlinkat()),
 * and the lock file it held.
 */
#pragma once

#include <glib.h>

#include "holder-store-fs-private.h"

G_BEGIN_DECLS

typedef enum {
  HOLDER_STORE_LOCK_TAKEN,
  /* Another open file (a live helper, or a prune at work) holds it. */
  HOLDER_STORE_LOCK_BUSY,
  HOLDER_STORE_LOCK_FAILED,
} HolderStoreLockResult;

/* The lock file of the socket @socket_name: "<socket_name>.lock". */
char *holder_store_lock_name (const char *socket_name);

/* Takes the lock @lock_name in run/ without waiting, creating the lock file
 * (0644, given to the store's owner) when it is missing. A link, a
 * non-regular file, a file with other names (hard links) or, as root, one
 * of an untrusted owner is refused (HOLDER_ERROR_UNSAFE_PATH). On
 * HOLDER_STORE_LOCK_TAKEN, @out_fd holds the lock. */
HolderStoreLockResult holder_store_lock_take (HolderStoreDir  *store,
                                              const char      *lock_name,
                                              int             *out_fd,
                                              GError         **error);

/* TRUE when some process holds the lock @lock_name of the run/ folder
 * @run_fd. Looks without taking, so it never gets in a helper's way. A
 * missing or odd file is held by nobody. */
gboolean holder_store_lock_is_held (int         run_fd,
                                    const char *lock_name);

/* Removes the lock file if it is still the one @fd holds, then lets go. */
void holder_store_lock_drop (HolderStoreDir *store,
                             const char     *lock_name,
                             int             fd);

typedef enum {
  HOLDER_STORE_CLAIM_MEMBER,   /* run/<h>.sock, the member folder, its pidfile */
  HOLDER_STORE_CLAIM_CONTROL,  /* run/<h(primary)>.ctl */
} HolderStoreClaimKind;

typedef struct _HolderStoreClaim HolderStoreClaim;

/* Takes @name's lock. A member's lock held by a live helper fails with
 * HOLDER_ERROR_ALREADY_RUNNING, `member <n> is already served by helper
 * <pid>`, once that helper's pidfile names it (waiting up to a second for a
 * helper that is just starting). A member's folder is created (0755) under
 * the lock. */
HolderStoreClaim *holder_store_claim_take (HolderStoreDir        *store,
                                           HolderStoreClaimKind   kind,
                                           const char            *name,
                                           GError               **error);

/* Binds and listens on the claim's socket: bound in a folder only this
 * uid can write to (run/.bind-shared-<euid>, 0700, shared by this uid's
 * helpers under names of their own; a fresh run/.bind-XXXXXX when that
 * name holds anything else), made mode 0666 there when running as root
 * (connectable by the invoking user; peer credentials decide who may
 * command), then renamed over run/<h>.sock. Never a chmod by path in a
 * folder the user can write to. Returns the listening descriptor
 * (non-blocking, close-on-exec), which the caller owns. */
int holder_store_claim_listen (HolderStoreClaim  *claim,
                               int                backlog,
                               GError           **error);

/* Writes this process's pid into the member's pidfile (0644, atomically). */
gboolean holder_store_claim_write_pidfile (HolderStoreClaim  *claim,
                                           GError           **error);

/* <root>/run/<h>.sock or .ctl, for messages and logs. */
const char *holder_store_claim_get_socket_path (HolderStoreClaim *claim);

/* Removes the socket and the pidfile this claim made (only if they are
 * still those inodes) and the lock file, then releases the lock. */
void holder_store_claim_release (HolderStoreClaim *claim);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderStoreClaim, holder_store_claim_release)

/* holder_store_prune() on an open store (holder-store-prune.c). An entry
 * that cannot be pruned does not stop the others: the first such failure
 * is returned once all have been tried. */
gboolean holder_store_dir_prune (HolderStoreDir  *store,
                                 gboolean         dry_run,
                                 void           (*report) (const char *kind,
                                                           const char *what,
                                                           gpointer    user_data),
                                 gpointer         user_data,
                                 GError         **error);

G_END_DECLS
