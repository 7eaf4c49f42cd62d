/* SPDX-License-Identifier: MIT
 *
 * The runtime folder of the cluster networks (see holder-linux-net-dir.h):
 * found without following a symbolic link, checked at every step, and
 * reached only through checked descriptors.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-linux-net"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holder-backend.h"
#include "holder-linux-net-dir.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

#define DIR_MODE        0700
#define FILE_MODE       0600
#define LOCK_NAME       ".lock"
#define NETNS_PREFIX    "net-"
#define MAX_FILE_SIZE   (64 * 1024)
/* While another helper holds the lock: how often the waiting thread looks
 * again, and at the cancellable meanwhile. */
#define LOCK_RETRY_MS   5

static gboolean
set_errno_error (GError    **error,
                 int         saved_errno,
                 const char *what,
                 const char *path)
{
  g_set_error (error, HOLDER_ERROR,
               (saved_errno == EPERM || saved_errno == EACCES)
                 ? HOLDER_ERROR_PERMISSION_DENIED : HOLDER_ERROR_BACKEND,
               "%s %s: %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

static const char *
owner_word (void)
{
  return geteuid () == 0 ? "root" : "the helper's user";
}

char *
holder_net_runtime_path (void)
{
  const char *env = g_getenv (HOLDER_NET_RUNTIME_DIR_ENV);

  return g_strdup (env != NULL && env[0] != '\0' ? env : HOLDER_NET_RUNTIME_DIR_DEFAULT);
}

/* A folder on the way to the runtime folder: root's or ours, and if others
 * may write to it, sticky (like /tmp), so that they cannot rename what we
 * make there. */
static gboolean
check_parent (const struct stat *st,
              const char        *path,
              GError           **error)
{
  const char *why = NULL;

  if (!S_ISDIR (st->st_mode))
    why = "not a folder";
  else if (st->st_uid != 0 && st->st_uid != geteuid ())
    why = "owned by another user";
  else if ((st->st_mode & 0022) != 0 && (st->st_mode & S_ISVTX) == 0)
    why = "writable by others and not sticky";
  if (why == NULL)
    return TRUE;
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
               "runtime folder: %s is %s (uid %u, mode %04o): choose a runtime "
               "folder (%s) whose parents only root can change",
               path, why, (guint) st->st_uid, (guint) (st->st_mode & 07777),
               HOLDER_NET_RUNTIME_DIR_ENV);
  return FALSE;
}

/* The runtime folder and the namespace folders: ours alone. */
static gboolean
check_private_dir (int         fd,
                   const char *path,
                   GError    **error)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    return set_errno_error (error, errno, "inspect runtime folder", path);
  if (!S_ISDIR (st.st_mode))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                   "runtime folder %s is not a folder: remove it", path);
      return FALSE;
    }
  if (st.st_uid != geteuid ())
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                   "runtime folder %s is owned by uid %u, not %s: it holds "
                   "privileged network state, so remove it (it is made again) "
                   "or chown it to %s and chmod it 0700",
                   path, (guint) st.st_uid, owner_word (), owner_word ());
      return FALSE;
    }
  if ((st.st_mode & 0022) != 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                   "runtime folder %s has mode %04o, so others can write to it: "
                   "chmod it 0700", path, (guint) (st.st_mode & 07777));
      return FALSE;
    }
  return TRUE;
}

/* Opens @name inside @parent_fd as a folder, never through a symbolic
 * link, creating it (0700) when @create. */
static int
open_dir_at (int          parent_fd,
             const char  *name,
             const char  *path,
             gboolean     create,
             gboolean    *out_missing,
             GError     **error)
{
  gboolean made = FALSE;
  struct stat st;
  int fd;

  if (fstatat (parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT && !create && out_missing != NULL)
        {
          *out_missing = TRUE;
          return -1;
        }
      if (errno != ENOENT || !create)
        {
          set_errno_error (error, errno, "inspect", path);
          return -1;
        }
      if (mkdirat (parent_fd, name, DIR_MODE) == 0)
        made = TRUE;
      else if (errno != EEXIST)
        {
          set_errno_error (error, errno, "create runtime folder", path);
          return -1;
        }
    }
  else if (S_ISLNK (st.st_mode))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                   "runtime folder: %s is a symbolic link: it must be a real "
                   "folder (remove the link)", path);
      return -1;
    }
  fd = openat (parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ELOOP)
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                     "runtime folder: %s is a symbolic link: it must be a real "
                     "folder (remove the link)", path);
      else
        set_errno_error (error, errno, "open", path);
      return -1;
    }
  /* Exactly 0700, whatever the umask made of it. */
  if (made && fchmod (fd, DIR_MODE) < 0)
    g_debug ("chmod %s: %s", path, g_strerror (errno));
  return fd;
}

/* Walks @path from "/" one component at a time, checking each, and opens
 * (or makes) its last component. */
static int
open_runtime_folder (const char  *path,
                     GError     **error)
{
  g_auto(GStrv) parts = NULL;
  g_autoptr(GString) walked = g_string_new ("");
  guint n = 0;
  int fd;

  if (!g_path_is_absolute (path))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "runtime folder %s (%s) must be an absolute path", path,
                   HOLDER_NET_RUNTIME_DIR_ENV);
      return -1;
    }
  parts = g_strsplit (path, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    n += parts[i][0] != '\0' ? 1 : 0;
  if (n == 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "runtime folder %s: choose a folder of its own, not /", path);
      return -1;
    }

  fd = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      set_errno_error (error, errno, "open", "/");
      return -1;
    }
  for (guint i = 0; parts[i] != NULL; i++)
    {
      const char *part = parts[i];
      gboolean last;
      struct stat st;
      int next;

      if (part[0] == '\0')
        continue;
      if (strcmp (part, ".") == 0 || strcmp (part, "..") == 0)
        {
          close (fd);
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                       "runtime folder %s: no . or .. components, please", path);
          return -1;
        }
      n--;
      last = n == 0;
      g_string_append_printf (walked, "/%s", part);
      next = open_dir_at (fd, part, walked->str, last, NULL, error);
      close (fd);
      if (next < 0)
        return -1;
      fd = next;
      if (last)
        break;
      if (fstat (fd, &st) < 0)
        {
          set_errno_error (error, errno, "inspect", walked->str);
          close (fd);
          return -1;
        }
      if (!check_parent (&st, walked->str, error))
        {
          close (fd);
          return -1;
        }
    }
  if (!check_private_dir (fd, path, error))
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* Links, routes and forwarding values belong to a network namespace, so
 * the records do too. The namespace cookie is never reused while the
 * system runs (the folder is per boot); the inode is the fallback on
 * kernels before 5.14. */
static char *
netns_folder_name (void)
{
  guint64 cookie = 0;
  socklen_t len = sizeof cookie;
  struct stat st;
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  gboolean have_cookie = FALSE;

  if (fd >= 0)
    {
      have_cookie = getsockopt (fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) == 0 &&
                    len == sizeof cookie;
      close (fd);
    }
  if (have_cookie)
    return g_strdup_printf (NETNS_PREFIX "%" G_GUINT64_FORMAT, cookie);
  if (stat ("/proc/self/ns/net", &st) == 0)
    return g_strdup_printf (NETNS_PREFIX "i%" G_GUINT64_FORMAT, (guint64) st.st_ino);
  return g_strdup (NETNS_PREFIX "0");
}

void
holder_net_dir_free (HolderNetDir *dir)
{
  if (dir == NULL)
    return;
  if (dir->runtime_fd >= 0)
    close (dir->runtime_fd);
  if (dir->fd >= 0)
    close (dir->fd);
  g_free (dir->runtime_path);
  g_free (dir->name);
  g_free (dir->path);
  g_free (dir);
}

/* Opens this namespace's folder: checked like the runtime folder. */
static gboolean
dir_open_netns (HolderNetDir *dir,
                gboolean      create,
                GError      **error)
{
  gboolean missing = FALSE;
  int fd;

  fd = open_dir_at (dir->runtime_fd, dir->name, dir->path, create, &missing, error);
  if (fd < 0)
    return missing;
  if (!check_private_dir (fd, dir->path, error))
    {
      close (fd);
      return FALSE;
    }
  dir->fd = fd;
  return TRUE;
}

HolderNetDir *
holder_net_dir_open (GError **error)
{
  g_autoptr(HolderNetDir) dir = g_new0 (HolderNetDir, 1);
  const char *env = g_getenv (HOLDER_NET_RUNTIME_DIR_ENV);

  dir->runtime_fd = -1;
  dir->fd = -1;
  dir->runtime_path = holder_net_runtime_path ();
  if (geteuid () != 0 && (env == NULL || env[0] == '\0'))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                   "runtime folder %s needs root; to run without root, set %s "
                   "to a folder of your own that no one else can write to",
                   dir->runtime_path, HOLDER_NET_RUNTIME_DIR_ENV);
      return NULL;
    }
  dir->runtime_fd = open_runtime_folder (dir->runtime_path, error);
  if (dir->runtime_fd < 0)
    return NULL;
  dir->name = netns_folder_name ();
  dir->path = g_build_filename (dir->runtime_path, dir->name, NULL);
  if (!dir_open_netns (dir, FALSE, error))
    return NULL;
  return g_steal_pointer (&dir);
}

/* Opens the folder again if it went (or came) while we did not hold the
 * lock: another helper may have tidied it away, or made it. */
static gboolean
dir_refresh (HolderNetDir *dir,
             gboolean      create,
             GError      **error)
{
  if (dir->fd >= 0)
    {
      struct stat st;

      if (fstat (dir->fd, &st) == 0 && st.st_nlink > 0)
        return TRUE;
      close (dir->fd);
      dir->fd = -1;
    }
  return dir_open_netns (dir, create, error);
}

gboolean
holder_net_dir_refresh (HolderNetDir *dir,
                        GError      **error)
{
  return dir_refresh (dir, FALSE, error);
}

gboolean
holder_net_dir_ensure (HolderNetDir *dir,
                       GError      **error)
{
  return dir_refresh (dir, TRUE, error);
}

/* Removes the folder @name of the runtime folder if it is empty. */
static void
tidy_one (HolderNetDir *dir,
          const char   *name)
{
  if (unlinkat (dir->runtime_fd, name, AT_REMOVEDIR) == 0)
    g_debug ("removed empty runtime folder %s/%s", dir->runtime_path, name);
  else if (errno != ENOTEMPTY && errno != EEXIST && errno != ENOENT)
    g_debug ("remove runtime folder %s/%s: %s", dir->runtime_path, name, g_strerror (errno));
}

void
holder_net_dir_tidy (HolderNetDir *dir,
                     gboolean      others)
{
  DIR *listing;
  struct dirent *entry;
  int fd;

  if (!others)
    {
      tidy_one (dir, dir->name);
      return;
    }
  fd = openat (dir->runtime_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (listing = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  while ((entry = readdir (listing)) != NULL)
    {
      struct stat st;

      if (!g_str_has_prefix (entry->d_name, NETNS_PREFIX) ||
          fstatat (dir->runtime_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
          !S_ISDIR (st.st_mode))
        continue;
      tidy_one (dir, entry->d_name);
    }
  closedir (listing);
}

gboolean
holder_net_file_is_trusted (int         fd,
                            const char *shown,
                            GError    **error)
{
  struct stat st;
  const char *why = NULL;

  if (fstat (fd, &st) < 0)
    return set_errno_error (error, errno, "inspect", shown);
  if (!S_ISREG (st.st_mode))
    why = "not a regular file";
  else if (st.st_uid != geteuid ())
    why = "owned by another user";
  else if ((st.st_mode & 0022) != 0)
    why = "writable by others";
  else if (st.st_nlink != 1)
    why = "hard-linked";
  if (why == NULL)
    return TRUE;
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
               "%s is %s (uid %u, mode %04o, %u links), so %s cannot have "
               "written it", shown, why, (guint) st.st_uid,
               (guint) (st.st_mode & 07777), (guint) st.st_nlink, owner_word ());
  return FALSE;
}

int
holder_net_dir_lock (HolderNetDir  *dir,
                     GCancellable  *cancellable,
                     GError       **error)
{
  g_autofree char *path = g_build_filename (dir->runtime_path, LOCK_NAME, NULL);
  GPollFD cancel_poll = { .fd = -1, .events = G_IO_IN };
  gboolean polling = FALSE;
  int fd;

  fd = openat (dir->runtime_fd, LOCK_NAME,
               O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, FILE_MODE);
  if (fd < 0)
    {
      if (errno == ELOOP)
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                     "open %s: a symbolic link: remove it", path);
      else
        set_errno_error (error, errno, "open", path);
      return -1;
    }
  if (!holder_net_file_is_trusted (fd, path, error))
    {
      close (fd);
      return -1;
    }
  if (cancellable != NULL)
    polling = g_cancellable_make_pollfd (cancellable, &cancel_poll);
  for (;;)
    {
      if (flock (fd, LOCK_EX | LOCK_NB) == 0)
        break;
      if (errno == EINTR)
        continue;
      if (errno != EWOULDBLOCK)
        {
          set_errno_error (error, errno, "lock", path);
          goto fail;
        }
      /* flock() cannot be woken by a cancellable: look again every few
       * milliseconds, sleeping on the cancellable meanwhile. This runs on
       * a worker thread, never on the main loop. */
      if (polling)
        g_poll (&cancel_poll, 1, LOCK_RETRY_MS);
      else
        g_usleep (LOCK_RETRY_MS * G_TIME_SPAN_MILLISECOND);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          g_prefix_error (error, "wait for %s: ", path);
          goto fail;
        }
    }
  if (polling)
    g_cancellable_release_fd (cancellable);
  return fd;

fail:
  if (polling)
    g_cancellable_release_fd (cancellable);
  close (fd);
  return -1;
}

void
holder_net_dir_unlock (int fd)
{
  if (fd >= 0)
    close (fd);
}

gboolean
holder_net_dir_read (HolderNetDir *dir,
                     const char   *name,
                     char        **out_contents,
                     gsize        *out_len,
                     GError      **error)
{
  g_autofree char *path = g_build_filename (dir->path, name, NULL);
  g_autoptr(GString) contents = g_string_new (NULL);
  int fd;

  if (dir->fd < 0)
    return set_errno_error (error, ENOENT, "read", path);
  /* O_NONBLOCK: a FIFO planted here must not hang the reader. */
  fd = openat (dir->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return set_errno_error (error, errno, "read", path);
  if (!holder_net_file_is_trusted (fd, path, error))
    {
      close (fd);
      return FALSE;
    }
  for (;;)
    {
      char buf[4096];
      ssize_t n = read (fd, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;
          close (fd);
          return set_errno_error (error, saved_errno, "read", path);
        }
      if (n == 0)
        break;
      g_string_append_len (contents, buf, n);
      if (contents->len > MAX_FILE_SIZE)
        {
          close (fd);
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                       "%s: larger than %u bytes", path, (guint) MAX_FILE_SIZE);
          return FALSE;
        }
    }
  close (fd);
  *out_len = contents->len;
  *out_contents = g_string_free (g_steal_pointer (&contents), FALSE);
  return TRUE;
}

gboolean
holder_net_dir_write (HolderNetDir *dir,
                      const char   *name,
                      const char   *contents,
                      gsize         len,
                      GError      **error)
{
  if (dir->fd < 0)
    {
      g_autofree char *path = g_build_filename (dir->path, name, NULL);
      return set_errno_error (error, ENOENT, "write", path);
    }
  if (!holder_file_replace_at (dir->fd, name, contents, len, FILE_MODE, error))
    {
      g_prefix_error (error, "in %s: ", dir->path);
      return FALSE;
    }
  return TRUE;
}

gboolean
holder_net_dir_remove (HolderNetDir *dir,
                       const char   *name,
                       GError      **error)
{
  if (dir->fd < 0)
    return TRUE;
  if (unlinkat (dir->fd, name, 0) < 0 && errno != ENOENT)
    {
      g_autofree char *path = g_build_filename (dir->path, name, NULL);
      return set_errno_error (error, errno, "remove", path);
    }
  return TRUE;
}

gboolean
holder_net_dir_has (HolderNetDir *dir,
                    const char   *name)
{
  struct stat st;

  return dir->fd >= 0 && fstatat (dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static gint
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
holder_net_dir_list (HolderNetDir *dir)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  DIR *listing;
  struct dirent *entry;
  int fd;

  if (dir->fd < 0)
    return names;
  fd = openat (dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (listing = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return names;
    }
  while ((entry = readdir (listing)) != NULL)
    {
      if (strcmp (entry->d_name, ".") != 0 && strcmp (entry->d_name, "..") != 0)
        g_ptr_array_add (names, g_strdup (entry->d_name));
    }
  closedir (listing);
  g_ptr_array_sort (names, compare_names);
  return names;
}
