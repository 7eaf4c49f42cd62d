/* SPDX-License-Identifier: MIT
 *
 * bench-bound-close: how fast a bound helper goes once its client closes
 * the acked control connection (holder_helper_close()), as a test's
 * teardown does. Each run spawns a bound helper with one member (fake),
 * waits for its status reply, opens a pidfd on it, then times the close of
 * the control connection to the pidfd becoming readable (the process has
 * exited; reaping is not counted), and to holder_helper_close() returning
 * (what a caller waits: the exit plus the client's reaping through
 * GSubprocess). The helper must exit 0.
 *
 *   bench-bound-close [--build-dir DIR] [RUNS]     (default 100)
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-bench"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

#define DEFAULT_RUNS 100
#define EXIT_TIMEOUT_MS 10000

typedef struct {
  int    pidfd;
  gint64 exited_ns;
} Watcher;

static gpointer
watch_thread (gpointer data)
{
  Watcher *w = data;
  struct pollfd pfd = { .fd = w->pidfd, .events = POLLIN };

  if (poll (&pfd, 1, EXIT_TIMEOUT_MS) == 1)
    w->exited_ns = bench_now_ns ();
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *build = bench_build_dir (&argc, &argv);
  g_autofree char *helper_path = bench_helper_path (build);
  g_autofree char *root = bench_make_root ();
  g_auto(GStrv) env = bench_environ (root, "fake");
  const char *names[] = { "bound", NULL };
  guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_RUNS;
  g_autofree gint64 *samples = NULL;
  g_autofree gint64 *returned = NULL;
  double sum = 0, sum_returned = 0;

  g_set_prgname ("bench-bound-close");
  signal (SIGPIPE, SIG_IGN);
  if (runs == 0)
    bench_die ("usage: bench-bound-close [--build-dir DIR] [RUNS]");

  samples = g_new (gint64, runs);
  returned = g_new (gint64, runs);
  for (guint i = 0; i < runs; i++)
    {
      g_autoptr(GError) error = NULL;
      HolderHelper *helper = bench_spawn_bound (helper_path, names, (const char *const *) env);
      GPid pid = holder_helper_get_pid (helper);
      Watcher w = { -1, 0 };
      GThread *thread;
      gint64 t0;
      int status = -1;

      /* Start-up over: the main loop answers. */
      g_free (bench_checked_status (root, "bound", pid, "starting"));
      w.pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
      if (w.pidfd < 0)
        bench_die ("pidfd_open: %s (needs Linux >= 5.3)", g_strerror (errno));
      thread = g_thread_new ("watch", watch_thread, &w);
      g_usleep (2000);   /* the watcher is in poll() */

      t0 = bench_now_ns ();
      if (!holder_helper_close (helper, EXIT_TIMEOUT_MS, &status, &error))
        bench_die ("run %u: close: %s", i, error->message);
      returned[i] = bench_now_ns () - t0;
      sum_returned += returned[i];
      g_thread_join (thread);
      close (w.pidfd);
      if (w.exited_ns == 0)
        bench_die ("run %u: the helper did not exit", i);
      if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
        bench_die ("run %u: the helper did not exit cleanly (status %d)", i, status);
      samples[i] = w.exited_ns - t0;
      sum += samples[i];
      holder_helper_free (helper);
    }

  bench_sort (samples, runs);
  printf ("bench-bound-close: %u runs, control connection closed to the bound helper's exit (fake, 1 member)\n", runs);
  printf ("  %-30s mean %6.3f ms  p50 %6.3f ms  p90 %6.3f ms  p99 %6.3f ms\n",
          "close to exit", sum / runs / 1e6, bench_percentile (samples, runs, 50) / 1e6,
          bench_percentile (samples, runs, 90) / 1e6, bench_percentile (samples, runs, 99) / 1e6);
  bench_sort (returned, runs);
  printf ("  %-30s mean %6.3f ms  p50 %6.3f ms  p90 %6.3f ms  p99 %6.3f ms\n",
          "close to holder_helper_close()", sum_returned / runs / 1e6,
          bench_percentile (returned, runs, 50) / 1e6,
          bench_percentile (returned, runs, 90) / 1e6, bench_percentile (returned, runs, 99) / 1e6);
  bench_result ("bound_close_returned_p50", bench_percentile (returned, runs, 50) / 1e6, "ms");
  bench_result ("bound_close_mean", sum / runs / 1e6, "ms");
  bench_result ("bound_close_p50", bench_percentile (samples, runs, 50) / 1e6, "ms");
  bench_result ("bound_close_p99", bench_percentile (samples, runs, 99) / 1e6, "ms");
  bench_remove_tree (root);
  return 0;
}
