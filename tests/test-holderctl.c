/* test-holderctl.c: holderctl's listing and stopping commands against real
 * fake-backend helpers, detached as `holderctl up` starts them, in a
 * scratch store: ls, status, stop, down, logs, prune, and the shell
 * completion's names. Live members, stale ones (a SIGKILLed helper's
 * leftovers) and members stopped while ls runs.
 *
 * SPDX-License-Identifier: MIT
 */
#include "holder-test-ctl.h"
#include "holder-test-util.h"

static gboolean
served (Sandbox    *sb,
        const char *name)
{
  GPid pid = read_pidfile (sb, name);

  return pid > 0 && !pid_gone (pid);
}

/* ---- ls -------------------------------------------------------------------- */

static void
test_ls_empty (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  HolderTestRun r = { 0 };

  ctl (sb, &r, "ls", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "No members in "));
  holder_test_run_clear (&r);

  ctl (sb, &r, "--json", "list", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "[]\n");
  holder_test_run_clear (&r);

  ctl (sb, &r, "ls", "--cluster", "nosuch", NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "no cluster \"nosuch\""));
  holder_test_run_clear (&r);
}

/* The column a heading starts at is where every row's cell starts. */
static void
assert_column (const char *table,
               const char *heading,
               const char *row_start,
               const char *cell)
{
  g_auto(GStrv) lines = g_strsplit (table, "\n", -1);
  const char *in_header = strstr (lines[0], heading);
  glong column;

  g_assert_nonnull (in_header);
  column = in_header - lines[0];
  for (guint i = 1; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], row_start))
      {
        g_assert_cmpint (strlen (lines[i]), >, column);
        g_assert_true (g_str_has_prefix (lines[i] + column, cell));
        return;
      }
  g_error ("no row starts with \"%s\"", row_start);
}

static void
test_ls_live (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *web[] = { "web-1", "web-2", "web-3", NULL };
  const char *db[] = { "db-10", NULL };
  g_autoptr(JsonArray) array = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *m;
  HolderTestRun r = { 0 };
  GPid web_pid, db_pid;

  sandbox_setenv (sb, "FLEETBOX_FAKE_FAIL_IP", "web-3");
  web_pid = spawn_detached (sb, web);
  db_pid = spawn_detached (sb, db);
  g_assert_null (boot_member (sb, "web-1", "web-1", NULL));
  error = boot_member (sb, "web-1", "web-3", NULL);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);

  ctl (sb, &r, "ls", "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  array = parse_json_array (r.out);
  g_assert_cmpuint (json_array_get_length (array), ==, 4);
  for (guint i = 0; i < 4; i++)
    assert_member_schema (json_array_get_object_element (array, i));
  /* Sorted by cluster, then name. */
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 0), "name"), ==, "db-10");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 1), "name"), ==, "web-1");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 3), "name"), ==, "web-3");

  m = find_member (array, "web-1");
  g_assert_cmpstr (json_object_get_string_member (m, "cluster"), ==, "web");
  g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, "running");
  g_assert_true (json_object_get_boolean_member (m, "running"));
  g_assert_cmpstr (json_object_get_string_member (m, "ip"), ==, "203.0.113.1");
  g_assert_cmpint (json_object_get_int_member (m, "pid"), ==, web_pid);
  g_assert_cmpstr (json_object_get_string_member (m, "backend"), ==, "fake");
  g_assert_cmpstr (json_object_get_string_member (m, "liveness"), ==, "live");
  g_assert_cmpint (json_object_get_int_member (m, "uptime_seconds"), >=, 0);
  g_assert_cmpint (json_object_get_int_member (m, "uptime_seconds"), <, 600);
  g_assert_null (json_string_or_null (m, "error"));
  g_assert_true (g_str_has_suffix (json_object_get_string_member (m, "console_log"),
                                   "/clusters/web/web-1/serial.log"));

  m = find_member (array, "web-2");
  g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, "starting");
  g_assert_cmpstr (json_object_get_string_member (m, "ip"), ==, "");
  g_assert_cmpstr (json_object_get_string_member (m, "liveness"), ==, "live");

  m = find_member (array, "web-3");
  g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, "error");
  g_assert_false (json_object_get_boolean_member (m, "running"));
  g_assert_cmpstr (json_string_or_null (m, "error"), ==, "fake backend: forced IP failure for \"web-3\"");

  m = find_member (array, "db-10");
  g_assert_cmpint (json_object_get_int_member (m, "pid"), ==, db_pid);
  holder_test_run_clear (&r);

  /* The table: aligned columns, no colour off a terminal. */
  ctl (sb, &r, "ls", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "CLUSTER  MEMBER  STATE     IP           PID  "));
  g_assert_nonnull (strstr (r.out, "  BACKEND  UPTIME  HELPER\n"));
  g_assert_null (strchr (r.out, '\033'));
  assert_column (r.out, "STATE", "web      web-1", "running");
  assert_column (r.out, "IP", "web      web-1", "203.0.113.1");
  assert_column (r.out, "BACKEND", "db ", "fake");
  assert_column (r.out, "HELPER", "web      web-2", "live");
  assert_column (r.out, "IP", "web      web-2", "-");
  holder_test_run_clear (&r);

  /* --cluster, and the root given on the command line. */
  sandbox_setenv (sb, "FLEETBOX_HOME", "/nonexistent");
  ctl (sb, &r, "ls", "--cluster", "db", "--root", sb->root, "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  {
    g_autoptr(JsonArray) db_only = parse_json_array (r.out);

    g_assert_cmpuint (json_array_get_length (db_only), ==, 1);
    g_assert_nonnull (find_member (db_only, "db-10"));
  }
  holder_test_run_clear (&r);
  sandbox_setenv (sb, "FLEETBOX_HOME", sb->root);
  kill_store_helpers (sb);
}

/* A SIGKILLed helper leaves its pidfiles and sockets: stale, and pruned. */
static void
test_ls_stale_and_prune (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "web-1", "web-2", NULL };
  g_autofree char *empty = g_build_filename (sb->dir, "no-modules", NULL);
  g_autofree char *reclaim = g_build_filename (sb->dir, "reclaim", NULL);
  g_autofree char *sock = NULL;
  g_autofree char *pidfile = NULL;
  g_autoptr(JsonArray) array = NULL;
  JsonObject *m;
  HolderTestRun r = { 0 };
  GPid pid;

  pid = spawn_detached (sb, names);
  g_assert_null (boot_member (sb, "web-1", "web-1", NULL));
  kill_and_wait_gone (pid);

  ctl (sb, &r, "ls", "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  array = parse_json_array (r.out);
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *reason_part = g_strdup_printf ("helper %d is gone", (int) pid);

      m = json_array_get_object_element (array, i);
      assert_member_schema (m);
      g_assert_cmpstr (json_object_get_string_member (m, "liveness"), ==, "stale");
      g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, "stopped");
      g_assert_false (json_object_get_boolean_member (m, "running"));
      g_assert_cmpint (json_object_get_int_member (m, "pid"), ==, pid);
      g_assert_nonnull (strstr (json_string_or_null (m, "stale_reason"), reason_part));
    }
  holder_test_run_clear (&r);

  ctl (sb, &r, "ls", NULL);
  g_assert_nonnull (strstr (r.out, "stale"));
  g_assert_nonnull (strstr (r.out, "web-1 is stale: its helper"));
  holder_test_run_clear (&r);

  /* Only the fake is installed here, and it pretends a link was left. */
  g_assert_no_errno (g_mkdir (empty, 0755));
  sandbox_setenv (sb, "FLEETBOX_BACKEND_DIR", empty);
  g_assert_true (g_file_set_contents (reclaim, "link fbx-dead\n", -1, NULL));
  sandbox_setenv (sb, "FLEETBOX_FAKE_RECLAIM", reclaim);
  sock = sock_path (sb, "web-1");
  pidfile = pidfile_path (sb, "web-2");

  ctl (sb, &r, "prune", "--dry-run", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "would remove link fbx-dead (fake)\n"));
  g_assert_nonnull (strstr (r.out, pidfile));
  g_assert_nonnull (strstr (r.out, sock));
  g_assert_null (strstr (r.out, "removed "));
  /* A dry run changes nothing. */
  g_assert_true (path_exists (reclaim));
  g_assert_true (is_socket (sock));
  g_assert_true (path_exists (pidfile));
  holder_test_run_clear (&r);

  ctl (sb, &r, "prune", "--dry-run", "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  {
    g_autoptr(JsonArray) pruned = parse_json_array (r.out);

    /* The link, of each of the two members its pidfile, its socket and
     * the socket's lock file, and the folder where they were bound. */
    g_assert_cmpuint (json_array_get_length (pruned), ==, 8);
    for (guint i = 0; i < 8; i++)
      {
        JsonObject *o = json_array_get_object_element (pruned, i);

        g_assert_cmpuint (json_object_get_size (o), ==, 4);
        g_assert_nonnull (json_object_get_string_member (o, "source"));
        g_assert_nonnull (json_object_get_string_member (o, "kind"));
        g_assert_nonnull (json_object_get_string_member (o, "what"));
        g_assert_false (json_object_get_boolean_member (o, "removed"));
      }
  }
  g_assert_true (path_exists (reclaim));
  g_assert_true (path_exists (pidfile));
  holder_test_run_clear (&r);

  ctl (sb, &r, "prune", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "removed link fbx-dead (fake)\n"));
  g_assert_false (path_exists (reclaim));
  g_assert_false (path_exists (sock));
  g_assert_false (path_exists (pidfile));
  assert_no_helper_files (sb, names);
  holder_test_run_clear (&r);

  ctl (sb, &r, "ls", "--json", NULL);
  g_clear_pointer (&array, json_array_unref);
  array = parse_json_array (r.out);
  m = find_member (array, "web-1");
  g_assert_cmpstr (json_object_get_string_member (m, "liveness"), ==, "none");
  g_assert_true (json_object_get_null_member (m, "pid"));
  holder_test_run_clear (&r);

  ctl (sb, &r, "prune", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "Nothing to prune.\n");
  holder_test_run_clear (&r);

  /* A backend asked for by name must work. */
  ctl (sb, &r, "prune", "--backend", "nosuch", NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "nosuch"));
  holder_test_run_clear (&r);
}

/* ---- ls while members are being stopped --------------------------------------- */

#define N_BUSY 12

typedef struct {
  Sandbox   *sb;
  char      *names[N_BUSY + 1];
  gboolean   done;
} Stopper;

static gpointer
stop_all (gpointer data)
{
  Stopper *s = data;

  for (guint i = 0; i < N_BUSY; i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (holder_client_stop (s->sb->root, s->names[i], scaled (10000), &error));
      g_assert_no_error (error);
    }
  g_atomic_int_set (&s->done, TRUE);
  return NULL;
}

static void
test_ls_stopped_during_listing (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  Stopper stopper = { sb, { NULL }, FALSE };
  GThread *thread;
  guint listings = 0;
  GPid pid;

  for (guint i = 0; i < N_BUSY; i++)
    stopper.names[i] = g_strdup_printf ("busy-%u", i + 1);
  pid = spawn_detached (sb, (const char *const *) stopper.names);

  thread = g_thread_new ("stopper", stop_all, &stopper);
  while (!g_atomic_int_get (&stopper.done) || listings < 2)
    {
      g_autoptr(JsonArray) array = NULL;
      HolderTestRun r = { 0 };

      ctl (sb, &r, "ls", "--json", NULL);
      g_assert_cmpint (r.status, ==, 0);
      array = parse_json_array (r.out);
      g_assert_cmpuint (json_array_get_length (array), ==, N_BUSY);
      for (guint i = 0; i < N_BUSY; i++)
        {
          JsonObject *m = json_array_get_object_element (array, i);
          const char *state = json_object_get_string_member (m, "state");
          const char *liveness = json_object_get_string_member (m, "liveness");

          assert_member_schema (m);
          /* Live and starting, or stopped and gone: never stale. */
          if (g_str_equal (state, "starting"))
            g_assert_cmpstr (liveness, ==, "live");
          else
            {
              g_assert_cmpstr (state, ==, "stopped");
              g_assert_cmpstr (liveness, ==, "none");
            }
        }
      holder_test_run_clear (&r);
      listings++;
    }
  g_thread_join (thread);
  g_test_message ("%u listings while %u members were stopped", listings, N_BUSY);
  /* The last member's stop ended the helper. */
  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (pid), scaled (10000)));
  untrack_pid (pid);
  for (guint i = 0; i < N_BUSY; i++)
    g_free (stopper.names[i]);
}

/* ---- status ------------------------------------------------------------------ */

static void
test_status (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "web-1", "web-2", NULL };
  g_autofree char *helper_line = NULL;
  HolderTestRun r = { 0 };
  GPid pid;

  pid = spawn_detached (sb, names);
  g_assert_null (boot_member (sb, "web-1", "web-1", NULL));
  g_assert_true (holder_client_stop (sb->root, "web-2", scaled (10000), NULL));

  ctl (sb, &r, "status", "web-1", NULL);
  g_assert_cmpint (r.status, ==, 0);
  helper_line = g_strdup_printf ("  helper:    pid %d, live\n", (int) pid);
  g_assert_true (g_str_has_prefix (r.out, "web-1\n  cluster:   web\n  state:     running\n"
                                          "  running:   yes\n  ip:        203.0.113.1\n"));
  g_assert_nonnull (strstr (r.out, helper_line));
  g_assert_nonnull (strstr (r.out, "  backend:   fake\n"));
  g_assert_nonnull (strstr (r.out, "  uptime:    "));
  g_assert_nonnull (strstr (r.out, "/clusters/web/web-1/serial.log\n"));
  holder_test_run_clear (&r);

  /* A stopped member is still known; a missing one is not. */
  ctl (sb, &r, "status", "--json", "web-2", "nosuch", "web-1", NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "no member \"nosuch\""));
  {
    g_autoptr(JsonArray) array = parse_json_array (r.out);
    JsonObject *m;

    g_assert_cmpuint (json_array_get_length (array), ==, 2);
    m = find_member (array, "web-2");
    assert_member_schema (m);
    g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, "stopped");
    g_assert_cmpstr (json_object_get_string_member (m, "liveness"), ==, "none");
    assert_member_schema (find_member (array, "web-1"));
  }
  holder_test_run_clear (&r);

  ctl (sb, &r, "status", NULL);
  g_assert_cmpint (r.status, ==, 2);
  holder_test_run_clear (&r);
  kill_store_helpers (sb);
}

/* ---- stop and down ---------------------------------------------------------- */

static void
test_stop (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *web[] = { "web-1", "web-2", "web-3", NULL };
  const char *db[] = { "db-1", NULL };
  HolderTestRun r = { 0 };
  GPid web_pid, db_pid;

  web_pid = spawn_detached (sb, web);
  db_pid = spawn_detached (sb, db);
  g_assert_null (boot_member (sb, "web-1", "web-1", NULL));

  /* Exactly the member named. */
  ctl (sb, &r, "stop", "web-2", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "web-2: stopped in "));
  g_assert_false (served (sb, "web-2"));
  g_assert_cmpint (read_pidfile (sb, "web-2"), ==, 0);
  g_assert_true (served (sb, "web-1") && served (sb, "web-3") && served (sb, "db-1"));
  holder_test_run_clear (&r);

  ctl (sb, &r, "stop", "web-2", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "web-2: not running\n");
  holder_test_run_clear (&r);

  ctl (sb, &r, "stop", "nosuch", NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.err, "no member \"nosuch\""));
  holder_test_run_clear (&r);

  /* A cluster: its running members, nothing else. */
  ctl (sb, &r, "stop", "--cluster", "web", "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  {
    g_autoptr(JsonArray) array = parse_json_array (r.out);

    g_assert_cmpuint (json_array_get_length (array), ==, 2);
    for (guint i = 0; i < 2; i++)
      {
        JsonObject *o = json_array_get_object_element (array, i);

        g_assert_cmpuint (json_object_get_size (o), ==, 5);
        g_assert_cmpstr (json_object_get_string_member (o, "cluster"), ==, "web");
        g_assert_cmpstr (json_object_get_string_member (o, "outcome"), ==, "stopped");
        g_assert_null (json_string_or_null (o, "error"));
        g_assert_cmpfloat (json_object_get_double_member (o, "seconds"), >=, 0);
      }
    g_assert_nonnull (find_member (array, "web-1"));
    g_assert_nonnull (find_member (array, "web-3"));
  }
  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (web_pid), scaled (10000)));
  untrack_pid (web_pid);
  g_assert_true (served (sb, "db-1"));
  holder_test_run_clear (&r);

  ctl (sb, &r, "stop", "--all", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "db-1: stopped in "));
  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (db_pid), scaled (10000)));
  untrack_pid (db_pid);
  holder_test_run_clear (&r);

  ctl (sb, &r, "stop", "--all", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "Nothing to stop: no member is running.\n");
  holder_test_run_clear (&r);

  /* One of the three ways, no more. */
  ctl (sb, &r, "stop", "--all", "web-1", NULL);
  g_assert_cmpint (r.status, ==, 2);
  holder_test_run_clear (&r);
  ctl (sb, &r, "stop", "--timeout", "soon", "--all", NULL);
  g_assert_cmpint (r.status, ==, 2);
  holder_test_run_clear (&r);
}

static void
test_stop_timeout (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "slow-1", NULL };
  HolderTestRun r = { 0 };
  GPid pid;

  sandbox_setenv (sb, "FLEETBOX_FAKE_STOP_DELAY", "2s");
  pid = spawn_detached (sb, names);
  g_assert_null (boot_member (sb, "slow-1", "slow-1", NULL));

  ctl (sb, &r, "stop", "--timeout", "100ms", "slow-1", NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_true (g_str_has_prefix (r.out, "slow-1: failed: timed out"));
  holder_test_run_clear (&r);
  /* The stop goes on in the helper. */
  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (pid), scaled (10000)));
  untrack_pid (pid);
}

static void
test_down (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "app-1", "app-2", NULL };
  HolderTestRun r = { 0 };
  GPid pid = spawn_detached (sb, names);

  ctl (sb, &r, "down", "app", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "app-1: stopped in "));
  g_assert_nonnull (strstr (r.out, "app-2: stopped in "));
  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (pid), scaled (10000)));
  untrack_pid (pid);
  assert_no_helper_files (sb, names);
  holder_test_run_clear (&r);

  ctl (sb, &r, "down", "app", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "Nothing to stop: no member of cluster app is running.\n");
  holder_test_run_clear (&r);

  ctl (sb, &r, "down", "nosuch", NULL);
  g_assert_cmpint (r.status, ==, 3);
  holder_test_run_clear (&r);
}

/* ---- logs -------------------------------------------------------------------- */

static gboolean
file_has (gpointer data)
{
  const char *const *what = data;

  return holder_test_file_contains (what[0], what[1]);
}

static void
test_logs (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "web-1", "web-2", NULL };
  g_autofree char *dir = member_dir (sb, "web-1");
  g_autofree char *log = g_build_filename (dir, "serial.log", NULL);
  g_autofree char *own_log = g_build_filename (sb->dir, "web-2.console", NULL);
  g_autofree char *followed = g_build_filename (sb->dir, "followed", NULL);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) follower = NULL;
  g_autoptr(GError) error = NULL;
  const char *argv[] = { g_getenv ("HOLDER_TEST_HOLDERCTL"), "logs", "-f", "web-1", NULL };
  const char *second[] = { followed, "second line", NULL };
  HolderTestRun r = { 0 };
  GPid pid;

  pid = spawn_detached (sb, names);
  g_assert_null (boot_member (sb, "web-1", "web-1", NULL));

  /* The fake writes no console: nothing there yet. */
  ctl (sb, &r, "logs", "web-1", NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, log));
  holder_test_run_clear (&r);

  g_assert_true (g_file_set_contents (log, "first line\n", -1, NULL));
  ctl (sb, &r, "logs", "web-1", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "first line\n");
  holder_test_run_clear (&r);

  /* The spec's serial_log_path wins over the default, as recorded by the
   * helper at boot. */
  g_assert_true (g_file_set_contents (own_log, "web-2's own console\n", -1, NULL));
  g_assert_null (boot_member (sb, "web-1", "web-2", own_log));
  ctl (sb, &r, "logs", "web-2", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "web-2's own console\n");
  holder_test_run_clear (&r);

  /* -f: what comes later, until the member stops. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_environ (launcher, sb->env);
  g_subprocess_launcher_set_stdout_file_path (launcher, followed);
  follower = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  {
    const char *first[] = { followed, "first line", NULL };

    g_assert_true (wait_until (file_has, first, scaled (10000)));
  }
  {
    FILE *out = fopen (log, "a");

    g_assert_nonnull (out);
    fputs ("second line\n", out);
    fclose (out);
  }
  g_assert_true (wait_until (file_has, second, scaled (10000)));
  g_assert_nonnull (g_subprocess_get_identifier (follower));
  g_assert_true (holder_client_stop (sb->root, "web-1", scaled (10000), NULL));
  g_assert_true (wait_until (subprocess_reaped, follower, scaled (10000)));
  g_subprocess_wait (follower, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (follower));
  g_assert_cmpint (g_subprocess_get_exit_status (follower), ==, 0);
  {
    g_autofree char *contents = NULL;

    g_assert_true (g_file_get_contents (followed, &contents, NULL, NULL));
    g_assert_cmpstr (contents, ==, "first line\nsecond line\n");
  }

  ctl (sb, &r, "logs", "nosuch", NULL);
  g_assert_cmpint (r.status, ==, 3);
  holder_test_run_clear (&r);
  ctl (sb, &r, "logs", "web-1", "web-2", NULL);
  g_assert_cmpint (r.status, ==, 2);
  holder_test_run_clear (&r);
  kill_and_wait_gone (pid);
}

/* ---- another user's helper -------------------------------------------------- */

/* A helper of root's, seen by another user: alive, but it refuses to
 * answer; not stale, and stop says so at once instead of timing out. */
static void
test_foreign_helper (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "web-1", NULL };
  g_autofree char *setpriv = g_find_program_in_path ("setpriv");
  g_autoptr(JsonArray) array = NULL;
  JsonObject *m;
  HolderTestRun r = { 0 };
  const char *holderctl = g_getenv ("HOLDER_TEST_HOLDERCTL");
  const char *ls[] = { setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                       holderctl, "ls", "--json", NULL };
  const char *stop[] = { setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                         holderctl, "stop", "--timeout", "30s", "web-1", NULL };

  if (geteuid () != 0 || setpriv == NULL || g_getenv ("HOLDER_TEST_HELPER_WRAPPER") != NULL)
    {
      g_test_skip ("needs root, setpriv(1) and no wrapper (to run holderctl as nobody)");
      return;
    }
  spawn_detached (sb, names);
  /* Let nobody reach the store (the sockets of a root helper are 0666). */
  g_assert_no_errno (g_chmod (sb->dir, 0755));

  holder_test_run (ls, (const char *const *) sb->env, scaled (30000), &r);
  g_test_message ("%s%s", r.out, r.err);
  g_assert_cmpint (r.status, ==, 0);
  array = parse_json_array (r.out);
  m = find_member (array, "web-1");
  assert_member_schema (m);
  g_assert_cmpstr (json_object_get_string_member (m, "liveness"), ==, "live");
  g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, "unknown");
  g_assert_nonnull (strstr (json_string_or_null (m, "error"), "permission denied: uid 65534"));
  holder_test_run_clear (&r);

  holder_test_run (stop, (const char *const *) sb->env, scaled (30000), &r);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_true (g_str_has_prefix (r.out, "web-1: failed: permission denied: uid 65534"));
  g_assert_cmpfloat (r.elapsed_ms, <, scaled (10000));
  g_assert_true (served (sb, "web-1"));
  holder_test_run_clear (&r);
  kill_store_helpers (sb);
}

/* ---- completion -------------------------------------------------------------- */

static void
test_complete (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "web-1", "web-2", "db-1", NULL };
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "..", "helper", "holderctl",
                                                   "completion", "holderctl.bash", NULL);
  g_autofree char *bin_dir = g_path_get_dirname (g_getenv ("HOLDER_TEST_HOLDERCTL"));
  g_autofree char *path = g_strdup_printf ("%s:%s", bin_dir, g_getenv ("PATH"));
  g_autofree char *bash = g_find_program_in_path ("bash");
  HolderTestRun r = { 0 };

  spawn_detached (sb, names);
  g_assert_true (holder_client_stop (sb->root, "web-2", scaled (10000), NULL));

  ctl (sb, &r, "__complete", "members", NULL);
  g_assert_cmpstr (r.out, ==, "db-1\nweb-1\nweb-2\n");
  holder_test_run_clear (&r);
  ctl (sb, &r, "__complete", "running", NULL);
  g_assert_cmpstr (r.out, ==, "db-1\nweb-1\n");
  holder_test_run_clear (&r);
  ctl (sb, &r, "__complete", "clusters", NULL);
  g_assert_cmpstr (r.out, ==, "db\nweb\n");
  holder_test_run_clear (&r);

  /* The bash completion itself, as bash runs it. */
  if (bash != NULL)
    {
      const char *cases[][2] = {
        { "holderctl --root \"$ROOT\" logs w", "web-1 web-2" },
        { "holderctl stop ", "db-1 web-1" },
        { "holderctl down ", "db web" },
        { "holderctl pr", "prune" },
      };

      sandbox_setenv (sb, "PATH", path);
      sandbox_setenv (sb, "ROOT", sb->root);
      for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
        {
          g_autofree char *code = g_strdup_printf (
            "source '%s'; eval \"COMP_WORDS=(%s)\"; line='%s'; "
            "[[ $line == *' ' ]] && COMP_WORDS+=(''); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
            "_holderctl; echo \"${COMPREPLY[*]}\"", script, cases[i][0], cases[i][0]);
          const char *argv[] = { bash, "-c", code, NULL };

          holder_test_run (argv, (const char *const *) sb->env, scaled (10000), &r);
          g_assert_cmpint (r.status, ==, 0);
          g_assert_cmpstr (r.err, ==, "");
          g_assert_cmpstr (g_strchomp (r.out), ==, cases[i][1]);
          holder_test_run_clear (&r);
        }
    }
  kill_store_helpers (sb);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  process_test_init ();

  g_test_add_func ("/holderctl/ls/empty", test_ls_empty);
  g_test_add_func ("/holderctl/ls/live", test_ls_live);
  g_test_add_func ("/holderctl/ls/stale-and-prune", test_ls_stale_and_prune);
  g_test_add_func ("/holderctl/ls/stopped-during-listing", test_ls_stopped_during_listing);
  g_test_add_func ("/holderctl/status", test_status);
  g_test_add_func ("/holderctl/stop", test_stop);
  g_test_add_func ("/holderctl/stop/timeout", test_stop_timeout);
  g_test_add_func ("/holderctl/down", test_down);
  g_test_add_func ("/holderctl/logs", test_logs);
  g_test_add_func ("/holderctl/foreign-helper", test_foreign_helper);
  g_test_add_func ("/holderctl/complete", test_complete);
  return g_test_run ();
}
