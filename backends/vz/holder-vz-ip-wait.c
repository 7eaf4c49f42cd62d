/* SPDX-License-Identifier: MIT
 *
 * The IP wait (see holder-vz-ip-wait.h). One attempt at a time: lookup,
 * then (with a lease) a probe; a retry timer between attempts. The budget
 * bounds the whole; a probe is never given more than what is left of it.
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include "holder-backend.h"
#include "holder-vz-ip-wait.h"
#include "holder-vz-leases.h"
#include "holder-vz-probe.h"
#include "holder-vz-wait.h"

typedef struct {
  char                 *hostname;
  HolderVzIpWaitParams  params;
  gint64                deadline_us;
  char                 *last_seen;      /* why the last attempt failed */
  char                 *probing;        /* the address being probed */
  GSource              *retry_timer;
  GSource              *cancel_source;
  GCancellable         *probe_cancellable;
  gboolean              returned;
} IpWait;

static void
ip_wait_clear (IpWait *wait)
{
  if (wait->retry_timer != NULL)
    {
      g_source_destroy (wait->retry_timer);
      g_clear_pointer (&wait->retry_timer, g_source_unref);
    }
  if (wait->cancel_source != NULL)
    {
      g_source_destroy (wait->cancel_source);
      g_clear_pointer (&wait->cancel_source, g_source_unref);
    }
  if (wait->probe_cancellable != NULL)
    g_cancellable_cancel (wait->probe_cancellable);
  g_clear_object (&wait->probe_cancellable);
}

static void
ip_wait_free (IpWait *wait)
{
  ip_wait_clear (wait);
  g_free (wait->hostname);
  g_free (wait->last_seen);
  g_free (wait->probing);
  g_free (wait);
}

/* Once. The wait's own reference on the task goes with it. */
static void
ip_wait_return (GTask  *task,
                char   *ip,
                GError *error)
{
  IpWait *wait = g_task_get_task_data (task);

  if (wait->returned)
    {
      g_free (ip);
      g_clear_error (&error);
      return;
    }
  wait->returned = TRUE;
  ip_wait_clear (wait);
  if (ip != NULL)
    g_task_return_pointer (task, ip, g_free);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

static void ip_wait_attempt (GTask *task);

/* Rounded up, so that a timer never fires before the deadline; 0 once
 * it has passed. */
static gint64
ip_wait_left_ms (const IpWait *wait)
{
  gint64 left_us = wait->deadline_us - g_get_monotonic_time ();

  return left_us <= 0 ? 0 : (left_us + 999) / 1000;
}

static void
ip_wait_out_of_time (GTask *task)
{
  IpWait *wait = g_task_get_task_data (task);
  g_autofree char *budget = holder_vz_duration_to_string (wait->params.budget_ms);

  ip_wait_return (task, NULL,
                  g_error_new (HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                               "no reachable address for %s within %s: %s", wait->hostname,
                               budget, wait->last_seen));
}

static gboolean
on_retry (gpointer user_data)
{
  GTask *task = user_data;
  IpWait *wait = g_task_get_task_data (task);

  g_clear_pointer (&wait->retry_timer, g_source_unref);
  ip_wait_attempt (task);
  return G_SOURCE_REMOVE;
}

static void
ip_wait_retry (GTask *task,
               char  *why)
{
  IpWait *wait = g_task_get_task_data (task);
  gint64 left_ms;

  g_debug ("%s: %s", wait->hostname, why);
  g_free (wait->last_seen);
  wait->last_seen = why;
  left_ms = ip_wait_left_ms (wait);
  if (left_ms <= 0)
    {
      ip_wait_out_of_time (task);
      return;
    }
  /* The last attempt lands on the deadline rather than past it. */
  wait->retry_timer = g_timeout_source_new ((guint) MIN ((gint64) wait->params.retry_ms, left_ms));
  g_source_set_callback (wait->retry_timer, on_retry, task, NULL);
  g_source_attach (wait->retry_timer, g_task_get_context (task));
}

static void
on_probed (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data; /* the probe's reference */
  IpWait *wait = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gboolean ok = wait->params.probe_finish (result, &error);

  if (wait->returned)
    return;
  g_clear_object (&wait->probe_cancellable);
  if (ok)
    {
      g_debug ("%s answers on %s:%u", wait->hostname, wait->probing, (guint) wait->params.port);
      ip_wait_return (task, g_steal_pointer (&wait->probing), NULL);
      return;
    }
  ip_wait_retry (task, g_strdup_printf ("%s has a lease but does not answer yet (%s)",
                                        wait->probing, error->message));
}

static void
ip_wait_attempt (GTask *task)
{
  IpWait *wait = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = wait->params.lookup (wait->hostname, wait->params.lookup_data, &error);
  gint64 left_ms;

  if (ip == NULL)
    {
      ip_wait_retry (task, error != NULL ? g_strdup (error->message)
                                         : g_strdup_printf ("bootpd has no lease for %s yet",
                                                            wait->hostname));
      return;
    }
  left_ms = ip_wait_left_ms (wait);
  if (left_ms <= 0)
    {
      ip_wait_out_of_time (task);
      return;
    }
  g_free (wait->probing);
  wait->probing = g_steal_pointer (&ip);
  wait->probe_cancellable = g_cancellable_new ();
  wait->params.probe_async (wait->probing, wait->params.port,
                            (guint) MIN ((gint64) wait->params.probe_timeout_ms, left_ms),
                            wait->probe_cancellable, on_probed, g_object_ref (task));
}

static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  ip_wait_return (user_data, NULL,
                  g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                       "the wait for the guest's address was cancelled"));
  return G_SOURCE_REMOVE;
}

char *
holder_vz_ip_lookup_bootpd (const char  *hostname,
                            gpointer     user_data,
                            GError     **error)
{
  return holder_vz_leases_lookup_file (HOLDER_VZ_LEASES_PATH, hostname, error);
}

void
holder_vz_ip_wait_async (const char                 *hostname,
                         const HolderVzIpWaitParams *params,
                         GCancellable               *cancellable,
                         GAsyncReadyCallback         callback,
                         gpointer                    user_data)
{
  GTask *task;
  IpWait *wait;

  g_return_if_fail (hostname != NULL);
  g_return_if_fail (params != NULL && params->retry_ms > 0 && params->probe_timeout_ms > 0);
  g_return_if_fail ((params->probe_async == NULL) == (params->probe_finish == NULL));

  /* The wait holds this reference until ip_wait_return. */
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "holder_vz_ip_wait_async");
  g_task_set_check_cancellable (task, FALSE);
  wait = g_new0 (IpWait, 1);
  wait->hostname = g_strdup (hostname);
  wait->params = *params;
  if (wait->params.lookup == NULL)
    wait->params.lookup = holder_vz_ip_lookup_bootpd;
  if (wait->params.probe_async == NULL)
    {
      wait->params.probe_async = holder_vz_tcp_probe_async;
      wait->params.probe_finish = holder_vz_tcp_probe_finish;
    }
  wait->deadline_us = g_get_monotonic_time () + (gint64) params->budget_ms * 1000;
  wait->last_seen = g_strdup ("nothing was tried");
  g_task_set_task_data (task, wait, (GDestroyNotify) ip_wait_free);

  if (g_cancellable_is_cancelled (cancellable))
    {
      on_cancelled (cancellable, task);
      return;
    }
  if (cancellable != NULL)
    {
      wait->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (wait->cancel_source, G_SOURCE_FUNC (on_cancelled), task, NULL);
      g_source_attach (wait->cancel_source, g_task_get_context (task));
    }
  ip_wait_attempt (task);
}

char *
holder_vz_ip_wait_finish (GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
