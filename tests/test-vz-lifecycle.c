/* SPDX-License-Identifier: MIT
 *
 * The vz start and stop state machines and the member that orders them,
 * driven through a scripted fake controller: a guest that starts, one
 * whose start fails, one that ends in the Error state, one that ignores
 * ACPI, a force stop that fails or never takes, a stop that arrives
 * during the start, a cancelled stop (which still stops), a VM that ends
 * on its own. Every controller call and every callback asserts that it
 * runs on the main context; timings are milliseconds, not the real 15 s.
 */
#define G_LOG_DOMAIN "holder-test"

#include <gio/gio.h>

#include "holder-backend.h"
#include "holder-vz-member.h"
#include "holder-vz-start.h"
#include "holder-vz-stop.h"
#include "holder-test-vz.h"

#define AWAIT_MS 10000

static const HolderVzStartTimings start_timings = { 400, 5 };
static const HolderVzStopTimings stop_timings = { 300, 300, 5 };

typedef struct {
  FakeController fake;
  HolderVzController controller;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  fake_controller_init (&f->fake);
  f->controller = fake_controller_get (&f->fake);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  fake_controller_clear (&f->fake);
}

static gboolean
run_start (Fixture                    *f,
           const HolderVzStartTimings *timings,
           GCancellable               *cancellable,
           GError                    **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_vz_start_async (&f->controller, timings, cancellable, holder_test_vz_on_result, &result);
  g_assert_null (result);
  return holder_vz_start_finish (holder_test_vz_await_result (&result, AWAIT_MS), error);
}

static gboolean
run_stop (Fixture                   *f,
          const HolderVzStopTimings *timings,
          GCancellable              *cancellable,
          GError                   **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_vz_stop_async (&f->controller, timings, cancellable, holder_test_vz_on_result, &result);
  g_assert_null (result);
  return holder_vz_stop_finish (holder_test_vz_await_result (&result, AWAIT_MS), error);
}

static gint64
elapsed_ms (gint64 since_us)
{
  return (g_get_monotonic_time () - since_us) / 1000;
}

/* ---- start ------------------------------------------------------------------- */

static void
test_start_ok (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->fake.start_delay_ms = 20;
  g_assert_true (run_start (f, &start_timings, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (f->fake.state, ==, FAKE_RUNNING);
  g_assert_cmpstr (f->fake.log->str, ==, "start,start-done");
}

static void
test_start_fails (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  /* What a disk held by another process gives (ADR-0031). */
  f->fake.start_error = "The storage device attachment is invalid.";
  g_assert_false (run_start (f, &start_timings, NULL, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "The storage device attachment is invalid.");
  /* No polling after a failed start. */
  g_assert_cmpuint (f->fake.state_reads, ==, 0);
}

static void
test_start_error_state (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  HolderVzStartTimings slow = { 20000, 5 };
  gint64 t0 = g_get_monotonic_time ();

  f->fake.state_after_start = FAKE_ERROR;
  g_assert_false (run_start (f, &slow, NULL, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "the VM entered the error state while starting");
  /* At once, not after the 20 s. */
  g_assert_cmpint (elapsed_ms (t0), <, 5000);
}

static void
test_start_never_running (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();

  f->fake.state_after_start = FAKE_STARTING;
  g_assert_false (run_start (f, &start_timings, NULL, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==,
                   "the VM did not reach the running state within 400 ms (it is starting)");
  g_assert_cmpint (elapsed_ms (t0), >=, 400);
  g_assert_cmpuint (f->fake.state_reads, >, 10);
}

static void
test_start_never_completes (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->fake.start_never_completes = TRUE;
  g_assert_false (run_start (f, &start_timings, NULL, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==,
                   "the VM did not reach the running state within 400 ms "
                   "(the start did not complete)");
  /* The late completion (teardown) finds the operation ended. */
}

static void
test_start_cancelled (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  HolderVzStartTimings slow = { 20000, 5 };
  gint64 t0 = g_get_monotonic_time ();

  /* Polling for Running that never comes, then cancelled. */
  f->fake.state_after_start = FAKE_STARTING;
  holder_vz_start_async (&f->controller, &slow, cancellable, holder_test_vz_on_result, &result);
  while (f->fake.starts_done == 0)
    g_main_context_iteration (NULL, TRUE);
  g_cancellable_cancel (cancellable);
  g_assert_false (holder_vz_start_finish (holder_test_vz_await_result (&result, AWAIT_MS),
                                          &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (elapsed_ms (t0), <, 5000);
}

/* ---- stop -------------------------------------------------------------------- */

static void
test_stop_already_stopped (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->fake.state = FAKE_STOPPED;
  g_assert_true (run_stop (f, &stop_timings, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (f->fake.log->str, ==, "");
}

static void
test_stop_acpi (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->fake.state = FAKE_RUNNING;
  g_assert_true (run_stop (f, &stop_timings, NULL, &error));
  g_assert_no_error (error);
  /* The power button was enough. */
  g_assert_cmpstr (f->fake.log->str, ==, "request,powered-off");
}

static void
test_stop_guest_ignores_acpi (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();

  f->fake.state = FAKE_RUNNING;
  f->fake.guest_obeys_acpi = FALSE;
  g_assert_true (run_stop (f, &stop_timings, NULL, &error));
  g_assert_no_error (error);
  /* The full ACPI grace, then the escalation. */
  g_assert_cmpint (elapsed_ms (t0), >=, stop_timings.acpi_grace_ms);
  g_assert_cmpstr (f->fake.log->str, ==, "request,force,force-done");
  g_assert_cmpint (f->fake.state, ==, FAKE_STOPPED);
}

static void
test_stop_cannot_request (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->fake.state = FAKE_RUNNING;
  f->fake.can_request_stop = FALSE;
  g_assert_true (run_stop (f, &stop_timings, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (f->fake.log->str, ==, "force,force-done");
}

static void
test_stop_request_refused (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  HolderVzStopTimings slow_acpi = { 20000, 300, 5 };
  gint64 t0 = g_get_monotonic_time ();

  /* Not fatal, and no ACPI wait either. */
  f->fake.state = FAKE_RUNNING;
  f->fake.request_error = "Invalid virtual machine state transition.";
  g_assert_true (run_stop (f, &slow_acpi, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (f->fake.log->str, ==, "request,force,force-done");
  g_assert_cmpint (elapsed_ms (t0), <, 5000);
}

static void
test_stop_force_fails (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->fake.state = FAKE_RUNNING;
  f->fake.guest_obeys_acpi = FALSE;
  f->fake.force_error = "Invalid virtual machine state transition.";
  g_assert_false (run_stop (f, &stop_timings, NULL, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "force stop: Invalid virtual machine state transition.");
}

static void
test_stop_force_never_stops (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();

  f->fake.state = FAKE_RUNNING;
  f->fake.can_request_stop = FALSE;
  f->fake.force_stops = FALSE;
  g_assert_false (run_stop (f, &stop_timings, NULL, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "vm still running after force stop");
  g_assert_cmpint (elapsed_ms (t0), >=, stop_timings.force_grace_ms);
  g_assert_cmpint (elapsed_ms (t0), <, 5000);
}

static void
test_stop_force_never_completes (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  /* Bounded even when the framework never answers. */
  f->fake.state = FAKE_RUNNING;
  f->fake.can_request_stop = FALSE;
  f->fake.force_never_completes = TRUE;
  g_assert_false (run_stop (f, &stop_timings, NULL, &error));
  g_assert_cmpstr (error->message, ==, "vm still running after force stop");
}

static gpointer
cancel_thread (gpointer data)
{
  g_cancellable_cancel (data);
  return NULL;
}

static gboolean
on_cancel_from_thread (gpointer data)
{
  /* The cancellation itself comes from another thread, as the server's
   * may not, but a GCancellable allows. */
  g_thread_join (g_thread_new ("canceller", cancel_thread, data));
  return G_SOURCE_REMOVE;
}

static void
test_stop_cancelled_still_forces (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  HolderVzStopTimings slow_acpi = { 20000, 300, 5 };
  gint64 t0 = g_get_monotonic_time ();

  /* fleetbox's "forces despite cancelled context": a hung guest, and the
   * caller gives up during the ACPI wait. The force stop still happens,
   * and the stop succeeds. */
  f->fake.state = FAKE_RUNNING;
  f->fake.guest_obeys_acpi = FALSE;
  g_timeout_add (30, on_cancel_from_thread, cancellable);
  g_assert_true (run_stop (f, &slow_acpi, cancellable, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (f->fake.log->str, ==, "request,force,force-done");
  g_assert_cmpint (f->fake.state, ==, FAKE_STOPPED);
  /* The cancel cut the 20 s ACPI wait short. */
  g_assert_cmpint (elapsed_ms (t0), <, 5000);
}

static void
test_stop_cancelled_force_keeps_deadline (Fixture       *f,
                                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gint64 t0 = g_get_monotonic_time ();

  /* Cancelled before the call: the force wait still runs its own grace
   * and reports the truth. */
  g_cancellable_cancel (cancellable);
  f->fake.state = FAKE_RUNNING;
  f->fake.guest_obeys_acpi = FALSE;
  f->fake.force_stops = FALSE;
  g_assert_false (run_stop (f, &stop_timings, cancellable, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "vm still running after force stop");
  g_assert_cmpint (elapsed_ms (t0), >=, stop_timings.force_grace_ms);
  g_assert_cmpstr (f->fake.log->str, ==, "request,force,force-done");
}

/* ---- the member ------------------------------------------------------------------- */

typedef struct {
  guint  calls;
  char  *message;
} Exits;

static void
on_member_exit (HolderVzMember *member,
                const char     *message,
                gpointer        user_data)
{
  Exits *exits = user_data;

  holder_test_vz_assert_main ();
  exits->calls++;
  g_free (exits->message);
  exits->message = g_strdup (message);
}

static HolderVzMemberParams
member_params (void)
{
  HolderVzMemberParams params = HOLDER_VZ_MEMBER_PARAMS_DEFAULT;

  params.start = start_timings;
  params.stop = stop_timings;
  params.ip.budget_ms = 20000;
  params.ip.retry_ms = 5;
  return params;
}

/* A lease source that never has one: the IP wait waits. */
static char *
no_lease (const char  *hostname,
          gpointer     user_data,
          GError     **error)
{
  holder_test_vz_assert_main ();
  return NULL;
}

static gboolean
member_start (HolderVzMember *member,
              GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_vz_member_start_async (member, NULL, holder_test_vz_on_result, &result);
  return holder_vz_member_start_finish (member, holder_test_vz_await_result (&result, AWAIT_MS),
                                        error);
}

static gboolean
member_stop (HolderVzMember *member,
             GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_vz_member_stop_async (member, NULL, holder_test_vz_on_result, &result);
  return holder_vz_member_stop_finish (member, holder_test_vz_await_result (&result, AWAIT_MS),
                                       error);
}

static void
test_member_stop_during_start (Fixture       *f,
                               gconstpointer  data)
{
  HolderVzMemberParams params = member_params ();
  g_autoptr(HolderVzMember) member = holder_vz_member_new ("web-1", &f->controller, &params);
  g_autoptr(GAsyncResult) started = NULL;
  g_autoptr(GAsyncResult) stopped = NULL;
  g_autoptr(GError) error = NULL;

  /* The framework takes its time to complete the start. */
  f->fake.start_delay_ms = 80;
  holder_vz_member_start_async (member, NULL, holder_test_vz_on_result, &started);
  holder_vz_member_stop_async (member, NULL, holder_test_vz_on_result, &stopped);

  /* The start ends as stopped... */
  g_assert_false (holder_vz_member_start_finish (member,
                                                 holder_test_vz_await_result (&started, AWAIT_MS),
                                                 &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpstr (error->message, ==, "the VM was stopped while starting");
  g_clear_error (&error);

  /* ...and the stop waited for the start's completion before touching
   * the VM: nothing but the start happened before start-done. */
  g_assert_true (holder_vz_member_stop_finish (member,
                                               holder_test_vz_await_result (&stopped, AWAIT_MS),
                                               &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (f->fake.log->str, "start,start-done,"));
  g_assert_cmpint (f->fake.state, ==, FAKE_STOPPED);
}

static void
test_member_stop_never_started (Fixture       *f,
                                gconstpointer  data)
{
  HolderVzMemberParams params = member_params ();
  g_autoptr(HolderVzMember) member = holder_vz_member_new ("web-1", &f->controller, &params);
  g_autoptr(GError) error = NULL;

  g_assert_true (member_stop (member, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (f->fake.log->str, ==, "");
  /* Twice is fine too. */
  g_assert_true (member_stop (member, &error));
}

static void
test_member_exit_while_waiting_ip (Fixture       *f,
                                   gconstpointer  data)
{
  HolderVzMemberParams params = member_params ();
  g_autoptr(HolderVzMember) member = NULL;
  g_autoptr(GAsyncResult) waited = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;
  Exits exits = { 0 };
  gint64 t0;

  params.ip.lookup = no_lease;
  member = holder_vz_member_new ("web-1", &f->controller, &params);
  holder_vz_member_set_exit_func (member, on_member_exit, &exits);
  g_assert_true (member_start (member, &error));

  holder_vz_member_wait_ip_async (member, NULL, holder_test_vz_on_result, &waited);
  t0 = g_get_monotonic_time ();
  f->fake.state = FAKE_STOPPED;
  holder_vz_member_vm_exited (member, "the guest powered off");

  /* The wait fails at once with the reason, not after its 20 s. */
  ip = holder_vz_member_wait_ip_finish (member, holder_test_vz_await_result (&waited, AWAIT_MS),
                                        &error);
  g_assert_null (ip);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "the guest powered off");
  g_assert_cmpint (elapsed_ms (t0), <, 5000);
  g_assert_cmpuint (exits.calls, ==, 1);
  g_assert_cmpstr (exits.message, ==, "the guest powered off");
  g_clear_error (&error);

  /* A later IP wait says why at once; the stop is quick and quiet. */
  g_clear_object (&waited);
  holder_vz_member_wait_ip_async (member, NULL, holder_test_vz_on_result, &waited);
  g_assert_null (holder_vz_member_wait_ip_finish (member,
                                                  holder_test_vz_await_result (&waited, AWAIT_MS),
                                                  &error));
  g_assert_cmpstr (error->message, ==, "the guest powered off");
  g_assert_true (member_stop (member, NULL));
  holder_vz_member_vm_exited (member, "late news");
  g_assert_cmpuint (exits.calls, ==, 1);
  g_free (exits.message);
}

static void
test_member_exit_during_start (Fixture       *f,
                               gconstpointer  data)
{
  HolderVzMemberParams params = member_params ();
  g_autoptr(HolderVzMember) member = NULL;
  g_autoptr(GAsyncResult) started = NULL;
  g_autoptr(GError) error = NULL;
  Exits exits = { 0 };

  params.start.timeout_ms = 20000;
  member = holder_vz_member_new ("web-1", &f->controller, &params);
  holder_vz_member_set_exit_func (member, on_member_exit, &exits);
  f->fake.state_after_start = FAKE_STARTING;
  holder_vz_member_start_async (member, NULL, holder_test_vz_on_result, &started);
  while (f->fake.starts_done == 0)
    g_main_context_iteration (NULL, TRUE);
  f->fake.state = FAKE_STOPPED;
  holder_vz_member_vm_exited (member, "the VM stopped with an error: boom");

  /* The start reports it; the exit function is for VMs that were up. */
  g_assert_false (holder_vz_member_start_finish (member,
                                                 holder_test_vz_await_result (&started, AWAIT_MS),
                                                 &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "the VM stopped with an error: boom");
  g_assert_cmpuint (exits.calls, ==, 0);
  g_assert_true (member_stop (member, NULL));
}

static void
test_member_stop_during_ip_wait (Fixture       *f,
                                 gconstpointer  data)
{
  HolderVzMemberParams params = member_params ();
  g_autoptr(HolderVzMember) member = NULL;
  g_autoptr(GAsyncResult) waited = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;
  Exits exits = { 0 };

  params.ip.lookup = no_lease;
  member = holder_vz_member_new ("web-1", &f->controller, &params);
  holder_vz_member_set_exit_func (member, on_member_exit, &exits);
  g_assert_true (member_start (member, NULL));
  holder_vz_member_wait_ip_async (member, NULL, holder_test_vz_on_result, &waited);
  g_assert_true (member_stop (member, &error));
  g_assert_no_error (error);

  ip = holder_vz_member_wait_ip_finish (member, holder_test_vz_await_result (&waited, AWAIT_MS),
                                        &error);
  g_assert_null (ip);
  g_assert_cmpstr (error->message, ==, "the VM is being stopped");
  /* The power-off the stop caused is no exit. */
  holder_vz_member_vm_exited (member, "the guest powered off");
  g_assert_cmpuint (exits.calls, ==, 0);
  g_assert_cmpstr (f->fake.log->str, ==, "start,start-done,request,powered-off");
}

static void
test_member_twice (Fixture       *f,
                   gconstpointer  data)
{
  HolderVzMemberParams params = member_params ();
  g_autoptr(HolderVzMember) member = holder_vz_member_new ("web-1", &f->controller, &params);
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) second = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (holder_vz_member_get_name (member), ==, "web-1");
  g_assert_true (member_start (member, NULL));
  g_assert_false (member_start (member, &error));
  g_assert_cmpstr (error->message, ==, "the VM of web-1 was already started");
  g_clear_error (&error);

  f->fake.guest_obeys_acpi = FALSE;
  holder_vz_member_stop_async (member, NULL, holder_test_vz_on_result, &first);
  holder_vz_member_stop_async (member, NULL, holder_test_vz_on_result, &second);
  g_assert_false (holder_vz_member_stop_finish (member,
                                                holder_test_vz_await_result (&second, AWAIT_MS),
                                                &error));
  g_assert_cmpstr (error->message, ==, "the VM of web-1 is already stopping");
  g_assert_true (holder_vz_member_stop_finish (member,
                                               holder_test_vz_await_result (&first, AWAIT_MS),
                                               NULL));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  holder_test_vz_init_main ();

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/vz/start/ok", test_start_ok);
  ADD ("/vz/start/fails", test_start_fails);
  ADD ("/vz/start/error-state", test_start_error_state);
  ADD ("/vz/start/never-running", test_start_never_running);
  ADD ("/vz/start/never-completes", test_start_never_completes);
  ADD ("/vz/start/cancelled", test_start_cancelled);
  ADD ("/vz/stop/already-stopped", test_stop_already_stopped);
  ADD ("/vz/stop/acpi", test_stop_acpi);
  ADD ("/vz/stop/guest-ignores-acpi", test_stop_guest_ignores_acpi);
  ADD ("/vz/stop/cannot-request", test_stop_cannot_request);
  ADD ("/vz/stop/request-refused", test_stop_request_refused);
  ADD ("/vz/stop/force-fails", test_stop_force_fails);
  ADD ("/vz/stop/force-never-stops", test_stop_force_never_stops);
  ADD ("/vz/stop/force-never-completes", test_stop_force_never_completes);
  ADD ("/vz/stop/cancelled-still-forces", test_stop_cancelled_still_forces);
  ADD ("/vz/stop/cancelled-force-keeps-deadline", test_stop_cancelled_force_keeps_deadline);
  ADD ("/vz/member/stop-during-start", test_member_stop_during_start);
  ADD ("/vz/member/stop-never-started", test_member_stop_never_started);
  ADD ("/vz/member/exit-while-waiting-ip", test_member_exit_while_waiting_ip);
  ADD ("/vz/member/exit-during-start", test_member_exit_during_start);
  ADD ("/vz/member/stop-during-ip-wait", test_member_stop_during_ip_wait);
  ADD ("/vz/member/twice", test_member_twice);
#undef ADD

  return g_test_run ();
}
