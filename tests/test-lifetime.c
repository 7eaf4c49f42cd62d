/* SPDX-License-Identifier: MIT
 *
 * The process suite, part 1: the real fleetbox-helper as a child process,
 * checked from outside against protocol-v2.md sections 1, 5 and 6 --
 * arguments, detached and bound lifetimes, the bind handshake byte for
 * byte, the parent watch, signals and the last member leaving.
 */
#define G_LOG_DOMAIN "holder-test-lifetime"

#include "holder-test-process.h"

/* ---- argument handling -------------------------------------------------- */

typedef struct {
  int   status;     /* exit code */
  char *out;
  char *err;
  double elapsed_ms;
} RunResult;

static void
run_result_clear (RunResult *r)
{
  g_free (r->out);
  g_free (r->err);
}

/* Drops a wrapper's own report lines ("==pid== ..." from valgrind) so the
 * helper's output can be compared exactly; the wrapper's verdict is in the
 * exit code. */
static char *
strip_wrapper_lines (char *text)
{
  g_auto(GStrv) lines = NULL;
  GString *out;

  if (!wrapped || text == NULL)
    return text;
  lines = g_strsplit (text, "\n", -1);
  out = g_string_new (NULL);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "=="))
        continue;
      g_string_append (out, lines[i]);
      if (lines[i + 1] != NULL)
        g_string_append_c (out, '\n');
    }
  g_free (text);
  return g_string_free (out, FALSE);
}

static void
on_communicated (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* Runs the helper to completion (bounded by @timeout_ms) and collects its
 * exit code and output. */
static void
run_helper (Sandbox           *sb,
            const char *const *args,
            guint              timeout_ms,
            RunResult         *r)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GAsyncResult) result = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + (gint64) timeout_ms * 1000;
  GPid pid;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_environ (launcher, sb->env);
  g_ptr_array_add (argv, sb->program);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  pid = subprocess_pid (process);
  track_pid (pid);

  g_main_context_push_thread_default (context);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, on_communicated, &result);
  while (result == NULL && g_get_monotonic_time () < deadline)
    {
      /* Wakes at least every POLL_MS to look at the deadline. */
      g_main_context_iteration (context, FALSE);
      if (result == NULL)
        g_usleep (POLL_MS * 1000);
    }
  if (result == NULL)
    {
      g_subprocess_force_exit (process);
      while (result == NULL)
        g_main_context_iteration (context, TRUE);
    }
  g_subprocess_communicate_utf8_finish (process, result, &r->out, &r->err, &error);
  g_main_context_pop_thread_default (context);
  g_assert_no_error (error);
  r->out = strip_wrapper_lines (r->out);
  r->err = strip_wrapper_lines (r->err);
  r->elapsed_ms = ms_since (start);
  g_subprocess_wait (process, NULL, NULL);
  untrack_pid (pid);
  if (r->elapsed_ms >= timeout_ms)
    g_error ("helper did not finish within %u ms", timeout_ms);
  g_assert_true (g_subprocess_get_if_exited (process));
  r->status = g_subprocess_get_exit_status (process);
}

static void
assert_no_names (const char *const *args)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  RunResult r = { 0 };

  run_helper (sb, args, scaled (10000), &r);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_cmpstr (r.err, ==, "fleetbox-helper: no VM names provided\n");
  g_assert_cmpstr (r.out, ==, "");
  run_result_clear (&r);
}

static void
test_args_no_args (void)
{
  const char *args[] = { NULL };

  assert_no_names (args);
}

static void
test_args_runner_without_value (void)
{
  const char *args[] = { "--fleetbox-runner", NULL };

  assert_no_names (args);
}

static void
test_args_runner_empty_value (void)
{
  const char *args[] = { "--fleetbox-runner", "", NULL };
  const char *commas[] = { "--fleetbox-runner", ",,", NULL };

  assert_no_names (args);
  assert_no_names (commas);
}

/* One line "fleetbox-helper: ...\n" that mentions @needle. */
static void
assert_one_error_line (const char *err,
                       const char *needle)
{
  g_assert_true (g_str_has_prefix (err, "fleetbox-helper: "));
  g_assert_true (g_str_has_suffix (err, "\n"));
  /* The only newline is the last byte. */
  g_assert_true (strchr (err, '\n') == err + strlen (err) - 1);
  g_assert_nonnull (strstr (err, needle));
}

static void
test_args_invalid_name (void)
{
  const char *bad[] = { "a/b", "..", "web-1,x/y", NULL };
  const char *mentioned[] = { "a/b", "..", "x/y", NULL };

  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(Sandbox) sb = sandbox_new ();
      const char *args[] = { "--fleetbox-runner", bad[i], NULL };
      RunResult r = { 0 };

      run_helper (sb, args, scaled (10000), &r);
      g_test_message ("%s -> %.*s", bad[i], (int) strcspn (r.err, "\n"), r.err);
      g_assert_cmpint (r.status, ==, 1);
      assert_one_error_line (r.err, mentioned[i]);
      run_result_clear (&r);
    }
}

static void
test_args_help (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *args[] = { "--help", NULL };
  RunResult r = { 0 };

  run_helper (sb, args, scaled (10000), &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "--fleetbox-runner"));
  g_assert_nonnull (strstr (r.out, "--fleetbox-reconcile"));
  g_assert_cmpstr (r.err, ==, "");
  run_result_clear (&r);
}

static void
test_args_version (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *args[] = { "--version", NULL };
  RunResult r = { 0 };

  run_helper (sb, args, scaled (10000), &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strchr (r.out, '2'));
  g_assert_true (g_str_has_suffix (r.out, "\n"));
  run_result_clear (&r);
}

static void
test_args_reconcile (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *args[] = { "--fleetbox-reconcile", NULL };
  RunResult r = { 0 };

  run_helper (sb, args, scaled (3000), &r);
  g_test_message ("reconcile took %.1f ms", r.elapsed_ms);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  /* It serves nothing: no socket was made. */
  {
    g_autofree char *sock = sock_path (sb, "solo");
    g_assert_false (path_exists (sock));
  }
  run_result_clear (&r);
}

static void
test_args_unknown_backend (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *args[] = { "--fleetbox-runner", "solo", NULL };
  RunResult r = { 0 };

  sandbox_setenv (sb, "FLEETBOX_BACKEND", "nonsense");
  run_helper (sb, args, scaled (10000), &r);
  g_test_message ("%.*s", (int) strcspn (r.err, "\n"), r.err);
  g_assert_cmpint (r.status, ==, 1);
  assert_one_error_line (r.err, "nonsense");
  {
    g_autofree char *sock = sock_path (sb, "solo");
    g_assert_false (path_exists (sock));
  }
  run_result_clear (&r);
}

static void
test_args_no_backend (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *help_args[] = { "--help", NULL };
  const char *args[] = { "--fleetbox-runner", "solo", NULL };
  RunResult help = { 0 };
  RunResult r = { 0 };
  const char *line;

  /* Only meaningful while the fake is the only backend compiled in: with
   * a real one, an unset FLEETBOX_BACKEND would serve with it. */
  run_helper (sb, help_args, scaled (10000), &help);
  line = strstr (help.out, "FLEETBOX_BACKEND");
  g_assert_nonnull (line);
  line = strchr (line, '(');
  g_assert_nonnull (line);
  if (!g_str_has_prefix (line, "(fake)"))
    {
      g_test_skip ("a real backend is compiled in");
      run_result_clear (&help);
      return;
    }

  sandbox_setenv (sb, "FLEETBOX_BACKEND", NULL);
  run_helper (sb, args, scaled (10000), &r);
  g_test_message ("%.*s", (int) strcspn (r.err, "\n"), r.err);
  g_assert_cmpint (r.status, ==, 1);
  assert_one_error_line (r.err, "built without");
  run_result_clear (&r);
  run_result_clear (&help);
}

/* ---- detached ----------------------------------------------------------- */

static void
assert_member_files (Sandbox    *sb,
                     const char *name,
                     GPid        pid)
{
  g_autofree char *dir = member_dir (sb, name);
  g_autofree char *pidfile = pidfile_path (sb, name);
  g_autofree char *sock = sock_path (sb, name);
  g_autofree char *contents = NULL;
  g_autofree char *expected = g_strdup_printf ("%d", (int) pid);
  gsize len = 0;
  struct stat st;

  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_get_contents (pidfile, &contents, &len, NULL));
  g_assert_cmpuint (len, ==, strlen (expected));
  g_assert_cmpstr (contents, ==, expected);
  g_assert_no_errno (stat (pidfile, &st));
  g_assert_cmpint (st.st_mode & 07777, ==, 0644);
  g_assert_true (is_socket (sock));
}

static void
test_detached_files (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "web-1", "web-2", "db", NULL };
  const char *args[] = { "--fleetbox-runner", "web-1,web-2,db", NULL };
  g_autoptr(GSubprocess) process = NULL;
  g_autofree char *ctl = NULL;
  g_autofree char *solo = sha256_hex16 ("solo");
  GPid pid;

  g_assert_cmpstr (solo, ==, "5364f2f2fc4f54e9");

  process = spawn_helper (sb, args);
  pid = subprocess_pid (process);
  wait_ready (sb, process, pid, names, FALSE);

  for (guint i = 0; names[i] != NULL; i++)
    {
      assert_member_files (sb, names[i], pid);
      assert_status (sb, names[i], pid, TRUE, "", "starting", NULL);
    }
  /* Detached: no control socket. */
  ctl = ctl_path (sb, "web-1");
  g_assert_false (path_exists (ctl));

  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_cmpint (wait_exit (process, pid, scaled (5000)), ==, 0);
  assert_no_helper_files (sb, names);
}

static void
test_detached_spawn_api (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "solo", NULL };
  g_autoptr(HolderHelper) helper = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *ctl = NULL;
  GPid pid;
  int status = -1;

  helper = holder_helper_spawn (sb->program, names, (const char *const *) sb->env,
                                HOLDER_SPAWN_FLAGS_DETACHED, &error);
  g_assert_no_error (error);
  pid = holder_helper_get_pid (helper);
  track_pid (pid);
  g_assert_cmpstr (holder_helper_get_root (helper), ==, sb->root);
  /* Returns once the primary is served: no waiting needed. */
  assert_member_files (sb, "solo", pid);
  ctl = ctl_path (sb, "solo");
  g_assert_false (path_exists (ctl));
  /* Closing a detached handle leaves the helper alone. */
  g_assert_true (holder_helper_close (helper, 100, &status, &error));
  g_assert_no_error (error);
  g_assert_false (pid_gone (pid));
  assert_status (sb, "solo", pid, TRUE, "", "starting", NULL);

  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (pid), scaled (5000)));
  untrack_pid (pid);
  assert_no_helper_files (sb, names);
}

/* ---- bound: the handshake ------------------------------------------------ */

static GSubprocess *
spawn_bound (Sandbox           *sb,
             const char        *names_csv,
             const char        *parent_pid,
             const char *const *names)
{
  g_autofree char *self_pid = g_strdup_printf ("%d", (int) getpid ());
  const char *args[] = { "--fleetbox-runner", names_csv, NULL };
  GSubprocess *process;

  sandbox_setenv (sb, "FLEETBOX_PARENT_PID", parent_pid != NULL ? parent_pid : self_pid);
  process = spawn_helper (sb, args);
  wait_ready (sb, process, subprocess_pid (process), names, TRUE);
  return process;
}

static int
ctl_connect (Sandbox    *sb,
             const char *primary)
{
  g_autofree char *path = ctl_path (sb, primary);
  int fd = unix_connect (path);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

/* Writes "bind" and reads the answer: exactly "2", in one read, with
 * nothing after it. */
static void
ctl_bind (int fd)
{
  char buf[64];
  gssize n;

  g_assert_true (write_all (fd, "bind", 4));
  n = read_once (fd, buf, sizeof buf, scaled (5000));
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (buf[0], ==, '2');
  /* Nothing more comes before the ack. */
  g_assert_cmpint (read_once (fd, buf, sizeof buf, 50), ==, -2);
}

static void
assert_alive (Sandbox    *sb,
              const char *name,
              GPid        pid)
{
  assert_status (sb, name, pid, TRUE, "", "starting", NULL);
}

static void
test_bound_handshake (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "solo", "solo-2", NULL };
  g_autoptr(GSubprocess) process = spawn_bound (sb, "solo,solo-2", NULL, names);
  GPid pid = subprocess_pid (process);
  gint64 closed_at;
  int fd;

  fd = ctl_connect (sb, "solo");
  ctl_bind (fd);
  g_assert_true (write_all (fd, "ack", 3));
  /* Acked: the helper serves on, bound to this connection. */
  assert_alive (sb, "solo", pid);
  assert_alive (sb, "solo-2", pid);
  g_assert_false (pid_gone (pid));

  close (fd);
  closed_at = g_get_monotonic_time ();
  g_assert_cmpint (wait_exit (process, pid, scaled (1000)), ==, 0);
  g_test_message ("helper exited %.1f ms after the control connection closed",
                  ms_since (closed_at));
  assert_no_helper_files (sb, names);
}

static void
test_bound_close_before_ack (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "solo", NULL };
  g_autoptr(GSubprocess) process = spawn_bound (sb, "solo", NULL, names);
  GPid pid = subprocess_pid (process);
  int fd;

  fd = ctl_connect (sb, "solo");
  ctl_bind (fd);
  close (fd);
  /* Dropped without teardown: still serving, twice over. */
  assert_alive (sb, "solo", pid);
  assert_alive (sb, "solo", pid);
  g_assert_nonnull (g_subprocess_get_identifier (process));

  /* A retry completes the handshake, and its EOF tears down. */
  fd = ctl_connect (sb, "solo");
  ctl_bind (fd);
  g_assert_true (write_all (fd, "ack", 3));
  assert_alive (sb, "solo", pid);
  close (fd);
  g_assert_cmpint (wait_exit (process, pid, scaled (1000)), ==, 0);
  assert_no_helper_files (sb, names);
}

static void
test_bound_garbage (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "solo", NULL };
  g_autoptr(GSubprocess) process = spawn_bound (sb, "solo", NULL, names);
  GPid pid = subprocess_pid (process);
  char buf[64];
  int fd;

  fd = ctl_connect (sb, "solo");
  g_assert_true (write_all (fd, "hello", 5));
  /* Dropped: EOF, not a version. */
  g_assert_cmpint (read_once (fd, buf, sizeof buf, scaled (2000)), ==, 0);
  close (fd);
  assert_alive (sb, "solo", pid);
  assert_alive (sb, "solo", pid);

  /* A wrong ack is dropped as well, still without teardown. */
  fd = ctl_connect (sb, "solo");
  ctl_bind (fd);
  g_assert_true (write_all (fd, "nak", 3));
  g_assert_cmpint (read_once (fd, buf, sizeof buf, scaled (2000)), ==, 0);
  close (fd);
  assert_alive (sb, "solo", pid);

  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_cmpint (wait_exit (process, pid, scaled (5000)), ==, 0);
  assert_no_helper_files (sb, names);
}

static void
test_bound_non_numeric_parent (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "solo", NULL };
  g_autoptr(GSubprocess) process = spawn_bound (sb, "solo", "abc", names);
  GPid pid = subprocess_pid (process);
  g_autofree char *ctl = ctl_path (sb, "solo");
  int fd;

  g_assert_true (is_socket (ctl));
  assert_alive (sb, "solo", pid);
  fd = ctl_connect (sb, "solo");
  ctl_bind (fd);
  close (fd);
  assert_alive (sb, "solo", pid);

  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_cmpint (wait_exit (process, pid, scaled (5000)), ==, 0);
  assert_no_helper_files (sb, names);
}

/* ---- bound: the parent dies ---------------------------------------------- */

/* `--as-parent MODE PROGRAM NAMES`, run in a child of the test: starts a
 * helper bound to this process, prints its pid and waits to be killed.
 * MODE "bind": holder_helper_spawn() plus a boot of every member on the
 * fake; MODE "watch": FLEETBOX_PARENT_PID alone, no control connection. */
static int
as_parent_main (int    argc,
                char **argv)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) names = NULL;
  GPid pid;

  if (argc != 5)
    {
      fprintf (stderr, "usage: %s --as-parent bind|watch PROGRAM NAMES\n", argv[0]);
      return 2;
    }
  names = g_strsplit (argv[4], ",", -1);

  if (g_str_equal (argv[2], "bind"))
    {
      HolderHelper *helper;
      g_autofree char *subnet = NULL;

      helper = holder_helper_spawn (argv[3], (const char *const *) names, NULL,
                                    HOLDER_SPAWN_FLAGS_NONE, &error);
      if (helper == NULL)
        goto fail;
      if (!holder_client_create_network (NULL, names[0], &subnet, &error))
        goto fail;
      for (guint i = 0; names[i] != NULL; i++)
        {
          g_autoptr(HolderReservation) reservation = NULL;
          g_autoptr(HolderMemberSpec) spec = holder_member_spec_new (names[i]);

          reservation = holder_client_reserve (NULL, names[0], names[i], NULL, &error);
          if (reservation == NULL)
            goto fail;
          g_free (spec->disk_path);
          spec->disk_path = g_strdup ("/nonexistent/disk.qcow2");
          g_free (spec->seed_path);
          spec->seed_path = g_strdup ("/nonexistent/seed.iso");
          spec->cpus = 1;
          spec->memory_bytes = 512 * 1024 * 1024;
          if (!holder_client_boot_member (NULL, names[0], spec, 0, &error))
            goto fail;
        }
      /* The handle (and its control connection) lives until we die. */
      pid = holder_helper_get_pid (helper);
    }
  else
    {
      g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
      g_autofree char *self = g_strdup_printf ("%d", (int) getpid ());
      const char *helper_argv[] = { argv[3], "--fleetbox-runner", argv[4], NULL };
      GSubprocess *process;

      g_subprocess_launcher_setenv (launcher, "FLEETBOX_PARENT_PID", self, TRUE);
      process = g_subprocess_launcher_spawnv (launcher, helper_argv, &error);
      if (process == NULL)
        goto fail;
      pid = atoi (g_subprocess_get_identifier (process));
    }

  printf ("%d\n", (int) pid);
  fflush (stdout);
  for (;;)
    pause ();

fail:
  fprintf (stderr, "as-parent: %s\n", error->message);
  return 1;
}

typedef struct {
  GPid pid;
  int  status;
} Reap;

static gboolean
reaped_cb (gpointer data)
{
  Reap *r = data;

  /* ECHILD until the orphan has been reparented to us. */
  return waitpid (r->pid, &r->status, WNOHANG) == r->pid;
}

static void
parent_killed (const char *mode)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "web-1", "web-2", NULL };
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) parent = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  const char *argv[] = { self_exe, "--as-parent", mode, sb->program, "web-1,web-2", NULL };
  Reap reap = { 0 };
  gint64 killed_at;
  double reap_ms;
  guint64 pid = 0;

  g_assert_nonnull (self_exe);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_environ (launcher, sb->env);
  parent = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  track_pid (subprocess_pid (parent));

  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (parent));
  line = g_data_input_stream_read_line_utf8 (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  g_assert_true (g_ascii_string_to_unsigned (line, 10, 1, G_MAXINT, &pid, NULL));
  reap.pid = (GPid) pid;
  track_pid (reap.pid);

  wait_ready (sb, NULL, reap.pid, names, TRUE);
  if (g_str_equal (mode, "bind"))
    {
      assert_status (sb, "web-1", reap.pid, TRUE, "203.0.113.1", "running", NULL);
      assert_status (sb, "web-2", reap.pid, TRUE, "203.0.113.2", "running", NULL);
    }
  else
    assert_alive (sb, "web-1", reap.pid);

  killed_at = g_get_monotonic_time ();
  g_subprocess_send_signal (parent, SIGKILL);
  g_assert_true (wait_until (reaped_cb, &reap, scaled (1000)));
  reap_ms = ms_since (killed_at);
  untrack_pid (reap.pid);
  g_test_message ("%s: helper %d reaped %.1f ms after its parent was SIGKILLed",
                  mode, (int) reap.pid, reap_ms);
  g_subprocess_wait (parent, NULL, NULL);
  untrack_pid (subprocess_pid (parent));

  g_assert_true (WIFEXITED (reap.status));
  g_assert_cmpint (WEXITSTATUS (reap.status), ==, 0);
  assert_no_helper_files (sb, names);
  if (g_str_equal (mode, "bind"))
    {
      /* The VMs were stopped and the network closed on the way out. */
      g_assert_cmpuint (record_count (sb, "{\"op\":\"stop\",\"name\":\"web-1\"}"), ==, 1);
      g_assert_cmpuint (record_count (sb, "{\"op\":\"stop\",\"name\":\"web-2\"}"), ==, 1);
      g_assert_cmpuint (record_count (sb, "{\"op\":\"close\"}"), ==, 1);
    }
}

static void
test_bound_parent_killed (void)
{
  parent_killed ("bind");
}

static void
test_bound_parent_killed_watch_only (void)
{
  parent_killed ("watch");
}

/* ---- bound: signals, last member, close ---------------------------------- */

static HolderHelper *
spawn_bound_api (Sandbox           *sb,
                 const char *const *names)
{
  g_autoptr(GError) error = NULL;
  HolderHelper *helper;

  helper = holder_helper_spawn (sb->program, names, (const char *const *) sb->env,
                                HOLDER_SPAWN_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (helper);
  track_pid (holder_helper_get_pid (helper));
  g_assert_cmpstr (holder_helper_get_primary (helper), ==, names[0]);
  return helper;
}

static void
boot_with_client (Sandbox    *sb,
                  const char *primary,
                  const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReservation) reservation = NULL;
  g_autoptr(HolderMemberSpec) spec = holder_member_spec_new (name);
  g_autofree char *subnet = NULL;

  g_assert_true (holder_client_create_network (sb->root, primary, &subnet, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (subnet, ==, "");
  reservation = holder_client_reserve (sb->root, primary, name, NULL, &error);
  g_assert_no_error (error);
  g_free (spec->disk_path);
  spec->disk_path = g_strdup ("/nonexistent/disk.qcow2");
  g_free (spec->seed_path);
  spec->seed_path = g_strdup ("/nonexistent/seed.iso");
  spec->cpus = 1;
  spec->memory_bytes = 512 * 1024 * 1024;
  g_assert_true (holder_client_boot_member (sb->root, primary, spec, 0, &error));
  g_assert_no_error (error);
}

/* The helper went away by itself: its exit status, through the handle. */
static void
assert_exited_cleanly (HolderHelper *helper)
{
  g_autoptr(GError) error = NULL;
  GPid pid = holder_helper_get_pid (helper);
  int status = -1;

  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (pid), scaled (5000)));
  g_assert_true (holder_helper_close (helper, scaled (5000), &status, &error));
  g_assert_no_error (error);
  untrack_pid (pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

static void
bound_signal (int sig)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "solo", "solo-2", NULL };
  g_autoptr(HolderHelper) helper = spawn_bound_api (sb, names);
  GPid pid = holder_helper_get_pid (helper);

  boot_with_client (sb, "solo", "solo");
  assert_status (sb, "solo", pid, TRUE, "203.0.113.1", "running", NULL);

  g_assert_no_errno (kill (pid, sig));
  assert_exited_cleanly (helper);
  assert_no_helper_files (sb, names);
  g_assert_cmpuint (record_count (sb, "{\"op\":\"stop\",\"name\":\"solo\"}"), ==, 1);
  g_assert_cmpuint (record_count (sb, "{\"op\":\"close\"}"), ==, 1);
}

static void
test_bound_sigterm (void)
{
  bound_signal (SIGTERM);
}

static void
test_bound_sigint (void)
{
  bound_signal (SIGINT);
}

static void
test_last_member_stop (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "solo", NULL };
  g_autoptr(HolderHelper) helper = spawn_bound_api (sb, names);
  GPid pid = holder_helper_get_pid (helper);
  g_autofree char *reply = NULL;

  boot_with_client (sb, "solo", "solo");
  assert_status (sb, "solo", pid, TRUE, "203.0.113.1", "running", NULL);

  reply = member_request (sb, "solo", "{\"cmd\":\"stop\"}\n");
  g_assert_cmpstr (reply, ==, "{}\n");
  /* No active member is left: the helper ends by itself, control
   * connection still open. */
  assert_exited_cleanly (helper);
  assert_no_helper_files (sb, names);
  g_assert_cmpuint (record_count (sb, "{\"op\":\"stop\",\"name\":\"solo\"}"), ==, 1);
  g_assert_cmpuint (record_count (sb, "{\"op\":\"close\"}"), ==, 1);
}

static void
test_last_member_boot_failure (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "solo", NULL };
  g_autoptr(HolderHelper) helper = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReservation) reservation = NULL;
  g_autofree char *subnet = NULL;
  g_autofree char *boot = boot_request ("solo");
  g_autofree char *reply = NULL;

  sandbox_setenv (sb, "FLEETBOX_FAKE_FAIL_CREATE", "solo");
  helper = spawn_bound_api (sb, names);
  g_assert_true (holder_client_create_network (sb->root, "solo", &subnet, &error));
  g_assert_no_error (error);
  reservation = holder_client_reserve (sb->root, "solo", "solo", NULL, &error);
  g_assert_no_error (error);

  /* The failure ends the last active member, and with it the helper: the
   * reply still arrives in full first. */
  reply = member_request (sb, "solo", boot);
  g_assert_cmpstr (reply, ==,
                   "{\"error\":\"create solo: fake backend: forced Create failure for \\\"solo\\\"\"}\n");
  assert_exited_cleanly (helper);
  assert_no_helper_files (sb, names);
}

static void
test_bound_helper_close (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "web-1", "web-2", NULL };
  g_autoptr(HolderHelper) helper = spawn_bound_api (sb, names);
  g_autoptr(GError) error = NULL;
  GPid pid = holder_helper_get_pid (helper);
  int status = -1;

  assert_member_files (sb, "web-1", pid);
  assert_member_files (sb, "web-2", pid);
  assert_alive (sb, "web-2", pid);
  g_assert_true (holder_helper_close (helper, scaled (5000), &status, &error));
  g_assert_no_error (error);
  untrack_pid (pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_true (pid_gone (pid));
  assert_no_helper_files (sb, names);
}

int
main (int    argc,
      char **argv)
{
  if (argc > 1 && g_str_equal (argv[1], "--as-parent"))
    return as_parent_main (argc, argv);

  process_test_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/lifetime/args/no-args", test_args_no_args);
  g_test_add_func ("/lifetime/args/runner-without-value", test_args_runner_without_value);
  g_test_add_func ("/lifetime/args/runner-empty-value", test_args_runner_empty_value);
  g_test_add_func ("/lifetime/args/invalid-name", test_args_invalid_name);
  g_test_add_func ("/lifetime/args/help", test_args_help);
  g_test_add_func ("/lifetime/args/version", test_args_version);
  g_test_add_func ("/lifetime/args/reconcile", test_args_reconcile);
  g_test_add_func ("/lifetime/args/unknown-backend", test_args_unknown_backend);
  g_test_add_func ("/lifetime/args/no-backend", test_args_no_backend);
  g_test_add_func ("/lifetime/detached/files", test_detached_files);
  g_test_add_func ("/lifetime/detached/spawn-api", test_detached_spawn_api);
  g_test_add_func ("/lifetime/bound/handshake", test_bound_handshake);
  g_test_add_func ("/lifetime/bound/close-before-ack", test_bound_close_before_ack);
  g_test_add_func ("/lifetime/bound/garbage", test_bound_garbage);
  g_test_add_func ("/lifetime/bound/non-numeric-parent", test_bound_non_numeric_parent);
  g_test_add_func ("/lifetime/bound/parent-killed", test_bound_parent_killed);
  g_test_add_func ("/lifetime/bound/parent-killed-watch-only", test_bound_parent_killed_watch_only);
  g_test_add_func ("/lifetime/bound/sigterm", test_bound_sigterm);
  g_test_add_func ("/lifetime/bound/sigint", test_bound_sigint);
  g_test_add_func ("/lifetime/bound/helper-close", test_bound_helper_close);
  g_test_add_func ("/lifetime/last-member/stop", test_last_member_stop);
  g_test_add_func ("/lifetime/last-member/boot-failure", test_last_member_boot_failure);

  return g_test_run ();
}
