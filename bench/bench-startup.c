/* SPDX-License-Identifier: MIT
 *
 * bench-startup: from exec of fleetbox-helper (detached, fake backend, one
 * member) to its pidfile being in place (written after its socket
 * listens), its socket accepting a connection, and its first status
 * reply; 200 runs, each helper stopped with SIGTERM and reaped.
 *
 * The pidfile is awaited with inotify on the member's folder (made before
 * the first run): one wake-up when it is renamed into place, then one
 * connect(), which must succeed. Nothing waits by spinning: a waiter that
 * retries connect() from the socket file's creation (bind) until listen()
 * runs on the helper's CPU in between and delayed it by up to 1 ms on
 * this 2-CPU machine, which made the figure depend on CPU placement.
 *
 *   bench-startup [--build-dir DIR] [RUNS]
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-bench"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

#define DEFAULT_RUNS 200
#define RUN_TIMEOUT_MS 10000

/* Waits for @socket_name (a file name) to appear in the watched folder. */
static gboolean
await_created (int         inotify_fd,
               const char *socket_path,
               const char *socket_name,
               gint64      deadline)
{
  char events[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));

  for (;;)
    {
      struct pollfd pfd = { .fd = inotify_fd, .events = POLLIN };
      gint64 left_ms = (deadline - bench_now_ns ()) / 1000000;
      gssize n;

      /* A creation between the watch and this check is seen here. */
      if (g_file_test (socket_path, G_FILE_TEST_EXISTS))
        return TRUE;
      if (left_ms <= 0 || poll (&pfd, 1, (int) left_ms) <= 0)
        return FALSE;
      n = read (inotify_fd, events, sizeof events);
      for (gssize off = 0; off < n;)
        {
          const struct inotify_event *ev = (const struct inotify_event *) (events + off);

          if (ev->len > 0 && g_str_equal (ev->name, socket_name))
            return TRUE;
          off += sizeof *ev + ev->len;
        }
    }
}

/* One connect() to @socket_path: TRUE if it was accepted. */
static gboolean
connects_once (const char *socket_path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc;

  g_strlcpy (addr.sun_path, socket_path, sizeof addr.sun_path);
  rc = connect (fd, (struct sockaddr *) &addr, sizeof addr);
  close (fd);
  return rc == 0;
}

static void
print_row (const char *what,
           gint64     *samples,
           guint       n)
{
  bench_sort (samples, n);
  printf ("  %-22s p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms\n", what,
          bench_percentile (samples, n, 50) / 1e6, bench_percentile (samples, n, 99) / 1e6,
          samples[n - 1] / 1e6);
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *build = bench_build_dir (&argc, &argv);
  g_autofree char *helper_path = bench_helper_path (build);
  g_autofree char *root = bench_make_root ();
  g_auto(GStrv) env = bench_environ (root, "fake");
  g_autofree char *socket_path = holder_store_socket_path (root, "start");
  guint runs = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_RUNS;
  g_autofree gint64 *ready = NULL;
  g_autofree gint64 *answered = NULL;
  g_autofree gint64 *with_pidfile = NULL;
  g_autofree char *pidfile_path = holder_store_pidfile_path (root, "start");
  g_autofree char *member_dir = holder_store_member_dir (root, "start");
  char *const helper_argv[] = { helper_path, (char *) "--fleetbox-runner", (char *) "start", NULL };
  posix_spawnattr_t attr;
  int inotify_fd;
  char buf[4096];

  g_set_prgname ("bench-startup");
  signal (SIGPIPE, SIG_IGN);
  if (runs == 0)
    bench_die ("usage: bench-startup [--build-dir DIR] [RUNS]");
  if (!holder_store_ensure_root (root, NULL))
    bench_die ("cannot create %s", root);
  /* The helper makes the member's folder if it is missing; made here, it
   * can be watched from the first run on. */
  if (g_mkdir_with_parents (member_dir, 0755) != 0)
    bench_die ("create %s: %s", member_dir, g_strerror (errno));
  inotify_fd = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  if (inotify_fd < 0 || inotify_add_watch (inotify_fd, member_dir, IN_MOVED_TO | IN_CREATE) < 0)
    bench_die ("inotify on %s: %s", member_dir, g_strerror (errno));

  /* Detached, as a client starts it: a new session, no parent pid. */
  posix_spawnattr_init (&attr);
  posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSID);

  ready = g_new (gint64, runs);
  answered = g_new (gint64, runs);
  with_pidfile = g_new (gint64, runs);
  for (guint i = 0; i < runs; i++)
    {
      gint64 t0, deadline;
      pid_t pid;
      int status, rc;

      while (read (inotify_fd, buf, sizeof buf) > 0)
        ;
      t0 = bench_now_ns ();
      deadline = t0 + (gint64) RUN_TIMEOUT_MS * 1000000;
      rc = posix_spawn (&pid, helper_path, NULL, &attr, helper_argv, env);
      if (rc != 0)
        bench_die ("spawn %s: %s", helper_path, g_strerror (rc));
      if (!await_created (inotify_fd, pidfile_path, "pid", deadline))
        {
          kill (pid, SIGKILL);
          bench_die ("run %u: no pidfile within %d ms", i, RUN_TIMEOUT_MS);
        }
      with_pidfile[i] = bench_now_ns () - t0;
      /* The socket listens before the pidfile is written. */
      if (!connects_once (socket_path))
        bench_die ("run %u: the member socket does not accept once the pidfile is there", i);
      ready[i] = bench_now_ns () - t0;
      if (bench_status_round_trip (socket_path, buf, sizeof buf) <= 0 ||
          !g_str_has_prefix (buf, "{\"status\":{\"name\":\"start\""))
        bench_die ("run %u: no status reply: %s", i, buf);
      answered[i] = bench_now_ns () - t0;

      kill (pid, SIGTERM);
      if (waitpid (pid, &status, 0) != pid || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
        bench_die ("run %u: the helper did not exit cleanly on SIGTERM (status %d)", i, status);
    }
  posix_spawnattr_destroy (&attr);
  close (inotify_fd);

  printf ("bench-startup: %u runs, exec of fleetbox-helper (detached, 1 member, fake)\n", runs);
  print_row ("to pidfile in place", with_pidfile, runs);
  print_row ("to socket accepting", ready, runs);
  print_row ("to first status reply", answered, runs);
  bench_result ("startup_ready_p50", bench_percentile (ready, runs, 50) / 1e6, "ms");
  bench_result ("startup_ready_p99", bench_percentile (ready, runs, 99) / 1e6, "ms");
  bench_result ("startup_pidfile_p50", bench_percentile (with_pidfile, runs, 50) / 1e6, "ms");
  bench_result ("startup_status_p50", bench_percentile (answered, runs, 50) / 1e6, "ms");
  bench_result ("startup_status_p99", bench_percentile (answered, runs, 99) / 1e6, "ms");
  bench_remove_tree (root);
  return 0;
}
