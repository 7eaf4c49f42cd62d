/* SPDX-License-Identifier: MIT
 *
 * bench-throughput: 200 concurrent clients (one thread each, blocking raw
 * Unix sockets) doing status round trips on random members of a helper
 * with 64 booted (fake) members, for 10 s. Every reply is compared byte for
 * byte with that member's status, checked field by field beforehand.
 *
 *   bench-throughput [--build-dir DIR] [CLIENTS [SECONDS]]
 */
#define G_LOG_DOMAIN "holder-bench"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "bench-common.h"

#define MEMBERS 64
#define DEFAULT_CLIENTS 200
#define DEFAULT_SECONDS 10

typedef struct {
  char  *paths[MEMBERS];
  char  *expected[MEMBERS];
  gint64 deadline;
  /* Clients start together, once all of them exist. */
  gint   waiting;
} Shared;

typedef struct {
  Shared  *shared;
  guint    seed;
  GArray  *samples;   /* gint64 ns */
  guint    failures;
  guint    errors;    /* of which: socket errors */
} Client;

static gpointer
client_thread (gpointer data)
{
  Client *client = data;
  Shared *shared = client->shared;
  GRand *rand = g_rand_new_with_seed (client->seed);
  char buf[4096];

  g_atomic_int_dec_and_test (&shared->waiting);
  while (g_atomic_int_get (&shared->waiting) > 0)
    g_thread_yield ();

  for (;;)
    {
      guint k = g_rand_int_range (rand, 0, MEMBERS);
      gint64 t0 = bench_now_ns ();
      gssize n;
      gint64 dt;

      if (t0 >= shared->deadline)
        break;
      n = bench_status_round_trip (shared->paths[k], buf, sizeof buf);
      dt = bench_now_ns () - t0;
      g_array_append_val (client->samples, dt);
      if (n < 0)
        {
          client->errors++;
          client->failures++;
        }
      else if (strcmp (buf, shared->expected[k]) != 0)
        client->failures++;
    }
  g_rand_free (rand);
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
  g_auto(GStrv) names = bench_names ("tp", MEMBERS);
  guint n_clients = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_CLIENTS;
  guint seconds = argc > 2 ? (guint) g_ascii_strtoull (argv[2], NULL, 10) : DEFAULT_SECONDS;
  g_autofree Client *clients = NULL;
  g_autofree GThread **threads = NULL;
  g_autoptr(GArray) all = g_array_new (FALSE, FALSE, sizeof (gint64));
  Shared shared = { 0 };
  HolderHelper *helper;
  GPid pid;
  gint64 start, elapsed, cpu;
  guint failures = 0, errors = 0;
  gint64 *sorted;

  g_set_prgname ("bench-throughput");
  signal (SIGPIPE, SIG_IGN);
  if (n_clients == 0 || seconds == 0)
    bench_die ("usage: bench-throughput [--build-dir DIR] [CLIENTS [SECONDS]]");

  helper = bench_spawn_bound (helper_path, (const char *const *) names, (const char *const *) env);
  pid = holder_helper_get_pid (helper);
  bench_fake_boot_all (root, (const char *const *) names);
  for (guint i = 0; i < MEMBERS; i++)
    {
      shared.paths[i] = holder_store_socket_path (root, names[i]);
      shared.expected[i] = bench_checked_status (root, names[i], pid, "running");
    }

  clients = g_new0 (Client, n_clients);
  threads = g_new0 (GThread *, n_clients);
  shared.waiting = n_clients + 1;
  shared.deadline = G_MAXINT64;
  for (guint i = 0; i < n_clients; i++)
    {
      clients[i].shared = &shared;
      clients[i].seed = i + 1;
      clients[i].samples = g_array_sized_new (FALSE, FALSE, sizeof (gint64), 4096);
      threads[i] = g_thread_new ("client", client_thread, &clients[i]);
    }
  cpu = bench_proc_cpu_ns (pid);
  start = bench_now_ns ();
  shared.deadline = start + (gint64) seconds * G_GINT64_CONSTANT (1000000000);
  g_atomic_int_dec_and_test (&shared.waiting);
  for (guint i = 0; i < n_clients; i++)
    {
      g_thread_join (threads[i]);
      g_array_append_vals (all, clients[i].samples->data, clients[i].samples->len);
      failures += clients[i].failures;
      errors += clients[i].errors;
      g_array_unref (clients[i].samples);
    }
  elapsed = bench_now_ns () - start;
  cpu = bench_proc_cpu_ns (pid) - cpu;

  sorted = (gint64 *) (void *) all->data;
  bench_sort (sorted, all->len);
  printf ("bench-throughput: %u concurrent clients, %u s, %d members (fake, booted)\n",
          n_clients, seconds, MEMBERS);
  printf ("  requests  %u (%u failed, %u socket errors)\n", all->len, failures, errors);
  printf ("  rate      %.0f requests/s\n", all->len / (elapsed / 1e9));
  printf ("  p50 %8.1f us\n", bench_percentile (sorted, all->len, 50) / 1e3);
  printf ("  p99 %8.1f us\n", bench_percentile (sorted, all->len, 99) / 1e3);
  printf ("  max %8.1f us\n", all->len > 0 ? sorted[all->len - 1] / 1e3 : 0.0);
  printf ("  helper CPU %.1f us per request (%.0f%% of one CPU)\n",
          all->len > 0 ? cpu / 1e3 / all->len : 0.0, 100.0 * cpu / elapsed);
  printf ("  helper VmHWM %.1f MiB\n", bench_proc_status_kib (pid, "VmHWM") / 1024.0);
  bench_result ("throughput_rps", all->len / (elapsed / 1e9), "req/s");
  bench_result ("throughput_p50", bench_percentile (sorted, all->len, 50) / 1e3, "us");
  bench_result ("throughput_p99", bench_percentile (sorted, all->len, 99) / 1e3, "us");
  bench_result ("throughput_cpu_per_request", all->len > 0 ? cpu / 1e3 / all->len : 0.0, "us");
  bench_result ("throughput_failures", failures, "count");

  for (guint i = 0; i < MEMBERS; i++)
    {
      g_free (shared.paths[i]);
      g_free (shared.expected[i]);
    }
  if (!holder_helper_close (helper, 30000, NULL, NULL))
    fprintf (stderr, "bench-throughput: the helper did not exit in time\n");
  holder_helper_free (helper);
  bench_remove_tree (root);
  return failures == 0 ? 0 : 1;
}
