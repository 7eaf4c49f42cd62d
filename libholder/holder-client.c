/* SPDX-License-Identifier: MIT
 *
 * The client half of protocol v2: spawning and binding a helper, sending
 * one request per connection, and the polling helpers built on top.
 *
 * There is exactly one implementation of every exchange, and it is
 * asynchronous: it runs on the caller's thread-default main context. The
 * synchronous entry points run that same code on a private GMainContext
 * pushed as thread-default and iterate it until the operation is done (the
 * pattern GIO itself uses), so they never dispatch the caller's sources.
 */
#define G_LOG_DOMAIN "holder-client"

#include "holder-client.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>

#include "holder-codec-private.h"
#include "holder-error.h"
#include "holder-runner.h"
#include "holder-store.h"
#include "holder-store-private.h"
#include "holder-util-private.h"

/* How often a missing or refusing socket is dialled again: a helper that
 * was just spawned listens within a few milliseconds, and a failed connect
 * to a Unix socket costs microseconds. */
#define DIAL_RETRY_MS 5

/* HOLDER_CLIENT_BIND_WINDOW_MS, or FLEETBOX_BIND_TIMEOUT (a Go duration)
 * for helpers that start slowly: under valgrind, or on a loaded machine. */
static int
bind_window_ms (void)
{
  const char *value = g_getenv ("FLEETBOX_BIND_TIMEOUT");
  gint64 usec = 0;

  if (value != NULL && holder_parse_go_duration (value, &usec) && usec > 0)
    return (int) MIN (usec / 1000, G_MAXINT);
  return HOLDER_CLIENT_BIND_WINDOW_MS;
}
/* Status and stop dial a socket whose pidfile names a live helper: if the
 * socket is not there within this, the member is being retired (or was
 * never served) and the store has the answer. */
#define SHORT_DIAL_WINDOW_MS 1000
/* Bound on the reply to status, and to the best-effort stop. */
#define STATUS_TIMEOUT_MS (10 * 1000)
#define STOP_REPLY_TIMEOUT_MS (5 * 1000)
/* Defaults for holder_client_stop() and holder_helper_close(). */
#define STOP_DEFAULT_TIMEOUT_MS (30 * 1000)
#define STOP_POLL_MS 10
#define WAIT_POLL_MS 20
/* A member that is still downloading its image keeps holder_client_wait_running()
 * waiting past its timeout, but never past this (the Go client's bound). */
#define WAIT_DOWNLOAD_CAP_MS (30 * 60 * 1000)
/* The bind handshake: one read of at most this many bytes, within this. */
#define HANDSHAKE_READ_MAX 64
#define HANDSHAKE_READ_TIMEOUT_MS 2000
#define HOLDER_PROTOCOL_VERSION "2"
/* After SIGKILL, how long spawn waits to reap the helper it gives up on. */
#define KILL_REAP_TIMEOUT_MS 5000

/* ---------------------------------------------------------------------------
 * Small helpers
 */

/* GTask source tags (a function pointer is not a gpointer in ISO C). */
static char dial_tag;
static char send_tag;

static char *
client_resolve_root (const char  *root,
                     GError     **error)
{
  if (root != NULL)
    return g_strdup (root);
  return holder_store_resolve_root (error);
}

static gboolean
io_error_is_absent_socket (const GError *error)
{
  /* ENOENT: not listening yet; ECONNREFUSED: a stale file of a dead helper,
   * or one that is about to be replaced. Both are worth another try. */
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  *slot = g_object_ref (result);
}

/* Iterates @context (the pushed private one) until @slot is filled. */
static void
await_result (GMainContext  *context,
              GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (context, TRUE);
}

static GMainContext *
private_context_push (void)
{
  GMainContext *context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  return context;
}

static void
private_context_pop (GMainContext *context)
{
  /* Let completions that were queued as idles run before the context
   * goes: nothing may be left holding a reference to it. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

/* A timer on the thread-default context that cancels @cancellable. */
typedef struct {
  GCancellable *cancellable;
  gboolean      fired;
  GSource      *source;
} StepTimer;

static gboolean
step_timer_fire_cb (gpointer user_data)
{
  StepTimer *timer = user_data;

  timer->fired = TRUE;
  g_cancellable_cancel (timer->cancellable);
  return G_SOURCE_REMOVE;
}

static void
step_timer_start (StepTimer    *timer,
                  GCancellable *cancellable,
                  guint         timeout_ms)
{
  timer->cancellable = cancellable;
  timer->fired = FALSE;
  timer->source = g_timeout_source_new (timeout_ms);
  g_source_set_callback (timer->source, step_timer_fire_cb, timer, NULL);
  g_source_attach (timer->source, g_main_context_get_thread_default ());
}

static void
step_timer_stop (StepTimer *timer)
{
  if (timer->source != NULL)
    {
      g_source_destroy (timer->source);
      g_clear_pointer (&timer->source, g_source_unref);
    }
}

/* g_cancellable_connect() handler: cancelling one cancels the other. */
static void
chain_cancel_cb (GCancellable *cancelled,
                 gpointer      other)
{
  g_cancellable_cancel (G_CANCELLABLE (other));
}

/* Sleeps @ms on the pushed private @context, waking early when
 * @cancellable is cancelled. */
static void
context_sleep (GMainContext *context,
               guint         ms,
               GCancellable *cancellable)
{
  g_autoptr(GCancellable) local = g_cancellable_new ();
  StepTimer timer = { 0 };
  gulong id = 0;

  if (cancellable != NULL)
    id = g_cancellable_connect (cancellable, G_CALLBACK (chain_cancel_cb),
                                g_object_ref (local), g_object_unref);
  step_timer_start (&timer, local, ms);
  while (!g_cancellable_is_cancelled (local))
    g_main_context_iteration (context, TRUE);
  step_timer_stop (&timer);
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

  if (io_error_is_absent_socket (error) &&
      !g_cancellable_is_cancelled (g_task_get_cancellable (task)) &&
      g_get_monotonic_time () + DIAL_RETRY_MS * 1000 < data->deadline)
    {
      g_autoptr(GSource) retry = g_timeout_source_new (DIAL_RETRY_MS);

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

/* Connects to the Unix socket at @path, retrying every DIAL_RETRY_MS while
 * it is missing or refusing, for @window_ms. Fails with the last GIO
 * error. */
static void
dial_async (const char          *path,
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

static GSocketConnection *
dial_finish (GAsyncResult  *result,
             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---------------------------------------------------------------------------
 * One request, one reply
 */

typedef struct {
  char              *name;
  char              *request;
  gsize              request_len;
  guint              timeout_ms;
  GCancellable      *cancellable;  /* ours: the caller's, or the timeout */
  GCancellable      *user_cancellable;
  gulong             user_cancel_id;
  GSocketConnection *connection;
  GSource           *timeout_source;
  gboolean           timed_out;
  GByteArray        *buffer;
  guint8             chunk[16 * 1024];
} SendData;

static void
send_data_free (SendData *data)
{
  if (data->timeout_source != NULL)
    {
      g_source_destroy (data->timeout_source);
      g_source_unref (data->timeout_source);
    }
  if (data->user_cancellable != NULL)
    {
      g_cancellable_disconnect (data->user_cancellable, data->user_cancel_id);
      g_object_unref (data->user_cancellable);
    }
  if (data->connection != NULL)
    {
      g_io_stream_close (G_IO_STREAM (data->connection), NULL, NULL);
      g_object_unref (data->connection);
    }
  g_clear_object (&data->cancellable);
  g_clear_pointer (&data->buffer, g_byte_array_unref);
  g_free (data->request);
  g_free (data->name);
  g_free (data);
}

static void
send_return_error (GTask  *task,
                   GError *error)
{
  SendData *data = g_task_get_task_data (task);

  if (data->timed_out && g_error_matches (error, G_IO_ERROR,
                                          G_IO_ERROR_CANCELLED))
    {
      g_error_free (error);
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                               "timed out after %u ms waiting for member "
                               "\"%s\" to reply", data->timeout_ms,
                               data->name);
      return;
    }
  g_task_return_error (task, error);
}

static gboolean
send_timeout_cb (gpointer user_data)
{
  SendData *data = user_data;

  data->timed_out = TRUE;
  g_cancellable_cancel (data->cancellable);
  return G_SOURCE_REMOVE;
}

static void
send_finish_reply (GTask      *task,
                   const char *bytes,
                   gsize       len)
{
  SendData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReply) reply = NULL;

  reply = holder_reply_parse (bytes, len, &error);
  if (reply == NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                               "invalid reply from member \"%s\": %s",
                               data->name, error->message);
      return;
    }
  if (reply->error != NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR,
                               holder_error_code_from_reply_text (reply->error),
                               "%s", reply->error);
      return;
    }
  g_task_return_pointer (task, g_steal_pointer (&reply),
                         (GDestroyNotify) holder_reply_free);
}

static void send_read (GTask *task);

static void
send_read_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SendData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  const guint8 *newline;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      g_prefix_error (&error, "read the reply of member \"%s\": ", data->name);
      send_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (n == 0)
    {
      /* EOF: a reply without its newline is still a reply. */
      if (data->buffer->len == 0)
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                                 "helper closed the connection without a "
                                 "reply");
      else
        send_finish_reply (task, (const char *) data->buffer->data,
                           data->buffer->len);
      return;
    }

  g_byte_array_append (data->buffer, data->chunk, n);
  newline = memchr (data->buffer->data, '\n', data->buffer->len);
  if (newline != NULL &&
      (gsize) (newline - data->buffer->data) < HOLDER_CODEC_MAX_LINE)
    {
      send_finish_reply (task, (const char *) data->buffer->data,
                         newline - data->buffer->data + 1);
      return;
    }
  if (data->buffer->len >= HOLDER_CODEC_MAX_LINE)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                               "reply from member \"%s\" exceeds %u bytes",
                               data->name, (guint) HOLDER_CODEC_MAX_LINE);
      return;
    }
  send_read (task);
}

static void
send_read (GTask *task)
{
  SendData *data = g_task_get_task_data (task);
  GInputStream *input;

  input = g_io_stream_get_input_stream (G_IO_STREAM (data->connection));
  g_input_stream_read_async (input, data->chunk, sizeof data->chunk,
                             G_PRIORITY_DEFAULT, data->cancellable,
                             send_read_cb, g_object_ref (task));
}

static void
send_written_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SendData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result,
                                         NULL, &error))
    {
      g_prefix_error (&error, "send to member \"%s\": ", data->name);
      send_return_error (task, g_steal_pointer (&error));
      return;
    }
  send_read (task);
}

static void
send_dialled_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SendData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  GOutputStream *output;

  data->connection = dial_finish (result, &error);
  if (data->connection == NULL)
    {
      if (io_error_is_absent_socket (error))
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_NOT_FOUND,
                                 "no helper serves member \"%s\": %s",
                                 data->name, error->message);
      else if (g_error_matches (error, G_IO_ERROR,
                                G_IO_ERROR_PERMISSION_DENIED))
        g_task_return_new_error (task, HOLDER_ERROR,
                                 HOLDER_ERROR_PERMISSION_DENIED,
                                 "connect to member \"%s\": %s",
                                 data->name, error->message);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_FAILED,
                                 "connect to member \"%s\": %s",
                                 data->name, error->message);
      return;
    }

  /* The timeout bounds the exchange, not the dial (which has its own
   * window): it starts once a helper has picked up. */
  data->timeout_source = g_timeout_source_new (data->timeout_ms);
  g_source_set_callback (data->timeout_source, send_timeout_cb, data, NULL);
  g_source_attach (data->timeout_source, g_task_get_context (task));

  output = g_io_stream_get_output_stream (G_IO_STREAM (data->connection));
  g_output_stream_write_all_async (output, data->request, data->request_len,
                                   G_PRIORITY_DEFAULT, data->cancellable,
                                   send_written_cb, g_object_ref (task));
}

static void
client_send_internal_async (const char           *root,
                            const char           *name,
                            const HolderRequest  *request,
                            guint                 timeout_ms,
                            guint                 dial_window_ms,
                            GCancellable         *cancellable,
                            GAsyncReadyCallback   callback,
                            gpointer              user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GError) error = NULL;
  g_autofree char *resolved = NULL;
  g_autofree char *path = NULL;
  SendData *data;

  g_task_set_source_tag (task, &send_tag);

  if (!holder_name_validate (name, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  resolved = client_resolve_root (root, &error);
  if (resolved == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  data = g_new0 (SendData, 1);
  g_task_set_task_data (task, data, (GDestroyNotify) send_data_free);
  data->name = g_strdup (name);
  data->request = holder_request_serialize (request, &data->request_len);
  data->timeout_ms = timeout_ms != 0 ? timeout_ms
                                     : HOLDER_CLIENT_DEFAULT_TIMEOUT_MS;
  data->buffer = g_byte_array_new ();
  data->cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      /* Our own cancellable also carries the timeout; the caller's
       * feeds it. Connecting calls back at once if already cancelled. */
      data->user_cancellable = g_object_ref (cancellable);
      data->user_cancel_id =
        g_cancellable_connect (cancellable,
                               G_CALLBACK (chain_cancel_cb),
                               g_object_ref (data->cancellable),
                               g_object_unref);
    }

  path = holder_store_socket_path (resolved, name);
  g_debug ("sending %s to %s", request->cmd, path);
  dial_async (path, dial_window_ms, data->cancellable, send_dialled_cb,
              g_object_ref (task));
}

void
holder_client_send_async (const char           *root,
                          const char           *name,
                          const HolderRequest  *request,
                          guint                 timeout_ms,
                          GCancellable         *cancellable,
                          GAsyncReadyCallback   callback,
                          gpointer              user_data)
{
  g_return_if_fail (name != NULL);
  g_return_if_fail (request != NULL && request->cmd != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  client_send_internal_async (root, name, request, timeout_ms,
                              HOLDER_CLIENT_DIAL_WINDOW_MS, cancellable,
                              callback, user_data);
}

HolderReply *
holder_client_send_finish (GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) ==
                        &send_tag, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* The synchronous form of every exchange: the async code on a private
 * context. */
static HolderReply *
client_send_sync (const char           *root,
                  const char           *name,
                  const HolderRequest  *request,
                  guint                 timeout_ms,
                  guint                 dial_window_ms,
                  GError              **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  GMainContext *context = private_context_push ();
  HolderReply *reply;

  client_send_internal_async (root, name, request, timeout_ms, dial_window_ms,
                              NULL, store_result_cb, &result);
  await_result (context, &result);
  reply = holder_client_send_finish (result, error);
  /* Drop the task (and its timeout source) while the context is ours. */
  g_clear_object (&result);
  private_context_pop (context);
  return reply;
}

HolderReply *
holder_client_send (const char           *root,
                    const char           *name,
                    const HolderRequest  *request,
                    guint                 timeout_ms,
                    GError              **error)
{
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (request != NULL && request->cmd != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return client_send_sync (root, name, request, timeout_ms,
                           HOLDER_CLIENT_DIAL_WINDOW_MS, error);
}

/* ---------------------------------------------------------------------------
 * Holder-wide commands
 */

gboolean
holder_client_create_network (const char  *root,
                              const char  *primary,
                              char       **out_subnet,
                              GError     **error)
{
  g_autoptr(HolderRequest) request = NULL;
  g_autoptr(HolderReply) reply = NULL;

  g_return_val_if_fail (primary != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  request = holder_request_new ("createnetwork");
  reply = holder_client_send (root, primary, request, 0, error);
  if (reply == NULL)
    return FALSE;
  if (out_subnet != NULL)
    *out_subnet = g_strdup (reply->subnet != NULL ? reply->subnet : "");
  return TRUE;
}

HolderReservation *
holder_client_reserve (const char  *root,
                       const char  *primary,
                       const char  *name,
                       const char  *ip_hint,
                       GError     **error)
{
  g_autoptr(HolderRequest) request = NULL;
  g_autoptr(HolderReply) reply = NULL;

  g_return_val_if_fail (primary != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  request = holder_request_new ("reserve");
  request->name = g_strdup (name);
  request->ip_hint = (ip_hint != NULL && *ip_hint != '\0')
                     ? g_strdup (ip_hint) : NULL;
  reply = holder_client_send (root, primary, request, 0, error);
  if (reply == NULL)
    return NULL;
  if (reply->reservation == NULL)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                   "reserve %s: the reply carries no reservation", name);
      return NULL;
    }
  return g_steal_pointer (&reply->reservation);
}

gboolean
holder_client_boot_member (const char              *root,
                           const char              *primary,
                           const HolderMemberSpec  *spec,
                           guint                    timeout_ms,
                           GError                 **error)
{
  g_autoptr(HolderRequest) request = NULL;
  g_autoptr(HolderReply) reply = NULL;

  g_return_val_if_fail (primary != NULL, FALSE);
  g_return_val_if_fail (spec != NULL && spec->name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* The helper replies once the guest has an address, which it bounds by
   * FLEETBOX_IP_WAIT_TIMEOUT; allow a minute on top for create and start. */
  if (timeout_ms == 0)
    timeout_ms = (guint) MIN (holder_ip_wait_timeout_usec () / 1000 + 60 * 1000,
                              (gint64) G_MAXUINT);

  request = holder_request_new ("boot-member");
  request->spec = holder_member_spec_copy (spec);
  reply = holder_client_send (root, primary, request, timeout_ms, error);
  return reply != NULL;
}

/* ---------------------------------------------------------------------------
 * Member status and lifetime
 */

static gboolean
client_is_running_at (const char *root,
                      const char *name)
{
  GPid pid = 0;

  if (!holder_store_read_pidfile (root, name, &pid, NULL))
    return FALSE;
  return holder_pid_is_alive (pid);
}

gboolean
holder_client_is_running (const char *root,
                          const char *name)
{
  g_autofree char *resolved = NULL;

  g_return_val_if_fail (name != NULL, FALSE);

  resolved = client_resolve_root (root, NULL);
  if (resolved == NULL)
    return FALSE;
  return client_is_running_at (resolved, name);
}

static HolderStatus *
client_status_from_store (const char  *root,
                          const char  *name,
                          GError     **error)
{
  g_autofree char *dir = holder_store_member_dir (root, name);
  HolderStatus *status;

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NOT_FOUND,
                   "member \"%s\" does not exist", name);
      return NULL;
    }
  status = g_new0 (HolderStatus, 1);
  status->name = g_strdup (name);
  status->pid = 0;
  status->running = FALSE;
  status->ip = g_strdup ("");
  status->state = g_strdup ("stopped");
  return status;
}

HolderStatus *
holder_client_status (const char  *root,
                      const char  *name,
                      GError     **error)
{
  g_autofree char *resolved = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!holder_name_validate (name, error))
    return NULL;
  resolved = client_resolve_root (root, error);
  if (resolved == NULL)
    return NULL;

  if (client_is_running_at (resolved, name))
    {
      g_autoptr(HolderRequest) request = holder_request_new ("status");
      g_autoptr(HolderReply) reply = NULL;

      reply = client_send_sync (resolved, name, request, STATUS_TIMEOUT_MS,
                                SHORT_DIAL_WINDOW_MS, &local_error);
      if (reply != NULL)
        {
          if (reply->status == NULL)
            {
              g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                           "status %s: the reply carries no status", name);
              return NULL;
            }
          return g_steal_pointer (&reply->status);
        }
      /* No socket, or a helper that hung up without answering: the member
       * is being retired under our feet, and the store knows the rest. */
      if (!g_error_matches (local_error, HOLDER_ERROR, HOLDER_ERROR_NOT_FOUND) &&
          !(g_error_matches (local_error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL) &&
            !client_is_running_at (resolved, name)))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      g_debug ("status %s: falling back to the store: %s", name,
               local_error->message);
    }

  return client_status_from_store (resolved, name, error);
}

gboolean
holder_client_stop (const char  *root,
                    const char  *name,
                    guint        timeout_ms,
                    GError     **error)
{
  g_autofree char *resolved = NULL;
  g_autoptr(HolderRequest) request = NULL;
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GError) local_error = NULL;
  gint64 deadline;

  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!holder_name_validate (name, error))
    return FALSE;
  resolved = client_resolve_root (root, error);
  if (resolved == NULL)
    return FALSE;

  if (!client_is_running_at (resolved, name))
    return TRUE;

  if (timeout_ms == 0)
    timeout_ms = STOP_DEFAULT_TIMEOUT_MS;
  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  /* The reply is only a courtesy ({} is written before the teardown): the
   * pidfile going away is what says the member has stopped. */
  request = holder_request_new ("stop");
  reply = client_send_sync (resolved, name, request, STOP_REPLY_TIMEOUT_MS,
                            SHORT_DIAL_WINDOW_MS, &local_error);
  if (reply == NULL)
    g_debug ("stop %s: %s", name, local_error->message);

  while (client_is_running_at (resolved, name))
    {
      if (g_get_monotonic_time () >= deadline)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                       "timed out waiting for member %s to stop", name);
          return FALSE;
        }
      g_usleep (STOP_POLL_MS * 1000);
    }
  return TRUE;
}

gboolean
holder_client_wait_running (const char          *root,
                            const char *const   *names,
                            guint                timeout_ms,
                            GHashTable         **out_statuses,
                            GError             **error)
{
  g_autoptr(GHashTable) statuses = NULL;
  g_autoptr(GPtrArray) pending = NULL;
  g_autofree char *resolved = NULL;
  g_autofree char *last_problem = NULL;
  gint64 start, deadline, cap;

  g_return_val_if_fail (names != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  resolved = client_resolve_root (root, error);
  if (resolved == NULL)
    return FALSE;

  /* Without a bound of its own, the wait is as long as one boot may be. */
  if (timeout_ms == 0)
    timeout_ms = (guint) MIN (holder_ip_wait_timeout_usec () / 1000 + 60 * 1000,
                              (gint64) G_MAXUINT);
  start = g_get_monotonic_time ();
  deadline = start + (gint64) timeout_ms * 1000;
  cap = start + (gint64) WAIT_DOWNLOAD_CAP_MS * 1000;

  statuses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                    (GDestroyNotify) holder_status_free);
  pending = g_ptr_array_new_with_free_func (g_free);
  for (gsize i = 0; names[i] != NULL; i++)
    {
      if (!holder_name_validate (names[i], error))
        return FALSE;
      if (!g_ptr_array_find_with_equal_func (pending, names[i], g_str_equal,
                                             NULL))
        g_ptr_array_add (pending, g_strdup (names[i]));
    }

  for (;;)
    {
      gint64 now;

      for (guint i = 0; i < pending->len;)
        {
          const char *name = g_ptr_array_index (pending, i);
          g_autoptr(GError) local_error = NULL;
          g_autoptr(HolderStatus) status = NULL;

          status = holder_client_status (resolved, name, &local_error);
          if (status == NULL)
            {
              /* Not registered yet (a helper still starting): keep
               * polling, and say why if the wait runs out. */
              g_free (last_problem);
              last_problem = g_strdup (local_error->message);
              i++;
              continue;
            }

          if (g_strcmp0 (status->state, "error") == 0)
            {
              g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "member %s failed: %s", name,
                           status->error != NULL ? status->error : "");
              return FALSE;
            }
          if (g_strcmp0 (status->state, "stopped") == 0)
            {
              g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NOT_FOUND,
                           "member %s stopped", name);
              return FALSE;
            }
          if (status->running && g_strcmp0 (status->state, "running") == 0 &&
              status->ip != NULL && *status->ip != '\0')
            {
              g_hash_table_replace (statuses, g_strdup (name),
                                    g_steal_pointer (&status));
              g_ptr_array_remove_index (pending, i);
              continue;
            }
          if (g_strcmp0 (status->state, "downloading") == 0)
            {
              /* An image download may legitimately take longer than a
               * boot: the clock restarts while it makes progress, within
               * the overall cap. */
              gint64 extended = g_get_monotonic_time () +
                                (gint64) timeout_ms * 1000;

              deadline = MAX (deadline, MIN (extended, cap));
            }
          i++;
        }

      if (pending->len == 0)
        break;

      now = g_get_monotonic_time ();
      if (now >= deadline)
        {
          g_autoptr(GString) list = g_string_new (NULL);

          for (guint i = 0; i < pending->len; i++)
            g_string_append_printf (list, "%s%s", i > 0 ? ", " : "",
                                    (const char *) g_ptr_array_index (pending, i));
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                       "timed out after %" G_GINT64_FORMAT " ms waiting for "
                       "%s to be running%s%s", (now - start) / 1000, list->str,
                       last_problem != NULL ? ": " : "",
                       last_problem != NULL ? last_problem : "");
          return FALSE;
        }
      g_usleep (MIN ((gint64) WAIT_POLL_MS * 1000, deadline - now));
    }

  if (out_statuses != NULL)
    *out_statuses = g_steal_pointer (&statuses);
  return TRUE;
}

/* ---------------------------------------------------------------------------
 * Spawning a helper
 */

struct _HolderHelper {
  GSubprocess       *process;
  GPid               pid;
  char              *root;
  char              *primary;
  char              *log_path;
  gboolean           detached;
  /* Bound: the acked control connection. The helper's death watch is armed
   * on it, so it must stay open exactly as long as the handle wants the
   * helper alive. */
  GSocketConnection *control;
};

/* Watches the helper process while spawn waits for it. */
typedef struct {
  GSubprocess  *process;
  GCancellable *wait_cancellable;
  GCancellable *step;      /* the current step; cancelled when it exits */
  gboolean      exited;
  gboolean      wait_done;
} SpawnWatch;

static void
spawn_watch_exited_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  SpawnWatch *watch = user_data;

  watch->exited = g_subprocess_wait_finish (G_SUBPROCESS (source), result,
                                            NULL);
  watch->wait_done = TRUE;
  if (watch->exited && watch->step != NULL)
    g_cancellable_cancel (watch->step);
}

static void
spawn_watch_start (SpawnWatch  *watch,
                   GSubprocess *process)
{
  watch->process = process;
  watch->wait_cancellable = g_cancellable_new ();
  g_subprocess_wait_async (process, watch->wait_cancellable,
                           spawn_watch_exited_cb, watch);
}

static void
spawn_watch_stop (SpawnWatch   *watch,
                  GMainContext *context)
{
  g_cancellable_cancel (watch->wait_cancellable);
  while (!watch->wait_done)
    g_main_context_iteration (context, TRUE);
  g_clear_object (&watch->wait_cancellable);
  g_clear_object (&watch->step);
}

/* Starts a step: a fresh cancellable the exit watch can interrupt. */
static GCancellable *
spawn_watch_begin_step (SpawnWatch *watch)
{
  g_clear_object (&watch->step);
  watch->step = g_cancellable_new ();
  if (watch->exited)
    g_cancellable_cancel (watch->step);
  return watch->step;
}

static void
set_helper_exited_error (GError      **error,
                         GSubprocess  *process,
                         const char   *when,
                         const char   *log_path)
{
  g_autofree char *how = NULL;

  if (g_subprocess_get_if_signaled (process))
    {
      int sig = g_subprocess_get_term_sig (process);

      how = g_strdup_printf ("was killed by signal %d (%s)", sig,
                             g_strsignal (sig));
    }
  else
    how = g_strdup_printf ("exited with status %d",
                           g_subprocess_get_exit_status (process));
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_HELPER_EXITED,
               "helper %s %s%s%s%s", how, when,
               log_path != NULL ? " (see " : "",
               log_path != NULL ? log_path : "",
               log_path != NULL ? ")" : "");
}

/* Kills a helper spawn gives up on, and reaps it. */
static void
spawn_kill (SpawnWatch   *watch,
            GMainContext *context)
{
  gint64 deadline;

  if (watch->exited)
    return;
  g_subprocess_force_exit (watch->process);
  deadline = g_get_monotonic_time () + KILL_REAP_TIMEOUT_MS * 1000;
  while (!watch->exited && g_get_monotonic_time () < deadline)
    context_sleep (context, DIAL_RETRY_MS, NULL);
}

/* The bind handshake of protocol-v2.md section 5, retried (the helper drops
 * a connection it does not get to answer, and may not listen yet) until it
 * is acked, the window closes, or the helper exits. */
static gboolean
spawn_bind (HolderHelper  *helper,
            SpawnWatch    *watch,
            GMainContext  *context,
            GError       **error)
{
  g_autofree char *path = NULL;
  g_autofree char *last_problem = NULL;
  gint64 deadline;

  path = holder_store_control_socket_path (helper->root, helper->primary);
  deadline = g_get_monotonic_time () + bind_window_ms () * 1000;

  for (;;)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GSocketConnection) connection = NULL;
      g_autoptr(GError) local_error = NULL;
      char answer[HANDSHAKE_READ_MAX + 1];
      GCancellable *step;
      StepTimer timer = { 0 };
      gint64 remaining;
      gssize n;

      remaining = (deadline - g_get_monotonic_time ()) / 1000;
      if (watch->exited)
        {
          set_helper_exited_error (error, watch->process, "before binding",
                                   NULL);
          return FALSE;
        }
      if (remaining <= 0)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                       "helper did not complete the bind handshake on %s "
                       "within %d ms%s%s", path, bind_window_ms (),
                       last_problem != NULL ? ": " : "",
                       last_problem != NULL ? last_problem : "");
          return FALSE;
        }

      step = spawn_watch_begin_step (watch);
      dial_async (path, (guint) remaining, step, store_result_cb, &result);
      await_result (context, &result);
      connection = dial_finish (result, &local_error);
      g_clear_object (&result);
      if (connection == NULL)
        {
          if (!watch->exited && !io_error_is_absent_socket (local_error))
            {
              g_set_error (error, HOLDER_ERROR,
                           g_error_matches (local_error, G_IO_ERROR,
                                            G_IO_ERROR_PERMISSION_DENIED)
                           ? HOLDER_ERROR_PERMISSION_DENIED
                           : HOLDER_ERROR_FAILED,
                           "connect to %s: %s", path, local_error->message);
              return FALSE;
            }
          g_free (last_problem);
          last_problem = g_strdup (local_error->message);
          continue;
        }

      /* Each step is one write or one read: the helper reads `bind` with a
       * single read of at most 64 bytes. */
      g_output_stream_write_all_async (
        g_io_stream_get_output_stream (G_IO_STREAM (connection)),
        "bind", 4, G_PRIORITY_DEFAULT, step, store_result_cb, &result);
      await_result (context, &result);
      if (!g_output_stream_write_all_finish (
             g_io_stream_get_output_stream (G_IO_STREAM (connection)),
             result, NULL, &local_error))
        {
          g_clear_object (&result);
          g_free (last_problem);
          last_problem = g_strdup (local_error->message);
          context_sleep (context, DIAL_RETRY_MS, step);
          continue;
        }
      g_clear_object (&result);

      step_timer_start (&timer, step, HANDSHAKE_READ_TIMEOUT_MS);
      g_input_stream_read_async (
        g_io_stream_get_input_stream (G_IO_STREAM (connection)),
        answer, HANDSHAKE_READ_MAX, G_PRIORITY_DEFAULT, step,
        store_result_cb, &result);
      await_result (context, &result);
      step_timer_stop (&timer);
      n = g_input_stream_read_finish (
            g_io_stream_get_input_stream (G_IO_STREAM (connection)),
            result, &local_error);
      g_clear_object (&result);
      if (n <= 0)
        {
          /* Dropped before answering (or too slow): try a new connection. */
          g_free (last_problem);
          last_problem = g_strdup (n == 0 ? "the helper closed the control "
                                            "connection"
                                          : timer.fired
                                          ? "no answer to bind"
                                          : local_error->message);
          g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
          context_sleep (context, DIAL_RETRY_MS, step);
          continue;
        }

      answer[n] = '\0';
      g_strstrip (answer);
      if (strcmp (answer, HOLDER_PROTOCOL_VERSION) != 0)
        {
          g_autoptr(GString) quoted = g_string_new (NULL);

          holder_append_go_quoted (quoted, answer);
          g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_VERSION_MISMATCH,
                       "helper speaks protocol %s, this client speaks \"%s\"",
                       quoted->str, HOLDER_PROTOCOL_VERSION);
          return FALSE;
        }

      g_output_stream_write_all_async (
        g_io_stream_get_output_stream (G_IO_STREAM (connection)),
        "ack", 3, G_PRIORITY_DEFAULT, step, store_result_cb, &result);
      await_result (context, &result);
      if (!g_output_stream_write_all_finish (
             g_io_stream_get_output_stream (G_IO_STREAM (connection)),
             result, NULL, &local_error))
        {
          g_clear_object (&result);
          g_free (last_problem);
          last_problem = g_strdup (local_error->message);
          g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
          context_sleep (context, DIAL_RETRY_MS, step);
          continue;
        }

      helper->control = g_steal_pointer (&connection);
      return TRUE;
    }
}

/* A detached helper is ready once its primary's socket accepts and its
 * pidfile names it (not a stale helper serving the same name). The probe
 * connection carries no request: the helper sees EOF and drops it. */
static gboolean
spawn_await_detached (HolderHelper  *helper,
                      SpawnWatch    *watch,
                      GMainContext  *context,
                      GError       **error)
{
  g_autofree char *path = holder_store_socket_path (helper->root,
                                                    helper->primary);
  g_autofree char *last_problem = NULL;
  gint64 deadline = g_get_monotonic_time () +
                    (gint64) HOLDER_CLIENT_DIAL_WINDOW_MS * 1000;

  for (;;)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GSocketConnection) connection = NULL;
      g_autoptr(GError) local_error = NULL;
      GCancellable *step;
      gint64 remaining;
      GPid pid = 0;

      remaining = (deadline - g_get_monotonic_time ()) / 1000;
      if (watch->exited)
        {
          set_helper_exited_error (error, watch->process,
                                   "before serving its members",
                                   helper->log_path);
          return FALSE;
        }
      if (remaining <= 0)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                       "helper did not serve %s within %d ms%s%s",
                       path, HOLDER_CLIENT_DIAL_WINDOW_MS,
                       last_problem != NULL ? ": " : "",
                       last_problem != NULL ? last_problem : "");
          return FALSE;
        }

      step = spawn_watch_begin_step (watch);
      dial_async (path, (guint) remaining, step, store_result_cb, &result);
      await_result (context, &result);
      connection = dial_finish (result, &local_error);
      if (connection == NULL)
        {
          if (!watch->exited && !io_error_is_absent_socket (local_error))
            {
              g_set_error (error, HOLDER_ERROR,
                           g_error_matches (local_error, G_IO_ERROR,
                                            G_IO_ERROR_PERMISSION_DENIED)
                           ? HOLDER_ERROR_PERMISSION_DENIED
                           : HOLDER_ERROR_FAILED,
                           "connect to %s: %s", path, local_error->message);
              return FALSE;
            }
          g_free (last_problem);
          last_problem = g_strdup (local_error->message);
          continue;
        }
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);

      if (holder_store_read_pidfile (helper->root, helper->primary, &pid, NULL) &&
          pid == helper->pid)
        return TRUE;
      g_free (last_problem);
      last_problem = g_strdup_printf ("the pidfile of %s does not name "
                                      "pid %d yet", helper->primary,
                                      (int) helper->pid);
      context_sleep (context, DIAL_RETRY_MS, step);
    }
}

static void
detached_child_setup (gpointer user_data)
{
  /* A new session: no terminal's hangup or job-control signal reaches the
   * helper, so its VMs outlive the caller. */
  setsid ();
}

HolderHelper *
holder_helper_spawn (const char         *helper_path,
                     const char *const  *names,
                     const char *const  *envp,
                     HolderSpawnFlags    flags,
                     GError            **error)
{
  g_autoptr(HolderHelper) helper = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_auto(GStrv) env = NULL;
  g_autofree char *program = NULL;
  g_autofree char *joined = NULL;
  const char *argv[4];
  GMainContext *context;
  g_autoptr(GError) spawn_error = NULL;
  SpawnWatch watch = { 0 };
  gboolean ok;

  g_return_val_if_fail (names != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (names[0] == NULL)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                           "no VM names provided");
      return NULL;
    }
  for (gsize i = 0; names[i] != NULL; i++)
    {
      if (!holder_name_validate (names[i], error))
        return NULL;
      /* The runner flag's value is split on commas. */
      if (strchr (names[i], ',') != NULL)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_NAME,
                       "member name \"%s\" contains a comma", names[i]);
          return NULL;
        }
    }

  if (helper_path != NULL)
    program = g_strdup (helper_path);
  else
    {
      program = g_file_read_link ("/proc/self/exe", error);
      if (program == NULL)
        {
          g_prefix_error (error, "find the calling program: ");
          return NULL;
        }
    }

  env = envp != NULL ? g_strdupv ((char **) envp) : g_get_environ ();
  helper = g_new0 (HolderHelper, 1);
  helper->detached = (flags & HOLDER_SPAWN_FLAGS_DETACHED) != 0;
  helper->primary = g_strdup (names[0]);
  helper->root = holder_store_resolve_root_for_environ ((const char *const *) env, error);
  if (helper->root == NULL)
    return NULL;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  if (helper->detached)
    {
      g_autofree char *log_name = g_strdup_printf ("runner-%s.log",
                                                   helper->primary);
      int fd;

      env = g_environ_unsetenv (env, HOLDER_PARENT_PID_ENV);
      if (!holder_store_ensure_root (helper->root, error))
        return NULL;
      helper->log_path = g_build_filename (helper->root, log_name, NULL);
      fd = open (helper->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                 0644);
      if (fd < 0)
        {
          int saved = errno;

          g_set_error (error, HOLDER_ERROR,
                       saved == EACCES ? HOLDER_ERROR_PERMISSION_DENIED
                                       : HOLDER_ERROR_FAILED,
                       "open %s: %s", helper->log_path, g_strerror (saved));
          return NULL;
        }
      g_subprocess_launcher_take_stdout_fd (launcher, fd);
      g_subprocess_launcher_take_stderr_fd (launcher, dup (fd));
      g_subprocess_launcher_set_child_setup (launcher, detached_child_setup,
                                             NULL, NULL);
    }
  else
    {
      g_autofree char *ppid = g_strdup_printf ("%d", (int) getpid ());

      env = g_environ_setenv (env, HOLDER_PARENT_PID_ENV, ppid, TRUE);
    }
  g_subprocess_launcher_set_environ (launcher, env);

  joined = g_strjoinv (",", (char **) names);
  argv[0] = program;
  argv[1] = HOLDER_RUNNER_FLAG;
  argv[2] = joined;
  argv[3] = NULL;

  context = private_context_push ();
  helper->process = g_subprocess_launcher_spawnv (launcher, argv,
                                                  &spawn_error);
  if (helper->process == NULL)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED, "spawn %s: %s",
                   program, spawn_error->message);
      private_context_pop (context);
      return NULL;
    }
  /* NULL only if it was already reaped: then the exit watch reports it. */
  if (g_subprocess_get_identifier (helper->process) != NULL)
    helper->pid = (GPid) g_ascii_strtoll (
      g_subprocess_get_identifier (helper->process), NULL, 10);
  g_debug ("spawned %s helper %d for %s", helper->detached ? "detached"
                                                           : "bound",
           (int) helper->pid, joined);

  spawn_watch_start (&watch, helper->process);
  if (helper->detached)
    ok = spawn_await_detached (helper, &watch, context, error);
  else
    ok = spawn_bind (helper, &watch, context, error);
  if (!ok)
    spawn_kill (&watch, context);
  spawn_watch_stop (&watch, context);
  private_context_pop (context);

  if (!ok)
    return NULL;
  return g_steal_pointer (&helper);
}

GPid
holder_helper_get_pid (HolderHelper *helper)
{
  g_return_val_if_fail (helper != NULL, 0);
  return helper->pid;
}

const char *
holder_helper_get_root (HolderHelper *helper)
{
  g_return_val_if_fail (helper != NULL, NULL);
  return helper->root;
}

const char *
holder_helper_get_primary (HolderHelper *helper)
{
  g_return_val_if_fail (helper != NULL, NULL);
  return helper->primary;
}

static void
helper_close_control (HolderHelper *helper)
{
  if (helper->control != NULL)
    {
      g_io_stream_close (G_IO_STREAM (helper->control), NULL, NULL);
      g_clear_object (&helper->control);
    }
}

gboolean
holder_helper_close (HolderHelper  *helper,
                     guint          timeout_ms,
                     int           *out_exit_status,
                     GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GError) local_error = NULL;
  StepTimer timer = { 0 };
  GMainContext *context;
  gboolean exited;

  g_return_val_if_fail (helper != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (helper->detached)
    return TRUE;

  /* EOF on the acked connection is the helper's signal to tear down. */
  helper_close_control (helper);

  if (timeout_ms == 0)
    timeout_ms = STOP_DEFAULT_TIMEOUT_MS;
  cancellable = g_cancellable_new ();
  context = private_context_push ();
  step_timer_start (&timer, cancellable, timeout_ms);
  g_subprocess_wait_async (helper->process, cancellable, store_result_cb,
                           &result);
  await_result (context, &result);
  step_timer_stop (&timer);
  exited = g_subprocess_wait_finish (helper->process, result, &local_error);
  g_clear_object (&result);
  private_context_pop (context);

  if (!exited)
    {
      if (timer.fired)
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                     "timed out after %u ms waiting for the helper (pid %d) "
                     "to exit", timeout_ms, (int) helper->pid);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (out_exit_status != NULL)
    *out_exit_status = g_subprocess_get_status (helper->process);
  return TRUE;
}

void
holder_helper_free (HolderHelper *helper)
{
  if (helper == NULL)
    return;
  /* Closing is instant; a bound helper notices and tears down by itself.
   * GSubprocess keeps reaping the child after the last unref. */
  helper_close_control (helper);
  g_clear_object (&helper->process);
  g_free (helper->root);
  g_free (helper->primary);
  g_free (helper->log_path);
  g_free (helper);
}
