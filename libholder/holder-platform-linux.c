/* holder-platform-linux.c: the native half of the platform layer on Linux:
 * accept4, SO_PEERCRED, /proc/<pid>/stat, pidfd_open and /proc/self/exe.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-platform"
#define _GNU_SOURCE

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "holder-platform-private.h"

const char *
holder_platform_native_name (void)
{
  return "linux";
}

int
holder_platform_native_accept (int listen_fd)
{
  /* Both flags in the same call: no window in which a fork inherits it. */
  return accept4 (listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

gboolean
holder_platform_native_peer_credentials (int                    fd,
                                         HolderPeerCredentials *out,
                                         GError               **error)
{
  /* The peer's identity when it connected, in one call. */
  struct ucred credentials;
  socklen_t len = sizeof credentials;

  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &credentials, &len) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "SO_PEERCRED on socket %d: %s", fd, g_strerror (saved_errno));
      return FALSE;
    }
  out->uid = credentials.uid;
  /* 0 when the peer is in another pid namespace: as good as unknown. */
  out->pid = credentials.pid > 0 ? credentials.pid : -1;
  return TRUE;
}

HolderPlatformZombie
holder_platform_native_pid_is_zombie (GPid pid)
{
  /* A PID 1 that does not reap (a bare container init) keeps zombies
   * around: look at the state letter. The command name may contain ')'
   * and spaces, so the state is found after the LAST ')'. */
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *contents = NULL;
  const char *paren;

  if (!g_file_get_contents (stat_path, &contents, NULL, NULL))
    {
      /* Gone between kill() and the read, or no /proc mounted. */
      if (kill (pid, 0) != 0 && errno == ESRCH)
        return HOLDER_PLATFORM_ZOMBIE_YES;
      return HOLDER_PLATFORM_ZOMBIE_UNKNOWN;
    }
  paren = strrchr (contents, ')');
  if (paren == NULL || paren[1] != ' ' || paren[2] == '\0')
    return HOLDER_PLATFORM_ZOMBIE_UNKNOWN;
  return paren[2] == 'Z' || paren[2] == 'X' ? HOLDER_PLATFORM_ZOMBIE_YES
                                           : HOLDER_PLATFORM_ZOMBIE_NO;
}

int
holder_platform_native_exit_watch_open (GPid         pid,
                                        const char **out_mechanism,
                                        GError     **error)
{
#ifdef SYS_pidfd_open
  /* Readable once the process has exited (Linux 5.3+); close-on-exec. */
  int fd = (int) syscall (SYS_pidfd_open, pid, 0);

  int saved_errno = errno;

  if (fd >= 0)
    {
      *out_mechanism = "pidfd";
      return fd;
    }
  /* ENOSYS (before 5.3) or EPERM (a seccomp filter): the caller polls. */
  g_set_error (error, G_IO_ERROR,
               saved_errno == ESRCH ? G_IO_ERROR_NOT_FOUND : g_io_error_from_errno (saved_errno),
               "pidfd_open(%d): %s", (int) pid, g_strerror (saved_errno));
#else
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "pidfd_open: not known to the headers this was built with");
#endif
  return -1;
}

gboolean
holder_platform_native_exit_watch_fired (int fd)
{
  /* A pidfd polls readable only once its process has exited. */
  return TRUE;
}

char *
holder_platform_native_executable_path (GError **error)
{
  return g_file_read_link ("/proc/self/exe", error);
}
