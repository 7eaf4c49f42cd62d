/* holder-client.c: the client half of protocol v2: one request per
 * connection, and the status, stop and wait calls built on it. Spawning
 * and binding a helper is in holder-helper.c, the plumbing both share in
 * holder-client-io.c.
 *
 * There is exactly one implementation of every exchange, and it is
 * asynchronous: it runs on the caller's thread-default main context. The
 * synchronous entry points run that same code on a private GMainContext
 * pushed as thread-default and iterate it until the operation is done (the
 * pattern GIO itself uses), so they never dispatch the caller's sources.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-client"

#include "holder-client.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "holder-client-io-private.h"
#include "holder-codec-private.h"
#include "holder-error.h"
#include "holder-store.h"
#include "holder-store-private.h"
#include "holder-util-private.h"

/* Status and stop dial a socket whose pidfile names a live helper: if the
 * socket is not there within this, the member is being retired (or was
 * never served) and the store has the answer. */
#define SHORT_DIAL_WINDOW_MS 1000
/* Bound on the reply to status, and to the best-effort stop. */
#define STATUS_TIMEOUT_MS (10 * 1000)
#define STOP_REPLY_TIMEOUT_MS (5 * 1000)
#define STOP_POLL_MS 10
/* Default for holder_client_stop(). */
#define STOP_DEFAULT_TIMEOUT_MS (30 * 1000)
#define WAIT_POLL_MS 20
/* A member that is still downloading its image keeps holder_client_wait_running()
 * waiting past its timeout, but never past this (the Go client's bound). */
#define WAIT_DOWNLOAD_CAP_MS (30 * 60 * 1000)

/* A GTask source tag (a function pointer is not a gpointer in ISO C). */
static char send_tag;

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

  data->connection = holder_client_dial_finish (result, &error);
  if (data->connection == NULL)
    {
      if (holder_client_error_is_absent_socket (error))
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
  resolved = holder_client_resolve_root (root, &error);
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
                               G_CALLBACK (holder_client_chain_cancel_cb),
                               g_object_ref (data->cancellable),
                               g_object_unref);
    }

  path = holder_store_socket_path (resolved, name);
  g_debug ("sending %s to %s", request->cmd, path);
  holder_client_dial_async (path, dial_window_ms, data->cancellable, send_dialled_cb,
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
  GMainContext *context = holder_client_context_push ();
  HolderReply *reply;

  client_send_internal_async (root, name, request, timeout_ms, dial_window_ms,
                              NULL, holder_client_store_result_cb, &result);
  holder_client_await_result (context, &result);
  reply = holder_client_send_finish (result, error);
  /* Drop the task (and its timeout source) while the context is ours. */
  g_clear_object (&result);
  holder_client_context_pop (context);
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

/* Served by a live helper: it holds the member's lock (a pid in a pidfile
 * may have been reused; a lock dies with its helper). */
static gboolean
client_is_running_at (const char *root,
                      const char *name)
{
  return holder_store_member_is_served (root, name, NULL);
}

gboolean
holder_client_is_running (const char *root,
                          const char *name)
{
  g_autofree char *resolved = NULL;

  g_return_val_if_fail (name != NULL, FALSE);

  resolved = holder_client_resolve_root (root, NULL);
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
  resolved = holder_client_resolve_root (root, error);
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
  resolved = holder_client_resolve_root (root, error);
  if (resolved == NULL)
    return FALSE;

  if (!client_is_running_at (resolved, name))
    return TRUE;

  if (timeout_ms == 0)
    timeout_ms = STOP_DEFAULT_TIMEOUT_MS;
  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  /* The reply is only a courtesy ({} is written before the teardown): the
   * member's lock going away (after its socket and pidfile) is what says
   * it has stopped. */
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

  resolved = holder_client_resolve_root (root, error);
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
