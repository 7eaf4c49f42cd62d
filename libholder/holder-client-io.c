/* holder-client-io.c: the plumbing of the client half (see
 * holder-client-io-private.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-client"

#include <gio/gunixsocketaddress.h>

#include "holder-client-io-private.h"
#include "holder-store.h"

/* ---------------------------------------------------------------------------
 * Small helpers
 */

#define DIAL_FAST_RETRY_MS 1
#define DIAL_FAST_RETRIES 6

guint
holder_client_dial_retry_ms (guint attempt)
{
  return attempt < DIAL_FAST_RETRIES ? DIAL_FAST_RETRY_MS : HOLDER_CLIENT_DIAL_RETRY_MS;
}

/* A GTask source tag (a function pointer is not a gpointer in ISO C). */
static char dial_tag;

char *
holder_client_resolve_root (const char  *root,
                     GError     **error)
{
  if (root != NULL)
    return g_strdup (root);
  return holder_store_resolve_root (error);
}

gboolean
holder_client_error_is_absent_socket (const GError *error)
{
  /* ENOENT: not listening yet; ECONNREFUSED: a stale file of a dead helper,
   * or one that is about to be replaced. Both are worth another try. */
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

void
holder_client_store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

/* Iterates @context (the pushed private one) until @slot is filled. */
void
holder_client_await_result (GMainContext  *context,
              GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (context, TRUE);
}

GMainContext *
holder_client_context_push (void)
{
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  return context;
}

void
holder_client_context_pop (GMainContext *context)
{
  /* Let completions that were queued as idles run before the context
   * goes: nothing may be left holding a reference to it. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}


static gboolean
step_timer_fire_cb (gpointer user_data)
{
  HolderStepTimer *timer = user_data;

  timer->fired = TRUE;
  g_cancellable_cancel (timer->cancellable);
  return G_SOURCE_REMOVE;
}

void
holder_step_timer_start (HolderStepTimer    *timer,
                  GCancellable *cancellable,
                  guint         timeout_ms)
{
  timer->cancellable = cancellable;
  timer->fired = FALSE;
  timer->source = g_timeout_source_new (timeout_ms);
  g_source_set_callback (timer->source, step_timer_fire_cb, timer, NULL);
  g_source_attach (timer->source, g_main_context_get_thread_default ());
}

void
holder_step_timer_stop (HolderStepTimer *timer)
{
  if (timer->source != NULL)
    {
      g_source_destroy (timer->source);
      g_clear_pointer (&timer->source, g_source_unref);
    }
}

/* g_cancellable_connect() handler: cancelling one cancels the other. */
void
holder_client_chain_cancel_cb (GCancellable *cancelled,
                 gpointer      other)
{
  g_cancellable_cancel (G_CANCELLABLE (other));
}

/* Sleeps @ms on the pushed private @context, waking early when
 * @cancellable is cancelled. */
void
holder_client_context_sleep (GMainContext *context,
               guint         ms,
               GCancellable *cancellable)
{
  g_autoptr(GCancellable) local = g_cancellable_new ();
  HolderStepTimer timer = { 0 };
  gulong id = 0;

  if (cancellable != NULL)
    id = g_cancellable_connect (cancellable, G_CALLBACK (holder_client_chain_cancel_cb),
                                g_object_ref (local), g_object_unref);
  holder_step_timer_start (&timer, local, ms);
  while (!g_cancellable_is_cancelled (local))
    g_main_context_iteration (context, TRUE);
  holder_step_timer_stop (&timer);
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, id);
}

/* ---------------------------------------------------------------------------
 * Dialling with retry: a GTask that returns a GSocketConnection
 */

typedef struct {
  GSocketClient  *client;
  GSocketAddress *address;
  gint64          deadline; /* monotonic, usec */
  guint           attempts;
} DialData;

static void
dial_data_free (DialData *data)
{
  g_clear_object (&data->client);
  g_clear_object (&data->address);
  g_free (data);
}

static void dial_attempt (GTask *task);

static gboolean
dial_retry_cb (gpointer user_data)
{
  dial_attempt (G_TASK (user_data));
  return G_SOURCE_REMOVE;
}

static void
dial_connected_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  DialData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GSocketConnection *connection;

  connection = g_socket_client_connect_finish (G_SOCKET_CLIENT (source),
                                               result, &error);
  if (connection != NULL)
    {
      g_task_return_pointer (task, connection, g_object_unref);
      return;
    }

  if (holder_client_error_is_absent_socket (error) &&
      !g_cancellable_is_cancelled (g_task_get_cancellable (task)) &&
      g_get_monotonic_time () + holder_client_dial_retry_ms (data->attempts) * 1000 < data->deadline)
    {
      g_autoptr(GSource) retry = g_timeout_source_new (holder_client_dial_retry_ms (data->attempts++));

      g_source_set_callback (retry, dial_retry_cb, g_object_ref (task),
                             g_object_unref);
      g_source_attach (retry, g_task_get_context (task));
      return;
    }

  g_task_return_error (task, g_steal_pointer (&error));
}

static void
dial_attempt (GTask *task)
{
  DialData *data = g_task_get_task_data (task);

  g_socket_client_connect_async (data->client,
                                 G_SOCKET_CONNECTABLE (data->address),
                                 g_task_get_cancellable (task),
                                 dial_connected_cb, g_object_ref (task));
}

/* Connects to the Unix socket at @path, retrying every HOLDER_CLIENT_DIAL_RETRY_MS while
 * it is missing or refusing, for @window_ms. Fails with the last GIO
 * error. */
void
holder_client_dial_async (const char          *path,
            guint                window_ms,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  DialData *data = g_new0 (DialData, 1);

  g_task_set_source_tag (task, &dial_tag);
  data->client = g_socket_client_new ();
  g_socket_client_set_family (data->client, G_SOCKET_FAMILY_UNIX);
  /* A Unix path has nothing to do with proxies; skip the resolver. */
  g_socket_client_set_enable_proxy (data->client, FALSE);
  data->address = g_unix_socket_address_new (path);
  data->deadline = g_get_monotonic_time () + (gint64) window_ms * 1000;
  g_task_set_task_data (task, data, (GDestroyNotify) dial_data_free);
  dial_attempt (task);
}

GSocketConnection *
holder_client_dial_finish (GAsyncResult  *result,
             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
