/* SPDX-License-Identifier: MIT
 *
 * The platform layer (holder-platform-private.h), through each of its
 * paths: the native one of this host and the generic POSIX one. Built
 * twice: against libholder (the host's native half) and as
 * test-platform-none, against the half that has no native facility, so
 * that the fallback from a missing native path is exercised on Linux too.
 */
#define G_LOG_DOMAIN "test-platform"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include <glib/gstdio.h>

#include "holder-platform-private.h"

#define NOBODY_UID 65534
#define NOBODY_GID 65534

static const HolderPlatformPath both_paths[] = {
  HOLDER_PLATFORM_PATH_NATIVE,
  HOLDER_PLATFORM_PATH_GENERIC,
};

static const char *
path_name (HolderPlatformPath path)
{
  return path == HOLDER_PLATFORM_PATH_NATIVE ? "native" : "generic";
}

static gboolean
has_native (void)
{
  return !g_str_equal (holder_platform_native_name (), "none");
}

/* The native exit watch this host should give: NULL where it has none
 * (valgrind, for one, does not know pidfd_open and says ENOSYS). */
static const char *
expected_exit_watch (void)
{
  if (!has_native ())
    return NULL;
#if defined(__linux__) && defined(SYS_pidfd_open)
  {
    int fd = (int) syscall (SYS_pidfd_open, getpid (), 0);

    if (fd < 0)
      return NULL;
    close (fd);
    return "pidfd";
  }
#elif defined(__APPLE__)
  return "kqueue";
#else
  return NULL;
#endif
}

/* Under valgrind everything takes longer, the kernel's part included. */
static gint64
scaled_ms (gint64 ms)
{
  const char *preload = g_getenv ("LD_PRELOAD");

  return preload != NULL && strstr (preload, "vgpreload") != NULL ? ms * 10 : ms;
}

/* Reads exactly @len bytes from @fd within @timeout_ms; FALSE on EOF or
 * timeout. */
static gboolean
read_within (int      fd,
             gpointer buf,
             gsize    len,
             gint64   timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;
  gsize done = 0;

  while (done < len)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      ssize_t n;

      if (left <= 0)
        return FALSE;
      if (poll (&pfd, 1, (int) left) <= 0)
        continue;
      n = read (fd, (char *) buf + done, len - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      done += (gsize) n;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ path */

static void
test_path_from_string (void)
{
  g_assert_cmpint (holder_platform_path_from_string (NULL), ==, HOLDER_PLATFORM_PATH_NATIVE);
  g_assert_cmpint (holder_platform_path_from_string (""), ==, HOLDER_PLATFORM_PATH_NATIVE);
  g_assert_cmpint (holder_platform_path_from_string ("native"), ==, HOLDER_PLATFORM_PATH_NATIVE);
  g_assert_cmpint (holder_platform_path_from_string ("generic"), ==, HOLDER_PLATFORM_PATH_GENERIC);
  g_assert_cmpint (holder_platform_path_from_string ("Generic"), ==, -1);
  g_assert_cmpint (holder_platform_path_from_string ("posix"), ==, -1);
}

static void
test_path_from_environment (void)
{
  int expected = holder_platform_path_from_string (g_getenv (HOLDER_PLATFORM_ENV));

  if (expected < 0)
    expected = HOLDER_PLATFORM_PATH_NATIVE;
  g_assert_cmpint (holder_platform_get_path (), ==, expected);
  /* Read once: a later change is not seen. */
  g_setenv (HOLDER_PLATFORM_ENV, expected == HOLDER_PLATFORM_PATH_NATIVE ? "generic" : "native",
            TRUE);
  g_assert_cmpint (holder_platform_get_path (), ==, expected);
}

/* --------------------------------------------------------------- sockets */

static void
assert_connection_flags (int fd)
{
  int status = fcntl (fd, F_GETFL);
  int descriptor = fcntl (fd, F_GETFD);

  g_assert_cmpint (status, >=, 0);
  g_assert_cmpint (descriptor, >=, 0);
  g_assert_true (status & O_NONBLOCK);
  g_assert_true (descriptor & FD_CLOEXEC);
#ifdef SO_NOSIGPIPE
  {
    int value = 0;
    socklen_t len = sizeof value;

    g_assert_no_errno (getsockopt (fd, SOL_SOCKET, SO_NOSIGPIPE, &value, &len));
    g_assert_cmpint (value, !=, 0);
  }
#endif
}

typedef struct {
  char              *dir;
  char              *path;
  int                listen_fd;
} Listener;

static void
listener_open (Listener *l)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  g_autoptr(GError) error = NULL;

  l->dir = g_dir_make_tmp ("holder-platform-XXXXXX", &error);
  g_assert_no_error (error);
  /* Reachable by the unprivileged child of the credentials test. */
  g_assert_no_errno (g_chmod (l->dir, 0755));
  l->path = g_build_filename (l->dir, "s", NULL);
  g_assert_cmpuint (strlen (l->path), <, sizeof address.sun_path);
  strcpy (address.sun_path, l->path);
  l->listen_fd = socket (AF_UNIX, SOCK_STREAM, 0);
  g_assert_cmpint (l->listen_fd, >=, 0);
  g_assert_no_errno (bind (l->listen_fd, (struct sockaddr *) &address, sizeof address));
  g_assert_no_errno (g_chmod (l->path, 0777));
  g_assert_no_errno (listen (l->listen_fd, 4));
}

static void
listener_close (Listener *l)
{
  close (l->listen_fd);
  g_unlink (l->path);
  g_rmdir (l->dir);
  g_free (l->path);
  g_free (l->dir);
}

static void
test_accept_nothing_pending (void)
{
  Listener l = { 0 };

  listener_open (&l);
  g_assert_no_errno (fcntl (l.listen_fd, F_SETFL, fcntl (l.listen_fd, F_GETFL) | O_NONBLOCK));
  for (gsize i = 0; i < G_N_ELEMENTS (both_paths); i++)
    {
      errno = 0;
      g_assert_cmpint (holder_platform_accept_for (both_paths[i], l.listen_fd), ==, -1);
      g_assert_true (errno == EAGAIN || errno == EWOULDBLOCK);
    }
  listener_close (&l);
}

/* ------------------------------------------------------- peer credentials */

static void
peer_socketpair (gconstpointer data)
{
  HolderPlatformPath path = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  HolderPeerCredentials peer = { 0 };
  int fds[2];
  int flags_before;
  char byte = 'x';

  g_assert_no_errno (socketpair (AF_UNIX, SOCK_STREAM, 0, fds));
  flags_before = fcntl (fds[0], F_GETFL);

  if (path == HOLDER_PLATFORM_PATH_NATIVE && !has_native ())
    {
      g_assert_false (holder_platform_peer_credentials_for (path, fds[0], &peer, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      g_clear_error (&error);
      /* The dispatching entry point falls back to the generic path. */
      g_assert_true (holder_platform_peer_credentials (fds[0], &peer, &error));
    }
  else if (!holder_platform_peer_credentials_for (path, fds[0], &peer, &error))
    {
#ifndef __linux__
      /* Not every kernel records credentials for a socketpair (connect()
       * does it; the connected-child test covers that, the real use). */
      g_test_skip (error->message);
      close (fds[0]);
      close (fds[1]);
      return;
#endif
    }
  g_assert_no_error (error);
  g_assert_cmpuint (peer.uid, ==, geteuid ());
  if (peer.pid != -1)
    g_assert_cmpint (peer.pid, ==, getpid ());
#ifdef __linux__
  else
    g_assert_not_reached ();
#endif

  /* The descriptor is still ours, open, and as it was. */
  g_assert_cmpint (fcntl (fds[0], F_GETFL), ==, flags_before);
  g_assert_cmpint (write (fds[1], &byte, 1), ==, 1);
  g_assert_cmpint (read (fds[0], &byte, 1), ==, 1);
  close (fds[0]);
  close (fds[1]);
}

/* A child of another uid (when we are root) connects: its credentials, not
 * ours, must come back, through a connection accepted by the same path. */
static void
peer_connected_child (gconstpointer data)
{
  HolderPlatformPath path = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  HolderPeerCredentials peer = { 0 };
  Listener l = { 0 };
  uid_t expected_uid = geteuid () == 0 ? NOBODY_UID : geteuid ();
  struct pollfd pfd;
  GPid child;
  int fd, status;

  listener_open (&l);
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      struct sockaddr_un address = { .sun_family = AF_UNIX };
      char byte;
      int s;

      if (geteuid () == 0 && (setgid (NOBODY_GID) != 0 || setuid (NOBODY_UID) != 0))
        _exit (2);
      strcpy (address.sun_path, l.path);
      s = socket (AF_UNIX, SOCK_STREAM, 0);
      if (s < 0 || connect (s, (struct sockaddr *) &address, sizeof address) != 0)
        _exit (3);
      /* Until the test closes its end. */
      while (read (s, &byte, 1) > 0)
        ;
      _exit (0);
    }

  pfd = (struct pollfd) { .fd = l.listen_fd, .events = POLLIN };
  g_assert_cmpint (poll (&pfd, 1, (int) scaled_ms (5000)), ==, 1);
  fd = holder_platform_accept_for (path, l.listen_fd);
  g_assert_cmpint (fd, >=, 0);
  assert_connection_flags (fd);

  if (path == HOLDER_PLATFORM_PATH_NATIVE && !has_native ())
    g_assert_true (holder_platform_peer_credentials (fd, &peer, &error));
  else
    g_assert_true (holder_platform_peer_credentials_for (path, fd, &peer, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (peer.uid, ==, expected_uid);
  if (peer.pid != -1)
    g_assert_cmpint (peer.pid, ==, child);
#ifdef __linux__
  else
    g_assert_not_reached ();
#endif

  close (fd);
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  listener_close (&l);
}

/* ------------------------------------------------------------ pid liveness */

static void
test_pid_alive (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (both_paths); i++)
    {
      g_test_message ("%s", path_name (both_paths[i]));
      g_assert_true (holder_platform_pid_is_alive_for (both_paths[i], getpid ()));
      g_assert_false (holder_platform_pid_is_alive_for (both_paths[i], 0));
      g_assert_false (holder_platform_pid_is_alive_for (both_paths[i], -1));
    }
}

/* Waits until our child @pid has exited, without reaping it (WNOWAIT:
 * it stays a zombie). The test's timeout bounds a child that never ends. */
static void
await_zombie (GPid pid)
{
  siginfo_t info;

  memset (&info, 0, sizeof info);
  while (waitid (P_PID, (id_t) pid, &info, WEXITED | WNOWAIT) != 0)
    g_assert_cmpint (errno, ==, EINTR);
  g_assert_cmpint (info.si_pid, ==, pid);
}

static void
pid_zombie_child (gconstpointer data)
{
  HolderPlatformPath path = GPOINTER_TO_INT (data);
  GPid child = fork ();
  int status;

  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    _exit (0);

  await_zombie (child);
  /* kill(0) alone would call it alive. */
  g_assert_cmpint (kill (child, 0), ==, 0);
  g_assert_false (holder_platform_pid_is_alive_for (path, child));
  /* Looking reaped nothing. */
  g_assert_cmpint (waitpid (child, &status, WNOHANG), ==, child);
  g_assert_false (holder_platform_pid_is_alive_for (path, child));
}

static void
pid_live_child (gconstpointer data)
{
  HolderPlatformPath path = GPOINTER_TO_INT (data);
  GPid child = fork ();

  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      for (;;)
        pause ();
    }
  g_assert_true (holder_platform_pid_is_alive_for (path, child));
  g_assert_no_errno (kill (child, SIGKILL));
  g_assert_cmpint (waitpid (child, NULL, 0), ==, child);
  g_assert_false (holder_platform_pid_is_alive_for (path, child));
}

/* A zombie that is not our child: its parent does not reap it. Only the
 * native process table shows it (holder-platform-private.h). */
static void
test_pid_zombie_grandchild (void)
{
  int report[2];
  GPid child, grandchild = 0;
  int status;

  g_assert_no_errno (pipe (report));
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      GPid pid = fork ();
      siginfo_t info;

      if (pid == 0)
        _exit (0);
      /* Reported once it has exited, still unreaped. */
      memset (&info, 0, sizeof info);
      while (pid > 0 && waitid (P_PID, (id_t) pid, &info, WEXITED | WNOWAIT) != 0 && errno == EINTR)
        ;
      if (pid < 0 || write (report[1], &pid, sizeof pid) != sizeof pid)
        _exit (1);
      for (;;)
        pause ();
    }
  close (report[1]);
  g_assert_true (read_within (report[0], &grandchild, sizeof grandchild, scaled_ms (5000)));
  close (report[0]);

  if (has_native ())
    g_assert_false (holder_platform_pid_is_alive_for (HOLDER_PLATFORM_PATH_NATIVE, grandchild));
  else
    g_test_message ("no native process table here");
  /* The generic path cannot see into another parent's children: it still
   * exists (kill() succeeds), so it counts as alive. */
  if (kill (grandchild, 0) == 0)
    g_assert_true (holder_platform_pid_is_alive_for (HOLDER_PLATFORM_PATH_GENERIC, grandchild));

  g_assert_no_errno (kill (child, SIGKILL));
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
}

/* ------------------------------------------------------------ parent watch */

typedef struct {
  gboolean    fired;
  const char *reason;
  gint64      at;
} Fired;

static void
on_parent_gone (const char *reason,
                gpointer    user_data)
{
  Fired *fired = user_data;

  fired->fired = TRUE;
  fired->reason = reason;
  fired->at = g_get_monotonic_time ();
}

static gboolean
on_give_up (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs a watch on @parent on a private context until it fires or
 * @timeout_ms passes. */
static Fired
run_watch (HolderPlatformPath path,
           GPid               parent,
           gint64             timeout_ms,
           int                ready_fd,
           char              *out_mechanism,
           gsize              mechanism_size)
{
  GMainContext *context = g_main_context_new ();
  GSource *watch = holder_platform_parent_watch_new_for (path, parent);
  GSource *timeout = g_timeout_source_new ((guint) timeout_ms);
  gboolean gave_up = FALSE;
  Fired fired = { 0 };

  g_strlcpy (out_mechanism, holder_platform_parent_watch_get_mechanism (watch), mechanism_size);
  g_source_set_callback (watch, G_SOURCE_FUNC (on_parent_gone), &fired, NULL);
  g_source_attach (watch, context);
  g_source_set_callback (timeout, on_give_up, &gave_up, NULL);
  g_source_attach (timeout, context);
  if (ready_fd >= 0 && write (ready_fd, "r", 1) != 1)
    _exit (1);
  while (!fired.fired && !gave_up)
    g_main_context_iteration (context, TRUE);

  g_source_destroy (watch);
  g_source_unref (watch);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  g_main_context_unref (context);
  return fired;
}

typedef struct {
  gint64 fired_at;   /* 0: did not fire */
  char   mechanism[16];
  char   reason[64];
} WatchReport;

/* The parent is SIGKILLed: how long until the watch in its child fires.
 * The test forks an intermediate "parent", which forks the watching child;
 * the child reports back through a pipe, with the monotonic clock that all
 * processes share. */
static void
parent_watch_fires (gconstpointer data)
{
  HolderPlatformPath path = GPOINTER_TO_INT (data);
  int ready[2], report[2];
  WatchReport result = { 0 };
  GPid parent;
  gint64 killed_at, latency_us, bound_ms;
  char byte;

  g_assert_no_errno (pipe (ready));
  g_assert_no_errno (pipe (report));
  parent = fork ();
  g_assert_cmpint (parent, >=, 0);
  if (parent == 0)
    {
      GPid watcher = fork ();

      if (watcher == 0)
        {
          WatchReport r = { 0 };
          Fired fired;

          close (ready[0]);
          close (report[0]);
          fired = run_watch (path, getppid (), 10000, ready[1], r.mechanism, sizeof r.mechanism);
          r.fired_at = fired.fired ? fired.at : 0;
          g_strlcpy (r.reason, fired.reason != NULL ? fired.reason : "", sizeof r.reason);
          if (write (report[1], &r, sizeof r) != sizeof r)
            _exit (1);
          _exit (0);
        }
      for (;;)
        pause ();
    }
  close (ready[1]);
  close (report[1]);

  g_assert_true (read_within (ready[0], &byte, 1, scaled_ms (5000)));
  killed_at = g_get_monotonic_time ();
  g_assert_no_errno (kill (parent, SIGKILL));
  g_assert_cmpint (waitpid (parent, NULL, 0), ==, parent);
  g_assert_true (read_within (report[0], &result, sizeof result, scaled_ms (5000)));
  close (ready[0]);
  close (report[0]);

  g_assert_cmpint (result.fired_at, >, 0);
  latency_us = result.fired_at - killed_at;
  g_test_message ("%s path (%s): fired %.1f ms after the parent was SIGKILLed: %s",
                  path_name (path), result.mechanism, latency_us / 1000.0, result.reason);

  if (path == HOLDER_PLATFORM_PATH_NATIVE && expected_exit_watch () != NULL)
    {
      g_assert_cmpstr (result.mechanism, ==, expected_exit_watch ());
      g_assert_cmpstr (result.reason, ==, "the bound parent exited");
      /* Woken by the exit itself; the slack is for a loaded machine. */
      bound_ms = 50;
    }
  else
    {
      g_assert_cmpstr (result.mechanism, ==, "poll");
      g_assert_cmpstr (result.reason, ==, "the bound parent is gone");
      bound_ms = 150;
    }
  g_assert_cmpint (latency_us, <, scaled_ms (bound_ms) * 1000);
}

/* A pid that is not our parent: gone at start-up, reported from the main
 * loop without waiting for a poll. */
static void
parent_watch_not_our_parent (gconstpointer data)
{
  HolderPlatformPath path = GPOINTER_TO_INT (data);
  char mechanism[16];
  gint64 started = g_get_monotonic_time ();
  Fired fired = run_watch (path, getpid (), scaled_ms (5000), -1, mechanism, sizeof mechanism);

  g_assert_true (fired.fired);
  g_assert_cmpstr (mechanism, ==, "gone");
  g_assert_cmpstr (fired.reason, ==, "the bound parent was gone at start-up");
  g_assert_cmpint (fired.at - started, <, scaled_ms (HOLDER_PLATFORM_PARENT_POLL_MS / 2) * 1000);
}

static guint
count_open_descriptors (void)
{
  guint count = 0;

  for (int fd = 0; fd < 1024; fd++)
    if (fcntl (fd, F_GETFD) >= 0)
      count++;
  return count;
}

/* A watch that never fires is destroyed quietly: nothing dispatches, and
 * its descriptor is closed (valgrind and ASan see the rest). */
static void
parent_watch_destroyed (gconstpointer data)
{
  HolderPlatformPath path = GPOINTER_TO_INT (data);
  guint open_before = count_open_descriptors ();
  GMainContext *context = g_main_context_new ();
  GSource *watch = holder_platform_parent_watch_new_for (path, getppid ());
  Fired fired = { 0 };

  g_test_message ("%s", holder_platform_parent_watch_get_mechanism (watch));
  g_assert_cmpstr (holder_platform_parent_watch_get_mechanism (watch), !=, "gone");
  g_source_set_callback (watch, G_SOURCE_FUNC (on_parent_gone), &fired, NULL);
  g_source_attach (watch, context);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_source_destroy (watch);
  g_source_unref (watch);
  g_main_context_unref (context);
  g_assert_false (fired.fired);
  g_assert_cmpuint (count_open_descriptors (), ==, open_before);
}

/* ------------------------------------------------------------- executable */

static void
test_executable_path (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path = holder_platform_get_executable_path (&error);
  g_autofree char *base = NULL;

  if (!has_native ())
    {
      g_assert_null (path);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
      return;
    }
  g_assert_no_error (error);
  g_assert_nonnull (path);
  g_assert_true (g_path_is_absolute (path));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE));
  base = g_path_get_basename (path);
  g_assert_true (g_str_has_prefix (base, "test-platform"));
}

/* ---------------------------------------------------------------- main */

static void
add_both (const char *name,
          GTestDataFunc func)
{
  for (gsize i = 0; i < G_N_ELEMENTS (both_paths); i++)
    {
      g_autofree char *path = g_strdup_printf ("/platform/%s/%s", name, path_name (both_paths[i]));

      g_test_add_data_func (path, GINT_TO_POINTER (both_paths[i]), func);
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_message ("native half: %s", holder_platform_native_name ());

  g_test_add_func ("/platform/path/from-string", test_path_from_string);
  g_test_add_func ("/platform/path/environment", test_path_from_environment);
  g_test_add_func ("/platform/accept/nothing-pending", test_accept_nothing_pending);
  add_both ("peer/socketpair", peer_socketpair);
  add_both ("peer/connected-child", peer_connected_child);
  g_test_add_func ("/platform/pid/alive", test_pid_alive);
  add_both ("pid/zombie-child", pid_zombie_child);
  add_both ("pid/live-child", pid_live_child);
  g_test_add_func ("/platform/pid/zombie-grandchild", test_pid_zombie_grandchild);
  add_both ("parent-watch/fires", parent_watch_fires);
  add_both ("parent-watch/not-our-parent", parent_watch_not_our_parent);
  add_both ("parent-watch/destroyed", parent_watch_destroyed);
  g_test_add_func ("/platform/executable-path", test_executable_path);

  return g_test_run ();
}
