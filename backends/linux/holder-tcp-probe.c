/* SPDX-License-Identifier: MIT
 *
 * The TCP reachability probe (see holder-tcp-probe.h). A plain
 * non-blocking GSocket rather than GSocketClient: each attempt is one
 * connect(), one writability watch and one timeout, all owned here (GLib
 * 2.74's GSocketClient leaks an attempt's state when a connect times out).
 */
#define G_LOG_DOMAIN "holder-tcp-probe"

#include "holder-backend.h"
#include "holder-tcp-probe.h"

#define PROBE_INTERVAL_MS 250
#define PROBE_TIMEOUT_MS  2000

typedef struct {
  GSocketAddress *target;
  GSocket        *socket;      /* the attempt in flight */
  GSource        *watch;       /* its writability, or the wait between attempts */
  GSource        *timeout;     /* its deadline */
  gulong          cancel_id;
  gboolean        done;
} Probe;

static void
probe_clear_attempt (Probe *probe)
{
  if (probe->watch != NULL)
    {
      g_source_destroy (probe->watch);
      g_clear_pointer (&probe->watch, g_source_unref);
    }
  if (probe->timeout != NULL)
    {
      g_source_destroy (probe->timeout);
      g_clear_pointer (&probe->timeout, g_source_unref);
    }
  if (probe->socket != NULL)
    g_socket_close (probe->socket, NULL);
  g_clear_object (&probe->socket);
}

static void
probe_free (Probe *probe)
{
  probe_clear_attempt (probe);
  g_clear_object (&probe->target);
  g_free (probe);
}

/* Every end comes through here, so that no source outlives the task. */
static void
probe_return (GTask  *task,
              GError *error)
{
  Probe *probe = g_task_get_task_data (task);

  if (probe->done)
    {
      g_clear_error (&error);
      return;
    }
  probe->done = TRUE;
  probe_clear_attempt (probe);
  if (probe->cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), probe->cancel_id);
  probe->cancel_id = 0;
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task); /* the reference the probe held on itself */
}

static void probe_attempt (GTask *task);

static gboolean
on_retry (gpointer user_data)
{
  GTask *task = user_data;
  Probe *probe = g_task_get_task_data (task);

  g_clear_pointer (&probe->watch, g_source_unref);
  probe_attempt (task);
  return G_SOURCE_REMOVE;
}

/* This attempt failed: the next one after the interval. */
static void
probe_retry (GTask *task)
{
  Probe *probe = g_task_get_task_data (task);

  probe_clear_attempt (probe);
  probe->watch = g_timeout_source_new (PROBE_INTERVAL_MS);
  g_source_set_callback (probe->watch, on_retry, task, NULL);
  g_source_attach (probe->watch, g_task_get_context (task));
}

static gboolean
on_writable (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  GTask *task = user_data;
  g_autoptr(GError) error = NULL;

  if (g_socket_check_connect_result (socket, &error))
    probe_return (task, NULL);
  else
    probe_retry (task);
  return G_SOURCE_REMOVE;
}

static gboolean
on_attempt_timeout (gpointer user_data)
{
  probe_retry (user_data);
  return G_SOURCE_REMOVE;
}

static void
probe_attempt (GTask *task)
{
  Probe *probe = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  probe->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                G_SOCKET_PROTOCOL_TCP, &error);
  if (probe->socket == NULL)
    {
      probe_return (task, g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                       "make a probe socket: %s", error->message));
      return;
    }
  g_socket_set_blocking (probe->socket, FALSE);
  if (g_socket_connect (probe->socket, probe->target, NULL, &error))
    {
      probe_return (task, NULL);
      return;
    }
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING))
    {
      probe_retry (task);
      return;
    }
  probe->watch = g_socket_create_source (probe->socket, G_IO_OUT, NULL);
  g_source_set_callback (probe->watch, G_SOURCE_FUNC (on_writable), task, NULL);
  g_source_attach (probe->watch, g_task_get_context (task));
  probe->timeout = g_timeout_source_new (PROBE_TIMEOUT_MS);
  g_source_set_callback (probe->timeout, on_attempt_timeout, task, NULL);
  g_source_attach (probe->timeout, g_task_get_context (task));
}

static gboolean
on_cancelled_idle (gpointer user_data)
{
  GTask *task = user_data;

  /* probe_return ignores a probe that already ended. */
  probe_return (task, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                           "the probe was cancelled"));
  return G_SOURCE_REMOVE;
}

/* Runs inside g_cancellable_cancel(), maybe on another thread: the task's
 * context ends the probe, holding the task until then. */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  GTask *task = user_data;
  GSource *idle = g_idle_source_new ();

  g_source_set_callback (idle, on_cancelled_idle, g_object_ref (task), g_object_unref);
  g_source_attach (idle, g_task_get_context (task));
  g_source_unref (idle);
}

void
holder_tcp_probe_async (const char          *ip,
                        guint16              port,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GInetAddress) address = NULL;
  Probe *probe;

  g_return_if_fail (ip != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "holder_tcp_probe_async");
  if (g_task_return_error_if_cancelled (task))
    return;
  address = g_inet_address_new_from_string (ip);
  if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "%s is not an IPv4 address", ip);
      return;
    }
  probe = g_new0 (Probe, 1);
  probe->target = g_inet_socket_address_new (address, port);
  g_task_set_task_data (task, probe, (GDestroyNotify) probe_free);
  /* The probe holds the task until probe_return. */
  g_object_ref (task);
  if (cancellable != NULL)
    probe->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), task, NULL);
  probe_attempt (task);
}

gboolean
holder_tcp_probe_finish (GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
