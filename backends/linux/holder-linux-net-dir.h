/* SPDX-License-Identifier: MIT
 *
 * Where the cluster networks keep their privileged host state: a runtime
 * folder that only the helper's own user (root, in practice) can write,
 * never the user's store. It is /run/fleetbox by default (per boot, like
 * the kernel state it describes), or FLEETBOX_RUNTIME_DIR:
 *
 *   /run/fleetbox/              0700, the helper's euid
 *     .lock                     flock()ed by every helper on the host while
 *                               a subnet is chosen and records and markers
 *                               change hands
 *     net-<netns cookie>/       one folder per network namespace: links,
 *                               routes and forwarding are per namespace
 *       fbx-1a2b3c4d.json       a network's record
 *       uplink-eth0.json        an uplink's original forwarding value
 *
 * Every folder on the way is a real folder (no symbolic link), owned by
 * root or the helper's euid, and writable by others only if sticky. The
 * runtime folder and its namespace folders are owned by the helper's euid
 * and writable by no one else. Every file is reached with openat() and
 * O_NOFOLLOW from a checked folder descriptor, and a file is believed only
 * when it is a regular file with one link, owned by the helper's euid and
 * writable by no one else: then only root (or that user) can have written
 * it. The override is honoured only after the same checks, so a user
 * cannot point a root helper at a folder of theirs.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define HOLDER_NET_RUNTIME_DIR_DEFAULT "/run/fleetbox"
#define HOLDER_NET_RUNTIME_DIR_ENV     "FLEETBOX_RUNTIME_DIR"

typedef struct {
  char *runtime_path; /* "/run/fleetbox" */
  int   runtime_fd;   /* checked */
  char *name;         /* "net-<cookie>": this network namespace's folder */
  char *path;         /* "/run/fleetbox/net-<cookie>", for messages */
  int   fd;           /* checked; -1 while the folder does not exist */
} HolderNetDir;

/* The runtime folder's path: FLEETBOX_RUNTIME_DIR when set and non-empty,
 * else /run/fleetbox. Not checked. */
char *holder_net_runtime_path (void);

/* Opens and checks the runtime folder (creating it 0700 when missing) and
 * opens this namespace's folder if it exists. A folder that fails a check
 * is refused with a message that says what to fix. */
HolderNetDir *holder_net_dir_open (GError **error);
void holder_net_dir_free (HolderNetDir *dir);

/* Opens this namespace's folder again if it went or came since it was
 * opened (another helper tidied it away, or made it). Call with the lock
 * held. */
gboolean holder_net_dir_refresh (HolderNetDir *dir,
                                 GError      **error);

/* The same, creating it (0700) when it is missing. */
gboolean holder_net_dir_ensure (HolderNetDir *dir,
                                GError      **error);

/* Removes this namespace's folder, and with @others every other
 * namespace's, when empty: nothing is lost, and /run/fleetbox stays
 * tidy. Safe under the lock, since only lock holders add a first file to
 * a folder. */
void holder_net_dir_tidy (HolderNetDir *dir,
                          gboolean      others);

/* Takes the host-wide lock (.lock in the runtime folder), waiting for it
 * on the calling thread until @cancellable fires. Returns the fd to pass to
 * holder_net_dir_unlock. Never call it on the main loop. */
int holder_net_dir_lock (HolderNetDir  *dir,
                         GCancellable  *cancellable,
                         GError       **error);
void holder_net_dir_unlock (int fd);

/* Whether the open file @fd may be believed: a regular file with one link,
 * owned by the helper's euid, writable by no one else. @error says why
 * not. */
gboolean holder_net_file_is_trusted (int         fd,
                                     const char *shown,
                                     GError    **error);

/* Reads @name of this namespace's folder (O_NOFOLLOW, at most 64 KiB),
 * only if it is trusted. */
gboolean holder_net_dir_read (HolderNetDir *dir,
                              const char   *name,
                              char        **out_contents,
                              gsize        *out_len,
                              GError      **error);

/* Writes @name of this namespace's folder atomically, mode 0600. */
gboolean holder_net_dir_write (HolderNetDir *dir,
                               const char   *name,
                               const char   *contents,
                               gsize         len,
                               GError      **error);

/* Removes @name of this namespace's folder; a missing file counts as
 * removed. */
gboolean holder_net_dir_remove (HolderNetDir *dir,
                                const char   *name,
                                GError      **error);

/* Whether @name exists in this namespace's folder (as anything). */
gboolean holder_net_dir_has (HolderNetDir *dir,
                             const char   *name);

/* The entry names of this namespace's folder, sorted (empty when it does
 * not exist). */
GPtrArray *holder_net_dir_list (HolderNetDir *dir);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderNetDir, holder_net_dir_free)

G_END_DECLS
