/* SPDX-License-Identifier: MIT
 *
 * Shared pieces of the vz core's tests (see holder-test-vz.h).
 */
#define G_LOG_DOMAIN "holder-test"

#include "holder-test-vz.h"

static GThread *main_thread;

void
holder_test_vz_init_main (void)
{
  main_thread = g_thread_self ();
  /* Held for the program's life: g_main_context_iteration acquires it
   * again (recursively) on this thread, and no other thread can. */
  g_assert_true (g_main_context_acquire (g_main_context_default ()));
}

gboolean
holder_test_vz_on_main (void)
{
  return g_thread_self () == main_thread && g_main_context_is_owner (g_main_context_default ());
}

void
holder_test_vz_assert_main_at (const char *where)
{
  if (!holder_test_vz_on_main ())
    g_error ("%s: not on the main context", where);
}

static gboolean
on_deadline (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

void
holder_test_vz_await (const gboolean *flag,
                      guint           timeout_ms)
{
  gboolean expired = FALSE;
  GSource *deadline = g_timeout_source_new (timeout_ms);

  g_source_set_callback (deadline, on_deadline, &expired, NULL);
  g_source_attach (deadline, NULL);
  while (!*flag && !expired)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (deadline);
  g_source_unref (deadline);
  if (!*flag)
    g_error ("condition not met within %u ms", timeout_ms);
}

GAsyncResult *
holder_test_vz_await_result (GAsyncResult **slot,
                             guint          timeout_ms)
{
  gboolean expired = FALSE;
  GSource *deadline = g_timeout_source_new (timeout_ms);

  g_source_set_callback (deadline, on_deadline, &expired, NULL);
  g_source_attach (deadline, NULL);
  while (*slot == NULL && !expired)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (deadline);
  g_source_unref (deadline);
  if (*slot == NULL)
    g_error ("no result within %u ms", timeout_ms);
  return *slot;
}

void
holder_test_vz_on_result (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  holder_test_vz_assert_main ();
  g_assert_null (*slot);
  *slot = g_object_ref (result);
}

void
holder_test_vz_drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* ---- the fake controller ------------------------------------------------------- */

static void
fake_log (FakeController *fake,
          const char     *what)
{
  if (fake->log->len > 0)
    g_string_append_c (fake->log, ',');
  g_string_append (fake->log, what);
}

typedef struct {
  FakeController         *fake;
  HolderVzControllerDone  done;
  gpointer                data;
  char                   *error;
  int                     new_state;
  gboolean                is_start;
} Delivery;

static gboolean
deliver (gpointer user_data)
{
  Delivery *d = user_data;
  g_autoptr(GError) error = NULL;

  holder_test_vz_assert_main ();
  d->fake->timers--;
  if (d->new_state >= 0)
    d->fake->state = d->new_state;
  if (d->is_start)
    {
      d->fake->starts_done++;
      fake_log (d->fake, "start-done");
    }
  else
    {
      d->fake->forces_done++;
      fake_log (d->fake, "force-done");
    }
  if (d->error != NULL)
    error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, d->error);
  d->done (error, d->data);
  g_free (d->error);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static void
schedule (FakeController         *fake,
          guint                   delay_ms,
          gboolean                is_start,
          HolderVzControllerDone  done,
          gpointer                data,
          const char             *error,
          int                     new_state)
{
  Delivery *d = g_new0 (Delivery, 1);

  d->fake = fake;
  d->done = done;
  d->data = data;
  d->error = g_strdup (error);
  d->new_state = new_state;
  d->is_start = is_start;
  fake->timers++;
  /* A timer even for 0 ms: never from inside the call. */
  g_timeout_add (delay_ms, deliver, d);
}

static void
fake_start (gpointer               self,
            HolderVzControllerDone done,
            gpointer               user_data)
{
  FakeController *fake = self;

  holder_test_vz_assert_main ();
  fake->starts++;
  fake_log (fake, "start");
  fake->state = FAKE_STARTING;
  if (fake->start_never_completes)
    {
      g_assert_null (fake->held_done);
      fake->held_done = done;
      fake->held_data = user_data;
      return;
    }
  schedule (fake, fake->start_delay_ms, TRUE, done, user_data, fake->start_error,
            fake->start_error != NULL ? FAKE_STOPPED : fake->state_after_start);
}

static gboolean
on_acpi_power_off (gpointer user_data)
{
  FakeController *fake = user_data;

  holder_test_vz_assert_main ();
  fake->timers--;
  fake->state = FAKE_STOPPED;
  fake_log (fake, "powered-off");
  return G_SOURCE_REMOVE;
}

static int
fake_state (gpointer self)
{
  FakeController *fake = self;

  holder_test_vz_assert_main ();
  fake->state_reads++;
  return fake->state;
}

static gboolean
fake_can_request_stop (gpointer self)
{
  FakeController *fake = self;

  holder_test_vz_assert_main ();
  return fake->can_request_stop && fake->state == FAKE_RUNNING;
}

static gboolean
fake_request_stop (gpointer   self,
                   GError   **error)
{
  FakeController *fake = self;

  holder_test_vz_assert_main ();
  fake->requests++;
  fake_log (fake, "request");
  if (fake->request_error != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, fake->request_error);
      return FALSE;
    }
  fake->state = FAKE_STOPPING;
  if (fake->guest_obeys_acpi)
    {
      fake->timers++;
      g_timeout_add (fake->acpi_delay_ms, on_acpi_power_off, fake);
    }
  return TRUE;
}

static void
fake_force_stop (gpointer               self,
                 HolderVzControllerDone done,
                 gpointer               user_data)
{
  FakeController *fake = self;

  holder_test_vz_assert_main ();
  fake->forces++;
  fake_log (fake, "force");
  if (fake->force_never_completes)
    {
      g_assert_null (fake->held_done);
      fake->held_done = done;
      fake->held_data = user_data;
      return;
    }
  schedule (fake, 1, FALSE, done, user_data, fake->force_error,
            fake->force_error == NULL && fake->force_stops ? FAKE_STOPPED : -1);
}

static const HolderVzControllerClass fake_class = {
  .start = fake_start,
  .state = fake_state,
  .can_request_stop = fake_can_request_stop,
  .request_stop = fake_request_stop,
  .force_stop = fake_force_stop,
};

void
fake_controller_init (FakeController *fake)
{
  *fake = (FakeController) { 0 };
  fake->state = FAKE_STOPPED;
  fake->state_after_start = FAKE_RUNNING;
  fake->can_request_stop = TRUE;
  fake->guest_obeys_acpi = TRUE;
  fake->acpi_delay_ms = 10;
  fake->force_stops = TRUE;
  fake->log = g_string_new (NULL);
}

void
fake_controller_clear (FakeController *fake)
{
  if (fake->held_done != NULL)
    {
      g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED,
                                                     "the fake controller went away");
      HolderVzControllerDone done = fake->held_done;

      fake->held_done = NULL;
      done (error, fake->held_data);
    }
  /* Nothing scripted may fire into the next test's fixture. */
  while (fake->timers > 0)
    g_main_context_iteration (NULL, TRUE);
  holder_test_vz_drain ();
  if (fake->log != NULL)
    g_string_free (fake->log, TRUE);
  fake->log = NULL;
}

HolderVzController
fake_controller_get (FakeController *fake)
{
  return (HolderVzController) { &fake_class, fake };
}
