/* SPDX-License-Identifier: MIT
 *
 * The process suite, part 2: the real fleetbox-helper, bound to this test
 * through holder_helper_spawn(), driven over raw Unix sockets and checked
 * byte for byte against protocol-v2.md sections 3, 4, 7 and 8 -- every
 * reply shape, the fake backend's record, runtime adds, a stop during a
 * boot, hostile input and concurrent clients.
 */
#define G_LOG_DOMAIN "holder-test-helper-process"

#include "holder-test-process.h"

/* ---- a bound helper ------------------------------------------------------ */

typedef struct {
  Sandbox      *sb;
  HolderHelper *helper;
  GPid          pid;
  char        **names;
  gboolean      exited;  /* reaped: its pid may name another process now */
} Fx;

/* A helper for @names_csv, bound to this test, with the environment
 * overrides given as NULL-terminated key/value pairs. */
static Fx *
fx_start (const char *names_csv,
          ...)
{
  Fx *fx = g_new0 (Fx, 1);
  g_autoptr(GError) error = NULL;
  const char *key;
  va_list args;

  fx->sb = sandbox_new ();
  va_start (args, names_csv);
  while ((key = va_arg (args, const char *)) != NULL)
    sandbox_setenv (fx->sb, key, va_arg (args, const char *));
  va_end (args);

  fx->names = g_strsplit (names_csv, ",", -1);
  fx->helper = holder_helper_spawn (fx->sb->program, (const char *const *) fx->names,
                                    (const char *const *) fx->sb->env,
                                    HOLDER_SPAWN_FLAGS_NONE, &error);
  g_assert_no_error (error);
  fx->pid = holder_helper_get_pid (fx->helper);
  track_pid (fx->pid);
  g_assert_cmpint (fx->pid, >, 0);
  g_assert_cmpint (read_pidfile (fx->sb, fx->names[0]), ==, fx->pid);
  return fx;
}

/* Closes the control connection: the helper must exit 0 and leave
 * nothing behind. */
static void
fx_finish (Fx *fx)
{
  g_autoptr(GError) error = NULL;
  int status = -1;

  g_assert_true (holder_helper_close (fx->helper, scaled (10000), &status, &error));
  g_assert_no_error (error);
  untrack_pid (fx->pid);
  fx->exited = TRUE;
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  assert_no_helper_files (fx->sb, (const char *const *) fx->names);
}

static void
fx_free (Fx *fx)
{
  if (!fx->exited)
    kill_and_wait_gone (fx->pid);
  holder_helper_free (fx->helper);
  g_strfreev (fx->names);
  sandbox_free (fx->sb);
  g_free (fx);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Fx, fx_free)

/* Sends @request to @name's socket and checks the whole reply. */
static void
assert_reply (Fx         *fx,
              const char *name,
              const char *request,
              const char *expected)
{
  g_autofree char *reply = member_request (fx->sb, name, request);

  g_assert_cmpstr (reply, ==, expected);
}

/* A one-line error reply beginning with @prefix. */
static void
assert_error_reply (const char *reply,
                    const char *prefix)
{
  g_assert_nonnull (reply);
  if (!g_str_has_prefix (reply, prefix))
    g_assert_cmpstr (reply, ==, prefix);
  g_assert_true (g_str_has_suffix (reply, "\"}\n"));
  g_assert_true (strchr (reply, '\n') == reply + strlen (reply) - 1);
}

static void
assert_starting (Fx         *fx,
                 const char *name)
{
  assert_status (fx->sb, name, fx->pid, TRUE, "", "starting", NULL);
}

static void
create_network (Fx *fx)
{
  assert_reply (fx, fx->names[0], "{\"cmd\":\"createnetwork\"}\n", "{}\n");
}

static void
reserve (Fx         *fx,
         const char *name)
{
  g_autofree char *mac = expected_mac (name);
  g_autofree char *request = reserve_request (name);
  g_autofree char *expected = g_strdup_printf ("{\"reservation\":{\"mac\":\"%s\"}}\n", mac);

  assert_reply (fx, fx->names[0], request, expected);
}

static void
boot (Fx         *fx,
      const char *name)
{
  g_autofree char *request = boot_request (name);

  assert_reply (fx, fx->names[0], request, "{}\n");
}

static char *
record_line (const char *op,
             const char *name)
{
  return g_strdup_printf ("{\"op\":\"%s\",\"name\":\"%s\"}", op, name);
}

static guint
record_count_op (Fx         *fx,
                 const char *op,
                 const char *name)
{
  g_autofree char *line = record_line (op, name);

  return record_count (fx->sb, line);
}

/* Lines of the record starting with {"op":"@op","name":"@name" */
static guint
record_count_prefix (Fx         *fx,
                     const char *op,
                     const char *name)
{
  g_autofree char *prefix = g_strdup_printf ("{\"op\":\"%s\",\"name\":\"%s\"", op, name);
  g_auto(GStrv) lines = read_record (fx->sb);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix) &&
        (lines[i][strlen (prefix)] == ',' || lines[i][strlen (prefix)] == '}'))
      n++;
  return n;
}

static gboolean
path_gone_cb (gpointer data)
{
  return !path_exists (data);
}

/* ---- reply shapes --------------------------------------------------------- */

static void
test_status_starting (void)
{
  g_autoptr(Fx) fx = fx_start ("web-1,web-2", NULL);
  g_autofree char *expected = g_strdup_printf (
    "{\"status\":{\"name\":\"web-1\",\"pid\":%d,\"running\":true,\"ip\":\"\",\"state\":\"starting\"}}\n",
    (int) fx->pid);

  assert_reply (fx, "web-1", "{\"cmd\":\"status\"}\n", expected);
  assert_starting (fx, "web-2");
  fx_finish (fx);
}

static void
test_createnetwork (void)
{
  g_autoptr(Fx) fx = fx_start ("web-1,web-2", NULL);
  g_auto(GStrv) lines = NULL;

  create_network (fx);
  /* Idempotent, and holder-wide: any member's socket takes it. */
  create_network (fx);
  assert_reply (fx, "web-2", "{\"cmd\":\"createnetwork\"}\n", "{}\n");
  assert_starting (fx, "web-1");
  fx_finish (fx);

  /* One network, closed exactly once at the end. */
  lines = read_record (fx->sb);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  g_assert_cmpstr (lines[0], ==, "{\"op\":\"close\"}");
}

static void
test_reserve (void)
{
  g_autoptr(Fx) fx = fx_start ("web-1,web-2", NULL);
  g_autofree char *mac1 = expected_mac ("web-1");
  g_autofree char *mac3 = expected_mac ("web-3");
  g_autofree char *again = NULL;
  g_autofree char *expected = g_strdup_printf ("{\"reservation\":{\"mac\":\"%s\"}}\n", mac1);
  g_autofree char *solo = expected_mac ("solo");

  /* The example of protocol-v2.md section 8, against our own derivation. */
  g_assert_cmpstr (solo, ==, "a2:da:71:da:e0:db");

  assert_reply (fx, "web-1", "{\"cmd\":\"reserve\",\"name\":\"web-1\"}\n",
                "{\"error\":\"network not created\"}\n");
  create_network (fx);
  assert_reply (fx, "web-1", "{\"cmd\":\"reserve\"}\n", "{\"error\":\"missing member name\"}\n");
  assert_reply (fx, "web-1", "{\"cmd\":\"reserve\",\"name\":\"\"}\n",
                "{\"error\":\"missing member name\"}\n");

  assert_reply (fx, "web-1", "{\"cmd\":\"reserve\",\"name\":\"web-1\"}\n", expected);
  /* A repeat ignores the new hint and returns the first reservation. */
  assert_reply (fx, "web-1", "{\"cmd\":\"reserve\",\"name\":\"web-1\",\"ip_hint\":\"10.9.9.9\"}\n",
                expected);
  assert_reply (fx, "web-2", "{\"cmd\":\"reserve\",\"name\":\"web-1\"}\n", expected);
  /* A name that is no runner name yet (a runtime add to come). */
  again = g_strdup_printf ("{\"reservation\":{\"mac\":\"%s\"}}\n", mac3);
  assert_reply (fx, "web-2", "{\"cmd\":\"reserve\",\"name\":\"web-3\"}\n", again);

  g_assert_cmpuint (record_count_prefix (fx, "reserve", "web-1"), ==, 1);
  {
    g_autofree char *line = g_strdup_printf ("{\"op\":\"reserve\",\"name\":\"web-1\",\"mac\":\"%s\"}", mac1);
    g_assert_cmpuint (record_count (fx->sb, line), ==, 1);
  }
  g_assert_cmpuint (record_count_prefix (fx, "reserve", "web-3"), ==, 1);
  fx_finish (fx);
}

static void
test_boot_errors (void)
{
  g_autoptr(Fx) fx = fx_start ("web-1,web-2", NULL);
  g_autofree char *boot1 = boot_request ("web-1");
  g_autofree char *boot_x = boot_request ("x");
  g_autofree char *x_dir = g_build_filename (fx->sb->root, "clusters", "x", NULL);
  g_auto(GStrv) lines = NULL;

  assert_reply (fx, "web-1", boot1, "{\"error\":\"network not created\"}\n");
  create_network (fx);
  assert_reply (fx, "web-1", "{\"cmd\":\"boot-member\"}\n",
                "{\"error\":\"missing or invalid spec\"}\n");
  assert_reply (fx, "web-1", "{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"\",\"disk_path\":\"/d\"}}\n",
                "{\"error\":\"missing or invalid spec\"}\n");
  assert_reply (fx, "web-1", "{\"cmd\":\"boot-member\",\"spec\":{\"disk_path\":\"/d\"}}\n",
                "{\"error\":\"missing or invalid spec\"}\n");
  assert_reply (fx, "web-1", boot1, "{\"error\":\"member web-1 was not reserved\"}\n");
  assert_reply (fx, "web-2", boot_x, "{\"error\":\"member x was not reserved\"}\n");

  /* Nothing was registered or created for the refused boots. */
  g_assert_false (path_exists (x_dir));
  assert_starting (fx, "web-1");
  assert_starting (fx, "web-2");
  lines = read_record (fx->sb);
  g_assert_cmpuint (g_strv_length (lines), ==, 0);
  fx_finish (fx);
}

static void
test_boot_success (void)
{
  g_autoptr(Fx) fx = fx_start ("web-1,web-2", NULL);
  g_autofree char *boot1 = boot_request ("web-1");

  create_network (fx);
  reserve (fx, "web-1");
  boot (fx, "web-1");
  assert_status (fx->sb, "web-1", fx->pid, TRUE, "203.0.113.1", "running", NULL);

  /* A duplicate changes nothing and reaches no backend. */
  assert_reply (fx, "web-1", boot1, "{\"error\":\"member web-1 is already running\"}\n");
  assert_status (fx->sb, "web-1", fx->pid, TRUE, "203.0.113.1", "running", NULL);
  assert_starting (fx, "web-2");
  g_assert_cmpuint (record_count_prefix (fx, "create", "web-1"), ==, 1);
  g_assert_false (pid_gone (fx->pid));

  fx_finish (fx);
  g_assert_cmpuint (record_count_op (fx, "stop", "web-1"), ==, 1);
  g_assert_cmpuint (record_count (fx->sb, "{\"op\":\"close\"}"), ==, 1);
}

static void
test_fail_create (void)
{
  g_autoptr(Fx) fx = fx_start ("web-1,web-2", "FLEETBOX_FAKE_FAIL_CREATE", "web-2", NULL);
  g_autofree char *boot2 = boot_request ("web-2");
  g_autofree char *sock = sock_path (fx->sb, "web-2");

  create_network (fx);
  reserve (fx, "web-2");
  assert_reply (fx, "web-1", boot2,
                "{\"error\":\"create web-2: fake backend: forced Create failure for \\\"web-2\\\"\"}\n");
  /* The member keeps its socket and pidfile to tell why. */
  assert_status (fx->sb, "web-2", fx->pid, FALSE, "", "error",
                 "fake backend: forced Create failure for \\\"web-2\\\"");
  assert_starting (fx, "web-1");
  g_assert_cmpuint (record_count_prefix (fx, "create", "web-2"), ==, 1);
  g_assert_cmpuint (record_count_op (fx, "stop", "web-2"), ==, 0);

  /* Stopping the errored member retires it; web-1 keeps the helper up. */
  assert_reply (fx, "web-2", "{\"cmd\":\"stop\"}\n", "{}\n");
  g_assert_true (wait_until (path_gone_cb, sock, scaled (2000)));
  assert_starting (fx, "web-1");
  fx_finish (fx);
}

/* A backend step after create fails: the partial VM is stopped. */
static void
fail_after_create (const char *knob,
                   const char *prefix)
{
  g_autoptr(Fx) fx = fx_start ("web-1,web-2", knob, "web-2", NULL);
  g_autofree char *boot2 = boot_request ("web-2");
  g_autofree char *reply = NULL;
  g_autofree char *status = NULL;
  g_autofree char *status_prefix = NULL;
  g_autofree char *why = NULL;
  g_autofree char *expected = NULL;

  create_network (fx);
  reserve (fx, "web-2");
  reply = member_request (fx->sb, "web-1", boot2);
  g_test_message ("%s=web-2 -> %.*s", knob, (int) strcspn (reply, "\n"), reply);
  assert_error_reply (reply, prefix);

  status = status_of (fx->sb, "web-2");
  status_prefix = g_strdup_printf ("{\"status\":{\"name\":\"web-2\",\"pid\":%d,\"running\":false,"
                                   "\"ip\":\"\",\"state\":\"error\",\"error\":\"", (int) fx->pid);
  /* status.error is the backend's message without the "<step> web-2: ". */
  why = g_strndup (reply + strlen (prefix), strlen (reply) - strlen (prefix) - strlen ("\"}\n"));
  expected = g_strdup_printf ("%s%s\"}}\n", status_prefix, why);
  g_assert_cmpstr (status, ==, expected);
  g_assert_cmpuint (record_count_prefix (fx, "create", "web-2"), ==, 1);
  g_assert_cmpuint (record_count_op (fx, "stop", "web-2"), ==, 1);
  assert_starting (fx, "web-1");
  fx_finish (fx);
  g_assert_cmpuint (record_count_op (fx, "stop", "web-2"), ==, 1);
}

static void
test_fail_start (void)
{
  fail_after_create ("FLEETBOX_FAKE_FAIL_START", "{\"error\":\"start web-2: ");
}

static void
test_fail_ip (void)
{
  fail_after_create ("FLEETBOX_FAKE_FAIL_IP", "{\"error\":\"wait for ip web-2: ");
}

static void
test_ip_timeout (void)
{
  /* The boot delay must outlast the bound by far, under a wrapper too. */
  const char *delay = wrapped ? "10m0s" : "10s";
  g_autoptr(Fx) fx = fx_start ("web-1,web-2",
                               "FLEETBOX_IP_WAIT_TIMEOUT", "200ms",
                               "FLEETBOX_FAKE_BOOT_DELAY", delay,
                               NULL);
  g_autofree char *boot2 = boot_request ("web-2");
  g_autofree char *reply = NULL;
  g_autofree char *why = g_strdup_printf ("timed out after 200ms waiting for the fake boot "
                                          "delay of %s (FLEETBOX_FAKE_BOOT_DELAY)", delay);
  g_autofree char *expected = g_strdup_printf ("{\"error\":\"wait for ip web-2: %s\"}\n", why);
  gint64 start;

  create_network (fx);
  reserve (fx, "web-2");
  start = g_get_monotonic_time ();
  reply = member_request (fx->sb, "web-1", boot2);
  g_test_message ("IP wait gave up after %.1f ms", ms_since (start));
  /* What "up" means comes from the backend (its describe_ready). */
  g_assert_cmpstr (reply, ==, expected);
  g_assert_cmpfloat (ms_since (start), <, scaled (5000));
  assert_status (fx->sb, "web-2", fx->pid, FALSE, "", "error", why);
  g_assert_cmpuint (record_count_op (fx, "stop", "web-2"), ==, 1);
  fx_finish (fx);
}

/* ---- the fake backend's record ---------------------------------------- */

static void
test_record (void)
{
  g_autoptr(Fx) fx = fx_start ("web-1,web-2", NULL);
  g_autofree char *mac1 = expected_mac ("web-1");
  g_autofree char *mac2 = expected_mac ("web-2");
  g_autofree char *sock1 = sock_path (fx->sb, "web-1");
  g_autofree char *reserved1 = g_strdup_printf ("{\"reservation\":{\"mac\":\"%s\"}}\n", mac1);
  g_autofree char *boot2 = boot_request ("web-2");
  const char *boot1 =
    "{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"web-1\",\"disk_path\":\"/vm/web-1.qcow2\","
    "\"seed_path\":\"/vm/web-1-seed.iso\",\"fixture_paths\":[\"/vm/fix-a.img\",\"/vm/fix b.img\"],"
    "\"efi_path\":\"/vm/web-1.efi\",\"cpus\":2,\"memory_bytes\":1073741824,"
    "\"serial_log_path\":\"/vm/web-1.log\"}}\n";
  g_auto(GStrv) lines = NULL;
  g_autofree char *r1 = NULL;
  g_autofree char *r2 = NULL;
  g_autofree char *c1 = NULL;
  g_autofree char *c2 = NULL;

  create_network (fx);
  assert_reply (fx, "web-1", "{\"cmd\":\"reserve\",\"name\":\"web-1\",\"ip_hint\":\"10.1.2.3\"}\n",
                reserved1);
  reserve (fx, "web-2");
  assert_reply (fx, "web-1", boot1, "{}\n");
  assert_reply (fx, "web-1", boot2, "{}\n");
  assert_status (fx->sb, "web-1", fx->pid, TRUE, "203.0.113.1", "running", NULL);
  assert_status (fx->sb, "web-2", fx->pid, TRUE, "203.0.113.2", "running", NULL);

  assert_reply (fx, "web-1", "{\"cmd\":\"stop\"}\n", "{}\n");
  g_assert_true (wait_until (path_gone_cb, sock1, scaled (2000)));
  fx_finish (fx);

  r1 = g_strdup_printf ("{\"op\":\"reserve\",\"name\":\"web-1\",\"ip_hint\":\"10.1.2.3\",\"mac\":\"%s\"}", mac1);
  r2 = g_strdup_printf ("{\"op\":\"reserve\",\"name\":\"web-2\",\"mac\":\"%s\"}", mac2);
  c1 = g_strdup_printf ("{\"op\":\"create\",\"name\":\"web-1\",\"disk_path\":\"/vm/web-1.qcow2\","
                        "\"seed_path\":\"/vm/web-1-seed.iso\",\"efi_path\":\"/vm/web-1.efi\","
                        "\"fixture_paths\":[\"/vm/fix-a.img\",\"/vm/fix b.img\"],\"mac\":\"%s\"}", mac1);
  c2 = g_strdup_printf ("{\"op\":\"create\",\"name\":\"web-2\",\"disk_path\":\"/nonexistent/web-2.qcow2\","
                        "\"seed_path\":\"/nonexistent/web-2-seed.iso\",\"mac\":\"%s\"}", mac2);
  lines = read_record (fx->sb);
  for (guint i = 0; lines[i] != NULL; i++)
    g_test_message ("record: %s", lines[i]);
  g_assert_cmpuint (g_strv_length (lines), ==, 7);
  g_assert_cmpstr (lines[0], ==, r1);
  g_assert_cmpstr (lines[1], ==, r2);
  g_assert_cmpstr (lines[2], ==, c1);
  g_assert_cmpstr (lines[3], ==, c2);
  g_assert_cmpstr (lines[4], ==, "{\"op\":\"stop\",\"name\":\"web-1\"}");
  g_assert_cmpstr (lines[5], ==, "{\"op\":\"stop\",\"name\":\"web-2\"}");
  g_assert_cmpstr (lines[6], ==, "{\"op\":\"close\"}");
}

/* ---- runtime add and re-join --------------------------------------------- */

static void
test_runtime_add (void)
{
  g_autoptr(Fx) fx = fx_start ("web-1", NULL);
  g_autofree char *dir2 = member_dir (fx->sb, "web-2");
  g_autofree char *sock2 = sock_path (fx->sb, "web-2");
  g_autofree char *pid2 = pidfile_path (fx->sb, "web-2");

  g_assert_false (path_exists (dir2));
  create_network (fx);
  reserve (fx, "web-2");
  boot (fx, "web-2");
  g_assert_true (g_file_test (dir2, G_FILE_TEST_IS_DIR));
  g_assert_true (is_socket (sock2));
  g_assert_cmpint (read_pidfile (fx->sb, "web-2"), ==, fx->pid);
  assert_status (fx->sb, "web-2", fx->pid, TRUE, "203.0.113.1", "running", NULL);

  assert_reply (fx, "web-2", "{\"cmd\":\"stop\"}\n", "{}\n");
  g_assert_true (wait_until (path_gone_cb, sock2, scaled (2000)));
  g_assert_true (wait_until (path_gone_cb, pid2, scaled (2000)));
  /* web-1 is still active: the helper lives on. */
  assert_starting (fx, "web-1");
  g_assert_cmpuint (record_count_op (fx, "stop", "web-2"), ==, 1);

  /* Re-join: the same reservation, no new backend reserve. */
  reserve (fx, "web-2");
  g_assert_cmpuint (record_count_prefix (fx, "reserve", "web-2"), ==, 1);
  boot (fx, "web-2");
  g_assert_true (is_socket (sock2));
  assert_status (fx->sb, "web-2", fx->pid, TRUE, "203.0.113.2", "running", NULL);
  g_assert_cmpuint (record_count_prefix (fx, "create", "web-2"), ==, 2);
  fx_finish (fx);
}

/* ---- stop during boot ------------------------------------------------------ */

typedef struct {
  Fx         *fx;
  const char *line;
  guint       count;
} RecordWait;

static gboolean
record_has_cb (gpointer data)
{
  RecordWait *w = data;
  g_auto(GStrv) lines = read_record (w->fx->sb);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], w->line))
      n++;
  return n >= w->count;
}

static void
test_stop_during_boot (void)
{
  g_autoptr(Fx) fx = fx_start ("web-1,web-2",
                               "FLEETBOX_FAKE_BOOT_DELAY", wrapped ? "600s" : "30s",
                               NULL);
  g_autofree char *boot2 = boot_request ("web-2");
  g_autofree char *sock1 = sock_path (fx->sb, "web-1");
  g_autofree char *sock2 = sock_path (fx->sb, "web-2");
  g_autofree char *stop_reply = NULL;
  g_autofree char *boot_reply = NULL;
  RecordWait created = { fx, "{\"op\":\"create\",\"name\":\"web-2\",", 1 };
  gint64 start;
  int fd;

  create_network (fx);
  reserve (fx, "web-2");

  /* The boot goes out now; its reply is read later. */
  fd = unix_connect (sock1);
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (write_all (fd, boot2, strlen (boot2)));
  /* The VM exists once the backend recorded its create. */
  g_assert_true (wait_until (record_has_cb, &created, scaled (5000)));
  assert_starting (fx, "web-2");

  start = g_get_monotonic_time ();
  stop_reply = roundtrip (sock2, "{\"cmd\":\"stop\"}\n", scaled (1000));
  g_assert_cmpstr (stop_reply, ==, "{}\n");
  boot_reply = read_to_eof (fd, scaled (1000), NULL);
  close (fd);
  g_test_message ("boot-member answered %.1f ms after the stop was sent", ms_since (start));
  g_assert_cmpstr (boot_reply, ==, "{\"error\":\"member web-2 was stopped during boot\"}\n");
  g_assert_cmpuint (record_count_op (fx, "stop", "web-2"), ==, 1);
  g_assert_true (wait_until (path_gone_cb, sock2, scaled (2000)));
  assert_starting (fx, "web-1");
  fx_finish (fx);
}

/* ---- hostile input ------------------------------------------------------- */

/* Writes @len bytes of @data without waiting for the server to read them
 * all, collecting whatever it answers; stops at EOF/reset or the
 * deadline. */
static char *
flood (const char *path,
       const char *data,
       gsize       len,
       guint       timeout_ms)
{
  g_autoptr(GString) reply = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  gsize sent = 0;
  gboolean writing = TRUE;
  int fd = unix_connect (path);

  g_assert_cmpint (fd, >=, 0);
  g_assert_no_errno (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK));
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN | (writing ? POLLOUT : 0) };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      char buf[4096];
      gssize n;

      if (left <= 0)
        {
          close (fd);
          return NULL;
        }
      if (poll (&pfd, 1, (int) left) <= 0)
        continue;
      if (writing && (pfd.revents & POLLOUT))
        {
          n = send (fd, data + sent, MIN (len - sent, 65536), MSG_NOSIGNAL | MSG_DONTWAIT);
          if (n > 0)
            sent += n;
          else if (n < 0 && errno != EAGAIN && errno != EINTR)
            writing = FALSE; /* the server closed: read its answer */
          if (sent == len)
            writing = FALSE;
        }
      if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
        {
          n = read (fd, buf, sizeof buf);
          if (n > 0)
            g_string_append_len (reply, buf, n);
          else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            break;
        }
    }
  close (fd);
  g_test_message ("flood: sent %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes", sent, len);
  return g_string_free (g_steal_pointer (&reply), FALSE);
}

static void
test_bad_input (void)
{
  static const struct {
    const char *request;
    const char *reply;   /* exact, or with a trailing '*' a prefix */
  } cases[] = {
    { "{\"cmd\":\"dance\"}\n", "{\"error\":\"unknown command \\\"dance\\\"\"}\n" },
    { "hello\n", "{\"error\":\"invalid request: *" },
    { "[1,2]\n", "{\"error\":\"invalid request: *" },
    { "[{\"cmd\":\"status\"}]\n", "{\"error\":\"invalid request: *" },
    { "null\n", "{\"error\":\"*" },
    { "{}\n", "{\"error\":\"*" },
    { "{\"cmd\":5}\n", "{\"error\":\"invalid request: *" },
    { "{\"cmd\":\"reserve\",\"name\":7}\n", "{\"error\":\"invalid request: *" },
    { "{\"cmd\":\"boot-member\",\"spec\":\"web-1\"}\n", "{\"error\":\"invalid request: *" },
    { "{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"web-1\",\"disk_path\":\"/d\","
      "\"seed_path\":\"/s\",\"cpus\":\"2\",\"memory_bytes\":1}}\n", "{\"error\":\"invalid request: *" },
    { "{\"cmd\":\"status\"\n", "{\"error\":\"invalid request: *" },
    { "\n", "{\"error\":\"*" },
    { "\xff\xfe\n", "{\"error\":\"*" },
  };
  g_autoptr(Fx) fx = fx_start ("web-1,web-2", NULL);
  g_autofree char *sock = sock_path (fx->sb, "web-1");
  g_autofree char *big = NULL;
  g_autofree char *reply = NULL;
  gsize big_len = 2 * 1024 * 1024;
  gint64 start;
  int fd;

  create_network (fx);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = member_request (fx->sb, "web-1", cases[i].request);
      gsize n = strlen (cases[i].reply);

      g_autofree char *shown = g_strescape (cases[i].request, NULL);

      g_test_message ("%s -> %.*s", shown,
                      got != NULL ? (int) strcspn (got, "\n") : 6, got != NULL ? got : "(none)");
      if (cases[i].reply[n - 1] == '*')
        {
          g_autofree char *prefix = g_strndup (cases[i].reply, n - 1);
          assert_error_reply (got, prefix);
        }
      else
        g_assert_cmpstr (got, ==, cases[i].reply);
      assert_starting (fx, "web-1");
    }

  /* A line past the limit is refused without being buffered whole. */
  big = g_malloc (big_len);
  memset (big, 'a', big_len);
  memcpy (big, "{\"cmd\":\"status\",\"x\":\"", 21);
  reply = flood (sock, big, big_len, scaled (10000));
  g_assert_nonnull (reply);
  g_test_message ("2 MiB line -> %.*s", (int) strcspn (reply, "\n"), reply);
  if (reply[0] != '\0')
    assert_error_reply (reply, "{\"error\":\"request too long");
  assert_starting (fx, "web-1");

  /* A connection that sends nothing. */
  fd = unix_connect (sock);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  assert_starting (fx, "web-1");

  /* A complete request without its newline, then EOF: still answered. */
  fd = unix_connect (sock);
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (write_all (fd, "{\"cmd\":\"status\"}", 16));
  g_assert_no_errno (shutdown (fd, SHUT_WR));
  g_clear_pointer (&reply, g_free);
  reply = read_to_eof (fd, scaled (2000), NULL);
  close (fd);
  g_assert_nonnull (reply);
  g_assert_true (g_str_has_prefix (reply, "{\"status\":{\"name\":\"web-1\","));

  /* Half a line that stays open does not hold up anyone else. */
  fd = unix_connect (sock);
  g_assert_cmpint (fd, >=, 0);
  g_assert_true (write_all (fd, "{\"cmd\":\"sta", 11));
  start = g_get_monotonic_time ();
  assert_starting (fx, "web-1");
  assert_starting (fx, "web-2");
  g_assert_cmpfloat (ms_since (start), <, scaled (1000));
  close (fd);

  assert_starting (fx, "web-1");
  fx_finish (fx);
}

static GHashTable *
list_dir (const char *path)
{
  GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *entry;

  if (dir == NULL)
    return set;
  while ((entry = g_dir_read_name (dir)) != NULL)
    g_hash_table_add (set, g_strdup (entry));
  g_dir_close (dir);
  return set;
}

/* @path holds only entries of @expected (NULL-terminated); all of them
 * when @all. */
static void
assert_dir_is (const char         *path,
               const char *const  *expected,
               gboolean            all)
{
  g_autoptr(GHashTable) set = list_dir (path);
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      if (!g_strv_contains (expected, key))
        {
          g_autofree char *msg = g_strdup_printf ("%s/%s", path, (char *) key);
          g_assert_cmpstr (msg, ==, "not expected");
        }
    }
  for (guint i = 0; all && expected[i] != NULL; i++)
    g_assert_true (g_hash_table_contains (set, expected[i]));
}

static void
test_path_tricks (void)
{
  g_autofree char *long_name = g_strnfill (HOLDER_NAME_MAX + 1, 'a');
  const char *names[] = { "../x", "a/b", ".", "..", long_name, "\\u0001", "x/../../x", NULL };
  g_autoptr(Fx) fx = fx_start ("web-1", NULL);
  g_autofree char *parent = g_path_get_dirname (fx->sb->dir);
  g_autofree char *parent_x = g_build_filename (parent, "x", NULL);
  gboolean parent_x_existed = path_exists (parent_x);
  g_autofree char *clusters = g_build_filename (fx->sb->root, "clusters", NULL);
  g_autofree char *web = g_build_filename (clusters, "web", NULL);
  g_autofree char *run = g_build_filename (fx->sb->root, "run", NULL);
  g_autofree char *h = sha256_hex16 ("web-1");
  g_autofree char *sock_name = g_strdup_printf ("%s.sock", h);
  g_autofree char *ctl_name = g_strdup_printf ("%s.ctl", h);
  g_autofree char *sock_lock = g_strdup_printf ("%s.sock.lock", h);
  g_autofree char *ctl_lock = g_strdup_printf ("%s.ctl.lock", h);
  const char *sandbox_entries[] = { "home", "record.ndjson", "helper.sh", NULL };
  const char *root_entries[] = { "clusters", "images", "run", NULL };
  const char *cluster_entries[] = { "web", NULL };
  const char *web_entries[] = { "web-1", NULL };
  g_autofree char *bind_folder = g_strdup_printf (".bind-shared-%u", (unsigned) geteuid ());
  const char *run_entries[] = { sock_name, ctl_name, sock_lock, ctl_lock, bind_folder, NULL };

  create_network (fx);
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *res = g_strdup_printf ("{\"cmd\":\"reserve\",\"name\":\"%s\"}\n", names[i]);
      g_autofree char *bm = g_strdup_printf ("{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"%s\","
                                             "\"disk_path\":\"/d\",\"seed_path\":\"/s\",\"cpus\":1,"
                                             "\"memory_bytes\":1}}\n", names[i]);
      g_autofree char *r1 = member_request (fx->sb, "web-1", res);
      g_autofree char *r2 = member_request (fx->sb, "web-1", bm);

      g_test_message ("%s -> %.*s", names[i], (int) strcspn (r1, "\n"), r1);
      assert_error_reply (r1, "{\"error\":\"invalid member name ");
      assert_error_reply (r2, "{\"error\":\"invalid member name ");
      assert_starting (fx, "web-1");
    }

  /* Nothing was made anywhere but by web-1. */
  {
    g_auto(GStrv) lines = read_record (fx->sb);
    g_assert_cmpuint (g_strv_length (lines), ==, 0);
  }
  assert_dir_is (fx->sb->dir, sandbox_entries, FALSE);
  assert_dir_is (fx->sb->root, root_entries, TRUE);
  assert_dir_is (clusters, cluster_entries, TRUE);
  assert_dir_is (web, web_entries, TRUE);
  assert_dir_is (run, run_entries, TRUE);
  if (!parent_x_existed)
    g_assert_false (path_exists (parent_x));
  fx_finish (fx);
}

/* ---- concurrency ---------------------------------------------------------- */

#define N_BOOTS 10
#define N_CLIENTS 50
#define N_ROUNDS 20

typedef struct {
  Sandbox *sb;
  GPid     pid;
  guint    index;
  char    *reply;        /* boot */
  gint64   done_at;      /* boot: reply time; client: last reply time */
  double  *latencies;    /* client: N_ROUNDS, into a shared array */
} Worker;

static gpointer
boot_worker (gpointer data)
{
  Worker *w = data;
  g_autofree char *name = g_strdup_printf ("web-%u", w->index + 1);
  g_autofree char *request = boot_request (name);
  g_autofree char *sock = sock_path (w->sb, "web-1");

  w->reply = roundtrip (sock, request, scaled (30000));
  w->done_at = g_get_monotonic_time ();
  return NULL;
}

static gpointer
status_worker (gpointer data)
{
  Worker *w = data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (w->index);

  for (guint i = 0; i < N_ROUNDS; i++)
    {
      g_autofree char *name = g_strdup_printf ("web-%d", g_rand_int_range (rand, 1, N_BOOTS + 1));
      g_autofree char *expected = g_strdup_printf ("{\"status\":{\"name\":\"%s\",\"pid\":%d,"
                                                   "\"running\":true,", name, (int) w->pid);
      gint64 start = g_get_monotonic_time ();
      g_autofree char *reply = status_of (w->sb, name);

      w->latencies[i] = ms_since (start);
      g_assert_nonnull (reply);
      g_assert_true (g_str_has_prefix (reply, expected));
    }
  w->done_at = g_get_monotonic_time ();
  return NULL;
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static void
test_concurrency (void)
{
  g_autoptr(Fx) fx = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) ips = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *csv = NULL;
  Worker boots[N_BOOTS] = { 0 };
  Worker clients[N_CLIENTS] = { 0 };
  GThread *threads[N_BOOTS + N_CLIENTS];
  double latencies[N_CLIENTS * N_ROUNDS];
  RecordWait all_created = { NULL, "{\"op\":\"create\",", N_BOOTS };
  gint64 first_boot = G_MAXINT64, last_status = 0, start;

  for (guint i = 0; i < N_BOOTS; i++)
    g_ptr_array_add (names, g_strdup_printf ("web-%u", i + 1));
  g_ptr_array_add (names, NULL);
  csv = g_strjoinv (",", (char **) names->pdata);
  /* Slower clients (under valgrind) need longer boots to overlap. */
  fx = fx_start (csv, "FLEETBOX_FAKE_BOOT_DELAY", wrapped ? "25s" : self_slow ? "20s" : "2s", NULL);
  all_created.fx = fx;

  create_network (fx);
  for (guint i = 0; i < N_BOOTS; i++)
    reserve (fx, g_ptr_array_index (names, i));

  for (guint i = 0; i < N_BOOTS; i++)
    {
      boots[i] = (Worker) { fx->sb, fx->pid, i, NULL, 0, NULL };
      threads[i] = g_thread_new ("boot", boot_worker, &boots[i]);
    }
  /* Every boot is in flight (its VM created, its IP wait running). */
  g_assert_true (wait_until (record_has_cb, &all_created, scaled (5000)));

  start = g_get_monotonic_time ();
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      clients[i] = (Worker) { fx->sb, fx->pid, i, NULL, 0, latencies + i * N_ROUNDS };
      threads[N_BOOTS + i] = g_thread_new ("status", status_worker, &clients[i]);
    }
  for (guint i = 0; i < N_BOOTS + N_CLIENTS; i++)
    g_thread_join (threads[i]);

  for (guint i = 0; i < N_BOOTS; i++)
    first_boot = MIN (first_boot, boots[i].done_at);
  for (guint i = 0; i < N_CLIENTS; i++)
    last_status = MAX (last_status, clients[i].done_at);
  qsort (latencies, G_N_ELEMENTS (latencies), sizeof latencies[0], compare_double);
  g_test_message ("%d status round trips in %.1f ms during %d boots: p50 %.2f ms, p99 %.2f ms, "
                  "max %.2f ms; first boot reply %.1f ms after the last status",
                  N_CLIENTS * N_ROUNDS, (last_status - start) / 1000.0, N_BOOTS,
                  latencies[G_N_ELEMENTS (latencies) / 2],
                  latencies[G_N_ELEMENTS (latencies) * 99 / 100],
                  latencies[G_N_ELEMENTS (latencies) - 1],
                  (first_boot - last_status) / 1000.0);
  /* Every status was answered while the boots were still in flight. */
  g_assert_cmpint (last_status, <, first_boot);

  for (guint i = 0; i < N_BOOTS; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *status = status_of (fx->sb, name);
      g_autofree char *prefix = g_strdup_printf ("{\"status\":{\"name\":\"%s\",\"pid\":%d,"
                                                 "\"running\":true,\"ip\":\"203.0.113.",
                                                 name, (int) fx->pid);
      g_autofree char *ip = NULL;
      char *end;

      g_assert_cmpstr (boots[i].reply, ==, "{}\n");
      g_free (boots[i].reply);
      g_assert_true (g_str_has_prefix (status, prefix));
      end = strchr (status + strlen (prefix), '"');
      g_assert_nonnull (end);
      g_assert_true (g_str_has_prefix (end, "\",\"state\":\"running\"}}\n"));
      ip = g_strndup (status + strlen (prefix) - strlen ("203.0.113."),
                      end - status - strlen (prefix) + strlen ("203.0.113."));
      g_assert_false (g_hash_table_contains (ips, ip));
      g_hash_table_add (ips, g_steal_pointer (&ip));
    }
  g_assert_cmpuint (g_hash_table_size (ips), ==, N_BOOTS);
  fx_finish (fx);
  for (guint i = 0; i < N_BOOTS; i++)
    g_assert_cmpuint (record_count_op (fx, "stop", g_ptr_array_index (names, i)), ==, 1);
}

/* ---- pids ------------------------------------------------------------------ */

static GPid
status_pid (Sandbox    *sb,
            const char *name)
{
  g_autofree char *reply = status_of (sb, name);
  const char *p;
  guint64 pid = 0;
  g_autofree char *digits = NULL;

  g_assert_nonnull (reply);
  p = strstr (reply, "\"pid\":");
  g_assert_nonnull (p);
  p += strlen ("\"pid\":");
  digits = g_strndup (p, strspn (p, "0123456789"));
  g_assert_true (g_ascii_string_to_unsigned (digits, 10, 1, G_MAXINT, &pid, NULL));
  return (GPid) pid;
}

static void
test_pid_matches_pidfile (void)
{
  g_autoptr(Fx) fx = fx_start ("web-1,web-2,db", NULL);
  const char *names[] = { "web-1", "web-2", "db", "web-3", NULL };

  create_network (fx);
  reserve (fx, "web-1");
  boot (fx, "web-1");
  reserve (fx, "web-3");
  boot (fx, "web-3");
  for (guint i = 0; names[i] != NULL; i++)
    {
      GPid from_file = read_pidfile (fx->sb, names[i]);

      g_assert_cmpint (from_file, ==, fx->pid);
      g_assert_cmpint (status_pid (fx->sb, names[i]), ==, from_file);
    }
  fx_finish (fx);
}

int
main (int    argc,
      char **argv)
{
  process_test_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/helper-process/status-starting", test_status_starting);
  g_test_add_func ("/helper-process/createnetwork", test_createnetwork);
  g_test_add_func ("/helper-process/reserve", test_reserve);
  g_test_add_func ("/helper-process/boot-errors", test_boot_errors);
  g_test_add_func ("/helper-process/boot-success", test_boot_success);
  g_test_add_func ("/helper-process/fail-create", test_fail_create);
  g_test_add_func ("/helper-process/fail-start", test_fail_start);
  g_test_add_func ("/helper-process/fail-ip", test_fail_ip);
  g_test_add_func ("/helper-process/ip-timeout", test_ip_timeout);
  g_test_add_func ("/helper-process/record", test_record);
  g_test_add_func ("/helper-process/runtime-add", test_runtime_add);
  g_test_add_func ("/helper-process/stop-during-boot", test_stop_during_boot);
  g_test_add_func ("/helper-process/bad-input", test_bad_input);
  g_test_add_func ("/helper-process/path-tricks", test_path_tricks);
  g_test_add_func ("/helper-process/concurrency", test_concurrency);
  g_test_add_func ("/helper-process/pid-matches-pidfile", test_pid_matches_pidfile);

  return g_test_run ();
}
