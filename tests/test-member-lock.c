/* SPDX-License-Identifier: MIT
 *
 * The process suite: one owner per name. The real fleetbox-helper holds a
 * lock per member (and per control socket) for as long as it serves it:
 * two helpers started for one name at the same moment leave exactly one
 * serving and the loser touches nothing of the winner's; a pidfile naming
 * a reused pid blocks nothing; a helper removes only the socket and pidfile
 * it made; what a SIGKILLed helper left is found by holder_store_prune()
 * and by the next helper's start-up; and a storage root too long for a
 * Unix socket address fails before anything is made or bound.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-test-member-lock"

#include <time.h>

#include "holder-test-process.h"
#include "holder-test-util.h"

/* Rounds of the duplicate-start race. */
#define DUP_ROUNDS 30

static char *
read_stderr (GSubprocess *process)
{
  GInputStream *err = g_subprocess_get_stderr_pipe (process);
  g_autoptr(GString) text = g_string_new (NULL);

  for (;;)
    {
      char buf[4096];
      gssize n = g_input_stream_read (err, buf, sizeof buf, NULL, NULL);

      if (n <= 0)
        break;
      g_string_append_len (text, buf, n);
    }
  return without_wrapper_lines (text->str);
}

typedef struct {
  GSubprocess *a;
  GSubprocess *b;
} Pair;

static gboolean
one_exited_cb (gpointer data)
{
  Pair *pair = data;

  return g_subprocess_get_identifier (pair->a) == NULL ||
         g_subprocess_get_identifier (pair->b) == NULL;
}

static gint
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

/* Names in @path (a folder), sorted, joined by spaces. */
static char *
listing (const char *path)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (entry));
  g_ptr_array_sort (names, compare_strings);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

/* ---- two helpers, one name ---------------------------------------------- */

static void
test_duplicate_start (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "dup-1", NULL };

  for (guint round = 0; round < DUP_ROUNDS; round++)
    {
      g_autoptr(GSubprocess) a = spawn_helper_piped (sb, "dup-1");
      g_autoptr(GSubprocess) b = spawn_helper_piped (sb, "dup-1");
      Pair pair = { a, b };
      GPid pid_a = subprocess_pid (a), pid_b = subprocess_pid (b);
      GSubprocess *winner, *loser;
      GPid winner_pid;
      g_autofree char *err = NULL;
      g_autofree char *expected = NULL;
      g_autofree char *sock = sock_path (sb, "dup-1");
      struct stat before, after;

      g_assert_true (wait_until (one_exited_cb, &pair, scaled (10000)));
      loser = g_subprocess_get_identifier (a) == NULL ? a : b;
      winner = loser == a ? b : a;
      winner_pid = loser == a ? pid_b : pid_a;
      untrack_pid (loser == a ? pid_a : pid_b);

      /* The loser: exit 1, one line naming the winner. */
      g_assert_true (g_subprocess_get_if_exited (loser));
      g_assert_cmpint (g_subprocess_get_exit_status (loser), ==, 1);
      err = read_stderr (loser);
      expected = g_strdup_printf ("fleetbox-helper: register dup-1: member dup-1 is already "
                                  "served by helper %d\n",
                                  (int) winner_pid);
      g_assert_cmpstr (err, ==, expected);

      /* The winner: serving, its socket and pidfile intact. */
      wait_ready (sb, winner, winner_pid, names, FALSE);
      g_assert_no_errno (lstat (sock, &before));
      assert_status (sb, "dup-1", winner_pid, TRUE, "", "starting", NULL);
      g_assert_no_errno (lstat (sock, &after));
      g_assert_cmpuint (after.st_ino, ==, before.st_ino);
      {
        GPid served_by = 0;

        g_assert_true (holder_store_member_is_served (sb->root, "dup-1", &served_by));
        g_assert_cmpint (served_by, ==, winner_pid);
      }

      g_assert_no_errno (kill (winner_pid, SIGTERM));
      g_assert_cmpint (wait_exit (winner, winner_pid, scaled (10000)), ==, 0);
      assert_no_helper_files (sb, names);
    }
}

/* ---- a pidfile naming a reused pid -------------------------------------- */

static void
test_reused_pid (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "reuse-1", NULL };
  const GPid reused[] = { getpid (), 1 };

  g_assert_true (holder_store_ensure_root (sb->root, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (reused); i++)
    {
      g_autofree char *dir = member_dir (sb, "reuse-1");
      g_autofree char *pidfile = pidfile_path (sb, "reuse-1");
      g_autofree char *text = g_strdup_printf ("%d", (int) reused[i]);
      g_autoptr(GSubprocess) helper = NULL;
      GPid pid, served_by = -1;

      /* A live process, not a helper: the name is free. */
      g_assert_no_errno (g_mkdir_with_parents (dir, 0755));
      g_assert_true (g_file_set_contents (pidfile, text, -1, NULL));
      g_assert_false (holder_store_member_is_served (sb->root, "reuse-1", &served_by));
      g_assert_cmpint (served_by, ==, 0);
      g_assert_false (holder_client_is_running (sb->root, "reuse-1"));

      helper = spawn_helper (sb, (const char *[]) { "--fleetbox-runner", "reuse-1", NULL });
      pid = subprocess_pid (helper);
      wait_ready (sb, helper, pid, names, FALSE);
      g_assert_true (holder_store_member_is_served (sb->root, "reuse-1", &served_by));
      g_assert_cmpint (served_by, ==, pid);
      assert_status (sb, "reuse-1", pid, TRUE, "", "starting", NULL);

      g_assert_no_errno (kill (pid, SIGTERM));
      g_assert_cmpint (wait_exit (helper, pid, scaled (10000)), ==, 0);
      assert_no_helper_files (sb, names);
    }
}

/* A socket bound at @path (a file of its kind); returns its descriptor. */
static int
bind_socket_file (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  g_strlcpy (addr.sun_path, path, sizeof addr.sun_path);
  g_assert_no_errno (bind (fd, (struct sockaddr *) &addr, sizeof addr));
  return fd;
}

/* ---- removing only one's own files -------------------------------------- */

static void
test_retire_removes_only_its_own (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "own-1", "own-2", NULL };
  g_autoptr(GSubprocess) helper = NULL;
  g_autofree char *sock2 = sock_path (sb, "own-2");
  g_autofree char *pid2 = pidfile_path (sb, "own-2");
  g_autofree char *tmp = NULL;
  g_autofree char *sock_before = NULL;
  g_autofree char *pid_before = NULL;
  g_autofree char *sock_after = NULL;
  g_autofree char *pid_after = NULL;
  GPid pid;
  int other;

  helper = spawn_helper (sb, (const char *[]) { "--fleetbox-runner", "own-1,own-2", NULL });
  pid = subprocess_pid (helper);
  wait_ready (sb, helper, pid, names, FALSE);

  /* The store's owner puts a socket and a pidfile of their own in place
   * of own-2's. */
  tmp = g_build_filename (sb->root, "run", "theirs", NULL);
  other = bind_socket_file (tmp);
  g_assert_no_errno (rename (tmp, sock2));
  g_assert_no_errno (unlink (pid2));
  g_assert_true (g_file_set_contents (pid2, "12345", -1, NULL));
  sock_before = file_fingerprint (sock2);
  pid_before = file_fingerprint (pid2);

  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_cmpint (wait_exit (helper, pid, scaled (10000)), ==, 0);
  close (other);

  /* Its own are gone (own-1's socket and pidfile, both locks); theirs
   * stay. */
  {
    g_autofree char *run = g_build_filename (sb->root, "run", NULL);
    g_autofree char *left = listing (run);
    g_autofree char *h2 = sha256_hex16 ("own-2");
    g_autofree char *expected = g_strdup_printf ("%s.sock", h2);

    g_assert_cmpstr (left, ==, expected);
    g_assert_cmpint (read_pidfile (sb, "own-1"), ==, 0);
  }
  sock_after = file_fingerprint (sock2);
  pid_after = file_fingerprint (pid2);
  g_assert_cmpstr (sock_after, ==, sock_before);
  g_assert_cmpstr (pid_after, ==, pid_before);
}

/* ---- leftovers of a SIGKILL --------------------------------------------- */

typedef struct {
  GPtrArray *lines;
} Reports;

static void
on_report (const char *kind,
           const char *what,
           gpointer    user_data)
{
  Reports *reports = user_data;

  g_ptr_array_add (reports->lines, g_strdup_printf ("%s %s", kind, what));
}

static char *
prune_reports (Sandbox  *sb,
               gboolean  dry_run)
{
  Reports reports = { g_ptr_array_new_with_free_func (g_free) };
  g_autoptr(GError) error = NULL;
  char *joined;

  g_assert_true (holder_store_prune (sb->root, dry_run, on_report, &reports, &error));
  g_assert_no_error (error);
  g_ptr_array_sort (reports.lines, compare_strings);
  g_ptr_array_add (reports.lines, NULL);
  joined = g_strjoinv ("\n", (char **) reports.lines->pdata);
  g_ptr_array_unref (reports.lines);
  return joined;
}

/* What a SIGKILLed bound helper for kill-1,kill-2 leaves. */
static char *
expected_leftovers (Sandbox *sb)
{
  g_autofree char *h1 = sha256_hex16 ("kill-1");
  g_autofree char *h2 = sha256_hex16 ("kill-2");
  g_autofree char *pid1 = pidfile_path (sb, "kill-1");
  g_autofree char *pid2 = pidfile_path (sb, "kill-2");
  g_autofree char *run = g_build_filename (sb->root, "run", NULL);
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  /* Where they bound their sockets, empty. */
  g_ptr_array_add (lines, g_strdup_printf ("bind folder %s/.bind-shared-%u", run,
                                           (unsigned) geteuid ()));
  g_ptr_array_add (lines, g_strdup_printf ("control socket %s/%s.ctl", run, h1));
  g_ptr_array_add (lines, g_strdup_printf ("lock file %s/%s.ctl.lock", run, h1));
  g_ptr_array_add (lines, g_strdup_printf ("lock file %s/%s.sock.lock", run, h1));
  g_ptr_array_add (lines, g_strdup_printf ("lock file %s/%s.sock.lock", run, h2));
  g_ptr_array_add (lines, g_strdup_printf ("pidfile %s", pid1));
  g_ptr_array_add (lines, g_strdup_printf ("pidfile %s", pid2));
  g_ptr_array_add (lines, g_strdup_printf ("socket %s/%s.sock", run, h1));
  g_ptr_array_add (lines, g_strdup_printf ("socket %s/%s.sock", run, h2));
  g_ptr_array_sort (lines, compare_strings);
  g_ptr_array_add (lines, NULL);
  return g_strjoinv ("\n", (char **) lines->pdata);
}

/* A bound helper for kill-1,kill-2, killed with SIGKILL and left a zombie
 * (not reaped: its pid stays in use). Returns its pid; reap it later. */
static GPid
start_and_kill (Sandbox *sb)
{
  const char *names[] = { "kill-1", "kill-2", NULL };
  const char *argv[] = { sb->program, "--fleetbox-runner", "kill-1,kill-2", NULL };
  g_autofree char *parent = g_strdup_printf ("%d", (int) getpid ());
  g_auto(GStrv) env = g_environ_setenv (g_strdupv (sb->env), "FLEETBOX_PARENT_PID", parent, TRUE);
  g_autoptr(GError) error = NULL;
  GPid pid = 0;

  g_spawn_async (NULL, (char **) argv, env,
                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pid, &error);
  g_assert_no_error (error);
  track_pid (pid);
  wait_ready (sb, NULL, pid, names, TRUE);
  g_assert_true (holder_store_member_is_served (sb->root, "kill-1", NULL));
  g_assert_no_errno (kill (pid, SIGKILL));
  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (pid), scaled (10000)));
  return pid;
}

static gboolean
not_served_cb (gpointer data)
{
  Sandbox *sb = data;

  return !holder_store_member_is_served (sb->root, "kill-1", NULL);
}

static void
reap (GPid pid)
{
  g_assert_cmpint (waitpid (pid, NULL, 0), ==, pid);
  untrack_pid (pid);
}

static void
test_sigkill_leftovers_pruned (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  g_autofree char *run = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *dry = NULL;
  g_autofree char *done = NULL;
  g_autofree char *again = NULL;
  g_autofree char *run_before = NULL;
  g_autofree char *run_after = NULL;
  g_autofree char *dir1 = NULL;
  g_autofree char *dir1_before = NULL;
  g_autofree char *dir1_after = NULL;
  GPid zombie;

  zombie = start_and_kill (sb);
  /* A zombie's pid is still in use, and its pidfile names it: neither
   * makes it a live helper. The kernel drops the locks once the last of
   * its threads has exited (its main thread may be a zombie a moment
   * before). */
  g_assert_true (wait_until (not_served_cb, sb, scaled (5000)));
  g_assert_true (pid_gone (zombie));
  g_assert_no_errno (kill (zombie, 0));
  g_assert_cmpint (read_pidfile (sb, "kill-1"), ==, zombie);
  g_assert_false (holder_store_member_is_served (sb->root, "kill-2", NULL));
  g_assert_false (holder_client_is_running (sb->root, "kill-2"));

  run = g_build_filename (sb->root, "run", NULL);
  dir1 = member_dir (sb, "kill-1");
  run_before = listing (run);
  dir1_before = listing (dir1);
  expected = expected_leftovers (sb);

  /* A dry run reports them and changes nothing. */
  dry = prune_reports (sb, TRUE);
  g_assert_cmpstr (dry, ==, expected);
  run_after = listing (run);
  dir1_after = listing (dir1);
  g_assert_cmpstr (run_after, ==, run_before);
  g_assert_cmpstr (dir1_after, ==, dir1_before);

  /* The real one removes them, and only them. */
  done = prune_reports (sb, FALSE);
  g_assert_cmpstr (done, ==, expected);
  assert_no_helper_files (sb, (const char *[]) { "kill-1", "kill-2", NULL });
  g_assert_true (g_file_test (dir1, G_FILE_TEST_IS_DIR));
  again = prune_reports (sb, FALSE);
  g_assert_cmpstr (again, ==, "");
  reap (zombie);
}

/* An entry that cannot be pruned (a link planted as a lock file beside a
 * stale socket) is reported as the error, after the rest was pruned. */
static void
test_prune_goes_on (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *planted = NULL;
  g_autofree char *planted_sock = NULL;
  g_autofree char *run = NULL;
  g_autofree char *left = NULL;
  GPid zombie;

  zombie = start_and_kill (sb);
  reap (zombie);
  run = g_build_filename (sb->root, "run", NULL);
  planted = g_build_filename (run, "0123456789abcdef.sock.lock", NULL);
  planted_sock = g_build_filename (run, "0123456789abcdef.sock", NULL);
  g_assert_no_errno (symlink ("/etc/passwd", planted));
  g_assert_true (g_file_set_contents (planted_sock, "", 0, NULL));

  g_assert_false (holder_store_prune (sb->root, FALSE, NULL, NULL, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH);
  g_assert_nonnull (strstr (error->message, planted));
  left = listing (run);
  g_assert_cmpstr (left, ==, "0123456789abcdef.sock 0123456789abcdef.sock.lock");
  g_assert_cmpint (read_pidfile (sb, "kill-1"), ==, 0);
}

/* A socket bound in the shared bind folder and never renamed into run/
 * (its helper killed in between; a bind lasts microseconds) is pruned once
 * it is older than a minute, a fresh one is not; the folder goes once it
 * is empty. */
static void
test_prune_bind_sockets (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  g_autofree char *folder = NULL;
  g_autofree char *old_sock = NULL;
  g_autofree char *new_sock = NULL;
  g_autofree char *reports = NULL;
  g_autofree char *expected = NULL;

  g_assert_true (holder_store_ensure_root (sb->root, NULL));
  folder = g_strdup_printf ("%s/run/.bind-shared-%u", sb->root, (unsigned) geteuid ());
  g_assert_no_errno (g_mkdir (folder, 0700));
  old_sock = g_build_filename (folder, "s-1-1", NULL);
  new_sock = g_build_filename (folder, "s-1-2", NULL);
  close (bind_socket_file (old_sock));
  close (bind_socket_file (new_sock));
  {
    struct timespec two_minutes_ago[2] = { { .tv_sec = time (NULL) - 120 },
                                           { .tv_sec = time (NULL) - 120 } };

    g_assert_no_errno (utimensat (AT_FDCWD, old_sock, two_minutes_ago, AT_SYMLINK_NOFOLLOW));
  }

  reports = prune_reports (sb, FALSE);
  expected = g_strdup_printf ("bind socket %s", old_sock);
  g_assert_cmpstr (reports, ==, expected);
  g_assert_false (path_exists (old_sock));
  g_assert_true (is_socket (new_sock));

  g_assert_no_errno (unlink (new_sock));
  g_free (reports);
  g_free (expected);
  reports = prune_reports (sb, FALSE);
  expected = g_strdup_printf ("bind folder %s", folder);
  g_assert_cmpstr (reports, ==, expected);
  g_assert_false (path_exists (folder));
}

/* The next helper, whatever its names, removes what a killed one left. */
static void
test_sigkill_leftovers_at_start (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "next-1", NULL };
  g_autoptr(GSubprocess) helper = NULL;
  g_autofree char *h = sha256_hex16 ("next-1");
  g_autofree char *run = NULL;
  g_autofree char *left = NULL;
  g_autofree char *expected = NULL;
  GPid zombie, pid;

  zombie = start_and_kill (sb);
  reap (zombie);

  helper = spawn_helper (sb, (const char *[]) { "--fleetbox-runner", "next-1", NULL });
  pid = subprocess_pid (helper);
  wait_ready (sb, helper, pid, names, FALSE);
  run = g_build_filename (sb->root, "run", NULL);
  left = listing (run);
  /* The live helper's own, and the folder where it bound. */
  expected = g_strdup_printf (".bind-shared-%u %s.sock %s.sock.lock", (unsigned) geteuid (), h, h);
  g_assert_cmpstr (left, ==, expected);
  g_assert_cmpint (read_pidfile (sb, "kill-1"), ==, 0);
  g_assert_cmpint (read_pidfile (sb, "kill-2"), ==, 0);

  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_cmpint (wait_exit (helper, pid, scaled (10000)), ==, 0);
  assert_no_helper_files (sb, names);
}

/* ---- a storage root too long for sun_path ------------------------------- */

/* A socket file anywhere under @path. */
static gboolean
has_socket_under (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, entry, NULL);
      struct stat st;

      if (lstat (child, &st) != 0)
        continue;
      if (S_ISSOCK (st.st_mode) || (S_ISDIR (st.st_mode) && has_socket_under (child)))
        return TRUE;
    }
  return FALSE;
}

static void
test_root_too_long (void)
{
  struct sockaddr_un addr;
  const gsize limit = sizeof addr.sun_path - 1;
  /* <root>/run/<16 hex>.sock: the root plus 26 bytes. */
  const gsize longest_root = limit - 26;
  g_autoptr(Sandbox) sb = sandbox_new ();
  g_autofree char *pad = NULL;
  g_autofree char *err = NULL;
  g_autofree char *needle = NULL;
  g_autofree char *sock = NULL;
  g_autoptr(GError) error = NULL;
  const char *names[] = { "long-1", NULL };
  int status;

  g_assert_cmpuint (strlen (sb->dir) + 2, <, longest_root);
  pad = g_strnfill (longest_root + 1 - strlen (sb->dir) - 1, 'a');
  g_free (sb->root);
  sb->root = g_strdup_printf ("%s/%s", sb->dir, pad);
  g_assert_cmpuint (strlen (sb->root), ==, longest_root + 1);
  sandbox_setenv (sb, "FLEETBOX_HOME", sb->root);
  sock = sock_path (sb, "long-1");

  /* One byte too long: refused up front, with the length and the limit. */
  status = run_helper_to_exit (sb, "long-1", scaled (10000), &err);
  g_test_message ("helper: %s", err);
  g_assert_cmpint (status, ==, 1);
  needle = g_strdup_printf ("storage root %s is too long: its socket paths (such as %s/run/",
                            sb->root, sb->root);
  g_assert_nonnull (strstr (err, needle));
  g_free (needle);
  needle = g_strdup_printf (".sock) are %" G_GSIZE_FORMAT " bytes, over the limit of %"
                            G_GSIZE_FORMAT " bytes", limit + 1, limit);
  g_assert_nonnull (strstr (err, needle));
  g_assert_nonnull (strstr (err, "FLEETBOX_HOME"));
  /* Nothing made, nothing bound: not the root, not a socket at the path
   * cut to fit (where the old helper bound it), nor anywhere else here. */
  g_assert_false (path_exists (sb->root));
  {
    g_autofree char *cut = g_strndup (sock, limit + 1);

    g_assert_false (path_exists (cut));
  }
  g_assert_false (has_socket_under (sb->dir));
  g_assert_false (unix_socket_bound_under (sb->dir));

  /* The client says so too, before it spawns anything. */
  g_assert_null (holder_helper_spawn (sb->program, names, (const char *const *) sb->env,
                                      HOLDER_SPAWN_FLAGS_NONE, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, needle));
  g_clear_error (&error);
  g_assert_false (holder_store_ensure_root (sb->root, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_assert_false (path_exists (sb->root));

  /* One byte shorter fits, exactly. */
  sb->root[strlen (sb->root) - 1] = '\0';
  sandbox_setenv (sb, "FLEETBOX_HOME", sb->root);
  {
    g_autoptr(GSubprocess) helper = spawn_helper (sb, (const char *[]) {
      "--fleetbox-runner", "long-1", NULL });
    GPid pid = subprocess_pid (helper);
    g_autofree char *fits = sock_path (sb, "long-1");

    g_assert_cmpuint (strlen (fits), ==, limit);
    wait_ready (sb, helper, pid, names, FALSE);
    assert_status (sb, "long-1", pid, TRUE, "", "starting", NULL);
    g_assert_no_errno (kill (pid, SIGTERM));
    g_assert_cmpint (wait_exit (helper, pid, scaled (10000)), ==, 0);
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  process_test_init ();

  g_test_add_func ("/member-lock/duplicate-start", test_duplicate_start);
  g_test_add_func ("/member-lock/reused-pid", test_reused_pid);
  g_test_add_func ("/member-lock/retire-removes-only-its-own", test_retire_removes_only_its_own);
  g_test_add_func ("/member-lock/sigkill-leftovers-pruned", test_sigkill_leftovers_pruned);
  g_test_add_func ("/member-lock/sigkill-leftovers-at-start", test_sigkill_leftovers_at_start);
  g_test_add_func ("/member-lock/prune-goes-on", test_prune_goes_on);
  g_test_add_func ("/member-lock/prune-bind-sockets", test_prune_bind_sockets);
  g_test_add_func ("/member-lock/root-too-long", test_root_too_long);
  return g_test_run ();
}
