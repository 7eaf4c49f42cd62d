/* holder-store-claim.c: the lock that makes a helper the one owner of a
 * name, and the socket and pidfile it makes under it (see
 * holder-store-claim-private.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-store"
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "holder-error.h"
#include "holder-store.h"
#include "holder-store-claim-private.h"
#include "holder-store-fs-private.h"
#include "holder-util-private.h"

/* A lock file unlinked between our open and our lock is tried again; a
 * store where that keeps happening is being played with. */
#define LOCK_ATTEMPTS 16
/* A lock busy for this long is a live helper's: a prune holds one for
 * microseconds. By then the winner of a duplicate start has written its
 * pidfile too (microseconds after its lock), so the message can name it. */
#define CLAIM_BUSY_MS 100
/* Past this, a busy lock with no live pid in the pidfile still means a
 * live helper (one that is stuck between its lock and its pidfile). */
#define CLAIM_WAIT_MS 1000
#define CLAIM_POLL_MS 2
#define BIND_FOLDER_PREFIX ".bind-"

/* ----------------------------------------------------------------- locks */

char *
holder_store_lock_name (const char *socket_name)
{
  return g_strconcat (socket_name, ".lock", NULL);
}

/* A write lock over the whole file, without waiting. Open-file-description
 * locks where there are (Linux): they belong to the open file, not the
 * process, so they conflict within one process too, and F_OFD_GETLK can
 * look at them without taking them. */
static gboolean
lock_fd_try (int fd)
{
#ifdef F_OFD_SETLK
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

  return fcntl (fd, F_OFD_SETLK, &fl) == 0;
#else
  return flock (fd, LOCK_EX | LOCK_NB) == 0;
#endif
}

static gboolean
lock_errno_is_busy (int saved_errno)
{
  return saved_errno == EAGAIN || saved_errno == EACCES || saved_errno == EWOULDBLOCK;
}

HolderStoreLockResult
holder_store_lock_take (HolderStoreDir  *store,
                        const char      *lock_name,
                        int             *out_fd,
                        GError         **error)
{
  int run_fd = holder_store_dir_get_run_fd (store);
  g_autofree char *shown = g_build_filename (holder_store_dir_get_path (store), "run",
                                             lock_name, NULL);
  const int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;

  *out_fd = -1;
  for (guint attempt = 0; attempt < LOCK_ATTEMPTS; attempt++)
    {
      struct stat st, now;
      gboolean made = FALSE;
      int fd;

      fd = openat (run_fd, lock_name, flags | O_CREAT | O_EXCL, 0644);
      if (fd >= 0)
        made = TRUE;
      else if (errno == EEXIST)
        fd = openat (run_fd, lock_name, flags);
      if (fd < 0)
        {
          int saved_errno = errno;

          if (saved_errno == ENOENT)
            continue; /* removed between the two opens */
          if (saved_errno == ELOOP)
            g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH,
                         "lock file %s is a symbolic link: the helper never follows links "
                         "inside the storage root; remove it", shown);
          else
            g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                         "open lock file %s: %s", shown, g_strerror (saved_errno));
          return HOLDER_STORE_LOCK_FAILED;
        }
      if (fstat (fd, &st) != 0)
        {
          int saved_errno = errno;

          close (fd);
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       "open lock file %s: %s", shown, g_strerror (saved_errno));
          return HOLDER_STORE_LOCK_FAILED;
        }
      if (S_ISREG (st.st_mode) && st.st_nlink == 0)
        {
          close (fd); /* removed since we opened it */
          continue;
        }
      /* A hard link to a file elsewhere would have root lock (or, through
       * a mistake here, write) someone else's file. */
      if (!S_ISREG (st.st_mode) || st.st_nlink != 1 ||
          !holder_store_dir_trusts_uid (store, st.st_uid))
        {
          close (fd);
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH,
                       "lock file %s is not a plain file of the store (mode %06o, %u links, "
                       "owner uid %u); remove it", shown, (guint) st.st_mode,
                       (guint) st.st_nlink, (guint) st.st_uid);
          return HOLDER_STORE_LOCK_FAILED;
        }
      if (made)
        {
          if (fchmod (fd, 0644) != 0)
            g_debug ("fchmod %s: %s", shown, g_strerror (errno));
          holder_store_dir_give_to_owner (store, fd);
        }
      if (!lock_fd_try (fd))
        {
          int saved_errno = errno;

          close (fd);
          if (lock_errno_is_busy (saved_errno))
            return HOLDER_STORE_LOCK_BUSY;
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       "lock %s: %s", shown, g_strerror (saved_errno));
          return HOLDER_STORE_LOCK_FAILED;
        }
      /* The holder before us removes the file before it lets go: if we
       * locked a file that is no longer at the name, we hold nothing. */
      if (fstatat (run_fd, lock_name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
          now.st_dev == st.st_dev && now.st_ino == st.st_ino)
        {
          *out_fd = fd;
          return HOLDER_STORE_LOCK_TAKEN;
        }
      close (fd);
    }

  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH,
               "lock file %s keeps being replaced; is something else working in the "
               "storage root?", shown);
  return HOLDER_STORE_LOCK_FAILED;
}

gboolean
holder_store_lock_is_held (int         run_fd,
                           const char *lock_name)
{
  gboolean held = FALSE;
  struct stat st;
  int fd;

  if (run_fd < 0)
    return FALSE;
  fd = openat (run_fd, lock_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return FALSE;
  if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode))
    {
#ifdef F_OFD_GETLK
      struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

      held = fcntl (fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
#else
      /* No way to look without taking: a shared lock for an instant. A
       * helper taking the lock at that very instant sees it busy and
       * tries again (holder_store_claim_take()). */
      held = flock (fd, LOCK_SH | LOCK_NB) != 0 && lock_errno_is_busy (errno);
      if (!held)
        flock (fd, LOCK_UN);
#endif
    }
  close (fd);
  return held;
}

void
holder_store_lock_drop (HolderStoreDir *store,
                        const char     *lock_name,
                        int             fd)
{
  struct stat st;

  /* Removed while still held: whoever opened the file before the unlink
   * finds it gone once it gets the lock, and starts again with a new one. */
  if (fstat (fd, &st) == 0)
    holder_store_unlink_if_same (holder_store_dir_get_run_fd (store), lock_name, &st);
  close (fd);
}

/* ---------------------------------------------------------------- claims */

struct _HolderStoreClaim {
  HolderStoreDir       *store;
  HolderStoreClaimKind  kind;
  char                 *name;
  char                 *socket_name;
  char                 *socket_path;
  char                 *lock_name;
  int                   lock_fd;
  gboolean              has_socket;
  struct stat           socket_st;
  gboolean              has_pidfile;
  struct stat           pidfile_st;
};

/* The member's pidfile, if it names a live process other than us. */
static GPid
claim_other_pid (HolderStoreClaim *claim)
{
  g_autofree char *shown = holder_store_pidfile_path (holder_store_dir_get_path (claim->store),
                                                      claim->name);
  GPid pid = 0;
  int dir_fd;

  dir_fd = holder_store_dir_open_member (claim->store, claim->name, FALSE, NULL);
  if (dir_fd < 0)
    return 0;
  if (!holder_store_read_pidfile_at (dir_fd, shown, &pid, NULL))
    pid = 0;
  close (dir_fd);
  if (pid == getpid () || !holder_pid_is_alive (pid))
    return 0;
  return pid;
}

static gboolean
claim_busy_error (HolderStoreClaim  *claim,
                  GPid               pid,
                  GError           **error)
{
  if (claim->kind == HOLDER_STORE_CLAIM_CONTROL)
    g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_ALREADY_RUNNING,
                 "control socket %s is held by another helper", claim->socket_path);
  else if (pid > 0)
    g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_ALREADY_RUNNING,
                 "member %s is already served by helper %d", claim->name, (int) pid);
  else
    g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_ALREADY_RUNNING,
                 "member %s is already served by another helper", claim->name);
  return FALSE;
}

/* Takes the lock, telling a live owner from a passing prune: a prune lets
 * go within microseconds, a helper never (until it retires the name). Blocks
 * for at most CLAIM_WAIT_MS, and only when the lock is busy: a duplicate
 * start, or a runtime add of a name another helper serves. */
static gboolean
claim_lock (HolderStoreClaim  *claim,
            GError           **error)
{
  gint64 first_busy = 0;

  for (;;)
    {
      gint64 now;
      GPid pid;

      switch (holder_store_lock_take (claim->store, claim->lock_name, &claim->lock_fd, error))
        {
        case HOLDER_STORE_LOCK_TAKEN:
          return TRUE;
        case HOLDER_STORE_LOCK_FAILED:
          return FALSE;
        case HOLDER_STORE_LOCK_BUSY:
        default:
          break;
        }
      now = g_get_monotonic_time ();
      if (first_busy == 0)
        first_busy = now;
      if (now - first_busy >= CLAIM_BUSY_MS * 1000)
        {
          pid = claim->kind == HOLDER_STORE_CLAIM_MEMBER ? claim_other_pid (claim) : 0;
          if (pid > 0 || claim->kind == HOLDER_STORE_CLAIM_CONTROL ||
              now - first_busy >= CLAIM_WAIT_MS * 1000)
            return claim_busy_error (claim, pid, error);
        }
      g_usleep (CLAIM_POLL_MS * 1000);
    }
}

HolderStoreClaim *
holder_store_claim_take (HolderStoreDir        *store,
                         HolderStoreClaimKind   kind,
                         const char            *name,
                         GError               **error)
{
  g_autoptr(HolderStoreClaim) claim = NULL;
  g_autofree char *hash = holder_store_socket_hash (name);

  claim = g_new0 (HolderStoreClaim, 1);
  claim->store = holder_store_dir_ref (store);
  claim->kind = kind;
  claim->name = g_strdup (name);
  claim->lock_fd = -1;
  claim->socket_name = g_strconcat (hash, kind == HOLDER_STORE_CLAIM_MEMBER ? ".sock" : ".ctl",
                                    NULL);
  claim->socket_path = g_build_filename (holder_store_dir_get_path (store), "run",
                                         claim->socket_name, NULL);
  claim->lock_name = holder_store_lock_name (claim->socket_name);

  if (holder_store_dir_get_run_fd (store) < 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no run/ folder in %s",
                   holder_store_dir_get_path (store));
      return NULL;
    }
  if (!claim_lock (claim, error))
    return NULL;

  if (kind == HOLDER_STORE_CLAIM_MEMBER)
    {
      int dir_fd = holder_store_dir_open_member (store, name, TRUE, error);

      if (dir_fd < 0)
        return NULL;
      close (dir_fd);
    }
  return g_steal_pointer (&claim);
}

const char *
holder_store_claim_get_socket_path (HolderStoreClaim *claim)
{
  return claim->socket_path;
}

/* bind() to @name in the folder @dir_fd, whatever the folder's path (and
 * however long it is), never resolving that path again. */
static int
bind_in_folder (int         sock,
                int         dir_fd,
                const char *name)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };

#if defined(__linux__)
  /* No bindat(): /proc names the folder by its descriptor. */
  g_snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dir_fd, name);
  return bind (sock, (struct sockaddr *) &addr, sizeof addr);
#elif defined(__FreeBSD__)
  g_strlcpy (addr.sun_path, name, sizeof addr.sun_path);
  return bindat (dir_fd, sock, (struct sockaddr *) &addr, sizeof addr);
#else
  /* macOS has neither: the folder becomes the working directory for the
   * one bind(), by descriptor, and the old one is put back. Nothing else
   * runs on this thread meanwhile; the paths libholder's other threads
   * open are absolute. */
  int cwd = open (".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int ret, saved_errno;

  if (cwd < 0)
    return -1;
  g_strlcpy (addr.sun_path, name, sizeof addr.sun_path);
  ret = fchdir (dir_fd);
  if (ret == 0)
    ret = bind (sock, (struct sockaddr *) &addr, sizeof addr);
  saved_errno = errno;
  if (fchdir (cwd) != 0)
    g_error ("cannot return to the working directory after a bind: %s", g_strerror (errno));
  close (cwd);
  errno = saved_errno;
  return ret;
#endif
}

/* A Unix stream socket, non-blocking and close-on-exec: atomically where
 * socket() takes the flags (macOS does not). */
static int
unix_socket_new (void)
{
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
  return socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
#else
  int fd = socket (AF_UNIX, SOCK_STREAM, 0);
  int flags = fd >= 0 ? fcntl (fd, F_GETFL) : -1;

  if (fd >= 0 && (flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
                  fcntl (fd, F_SETFD, FD_CLOEXEC) != 0))
    {
      int saved_errno = errno;

      close (fd);
      errno = saved_errno;
      return -1;
    }
  return fd;
#endif
}

/* A fresh run/.bind-XXXXXX of our own, 0700: nobody else can put anything
 * in it, so what is at its names is ours. */
static int
make_bind_folder (HolderStoreClaim  *claim,
                  char             **out_name,
                  GError           **error)
{
  static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  int run_fd = holder_store_dir_get_run_fd (claim->store);

  for (guint attempt = 0; attempt < 100; attempt++)
    {
      g_autofree char *name = NULL;
      char suffix[7];
      struct stat st;
      int fd;

      for (guint i = 0; i < 6; i++)
        suffix[i] = chars[g_random_int_range (0, sizeof chars - 1)];
      suffix[6] = '\0';
      name = g_strconcat (BIND_FOLDER_PREFIX, suffix, NULL);
      if (mkdirat (run_fd, name, 0700) != 0)
        {
          if (errno == EEXIST)
            continue;
          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno),
                       "listen on %s: create a private folder: %s", claim->socket_path,
                       g_strerror (errno));
          return -1;
        }
      fd = openat (run_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0 && fstat (fd, &st) == 0 && st.st_uid == geteuid () &&
          (st.st_mode & 077) == 0)
        {
          *out_name = g_steal_pointer (&name);
          return fd;
        }
      /* Swapped between mkdirat() and openat(): not ours to use. */
      if (fd >= 0)
        close (fd);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH,
                   "listen on %s: the private folder %s was replaced as it was made",
                   claim->socket_path, name);
      return -1;
    }
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED,
               "listen on %s: no free name for a private folder", claim->socket_path);
  return -1;
}

static void
remove_bind_folder (HolderStoreClaim *claim,
                    int               dir_fd,
                    const char       *name)
{
  int run_fd = holder_store_dir_get_run_fd (claim->store);
  struct stat st, now;

  /* Empty it (a bound socket left by a failure), then remove it if the
   * name is still it. */
  unlinkat (dir_fd, "s", 0);
  if (fstat (dir_fd, &st) == 0 && fstatat (run_fd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
      now.st_dev == st.st_dev && now.st_ino == st.st_ino)
    unlinkat (run_fd, name, AT_REMOVEDIR);
  close (dir_fd);
}

/* Binds @sock_name in @dir_fd (a folder only this uid can write to), then
 * renames it over the claim's socket. -1 with errno set on failure, and
 * nothing left at @sock_name. */
static int
listen_in_folder (HolderStoreClaim *claim,
                  int               dir_fd,
                  const char       *sock_name,
                  int               backlog)
{
  int run_fd = holder_store_dir_get_run_fd (claim->store);
  struct stat st;
  int sock, saved_errno;

  sock = unix_socket_new ();
  if (sock < 0)
    return -1;
  if (bind_in_folder (sock, dir_fd, sock_name) != 0)
    goto fail;
  /* Connectable by the user who ran sudo (connecting needs write access).
   * By name, but in a folder nobody else can enter or change. */
  if (geteuid () == 0 && fchmodat (dir_fd, sock_name, 0666, 0) != 0)
    goto fail;
  if (fstatat (dir_fd, sock_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    goto fail;
  if (!S_ISSOCK (st.st_mode))
    {
      errno = EEXIST;
      goto fail;
    }
  if (listen (sock, backlog) != 0)
    goto fail;
  /* Atomically over whatever is at the name: a stale socket of a dead
   * helper (we hold the lock, so nobody live serves it), or a link, which
   * is replaced, not followed. */
  if (renameat (dir_fd, sock_name, run_fd, claim->socket_name) != 0)
    goto fail;

  /* Swapped already? Then it is the user's, and we will not remove it. */
  claim->has_socket = holder_store_stat_renamed (run_fd, claim->socket_name, &st,
                                                 &claim->socket_st);
  return sock;

fail:
  saved_errno = errno;
  close (sock);
  unlinkat (dir_fd, sock_name, 0);
  errno = saved_errno;
  return -1;
}

int
holder_store_claim_listen (HolderStoreClaim  *claim,
                           int                backlog,
                           GError           **error)
{
  static guint bind_serial;
  g_autofree char *folder = NULL;
  int dir_fd, sock, saved_errno;

  g_return_val_if_fail (!claim->has_socket, -1);

  dir_fd = holder_store_dir_open_bind_folder (claim->store);
  if (dir_fd >= 0)
    {
      char sock_name[64];

      /* The pid keeps this uid's helpers apart, the serial our binds. */
      g_snprintf (sock_name, sizeof sock_name, "s-%d-%u", (int) getpid (), ++bind_serial);
      sock = listen_in_folder (claim, dir_fd, sock_name, backlog);
      saved_errno = errno;
      close (dir_fd);
      if (sock >= 0)
        return sock;
      /* Removed under us (a prune), say: a folder of its own will do. */
      g_debug ("listen on %s in the shared folder: %s", claim->socket_path,
               g_strerror (saved_errno));
    }

  dir_fd = make_bind_folder (claim, &folder, error);
  if (dir_fd < 0)
    return -1;
  sock = listen_in_folder (claim, dir_fd, "s", backlog);
  saved_errno = errno;
  remove_bind_folder (claim, dir_fd, folder);
  if (sock < 0)
    g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED, "listen on %s: %s",
                 claim->socket_path, g_strerror (saved_errno));
  return sock;
}

gboolean
holder_store_claim_write_pidfile (HolderStoreClaim  *claim,
                                  GError           **error)
{
  g_autofree char *shown = holder_store_pidfile_path (holder_store_dir_get_path (claim->store),
                                                      claim->name);
  g_autofree char *contents = g_strdup_printf ("%d", (int) getpid ());
  g_autoptr(GError) local_error = NULL;
  struct stat st;
  int dir_fd;
  gboolean ok;

  g_return_val_if_fail (claim->kind == HOLDER_STORE_CLAIM_MEMBER, FALSE);

  dir_fd = holder_store_dir_open_member (claim->store, claim->name, TRUE, &local_error);
  ok = dir_fd >= 0 &&
       /* Through a rename: a reader sees the whole pid or no file, never a
        * half-written one, and a full disk leaves no empty pidfile. */
       holder_file_replace_at_full (dir_fd, "pid", shown, contents, strlen (contents), 0644,
                                    &st, &local_error);
  if (ok)
    claim->has_pidfile = holder_store_stat_renamed (dir_fd, "pid", &st, &claim->pidfile_st);
  if (dir_fd >= 0)
    close (dir_fd);
  if (!ok)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED, "write pidfile: %s",
                   local_error->message);
      return FALSE;
    }
  return TRUE;
}

void
holder_store_claim_release (HolderStoreClaim *claim)
{
  if (claim == NULL)
    return;

  /* Under the lock, so nobody else can have made a new one meanwhile:
   * what is not our inode any more was put there by the user, and stays. */
  if (claim->has_socket)
    holder_store_unlink_if_same (holder_store_dir_get_run_fd (claim->store),
                                 claim->socket_name, &claim->socket_st);
  if (claim->has_pidfile)
    {
      int dir_fd = holder_store_dir_open_member (claim->store, claim->name, FALSE, NULL);

      if (dir_fd >= 0)
        {
          holder_store_unlink_if_same (dir_fd, "pid", &claim->pidfile_st);
          close (dir_fd);
        }
    }
  if (claim->lock_fd >= 0)
    holder_store_lock_drop (claim->store, claim->lock_name, claim->lock_fd);

  holder_store_dir_unref (claim->store);
  g_free (claim->name);
  g_free (claim->socket_name);
  g_free (claim->socket_path);
  g_free (claim->lock_name);
  g_free (claim);
}

/* ---------------------------------------------------------------- public */

gboolean
holder_store_member_is_served (const char *root,
                               const char *name,
                               GPid       *out_pid)
{
  g_autoptr(HolderStoreDir) store = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *lock_name = NULL;
  g_autofree char *shown = NULL;
  GPid pid = 0;
  int dir_fd;

  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  if (out_pid != NULL)
    *out_pid = 0;
  if (!holder_name_validate (name, NULL))
    return FALSE;
  store = holder_store_dir_open (root, HOLDER_STORE_DIR_QUERY, NULL);
  if (store == NULL)
    return FALSE;

  hash = holder_store_socket_hash (name);
  lock_name = g_strconcat (hash, ".sock.lock", NULL);
  if (!holder_store_lock_is_held (holder_store_dir_get_run_fd (store), lock_name))
    return FALSE;
  if (out_pid == NULL)
    return TRUE;

  /* The lock says whether; the pidfile says who. A helper writes it just
   * after its lock and socket: until then the pid is 0. */
  shown = holder_store_pidfile_path (root, name);
  dir_fd = holder_store_dir_open_member (store, name, FALSE, NULL);
  if (dir_fd >= 0)
    {
      if (holder_store_read_pidfile_at (dir_fd, shown, &pid, NULL) && holder_pid_is_alive (pid))
        *out_pid = pid;
      close (dir_fd);
    }
  return TRUE;
}
