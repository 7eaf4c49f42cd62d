/* test-tcp-probe.c: the readiness probe's schedule (holder-tcp-probe.h),
 * against loopback sockets only.
 *
 * - A port bound but not listening answers RST, like a guest whose stack
 *   is up before its SSH server: the listener that appears later is
 *   noticed within one tick.
 * - A listener whose accept queue is full drops SYNs without a word, like
 *   a guest whose stack is not up yet: attempts back off to the longest
 *   interval, a kick brings them back to the shortest, and a freed queue
 *   is noticed within one (long) tick.
 * The probe's CPU time is measured in both states, and printed.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "test-tcp-probe"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>

#include "holder-backend.h"
#include "holder-tcp-probe.h"

/* Scheduling on a loaded 2-CPU machine: what "within one tick" may add. */
#define SLACK_MS 25
/* The probe's CPU use is asserted against this (5 % of one CPU). */
#define CPU_BOUND 0.05

/* Under valgrind (LD_PRELOAD names its preload) or ASan, times and CPU
 * figures are the tool's: they are printed, not asserted. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN TRUE
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN TRUE
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN FALSE
#endif

static gboolean timed;

typedef struct {
  HolderTcpProbe *probe;
  GAsyncResult   *result;
  gint64          done_at;
} Run;

static void
on_run_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Run *run = user_data;

  run->result = g_object_ref (result);
  run->done_at = g_get_monotonic_time ();
}

static gboolean
on_deadline (gpointer user_data)
{
  gboolean *passed = user_data;

  *passed = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop for @ms, or until @run ends when @run is not NULL. */
static void
run_for (guint ms,
         Run  *run)
{
  gboolean passed = FALSE;
  guint deadline = g_timeout_add (ms, on_deadline, &passed);

  while (!passed && (run == NULL || run->result == NULL))
    g_main_context_iteration (NULL, TRUE);
  if (!passed)
    g_source_remove (deadline);
}

/* This process's CPU time (user + system) in microseconds. */
static gint64
cpu_usec (void)
{
  struct rusage usage;

  g_assert_cmpint (getrusage (RUSAGE_SELF, &usage), ==, 0);
  return (gint64) (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * G_USEC_PER_SEC +
         usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
}

/* A TCP socket bound to 127.0.0.1 on a free port; the port in @out_port. */
static int
bound_socket (guint16 *out_port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  *out_port = ntohs (addr.sin_port);
  return fd;
}

static HolderTcpProbe *
start_probe (guint16 port,
             Run    *run)
{
  g_autoptr(GError) error = NULL;

  run->probe = holder_tcp_probe_new ("127.0.0.1", port, &error);
  g_assert_no_error (error);
  holder_tcp_probe_run_async (run->probe, NULL, on_run_done, run);
  return run->probe;
}

static void
run_clear (Run *run)
{
  g_clear_object (&run->result);
  g_clear_pointer (&run->probe, holder_tcp_probe_unref);
}

static void
test_listener_appears (void)
{
  Run run = { 0 };
  guint16 port;
  int fd = bound_socket (&port);
  gint64 t0, cpu0, listened_at, cpu;
  guint attempts;
  g_autoptr(GError) error = NULL;

  /* A second of refusals: the stack is up, the port not yet. */
  t0 = g_get_monotonic_time ();
  cpu0 = cpu_usec ();
  start_probe (port, &run);
  run_for (1000, &run);
  g_assert_null (run.result);
  cpu = cpu_usec () - cpu0;
  attempts = holder_tcp_probe_get_attempts (run.probe);
  g_test_message ("refused for %.0f ms: %u attempts, %u refused, %.1f ms of CPU (%.2f %%)",
                  (g_get_monotonic_time () - t0) / 1e3, attempts,
                  holder_tcp_probe_get_refused (run.probe), cpu / 1e3,
                  100.0 * cpu / (double) (g_get_monotonic_time () - t0));
  /* Every tick of the shortest interval, and no more (no spinning). */
  /* Each refused, but the one maybe still in flight. */
  g_assert_cmpuint (holder_tcp_probe_get_refused (run.probe) + 1, >=, attempts);
  g_assert_cmpuint (attempts, <=, 1000 / HOLDER_TCP_PROBE_MIN_INTERVAL_MS + 2);
  if (timed)
    {
      g_assert_cmpuint (attempts, >=, 1000 / HOLDER_TCP_PROBE_MIN_INTERVAL_MS / 4);
      g_assert_cmpfloat ((double) cpu / (g_get_monotonic_time () - t0), <, CPU_BOUND);
    }

  /* The listener appears: noticed within one tick. */
  g_assert_cmpint (listen (fd, 16), ==, 0);
  listened_at = g_get_monotonic_time ();
  run_for (5000, &run);
  g_assert_nonnull (run.result);
  g_assert_true (holder_tcp_probe_run_finish (run.probe, run.result, &error));
  g_assert_no_error (error);
  g_test_message ("listener noticed after %.1f ms", (run.done_at - listened_at) / 1e3);
  if (timed)
    g_assert_cmpint (run.done_at - listened_at, <=,
                     (HOLDER_TCP_PROBE_MIN_INTERVAL_MS + SLACK_MS) * G_TIME_SPAN_MILLISECOND);

  run_clear (&run);
  close (fd);
}

static void
test_silent_backs_off (void)
{
  Run run = { 0 };
  guint16 port;
  int listener = bound_socket (&port);
  struct sockaddr_in addr = { .sin_family = AF_INET };
  gint64 t0, cpu0, cpu, freed_at;
  guint attempts, before_kick, after_kick;
  int filler, queued;
  g_autoptr(GError) error = NULL;

  /* Backlog 0 takes one connection; later SYNs are dropped unanswered. */
  g_assert_cmpint (listen (listener, 0), ==, 0);
  filler = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  addr.sin_port = htons (port);
  g_assert_cmpint (connect (filler, (struct sockaddr *) &addr, sizeof addr), ==, 0);

  t0 = g_get_monotonic_time ();
  cpu0 = cpu_usec ();
  start_probe (port, &run);
  run_for (1000, &run);
  g_assert_null (run.result);
  cpu = cpu_usec () - cpu0;
  attempts = holder_tcp_probe_get_attempts (run.probe);
  g_test_message ("silent for %.0f ms: %u attempts, %.1f ms of CPU (%.2f %%)",
                  (g_get_monotonic_time () - t0) / 1e3, attempts, cpu / 1e3,
                  100.0 * cpu / (double) (g_get_monotonic_time () - t0));
  g_assert_cmpuint (holder_tcp_probe_get_refused (run.probe), ==, 0);
  /* Backed off: 0, 5, 15, 35 ms, then every 20 ms (about 52 in a
   * second), where the shortest interval throughout would make 200. */
  g_assert_cmpuint (attempts, <=, 1000 / HOLDER_TCP_PROBE_MAX_INTERVAL_MS + 5);
  if (timed)
    {
      g_assert_cmpuint (attempts, >=, 1000 / HOLDER_TCP_PROBE_MAX_INTERVAL_MS / 3);
      g_assert_cmpfloat ((double) cpu / (g_get_monotonic_time () - t0), <, CPU_BOUND);
    }

  /* A kick: the shortest interval again, for a while. */
  before_kick = holder_tcp_probe_get_attempts (run.probe);
  holder_tcp_probe_kick (run.probe, 200);
  run_for (200, &run);
  after_kick = holder_tcp_probe_get_attempts (run.probe);
  g_test_message ("200 ms after a kick: %u attempts", after_kick - before_kick);
  g_assert_cmpuint (after_kick - before_kick, <=, 200 / HOLDER_TCP_PROBE_MIN_INTERVAL_MS + 2);
  if (timed)
    g_assert_cmpuint (after_kick - before_kick, >, 200 / HOLDER_TCP_PROBE_MAX_INTERVAL_MS + 2);

  /* Room in the queue: the next attempt is answered, within a tick. */
  run_for (300, &run);
  queued = accept (listener, NULL, NULL);
  g_assert_cmpint (queued, >=, 0);
  freed_at = g_get_monotonic_time ();
  run_for (5000, &run);
  g_assert_nonnull (run.result);
  g_assert_true (holder_tcp_probe_run_finish (run.probe, run.result, &error));
  g_assert_no_error (error);
  g_test_message ("freed queue noticed after %.1f ms", (run.done_at - freed_at) / 1e3);
  if (timed)
    g_assert_cmpint (run.done_at - freed_at, <=,
                     (HOLDER_TCP_PROBE_MAX_INTERVAL_MS + SLACK_MS) * G_TIME_SPAN_MILLISECOND);

  run_clear (&run);
  close (queued);
  close (filler);
  close (listener);
}

static void
test_cancelled (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  Run run = { 0 };
  guint16 port;
  int fd = bound_socket (&port);
  gint64 t0;

  run.probe = holder_tcp_probe_new ("127.0.0.1", port, &error);
  g_assert_no_error (error);
  holder_tcp_probe_run_async (run.probe, cancellable, on_run_done, &run);
  run_for (50, &run);
  t0 = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  run_for (5000, &run);
  g_assert_nonnull (run.result);
  g_assert_false (holder_tcp_probe_run_finish (run.probe, run.result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  if (timed)
    g_assert_cmpint (run.done_at - t0, <, 100 * G_TIME_SPAN_MILLISECOND);
  /* Ended: a kick does nothing, and nothing runs any more. */
  holder_tcp_probe_kick (run.probe, 1000);
  g_assert_false (g_main_context_pending (NULL));

  run_clear (&run);
  close (fd);
}

static void
test_not_an_address (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (holder_tcp_probe_new ("not-an-ip", 22, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "not-an-ip is not an IPv4 address");
}

int
main (int    argc,
      char **argv)
{
  const char *preload = g_getenv ("LD_PRELOAD");

  g_test_init (&argc, &argv, NULL);
  timed = !UNDER_ASAN && (preload == NULL || strstr (preload, "vgpreload") == NULL);
  g_test_add_func ("/tcp-probe/listener-appears", test_listener_appears);
  g_test_add_func ("/tcp-probe/silent-backs-off", test_silent_backs_off);
  g_test_add_func ("/tcp-probe/cancelled", test_cancelled);
  g_test_add_func ("/tcp-probe/not-an-address", test_not_an_address);
  return g_test_run ();
}
