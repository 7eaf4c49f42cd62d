/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "test-standin"

/*
 * The cloud-hypervisor stand-in (tests/ch-standin) and the test guest
 * (tests/guest): the command line it accepts and refuses, its REST API, and
 * a real boot of the guest under qemu/TCG on a tap in a bridge, all inside
 * a network namespace this program creates (it needs root for that).
 *
 * Environment (set by meson): HOLDER_TEST_CH_STANDIN,
 * HOLDER_TEST_GUEST_KERNEL, HOLDER_TEST_GUEST_INITRAMFS.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#define GUEST_IP "10.200.0.2"
#define BRIDGE_IP "10.200.0.1"
#define TAP_NAME "tap-standin"
#define GUEST_MAC "52:54:00:12:34:56"

/* Why the vm cases cannot run here; NULL when they can. */
static char *vm_skip_reason;

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

typedef struct
{
  char *dir;
  char *sock;
  char *serial;
  char *log;
  char *disk;
  char *seed;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("test-standin-XXXXXX", &error);
  g_assert_no_error (error);
  f->sock = g_build_filename (f->dir, "api.sock", NULL);
  f->serial = g_build_filename (f->dir, "serial.log", NULL);
  f->log = g_build_filename (f->dir, "standin.jsonl", NULL);
  f->disk = g_build_filename (f->dir, "disk.img", NULL);
  f->seed = g_build_filename (f->dir, "seed.img", NULL);
  g_file_set_contents (f->disk, "", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (truncate (f->disk, 16 << 20), ==, 0);
  g_file_set_contents (f->seed, "", 0, &error);
  g_assert_no_error (error);
  g_assert_cmpint (truncate (f->seed, 1 << 20), ==, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->sock);
  g_free (f->serial);
  g_free (f->log);
  g_free (f->disk);
  g_free (f->seed);
}

static const char *
env_or (const char *name, const char *fallback)
{
  const char *v = g_getenv (name);

  return v != NULL && *v != '\0' ? v : fallback;
}

static const char *
standin_path (void)
{
  return env_or ("HOLDER_TEST_CH_STANDIN", "ch-standin");
}

/* Outside meson the stand-in's path is unknown: skip rather than guess. */
static gboolean
standin_skip (void)
{
  if (g_getenv ("HOLDER_TEST_CH_STANDIN") != NULL)
    return FALSE;
  g_test_skip ("HOLDER_TEST_CH_STANDIN not set (run through meson test)");
  return TRUE;
}

/* The exact command line the holder backend builds. */
static GPtrArray *
backend_argv (Fixture *f)
{
  GPtrArray *av = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (av, g_strdup (standin_path ()));
  g_ptr_array_add (av, g_strdup ("--api-socket"));
  g_ptr_array_add (av, g_strdup (f->sock));
  g_ptr_array_add (av, g_strdup ("--kernel"));
  g_ptr_array_add (av, g_strdup (env_or ("HOLDER_TEST_GUEST_KERNEL", f->disk)));
  g_ptr_array_add (av, g_strdup ("--initramfs"));
  g_ptr_array_add (av, g_strdup (env_or ("HOLDER_TEST_GUEST_INITRAMFS", f->seed)));
  g_ptr_array_add (av, g_strdup ("--cmdline"));
  g_ptr_array_add (av, g_strdup ("console=ttyS0 holder.ip=" GUEST_IP "/24 holder.peers=" BRIDGE_IP));
  g_ptr_array_add (av, g_strdup ("--disk"));
  g_ptr_array_add (av, g_strdup_printf ("path=%s", f->disk));
  g_ptr_array_add (av, g_strdup_printf ("path=%s,readonly=on", f->seed));
  g_ptr_array_add (av, g_strdup ("--cpus"));
  g_ptr_array_add (av, g_strdup ("boot=1"));
  g_ptr_array_add (av, g_strdup ("--memory"));
  g_ptr_array_add (av, g_strdup ("size=256M"));
  g_ptr_array_add (av, g_strdup ("--net"));
  g_ptr_array_add (av, g_strdup ("tap=" TAP_NAME ",mac=" GUEST_MAC));
  g_ptr_array_add (av, g_strdup ("--console"));
  g_ptr_array_add (av, g_strdup ("off"));
  g_ptr_array_add (av, g_strdup ("--serial"));
  g_ptr_array_add (av, g_strdup_printf ("file=%s", f->serial));
  g_ptr_array_add (av, NULL);
  return av;
}

static void
child_setup (gpointer data)
{
  /* The stand-in (and its qemu) must not outlive a crashed test. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GSubprocess *
spawn_standin (Fixture *f, const char *const *argv, gboolean capture_stderr)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (capture_stderr ? G_SUBPROCESS_FLAGS_STDERR_PIPE
                                              : G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;

  g_subprocess_launcher_setenv (launcher, "HOLDER_STANDIN_LOG", f->log, TRUE);
  /* Keep TAP on stdout clean: the stand-in's stdout goes to our stderr. */
  g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return proc;
}

static void
on_wait_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *done = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *done = TRUE;
}

static gboolean
wake_up (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Runs the main context until @done or @timeout_s passes. */
static gboolean
await_flag (gboolean *done, double timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);
  guint tick = g_timeout_add (50, wake_up, NULL);

  while (!*done && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  return *done;
}

typedef struct
{
  GSubprocess *proc;
  gboolean exited;
} Standin;

static void
standin_start (Standin *s, GSubprocess *proc)
{
  s->proc = proc;
  s->exited = FALSE;
  g_subprocess_wait_async (proc, NULL, on_wait_done, &s->exited);
}

static void
standin_finish (Standin *s)
{
  if (!s->exited)
    {
      g_subprocess_force_exit (s->proc);
      await_flag (&s->exited, 10);
    }
  g_clear_object (&s->proc);
}

/* One HTTP/1.1 request over the API socket; returns the status, 0 when the
 * socket does not answer. */
static guint
api_call (const char *sock, const char *method, const char *endpoint, char **body_out)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (sock);
  g_autoptr(GSocketConnection) conn = NULL;
  g_autofree char *request = NULL;
  g_autoptr(GByteArray) reply = g_byte_array_new ();
  g_autofree char *text = NULL;
  guint status = 0;
  char *body;
  char buf[4096];
  gssize n;

  g_socket_client_set_timeout (client, 10);
  g_socket_client_set_enable_proxy (client, FALSE);
  conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr), NULL, NULL);
  if (conn == NULL)
    return 0;
  request = g_strdup_printf ("%s /api/v1/%s HTTP/1.1\r\n"
                             "Host: localhost\r\n"
                             "Accept: application/json\r\n"
                             "%s"
                             "Connection: close\r\n\r\n",
                             method, endpoint,
                             g_str_equal (method, "GET") ? "" : "Content-Length: 0\r\n");
  if (!g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (conn)),
                                  request, strlen (request), NULL, NULL, NULL))
    return 0;
  while ((n = g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)),
                                   buf, sizeof buf, NULL, NULL)) > 0)
    g_byte_array_append (reply, (const guint8 *) buf, n);
  text = g_strndup ((const char *) reply->data, reply->len);
  if (sscanf (text, "HTTP/1.1 %u", &status) != 1)
    return 0;
  body = strstr (text, "\r\n\r\n");
  if (body_out != NULL)
    *body_out = g_strdup (body != NULL ? body + 4 : "");
  return status;
}

static char *
vm_state (const char *sock)
{
  g_autofree char *body = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *obj;

  if (api_call (sock, "GET", "vm.info", &body) != 200)
    return NULL;
  json_parser_load_from_data (parser, body, -1, &error);
  g_assert_no_error (error);
  obj = json_node_get_object (json_parser_get_root (parser));
  return g_strdup (json_object_get_string_member (obj, "state"));
}

/* Polls vm.info until it answers Running; returns seconds taken. */
static double
await_running (Standin *s, const char *sock, gint64 t0)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *state = vm_state (sock);

      if (g_strcmp0 (state, "Running") == 0)
        return (g_get_monotonic_time () - t0) / 1e6;
      g_main_context_iteration (NULL, FALSE);
      g_assert_false (s->exited);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
}

static gboolean
file_contains (const char *path, const char *needle)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return FALSE;
  /* The serial log holds kernel output: search past any NUL bytes. */
  return memmem (contents, len, needle, strlen (needle)) != NULL;
}

static gboolean
await_file_contains (const char *path, const char *needle, double timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) (timeout_s * G_USEC_PER_SEC);

  while (!file_contains (path, needle))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (50 * 1000);
    }
  return TRUE;
}

/* The log lines the stand-in wrote, parsed. */
static GPtrArray *
read_log (const char *path)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *nodes = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return nodes;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;

      if (*lines[i] == '\0')
        continue;
      json_parser_load_from_data (parser, lines[i], -1, &error);
      g_assert_no_error (error);
      g_ptr_array_add (nodes, json_node_copy (json_parser_get_root (parser)));
    }
  return nodes;
}

static gboolean
log_has_api (GPtrArray *log, const char *method, const char *path, gint64 status)
{
  for (guint i = 0; i < log->len; i++)
    {
      JsonObject *o = json_node_get_object (log->pdata[i]);

      if (g_str_equal (json_object_get_string_member (o, "event"), "api")
          && g_str_equal (json_object_get_string_member (o, "method"), method)
          && g_str_equal (json_object_get_string_member (o, "path"), path)
          && json_object_get_int_member (o, "status") == status)
        return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */

/* Runs the stand-in with @argv, which it must refuse with @exit_code and
 * a message containing @needle, creating nothing. */
static void
assert_refused (Fixture *f, const char *const *argv, int exit_code, const char *needle)
{
  g_autoptr(GSubprocess) proc = spawn_standin (f, argv, TRUE);
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;

  g_subprocess_communicate_utf8 (proc, NULL, NULL, NULL, &err, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, exit_code);
  g_assert_nonnull (strcasestr (err, "error:"));
  g_assert_nonnull (strstr (err, needle));
  g_assert_false (g_file_test (f->sock, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (f->serial, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (f->log, G_FILE_TEST_EXISTS));
}

static void
test_argv_version (Fixture *f, gconstpointer data)
{
  const char *argv[] = { standin_path (), "--version", NULL };
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);

  if (standin_skip ())
    return;
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
  g_assert_cmpstr (out, ==, "cloud-hypervisor v52.0\n");
}

/* clap's errors exit 2, as cloud-hypervisor's do. */
static void
test_argv_unknown_flag (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) av = backend_argv (f);

  if (standin_skip ())
    return;
  g_ptr_array_insert (av, 3, g_strdup ("--foo"));
  assert_refused (f, (const char *const *) av->pdata, 2,
                  "error: unexpected argument '--foo' found");
}

static void
test_argv_missing_kernel (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) av = backend_argv (f);

  if (standin_skip ())
    return;
  /* drop "--kernel <file>" */
  g_ptr_array_remove_range (av, 3, 2);
  assert_refused (f, (const char *const *) av->pdata, 2, "--kernel <kernel>");
}

static void
test_argv_missing_value (Fixture *f, gconstpointer data)
{
  const char *argv[] = { standin_path (), "--api-socket", f->sock,
                         "--kernel", f->disk, "--disk", "--cpus", "boot=1", NULL };

  if (standin_skip ())
    return;
  assert_refused (f, argv, 2,
                  "error: a value is required for '--disk <disk>...' but none was supplied");
}

/* Config errors exit 1, as cloud-hypervisor's config parser does. */
static void
test_argv_bad_disk (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) av = backend_argv (f);
  /* the seed's value: no path, a bad toggle, an option the backend never
   * uses, a file that does not exist */
  const char *bad[][2] = { { "readonly=on", NULL }, { "path=", ",readonly=maybe" },
                           { "path=", ",direct=on" }, { "path=", ".missing" } };

  if (standin_skip ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_free (av->pdata[11]);
      av->pdata[11] = bad[i][1] == NULL ? g_strdup (bad[i][0])
                                        : g_strconcat (bad[i][0], f->seed, bad[i][1], NULL);
      g_test_message ("--disk ... %s", (const char *) av->pdata[11]);
      assert_refused (f, (const char *const *) av->pdata, 1, "Error parsing --disk");
    }
}

static void
test_argv_bad_values (Fixture *f, gconstpointer data)
{
  struct { guint index; const char *value; const char *needle; } cases[] = {
    { 13, "boot=0", "--cpus" },
    { 13, "boot=2,max=4", "--cpus" },
    { 15, "size=12X", "--memory" },
    { 17, "tap=" TAP_NAME ",mac=52:54:00:12:34", "--net" },
    { 17, "tap=this-name-is-too-long,mac=" GUEST_MAC, "--net" },
    { 19, "tty", "--console" },
    { 21, "file=/nonexistent-dir/serial.log", "--serial" },
    /* a descriptor this process did not inherit */
    { 4, "/proc/self/fd/9", "--kernel" },
  };

  if (standin_skip ())
    return;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) av = backend_argv (f);

      g_free (av->pdata[cases[i].index]);
      av->pdata[cases[i].index] = g_strdup (cases[i].value);
      g_test_message ("%s %s", (const char *) av->pdata[cases[i].index - 1], cases[i].value);
      assert_refused (f, (const char *const *) av->pdata, 1, cases[i].needle);
    }
}

/* ------------------------------------------------------------------ */
/* Booting the guest                                                   */

static gboolean
on_peer_connection (GSocketService    *service,
                    GSocketConnection *connection,
                    GObject           *source,
                    gpointer           user_data)
{
  return FALSE; /* dropping the connection closes it */
}

static gboolean
vm_skip (void)
{
  if (standin_skip ())
    return TRUE;
  if (vm_skip_reason == NULL)
    return FALSE;
  g_test_skip (vm_skip_reason);
  return TRUE;
}

/* Power button: the guest shuts down and the stand-in exits 0. */
static void
test_boot_power_button (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) av = NULL;
  g_autoptr(GSocketService) peer = NULL;
  g_autoptr(GSocketAddress) peer_addr = NULL;
  g_autoptr(GSocketClient) client = NULL;
  g_autoptr(GSocketAddress) guest_addr = NULL;
  g_autoptr(GPtrArray) log = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *logged_argv;
  Standin s;
  gint64 t0, deadline;
  double api_s, port_s, off_s;

  if (vm_skip ())
    return;

  /* The guest probes its peers on port 22: play a peer on the bridge. */
  peer = g_socket_service_new ();
  peer_addr = g_inet_socket_address_new_from_string (BRIDGE_IP, 22);
  g_socket_listener_add_address (G_SOCKET_LISTENER (peer), peer_addr,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (peer, "incoming", G_CALLBACK (on_peer_connection), NULL);

  av = backend_argv (f);
  t0 = g_get_monotonic_time ();
  standin_start (&s, spawn_standin (f, (const char *const *) av->pdata, FALSE));

  api_s = await_running (&s, f->sock, t0);
  g_test_message ("API ready (vm.info Running) after %.3f s", api_s);

  /* Port 22 of the guest, from this namespace, as the backend probes it. */
  client = g_socket_client_new ();
  g_socket_client_set_timeout (client, 2);
  /* An address, not a host name, and no proxy lookup: nothing but the
   * guest is contacted. */
  g_socket_client_set_enable_proxy (client, FALSE);
  guest_addr = g_inet_socket_address_new_from_string (GUEST_IP, 22);
  deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autoptr(GSocketConnection) conn =
        g_socket_client_connect (client, G_SOCKET_CONNECTABLE (guest_addr), NULL, NULL);

      if (conn != NULL)
        {
          char banner[64] = { 0 };
          GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));

          g_input_stream_read_all (in, banner, sizeof banner - 1, NULL, NULL, NULL);
          g_assert_true (g_str_has_prefix (banner, "SSH-2.0-holder-guest"));
          break;
        }
      g_main_context_iteration (NULL, FALSE);
      g_assert_false (s.exited);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }
  port_s = (g_get_monotonic_time () - t0) / 1e6;
  g_test_message ("guest port 22 accepts after %.3f s", port_s);

  /* The console turns \n into \r\n.  The listener starts just before the
   * line is printed: allow it a moment. */
  g_assert_true (await_file_contains (f->serial, "holder-guest: up " GUEST_IP "\r\n", 10));
  g_assert_true (await_file_contains (f->serial, "holder-guest: reached " BRIDGE_IP "\r\n", 30));
  g_assert_cmpint (api_call (f->sock, "GET", "vmm.ping", NULL), ==, 200);

  t0 = g_get_monotonic_time ();
  g_assert_cmpint (api_call (f->sock, "PUT", "vm.power-button", NULL), ==, 204);
  g_assert_true (await_flag (&s.exited, 30));
  off_s = (g_get_monotonic_time () - t0) / 1e6;
  g_test_message ("power button to VMM exit: %.3f s", off_s);
  g_assert_true (g_subprocess_get_if_exited (s.proc));
  g_assert_cmpint (g_subprocess_get_exit_status (s.proc), ==, 0);
  g_assert_true (file_contains (f->serial, "holder-guest: ACPI power button, powering off"));
  g_assert_false (g_file_test (f->sock, G_FILE_TEST_EXISTS));

  /* The log holds the exact argv and the API calls. */
  log = read_log (f->log);
  g_assert_cmpuint (log->len, >, 0);
  {
    JsonObject *first = json_node_get_object (log->pdata[0]);

    g_assert_cmpstr (json_object_get_string_member (first, "event"), ==, "argv");
    logged_argv = json_object_get_array_member (first, "argv");
    g_assert_cmpuint (json_array_get_length (logged_argv), ==, av->len - 1);
    for (guint i = 0; i + 1 < av->len; i++)
      g_assert_cmpstr (json_array_get_string_element (logged_argv, i), ==, av->pdata[i]);
  }
  g_assert_true (log_has_api (log, "GET", "/api/v1/vm.info", 200));
  g_assert_true (log_has_api (log, "PUT", "/api/v1/vm.power-button", 204));

  standin_finish (&s);
  g_socket_service_stop (peer);
}

/* vm.shutdown: the VM goes, the VMM stays until vmm.shutdown. */
static void
test_boot_vm_shutdown (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) av = NULL;
  g_autofree char *state = NULL;
  g_autofree char *body = NULL;
  Standin s;
  gint64 t0;

  if (vm_skip ())
    return;

  av = backend_argv (f);
  t0 = g_get_monotonic_time ();
  standin_start (&s, spawn_standin (f, (const char *const *) av->pdata, FALSE));
  g_test_message ("API ready (vm.info Running) after %.3f s", await_running (&s, f->sock, t0));

  /* cloud-hypervisor's answers to misuse. */
  g_assert_cmpint (api_call (f->sock, "GET", "vm.power-button", &body), ==, 400);
  g_assert_cmpstr (body, ==, "[\"Bad Request\"]");
  g_clear_pointer (&body, g_free);
  g_assert_cmpint (api_call (f->sock, "PUT", "vm.info", NULL), ==, 400);
  g_assert_cmpint (api_call (f->sock, "GET", "vm.nonexistent", &body), ==, 404);
  g_assert_cmpstr (body, ==, "[\"Not Found\"]");
  g_clear_pointer (&body, g_free);

  g_assert_cmpint (api_call (f->sock, "PUT", "vm.shutdown", NULL), ==, 204);
  /* The VMM still answers: the VM is gone, its config stays ("Created",
   * as cloud-hypervisor reports after vm.shutdown). */
  state = vm_state (f->sock);
  g_assert_cmpstr (state, ==, "Created");
  g_main_context_iteration (NULL, FALSE);
  g_assert_false (s.exited);
  g_assert_cmpint (api_call (f->sock, "PUT", "vm.power-button", &body), ==, 500);
  g_assert_nonnull (strstr (body, "VM is not running"));
  g_assert_cmpint (api_call (f->sock, "PUT", "vm.shutdown", NULL), ==, 500);

  /* vmm.shutdown answers 200 (cloud-hypervisor does) and the VMM exits. */
  g_assert_cmpint (api_call (f->sock, "PUT", "vmm.shutdown", NULL), ==, 200);
  g_assert_true (await_flag (&s.exited, 30));
  g_assert_true (g_subprocess_get_if_exited (s.proc));
  g_assert_cmpint (g_subprocess_get_exit_status (s.proc), ==, 0);
  g_assert_false (g_file_test (f->sock, G_FILE_TEST_EXISTS));
  standin_finish (&s);
}

/* SIGTERM: qemu is stopped and the stand-in exits 0 with its socket gone. */
static void
test_boot_sigterm (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) av = NULL;
  Standin s;

  if (vm_skip ())
    return;

  av = backend_argv (f);
  standin_start (&s, spawn_standin (f, (const char *const *) av->pdata, FALSE));
  await_running (&s, f->sock, g_get_monotonic_time ());
  g_subprocess_send_signal (s.proc, SIGTERM);
  g_assert_true (await_flag (&s.exited, 30));
  g_assert_true (g_subprocess_get_if_exited (s.proc));
  g_assert_cmpint (g_subprocess_get_exit_status (s.proc), ==, 0);
  g_assert_false (g_file_test (f->sock, G_FILE_TEST_EXISTS));
  standin_finish (&s);
}

/* Every file by an inherited descriptor, as the holder backend passes
 * them: /proc/self/fd/N.  The paths are gone before the stand-in starts,
 * so qemu can only have reached the files through the descriptors. */
static void
test_boot_fds (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) av = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *console = NULL;
  /* kernel, initramfs, disk, seed, serial: argv indexes and open modes */
  const guint index[] = { 4, 6, 10, 11, 21 };
  const char *prefix[] = { "", "", "path=", "path=", "file=" };
  const char *suffix[] = { "", "", "", ",readonly=on", "" };
  int fds[5];
  Standin s;
  gint64 deadline;

  if (vm_skip ())
    return;
  fds[0] = open (g_getenv ("HOLDER_TEST_GUEST_KERNEL"), O_RDONLY | O_CLOEXEC);
  fds[1] = open (g_getenv ("HOLDER_TEST_GUEST_INITRAMFS"), O_RDONLY | O_CLOEXEC);
  fds[2] = open (f->disk, O_RDWR | O_CLOEXEC);
  fds[3] = open (f->seed, O_RDONLY | O_CLOEXEC);
  fds[4] = open (f->serial, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    g_assert_cmpint (fds[i], >=, 0);
  g_assert_cmpint (g_unlink (f->disk), ==, 0);
  g_assert_cmpint (g_unlink (f->seed), ==, 0);
  g_assert_cmpint (g_unlink (f->serial), ==, 0);

  av = backend_argv (f);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_setenv (launcher, "HOLDER_STANDIN_LOG", f->log, TRUE);
  g_subprocess_launcher_take_stdout_fd (launcher, dup (STDERR_FILENO));
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    {
      g_free (av->pdata[index[i]]);
      av->pdata[index[i]] = g_strdup_printf ("%s/proc/self/fd/%u%s", prefix[i], 3 + i, suffix[i]);
      g_subprocess_launcher_take_fd (launcher, dup (fds[i]), 3 + i);
    }
  standin_start (&s, g_subprocess_launcher_spawnv (launcher, (const char *const *) av->pdata,
                                                   &error));
  g_assert_no_error (error);
  await_running (&s, f->sock, g_get_monotonic_time ());

  /* The console arrives in the unlinked log, through its descriptor. */
  deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  for (;;)
    {
      struct stat st;

      g_clear_pointer (&console, g_free);
      g_assert_cmpint (fstat (fds[4], &st), ==, 0);
      console = g_malloc0 (st.st_size + 1);
      g_assert_cmpint (pread (fds[4], console, st.st_size, 0), ==, st.st_size);
      if (memmem (console, st.st_size, "holder-guest: up " GUEST_IP, strlen ("holder-guest: up " GUEST_IP)) != NULL)
        break;
      g_main_context_iteration (NULL, FALSE);
      g_assert_false (s.exited);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (100 * 1000);
    }

  g_subprocess_send_signal (s.proc, SIGTERM);
  g_assert_true (await_flag (&s.exited, 30));
  g_assert_cmpint (g_subprocess_get_exit_status (s.proc), ==, 0);
  standin_finish (&s);
  for (guint i = 0; i < G_N_ELEMENTS (fds); i++)
    close (fds[i]);
}

/* ------------------------------------------------------------------ */
/* The namespace and its bridge                                        */

static gboolean
run_ip (const char *args, GError **error)
{
  g_autofree char *cmd = g_strconcat ("ip ", args, NULL);
  g_auto(GStrv) argv = NULL;
  g_autofree char *err = NULL;
  int status;

  if (!g_shell_parse_argv (cmd, NULL, &argv, error))
    return FALSE;
  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", cmd, g_strchomp (err));
      return FALSE;
    }
  return TRUE;
}

/* Everything networked happens in a namespace of our own: the bridge, the
 * tap qemu opens, the guest's traffic. */
static char *
setup_namespace (void)
{
  const char *kernel = g_getenv ("HOLDER_TEST_GUEST_KERNEL");
  const char *steps[] = {
    "link set lo up",
    "link add br0 type bridge",
    "addr add " BRIDGE_IP "/24 dev br0",
    "link set br0 up",
    "tuntap add dev " TAP_NAME " mode tap",
    "link set " TAP_NAME " master br0",
    "link set " TAP_NAME " up",
  };
  g_autofree char *qemu = NULL;
  g_autofree char *ip = NULL;
  const char *qemu_name = g_getenv ("HOLDER_STANDIN_QEMU");
  GStatBuf st;

  if (getuid () != 0)
    return g_strdup ("needs root (network namespace, bridge, tap)");
  if (kernel == NULL || g_stat (kernel, &st) != 0)
    return g_strdup ("test guest not built (HOLDER_TEST_GUEST_KERNEL)");
  if (st.st_size == 0)
    {
      /* build-guest.sh left its reason next to the empty kernel. */
      g_autofree char *dir = g_path_get_dirname (kernel);
      g_autofree char *status_path = g_build_filename (dir, "guest-status", NULL);
      g_autofree char *status = NULL;

      if (g_file_get_contents (status_path, &status, NULL, NULL)
          && g_str_has_prefix (status, "skip: "))
        return g_strdup (g_strchomp (status + strlen ("skip: ")));
      return g_strdup ("test guest kernel not built");
    }
  qemu = g_find_program_in_path (qemu_name != NULL ? qemu_name : "qemu-system-x86_64");
  if (qemu == NULL)
    return g_strdup ("qemu-system-x86_64 not installed (Debian: qemu-system-x86)");
  ip = g_find_program_in_path ("ip");
  if (ip == NULL)
    return g_strdup ("ip not installed (Debian: iproute2)");
  if (!g_file_test ("/dev/net/tun", G_FILE_TEST_EXISTS))
    return g_strdup ("/dev/net/tun missing");

  if (unshare (CLONE_NEWNET | CLONE_NEWNS) != 0)
    return g_strdup_printf ("unshare(CLONE_NEWNET|CLONE_NEWNS): %s", g_strerror (errno));
  /* Our mounts stay ours; a fresh sysfs shows this namespace's links. */
  if (mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
    return g_strdup_printf ("making mounts private: %s", g_strerror (errno));
  if (mount ("sysfs", "/sys", "sysfs", 0, NULL) != 0)
    g_debug ("mounting sysfs: %s", g_strerror (errno));

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr(GError) error = NULL;

      if (!run_ip (steps[i], &error))
        return g_strdup_printf ("building the test network: %s", error->message);
    }
  return NULL;
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);

  vm_skip_reason = setup_namespace ();

#define ADD(path, fn) \
  g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/standin/argv/version", test_argv_version);
  ADD ("/standin/argv/unknown-flag", test_argv_unknown_flag);
  ADD ("/standin/argv/missing-kernel", test_argv_missing_kernel);
  ADD ("/standin/argv/missing-value", test_argv_missing_value);
  ADD ("/standin/argv/bad-disk", test_argv_bad_disk);
  ADD ("/standin/argv/bad-values", test_argv_bad_values);
  ADD ("/standin/boot/power-button", test_boot_power_button);
  ADD ("/standin/boot/vm-shutdown", test_boot_vm_shutdown);
  ADD ("/standin/boot/sigterm", test_boot_sigterm);
  ADD ("/standin/boot/fds", test_boot_fds);
#undef ADD

  ret = g_test_run ();
  g_free (vm_skip_reason);
  return ret;
}
