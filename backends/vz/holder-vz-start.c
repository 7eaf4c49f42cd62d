/* SPDX-License-Identifier: MIT
 *
 * The start state machine (see holder-vz-start.h):
 *
 *   ISSUED --done(ok)--> POLLING --Running--> success
 *     |  \--done(err)--> the framework's error
 *     |                   \--Error state / deadline / cancel--> failure
 *     \--deadline / cancel--> failure (the done that follows is ignored)
 *
 * The deadline counts from the start call, so a completion that never
 * comes is bounded too.
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include "holder-backend.h"
#include "holder-vz-start.h"
#include "holder-vz-wait.h"

typedef struct {
  HolderVzController   controller;
  HolderVzStartTimings timings;
  gint64               deadline_us;
  GSource             *timer;          /* the deadline, while the start is issued */
  GSource             *cancel_source;  /* likewise */
  gboolean             returned;
} Start;

static void
start_clear_sources (Start *start)
{
  if (start->timer != NULL)
    {
      g_source_destroy (start->timer);
      g_clear_pointer (&start->timer, g_source_unref);
    }
  if (start->cancel_source != NULL)
    {
      g_source_destroy (start->cancel_source);
      g_clear_pointer (&start->cancel_source, g_source_unref);
    }
}

static void
start_free (Start *start)
{
  start_clear_sources (start);
  g_free (start);
}

/* Once: later ends (a done after a timeout) only drop their reference. */
static void
start_return (GTask  *task,
              GError *error)
{
  Start *start = g_task_get_task_data (task);

  if (start->returned)
    {
      g_clear_error (&error);
      return;
    }
  start->returned = TRUE;
  start_clear_sources (start);
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static GError *
timed_out_error (const Start *start,
                 const char  *what)
{
  g_autofree char *duration = holder_vz_duration_to_string (start->timings.timeout_ms);

  return g_error_new (HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                      "the VM did not reach the running state within %s (%s)", duration, what);
}

static void
on_waited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVzState last = HOLDER_VZ_STATE_UNKNOWN;
  HolderVzWaitOutcome outcome = holder_vz_wait_state_finish (result, &last);
  g_autofree char *what = NULL;

  switch (outcome)
    {
    case HOLDER_VZ_WAIT_REACHED:
      start_return (task, NULL);
      break;
    case HOLDER_VZ_WAIT_ERROR_STATE:
      start_return (task, g_error_new_literal (HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                               "the VM entered the error state while starting"));
      break;
    case HOLDER_VZ_WAIT_TIMED_OUT:
      what = g_strdup_printf ("it is %s", holder_vz_state_to_string (last));
      start_return (task, timed_out_error (g_task_get_task_data (task), what));
      break;
    case HOLDER_VZ_WAIT_CANCELLED:
    default:
      start_return (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                               "the start was cancelled"));
      break;
    }
}

static void
on_started (const GError *error,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Start *start = g_task_get_task_data (task);

  if (start->returned)
    {
      g_debug ("a start that had already ended completed: %s",
               error != NULL ? error->message : "ok");
      return;
    }
  start_clear_sources (start);
  if (error != NULL)
    {
      start_return (task, g_error_new_literal (HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                               error->message));
      return;
    }
  holder_vz_wait_state_async (&start->controller, HOLDER_VZ_STATE_RUNNING, TRUE,
                              start->deadline_us, start->timings.interval_ms,
                              g_task_get_cancellable (task), on_waited, g_object_ref (task));
}

static gboolean
on_issue_timeout (gpointer user_data)
{
  GTask *task = user_data;
  Start *start = g_task_get_task_data (task);

  g_clear_pointer (&start->timer, g_source_unref);
  start_return (task, timed_out_error (start, "the start did not complete"));
  return G_SOURCE_REMOVE;
}

static gboolean
on_issue_cancelled (GCancellable *cancellable,
                    gpointer      user_data)
{
  start_return (user_data, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                "the start was cancelled"));
  return G_SOURCE_REMOVE;
}

void
holder_vz_start_async (const HolderVzController   *controller,
                       const HolderVzStartTimings *timings,
                       GCancellable               *cancellable,
                       GAsyncReadyCallback         callback,
                       gpointer                    user_data)
{
  g_autoptr(GTask) task = NULL;
  Start *start;

  g_return_if_fail (controller != NULL && controller->klass != NULL);
  g_return_if_fail (timings != NULL && timings->interval_ms > 0);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "holder_vz_start_async");
  g_task_set_check_cancellable (task, FALSE);
  start = g_new0 (Start, 1);
  start->controller = *controller;
  start->timings = *timings;
  start->deadline_us = g_get_monotonic_time () + (gint64) timings->timeout_ms * 1000;
  g_task_set_task_data (task, start, (GDestroyNotify) start_free);

  if (g_cancellable_is_cancelled (cancellable))
    {
      start_return (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                               "the start was cancelled"));
      return;
    }
  /* The sources borrow the task: the done callback's reference keeps it
   * alive at least until they are destroyed. */
  start->timer = g_timeout_source_new (timings->timeout_ms);
  g_source_set_callback (start->timer, on_issue_timeout, task, NULL);
  g_source_attach (start->timer, g_task_get_context (task));
  if (cancellable != NULL)
    {
      start->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (start->cancel_source, G_SOURCE_FUNC (on_issue_cancelled), task,
                             NULL);
      g_source_attach (start->cancel_source, g_task_get_context (task));
    }
  controller->klass->start (controller->self, on_started, g_object_ref (task));
}

gboolean
holder_vz_start_finish (GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
