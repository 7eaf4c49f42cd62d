/* SPDX-License-Identifier: MIT
 *
 * The process suite: refused peers cost nothing. A root helper whose
 * sockets anyone can reach (mode 0666), with only 64 file descriptors, is
 * flooded by a foreign uid keeping 400 connections open on one member's
 * socket, writing junk on each and reconnecting as soon as one is closed.
 * Meanwhile a legitimate status, on that socket and on another member's,
 * is answered within a second every time; the helper's memory and
 * descriptors stay bounded (the refused uid holds at most its cap of
 * connections); and a refused peer gets its one-line answer before it has
 * sent a byte.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-test-refused-flood"

#include <sys/resource.h>
#include <time.h>

#include "holder-test-process.h"
#include "holder-test-util.h"

#define FLOOD_CONNECTIONS 400
#define FLOOD_SECONDS 3
#define FD_LIMIT 64
/* A legitimate status during the flood is answered within this. */
#define STATUS_BOUND_MS 1000
/* HOLDER_PEER_MAX_CONNECTIONS_REFUSED (holder-peer-private.h): what one
 * refused uid may hold open at once. */
#define REFUSED_CAP 4
/* The helper idles at ~8 MiB; before the caps, 400 refused connections
 * buffering up to 1 MiB each took it to 451 MiB. */
#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer's shadow memory and quarantine weigh on every page. */
#define PEAK_RSS_BOUND_MIB 120
#else
#define PEAK_RSS_BOUND_MIB 40
#endif

static guint
proc_fd_count (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static guint64
proc_status_kib (GPid        pid,
                 const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *contents = NULL;
  const char *line;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  line = strstr (contents, field);
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (field) + 1, NULL, 10);
}

static gint64
monotonic_usec (void)
{
  struct timespec now;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return (gint64) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* The foreign uid's flood, in a forked child (system calls only): keeps
 * FLOOD_CONNECTIONS connections to @path, writes junk without a newline on
 * each, reads what comes back, and replaces every connection the helper
 * closes. Exits 0 if it could connect at all. */
static void
flood (const char *path,
       gint64      end_usec)
{
  static int fds[FLOOD_CONNECTIONS];
  static char junk[4096];
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  guint connected = 0;

  memset (junk, 'x', sizeof junk);
  strncpy (addr.sun_path, path, sizeof addr.sun_path - 1);
  for (guint i = 0; i < FLOOD_CONNECTIONS; i++)
    fds[i] = -1;
  while (monotonic_usec () < end_usec)
    {
      for (guint i = 0; i < FLOOD_CONNECTIONS; i++)
        {
          char buf[512];
          ssize_t n;

          if (fds[i] < 0)
            {
              int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

              if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
                {
                  close (fd);
                  continue; /* the backlog is full: next round */
                }
              fds[i] = fd;
              connected++;
            }
          (void) send (fds[i], junk, sizeof junk, MSG_NOSIGNAL | MSG_DONTWAIT);
          n = recv (fds[i], buf, sizeof buf, MSG_DONTWAIT);
          if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            {
              close (fds[i]);
              fds[i] = -1;
            }
        }
    }
  if (connected == 0)
    _exit (2);
  child_exit_ok ();
}

/* A status round trip on @name's socket as root: its time in ms, or -1
 * if it was not answered as expected. */
static double
timed_status (Sandbox    *sb,
              const char *name,
              GPid        pid)
{
  g_autofree char *expected = expected_status (name, pid, TRUE, "", "starting", NULL);
  gint64 start = g_get_monotonic_time ();
  g_autofree char *reply = status_of (sb, name);
  double ms = ms_since (start);

  if (g_strcmp0 (reply, expected) != 0)
    {
      g_test_message ("status of %s: %s", name, reply != NULL ? reply : "(none)");
      return -1;
    }
  return ms;
}

/* As the foreign uid: connect, send nothing, read. The answer comes at
 * once, before any request (the helper reads nothing of a refused peer). */
static char *
refused_without_request (const char *path)
{
  int pipefd[2];
  pid_t child;
  char *reply;

  g_assert_no_errno (pipe (pipefd));
  child = fork_as (FOREIGN_UID);
  if (child == 0)
    {
      struct sockaddr_un addr = { .sun_family = AF_UNIX };
      char buf[512];
      ssize_t n;
      int fd = socket (AF_UNIX, SOCK_STREAM, 0);

      close (pipefd[0]);
      strncpy (addr.sun_path, path, sizeof addr.sun_path - 1);
      if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
        _exit (3);
      /* Our side stays open: whatever arrives was sent unasked. */
      while ((n = read (fd, buf, sizeof buf)) > 0)
        if (write (pipefd[1], buf, n) != n)
          _exit (4);
      child_exit_ok ();
    }
  close (pipefd[1]);
  reply = read_to_eof (pipefd[0], scaled (5000), NULL);
  close (pipefd[0]);
  g_assert_cmpint (wait_child (child), ==, 0);
  return reply;
}

static void
test_refused_flood (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(GSubprocess) helper = NULL;
  const char *names[] = { "fl-1", "fl-2", NULL };
  struct rlimit limit = { FD_LIMIT, FD_LIMIT };
  g_autofree char *flooded = NULL;
  g_autofree char *refusal = NULL;
  g_autofree char *expected_refusal = NULL;
  guint fds_before, fds_max = 0, rounds = 0;
  guint64 rss_before, hwm;
  double worst = 0;
  gint64 end;
  GPid pid;
  pid_t flooder;

  if (geteuid () != 0)
    {
      g_test_skip ("needs root to act as a foreign uid");
      return;
    }
  sb = sandbox_new ();
  /* The foreign uid can reach the sockets (0666 under root). */
  g_assert_no_errno (chmod (sb->dir, 0755));
  helper = spawn_helper (sb, (const char *[]) { "--fleetbox-runner", "fl-1,fl-2", NULL });
  pid = subprocess_pid (helper);
  wait_ready (sb, helper, pid, names, FALSE);
  g_assert_cmpfloat (timed_status (sb, "fl-2", pid), >=, 0);
  fds_before = proc_fd_count (pid);
  rss_before = proc_status_kib (pid, "VmRSS");
  g_assert_no_errno (prlimit (pid, RLIMIT_NOFILE, &limit, NULL));
  flooded = sock_path (sb, "fl-1");

  /* A refused peer is answered before it sends anything. */
  expected_refusal = g_strdup_printf ("{\"error\":\"permission denied: uid %d may not command "
                                      "this helper\"}\n", FOREIGN_UID);
  refusal = refused_without_request (flooded);
  g_assert_cmpstr (refusal, ==, expected_refusal);

  end = g_get_monotonic_time () + FLOOD_SECONDS * G_USEC_PER_SEC;
  flooder = fork_as (FOREIGN_UID);
  if (flooder == 0)
    flood (flooded, end);

  /* Legitimate requests all along, on the flooded socket and the other. */
  while (g_get_monotonic_time () < end)
    {
      double on_flooded = timed_status (sb, "fl-1", pid);
      double on_other = timed_status (sb, "fl-2", pid);

      rounds++;
      g_assert_cmpfloat (on_flooded, >=, 0);
      g_assert_cmpfloat (on_other, >=, 0);
      worst = MAX (worst, MAX (on_flooded, on_other));
      fds_max = MAX (fds_max, proc_fd_count (pid));
      g_usleep (20 * 1000);
    }
  g_assert_cmpint (wait_child (flooder), ==, 0);
  hwm = proc_status_kib (pid, "VmHWM");

  g_test_message ("%u status pairs during a %d s flood of %d connections from uid %d: worst "
                  "%.1f ms; helper descriptors %u before, %u at most (limit %d); VmRSS %.1f MiB "
                  "before, VmHWM %.1f MiB", rounds, FLOOD_SECONDS, FLOOD_CONNECTIONS,
                  FOREIGN_UID, worst, fds_before, fds_max, FD_LIMIT, rss_before / 1024.0,
                  hwm / 1024.0);
  g_assert_cmpuint (rounds, >, 0);
  g_assert_cmpfloat (worst, <, scaled (STATUS_BOUND_MS));
  /* The refused uid held at most its cap; one more for the connection
   * being accepted and closed, two for our own. */
  g_assert_cmpuint (fds_max, <=, fds_before + REFUSED_CAP + 1 + 2);
  if (!wrapped)
    g_assert_cmpuint (hwm, <, PEAK_RSS_BOUND_MIB * 1024);

  /* Still serving, and still refusing. */
  g_assert_cmpfloat (timed_status (sb, "fl-1", pid), >=, 0);
  g_clear_pointer (&refusal, g_free);
  refusal = refused_without_request (flooded);
  g_assert_cmpstr (refusal, ==, expected_refusal);
  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_cmpint (wait_exit (helper, pid, scaled (10000)), ==, 0);
  assert_no_helper_files (sb, names);
}

int
main (int    argc,
      char **argv)
{
  struct rlimit nofile;

  g_test_init (&argc, &argv, NULL);
  process_test_init ();
  /* The flooder's 400 connections. */
  if (getrlimit (RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max)
    {
      nofile.rlim_cur = nofile.rlim_max;
      setrlimit (RLIMIT_NOFILE, &nofile);
    }

  g_test_add_func ("/refused-flood/status-answered", test_refused_flood);
  return g_test_run ();
}
