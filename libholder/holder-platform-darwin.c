/* holder-platform-darwin.c: the native half of the platform layer on
 * macOS: LOCAL_PEERCRED and LOCAL_PEERPID (unix(4)), sysctl(KERN_PROC_PID)
 * for zombies, a kqueue EVFILT_PROC/NOTE_EXIT watch (kqueue(2)) and
 * _NSGetExecutablePath (dyld(3)). Accepting takes the generic path, which
 * sets SO_NOSIGPIPE: macOS has neither accept4 nor a documented
 * MSG_NOSIGNAL.
 *
 * Built on darwin only, so not compiled by the Linux CI: every call here is
 * checked against Apple's manual pages, and kept few.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-platform"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/proc.h>
#include <sys/socket.h>
#include <sys/sysctl.h>
#include <sys/ucred.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <mach-o/dyld.h>

#include "holder-platform-private.h"

const char *
holder_platform_native_name (void)
{
  return "darwin";
}

int
holder_platform_native_accept (int listen_fd)
{
  errno = ENOSYS;
  return -1;
}

gboolean
holder_platform_native_peer_credentials (int                    fd,
                                         HolderPeerCredentials *out,
                                         GError               **error)
{
  struct xucred credentials;
  socklen_t len = sizeof credentials;

  memset (&credentials, 0, sizeof credentials);
  if (getsockopt (fd, SOL_LOCAL, LOCAL_PEERCRED, &credentials, &len) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "LOCAL_PEERCRED on socket %d: %s", fd, g_strerror (saved_errno));
      return FALSE;
    }
  /* unix(4): the version must be checked before the fields are used. */
  if (len != sizeof credentials || credentials.cr_version != XUCRED_VERSION)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "LOCAL_PEERCRED on socket %d: unexpected xucred version %u",
                   fd, (guint) credentials.cr_version);
      return FALSE;
    }
  out->uid = credentials.cr_uid;
  out->pid = -1;
#ifdef LOCAL_PEERPID
  {
    /* macOS 10.8+; the uid alone decides access, so a failure here is no
     * reason to refuse. */
    pid_t pid = -1;

    len = sizeof pid;
    if (getsockopt (fd, SOL_LOCAL, LOCAL_PEERPID, &pid, &len) == 0 &&
        len == sizeof pid && pid > 0)
      out->pid = pid;
  }
#endif
  return TRUE;
}

HolderPlatformZombie
holder_platform_native_pid_is_zombie (GPid pid)
{
  /* The process table has zombies too (state SZOMB). For a pid that does
   * not exist the call succeeds with no data. Readable for any pid, any
   * user. */
  int mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PID, (int) pid };
  struct kinfo_proc info;
  size_t len = sizeof info;

  memset (&info, 0, sizeof info);
  if (sysctl (mib, (u_int) G_N_ELEMENTS (mib), &info, &len, NULL, 0) != 0)
    return HOLDER_PLATFORM_ZOMBIE_UNKNOWN;
  if (len == 0)
    return HOLDER_PLATFORM_ZOMBIE_YES;
  if (len != sizeof info || info.kp_proc.p_pid != pid)
    return HOLDER_PLATFORM_ZOMBIE_UNKNOWN;
  return info.kp_proc.p_stat == SZOMB ? HOLDER_PLATFORM_ZOMBIE_YES
                                      : HOLDER_PLATFORM_ZOMBIE_NO;
}

int
holder_platform_native_exit_watch_open (GPid         pid,
                                        const char **out_mechanism,
                                        GError     **error)
{
  const struct timespec no_wait = { 0, 0 };
  struct kevent change;
  int kq, saved_errno;

  /* A kqueue descriptor polls readable when it holds an event, so the
   * main loop watches it like any other descriptor. fork() children do
   * not inherit it; close-on-exec keeps it from an exec without fork. */
  kq = kqueue ();
  if (kq < 0)
    {
      saved_errno = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "kqueue: %s", g_strerror (saved_errno));
      return -1;
    }
  if (fcntl (kq, F_SETFD, FD_CLOEXEC) != 0)
    g_debug ("kqueue: FD_CLOEXEC: %s", g_strerror (errno));

  EV_SET (&change, (uintptr_t) pid, EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, NULL);
  /* No room for events: a registration error comes back as -1 and errno
   * (kqueue(2)), ESRCH when the process is gone already. */
  if (kevent (kq, &change, 1, NULL, 0, &no_wait) < 0)
    {
      saved_errno = errno;
      close (kq);
      g_set_error (error, G_IO_ERROR,
                   saved_errno == ESRCH ? G_IO_ERROR_NOT_FOUND : g_io_error_from_errno (saved_errno),
                   "kevent(EVFILT_PROC, %d): %s", (int) pid, g_strerror (saved_errno));
      return -1;
    }
  *out_mechanism = "kqueue";
  return kq;
}

gboolean
holder_platform_native_exit_watch_fired (int fd)
{
  const struct timespec no_wait = { 0, 0 };
  struct kevent event;
  int n;

  /* Takes the event off the queue: the descriptor stops polling readable. */
  do
    n = kevent (fd, NULL, 0, &event, 1, &no_wait);
  while (n < 0 && errno == EINTR);
  if (n <= 0)
    return FALSE;
  if ((event.flags & EV_ERROR) != 0)
    return event.data == ESRCH;
  return event.filter == EVFILT_PROC && (event.fflags & NOTE_EXIT) != 0;
}

char *
holder_platform_native_executable_path (GError **error)
{
  char small[PATH_MAX];
  char resolved[PATH_MAX];
  g_autofree char *large = NULL;
  const char *path = small;
  uint32_t size = sizeof small;

  /* dyld(3): -1 and the size needed when the buffer is too small. */
  if (_NSGetExecutablePath (small, &size) != 0)
    {
      large = g_malloc (size);
      if (_NSGetExecutablePath (large, &size) != 0)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                               "_NSGetExecutablePath failed");
          return NULL;
        }
      path = large;
    }
  /* The path the program was started by: it may go through symbolic links. */
  if (realpath (path, resolved) == NULL)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "resolve %s: %s", path, g_strerror (saved_errno));
      return NULL;
    }
  return g_strdup (resolved);
}
