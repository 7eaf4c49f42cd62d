/* SPDX-License-Identifier: MIT
 *
 * The vz backend's thread boundary, exercised the way Virtualization.
 * framework exercises it: a fake shim whose every VM has a "dispatch
 * queue" of its own (a GThread working through a GAsyncQueue), which runs
 * the synchronous calls (state, stop request) while the caller waits, and
 * posts completions, state changes and delegate events from that thread,
 * sometimes in the middle of a synchronous call.
 *
 * Above it sits the real portable code: the event bridge, the machine
 * (the controller over the shim), the member and its state machines.
 * Every shim entry, every callback and every result is asserted to run on
 * the main context; every event is asserted to come from the queue.
 */
#define G_LOG_DOMAIN "holder-test"

#include <gio/gio.h>

#include "holder-backend.h"
#include "holder-vz-events.h"
#include "holder-vz-machine.h"
#include "holder-vz-member.h"
#include "holder-test-vz.h"
#include "holder-test-vz-shim.h"

#define AWAIT_MS 10000


/* ---- the event bridge alone ------------------------------------------------ */

#define POSTERS 4
#define POSTS   300

typedef struct {
  int      next[POSTERS];
  guint    delivered;
  gboolean all;
} Delivered;

static void
on_bridge_event (HolderVzShimEventKind  kind,
                 int                    raw_state,
                 const char            *message,
                 gpointer               user_data)
{
  Delivered *d = user_data;
  int poster = (int) kind;

  holder_test_vz_assert_main ();
  g_assert_cmpint (poster, <, POSTERS);
  /* Each thread's events in the order it posted them. */
  g_assert_cmpint (raw_state, ==, d->next[poster]);
  d->next[poster]++;
  g_assert_cmpstr (message, ==, raw_state % 2 == 0 ? "even" : NULL);
  d->delivered++;
  d->all = d->delivered == POSTERS * POSTS;
}

typedef struct {
  HolderVzEventBridge *bridge;
  int                  poster;
} Poster;

static gpointer
post_many (gpointer data)
{
  Poster *p = data;

  for (int i = 0; i < POSTS; i++)
    {
      /* The message is the poster's own: the bridge copies it. */
      g_autofree char *message = i % 2 == 0 ? g_strdup ("even") : NULL;

      holder_vz_event_bridge_post (p->bridge, p->poster, i, message);
    }
  return NULL;
}

static void
test_bridge_threads (void)
{
  Delivered d = { { 0 } };
  HolderVzEventBridge *bridge = holder_vz_event_bridge_new (g_main_context_default (),
                                                            on_bridge_event, &d);
  GThread *threads[POSTERS];
  Poster posters[POSTERS];

  for (int i = 0; i < POSTERS; i++)
    {
      posters[i] = (Poster) { bridge, i };
      threads[i] = g_thread_new ("poster", post_many, &posters[i]);
    }
  for (int i = 0; i < POSTERS; i++)
    g_thread_join (threads[i]);
  /* Nothing ran on the posting threads. */
  g_assert_cmpuint (d.delivered, ==, 0);
  holder_test_vz_await (&d.all, AWAIT_MS);

  /* After close nothing is delivered, and nothing leaks. */
  holder_vz_event_bridge_post (bridge, 0, POSTS, NULL);
  holder_vz_event_bridge_close (bridge);
  holder_test_vz_drain ();
  g_assert_cmpuint (d.delivered, ==, POSTERS * POSTS);
}

static void
test_bridge_never_reentrant (void)
{
  Delivered d = { { 0 } };
  HolderVzEventBridge *bridge = holder_vz_event_bridge_new (g_main_context_default (),
                                                            on_bridge_event, &d);

  /* A post from the context's own thread (a dispatch_sync block runs on
   * the caller's thread) still waits for the next dispatch. */
  holder_vz_event_bridge_post (bridge, 0, 0, "even");
  g_assert_cmpuint (d.delivered, ==, 0);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (d.delivered, ==, 1);
  holder_vz_event_bridge_close (bridge);
}

/* ---- machine + member over the threaded shim -------------------------------- */

typedef struct {
  HolderVzMachine *machine;
  HolderVzShimVm  *vm;
  HolderTestVzScript *script;
  HolderVzMember  *member;
  guint            exits;
  char            *exit_message;
} Fixture;

static void
on_machine_exit (const char *message,
                 gpointer    user_data)
{
  Fixture *f = user_data;

  holder_test_vz_assert_main ();
  holder_vz_member_vm_exited (f->member, message);
}

static void
on_member_exit (HolderVzMember *member,
                const char     *message,
                gpointer        user_data)
{
  Fixture *f = user_data;

  holder_test_vz_assert_main ();
  f->exits++;
  g_free (f->exit_message);
  f->exit_message = g_strdup (message);
}

static char *
no_lease (const char  *hostname,
          gpointer     user_data,
          GError     **error)
{
  holder_test_vz_assert_main ();
  return NULL;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  HolderVzMemberParams params = HOLDER_VZ_MEMBER_PARAMS_DEFAULT;
  HolderVzController controller;

  params.start = (HolderVzStartTimings) { 2000, 5 };
  params.stop = (HolderVzStopTimings) { 300, 300, 5 };
  params.ip.budget_ms = 20000;
  params.ip.retry_ms = 5;
  params.ip.lookup = no_lease;

  /* The order of the real glue: the bridge exists before the VM, which
   * may raise events as soon as it is made. */
  holder_test_vz_shim_reset ();
  f->machine = holder_vz_machine_new (&holder_vz_shim_ops, g_main_context_default ());
  f->vm = holder_vz_shim_vm_new (&(HolderVzShimVmConfig) { .cpus = 1 }, NULL,
                                 holder_vz_event_bridge_post,
                                 holder_vz_machine_get_bridge (f->machine), NULL);
  f->script = holder_test_vz_shim_vm_script (f->vm);
  holder_vz_machine_attach (f->machine, f->vm);
  holder_vz_machine_set_exit_func (f->machine, on_machine_exit, f);
  controller = holder_vz_machine_get_controller (f->machine);
  f->member = holder_vz_member_new ("web-1", &controller, &params);
  holder_vz_member_set_exit_func (f->member, on_member_exit, f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->machine != NULL)
    holder_vz_machine_free (f->machine);
  holder_vz_member_set_exit_func (f->member, NULL, NULL);
  holder_vz_member_unref (f->member);
  holder_test_vz_drain ();
  g_free (f->exit_message);
  holder_test_vz_shim_reset ();
}

static gboolean
member_start (Fixture  *f,
              GError  **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_vz_member_start_async (f->member, NULL, holder_test_vz_on_result, &result);
  return holder_vz_member_start_finish (f->member,
                                        holder_test_vz_await_result (&result, AWAIT_MS), error);
}

static gboolean
member_stop (Fixture  *f,
             GError  **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_vz_member_stop_async (f->member, NULL, holder_test_vz_on_result, &result);
  return holder_vz_member_stop_finish (f->member,
                                       holder_test_vz_await_result (&result, AWAIT_MS), error);
}

static void
assert_events_from_queue (Fixture *f)
{
  g_assert_true (holder_test_vz_shim_vm_events_off_main (f->vm));
}

static void
test_machine_acpi (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;

  g_assert_true (member_start (f, &error));
  g_assert_no_error (error);
  g_assert_true (member_stop (f, &error));
  g_assert_no_error (error);
  holder_test_vz_drain ();
  log = holder_test_vz_shim_vm_log (f->vm);
  g_assert_cmpstr (log, ==, "start-done,request,guest-stopped");
  /* The power-off the stop asked for is no exit. */
  g_assert_cmpuint (f->exits, ==, 0);
  assert_events_from_queue (f);
}

static void
test_machine_start_fails (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->script->start_error = "The storage device attachment is invalid.";
  g_assert_false (member_start (f, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "The storage device attachment is invalid.");
  g_clear_error (&error);
  /* The boot then stops what it made: already stopped. */
  g_assert_true (member_stop (f, &error));
  assert_events_from_queue (f);
}

static void
test_machine_guest_ignores_acpi (Fixture       *f,
                                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;

  f->script->ignore_acpi = TRUE;
  g_assert_true (member_start (f, NULL));
  g_assert_true (member_stop (f, &error));
  g_assert_no_error (error);
  log = holder_test_vz_shim_vm_log (f->vm);
  g_assert_cmpstr (log, ==, "start-done,request,force,stop-done");
}

static void
test_machine_force_fails (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->script->ignore_acpi = TRUE;
  f->script->force_error = "Invalid virtual machine state transition.";
  g_assert_true (member_start (f, NULL));
  g_assert_false (member_stop (f, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "force stop: Invalid virtual machine state transition.");
}

static void
test_machine_force_never_stops (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->script->ignore_acpi = TRUE;
  f->script->force_never_stops = TRUE;
  g_assert_true (member_start (f, NULL));
  g_assert_false (member_stop (f, &error));
  g_assert_cmpstr (error->message, ==, "vm still running after force stop");
}

static void
test_machine_guest_dies (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GAsyncResult) waited = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;
  const char *expected = "the VM stopped with an error: Internal Virtualization error. "
                         "The virtual machine stopped unexpectedly.";

  g_assert_true (member_start (f, NULL));
  holder_vz_member_wait_ip_async (f->member, NULL, holder_test_vz_on_result, &waited);
  /* The delegate fires on the queue; the member hears it on main. */
  holder_test_vz_shim_vm_die (f->vm);
  ip = holder_vz_member_wait_ip_finish (f->member,
                                        holder_test_vz_await_result (&waited, AWAIT_MS), &error);
  g_assert_null (ip);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_cmpuint (f->exits, ==, 1);
  g_assert_cmpstr (f->exit_message, ==, expected);
  assert_events_from_queue (f);
}

static void
test_machine_stop_during_start (Fixture       *f,
                                gconstpointer  data)
{
  g_autoptr(GAsyncResult) started = NULL;
  g_autoptr(GAsyncResult) stopped = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;

  f->script->hold_start = TRUE;
  holder_vz_member_start_async (f->member, NULL, holder_test_vz_on_result, &started);
  holder_vz_member_stop_async (f->member, NULL, holder_test_vz_on_result, &stopped);

  /* The start gives up at once; the stop waits for the framework. */
  g_assert_false (holder_vz_member_start_finish (f->member,
                                                 holder_test_vz_await_result (&started, AWAIT_MS),
                                                 &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (stopped);
  log = holder_test_vz_shim_vm_log (f->vm);
  g_assert_cmpstr (log, ==, "");
  g_clear_pointer (&log, g_free);

  holder_test_vz_shim_vm_release_start (f->vm);
  g_assert_true (holder_vz_member_stop_finish (f->member,
                                               holder_test_vz_await_result (&stopped, AWAIT_MS),
                                               NULL));
  log = holder_test_vz_shim_vm_log (f->vm);
  g_assert_cmpstr (log, ==, "start-done,request,guest-stopped");
  g_assert_cmpuint (f->exits, ==, 0);
}

static void
test_machine_freed_with_start_pending (Fixture       *f,
                                       gconstpointer  data)
{
  g_autoptr(GAsyncResult) started = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;

  f->script->hold_start = TRUE;
  holder_vz_member_start_async (f->member, cancellable, holder_test_vz_on_result, &started);
  g_cancellable_cancel (cancellable);
  g_assert_false (holder_vz_member_start_finish (f->member,
                                                 holder_test_vz_await_result (&started, AWAIT_MS),
                                                 &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* The framework completes, but the machine goes before the event is
   * handled: the event is dropped, the waiter told, nothing leaks. */
  holder_test_vz_shim_vm_release_start (f->vm);
  holder_vz_machine_free (g_steal_pointer (&f->machine));
  holder_test_vz_drain ();
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  holder_test_vz_init_main ();

  g_test_add_func ("/vz/bridge/threads", test_bridge_threads);
  g_test_add_func ("/vz/bridge/never-reentrant", test_bridge_never_reentrant);
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/vz/machine/acpi", test_machine_acpi);
  ADD ("/vz/machine/start-fails", test_machine_start_fails);
  ADD ("/vz/machine/guest-ignores-acpi", test_machine_guest_ignores_acpi);
  ADD ("/vz/machine/force-fails", test_machine_force_fails);
  ADD ("/vz/machine/force-never-stops", test_machine_force_never_stops);
  ADD ("/vz/machine/guest-dies", test_machine_guest_dies);
  ADD ("/vz/machine/stop-during-start", test_machine_stop_during_start);
  ADD ("/vz/machine/freed-with-start-pending", test_machine_freed_with_start_pending);
#undef ADD

  return g_test_run ();
}
