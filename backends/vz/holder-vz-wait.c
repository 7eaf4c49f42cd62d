/* SPDX-License-Identifier: MIT
 *
 * Polling for a VM state (see holder-vz-wait.h). One one-shot timer at a
 * time, re-armed for the interval or what is left of the deadline,
 * whichever is shorter, so a short deadline is kept to the millisecond.
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include "holder-vz-wait.h"

typedef struct {
  HolderVzController controller;
  HolderVzState      wanted;
  gboolean           error_ends;
  gint64             deadline_us;
  guint              interval_ms;
  HolderVzState      last;
  GSource           *timer;
  GSource           *cancel_source;
  gboolean           done;
} Wait;

static void
wait_clear_sources (Wait *wait)
{
  if (wait->timer != NULL)
    {
      g_source_destroy (wait->timer);
      g_clear_pointer (&wait->timer, g_source_unref);
    }
  if (wait->cancel_source != NULL)
    {
      g_source_destroy (wait->cancel_source);
      g_clear_pointer (&wait->cancel_source, g_source_unref);
    }
}

static void
wait_free (Wait *wait)
{
  wait_clear_sources (wait);
  g_free (wait);
}

/* Every end comes through here; the sources hold no reference on the task,
 * the task's own reference is dropped here. */
static void
wait_return (GTask               *task,
             HolderVzWaitOutcome  outcome)
{
  Wait *wait = g_task_get_task_data (task);

  if (wait->done)
    return;
  wait->done = TRUE;
  wait_clear_sources (wait);
  g_task_return_int (task, outcome);
  g_object_unref (task);
}

static gboolean on_tick (gpointer user_data);

/* TRUE when the wait ended. */
static gboolean
wait_check (GTask *task)
{
  Wait *wait = g_task_get_task_data (task);
  gint64 left_us;
  guint next_ms;

  wait->last = holder_vz_state_from_raw (wait->controller.klass->state (wait->controller.self));
  if (wait->last == wait->wanted)
    {
      wait_return (task, HOLDER_VZ_WAIT_REACHED);
      return TRUE;
    }
  if (wait->error_ends && wait->last == HOLDER_VZ_STATE_ERROR)
    {
      wait_return (task, HOLDER_VZ_WAIT_ERROR_STATE);
      return TRUE;
    }
  left_us = wait->deadline_us - g_get_monotonic_time ();
  if (left_us <= 0)
    {
      wait_return (task, HOLDER_VZ_WAIT_TIMED_OUT);
      return TRUE;
    }
  next_ms = (guint) MIN ((gint64) wait->interval_ms, (left_us + 999) / 1000);
  wait->timer = g_timeout_source_new (MAX (next_ms, 1));
  g_source_set_callback (wait->timer, on_tick, task, NULL);
  g_source_attach (wait->timer, g_task_get_context (task));
  return FALSE;
}

static gboolean
on_tick (gpointer user_data)
{
  GTask *task = user_data;
  Wait *wait = g_task_get_task_data (task);

  g_clear_pointer (&wait->timer, g_source_unref);
  wait_check (task);
  return G_SOURCE_REMOVE;
}

/* A GCancellableSource dispatches on the task's context, whichever thread
 * cancelled. */
static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  wait_return (user_data, HOLDER_VZ_WAIT_CANCELLED);
  return G_SOURCE_REMOVE;
}

void
holder_vz_wait_state_async (const HolderVzController *controller,
                            HolderVzState             wanted,
                            gboolean                  error_ends,
                            gint64                    deadline_us,
                            guint                     interval_ms,
                            GCancellable             *cancellable,
                            GAsyncReadyCallback       callback,
                            gpointer                  user_data)
{
  GTask *task;
  Wait *wait;

  g_return_if_fail (controller != NULL && controller->klass != NULL);
  g_return_if_fail (interval_ms > 0);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "holder_vz_wait_state_async");
  /* The outcome says "cancelled"; the task must still return it. */
  g_task_set_check_cancellable (task, FALSE);
  wait = g_new0 (Wait, 1);
  wait->controller = *controller;
  wait->wanted = wanted;
  wait->error_ends = error_ends;
  wait->deadline_us = deadline_us;
  wait->interval_ms = interval_ms;
  g_task_set_task_data (task, wait, (GDestroyNotify) wait_free);

  /* The reference @task holds is the wait's own until wait_return. */
  if (g_cancellable_is_cancelled (cancellable))
    {
      wait->last = holder_vz_state_from_raw (controller->klass->state (controller->self));
      wait_return (task, HOLDER_VZ_WAIT_CANCELLED);
      return;
    }
  if (wait_check (task))
    return;
  if (cancellable != NULL)
    {
      wait->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (wait->cancel_source, G_SOURCE_FUNC (on_cancelled), task, NULL);
      g_source_attach (wait->cancel_source, g_task_get_context (task));
    }
}

HolderVzWaitOutcome
holder_vz_wait_state_finish (GAsyncResult  *result,
                             HolderVzState *out_last)
{
  Wait *wait;
  gssize outcome;

  g_return_val_if_fail (g_task_is_valid (result, NULL), HOLDER_VZ_WAIT_CANCELLED);
  wait = g_task_get_task_data (G_TASK (result));
  if (out_last != NULL)
    *out_last = wait->last;
  outcome = g_task_propagate_int (G_TASK (result), NULL);
  return (HolderVzWaitOutcome) outcome;
}

char *
holder_vz_duration_to_string (guint ms)
{
  if (ms % 1000 == 0)
    return g_strdup_printf ("%u s", ms / 1000);
  return g_strdup_printf ("%u ms", ms);
}
