/* SPDX-License-Identifier: MIT
 *
 * The bounded TCP probe (see holder-vz-probe.h).
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include "holder-vz-probe.h"
#include "holder-vz-wait.h"

typedef struct {
  char         *target;         /* "ip:port", for messages */
  guint         timeout_ms;
  GCancellable *attempt;        /* cancels the connect: timeout or caller */
  GSource      *timer;
  gulong        cancel_id;
  gboolean      timed_out;
} Probe;

static void
probe_free (Probe *probe)
{
  if (probe->timer != NULL)
    {
      g_source_destroy (probe->timer);
      g_source_unref (probe->timer);
    }
  g_clear_object (&probe->attempt);
  g_free (probe->target);
  g_free (probe);
}

/* Runs inside g_cancellable_cancel(), on whichever thread cancelled:
 * cancelling another cancellable is all it may do. */
static void
on_caller_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static gboolean
on_timeout (gpointer user_data)
{
  Probe *probe = user_data;

  g_clear_pointer (&probe->timer, g_source_unref);
  probe->timed_out = TRUE;
  g_cancellable_cancel (probe->attempt);
  return G_SOURCE_REMOVE;
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  Probe *probe = g_task_get_task_data (task);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *duration = NULL;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (probe->timer != NULL)
    {
      g_source_destroy (probe->timer);
      g_clear_pointer (&probe->timer, g_source_unref);
    }
  if (probe->cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), probe->cancel_id);
  probe->cancel_id = 0;

  if (connection != NULL)
    {
      /* A TCP close does not block. */
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (probe->timed_out)
    {
      duration = holder_vz_duration_to_string (probe->timeout_ms);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "%s did not answer within %s", probe->target, duration);
      return;
    }
  if (g_cancellable_is_cancelled (g_task_get_cancellable (task)))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "the probe of %s was cancelled", probe->target);
      return;
    }
  g_task_return_new_error (task, error->domain, error->code, "%s: %s", probe->target,
                           error->message);
}

void
holder_vz_tcp_probe_async (const char          *ip,
                           guint16              port,
                           guint                timeout_ms,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GInetAddress) address = NULL;
  g_autoptr(GSocketAddress) target = NULL;
  g_autoptr(GSocketClient) client = NULL;
  Probe *probe;

  g_return_if_fail (ip != NULL);
  g_return_if_fail (timeout_ms > 0);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "holder_vz_tcp_probe_async");
  /* The connect's own outcome says what happened. */
  g_task_set_check_cancellable (task, FALSE);
  address = g_inet_address_new_from_string (ip);
  if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "%s is not an IPv4 address", ip);
      return;
    }
  probe = g_new0 (Probe, 1);
  probe->target = g_strdup_printf ("%s:%u", ip, (guint) port);
  probe->timeout_ms = timeout_ms;
  probe->attempt = g_cancellable_new ();
  g_task_set_task_data (task, probe, (GDestroyNotify) probe_free);

  /* The probe owns both sources; on_connected always runs (the client
   * holds the task) and removes them. */
  probe->timer = g_timeout_source_new (timeout_ms);
  g_source_set_callback (probe->timer, on_timeout, probe, NULL);
  g_source_attach (probe->timer, g_task_get_context (task));
  if (cancellable != NULL)
    probe->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_caller_cancelled),
                                              g_object_ref (probe->attempt), g_object_unref);

  target = g_inet_socket_address_new (address, port);
  client = g_socket_client_new ();
  /* Straight to the guest: a proxy configured on the host (libproxy,
   * system settings) would answer for it, and resolving one starts
   * threads for nothing. */
  g_socket_client_set_enable_proxy (client, FALSE);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (target), probe->attempt,
                                 on_connected, g_steal_pointer (&task));
}

gboolean
holder_vz_tcp_probe_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
