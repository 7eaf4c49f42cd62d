/* holder-platform.c: the platform layer's shared half: which path is
 * taken, the generic POSIX paths, and the parent watch GSource (see
 * holder-platform-private.h). The native halves are in
 * holder-platform-<os>.c.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-platform"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "holder-platform-private.h"

/* ------------------------------------------------------------------ path */

int
holder_platform_path_from_string (const char *value)
{
  if (value == NULL || value[0] == '\0' || g_str_equal (value, "native"))
    return HOLDER_PLATFORM_PATH_NATIVE;
  if (g_str_equal (value, "generic"))
    return HOLDER_PLATFORM_PATH_GENERIC;
  return -1;
}

HolderPlatformPath
holder_platform_get_path (void)
{
  /* The path plus one: zero means not read yet. */
  static gsize path = 0;

  if (g_once_init_enter (&path))
    {
      const char *value = g_getenv (HOLDER_PLATFORM_ENV);
      int parsed = holder_platform_path_from_string (value);

      if (parsed < 0)
        {
          g_warning ("ignoring %s=%s: expected \"native\" or \"generic\"",
                     HOLDER_PLATFORM_ENV, value);
          parsed = HOLDER_PLATFORM_PATH_NATIVE;
        }
      else if (parsed == HOLDER_PLATFORM_PATH_GENERIC)
        g_debug ("%s=generic: taking the generic POSIX paths instead of the %s ones",
                 HOLDER_PLATFORM_ENV, holder_platform_native_name ());
      g_once_init_leave (&path, (gsize) parsed + 1);
    }
  return (HolderPlatformPath) (path - 1);
}

/* --------------------------------------------------------------- sockets */

/* accept(2), then the flags one by one. Not atomic: a fork() in another
 * thread between the two calls would inherit the descriptor. libholder
 * forks from its main thread only, and GLib's spawn closes what the child
 * does not need, so the window harms nothing. */
static int
generic_accept (int listen_fd)
{
  int fd = accept (listen_fd, NULL, NULL);
  int flags;

  if (fd < 0)
    return -1;
  flags = fcntl (fd, F_GETFL);
  if (fcntl (fd, F_SETFD, FD_CLOEXEC) != 0 ||
      flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) != 0)
    {
      int saved_errno = errno;

      close (fd);
      errno = saved_errno;
      return -1;
    }
#ifdef SO_NOSIGPIPE
  {
    /* No MSG_NOSIGNAL for send() here: the socket itself must not raise
     * SIGPIPE (the helper ignores it too; a library user may not). */
    int one = 1;

    if (setsockopt (fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) != 0)
      g_debug ("SO_NOSIGPIPE: %s", g_strerror (errno));
  }
#endif
  return fd;
}

int
holder_platform_accept_for (HolderPlatformPath path,
                            int                listen_fd)
{
  if (path == HOLDER_PLATFORM_PATH_NATIVE)
    {
      int fd = holder_platform_native_accept (listen_fd);

      if (fd >= 0 || errno != ENOSYS)
        return fd;
    }
  return generic_accept (listen_fd);
}

int
holder_platform_accept (int listen_fd)
{
  return holder_platform_accept_for (holder_platform_get_path (), listen_fd);
}

/* ------------------------------------------------------- peer credentials */

static gboolean
generic_peer_credentials (int                    fd,
                          HolderPeerCredentials *out,
                          GError               **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GCredentials) credentials = NULL;
  g_autoptr(GError) local_error = NULL;
  int status_flags, copy;
  uid_t uid;

  /* GSocket owns the descriptor it wraps and closes it when freed, so it
   * wraps a duplicate. The duplicate shares the open file, whose status
   * flags GSocket changes (it makes it non-blocking): they are put back. */
  status_flags = fcntl (fd, F_GETFL);
  copy = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  if (status_flags < 0 || copy < 0)
    {
      int saved_errno = errno;

      if (copy >= 0)
        close (copy);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "duplicate socket %d: %s", fd, g_strerror (saved_errno));
      return FALSE;
    }
  socket = g_socket_new_from_fd (copy, &local_error);
  if (socket == NULL)
    {
      close (copy);
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "socket %d: ", fd);
      return FALSE;
    }
  credentials = g_socket_get_credentials (socket, &local_error);
  if (fcntl (fd, F_SETFL, status_flags) != 0)
    g_debug ("restore the flags of socket %d: %s", fd, g_strerror (errno));
  if (credentials == NULL)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "peer credentials of socket %d: ", fd);
      return FALSE;
    }
  uid = g_credentials_get_unix_user (credentials, &local_error);
  if (uid == (uid_t) -1)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "peer uid of socket %d: ", fd);
      return FALSE;
    }
  out->uid = uid;
  /* Not every system's GCredentials carries a pid (macOS needs GLib 2.72). */
  out->pid = g_credentials_get_unix_pid (credentials, NULL);
  return TRUE;
}

gboolean
holder_platform_peer_credentials_for (HolderPlatformPath     path,
                                      int                    fd,
                                      HolderPeerCredentials *out,
                                      GError               **error)
{
  g_return_val_if_fail (fd >= 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  out->uid = (uid_t) -1;
  out->pid = -1;
  if (path == HOLDER_PLATFORM_PATH_NATIVE)
    return holder_platform_native_peer_credentials (fd, out, error);
  return generic_peer_credentials (fd, out, error);
}

gboolean
holder_platform_peer_credentials (int                    fd,
                                  HolderPeerCredentials *out,
                                  GError               **error)
{
  g_autoptr(GError) local_error = NULL;

  if (holder_platform_get_path () == HOLDER_PLATFORM_PATH_NATIVE)
    {
      if (holder_platform_peer_credentials_for (HOLDER_PLATFORM_PATH_NATIVE, fd, out,
                                                &local_error))
        return TRUE;
      if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
    }
  return holder_platform_peer_credentials_for (HOLDER_PLATFORM_PATH_GENERIC, fd, out, error);
}

/* ------------------------------------------------------------ pid liveness */

/* kill(0) says a pid exists, and a zombie exists. POSIX can tell a zombie
 * only when it is our child: waitid() with WNOWAIT looks without reaping,
 * so a GLib child watch or the caller still gets its status. */
static gboolean
generic_pid_is_alive (GPid pid)
{
  siginfo_t info;

  memset (&info, 0, sizeof info);
  if (waitid (P_PID, (id_t) pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid == pid)
    return FALSE;
  /* Not our child (ECHILD), or not exited: it lives unless it vanished
   * meanwhile. */
  return !(kill (pid, 0) != 0 && errno == ESRCH);
}

gboolean
holder_platform_pid_is_alive_for (HolderPlatformPath path,
                                  GPid               pid)
{
  if (pid <= 0)
    return FALSE;
  /* EPERM: it exists, but belongs to someone else. */
  if (kill (pid, 0) != 0 && errno != EPERM)
    return FALSE;

  if (path == HOLDER_PLATFORM_PATH_NATIVE)
    {
      switch (holder_platform_native_pid_is_zombie (pid))
        {
        case HOLDER_PLATFORM_ZOMBIE_YES:
          return FALSE;
        case HOLDER_PLATFORM_ZOMBIE_NO:
          return TRUE;
        case HOLDER_PLATFORM_ZOMBIE_UNKNOWN:
        default:
          break;
        }
    }
  return generic_pid_is_alive (pid);
}

gboolean
holder_platform_pid_is_alive (GPid pid)
{
  return holder_platform_pid_is_alive_for (holder_platform_get_path (), pid);
}

/* ------------------------------------------------------------ parent watch */

typedef struct {
  GSource     source;
  GPid        parent_pid;
  int         fd;         /* the native exit watch, or -1: polling */
  gpointer    fd_tag;
  const char *mechanism;
  const char *reason;     /* set once the parent is known to be gone */
} ParentWatch;

static void
parent_watch_poll_later (ParentWatch *watch)
{
  g_source_set_ready_time (&watch->source, g_get_monotonic_time () +
                           HOLDER_PLATFORM_PARENT_POLL_MS * 1000);
}

/* The native watch said something that is not an exit: trust it no
 * further, and poll instead of spinning on a descriptor that may stay
 * readable. */
static void
parent_watch_fall_back_to_poll (ParentWatch *watch)
{
  g_debug ("parent watch: %s reported something else than an exit; polling instead",
           watch->mechanism);
  g_source_remove_unix_fd (&watch->source, watch->fd_tag);
  close (watch->fd);
  watch->fd = -1;
  watch->fd_tag = NULL;
  watch->mechanism = "poll";
  parent_watch_poll_later (watch);
}

static gboolean
parent_watch_dispatch (GSource    *source,
                       GSourceFunc callback,
                       gpointer    user_data)
{
  ParentWatch *watch = (ParentWatch *) source;
  HolderParentGoneFunc func = (HolderParentGoneFunc) (void (*) (void)) callback;

  if (watch->reason == NULL && watch->fd >= 0 &&
      g_source_query_unix_fd (source, watch->fd_tag) != 0)
    {
      if (holder_platform_native_exit_watch_fired (watch->fd))
        watch->reason = "the bound parent exited";
      else if (getppid () == watch->parent_pid)
        parent_watch_fall_back_to_poll (watch);
    }
  /* Reparenting happens the moment the parent exits, however it died. */
  if (watch->reason == NULL && getppid () != watch->parent_pid)
    watch->reason = watch->fd >= 0 ? "the bound parent exited" : "the bound parent is gone";

  if (watch->reason == NULL)
    {
      if (watch->fd < 0)
        parent_watch_poll_later (watch);
      return G_SOURCE_CONTINUE;
    }
  if (func != NULL)
    func (watch->reason, user_data);
  /* A parent leaves once. */
  return G_SOURCE_REMOVE;
}

static void
parent_watch_finalize (GSource *source)
{
  ParentWatch *watch = (ParentWatch *) source;

  if (watch->fd >= 0)
    close (watch->fd);
}

static GSourceFuncs parent_watch_funcs = {
  .dispatch = parent_watch_dispatch,
  .finalize = parent_watch_finalize,
};

static void
parent_watch_gone_at_start (ParentWatch *watch)
{
  watch->mechanism = "gone";
  watch->reason = "the bound parent was gone at start-up";
  g_source_set_ready_time (&watch->source, 0);
}

GSource *
holder_platform_parent_watch_new_for (HolderPlatformPath path,
                                      GPid               parent_pid)
{
  GSource *source;
  ParentWatch *watch;

  g_return_val_if_fail (parent_pid > 0, NULL);

  source = g_source_new (&parent_watch_funcs, sizeof (ParentWatch));
  g_source_set_name (source, "holder parent watch");
  watch = (ParentWatch *) source;
  watch->parent_pid = parent_pid;
  watch->fd = -1;

  if (getppid () != parent_pid)
    {
      /* Died (or was never our parent) before we looked: end from the
       * main loop, like any other trigger. */
      parent_watch_gone_at_start (watch);
      return source;
    }

  if (path == HOLDER_PLATFORM_PATH_NATIVE)
    {
      g_autoptr(GError) error = NULL;
      const char *mechanism = NULL;
      int fd = holder_platform_native_exit_watch_open (parent_pid, &mechanism, &error);

      if (fd >= 0)
        {
          watch->fd = fd;
          watch->fd_tag = g_source_add_unix_fd (source, fd, G_IO_IN);
          watch->mechanism = mechanism;
          /* The parent may have exited, been reaped and had its pid reused
           * between the check above and the open, so that the watch is on
           * a stranger: looking again covers that. (An exit after the open
           * makes the watch fire by itself.) */
          if (getppid () != parent_pid)
            parent_watch_gone_at_start (watch);
          return source;
        }
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          parent_watch_gone_at_start (watch);
          return source;
        }
      g_debug ("parent watch: %s; polling the parent instead", error->message);
    }

  watch->mechanism = "poll";
  parent_watch_poll_later (watch);
  return source;
}

GSource *
holder_platform_parent_watch_new (GPid parent_pid)
{
  return holder_platform_parent_watch_new_for (holder_platform_get_path (), parent_pid);
}

const char *
holder_platform_parent_watch_get_mechanism (GSource *source)
{
  g_return_val_if_fail (source != NULL, NULL);
  return ((ParentWatch *) source)->mechanism;
}

/* ------------------------------------------------------------- executable */

char *
holder_platform_get_executable_path (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  /* No generic path: POSIX cannot name the running program. */
  return holder_platform_native_executable_path (error);
}
