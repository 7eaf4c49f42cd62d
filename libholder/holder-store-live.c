/* holder-store-live.c: whether a member is served, and removing what dead
 * helpers left in the store (see holder-store.h).
 *
 * INTERIM IMPLEMENTATION. These two functions stand in for the per-member
 * liveness lock of the safety work, which replaces this file at merge:
 * here "served" means "the pidfile names a live process", and prune
 * removes pidfiles of dead processes and run/ sockets nobody listens on.
 * A reused pid can therefore make a dead helper's member look served; the
 * lock does not have that weakness. Callers depend on the signatures only.
 *
 * Every path below the root is reached with openat() and O_NOFOLLOW from
 * a folder descriptor, and removed with unlinkat(): prune may run as root
 * in a user's store.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-store"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "holder-error.h"
#include "holder-store.h"

gboolean
holder_store_member_is_served (const char *root,
                               const char *name,
                               GPid       *out_pid)
{
  GPid pid = 0;

  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (out_pid != NULL)
    *out_pid = 0;
  if (!holder_store_read_pidfile (root, name, &pid, NULL) || !holder_pid_is_alive (pid))
    return FALSE;
  if (out_pid != NULL)
    *out_pid = pid;
  return TRUE;
}

static int
open_dir_at (int         dir_fd,
             const char *name)
{
  return openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The entries of an open folder (the descriptor stays open). */
static GPtrArray *
list_dir (int dir_fd)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  int fd = dup (dir_fd);
  DIR *dir;
  struct dirent *entry;

  if (fd < 0)
    return names;
  dir = fdopendir (fd);
  if (dir == NULL)
    {
      close (fd);
      return names;
    }
  while ((entry = readdir (dir)) != NULL)
    if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
      g_ptr_array_add (names, g_strdup (entry->d_name));
  closedir (dir);
  return names;
}

static gboolean
remove_at (int          dir_fd,
           const char  *name,
           const char  *shown,
           gboolean     dry_run,
           HolderReclaimFunc   report,
           gpointer     user_data,
           GError     **error)
{
  if (!dry_run && unlinkat (dir_fd, name, 0) != 0 && errno != ENOENT)
    {
      int saved_errno = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "remove %s: %s", shown, g_strerror (saved_errno));
      return FALSE;
    }
  if (report != NULL)
    report ("file", shown, user_data);
  return TRUE;
}

/* A pidfile that names a dead process, in clusters/<c>/<m>/pid. Collects
 * the socket hashes of the members that are served, which prune must not
 * touch. */
static gboolean
prune_pidfiles (const char  *root,
                int          root_fd,
                gboolean     dry_run,
                GHashTable  *served_hashes,
                HolderReclaimFunc   report,
                gpointer     user_data,
                GError     **error)
{
  g_autoptr(GPtrArray) clusters = NULL;
  int clusters_fd = open_dir_at (root_fd, "clusters");

  if (clusters_fd < 0)
    return TRUE;
  clusters = list_dir (clusters_fd);
  for (guint i = 0; i < clusters->len; i++)
    {
      const char *cluster = g_ptr_array_index (clusters, i);
      g_autoptr(GPtrArray) members = NULL;
      int cluster_fd = open_dir_at (clusters_fd, cluster);

      if (cluster_fd < 0)
        continue;
      members = list_dir (cluster_fd);
      for (guint j = 0; j < members->len; j++)
        {
          const char *name = g_ptr_array_index (members, j);
          g_autofree char *shown = NULL;
          g_autofree char *its_cluster = NULL;
          GPid pid = 0;
          struct stat st;
          int member_fd;

          /* Only member folders: a valid name, in its own cluster. */
          if (!holder_name_validate (name, NULL))
            continue;
          its_cluster = holder_store_cluster_name (name);
          if (!g_str_equal (its_cluster, cluster))
            continue;
          if (holder_store_member_is_served (root, name, &pid))
            {
              g_hash_table_add (served_hashes, holder_store_socket_hash (name));
              continue;
            }
          member_fd = open_dir_at (cluster_fd, name);
          if (member_fd < 0)
            continue;
          if (fstatat (member_fd, "pid", &st, AT_SYMLINK_NOFOLLOW) == 0)
            {
              shown = g_build_filename (root, "clusters", cluster, name, "pid", NULL);
              if (!remove_at (member_fd, "pid", shown, dry_run, report, user_data, error))
                {
                  close (member_fd);
                  close (cluster_fd);
                  close (clusters_fd);
                  return FALSE;
                }
            }
          close (member_fd);
        }
      close (cluster_fd);
    }
  close (clusters_fd);
  return TRUE;
}

/* Nobody listens: the file is not a socket, or connecting is refused. */
static gboolean
socket_is_dead (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  gboolean dead;
  int fd;

  if (strlen (path) >= sizeof addr.sun_path)
    return FALSE;
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0)
    return FALSE;
  /* A full backlog gives EAGAIN: somebody listens. */
  dead = connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0 &&
         (errno == ECONNREFUSED || errno == ENOENT);
  close (fd);
  return dead;
}

static gboolean
prune_sockets (const char  *root,
               int          root_fd,
               gboolean     dry_run,
               GHashTable  *served_hashes,
               HolderReclaimFunc   report,
               gpointer     user_data,
               GError     **error)
{
  g_autoptr(GPtrArray) entries = NULL;
  int run_fd = open_dir_at (root_fd, "run");
  gboolean ok = TRUE;

  if (run_fd < 0)
    return TRUE;
  entries = list_dir (run_fd);
  for (guint i = 0; ok && i < entries->len; i++)
    {
      const char *entry = g_ptr_array_index (entries, i);
      const char *dot = strrchr (entry, '.');
      g_autofree char *hash = NULL;
      g_autofree char *shown = NULL;
      struct stat st;

      if (dot == NULL || (strcmp (dot, ".sock") != 0 && strcmp (dot, ".ctl") != 0))
        continue;
      hash = g_strndup (entry, dot - entry);
      if (g_hash_table_contains (served_hashes, hash))
        continue;
      if (fstatat (run_fd, entry, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISSOCK (st.st_mode))
        continue;
      shown = g_build_filename (root, "run", entry, NULL);
      if (!socket_is_dead (shown))
        continue;
      ok = remove_at (run_fd, entry, shown, dry_run, report, user_data, error);
    }
  close (run_fd);
  return ok;
}

gboolean
holder_store_prune (const char        *root,
                    gboolean           dry_run,
                    HolderReclaimFunc  report,
                    gpointer           user_data,
                    GError           **error)
{
  g_autoptr(GHashTable) served_hashes = NULL;
  gboolean ok;
  int root_fd;

  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  root_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    {
      int saved_errno = errno;

      /* An empty store has nothing to prune. */
      if (saved_errno == ENOENT)
        return TRUE;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "open the storage root %s: %s", root, g_strerror (saved_errno));
      return FALSE;
    }

  served_hashes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ok = prune_pidfiles (root, root_fd, dry_run, served_hashes, report, user_data, error) &&
       prune_sockets (root, root_fd, dry_run, served_hashes, report, user_data, error);
  close (root_fd);
  return ok;
}
