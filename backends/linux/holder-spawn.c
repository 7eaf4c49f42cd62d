/* holder-spawn.c: a child process started without waiting for its exec.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-spawn"

#include "holder-spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <sys/syscall.h>

#include "holder-backend.h"

extern char **environ;

/* Between fork and exec only async-signal-safe calls: another thread of
 * the helper may hold malloc's lock. Any failure is written to @report as
 * an errno, and the child exits 127. */
static void G_GNUC_NORETURN
child_exec (const char *const *argv,
            const int         *fds,
            int               *moved,
            guint              n_fds,
            int                first_fd,
            int                devnull,
            int                stderr_w,
            int                report,
            pid_t              parent)
{
  int top = first_fd + (int) n_fds;
  struct sigaction default_action = { .sa_handler = SIG_DFL };
  sigset_t none;
  int saved;

  /* Die with the helper. One that died already is caught by getppid(). */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) != 0)
    goto failed;
  if (getppid () != parent)
    _exit (127);

  /* The helper's mask and an ignored SIGPIPE would outlive the exec. */
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
  sigaction (SIGPIPE, &default_action, NULL);

  /* Everything the child keeps goes above the target numbers first, so
   * that placing one descriptor never overwrites another not yet placed. */
  report = fcntl (report, F_DUPFD_CLOEXEC, top);
  devnull = fcntl (devnull, F_DUPFD_CLOEXEC, top);
  stderr_w = fcntl (stderr_w, F_DUPFD_CLOEXEC, top);
  if (report < 0 || devnull < 0 || stderr_w < 0)
    goto failed;
  for (guint i = 0; i < n_fds; i++)
    {
      moved[i] = fcntl (fds[i], F_DUPFD_CLOEXEC, top);
      if (moved[i] < 0)
        goto failed;
    }
  /* dup2() leaves the copy without FD_CLOEXEC: these cross the exec. */
  if (dup2 (devnull, STDIN_FILENO) < 0 || dup2 (devnull, STDOUT_FILENO) < 0 ||
      dup2 (stderr_w, STDERR_FILENO) < 0)
    goto failed;
  for (guint i = 0; i < n_fds; i++)
    if (dup2 (moved[i], first_fd + (int) i) < 0)
      goto failed;

  /* Nothing else crosses the exec, whatever its flags: every descriptor
   * from @top on (the report pipe among them) closes there. */
  if (syscall (SYS_close_range, (unsigned int) top, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
    {
      struct rlimit limit = { 0 };
      int last = getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY
                   ? (int) MIN (limit.rlim_cur, (rlim_t) G_MAXINT) : 65536;

      for (int fd = top; fd < last; fd++)
        if (fd != report)
          close (fd);
    }

  execve (argv[0], (char *const *) argv, environ);

failed:
  saved = errno;
  if (write (report, &saved, sizeof saved) < 0)
    {
      /* Nobody to tell: the exit status says it. */
    }
  _exit (127);
}

gboolean
holder_spawn_start (const char *const *argv,
                    const int         *fds,
                    guint              n_fds,
                    int                first_fd,
                    HolderSpawn       *spawn,
                    GError           **error)
{
  int stderr_pipe[2] = { -1, -1 };
  int report[2] = { -1, -1 };
  int devnull = -1;
  int *moved;
  pid_t parent = getpid ();
  pid_t pid;
  int saved;

  g_return_val_if_fail (argv != NULL && argv[0] != NULL, FALSE);
  g_return_val_if_fail (strchr (argv[0], '/') != NULL, FALSE);
  g_return_val_if_fail (first_fd > STDERR_FILENO, FALSE);
  g_return_val_if_fail (spawn != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < n_fds; i++)
    if (fds[i] < 0)
      {
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                     "no descriptor to pass as %d", first_fd + (int) i);
        return FALSE;
      }

  /* The child cannot allocate: its scratch space is made here. */
  moved = g_newa (int, MAX (n_fds, 1));
  devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull < 0 || pipe2 (stderr_pipe, O_CLOEXEC) != 0 || pipe2 (report, O_CLOEXEC) != 0)
    goto failed;
  /* Read once the child is gone; never wait on it. */
  if (fcntl (report[0], F_SETFL, O_NONBLOCK) != 0)
    goto failed;

  pid = fork ();
  if (pid < 0)
    goto failed;
  if (pid == 0)
    child_exec (argv, fds, moved, n_fds, first_fd, devnull, stderr_pipe[1], report[1], parent);

  close (devnull);
  close (stderr_pipe[1]);
  close (report[1]);
  spawn->pid = pid;
  spawn->stderr_fd = stderr_pipe[0];
  spawn->report_fd = report[0];
  return TRUE;

failed:
  saved = errno;
  for (guint i = 0; i < 2; i++)
    {
      if (stderr_pipe[i] >= 0)
        close (stderr_pipe[i]);
      if (report[i] >= 0)
        close (report[i]);
    }
  if (devnull >= 0)
    close (devnull);
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s", g_strerror (saved));
  return FALSE;
}

char *
holder_spawn_exec_error (int report_fd)
{
  int failure = 0;

  g_return_val_if_fail (report_fd >= 0, NULL);

  if (read (report_fd, &failure, sizeof failure) != (ssize_t) sizeof failure || failure == 0)
    return NULL;
  return g_strdup (g_strerror (failure));
}
