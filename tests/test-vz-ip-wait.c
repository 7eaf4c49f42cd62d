/* SPDX-License-Identifier: MIT
 *
 * The vz IP wait (lease reads on a timer, then a bounded TCP probe) with
 * injected lease sources and probes, and the real GSocketClient probe
 * against listeners on 127.0.0.1 only: nothing here touches the host's
 * network configuration.
 */
#define G_LOG_DOMAIN "holder-test"

#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>

#include "holder-backend.h"
#include "holder-vz-ip-wait.h"
#include "holder-vz-probe.h"
#include "holder-test-vz.h"

#define AWAIT_MS 10000

/* ---- scripted lease source and probe ----------------------------------------- */

typedef struct {
  guint       lookups;
  guint       lease_after;     /* lookups without a lease first */
  const char *lookup_error;    /* before the lease: fail with it */
  const char *ip;
  guint       probes;
  guint       probe_ok_after;  /* failed probes first; G_MAXUINT: never */
  gboolean    probe_hangs;     /* until cancelled */
  guint       last_probe_timeout_ms;
  guint16     last_port;
} Script;

static Script *script;

static char *
scripted_lookup (const char  *hostname,
                 gpointer     user_data,
                 GError     **error)
{
  Script *s = user_data;

  holder_test_vz_assert_main ();
  g_assert_cmpstr (hostname, ==, "web-1");
  if (s->lookups++ < s->lease_after)
    {
      if (s->lookup_error != NULL)
        g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, s->lookup_error);
      return NULL;
    }
  return g_strdup (s->ip);
}

static void
on_probe_cancelled (GCancellable *cancellable,
                    gpointer      user_data)
{
  /* Another thread may cancel: return from the task's context. */
  GTask *task = user_data;

  g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "probe cancelled");
}

static void
scripted_probe_async (const char          *ip,
                      guint16              port,
                      guint                timeout_ms,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  holder_test_vz_assert_main ();
  g_assert_cmpstr (ip, ==, script->ip);
  script->last_probe_timeout_ms = timeout_ms;
  script->last_port = port;
  if (script->probe_hangs)
    {
      g_task_set_check_cancellable (task, FALSE);
      g_cancellable_connect (cancellable, G_CALLBACK (on_probe_cancelled),
                             g_object_ref (task), g_object_unref);
      return;
    }
  if (script->probes++ < script->probe_ok_after)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
                             "%s:%u: Connection refused", ip, (guint) port);
  else
    g_task_return_boolean (task, TRUE);
}

static gboolean
scripted_probe_finish (GAsyncResult  *result,
                       GError       **error)
{
  holder_test_vz_assert_main ();
  return g_task_propagate_boolean (G_TASK (result), error);
}

static HolderVzIpWaitParams
scripted_params (Script *s,
                 guint   budget_ms)
{
  HolderVzIpWaitParams params = HOLDER_VZ_IP_WAIT_PARAMS_DEFAULT;

  script = s;
  params.budget_ms = budget_ms;
  params.retry_ms = 5;
  params.lookup = scripted_lookup;
  params.lookup_data = s;
  params.probe_async = scripted_probe_async;
  params.probe_finish = scripted_probe_finish;
  return params;
}

static char *
run_wait (const HolderVzIpWaitParams *params,
          GCancellable               *cancellable,
          GError                    **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_vz_ip_wait_async ("web-1", params, cancellable, holder_test_vz_on_result, &result);
  g_assert_null (result);
  return holder_vz_ip_wait_finish (holder_test_vz_await_result (&result, AWAIT_MS), error);
}

static void
test_found_after_retries (void)
{
  Script s = { .lease_after = 3, .ip = "192.168.64.7", .probe_ok_after = 2 };
  HolderVzIpWaitParams params = scripted_params (&s, 20000);
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = run_wait (&params, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (ip, ==, "192.168.64.7");
  /* Three reads without a lease, then one per probe: the leases are read
   * again before each probe, as an address may change. */
  g_assert_cmpuint (s.lookups, ==, 6);
  g_assert_cmpuint (s.probes, ==, 3);
  g_assert_cmpuint (s.last_port, ==, 22);
  g_assert_cmpuint (s.last_probe_timeout_ms, ==, 2000);
}

static void
test_no_lease_times_out (void)
{
  Script s = { .lease_after = G_MAXUINT, .lookup_error = "read leases file: Failed to open "
               "file “/var/db/dhcpd_leases”: No such file or directory" };
  HolderVzIpWaitParams params = scripted_params (&s, 150);
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  g_autofree char *ip = run_wait (&params, NULL, &error);

  g_assert_null (ip);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT);
  /* A missing file is retried (bootpd writes it on the first lease) and
   * named in the final message. */
  g_assert_cmpstr (error->message, ==,
                   "no reachable address for web-1 within 150 ms: read leases file: Failed to "
                   "open file “/var/db/dhcpd_leases”: No such file or directory");
  g_assert_cmpint ((g_get_monotonic_time () - t0) / 1000, >=, 150);
  g_assert_cmpuint (s.lookups, >, 2);
}

static void
test_never_answers (void)
{
  Script s = { .ip = "192.168.64.7", .probe_ok_after = G_MAXUINT };
  HolderVzIpWaitParams params = scripted_params (&s, 150);
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = run_wait (&params, NULL, &error);

  g_assert_null (ip);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==,
                   "no reachable address for web-1 within 150 ms: 192.168.64.7 has a lease but "
                   "does not answer yet (192.168.64.7:22: Connection refused)");
  /* A probe never outlives the budget. */
  g_assert_cmpuint (s.last_probe_timeout_ms, <=, 150);
}

static void
test_no_lease_message (void)
{
  Script s = { .lease_after = G_MAXUINT };
  HolderVzIpWaitParams params = scripted_params (&s, 60);
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = run_wait (&params, NULL, &error);

  g_assert_null (ip);
  g_assert_cmpstr (error->message, ==,
                   "no reachable address for web-1 within 60 ms: bootpd has no lease for web-1 yet");
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_cancelled_during_probe (void)
{
  Script s = { .ip = "192.168.64.7", .probe_hangs = TRUE };
  HolderVzIpWaitParams params = scripted_params (&s, 20000);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;
  gint64 t0 = g_get_monotonic_time ();

  g_timeout_add (20, cancel_later, cancellable);
  ip = run_wait (&params, cancellable, &error);
  g_assert_null (ip);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint ((g_get_monotonic_time () - t0) / 1000, <, 5000);
  /* The hanging probe was cancelled too and completes into nothing. */
  holder_test_vz_drain ();
}

static void
test_cancelled_before (void)
{
  Script s = { .ip = "192.168.64.7" };
  HolderVzIpWaitParams params = scripted_params (&s, 20000);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;

  g_cancellable_cancel (cancellable);
  ip = run_wait (&params, cancellable, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (s.lookups, ==, 0);
}

static void
test_bootpd_lookup (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;

  /* Read only. On Linux the file does not exist; on a Mac that never
   * leased, neither: the error names it either way. */
  if (g_file_test ("/var/db/dhcpd_leases", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("this host has a bootpd lease file");
      return;
    }
  ip = holder_vz_ip_lookup_bootpd ("web-1", NULL, &error);
  g_assert_null (ip);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_true (g_str_has_prefix (error->message, "read leases file: "));
}

/* ---- the real probe on 127.0.0.1 ---------------------------------------------- */

static GSocket *
loopback_listener (int       backlog,
                   guint16  *out_port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new (lo, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any_port, FALSE, &error));
  g_assert_no_error (error);
  if (backlog >= 0)
    {
      g_socket_set_listen_backlog (socket, backlog);
      g_assert_true (g_socket_listen (socket, &error));
      g_assert_no_error (error);
    }
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  *out_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return socket;
}

static gboolean
run_probe (guint16   port,
           guint     timeout_ms,
           GError  **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_vz_tcp_probe_async ("127.0.0.1", port, timeout_ms, NULL, holder_test_vz_on_result,
                             &result);
  return holder_vz_tcp_probe_finish (holder_test_vz_await_result (&result, AWAIT_MS), error);
}

static void
test_probe_accepts (void)
{
  g_autoptr(GError) error = NULL;
  guint16 port = 0;
  g_autoptr(GSocket) listener = loopback_listener (8, &port);

  g_assert_true (run_probe (port, 2000, &error));
  g_assert_no_error (error);
}

static void
test_probe_refused (void)
{
  g_autoptr(GError) error = NULL;
  guint16 port = 0;
  g_autoptr(GSocket) bound_only = loopback_listener (-1, &port);
  g_autofree char *prefix = g_strdup_printf ("127.0.0.1:%u: ", (guint) port);

  /* Bound, not listening: the kernel refuses at once. */
  g_assert_false (run_probe (port, 2000, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_true (g_str_has_prefix (error->message, prefix));
}

static void
test_probe_times_out (void)
{
  g_autoptr(GError) error = NULL;
  guint16 port = 0;
  g_autoptr(GSocket) listener = loopback_listener (0, &port);
  g_autofree char *expected = NULL;
  guint filled = 0;

  /* A listener that never accepts, its queue full: the kernel drops
   * further SYNs and the connect hangs, as towards a guest still booting.
   * Each successful probe leaves one connection in the queue. */
  while (filled < 8 && run_probe (port, 300, &error))
    filled++;
  if (error == NULL)
    {
      g_test_skip ("this kernel keeps accepting connections into a full queue");
      return;
    }
  expected = g_strdup_printf ("127.0.0.1:%u did not answer within 300 ms", (guint) port);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_probe_bad_address (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  holder_vz_tcp_probe_async ("not-an-ip", 22, 100, NULL, holder_test_vz_on_result, &result);
  g_assert_false (holder_vz_tcp_probe_finish (holder_test_vz_await_result (&result, AWAIT_MS),
                                              &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_wait_with_real_probe (void)
{
  Script s = { .lease_after = 2, .ip = "127.0.0.1" };
  HolderVzIpWaitParams params = HOLDER_VZ_IP_WAIT_PARAMS_DEFAULT;
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;
  guint16 port = 0;
  g_autoptr(GSocket) listener = loopback_listener (8, &port);

  /* The default probe (GSocketClient), only the lease source injected. */
  script = &s;
  params.retry_ms = 5;
  params.port = port;
  params.lookup = scripted_lookup;
  params.lookup_data = &s;
  ip = run_wait (&params, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ip, ==, "127.0.0.1");
  g_assert_cmpuint (s.lookups, ==, 3);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  holder_test_vz_init_main ();

  g_test_add_func ("/vz/ip-wait/found-after-retries", test_found_after_retries);
  g_test_add_func ("/vz/ip-wait/no-lease-times-out", test_no_lease_times_out);
  g_test_add_func ("/vz/ip-wait/never-answers", test_never_answers);
  g_test_add_func ("/vz/ip-wait/no-lease-message", test_no_lease_message);
  g_test_add_func ("/vz/ip-wait/cancelled-during-probe", test_cancelled_during_probe);
  g_test_add_func ("/vz/ip-wait/cancelled-before", test_cancelled_before);
  g_test_add_func ("/vz/ip-wait/bootpd-lookup", test_bootpd_lookup);
  g_test_add_func ("/vz/probe/accepts", test_probe_accepts);
  g_test_add_func ("/vz/probe/refused", test_probe_refused);
  g_test_add_func ("/vz/probe/times-out", test_probe_times_out);
  g_test_add_func ("/vz/probe/bad-address", test_probe_bad_address);
  g_test_add_func ("/vz/ip-wait/real-probe", test_wait_with_real_probe);

  return g_test_run ();
}
