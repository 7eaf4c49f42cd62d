/* SPDX-License-Identifier: MIT
 *
 * The stop state machine (see holder-vz-stop.h).
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include "holder-backend.h"
#include "holder-vz-state.h"
#include "holder-vz-stop.h"
#include "holder-vz-wait.h"

#define STILL_RUNNING "vm still running after force stop"

typedef struct {
  HolderVzController  controller;
  HolderVzStopTimings timings;
  gint64              force_deadline_us;
  GSource            *force_timer;  /* the force deadline, until the completion */
  gboolean            returned;
} Stop;

static void
stop_clear_timer (Stop *stop)
{
  if (stop->force_timer != NULL)
    {
      g_source_destroy (stop->force_timer);
      g_clear_pointer (&stop->force_timer, g_source_unref);
    }
}

static void
stop_free (Stop *stop)
{
  stop_clear_timer (stop);
  g_free (stop);
}

static void
stop_return (GTask  *task,
             GError *error)
{
  Stop *stop = g_task_get_task_data (task);

  if (stop->returned)
    {
      g_clear_error (&error);
      return;
    }
  stop->returned = TRUE;
  stop_clear_timer (stop);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static HolderVzState
stop_read_state (Stop *stop)
{
  return holder_vz_state_from_raw (stop->controller.klass->state (stop->controller.self));
}

static void
on_force_waited (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVzState last = HOLDER_VZ_STATE_UNKNOWN;

  if (holder_vz_wait_state_finish (result, &last) == HOLDER_VZ_WAIT_REACHED)
    {
      stop_return (task, NULL);
      return;
    }
  g_debug ("still %s after the force stop", holder_vz_state_to_string (last));
  stop_return (task, g_error_new_literal (HOLDER_ERROR, HOLDER_ERROR_BACKEND, STILL_RUNNING));
}

static void
on_force_stopped (const GError *error,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Stop *stop = g_task_get_task_data (task);

  if (stop->returned)
    return;
  stop_clear_timer (stop);
  if (error != NULL)
    {
      stop_return (task, g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND, "force stop: %s",
                                      error->message));
      return;
    }
  /* No cancellable: this wait keeps its own deadline. */
  holder_vz_wait_state_async (&stop->controller, HOLDER_VZ_STATE_STOPPED, FALSE,
                              stop->force_deadline_us, stop->timings.interval_ms, NULL,
                              on_force_waited, g_object_ref (task));
}

/* The completion never came within the grace: as good as not stopped. */
static gboolean
on_force_timeout (gpointer user_data)
{
  GTask *task = user_data;
  Stop *stop = g_task_get_task_data (task);

  g_clear_pointer (&stop->force_timer, g_source_unref);
  g_debug ("the force stop did not complete");
  stop_return (task, g_error_new_literal (HOLDER_ERROR, HOLDER_ERROR_BACKEND, STILL_RUNNING));
  return G_SOURCE_REMOVE;
}

static void
stop_force (GTask *task)
{
  Stop *stop = g_task_get_task_data (task);

  /* Forcing a VM that has just stopped fails with an invalid state
   * transition; it needs nothing more. */
  if (stop_read_state (stop) == HOLDER_VZ_STATE_STOPPED)
    {
      stop_return (task, NULL);
      return;
    }
  stop->force_deadline_us = g_get_monotonic_time () + (gint64) stop->timings.force_grace_ms * 1000;
  stop->force_timer = g_timeout_source_new (stop->timings.force_grace_ms);
  g_source_set_callback (stop->force_timer, on_force_timeout, task, NULL);
  g_source_attach (stop->force_timer, g_task_get_context (task));
  stop->controller.klass->force_stop (stop->controller.self, on_force_stopped,
                                      g_object_ref (task));
}

static void
on_acpi_waited (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVzWaitOutcome outcome = holder_vz_wait_state_finish (result, NULL);

  if (outcome == HOLDER_VZ_WAIT_REACHED)
    {
      stop_return (task, NULL);
      return;
    }
  g_debug ("%s after the power button: forcing",
           outcome == HOLDER_VZ_WAIT_CANCELLED ? "cancelled" : "no power-off");
  stop_force (task);
}

void
holder_vz_stop_async (const HolderVzController  *controller,
                      const HolderVzStopTimings *timings,
                      GCancellable              *cancellable,
                      GAsyncReadyCallback        callback,
                      gpointer                   user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  Stop *stop;

  g_return_if_fail (controller != NULL && controller->klass != NULL);
  g_return_if_fail (timings != NULL && timings->interval_ms > 0);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "holder_vz_stop_async");
  /* A cancelled stop must still stop: only the ACPI wait listens. */
  g_task_set_check_cancellable (task, FALSE);
  stop = g_new0 (Stop, 1);
  stop->controller = *controller;
  stop->timings = *timings;
  g_task_set_task_data (task, stop, (GDestroyNotify) stop_free);

  if (stop_read_state (stop) == HOLDER_VZ_STATE_STOPPED)
    {
      stop_return (task, NULL);
      return;
    }
  if (controller->klass->can_request_stop (controller->self))
    {
      if (controller->klass->request_stop (controller->self, &error))
        {
          gint64 deadline = g_get_monotonic_time () + (gint64) timings->acpi_grace_ms * 1000;

          holder_vz_wait_state_async (controller, HOLDER_VZ_STATE_STOPPED, FALSE, deadline,
                                      timings->interval_ms, cancellable, on_acpi_waited,
                                      g_object_ref (task));
          return;
        }
      g_debug ("the stop request was refused: %s",
               error != NULL ? error->message : "no reason given");
    }
  else
    g_debug ("the VM cannot take a stop request now: forcing");
  stop_force (task);
}

gboolean
holder_vz_stop_finish (GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
