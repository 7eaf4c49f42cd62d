/* SPDX-License-Identifier: MIT
 *
 * bench-parent-death: how fast a bound helper notices that its parent was
 * SIGKILLed. This program is a subreaper; each run forks a "parent" that
 * starts a helper, then kills that parent and times the kill to the
 * helper's exit (a pidfd on the helper becomes readable). Two modes:
 *
 *   bind   the parent uses holder_helper_spawn(): the bind connection's
 *          EOF and the parent watch race, as in real use;
 *   watch  the parent only sets FLEETBOX_PARENT_PID and never binds, so
 *          the parent watch alone is measured.
 *
 *   bench-parent-death [--build-dir DIR] [RUNS]     (default 50 per mode)
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-bench"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

#define DEFAULT_RUNS 50
#define EXIT_TIMEOUT_MS 10000

/* The child "parent": starts a helper, reports its pid, waits to die. */
static G_NORETURN void
parent_main (const char *helper_path,
             const char *root,
             gboolean    bind,
             int         report_fd)
{
  g_auto(GStrv) env = bench_environ (root, "fake");
  const char *names[] = { "orphan", NULL };
  g_autofree char *socket_path = holder_store_socket_path (root, "orphan");
  char buf[4096];
  GPid pid;

  if (bind)
    {
      HolderHelper *helper = bench_spawn_bound (helper_path, names, (const char *const *) env);
      pid = holder_helper_get_pid (helper);
    }
  else
    {
      g_autofree char *me = g_strdup_printf ("%d", (int) getpid ());
      char *const argv[] = { (char *) helper_path, (char *) "--fleetbox-runner", (char *) "orphan", NULL };
      int rc;

      env = g_environ_setenv (env, "FLEETBOX_PARENT_PID", me, TRUE);
      rc = posix_spawn (&pid, helper_path, NULL, NULL, argv, env);
      if (rc != 0)
        bench_die ("spawn %s: %s", helper_path, g_strerror (rc));
    }
  /* A status reply means the helper's main loop runs: start-up, which
   * arms the parent watch, is over. */
  for (gint64 deadline = bench_now_ns () + G_GINT64_CONSTANT (10000000000);;)
    {
      if (bench_status_round_trip (socket_path, buf, sizeof buf) > 0)
        break;
      if (bench_now_ns () > deadline)
        bench_die ("the helper did not answer status");
      g_usleep (500);
    }
  if (write (report_fd, &pid, sizeof pid) != sizeof pid)
    _exit (1);
  for (;;)
    pause ();
}

static int
open_pidfd (GPid pid)
{
#ifdef SYS_pidfd_open
  return (int) syscall (SYS_pidfd_open, pid, 0);
#else
  errno = ENOSYS;
  return -1;
#endif
}

/* Nanoseconds from SIGKILL of the parent to the helper's exit. */
static gint64
one_run (const char *helper_path,
         const char *root,
         gboolean    bind)
{
  int pipe_fds[2];
  pid_t parent;
  GPid helper = 0;
  int pidfd, status;
  struct pollfd pfd;
  gint64 t0, t1;

  if (pipe2 (pipe_fds, O_CLOEXEC) != 0)
    bench_die ("pipe: %s", g_strerror (errno));
  fflush (stdout);
  parent = fork ();
  if (parent < 0)
    bench_die ("fork: %s", g_strerror (errno));
  if (parent == 0)
    {
      close (pipe_fds[0]);
      parent_main (helper_path, root, bind, pipe_fds[1]);
    }
  close (pipe_fds[1]);
  if (read (pipe_fds[0], &helper, sizeof helper) != sizeof helper)
    bench_die ("the parent process failed to start a helper");
  close (pipe_fds[0]);

  pidfd = open_pidfd (helper);
  if (pidfd < 0)
    bench_die ("pidfd_open: %s (needs Linux >= 5.3)", g_strerror (errno));

  /* A parent dies at any moment, not right after the helper started: with
   * the getppid() poll (HOLDER_PLATFORM=generic, or no pidfd) the moment
   * within the poll period decides the figure. */
  g_usleep (g_random_int_range (0, 100 * 1000));
  t0 = bench_now_ns ();
  kill (parent, SIGKILL);
  pfd = (struct pollfd) { .fd = pidfd, .events = POLLIN };
  if (poll (&pfd, 1, EXIT_TIMEOUT_MS) != 1)
    {
      kill (helper, SIGKILL);
      bench_die ("the helper outlived its parent by %d ms", EXIT_TIMEOUT_MS);
    }
  t1 = bench_now_ns ();
  close (pidfd);

  waitpid (parent, NULL, 0);
  /* The helper is ours now (subreaper): reap it and check it exited 0. */
  if (waitpid (helper, &status, 0) != helper)
    bench_die ("reap helper %d: %s", (int) helper, g_strerror (errno));
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    bench_die ("the helper did not exit cleanly (status %d)", status);
  return t1 - t0;
}

static void
run_mode (const char *helper_path,
          const char *root,
          gboolean    bind,
          guint       runs)
{
  const char *mode = bind ? "bind" : "watch";
  g_autofree gint64 *samples = g_new (gint64, runs);
  g_autofree char *key_mean = g_strdup_printf ("parent_death_%s_mean", mode);
  g_autofree char *key_p50 = g_strdup_printf ("parent_death_%s_p50", mode);
  g_autofree char *key_p99 = g_strdup_printf ("parent_death_%s_p99", mode);
  double sum = 0;

  for (guint i = 0; i < runs; i++)
    {
      samples[i] = one_run (helper_path, root, bind);
      sum += samples[i];
    }
  bench_sort (samples, runs);
  printf ("  %-46s mean %6.2f ms  p50 %6.2f ms  p99 %6.2f ms\n",
          bind ? "bind connection + parent watch (real use)" : "parent watch alone (FLEETBOX_PARENT_PID)",
          sum / runs / 1e6, bench_percentile (samples, runs, 50) / 1e6,
          bench_percentile (samples, runs, 99) / 1e6);
  bench_result (key_mean, sum / runs / 1e6, "ms");
  bench_result (key_p50, bench_percentile (samples, runs, 50) / 1e6, "ms");
  bench_result (key_p99, bench_percentile (samples, runs, 99) / 1e6, "ms");
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *build = bench_build_dir (&argc, &argv);
  g_autofree char *helper_path = bench_helper_path (build);
  g_autofree char *root = bench_make_root ();
  guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_RUNS;

  g_set_prgname ("bench-parent-death");
  signal (SIGPIPE, SIG_IGN);
  if (runs == 0)
    bench_die ("usage: bench-parent-death [--build-dir DIR] [RUNS]");
  if (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    bench_die ("PR_SET_CHILD_SUBREAPER: %s", g_strerror (errno));

  printf ("bench-parent-death: %u runs per mode, SIGKILL of the parent to the helper's exit\n", runs);
  run_mode (helper_path, root, TRUE, runs);
  run_mode (helper_path, root, FALSE, runs);
  bench_remove_tree (root);
  return 0;
}
