/* test-server.c: the server half in-process, with the fake backend, driven
 * over real Unix sockets by raw asynchronous I/O on the same main context.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "holder.h"
#include "holder-peer-private.h"
#include "holder-server-private.h"
#include "holder-store-claim-private.h"
#include "holder-test-util.h"

typedef struct {
  char         *root;
  char         *record;
  HolderServer *server;
} Fixture;

/* ----------------------------------------------------------- raw client */

typedef struct {
  GSocketConnection *connection;
  GByteArray        *reply;
  guint8             chunk[4096];
  const char        *request;
  gsize              request_len;
  gboolean           half_close;
  gboolean           read_done;
  gboolean           write_done;
  gboolean           done;
  gboolean           failed;
} RawCall;

/* Done once both directions have finished: a write still in flight holds
 * the call. */
static void
raw_update_done (RawCall *call)
{
  call->done = call->read_done && call->write_done;
}

static void raw_read (RawCall *call);

static void
on_raw_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RawCall *call = user_data;
  g_autoptr(GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

  if (n <= 0)
    {
      call->failed = n < 0;
      call->read_done = TRUE;
      raw_update_done (call);
      return;
    }
  g_byte_array_append (call->reply, call->chunk, n);
  raw_read (call);
}

static void
raw_read (RawCall *call)
{
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (call->connection)),
                             call->chunk, sizeof call->chunk, G_PRIORITY_DEFAULT, NULL,
                             on_raw_read, call);
}

static void
on_raw_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RawCall *call = user_data;
  g_autoptr(GError) error = NULL;

  /* A server that refuses a request may close before reading all of it;
   * its reply still arrives on the read side. */
  if (g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error) &&
      call->half_close)
    /* A client that shuts down its side right after the request. */
    g_socket_shutdown (g_socket_connection_get_socket (call->connection), FALSE, TRUE, NULL);
  call->write_done = TRUE;
  raw_update_done (call);
}

static void
on_raw_connected (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RawCall *call = user_data;
  g_autoptr(GError) error = NULL;

  call->connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (call->connection == NULL)
    {
      call->failed = TRUE;
      call->read_done = call->write_done = call->done = TRUE;
      return;
    }
  g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (call->connection)),
                                   call->request, call->request_len, G_PRIORITY_DEFAULT, NULL,
                                   on_raw_written, call);
  raw_read (call);
}

/* Starts a call to @name's socket; the reply is complete when call->done. */
static RawCall *
raw_call_start (Fixture *fx, const char *name, const char *request, gsize len)
{
  RawCall *call = g_new0 (RawCall, 1);
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autofree char *path = holder_store_socket_path (fx->root, name);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);

  call->reply = g_byte_array_new ();
  call->request = request;
  call->request_len = len;
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (address), NULL,
                                 on_raw_connected, call);
  return call;
}

static void
iterate_until (gboolean *flag)
{
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (!*flag)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static char *
raw_call_finish (RawCall *call)
{
  char *reply;

  iterate_until (&call->done);
  g_assert_false (call->failed);
  reply = g_strndup (call->reply->len > 0 ? (const char *) call->reply->data : "", call->reply->len);
  g_byte_array_unref (call->reply);
  g_clear_object (&call->connection);
  g_free (call);
  return reply;
}

static char *
roundtrip (Fixture *fx, const char *name, const char *request)
{
  return raw_call_finish (raw_call_start (fx, name, request, strlen (request)));
}

static void
assert_reply (Fixture *fx, const char *name, const char *request, const char *expected)
{
  g_autofree char *reply = roundtrip (fx, name, request);
  g_assert_cmpstr (reply, ==, expected);
}

/* ------------------------------------------------------------- fixture */

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  fx->root = g_dir_make_tmp ("holder-server-XXXXXX", NULL);
  g_assert_nonnull (fx->root);
  g_assert_true (holder_store_ensure_root (fx->root, NULL));
  fx->record = g_build_filename (fx->root, "record.ndjson", NULL);
  g_setenv ("FLEETBOX_FAKE_RECORD", fx->record, TRUE);
  g_unsetenv ("FLEETBOX_FAKE_FAIL_CREATE");
  g_unsetenv ("FLEETBOX_FAKE_BOOT_DELAY");
  g_unsetenv ("FLEETBOX_FAKE_EXIT_AFTER");
  g_unsetenv ("FLEETBOX_IP_WAIT_TIMEOUT");
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  g_clear_pointer (&fx->server, holder_server_free);
  holder_test_remove_tree (fx->root);
  g_free (fx->root);
  g_free (fx->record);
}

static void
server_start (Fixture *fx, const char *const *names, guint request_timeout_ms)
{
  g_autoptr(GError) error = NULL;
  HolderServerOptions options = { 0 };

  options.root = fx->root;
  options.backend_class = holder_backend_lookup ("fake", &error);
  g_assert_no_error (error);
  options.names = names;
  options.request_timeout_ms = request_timeout_ms;
  fx->server = holder_server_new (&options, &error);
  g_assert_no_error (error);
  g_assert_true (holder_server_start (fx->server, &error));
  g_assert_no_error (error);
}

static char *
read_record (Fixture *fx)
{
  char *contents = NULL;

  if (!g_file_get_contents (fx->record, &contents, NULL, NULL))
    return g_strdup ("");
  return contents;
}

static void
prepare_member (Fixture *fx, const char *primary, const char *name)
{
  g_autofree char *reserve = g_strdup_printf ("{\"cmd\":\"reserve\",\"name\":\"%s\"}\n", name);
  g_autofree char *reply = NULL;

  assert_reply (fx, primary, "{\"cmd\":\"createnetwork\"}\n", "{}\n");
  reply = roundtrip (fx, primary, reserve);
  g_assert_true (g_str_has_prefix (reply, "{\"reservation\":{\"mac\":\""));
}

static char *
boot_request (const char *name)
{
  return g_strdup_printf ("{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"%s\",\"disk_path\":\"/d/%s.raw\","
                          "\"seed_path\":\"/d/%s.iso\",\"cpus\":1,\"memory_bytes\":536870912}}\n",
                          name, name, name);
}

static gboolean
path_exists (const char *path)
{
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* --------------------------------------------------------------- tests */

static void
test_register_files (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "web-1", "web-2", NULL };
  g_autofree char *pidfile = holder_store_pidfile_path (fx->root, "web-2");
  g_autofree char *socket = holder_store_socket_path (fx->root, "web-2");
  g_autofree char *contents = NULL;
  g_autofree char *expected = g_strdup_printf ("%d", (int) getpid ());
  g_autofree char *status = NULL;
  GStatBuf st;

  server_start (fx, names, 0);

  g_assert_true (g_file_get_contents (pidfile, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, expected);
  g_assert_cmpint (g_stat (pidfile, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0644);
  g_assert_true (path_exists (socket));

  status = g_strdup_printf ("{\"status\":{\"name\":\"web-2\",\"pid\":%d,\"running\":true,"
                            "\"ip\":\"\",\"state\":\"starting\"}}\n", (int) getpid ());
  assert_reply (fx, "web-2", "{\"cmd\":\"status\"}\n", status);

  holder_server_shutdown (fx->server, "test");
  holder_server_run_until_finished (fx->server);
  g_assert_false (path_exists (pidfile));
  g_assert_false (path_exists (socket));
  /* The member's folder is the client's: it stays. */
  {
    g_autofree char *dir = holder_store_member_dir (fx->root, "web-2");
    g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  }
}

static void
test_boot_and_stop (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "app-1", "app-2", NULL };
  g_autofree char *boot = boot_request ("app-2");
  g_autofree char *status = NULL;
  g_autofree char *record = NULL;
  g_autofree char *pidfile = holder_store_pidfile_path (fx->root, "app-2");
  g_autofree char *mac = holder_mac_for_name ("app-2");
  g_autofree char *expected_record = NULL;

  server_start (fx, names, 0);
  prepare_member (fx, "app-1", "app-2");
  assert_reply (fx, "app-1", boot, "{}\n");

  status = g_strdup_printf ("{\"status\":{\"name\":\"app-2\",\"pid\":%d,\"running\":true,"
                            "\"ip\":\"203.0.113.1\",\"state\":\"running\"}}\n", (int) getpid ());
  assert_reply (fx, "app-2", "{\"cmd\":\"status\"}\n", status);
  assert_reply (fx, "app-1", boot, "{\"error\":\"member app-2 is already running\"}\n");
  assert_reply (fx, "app-2", "{\"cmd\":\"status\"}\n", status);

  assert_reply (fx, "app-2", "{\"cmd\":\"stop\"}\n", "{}\n");
  /* Retired once its VM is confirmed down. */
  while (path_exists (pidfile))
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (holder_server_is_finished (fx->server)); /* app-1 is active */

  holder_server_shutdown (fx->server, "test");
  holder_server_run_until_finished (fx->server);

  record = read_record (fx);
  expected_record = g_strdup_printf (
    "{\"op\":\"reserve\",\"name\":\"app-2\",\"mac\":\"%s\"}\n"
    "{\"op\":\"create\",\"name\":\"app-2\",\"disk_path\":\"/d/app-2.raw\",\"seed_path\":\"/d/app-2.iso\",\"mac\":\"%s\"}\n"
    "{\"op\":\"stop\",\"name\":\"app-2\"}\n"
    "{\"op\":\"close\"}\n", mac, mac);
  g_assert_cmpstr (record, ==, expected_record);
}

/* The boot trace (holder_boot_trace()): with G_MESSAGES_DEBUG naming its
 * domain, the server's steps of a boot, in order, on standard output;
 * without, nothing. The flag is read once per process, so each case runs
 * in a subprocess of its own. */
static void
test_boot_trace (Fixture *fx, gconstpointer data)
{
  if (g_test_subprocess ())
    {
      const char *names[] = { "app-1", "app-2", NULL };
      g_autofree char *boot = boot_request ("app-2");

      server_start (fx, names, 0);
      prepare_member (fx, "app-1", "app-2");
      assert_reply (fx, "app-1", boot, "{}\n");
      holder_server_shutdown (fx->server, "test");
      holder_server_run_until_finished (fx->server);
      return;
    }

  g_setenv ("G_MESSAGES_DEBUG", HOLDER_BOOT_TRACE_DOMAIN, TRUE);
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*boot-trace * app-2 request\n"
                             "*boot-trace * app-2 vm-started\n"
                             "*boot-trace * app-2 reply\n*");

  g_unsetenv ("G_MESSAGES_DEBUG");
  g_test_trap_subprocess (NULL, 0, 0);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout_unmatched ("*boot-trace*");
}

static void
test_last_member_leaving (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "solo", NULL };
  g_autofree char *boot = boot_request ("solo");
  g_autofree char *socket = holder_store_socket_path (fx->root, "solo");

  server_start (fx, names, 0);
  prepare_member (fx, "solo", "solo");
  assert_reply (fx, "solo", boot, "{}\n");
  assert_reply (fx, "solo", "{\"cmd\":\"stop\"}\n", "{}\n");
  holder_server_run_until_finished (fx->server);
  g_assert_false (path_exists (socket));
}

/* The reply to the boot that ends the last active member is delivered in
 * full before the server finishes. */
static void
test_failed_boot_reply_before_exit (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "solo", NULL };
  g_autofree char *boot = boot_request ("solo");

  g_setenv ("FLEETBOX_FAKE_FAIL_CREATE", "solo", TRUE);
  server_start (fx, names, 0);
  prepare_member (fx, "solo", "solo");
  assert_reply (fx, "solo", boot,
                "{\"error\":\"create solo: fake backend: forced Create failure for \\\"solo\\\"\"}\n");
  holder_server_run_until_finished (fx->server);
  g_assert_true (holder_server_is_finished (fx->server));
}

static void
test_status_during_boots (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "n-1", "n-2", "n-3", NULL };
  RawCall *boots[3];
  /* Not g_autofree: on an array it frees the first element only. */
  char *requests[3] = { NULL, };
  gint64 start;

  g_setenv ("FLEETBOX_FAKE_BOOT_DELAY", "1s", TRUE);
  server_start (fx, names, 0);
  prepare_member (fx, "n-1", "n-1");
  prepare_member (fx, "n-1", "n-2");
  prepare_member (fx, "n-1", "n-3");

  for (guint i = 0; i < 3; i++)
    {
      requests[i] = boot_request (names[i]);
      boots[i] = raw_call_start (fx, "n-1", requests[i], strlen (requests[i]));
    }

  /* Statuses are answered while the three boots wait for their IPs. */
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 30; i++)
    {
      g_autofree char *reply = roundtrip (fx, names[i % 3], "{\"cmd\":\"status\"}\n");
      g_assert_nonnull (strstr (reply, "\"state\":\"starting\""));
    }
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  for (guint i = 0; i < 3; i++)
    g_assert_false (boots[i]->done);

  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *reply = raw_call_finish (boots[i]);
      g_assert_cmpstr (reply, ==, "{}\n");
      g_free (requests[i]);
    }
}

static void
test_stop_during_boot (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "keep", "slow", NULL };
  g_autofree char *boot = boot_request ("slow");
  g_autofree char *reply = NULL;
  g_autofree char *record = NULL;
  RawCall *call;
  gint64 start;

  g_setenv ("FLEETBOX_FAKE_BOOT_DELAY", "60s", TRUE);
  server_start (fx, names, 0);
  prepare_member (fx, "keep", "slow");
  call = raw_call_start (fx, "keep", boot, strlen (boot));
  /* Wait until the boot is in its IP wait. */
  start = g_get_monotonic_time ();
  while (strstr (record = read_record (fx), "\"op\":\"create\"") == NULL)
    {
      g_clear_pointer (&record, g_free);
      g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
      g_main_context_iteration (NULL, FALSE);
    }
  g_clear_pointer (&record, g_free);

  start = g_get_monotonic_time ();
  assert_reply (fx, "slow", "{\"cmd\":\"stop\"}\n", "{}\n");
  reply = raw_call_finish (call);
  g_assert_cmpstr (reply, ==, "{\"error\":\"member slow was stopped during boot\"}\n");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);

  record = read_record (fx);
  g_assert_nonnull (strstr (record, "{\"op\":\"stop\",\"name\":\"slow\"}\n"));
  g_assert_false (holder_server_is_finished (fx->server));
}

static void
test_ip_wait_timeout (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "keep", "late", NULL };
  g_autofree char *boot = boot_request ("late");
  g_autofree char *status = NULL;

  g_setenv ("FLEETBOX_FAKE_BOOT_DELAY", "60s", TRUE);
  g_setenv ("FLEETBOX_IP_WAIT_TIMEOUT", "150ms", TRUE);
  server_start (fx, names, 0);
  prepare_member (fx, "keep", "late");
  assert_reply (fx, "keep", boot, "{\"error\":\"wait for ip late: timed out after 150ms waiting for "
                "the fake boot delay of 1m0s (FLEETBOX_FAKE_BOOT_DELAY)\"}\n");
  status = g_strdup_printf ("{\"status\":{\"name\":\"late\",\"pid\":%d,\"running\":false,\"ip\":\"\","
                            "\"state\":\"error\",\"error\":\"timed out after 150ms waiting for the fake "
                            "boot delay of 1m0s (FLEETBOX_FAKE_BOOT_DELAY)\"}}\n", (int) getpid ());
  assert_reply (fx, "late", "{\"cmd\":\"status\"}\n", status);
}

static void
test_vm_exits_on_its_own (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "keep", "flaky", NULL };
  g_autofree char *boot = boot_request ("flaky");
  g_autofree char *record = NULL;
  gint64 deadline;

  g_setenv ("FLEETBOX_FAKE_EXIT_AFTER", "50ms", TRUE);
  server_start (fx, names, 0);
  prepare_member (fx, "keep", "flaky");
  assert_reply (fx, "keep", boot, "{}\n");

  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autofree char *reply = roundtrip (fx, "flaky", "{\"cmd\":\"status\"}\n");
      if (strstr (reply, "\"state\":\"error\"") != NULL)
        {
          g_assert_nonnull (strstr (reply, "\"running\":false"));
          g_assert_nonnull (strstr (reply, "\"error\":\"fake backend: VM exited on its own\""));
          break;
        }
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  /* What the VM held is released through a stop. */
  while (strstr (record = read_record (fx), "{\"op\":\"stop\",\"name\":\"flaky\"}") == NULL)
    {
      g_clear_pointer (&record, g_free);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
    }
  /* The errored member can boot again. */
  g_unsetenv ("FLEETBOX_FAKE_EXIT_AFTER");
}

static void
test_request_timeout (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "idle", NULL };
  RawCall *call;
  g_autofree char *reply = NULL;
  gint64 start = g_get_monotonic_time ();

  server_start (fx, names, 100);
  /* Half a request, never finished: dropped after the timeout, reply empty. */
  call = raw_call_start (fx, "idle", "{\"cmd\":", 7);
  reply = raw_call_finish (call);
  g_assert_cmpstr (reply, ==, "");
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  assert_reply (fx, "idle", "{\"cmd\":\"stop\"}\n", "{}\n");
  holder_server_run_until_finished (fx->server);
}

static void
test_bad_input (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "bad", NULL };
  g_autofree char *huge = NULL;
  g_autofree char *reply = NULL;
  gsize huge_len = 2 * 1024 * 1024;
  RawCall *call;

  server_start (fx, names, 0);
  assert_reply (fx, "bad", "{\"cmd\":\"dance\"}\n", "{\"error\":\"unknown command \\\"dance\\\"\"}\n");
  reply = roundtrip (fx, "bad", "hello\n");
  g_assert_true (g_str_has_prefix (reply, "{\"error\":\"invalid request"));
  g_clear_pointer (&reply, g_free);
  reply = roundtrip (fx, "bad", "[1,2]\n");
  g_assert_true (g_str_has_prefix (reply, "{\"error\":\"invalid request"));
  g_clear_pointer (&reply, g_free);
  reply = roundtrip (fx, "bad", "{\"cmd\":5}\n");
  g_assert_true (g_str_has_prefix (reply, "{\"error\":\"invalid request"));
  g_clear_pointer (&reply, g_free);

  /* EOF right after a complete object without a newline still works. */
  call = raw_call_start (fx, "bad", "{\"cmd\":\"reserve\"}", 17);
  call->half_close = TRUE;
  reply = raw_call_finish (call);
  g_assert_cmpstr (reply, ==, "{\"error\":\"missing member name\"}\n");
  g_clear_pointer (&reply, g_free);

  huge = g_malloc (huge_len);
  memset (huge, 'x', huge_len);
  call = raw_call_start (fx, "bad", huge, huge_len);
  reply = raw_call_finish (call);
  g_assert_true (g_str_has_prefix (reply, "{\"error\":\"request too long"));
  g_clear_pointer (&reply, g_free);

  assert_reply (fx, "bad", "{\"cmd\":\"createnetwork\"}\n", "{}\n");
  assert_reply (fx, "bad", "{\"cmd\":\"reserve\",\"name\":\"../x\"}\n",
                "{\"error\":\"invalid member name \\\"../x\\\": contains '/'\"}\n");
  reply = roundtrip (fx, "bad", "{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"..\"}}\n");
  g_assert_true (g_str_has_prefix (reply, "{\"error\":\"invalid member name"));
  g_clear_pointer (&reply, g_free);

  /* Still serving, state untouched. */
  reply = roundtrip (fx, "bad", "{\"cmd\":\"status\"}\n");
  g_assert_nonnull (strstr (reply, "\"state\":\"starting\""));
}

static void
test_runtime_add_and_rejoin (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "c-1", NULL };
  g_autofree char *boot = boot_request ("c-2");
  g_autofree char *socket = holder_store_socket_path (fx->root, "c-2");
  g_autofree char *pidfile = holder_store_pidfile_path (fx->root, "c-2");
  g_autofree char *reply1 = NULL;
  g_autofree char *reply2 = NULL;

  server_start (fx, names, 0);
  prepare_member (fx, "c-1", "c-2");
  g_assert_false (path_exists (socket));
  assert_reply (fx, "c-1", boot, "{}\n");
  g_assert_true (path_exists (socket));
  g_assert_true (path_exists (pidfile));

  assert_reply (fx, "c-2", "{\"cmd\":\"stop\"}\n", "{}\n");
  while (path_exists (pidfile))
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (path_exists (socket));

  /* Same reservation, new VM. */
  reply1 = roundtrip (fx, "c-1", "{\"cmd\":\"reserve\",\"name\":\"c-2\",\"ip_hint\":\"10.9.9.9\"}\n");
  g_assert_true (g_str_has_prefix (reply1, "{\"reservation\":{\"mac\":\""));
  assert_reply (fx, "c-1", boot, "{}\n");
  reply2 = roundtrip (fx, "c-2", "{\"cmd\":\"status\"}\n");
  g_assert_nonnull (strstr (reply2, "\"ip\":\"203.0.113.2\",\"state\":\"running\""));
}

static void
test_refuses_live_owner (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "owned", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderStoreDir) store = NULL;
  g_autofree char *dir = holder_store_member_dir (fx->root, "owned");
  g_autofree char *pidfile = holder_store_pidfile_path (fx->root, "owned");
  g_autofree char *socket = holder_store_socket_path (fx->root, "owned");
  g_autofree char *hash = holder_store_socket_hash ("owned");
  g_autofree char *lock_name = g_strconcat (hash, ".sock.lock", NULL);
  g_autofree char *ppid = g_strdup_printf ("%d", (int) getppid ());
  g_autofree char *expected = g_strdup_printf ("member owned is already served by helper %s", ppid);
  HolderServerOptions options = { 0 };
  struct stat before, after;
  int lock_fd = -1;

  /* Another live helper serves this member: it holds the lock (another
   * open file, so it conflicts even within this process), its pidfile
   * names it, and a socket of its own is there. */
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (pidfile, ppid, -1, NULL));
  g_assert_true (g_file_set_contents (socket, "theirs", -1, NULL));
  g_assert_no_errno (lstat (socket, &before));
  store = holder_store_dir_open (fx->root, HOLDER_STORE_DIR_READ, &error);
  g_assert_no_error (error);
  g_assert_cmpint (holder_store_lock_take (store, lock_name, &lock_fd, &error), ==,
                   HOLDER_STORE_LOCK_TAKEN);

  options.root = fx->root;
  options.backend_class = holder_backend_lookup ("fake", NULL);
  options.names = names;
  fx->server = holder_server_new (&options, &error);
  g_assert_no_error (error);
  g_assert_false (holder_server_start (fx->server, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_ALREADY_RUNNING);
  g_assert_nonnull (strstr (error->message, expected));
  /* Its pidfile and its socket are left alone (neither pruned nor
   * replaced). */
  {
    g_autofree char *contents = NULL;
    g_assert_true (g_file_get_contents (pidfile, &contents, NULL, NULL));
    g_assert_cmpstr (contents, ==, ppid);
  }
  g_assert_no_errno (lstat (socket, &after));
  g_assert_cmpuint (after.st_ino, ==, before.st_ino);
  holder_store_lock_drop (store, lock_name, lock_fd);
}

/* A pidfile naming a live process that holds no lock (a reused pid) is
 * stale: it blocks nothing. */
static void
test_live_pid_without_lock (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "reused", NULL };
  g_autofree char *dir = holder_store_member_dir (fx->root, "reused");
  g_autofree char *pidfile = holder_store_pidfile_path (fx->root, "reused");
  g_autofree char *ppid = g_strdup_printf ("%d", (int) getppid ());
  g_autofree char *mine = g_strdup_printf ("%d", (int) getpid ());
  g_autofree char *contents = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (pidfile, ppid, -1, NULL));
  g_assert_false (holder_store_member_is_served (fx->root, "reused", NULL));

  server_start (fx, names, 0);
  g_assert_true (g_file_get_contents (pidfile, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, mine);
  g_assert_true (holder_store_member_is_served (fx->root, "reused", NULL));
}

static void
test_pidfile_unwritable (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "ro-1", "ro-2", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = holder_store_member_dir (fx->root, "ro-2");
  g_autofree char *socket1 = holder_store_socket_path (fx->root, "ro-1");
  g_autofree char *pidfile1 = holder_store_pidfile_path (fx->root, "ro-1");
  g_autofree char *socket2 = holder_store_socket_path (fx->root, "ro-2");
  HolderServerOptions options = { 0 };

  g_autofree char *pidfile2 = holder_store_pidfile_path (fx->root, "ro-2");

  /* A folder where the pidfile goes: the write fails even for root. */
  g_assert_cmpint (g_mkdir_with_parents (pidfile2, 0755), ==, 0);

  options.root = fx->root;
  options.backend_class = holder_backend_lookup ("fake", NULL);
  options.names = names;
  fx->server = holder_server_new (&options, &error);
  g_assert_no_error (error);
  g_assert_false (holder_server_start (fx->server, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "ro-2"));
  /* No half state: the first member was undone too. */
  g_assert_false (path_exists (socket1));
  g_assert_false (path_exists (pidfile1));
  g_assert_false (path_exists (socket2));
  /* And no temporary file is left beside it. */
  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    g_assert_cmpstr (g_dir_read_name (d), ==, "pid");
    g_assert_null (g_dir_read_name (d));
  }
}

/* A child that becomes `nobody` and sends @request to @path over a plain
 * socket; what it reads comes back through a pipe. */
static char *
foreign_call (const char *path, const char *request)
{
  int pipefd[2];
  pid_t pid;
  GString *reply = g_string_new (NULL);
  gboolean eof = FALSE;

  g_assert_cmpint (pipe (pipefd), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      struct sockaddr_un addr = { .sun_family = AF_UNIX };
      char buf[512];
      ssize_t n;
      int fd;

      close (pipefd[0]);
      if (setgid (65534) != 0 || setuid (65534) != 0)
        _exit (2);
      fd = socket (AF_UNIX, SOCK_STREAM, 0);
      g_strlcpy (addr.sun_path, path, sizeof addr.sun_path);
      if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
        _exit (3);
      if (write (fd, request, strlen (request)) < 0)
        _exit (4);
      while ((n = read (fd, buf, sizeof buf)) > 0)
        if (write (pipefd[1], buf, n) != n)
          _exit (5);
      /* Success leaves through exec, not _exit: under valgrind a forked
       * child's exit runs a leak check that sees the parent's other
       * threads' memory as lost and fails with --error-exitcode. */
      execl ("/bin/true", "true", (char *) NULL);
      _exit (6);
    }
  close (pipefd[1]);
  g_unix_set_fd_nonblocking (pipefd[0], TRUE, NULL);
  /* The server answers from this thread's main loop. */
  while (!eof)
    {
      char buf[512];
      ssize_t n = read (pipefd[0], buf, sizeof buf);

      if (n > 0)
        g_string_append_len (reply, buf, n);
      else if (n == 0)
        eof = TRUE;
      else
        g_main_context_iteration (NULL, FALSE);
    }
  close (pipefd[0]);
  {
    int status = 0;
    g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
    g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  }
  return g_string_free (reply, FALSE);
}

static void
test_foreign_uid_refused (Fixture *fx, gconstpointer data)
{
  const char *names[] = { "mine", NULL };
  g_autofree char *socket = holder_store_socket_path (fx->root, "mine");
  g_autofree char *control = holder_store_control_socket_path (fx->root, "mine");
  g_autofree char *reply = NULL;
  g_autofree char *bind_reply = NULL;
  g_autoptr(GError) error = NULL;
  HolderServerOptions options = { 0 };

  if (geteuid () != 0)
    {
      g_test_skip ("needs root to act as a second uid");
      return;
    }
  /* Let `nobody` reach the sockets (mode 0666 under root). */
  g_assert_cmpint (g_chmod (fx->root, 0755), ==, 0);

  options.root = fx->root;
  options.backend_class = holder_backend_lookup ("fake", NULL);
  options.names = names;
  options.bound = TRUE;
  fx->server = holder_server_new (&options, &error);
  g_assert_no_error (error);
  g_assert_true (holder_server_start (fx->server, &error));

  reply = foreign_call (socket, "{\"cmd\":\"stop\"}\n");
  g_assert_cmpstr (reply, ==, "{\"error\":\"permission denied: uid 65534 may not command this helper\"}\n");

  /* A foreign bind is dropped before the version: it cannot arm (or fire)
   * the death watch. */
  bind_reply = foreign_call (control, "bind");
  g_assert_cmpstr (bind_reply, ==, "");

  /* Nothing happened: the member is still there and starting. */
  {
    g_autofree char *status = roundtrip (fx, "mine", "{\"cmd\":\"status\"}\n");
    g_assert_nonnull (strstr (status, "\"state\":\"starting\""));
  }
  g_assert_false (holder_server_is_finished (fx->server));
}

/* The caps on open connections per peer uid. */
static void
test_peer_caps (void)
{
  HolderPeerTable *table = holder_peer_table_new ();

  /* An allowed uid: many. */
  for (guint i = 0; i < HOLDER_PEER_MAX_CONNECTIONS_ALLOWED; i++)
    g_assert_true (holder_peer_table_admit (table, 0, TRUE));
  g_assert_false (holder_peer_table_admit (table, 0, TRUE));
  holder_peer_table_release (table, 0, TRUE);
  g_assert_true (holder_peer_table_admit (table, 0, TRUE));

  /* A refused uid: very few, whatever the allowed ones hold. */
  for (guint i = 0; i < HOLDER_PEER_MAX_CONNECTIONS_REFUSED; i++)
    g_assert_true (holder_peer_table_admit (table, 4343, FALSE));
  g_assert_false (holder_peer_table_admit (table, 4343, FALSE));
  holder_peer_table_release (table, 4343, FALSE);
  g_assert_true (holder_peer_table_admit (table, 4343, FALSE));

  /* All refused uids together: a few more, then none. */
  for (gint64 uid = 5000; ; uid++)
    {
      guint admitted = 0;

      for (guint i = 0; i < HOLDER_PEER_MAX_CONNECTIONS_REFUSED; i++)
        admitted += holder_peer_table_admit (table, uid, FALSE);
      if (admitted < HOLDER_PEER_MAX_CONNECTIONS_REFUSED)
        {
          g_assert_false (holder_peer_table_admit (table, uid + 1, FALSE));
          break;
        }
      g_assert_cmpint (uid, <, 5000 + HOLDER_PEER_MAX_CONNECTIONS_REFUSED_TOTAL);
    }
  /* Which never starves an allowed uid. */
  g_assert_true (holder_peer_table_admit (table, 1000, TRUE));
  holder_peer_table_free (table);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_setenv ("FLEETBOX_BACKEND", "fake", TRUE);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/server/register-files", test_register_files);
  ADD ("/server/boot-and-stop", test_boot_and_stop);
  ADD ("/server/boot-trace", test_boot_trace);
  ADD ("/server/last-member-leaving", test_last_member_leaving);
  ADD ("/server/failed-boot-reply-before-exit", test_failed_boot_reply_before_exit);
  ADD ("/server/status-during-boots", test_status_during_boots);
  ADD ("/server/stop-during-boot", test_stop_during_boot);
  ADD ("/server/ip-wait-timeout", test_ip_wait_timeout);
  ADD ("/server/vm-exits-on-its-own", test_vm_exits_on_its_own);
  ADD ("/server/request-timeout", test_request_timeout);
  ADD ("/server/bad-input", test_bad_input);
  ADD ("/server/runtime-add-and-rejoin", test_runtime_add_and_rejoin);
  ADD ("/server/refuses-live-owner", test_refuses_live_owner);
  ADD ("/server/live-pid-without-lock", test_live_pid_without_lock);
  ADD ("/server/pidfile-unwritable", test_pidfile_unwritable);
  ADD ("/server/foreign-uid-refused", test_foreign_uid_refused);
#undef ADD
  g_test_add_func ("/server/peer-caps", test_peer_caps);

  return g_test_run ();
}
