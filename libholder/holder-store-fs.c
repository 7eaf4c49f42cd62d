/* holder-store-fs.c: the storage root, opened once and checked (see
 * holder-store-fs-private.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-store"
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "holder-backend.h"
#include "holder-error.h"
#include "holder-store.h"
#include "holder-store-fs-private.h"

/* Links followed on the way to the root before giving up (as the kernel's
 * ELOOP bound). */
#define MAX_LINKS 40
/* A pidfile holds at most 19 digits (holder_store_read_pidfile()). */
#define PIDFILE_READ_MAX 32

struct _HolderStoreDir {
  gint      ref_count;
  char     *path;
  int       root_fd;
  int       run_fd;
  int       clusters_fd;
  /* Running as root: owners and modes are checked. */
  gboolean  strict;
  gboolean  has_sudo_uid;
  uid_t     sudo_uid;
  gboolean  has_sudo_gid;
  gid_t     sudo_gid;
  /* The root folder's owner, which new entries get (root only). */
  uid_t     owner_uid;
  gid_t     owner_gid;
  /* run/.bind-shared-<euid> was opened: removed when we are done. */
  gboolean  used_bind_folder;
};

/* ------------------------------------------------------------ identities */

static gboolean
parse_id (const char *text,
          guint32    *out)
{
  guint64 value = 0;

  if (text == NULL ||
      !g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32 - 1, &value, NULL))
    return FALSE;
  *out = (guint32) value;
  return TRUE;
}

/* Read at every open, not once: the environment is the process's, and the
 * unit tests change it between cases. */
static void
store_read_identity (HolderStoreDir *store)
{
  guint32 id;

  store->strict = geteuid () == 0;
  if (!store->strict)
    return;
  /* The same rule as the peer check (holder-peer.c): SUDO_UID counts only
   * for a helper that runs as root. */
  if (parse_id (g_getenv ("SUDO_UID"), &id))
    {
      store->has_sudo_uid = TRUE;
      store->sudo_uid = (uid_t) id;
    }
  if (parse_id (g_getenv ("SUDO_GID"), &id))
    {
      store->has_sudo_gid = TRUE;
      store->sudo_gid = (gid_t) id;
    }
}

gboolean
holder_store_dir_trusts_uid (HolderStoreDir *store,
                             uid_t           uid)
{
  return !store->strict || uid == 0 || (store->has_sudo_uid && uid == store->sudo_uid);
}

gboolean
holder_store_dir_is_strict (HolderStoreDir *store)
{
  return store->strict;
}

static char *
trusted_owners_text (HolderStoreDir *store)
{
  if (store->has_sudo_uid)
    return g_strdup_printf ("root or uid %u (SUDO_UID)", (guint) store->sudo_uid);
  return g_strdup ("root");
}

/* The owner, mode and link checks of a folder, as described in the header.
 * @above_root: a folder on the way to the root (a sticky one may be
 * world-writable: only an entry's owner can replace it there). */
static gboolean
check_folder (HolderStoreDir     *store,
              const struct stat  *st,
              const char         *path,
              gboolean            above_root,
              GError            **error)
{
  gboolean owner_ok, mode_ok;
  g_autoptr(GString) fix = NULL;
  g_autofree char *owners = NULL;

  if (!S_ISDIR (st->st_mode))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR,
                   "storage folder %s is not a folder", path);
      return FALSE;
    }
  if (!store->strict)
    return TRUE;

  owner_ok = holder_store_dir_trusts_uid (store, st->st_uid);
  mode_ok = (st->st_mode & (S_IWGRP | S_IWOTH)) == 0 ||
            (above_root && (st->st_mode & S_ISVTX) != 0);
  if (owner_ok && mode_ok)
    return TRUE;

  fix = g_string_new (NULL);
  if (!owner_ok)
    g_string_append_printf (fix, "chown %u '%s'",
                            store->has_sudo_uid ? (guint) store->sudo_uid : 0u, path);
  if (!mode_ok)
    g_string_append_printf (fix, "%schmod go-w '%s'", fix->len > 0 ? " and " : "", path);
  owners = trusted_owners_text (store);
  if (above_root)
    g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH,
                 "unsafe storage root %s: the folder %s on its way (owner uid %u, mode %04o) "
                 "lets another user replace what is below it; a helper running as root "
                 "needs every folder up to the storage root to belong to %s and to be "
                 "writable by nobody else (or sticky): run %s, or set FLEETBOX_HOME to a "
                 "folder of your own",
                 store->path, path, (guint) st->st_uid, (guint) (st->st_mode & 07777),
                 owners, fix->str);
  else
    g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH,
                 "unsafe storage folder %s (owner uid %u, mode %04o): a helper running as "
                 "root uses only folders that belong to %s and that neither group nor "
                 "others can write to: run %s, or set FLEETBOX_HOME to a folder of your own",
                 path, (guint) st->st_uid, (guint) (st->st_mode & 07777), owners, fix->str);
  return FALSE;
}

static gboolean
set_errno_error (GError    **error,
                 int         saved_errno,
                 const char *what,
                 const char *path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               "%s %s: %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

static gboolean
set_link_error (GError    **error,
                const char *path,
                gboolean    folder)
{
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH,
               "%s is a symbolic link: the helper never follows links inside the storage "
               "root; %s", path,
               folder ? "replace it with a real folder (or remove it)" : "remove it");
  return FALSE;
}

void
holder_store_dir_give_to_owner (HolderStoreDir *store,
                                int             fd)
{
  if (!store->strict || store->owner_uid == 0)
    return;
  if (fchown (fd, store->owner_uid, store->owner_gid) != 0)
    g_debug ("give a new entry of %s to uid %u: %s", store->path,
             (guint) store->owner_uid, g_strerror (errno));
}

/* Exactly 0755 whatever the umask: a helper running as root must leave
 * run/ traversable for the user who connects to its sockets. */
static void
made_folder (HolderStoreDir *store,
             int             fd,
             uid_t           new_uid,
             gid_t           new_gid)
{
  if (fchmod (fd, 0755) != 0)
    g_debug ("fchmod a new folder of %s: %s", store->path, g_strerror (errno));
  if (store->strict && new_uid != 0 && fchown (fd, new_uid, new_gid) != 0)
    g_debug ("give a new folder of %s to uid %u: %s", store->path, (guint) new_uid,
             g_strerror (errno));
}

/* ------------------------------------------------------------- sun_path */

gsize
holder_store_sun_path_max (void)
{
  struct sockaddr_un addr;

  return sizeof addr.sun_path - 1;
}

gboolean
holder_store_check_socket_paths (const char *root,
                                 GError    **error)
{
  /* Every socket name has the same length (16 hex digits plus ".sock" or
   * ".ctl"): the member socket is the longest. */
  g_autofree char *longest = holder_store_socket_path (root, "x");
  gsize len = strlen (longest);
  gsize max = holder_store_sun_path_max ();

  if (len <= max)
    return TRUE;
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
               "storage root %s is too long: its socket paths (such as %s) are %" G_GSIZE_FORMAT
               " bytes, over the limit of %" G_GSIZE_FORMAT " bytes for a Unix socket "
               "path here (sun_path holds %" G_GSIZE_FORMAT " with the terminating NUL); "
               "set FLEETBOX_HOME to a folder of at most %" G_GSIZE_FORMAT " bytes",
               root, longest, len, max, max + 1, strlen (root) - (len - max));
  return FALSE;
}

/* --------------------------------------------------------- the root path */

/* Pushes the components of @path onto @stack so that the first is popped
 * first. */
static void
push_components (GPtrArray  *stack,
                 const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, "/", -1);

  for (guint i = g_strv_length (parts); i > 0; i--)
    if (parts[i - 1][0] != '\0' && strcmp (parts[i - 1], ".") != 0)
      g_ptr_array_add (stack, g_strdup (parts[i - 1]));
}

static int
open_start (const char  *path,
            char       **out_shown)
{
  gboolean absolute = path[0] == '/';

  *out_shown = g_strdup (absolute ? "/" : ".");
  return open (absolute ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Opens @store->path component by component (see the header), creating
 * missing folders when @create. Links are followed only when the link, and
 * the folder holding it, belong to trusted users. */
static int
open_root (HolderStoreDir  *store,
           gboolean         create,
           GError         **error)
{
  const char *root = store->path;
  const char *verb = create ? "create" : "open";
  g_autoptr(GPtrArray) stack = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *shown = NULL;
  guint links = 0;
  struct stat st;
  int cur;

  cur = open_start (root, &shown);
  if (cur < 0)
    {
      set_errno_error (error, errno, verb, root);
      return -1;
    }
  if (fstat (cur, &st) != 0 || !check_folder (store, &st, shown, TRUE, error))
    {
      if (error != NULL && *error == NULL)
        set_errno_error (error, errno, verb, root);
      close (cur);
      return -1;
    }
  push_components (stack, root);

  while (stack->len > 0)
    {
      g_autofree char *name = g_ptr_array_steal_index (stack, stack->len - 1);
      g_autofree char *path = strcmp (name, "..") == 0 ? g_path_get_dirname (shown)
                                                        : g_build_filename (shown, name, NULL);
      int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (store->strict ? O_NOFOLLOW : 0);
      gboolean made = FALSE;
      int next;

      next = openat (cur, name, flags);
      if (next < 0 && errno == ENOENT && create)
        {
          if (mkdirat (cur, name, 0755) == 0)
            made = TRUE;
          else if (errno != EEXIST)
            {
              set_errno_error (error, errno, verb, root);
              close (cur);
              return -1;
            }
          next = openat (cur, name, flags);
        }
      if (next < 0 && store->strict && (errno == ELOOP || errno == ENOTDIR || errno == EMLINK))
        {
          char target[PATH_MAX];
          ssize_t n;

          if (fstatat (cur, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK (st.st_mode))
            {
              set_errno_error (error, ENOTDIR, verb, root);
              close (cur);
              return -1;
            }
          /* The folder holding the link passed the check, so only a trusted
           * user (or, in a sticky folder, the link's owner) could put it
           * there: follow it if that owner is trusted too. */
          if (!holder_store_dir_trusts_uid (store, st.st_uid))
            {
              g_autofree char *owners = trusted_owners_text (store);

              g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH,
                           "unsafe storage root %s: the symbolic link %s on its way belongs "
                           "to uid %u; a helper running as root follows only links that "
                           "belong to %s: set FLEETBOX_HOME to the real folder",
                           root, path, (guint) st.st_uid, owners);
              close (cur);
              return -1;
            }
          n = readlinkat (cur, name, target, sizeof target - 1);
          if (n < 0 || ++links > MAX_LINKS)
            {
              set_errno_error (error, n < 0 ? errno : ELOOP, verb, root);
              close (cur);
              return -1;
            }
          target[n] = '\0';
          push_components (stack, target);
          if (target[0] == '/')
            {
              close (cur);
              g_clear_pointer (&shown, g_free);
              cur = open_start (target, &shown);
              if (cur < 0 || fstat (cur, &st) != 0 ||
                  !check_folder (store, &st, shown, TRUE, error))
                {
                  if (error != NULL && *error == NULL)
                    set_errno_error (error, errno, verb, root);
                  if (cur >= 0)
                    close (cur);
                  return -1;
                }
            }
          continue;
        }
      if (next < 0)
        {
          set_errno_error (error, errno, verb, root);
          close (cur);
          return -1;
        }
      close (cur);
      cur = next;
      g_free (shown);
      shown = g_steal_pointer (&path);

      if (fstat (cur, &st) != 0)
        {
          set_errno_error (error, errno, verb, root);
          close (cur);
          return -1;
        }
      /* Made here (and still ours, not something swapped in): it belongs to
       * the user who ran sudo, so that the store stays theirs. */
      if (made && st.st_uid == geteuid ())
        {
          made_folder (store, cur, store->has_sudo_uid ? store->sudo_uid : 0,
                       store->has_sudo_gid ? store->sudo_gid : (gid_t) -1);
          if (fstat (cur, &st) != 0)
            {
              set_errno_error (error, errno, verb, root);
              close (cur);
              return -1;
            }
        }
      /* A folder on the way; the root itself is checked below. */
      if (stack->len > 0 && !check_folder (store, &st, shown, TRUE, error))
        {
          close (cur);
          return -1;
        }
    }

  /* The root itself (where the last link led): no sticky exception. */
  if (fstat (cur, &st) != 0)
    {
      set_errno_error (error, errno, verb, root);
      close (cur);
      return -1;
    }
  if (!check_folder (store, &st, root, FALSE, error))
    {
      close (cur);
      return -1;
    }
  store->owner_uid = st.st_uid;
  store->owner_gid = st.st_gid;
  return cur;
}

/* -------------------------------------------------------------- folders */

int
holder_store_dir_open_folder (HolderStoreDir  *store,
                              int              parent_fd,
                              const char      *parent_path,
                              const char      *name,
                              gboolean         create,
                              GError         **error)
{
  g_autofree char *path = g_build_filename (parent_path, name, NULL);
  const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  gboolean made = FALSE;
  struct stat st;
  int fd;

  fd = openat (parent_fd, name, flags);
  if (fd < 0 && errno == ENOENT && create)
    {
      if (mkdirat (parent_fd, name, 0755) == 0)
        made = TRUE;
      else if (errno != EEXIST)
        {
          set_errno_error (error, errno, "create", path);
          return -1;
        }
      fd = openat (parent_fd, name, flags);
    }
  if (fd < 0)
    {
      int saved_errno = errno;

      if ((saved_errno == ELOOP || saved_errno == ENOTDIR || saved_errno == EMLINK) &&
          fstatat (parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode))
        set_link_error (error, path, TRUE);
      else
        set_errno_error (error, saved_errno, "open", path);
      return -1;
    }
  if (fstat (fd, &st) != 0)
    {
      set_errno_error (error, errno, "open", path);
      close (fd);
      return -1;
    }
  if (made && st.st_uid == geteuid ())
    {
      made_folder (store, fd, store->owner_uid, store->owner_gid);
      if (fstat (fd, &st) != 0)
        {
          set_errno_error (error, errno, "open", path);
          close (fd);
          return -1;
        }
    }
  if (!check_folder (store, &st, path, FALSE, error))
    {
      close (fd);
      return -1;
    }
  return fd;
}

int
holder_store_dir_open_member (HolderStoreDir  *store,
                              const char      *name,
                              gboolean         create,
                              GError         **error)
{
  g_autofree char *cluster = holder_store_cluster_name (name);
  g_autofree char *clusters_path = g_build_filename (store->path, "clusters", NULL);
  g_autofree char *cluster_path = g_build_filename (clusters_path, cluster, NULL);
  int cluster_fd, fd;

  if (store->clusters_fd < 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "open %s: %s", clusters_path,
                   g_strerror (ENOENT));
      return -1;
    }
  cluster_fd = holder_store_dir_open_folder (store, store->clusters_fd, clusters_path,
                                             cluster, create, error);
  if (cluster_fd < 0)
    return -1;
  fd = holder_store_dir_open_folder (store, cluster_fd, cluster_path, name, create, error);
  close (cluster_fd);
  return fd;
}

/* --------------------------------------------------------------- files */

int
holder_store_dir_open_log (HolderStoreDir  *store,
                           const char      *name,
                           GError         **error)
{
  g_autofree char *path = g_build_filename (store->path, name, NULL);
  struct stat st;
  int saved_errno;
  int fd;

  /* O_NONBLOCK: a FIFO without a reader fails (ENXIO) instead of hanging. */
  fd = openat (store->root_fd, name,
               O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      saved_errno = errno;
      if (saved_errno == ELOOP)
        {
          set_link_error (error, path, FALSE);
          return -1;
        }
      g_set_error (error, HOLDER_ERROR,
                   saved_errno == EACCES ? HOLDER_ERROR_PERMISSION_DENIED : HOLDER_ERROR_FAILED,
                   "open %s: %s", path, g_strerror (saved_errno));
      return -1;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_nlink != 1)
    {
      close (fd);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH,
                   "log file %s is not a plain file of the store; remove it", path);
      return -1;
    }
  if (fcntl (fd, F_SETFL, O_APPEND) != 0)
    g_debug ("clear O_NONBLOCK on %s: %s", path, g_strerror (errno));
  return fd;
}

gboolean
holder_store_read_pidfile_at (int          dir_fd,
                              const char  *shown,
                              GPid        *out_pid,
                              GError     **error)
{
  char contents[PIDFILE_READ_MAX];
  guint64 value = 0;
  struct stat st;
  ssize_t len;
  int fd;

  /* O_NONBLOCK: a FIFO planted as the pidfile must not hang the reader. */
  fd = openat (dir_fd, "pid", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ELOOP)
        return set_link_error (error, shown, FALSE);
      return set_errno_error (error, saved_errno, "open", shown);
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      goto malformed;
    }
  do
    len = read (fd, contents, sizeof contents);
  while (len < 0 && errno == EINTR);
  close (fd);

  /* Strict, like fleetbox's reader: no sign, no blanks, no newline. 19
   * digits cannot overflow a guint64; the pid_t bound is checked below. */
  if (len <= 0 || len > 19)
    goto malformed;
  for (gssize i = 0; i < len; i++)
    {
      if (!g_ascii_isdigit (contents[i]))
        goto malformed;
      value = value * 10 + (guint64) (contents[i] - '0');
    }
  if (value == 0 || value > G_MAXINT32)
    goto malformed;

  if (out_pid != NULL)
    *out_pid = (GPid) value;
  return TRUE;

malformed:
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL, "malformed pidfile %s", shown);
  return FALSE;
}

gboolean
holder_store_same_file (const struct stat *a,
                        const struct stat *b)
{
  /* An inode number is reused as soon as its file is gone: the type and
   * the change time tell a new file from ours. */
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
         (a->st_mode & S_IFMT) == (b->st_mode & S_IFMT) &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

gboolean
holder_store_stat_renamed (int          dir_fd,
                           const char  *name,
                           const struct stat *before,
                           struct stat *out_stat)
{
  struct stat now;

  /* A rename changes the inode's ctime: look again, and keep what we see
   * only if it is still our inode. */
  if (fstatat (dir_fd, name, &now, AT_SYMLINK_NOFOLLOW) != 0 ||
      now.st_dev != before->st_dev || now.st_ino != before->st_ino ||
      (now.st_mode & S_IFMT) != (before->st_mode & S_IFMT))
    return FALSE;
  *out_stat = now;
  return TRUE;
}

gboolean
holder_store_unlink_if_same (int                dir_fd,
                             const char        *name,
                             const struct stat *st)
{
  struct stat now;

  if (fstatat (dir_fd, name, &now, AT_SYMLINK_NOFOLLOW) != 0)
    return FALSE;
  if (!holder_store_same_file (&now, st))
    {
      g_debug ("%s was replaced since it was made; leaving it alone", name);
      return FALSE;
    }
  if (unlinkat (dir_fd, name, 0) != 0)
    {
      g_debug ("remove %s: %s", name, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* ---------------------------------------------------------------- the dir */

HolderStoreDir *
holder_store_dir_open (const char           *root,
                       HolderStoreDirFlags   flags,
                       GError              **error)
{
  static const char *const made[] = { "clusters", "images", "run" };
  /* Checked when present, never made here (the backends keep records in
   * it). */
  static const char *const checked[] = { "networks" };
  g_autoptr(HolderStoreDir) store = NULL;
  gboolean create = (flags & HOLDER_STORE_DIR_CREATE) != 0;

  g_return_val_if_fail (root != NULL && *root != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Before anything is made: a root whose sockets cannot be bound is no
   * root to create. */
  if (create && !holder_store_check_socket_paths (root, error))
    return NULL;

  store = g_new0 (HolderStoreDir, 1);
  store->ref_count = 1;
  store->path = g_strdup (root);
  store->root_fd = store->run_fd = store->clusters_fd = -1;
  store_read_identity (store);
  /* A query changes nothing through the store: owners need no check. */
  if ((flags & HOLDER_STORE_DIR_QUERY) != 0)
    store->strict = FALSE;

  store->root_fd = open_root (store, create, error);
  if (store->root_fd < 0)
    return NULL;

  for (guint i = 0; i < G_N_ELEMENTS (made); i++)
    {
      g_autoptr(GError) local_error = NULL;
      int fd = holder_store_dir_open_folder (store, store->root_fd, root, made[i], create,
                                             &local_error);

      if (fd < 0)
        {
          if (!create && g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            continue;
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      if (strcmp (made[i], "run") == 0)
        store->run_fd = fd;
      else if (strcmp (made[i], "clusters") == 0)
        store->clusters_fd = fd;
      else
        close (fd);
    }
  for (guint i = 0; i < G_N_ELEMENTS (checked); i++)
    {
      g_autoptr(GError) local_error = NULL;
      int fd = holder_store_dir_open_folder (store, store->root_fd, root, checked[i], FALSE,
                                             &local_error);

      if (fd >= 0)
        close (fd);
      else if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }

  return g_steal_pointer (&store);
}

HolderStoreDir *
holder_store_dir_ref (HolderStoreDir *store)
{
  store->ref_count++;
  return store;
}

/* A folder of this uid's that nobody else may enter or change. */
static gboolean
bind_folder_is_ours (const struct stat *st)
{
  return S_ISDIR (st->st_mode) && st->st_uid == geteuid () && (st->st_mode & 077) == 0;
}

static void
bind_folder_name (char  *name,
                  gsize  size)
{
  g_snprintf (name, size, HOLDER_STORE_SHARED_BIND_PREFIX "%u", (unsigned) geteuid ());
}

/* Only if it is still ours and empty: another helper of this uid may be
 * binding in it (its bind then fails, and it binds in a folder of its
 * own). */
static void
remove_bind_folder (HolderStoreDir *store)
{
  char name[sizeof HOLDER_STORE_SHARED_BIND_PREFIX + 16];
  struct stat st;

  bind_folder_name (name, sizeof name);
  if (store->run_fd >= 0 &&
      fstatat (store->run_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && bind_folder_is_ours (&st) &&
      unlinkat (store->run_fd, name, AT_REMOVEDIR) != 0 && errno != ENOTEMPTY &&
      errno != EEXIST)
    g_debug ("remove %s/run/%s: %s", store->path, name, g_strerror (errno));
}

void
holder_store_dir_unref (HolderStoreDir *store)
{
  if (store == NULL || --store->ref_count > 0)
    return;
  if (store->used_bind_folder)
    remove_bind_folder (store);
  if (store->clusters_fd >= 0)
    close (store->clusters_fd);
  if (store->run_fd >= 0)
    close (store->run_fd);
  if (store->root_fd >= 0)
    close (store->root_fd);
  g_free (store->path);
  g_free (store);
}

const char *
holder_store_dir_get_path (HolderStoreDir *store)
{
  return store->path;
}

int
holder_store_dir_get_run_fd (HolderStoreDir *store)
{
  return store->run_fd;
}

/* One folder for every bind, not one per bind: ext4 frees a removed
 * folder's block when its last descriptor is closed, which cost the main
 * loop 0.25 to 0.6 ms per member registered. */
int
holder_store_dir_open_bind_folder (HolderStoreDir *store)
{
  char name[sizeof HOLDER_STORE_SHARED_BIND_PREFIX + 16];
  struct stat st;
  int fd;

  g_return_val_if_fail (store->run_fd >= 0, -1);

  bind_folder_name (name, sizeof name);
  if (mkdirat (store->run_fd, name, 0700) != 0 && errno != EEXIST)
    return -1;
  fd = openat (store->run_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return -1;
  if (fstat (fd, &st) != 0 || !bind_folder_is_ours (&st))
    {
      g_debug ("%s/run/%s is not ours alone; binding in a folder of its own", store->path,
               name);
      close (fd);
      return -1;
    }
  store->used_bind_folder = TRUE;
  return fd;
}

int
holder_store_dir_get_clusters_fd (HolderStoreDir *store)
{
  return store->clusters_fd;
}

/* ---- for backends ----------------------------------------------------------- */

int
holder_store_open_folder (const char        *root,
                          const char *const *components,
                          gboolean           create,
                          GError           **error)
{
  g_autoptr(HolderStoreDir) store = NULL;
  g_autofree char *path = NULL;
  int fd;

  g_return_val_if_fail (root != NULL, -1);
  g_return_val_if_fail (components != NULL && components[0] != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  store = holder_store_dir_open (root, create ? HOLDER_STORE_DIR_CREATE : HOLDER_STORE_DIR_READ,
                                 error);
  if (store == NULL)
    return -1;
  path = g_strdup (root);
  fd = dup (store->root_fd);
  if (fd < 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "%s: %s", root, g_strerror (saved_errno));
      return -1;
    }
  for (guint i = 0; components[i] != NULL; i++)
    {
      g_autofree char *next_path = NULL;
      int next;

      if (strchr (components[i], '/') != NULL || g_str_equal (components[i], "..") ||
          g_str_equal (components[i], ".") || components[i][0] == '\0')
        {
          close (fd);
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                       "%s: \"%s\" is not a folder name", root, components[i]);
          return -1;
        }
      next = holder_store_dir_open_folder (store, fd, path, components[i], create, error);
      close (fd);
      if (next < 0)
        return -1;
      next_path = g_build_filename (path, components[i], NULL);
      g_free (path);
      path = g_steal_pointer (&next_path);
      fd = next;
    }
  return fd;
}

int
holder_store_open_member_folder (const char *root,
                                 const char *name,
                                 gboolean    create,
                                 GError    **error)
{
  g_autoptr(HolderStoreDir) store = NULL;

  g_return_val_if_fail (root != NULL, -1);
  g_return_val_if_fail (name != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  if (!holder_name_validate (name, error))
    return -1;
  store = holder_store_dir_open (root, create ? HOLDER_STORE_DIR_CREATE : HOLDER_STORE_DIR_READ,
                                 error);
  if (store == NULL)
    return -1;
  return holder_store_dir_open_member (store, name, create, error);
}
