/* holder-store-prune.c: removing what dead helpers left in the store.
 *
 * A helper killed with SIGKILL leaves its sockets, lock files and pidfiles
 * behind (the kernel only drops its locks). They are recognised by their
 * lock: a socket, pidfile or lock file whose lock nobody holds belongs to no
 * live helper. Each is removed while holding that lock ourselves, so that a
 * helper starting at the same moment for the same name waits for us (see
 * holder_store_claim_take()) instead of having its new socket removed.
 *
 * Only names the helper makes are touched (run/<16 hex>.sock, .ctl, their
 * .lock files, run/.bind-*, and the pid file and its temporary files in a
 * member folder); nothing is followed, and a dry run only looks.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-store"
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "holder-error.h"
#include "holder-store.h"
#include "holder-store-claim-private.h"
#include "holder-store-fs-private.h"

/* A bind folder lives for microseconds; one this old was left by a helper
 * killed in the middle of a bind. */
#define BIND_FOLDER_MAX_AGE_S 60

typedef struct {
  HolderStoreDir  *store;
  gboolean         dry_run;
  void           (*report) (const char *kind,
                            const char *what,
                            gpointer    user_data);
  gpointer         user_data;
  /* Lock files already reported (a member's guards its socket and its
   * pidfile). */
  GHashTable      *locks_seen;
  /* The first entry that could not be pruned; the others are pruned on. */
  GError          *first_error;
} Prune;

/* One entry failed (a planted link as its lock file, say): note the first
 * such failure and go on with the others. */
static void
prune_failed (Prune  *prune,
              GError *error)
{
  g_debug ("prune: %s", error->message);
  if (prune->first_error == NULL)
    prune->first_error = error;
  else
    g_error_free (error);
}

static void
prune_report (Prune      *prune,
              const char *kind,
              const char *what)
{
  if (prune->report != NULL)
    prune->report (kind, what, prune->user_data);
}

static gboolean
is_hash_name (const char *name,
              const char *suffix)
{
  gsize len = strlen (name);

  if (len != 16 + strlen (suffix) || !g_str_has_suffix (name, suffix))
    return FALSE;
  for (guint i = 0; i < 16; i++)
    if (!g_ascii_isdigit (name[i]) && !(name[i] >= 'a' && name[i] <= 'f'))
      return FALSE;
  return TRUE;
}

/* Lists the names in the folder @fd (which stays open). */
static GPtrArray *
list_folder (int fd)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  struct dirent *entry;
  int dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 0);
  DIR *dir;

  if (dup_fd < 0)
    return names;
  dir = fdopendir (dup_fd);
  if (dir == NULL)
    {
      close (dup_fd);
      return names;
    }
  rewinddir (dir);
  while ((entry = readdir (dir)) != NULL)
    if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
      g_ptr_array_add (names, g_strdup (entry->d_name));
  closedir (dir);
  return names;
}

/* Removes the files @names of @dir_fd (those still there; never a
 * folder) and the lock file @lock_name, holding that lock, unless a live
 * helper holds it. Reports each removal (in a dry run, each that would be
 * done) with the kind of the same index in @kinds. */
static gboolean
prune_guarded (Prune       *prune,
               const char  *lock_name,
               int          dir_fd,
               const char  *dir_path,
               GPtrArray   *names,
               GPtrArray   *kinds,
               GError     **error)
{
  int run_fd = holder_store_dir_get_run_fd (prune->store);
  g_autofree char *lock_path = g_build_filename (holder_store_dir_get_path (prune->store), "run",
                                                 lock_name, NULL);
  struct stat st;
  gboolean had_lock;
  int lock_fd = -1;

  if (holder_store_lock_is_held (run_fd, lock_name))
    return TRUE;
  had_lock = fstatat (run_fd, lock_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode);
  if (names->len == 0 && !had_lock)
    return TRUE;

  if (!prune->dry_run)
    {
      switch (holder_store_lock_take (prune->store, lock_name, &lock_fd, error))
        {
        case HOLDER_STORE_LOCK_BUSY:
          return TRUE; /* a helper took it just now: it is live */
        case HOLDER_STORE_LOCK_FAILED:
          return FALSE;
        case HOLDER_STORE_LOCK_TAKEN:
        default:
          break;
        }
    }

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (dir_path, name, NULL);

      if (fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR (st.st_mode))
        continue;
      if (!prune->dry_run && unlinkat (dir_fd, name, 0) != 0)
        {
          g_debug ("prune: remove %s: %s", path, g_strerror (errno));
          continue;
        }
      prune_report (prune, g_ptr_array_index (kinds, i), path);
    }

  if (lock_fd >= 0)
    {
      /* Removes the lock file, ours or the dead helper's. */
      holder_store_lock_drop (prune->store, lock_name, lock_fd);
      had_lock = had_lock && fstatat (run_fd, lock_name, &st, AT_SYMLINK_NOFOLLOW) != 0;
    }
  if (had_lock && g_hash_table_add (prune->locks_seen, g_strdup (lock_name)))
    prune_report (prune, "lock file", lock_path);
  return TRUE;
}

/* The bind folder @name of run/, if it is one a helper made: 0700 and a
 * trusted uid's, not followed. A user's own folder of that name is
 * theirs: -1. */
static int
open_bind_folder (Prune       *prune,
                  const char  *name,
                  struct stat *st)
{
  int fd = openat (holder_store_dir_get_run_fd (prune->store), name,
                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

  if (fd >= 0 && (fstat (fd, st) != 0 || (st->st_mode & 077) != 0 ||
                  !holder_store_dir_trusts_uid (prune->store, st->st_uid)))
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* run/.bind-XXXXXX of a helper killed in the middle of a bind. */
static void
prune_bind_folder (Prune      *prune,
                   const char *run_path,
                   const char *name)
{
  int run_fd = holder_store_dir_get_run_fd (prune->store);
  g_autofree char *path = g_build_filename (run_path, name, NULL);
  struct stat st;
  int fd;

  fd = open_bind_folder (prune, name, &st);
  if (fd < 0)
    return;
  if (time (NULL) - st.st_mtime > BIND_FOLDER_MAX_AGE_S)
    {
      if (prune->dry_run)
        prune_report (prune, "bind folder", path);
      else
        {
          unlinkat (fd, "s", 0);
          if (unlinkat (run_fd, name, AT_REMOVEDIR) == 0)
            prune_report (prune, "bind folder", path);
          else
            g_debug ("prune: remove %s: %s", path, g_strerror (errno));
        }
    }
  close (fd);
}

/* run/.bind-shared-<uid>, where helpers bind before renaming into run/:
 * sockets of helpers killed between the two (a bind lasts microseconds, so
 * any older than BIND_FOLDER_MAX_AGE_S), then the folder once it is
 * empty. A live helper recreates it when it next binds (and one binding as
 * it goes binds in a folder of its own). */
static void
prune_shared_bind_folder (Prune      *prune,
                          const char *run_path,
                          const char *name)
{
  int run_fd = holder_store_dir_get_run_fd (prune->store);
  g_autofree char *path = g_build_filename (run_path, name, NULL);
  g_autoptr(GPtrArray) entries = NULL;
  guint left = 0;
  struct stat st;
  int fd;

  fd = open_bind_folder (prune, name, &st);
  if (fd < 0)
    return;
  entries = list_folder (fd);
  for (guint i = 0; i < entries->len; i++)
    {
      const char *entry = g_ptr_array_index (entries, i);
      g_autofree char *entry_path = g_build_filename (path, entry, NULL);

      if (fstatat (fd, entry, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISSOCK (st.st_mode) ||
          time (NULL) - st.st_mtime <= BIND_FOLDER_MAX_AGE_S)
        left++;
      else if (prune->dry_run)
        prune_report (prune, "bind socket", entry_path);
      else if (unlinkat (fd, entry, 0) == 0)
        prune_report (prune, "bind socket", entry_path);
      else
        left++;
    }
  close (fd);
  if (left > 0)
    return;
  if (prune->dry_run)
    prune_report (prune, "bind folder", path);
  else if (unlinkat (run_fd, name, AT_REMOVEDIR) == 0)
    prune_report (prune, "bind folder", path);
  else if (errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
    g_debug ("prune: remove %s: %s", path, g_strerror (errno));
}

/* run/: sockets and lock files of dead helpers, and bind folders. */
static void
prune_run (Prune *prune)
{
  int run_fd = holder_store_dir_get_run_fd (prune->store);
  g_autofree char *run_path = g_build_filename (holder_store_dir_get_path (prune->store), "run",
                                                NULL);
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GPtrArray) sockets = g_ptr_array_new_with_free_func (g_free);

  if (run_fd < 0)
    return;
  names = list_folder (run_fd);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      char *socket_name = NULL;

      if (is_hash_name (name, ".sock") || is_hash_name (name, ".ctl"))
        socket_name = g_strdup (name);
      else if (is_hash_name (name, ".sock.lock") || is_hash_name (name, ".ctl.lock"))
        socket_name = g_strndup (name, strlen (name) - strlen (".lock"));
      else if (g_str_has_prefix (name, HOLDER_STORE_SHARED_BIND_PREFIX))
        prune_shared_bind_folder (prune, run_path, name);
      else if (g_str_has_prefix (name, ".bind-") && strlen (name) == strlen (".bind-XXXXXX"))
        prune_bind_folder (prune, run_path, name);
      if (socket_name == NULL)
        continue;
      if (g_ptr_array_find_with_equal_func (sockets, socket_name, g_str_equal, NULL))
        g_free (socket_name);
      else
        g_ptr_array_add (sockets, socket_name);
    }

  for (guint i = 0; i < sockets->len; i++)
    {
      const char *socket_name = g_ptr_array_index (sockets, i);
      g_autofree char *lock_name = holder_store_lock_name (socket_name);
      g_autoptr(GPtrArray) entries = g_ptr_array_new ();
      g_autoptr(GPtrArray) kinds = g_ptr_array_new ();
      struct stat st;
      g_autoptr(GError) local_error = NULL;

      if (fstatat (run_fd, socket_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        {
          g_ptr_array_add (entries, (gpointer) socket_name);
          g_ptr_array_add (kinds, g_str_has_suffix (socket_name, ".ctl")
                                  ? "control socket" : "socket");
        }
      if (!prune_guarded (prune, lock_name, run_fd, run_path, entries, kinds, &local_error))
        prune_failed (prune, g_steal_pointer (&local_error));
    }
}

/* One member folder: its pidfile and the pidfile's temporary files, guarded
 * by the member's lock in run/. */
static gboolean
prune_member (Prune       *prune,
              int          member_fd,
              const char  *member_path,
              const char  *name,
              GError     **error)
{
  g_autoptr(GPtrArray) names = list_folder (member_fd);
  g_autoptr(GPtrArray) entries = g_ptr_array_new ();
  g_autoptr(GPtrArray) kinds = g_ptr_array_new ();
  g_autofree char *hash = NULL;
  g_autofree char *lock_name = NULL;

  for (guint i = 0; i < names->len; i++)
    {
      const char *entry = g_ptr_array_index (names, i);

      if (strcmp (entry, "pid") == 0)
        {
          g_ptr_array_add (entries, (gpointer) entry);
          g_ptr_array_add (kinds, "pidfile");
        }
      else if (g_str_has_prefix (entry, "pid.tmp-"))
        {
          g_ptr_array_add (entries, (gpointer) entry);
          g_ptr_array_add (kinds, "temporary file");
        }
    }
  if (entries->len == 0)
    return TRUE;

  hash = holder_store_socket_hash (name);
  lock_name = g_strconcat (hash, ".sock.lock", NULL);
  return prune_guarded (prune, lock_name, member_fd, member_path, entries, kinds, error);
}

/* clusters/<cluster>/<name>/: pidfiles of dead helpers. Links and names
 * that are no member of that cluster are skipped. */
static void
prune_clusters (Prune *prune)
{
  int clusters_fd = holder_store_dir_get_clusters_fd (prune->store);
  g_autofree char *clusters_path = g_build_filename (holder_store_dir_get_path (prune->store),
                                                     "clusters", NULL);
  g_autoptr(GPtrArray) clusters = NULL;

  if (clusters_fd < 0 || holder_store_dir_get_run_fd (prune->store) < 0)
    return;
  clusters = list_folder (clusters_fd);

  for (guint i = 0; i < clusters->len; i++)
    {
      const char *cluster = g_ptr_array_index (clusters, i);
      g_autofree char *cluster_path = g_build_filename (clusters_path, cluster, NULL);
      g_autoptr(GPtrArray) members = NULL;
      int cluster_fd;

      cluster_fd = openat (clusters_fd, cluster, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (cluster_fd < 0)
        continue;
      members = list_folder (cluster_fd);
      for (guint j = 0; j < members->len; j++)
        {
          const char *name = g_ptr_array_index (members, j);
          g_autofree char *member_path = NULL;
          g_autofree char *expected = NULL;
          g_autoptr(GError) local_error = NULL;
          int member_fd;

          if (!holder_name_validate (name, NULL))
            continue;
          expected = holder_store_cluster_name (name);
          if (strcmp (expected, cluster) != 0)
            continue;
          member_fd = openat (cluster_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (member_fd < 0)
            continue;
          member_path = g_build_filename (cluster_path, name, NULL);
          if (!prune_member (prune, member_fd, member_path, name, &local_error))
            prune_failed (prune, g_steal_pointer (&local_error));
          close (member_fd);
        }
      close (cluster_fd);
    }
}

gboolean
holder_store_dir_prune (HolderStoreDir  *store,
                        gboolean         dry_run,
                        void           (*report) (const char *kind,
                                                  const char *what,
                                                  gpointer    user_data),
                        gpointer         user_data,
                        GError         **error)
{
  g_autoptr(GHashTable) locks_seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Prune prune = { store, dry_run, report, user_data, locks_seen, NULL };

  /* Pidfiles first: their locks are run/'s lock files, which go next. */
  prune_clusters (&prune);
  prune_run (&prune);
  if (prune.first_error != NULL)
    {
      g_propagate_error (error, prune.first_error);
      return FALSE;
    }
  return TRUE;
}

gboolean
holder_store_prune (const char        *root,
                    gboolean           dry_run,
                    HolderReclaimFunc  report,
                    gpointer           user_data,
                    GError           **error)
{
  g_autoptr(HolderStoreDir) store = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (root != NULL && *root != '\0', FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  store = holder_store_dir_open (root, HOLDER_STORE_DIR_READ, &local_error);
  if (store == NULL)
    {
      /* No store, nothing left in it. */
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "prune: ");
      return FALSE;
    }
  if (!holder_store_dir_prune (store, dry_run, report, user_data, error))
    {
      g_prefix_error (error, "prune %s: ", root);
      return FALSE;
    }
  return TRUE;
}
