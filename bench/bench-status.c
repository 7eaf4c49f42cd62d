/* SPDX-License-Identifier: MIT
 *
 * bench-status: the latency of one status round trip (connect, request,
 * reply to EOF, close) on a raw Unix socket, one client, sequentially.
 *
 *   bench-status [--build-dir DIR] [ROUND_TRIPS]     (default 20000)
 */
#define G_LOG_DOMAIN "holder-bench"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bench-common.h"

#define DEFAULT_ROUND_TRIPS 20000
#define WARM_UP 500

int
main (int    argc,
      char **argv)
{
  g_autofree char *build = bench_build_dir (&argc, &argv);
  g_autofree char *helper_path = bench_helper_path (build);
  g_autofree char *root = bench_make_root ();
  g_auto(GStrv) env = bench_environ (root, "fake");
  const char *names[] = { "bench", NULL };
  guint count = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_ROUND_TRIPS;
  g_autofree gint64 *samples = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *path = NULL;
  HolderHelper *helper;
  GPid pid;
  gint64 start, total, cpu;
  guint failures = 0;
  char buf[4096];

  g_set_prgname ("bench-status");
  signal (SIGPIPE, SIG_IGN);
  if (count == 0)
    bench_die ("usage: bench-status [--build-dir DIR] [ROUND_TRIPS]");

  helper = bench_spawn_bound (helper_path, names, (const char *const *) env);
  pid = holder_helper_get_pid (helper);
  expected = bench_checked_status (root, "bench", pid, "starting");
  path = holder_store_socket_path (root, "bench");

  for (guint i = 0; i < WARM_UP; i++)
    bench_status_round_trip (path, buf, sizeof buf);

  samples = g_new (gint64, count);
  cpu = bench_proc_cpu_ns (pid);
  start = bench_now_ns ();
  for (guint i = 0; i < count; i++)
    {
      gint64 t0 = bench_now_ns ();
      gssize n = bench_status_round_trip (path, buf, sizeof buf);

      samples[i] = bench_now_ns () - t0;
      if (n < 0 || strcmp (buf, expected) != 0)
        failures++;
    }
  total = bench_now_ns () - start;
  cpu = bench_proc_cpu_ns (pid) - cpu;
  bench_sort (samples, count);

  printf ("bench-status: %u sequential status round trips, 1 member, one client\n", count);
  printf ("  p50 %8.1f us\n", bench_percentile (samples, count, 50) / 1e3);
  printf ("  p90 %8.1f us\n", bench_percentile (samples, count, 90) / 1e3);
  printf ("  p99 %8.1f us\n", bench_percentile (samples, count, 99) / 1e3);
  printf ("  max %8.1f us\n", samples[count - 1] / 1e3);
  printf ("  rate %7.0f round trips/s, %u failed\n", count / (total / 1e9), failures);
  printf ("  helper CPU %.1f us per request (%.0f%% of one CPU)\n", cpu / 1e3 / count, 100.0 * cpu / total);
  bench_result ("status_p50", bench_percentile (samples, count, 50) / 1e3, "us");
  bench_result ("status_p90", bench_percentile (samples, count, 90) / 1e3, "us");
  bench_result ("status_p99", bench_percentile (samples, count, 99) / 1e3, "us");
  bench_result ("status_max", samples[count - 1] / 1e3, "us");
  bench_result ("status_cpu_per_request", cpu / 1e3 / count, "us");
  bench_result ("status_failures", failures, "count");

  if (!holder_helper_close (helper, 10000, NULL, NULL))
    fprintf (stderr, "bench-status: the helper did not exit in time\n");
  holder_helper_free (helper);
  bench_remove_tree (root);
  return failures == 0 ? 0 : 1;
}
