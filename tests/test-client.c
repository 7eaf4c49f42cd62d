/* SPDX-License-Identifier: MIT
 *
 * The client half against scripted servers: each test runs a tiny server
 * on a Unix socket at the member's hashed path under a temporary root. The
 * server lives in its own thread with its own GMainContext, so the
 * synchronous client calls made from the test's thread can block freely.
 */
#define G_LOG_DOMAIN "holder-test-client"

#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixsocketaddress.h>

#include "holder-client.h"
#include "holder-error.h"
#include "holder-store.h"
#include "holder-store-claim-private.h"
#include "holder-types.h"
#include "holder-test-util.h"

/* ---------------------------------------------------------------------------
 * The scripted server
 */

typedef enum {
  SCRIPT_REPLY,   /* read the request line, write the canned reply, close */
  SCRIPT_CLOSE,   /* read the request line, close without a word */
  SCRIPT_SILENT,  /* read the request line, then hold the connection open */
} ScriptMode;

typedef struct {
  char            *path;
  ScriptMode       mode;
  GPtrArray       *replies;          /* used in turn; the last one repeats */
  guint            start_delay_ms;
  /* Set: the scripted helper retires its member once it has replied (its
   * pidfile goes, then its lock). */
  char            *unlink_after_reply;
  /* The member's lock, when the script plays a live helper serving it. */
  HolderStoreDir  *store;
  char            *lock_name;
  int              lock_fd;

  GMainContext    *context;
  GMainLoop       *loop;
  GThread         *thread;
  GCancellable    *cancellable;
  GSocketListener *listener;
  GPtrArray       *held;             /* silent connections */
  guint            outstanding;      /* async operations in flight */
  guint            served;

  GMutex           lock;
  GCond            cond;
  gboolean         ready;
  GPtrArray       *requests;         /* recorded request lines (with \n) */
} Script;

typedef struct {
  Script            *script;
  GSocketConnection *connection;
  GByteArray        *buffer;
  guint8             chunk[4096];
} ScriptConn;

static void script_accept (Script *script);

static void
script_conn_free (ScriptConn *conn)
{
  g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
  g_object_unref (conn->connection);
  g_byte_array_unref (conn->buffer);
  g_free (conn);
}

static void
script_written_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ScriptConn *conn = user_data;
  Script *script = conn->script;

  /* A client that gave up (the oversized reply) makes this fail: fine. */
  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL,
                                    NULL);
  if (script->unlink_after_reply != NULL)
    {
      g_unlink (script->unlink_after_reply);
      if (script->lock_fd >= 0)
        holder_store_lock_drop (script->store, script->lock_name, script->lock_fd);
      script->lock_fd = -1;
    }
  script_conn_free (conn);
  script->outstanding--;
}

static void
script_respond (ScriptConn *conn)
{
  Script *script = conn->script;
  const char *reply;
  guint index;

  g_mutex_lock (&script->lock);
  g_ptr_array_add (script->requests,
                   g_strndup ((const char *) conn->buffer->data,
                              conn->buffer->len));
  g_mutex_unlock (&script->lock);

  switch (script->mode)
    {
    case SCRIPT_CLOSE:
      script_conn_free (conn);
      return;
    case SCRIPT_SILENT:
      g_ptr_array_add (script->held, conn);
      return;
    case SCRIPT_REPLY:
    default:
      break;
    }

  g_mutex_lock (&script->lock);
  index = MIN (script->served, script->replies->len - 1);
  script->served++;
  g_mutex_unlock (&script->lock);
  reply = g_ptr_array_index (script->replies, index);
  script->outstanding++;
  g_output_stream_write_all_async (
    g_io_stream_get_output_stream (G_IO_STREAM (conn->connection)),
    reply, strlen (reply), G_PRIORITY_DEFAULT, script->cancellable,
    script_written_cb, conn);
}

static void script_read (ScriptConn *conn);

static void
script_read_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  ScriptConn *conn = user_data;
  Script *script = conn->script;
  gssize n;

  script->outstanding--;
  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);
  if (n < 0)
    {
      script_conn_free (conn);
      return;
    }
  if (n == 0)
    {
      /* A probe with no request: nothing to record or answer. */
      if (conn->buffer->len == 0)
        script_conn_free (conn);
      else
        script_respond (conn);
      return;
    }
  g_byte_array_append (conn->buffer, conn->chunk, n);
  if (memchr (conn->buffer->data, '\n', conn->buffer->len) != NULL)
    script_respond (conn);
  else
    script_read (conn);
}

static void
script_read (ScriptConn *conn)
{
  conn->script->outstanding++;
  g_input_stream_read_async (
    g_io_stream_get_input_stream (G_IO_STREAM (conn->connection)),
    conn->chunk, sizeof conn->chunk, G_PRIORITY_DEFAULT,
    conn->script->cancellable, script_read_cb, conn);
}

static void
script_accepted_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  Script *script = user_data;
  GSocketConnection *connection;
  ScriptConn *conn;

  script->outstanding--;
  connection = g_socket_listener_accept_finish (G_SOCKET_LISTENER (source),
                                                result, NULL, NULL);
  if (connection == NULL)
    return;
  conn = g_new0 (ScriptConn, 1);
  conn->script = script;
  conn->connection = connection;
  conn->buffer = g_byte_array_new ();
  script_read (conn);
  script_accept (script);
}

static void
script_accept (Script *script)
{
  script->outstanding++;
  g_socket_listener_accept_async (script->listener, script->cancellable,
                                  script_accepted_cb, script);
}

static gboolean
script_listen_cb (gpointer user_data)
{
  Script *script = user_data;
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (script->path);
  g_autoptr(GError) error = NULL;

  script->listener = g_socket_listener_new ();
  g_socket_listener_add_address (script->listener, address,
                                 G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL,
                                 &error);
  g_assert_no_error (error);
  script_accept (script);
  return G_SOURCE_REMOVE;
}

static gpointer
script_thread (gpointer user_data)
{
  Script *script = user_data;

  g_main_context_push_thread_default (script->context);
  if (script->start_delay_ms == 0)
    script_listen_cb (script);
  else
    {
      g_autoptr(GSource) source = g_timeout_source_new (script->start_delay_ms);

      g_source_set_callback (source, script_listen_cb, script, NULL);
      g_source_attach (source, script->context);
    }

  g_mutex_lock (&script->lock);
  script->ready = TRUE;
  g_cond_signal (&script->cond);
  g_mutex_unlock (&script->lock);

  g_main_loop_run (script->loop);

  /* Wind down: every operation in flight completes (cancelled) before the
   * thread goes, so nothing leaks. */
  g_cancellable_cancel (script->cancellable);
  while (script->outstanding > 0)
    g_main_context_iteration (script->context, TRUE);
  g_ptr_array_set_size (script->held, 0);
  if (script->listener != NULL)
    g_socket_listener_close (script->listener);
  g_clear_object (&script->listener);
  while (g_main_context_iteration (script->context, FALSE))
    ;
  g_main_context_pop_thread_default (script->context);
  return NULL;
}

/* Serves @name's socket under @root. @replies: NULL-terminated canned
 * replies, used in turn, the last one repeating. */
static Script *
script_start (const char        *root,
              const char        *name,
              ScriptMode         mode,
              const char *const *replies,
              guint              start_delay_ms)
{
  Script *script = g_new0 (Script, 1);

  script->path = holder_store_socket_path (root, name);
  script->mode = mode;
  script->replies = g_ptr_array_new_with_free_func (g_free);
  for (gsize i = 0; replies != NULL && replies[i] != NULL; i++)
    g_ptr_array_add (script->replies, g_strdup (replies[i]));
  if (script->replies->len == 0)
    g_ptr_array_add (script->replies, g_strdup ("{}\n"));
  script->start_delay_ms = start_delay_ms;
  script->lock_fd = -1;
  script->context = g_main_context_new ();
  script->loop = g_main_loop_new (script->context, FALSE);
  script->cancellable = g_cancellable_new ();
  script->held = g_ptr_array_new_with_free_func ((GDestroyNotify) script_conn_free);
  script->requests = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&script->lock);
  g_cond_init (&script->cond);

  script->thread = g_thread_new ("script", script_thread, script);
  g_mutex_lock (&script->lock);
  while (!script->ready)
    g_cond_wait (&script->cond, &script->lock);
  g_mutex_unlock (&script->lock);
  return script;
}

static void
script_stop (Script *script)
{
  g_main_loop_quit (script->loop);
  g_thread_join (script->thread);
  g_unlink (script->path);
  if (script->lock_fd >= 0)
    holder_store_lock_drop (script->store, script->lock_name, script->lock_fd);
  g_clear_pointer (&script->store, holder_store_dir_unref);
  g_free (script->lock_name);
  g_main_loop_unref (script->loop);
  g_main_context_unref (script->context);
  g_object_unref (script->cancellable);
  g_ptr_array_unref (script->held);
  g_ptr_array_unref (script->requests);
  g_ptr_array_unref (script->replies);
  g_mutex_clear (&script->lock);
  g_cond_clear (&script->cond);
  g_free (script->unlink_after_reply);
  g_free (script->path);
  g_free (script);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Script, script_stop)

/* The request lines recorded so far, joined. */
static char *
script_requests (Script *script)
{
  GString *all = g_string_new (NULL);

  g_mutex_lock (&script->lock);
  for (guint i = 0; i < script->requests->len; i++)
    g_string_append (all, g_ptr_array_index (script->requests, i));
  g_mutex_unlock (&script->lock);
  return g_string_free (all, FALSE);
}

/* Takes @name's member lock, as the helper serving it does. */
static int
take_member_lock (HolderStoreDir *store,
                  const char     *lock_name)
{
  g_autoptr(GError) error = NULL;
  int fd = -1;

  g_assert_cmpint (holder_store_lock_take (store, lock_name, &fd, &error), ==,
                   HOLDER_STORE_LOCK_TAKEN);
  g_assert_no_error (error);
  return fd;
}

static char *
member_lock_name (const char *name)
{
  g_autofree char *hash = holder_store_socket_hash (name);

  return g_strconcat (hash, ".sock.lock", NULL);
}

static void write_pidfile (const char *root, const char *name, GPid pid);

/* The script plays a live helper serving @name: its pidfile names us, and
 * it holds the member's lock (which is what tells a live helper). */
static void
script_serve (Script     *script,
              const char *root,
              const char *name)
{
  g_autoptr(GError) error = NULL;

  write_pidfile (root, name, getpid ());
  script->store = holder_store_dir_open (root, HOLDER_STORE_DIR_READ, &error);
  g_assert_no_error (error);
  script->lock_name = member_lock_name (name);
  script->lock_fd = take_member_lock (script->store, script->lock_name);
}

/* ---------------------------------------------------------------------------
 * Fixture: a temporary root with its run/ folder
 */

typedef struct {
  char *root;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *run = NULL;

  fixture->root = g_dir_make_tmp ("holder-client-XXXXXX", &error);
  g_assert_no_error (error);
  run = g_build_filename (fixture->root, "run", NULL);
  g_assert_cmpint (g_mkdir_with_parents (run, 0755), ==, 0);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  holder_test_remove_tree (fixture->root);
  g_free (fixture->root);
}

static void
make_member_dir (const char *root,
                 const char *name)
{
  g_autofree char *dir = holder_store_member_dir (root, name);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
}

static void
write_pidfile (const char *root,
               const char *name,
               GPid        pid)
{
  g_autofree char *path = holder_store_pidfile_path (root, name);
  g_autofree char *text = g_strdup_printf ("%d", (int) pid);
  g_autoptr(GError) error = NULL;

  make_member_dir (root, name);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static gint64
elapsed_ms (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1000;
}

/* A child that has exited and been reaped: its pid names nothing. */
static GPid
dead_pid (void)
{
  pid_t pid = fork ();
  int status = 0;

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  return pid;
}

/* A child that has exited and NOT been reaped. The caller reaps it. */
static GPid
zombie_pid (void)
{
  pid_t pid = fork ();
  g_autofree char *stat_path = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (0);

  stat_path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  for (;;)
    {
      g_autofree char *stat = NULL;
      const char *paren;

      g_assert_true (g_file_get_contents (stat_path, &stat, NULL, NULL));
      paren = strrchr (stat, ')');
      g_assert_nonnull (paren);
      if (paren[1] == ' ' && paren[2] == 'Z')
        return pid;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static void
reap (GPid pid)
{
  int status = 0;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
}

/* ---------------------------------------------------------------------------
 * Sending
 */

static void
test_golden_requests (Fixture       *fixture,
                      gconstpointer  data)
{
  const char *reserve_reply[] = {
    "{\"reservation\":{\"ip\":\"192.168.7.9\",\"mac\":\"02:11:22:33:44:55\"}}\n",
    NULL
  };
  const char *network_replies[] = {
    "{\"subnet\":\"192.168.7.0/24\"}\n", "{}\n", NULL
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReservation) reservation = NULL;
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autofree char *subnet = NULL;
  g_autofree char *subnet2 = NULL;
  g_autofree char *sent = NULL;

  {
    g_autoptr(Script) script = script_start (fixture->root, "web-1",
                                             SCRIPT_REPLY, reserve_reply, 0);

    reservation = holder_client_reserve (fixture->root, "web-1", "web-1",
                                         "192.168.7.9", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (reservation->ip, ==, "192.168.7.9");
    g_assert_cmpstr (reservation->mac, ==, "02:11:22:33:44:55");
    sent = script_requests (script);
    g_assert_cmpstr (sent, ==,
                     "{\"cmd\":\"reserve\",\"name\":\"web-1\","
                     "\"ip_hint\":\"192.168.7.9\"}\n");
    g_clear_pointer (&sent, g_free);
  }

  {
    g_autoptr(Script) script = script_start (fixture->root, "web-1",
                                             SCRIPT_REPLY, network_replies, 0);

    g_assert_true (holder_client_create_network (fixture->root, "web-1",
                                                 &subnet, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (subnet, ==, "192.168.7.0/24");
    /* A DHCP-style backend answers {}: the subnet is "". */
    g_assert_true (holder_client_create_network (fixture->root, "web-1",
                                                 &subnet2, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (subnet2, ==, "");

    /* {} carries no reservation. */
    g_assert_null (holder_client_reserve (fixture->root, "web-1", "web-2",
                                          NULL, &error));
    g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL);
    g_clear_error (&error);

    spec = holder_member_spec_new ("web-2");
    g_free (spec->disk_path);
    spec->disk_path = g_strdup ("/d/web-2.qcow2");
    g_free (spec->seed_path);
    spec->seed_path = g_strdup ("/d/seed.iso");
    spec->cpus = 2;
    spec->memory_bytes = G_GUINT64_CONSTANT (1073741824);
    g_assert_true (holder_client_boot_member (fixture->root, "web-1", spec, 0,
                                              &error));
    g_assert_no_error (error);

    sent = script_requests (script);
    g_assert_cmpstr (sent, ==,
                     "{\"cmd\":\"createnetwork\"}\n"
                     "{\"cmd\":\"createnetwork\"}\n"
                     "{\"cmd\":\"reserve\",\"name\":\"web-2\"}\n"
                     "{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"web-2\","
                     "\"disk_path\":\"/d/web-2.qcow2\",\"seed_path\":"
                     "\"/d/seed.iso\",\"cpus\":2,\"memory_bytes\":1073741824}}\n");
  }
}

static void
test_dial_retry (Fixture       *fixture,
                 gconstpointer  data)
{
  const char *replies[] = { "{\"subnet\":\"10.9.0.0/24\"}\n", NULL };
  g_autoptr(Script) script = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *subnet = NULL;
  gint64 start = g_get_monotonic_time ();

  /* The socket only appears 200 ms after the call has started dialling. */
  script = script_start (fixture->root, "late", SCRIPT_REPLY, replies, 200);
  g_assert_true (holder_client_create_network (fixture->root, "late", &subnet,
                                               &error));
  g_assert_no_error (error);
  g_assert_cmpstr (subnet, ==, "10.9.0.0/24");
  g_assert_cmpint (elapsed_ms (start), >=, 150);
}

static void
test_dial_window (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(HolderRequest) request = holder_request_new ("status");
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = holder_store_socket_path (fixture->root, "gone");
  gint64 start;

  /* A stale file of a dead helper: connect() is refused, again and again. */
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  start = g_get_monotonic_time ();
  reply = holder_client_send (fixture->root, "gone", request, 0, &error);
  g_assert_null (reply);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NOT_FOUND);
  g_assert_cmpint (elapsed_ms (start), >=, HOLDER_CLIENT_DIAL_WINDOW_MS - 100);
  g_assert_cmpint (elapsed_ms (start), <, HOLDER_CLIENT_DIAL_WINDOW_MS + 5000);
}

static void
test_error_replies (Fixture       *fixture,
                    gconstpointer  data)
{
  static const struct {
    const char *text;
    int         code;
  } cases[] = {
    { "network not created", HOLDER_ERROR_NETWORK_NOT_CREATED },
    { "member web-1 was not reserved", HOLDER_ERROR_NOT_RESERVED },
    { "member web-1 is already running", HOLDER_ERROR_ALREADY_RUNNING },
    { "member web-1 was stopped during boot", HOLDER_ERROR_STOPPED_DURING_BOOT },
    { "create web-1: disk is gone", HOLDER_ERROR_BACKEND },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *canned = g_strdup_printf ("{\"error\":\"%s\"}\n",
                                                 cases[i].text);
      const char *replies[] = { canned, NULL };
      g_autoptr(Script) script = script_start (fixture->root, "web-1",
                                               SCRIPT_REPLY, replies, 0);
      g_autoptr(HolderRequest) request = holder_request_new ("boot-member");
      g_autoptr(HolderReply) reply = NULL;
      g_autoptr(GError) error = NULL;

      request->spec = holder_member_spec_new ("web-1");
      reply = holder_client_send (fixture->root, "web-1", request, 0, &error);
      g_assert_null (reply);
      g_assert_error (error, HOLDER_ERROR, cases[i].code);
      g_assert_cmpstr (error->message, ==, cases[i].text);
    }
}

static void
test_reply_timeout (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(Script) script = script_start (fixture->root, "mute",
                                           SCRIPT_SILENT, NULL, 0);
  g_autoptr(HolderRequest) request = holder_request_new ("status");
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  reply = holder_client_send (fixture->root, "mute", request, 300, &error);
  g_assert_null (reply);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT);
  g_assert_cmpint (elapsed_ms (start), >=, 250);
  g_assert_cmpint (elapsed_ms (start), <, 5000);
}

static void
test_closed_without_reply (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(Script) script = script_start (fixture->root, "rude",
                                           SCRIPT_CLOSE, NULL, 0);
  g_autoptr(HolderRequest) request = holder_request_new ("status");
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;

  reply = holder_client_send (fixture->root, "rude", request, 0, &error);
  g_assert_null (reply);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL);
  g_assert_cmpstr (error->message, ==,
                   "helper closed the connection without a reply");
  sent = script_requests (script);
  g_assert_cmpstr (sent, ==, "{\"cmd\":\"status\"}\n");
}

static void
test_reply_without_newline (Fixture       *fixture,
                            gconstpointer  data)
{
  const char *replies[] = { "{\"subnet\":\"10.1.2.0/24\"}", NULL };
  g_autoptr(Script) script = script_start (fixture->root, "terse",
                                           SCRIPT_REPLY, replies, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *subnet = NULL;

  g_assert_true (holder_client_create_network (fixture->root, "terse",
                                               &subnet, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (subnet, ==, "10.1.2.0/24");
}

static void
test_oversized_reply (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GString) huge = g_string_new ("{\"subnet\":\"");
  const char *replies[2] = { NULL, NULL };
  g_autoptr(Script) script = NULL;
  g_autoptr(HolderRequest) request = holder_request_new ("createnetwork");
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GError) error = NULL;

  /* Valid JSON, but one line longer than any client buffers. */
  while (huge->len < 1024 * 1024 + 16)
    g_string_append (huge, "xxxxxxxxxxxxxxxx");
  g_string_append (huge, "\"}\n");
  replies[0] = huge->str;
  script = script_start (fixture->root, "chatty", SCRIPT_REPLY, replies, 0);

  reply = holder_client_send (fixture->root, "chatty", request, 0, &error);
  g_assert_null (reply);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "exceeds"));
}

typedef struct {
  GMainLoop   *loop;
  guint        pending;
  HolderReply *replies[3];
  GError      *errors[3];
} AsyncState;

typedef struct {
  AsyncState *state;
  guint       index;
} AsyncSlot;

static void
async_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  AsyncSlot *slot = user_data;

  slot->state->replies[slot->index] =
    holder_client_send_finish (result, &slot->state->errors[slot->index]);
  if (--slot->state->pending == 0)
    g_main_loop_quit (slot->state->loop);
}

static void
test_send_async (Fixture       *fixture,
                 gconstpointer  data)
{
  const char *replies[] = {
    "{\"status\":{\"name\":\"a\",\"pid\":7,\"running\":true,\"ip\":\"10.0.0.2\","
    "\"state\":\"running\"}}\n",
    NULL
  };
  g_autoptr(Script) script = script_start (fixture->root, "a", SCRIPT_REPLY,
                                           replies, 0);
  g_autoptr(HolderRequest) request = holder_request_new ("status");
  AsyncState state = { 0 };
  AsyncSlot slots[3];

  state.loop = g_main_loop_new (NULL, FALSE);
  state.pending = 3;
  for (guint i = 0; i < 3; i++)
    {
      slots[i].state = &state;
      slots[i].index = i;
      holder_client_send_async (fixture->root, "a", request, 5000, NULL,
                                async_done_cb, &slots[i]);
    }
  g_main_loop_run (state.loop);

  for (guint i = 0; i < 3; i++)
    {
      g_assert_no_error (state.errors[i]);
      g_assert_nonnull (state.replies[i]->status);
      g_assert_cmpstr (state.replies[i]->status->ip, ==, "10.0.0.2");
      g_assert_cmpint (state.replies[i]->status->pid, ==, 7);
      holder_reply_free (state.replies[i]);
    }
  g_main_loop_unref (state.loop);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

static void
test_send_cancel (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(Script) script = script_start (fixture->root, "mute",
                                           SCRIPT_SILENT, NULL, 0);
  g_autoptr(HolderRequest) request = holder_request_new ("status");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncState state = { 0 };
  AsyncSlot slot = { &state, 0 };
  gint64 start = g_get_monotonic_time ();

  state.loop = g_main_loop_new (NULL, FALSE);
  state.pending = 1;
  holder_client_send_async (fixture->root, "mute", request, 0, cancellable,
                            async_done_cb, &slot);
  g_timeout_add (50, cancel_cb, cancellable);
  g_main_loop_run (state.loop);

  g_assert_null (state.replies[0]);
  g_assert_error (state.errors[0], G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (elapsed_ms (start), <, 5000);
  g_clear_error (&state.errors[0]);
  g_main_loop_unref (state.loop);
}

/* ---------------------------------------------------------------------------
 * Status, liveness, stop, wait
 */

static void
test_status_live (Fixture       *fixture,
                  gconstpointer  data)
{
  const char *replies[] = {
    "{\"status\":{\"name\":\"db-1\",\"pid\":4242,\"running\":true,"
    "\"ip\":\"203.0.113.1\",\"state\":\"running\"}}\n",
    NULL
  };
  g_autoptr(Script) script = script_start (fixture->root, "db-1",
                                           SCRIPT_REPLY, replies, 0);
  g_autoptr(HolderStatus) status = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;

  /* A live helper holds the member's lock: it is asked. */
  script_serve (script, fixture->root, "db-1");
  status = holder_client_status (fixture->root, "db-1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (status->name, ==, "db-1");
  g_assert_cmpint (status->pid, ==, 4242);
  g_assert_true (status->running);
  g_assert_cmpstr (status->ip, ==, "203.0.113.1");
  g_assert_cmpstr (status->state, ==, "running");
  sent = script_requests (script);
  g_assert_cmpstr (sent, ==, "{\"cmd\":\"status\"}\n");
}

static void
assert_stored_stopped (const char *root,
                       const char *name)
{
  g_autoptr(HolderStatus) status = NULL;
  g_autoptr(GError) error = NULL;

  status = holder_client_status (root, name, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (status->name, ==, name);
  g_assert_cmpint (status->pid, ==, 0);
  g_assert_false (status->running);
  g_assert_cmpstr (status->ip, ==, "");
  g_assert_cmpstr (status->state, ==, "stopped");
}

static void
test_status_store (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(HolderStatus) status = NULL;
  g_autoptr(GError) error = NULL;
  GPid zombie;

  /* No folder: no such member. */
  status = holder_client_status (fixture->root, "ghost-1", &error);
  g_assert_null (status);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "member \"ghost-1\" does not exist");

  /* A folder and no pidfile: stopped. */
  make_member_dir (fixture->root, "old-1");
  assert_stored_stopped (fixture->root, "old-1");

  /* A pidfile of a dead helper: stopped, and nobody is dialled (there is
   * no socket; a dial would take the whole window). */
  write_pidfile (fixture->root, "dead-1", dead_pid ());
  assert_stored_stopped (fixture->root, "dead-1");

  /* A pidfile of a zombie: kill(pid, 0) works, but nobody serves. */
  zombie = zombie_pid ();
  write_pidfile (fixture->root, "zombie-1", zombie);
  assert_stored_stopped (fixture->root, "zombie-1");
  reap (zombie);
}

static void
test_is_running (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(HolderStoreDir) store = holder_store_dir_open (fixture->root,
                                                           HOLDER_STORE_DIR_READ, NULL);
  g_autofree char *lock_name = member_lock_name ("self-1");
  GPid zombie, pid = -1;
  int lock_fd;

  g_assert_false (holder_client_is_running (fixture->root, "none-1"));

  /* A live pid alone (a reused one, say) serves nothing. */
  write_pidfile (fixture->root, "self-1", getpid ());
  g_assert_false (holder_client_is_running (fixture->root, "self-1"));
  g_assert_false (holder_store_member_is_served (fixture->root, "self-1", &pid));
  g_assert_cmpint (pid, ==, 0);
  /* The lock does; the pidfile then names the helper. */
  lock_fd = take_member_lock (store, lock_name);
  g_assert_true (holder_client_is_running (fixture->root, "self-1"));
  g_assert_true (holder_store_member_is_served (fixture->root, "self-1", &pid));
  g_assert_cmpint (pid, ==, getpid ());
  holder_store_lock_drop (store, lock_name, lock_fd);
  g_assert_false (holder_client_is_running (fixture->root, "self-1"));

  write_pidfile (fixture->root, "dead-1", dead_pid ());
  g_assert_false (holder_client_is_running (fixture->root, "dead-1"));

  zombie = zombie_pid ();
  write_pidfile (fixture->root, "zombie-1", zombie);
  g_assert_false (holder_client_is_running (fixture->root, "zombie-1"));
  reap (zombie);
}

static void
test_stop_not_running (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  make_member_dir (fixture->root, "idle-1");
  g_assert_true (holder_client_stop (fixture->root, "idle-1", 0, &error));
  g_assert_no_error (error);
  g_assert_true (holder_client_stop (fixture->root, "never-1", 0, &error));
  g_assert_no_error (error);
  /* Nothing was dialled: no dial window was spent. */
  g_assert_cmpint (elapsed_ms (start), <, 500);
}

static void
test_stop_waits (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(Script) script = script_start (fixture->root, "web-2",
                                           SCRIPT_REPLY, NULL, 0);
  g_autoptr(GError) error = NULL;
  g_autofree char *sent = NULL;
  g_autofree char *pidfile = holder_store_pidfile_path (fixture->root, "web-2");

  /* The scripted helper retires the member once it has replied. */
  script->unlink_after_reply = g_strdup (pidfile);
  script_serve (script, fixture->root, "web-2");
  g_assert_true (holder_client_stop (fixture->root, "web-2", 5000, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (pidfile, G_FILE_TEST_EXISTS));
  sent = script_requests (script);
  g_assert_cmpstr (sent, ==, "{\"cmd\":\"stop\"}\n");
}

static void
test_stop_timeout (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(Script) script = script_start (fixture->root, "web-3",
                                           SCRIPT_REPLY, NULL, 0);
  g_autoptr(GError) error = NULL;
  gint64 start;

  /* It says {} but never lets go of its pidfile. */
  script_serve (script, fixture->root, "web-3");
  start = g_get_monotonic_time ();
  g_assert_false (holder_client_stop (fixture->root, "web-3", 300, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT);
  g_assert_cmpstr (error->message, ==,
                   "timed out waiting for member web-3 to stop");
  g_assert_cmpint (elapsed_ms (start), >=, 250);
}

static char *
status_reply (const char *name,
              const char *state,
              const char *ip,
              const char *error)
{
  gboolean active = g_str_equal (state, "downloading") ||
                    g_str_equal (state, "starting") ||
                    g_str_equal (state, "running");

  return g_strdup_printf ("{\"status\":{\"name\":\"%s\",\"pid\":99,"
                          "\"running\":%s,\"ip\":\"%s\",\"state\":\"%s\"%s%s%s}}\n",
                          name, active ? "true" : "false", ip, state,
                          error != NULL ? ",\"error\":\"" : "",
                          error != NULL ? error : "",
                          error != NULL ? "\"" : "");
}

static void
test_wait_running (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *starting = status_reply ("app-1", "starting", "", NULL);
  g_autofree char *running = status_reply ("app-1", "running", "203.0.113.5",
                                           NULL);
  const char *replies[] = { starting, starting, starting, running, NULL };
  g_autoptr(Script) script = script_start (fixture->root, "app-1",
                                           SCRIPT_REPLY, replies, 0);
  const char *names[] = { "app-1", NULL };
  g_autoptr(GHashTable) statuses = NULL;
  g_autoptr(GError) error = NULL;
  HolderStatus *status;

  script_serve (script, fixture->root, "app-1");
  g_assert_true (holder_client_wait_running (fixture->root, names, 10000,
                                             &statuses, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_hash_table_size (statuses), ==, 1);
  status = g_hash_table_lookup (statuses, "app-1");
  g_assert_nonnull (status);
  g_assert_cmpstr (status->ip, ==, "203.0.113.5");
  g_assert_cmpstr (status->state, ==, "running");
  /* It polled through the starting replies. */
  g_mutex_lock (&script->lock);
  g_assert_cmpuint (script->served, >=, 4);
  g_mutex_unlock (&script->lock);
}

static void
test_wait_running_error (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autofree char *failed = status_reply ("bad-1", "error", "",
                                          "fake backend: boom");
  const char *replies[] = { failed, NULL };
  g_autoptr(Script) script = script_start (fixture->root, "bad-1",
                                           SCRIPT_REPLY, replies, 0);
  const char *names[] = { "bad-1", NULL };
  g_autoptr(GHashTable) statuses = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  script_serve (script, fixture->root, "bad-1");
  g_assert_false (holder_client_wait_running (fixture->root, names, 10000,
                                              &statuses, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "member bad-1 failed: fake backend: boom");
  g_assert_null (statuses);
  /* At once, not at the deadline. */
  g_assert_cmpint (elapsed_ms (start), <, 5000);
}

static void
test_wait_running_timeout (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autofree char *starting = status_reply ("slow-1", "starting", "", NULL);
  const char *replies[] = { starting, NULL };
  g_autoptr(Script) script = script_start (fixture->root, "slow-1",
                                           SCRIPT_REPLY, replies, 0);
  const char *names[] = { "slow-1", "old-1", NULL };
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  script_serve (script, fixture->root, "slow-1");
  g_assert_false (holder_client_wait_running (fixture->root, names, 300, NULL,
                                              &error));
  /* old-1 has no folder at all: it is still pending, as is slow-1. */
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "slow-1, old-1"));
  g_assert_cmpint (elapsed_ms (start), >=, 250);

  /* A member that is stopped in the store fails at once. */
  g_clear_error (&error);
  make_member_dir (fixture->root, "old-1");
  g_assert_false (holder_client_wait_running (fixture->root, names, 10000,
                                              NULL, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "member old-1 stopped");
}

static void
test_spawn_arguments (void)
{
  const char *none[] = { NULL };
  const char *bad[] = { "ok", "a/b", NULL };
  const char *comma[] = { "a,b", NULL };
  g_autoptr(GError) error = NULL;

  g_assert_null (holder_helper_spawn ("/nonexistent", none, NULL, 0, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "no VM names provided");
  g_clear_error (&error);

  g_assert_null (holder_helper_spawn ("/nonexistent", bad, NULL, 0, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_NAME);
  g_clear_error (&error);

  g_assert_null (holder_helper_spawn ("/nonexistent", comma, NULL, 0, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_NAME);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/client/send/golden-requests", test_golden_requests);
  ADD ("/client/send/dial-retry", test_dial_retry);
  ADD ("/client/send/dial-window", test_dial_window);
  ADD ("/client/send/error-replies", test_error_replies);
  ADD ("/client/send/reply-timeout", test_reply_timeout);
  ADD ("/client/send/closed-without-reply", test_closed_without_reply);
  ADD ("/client/send/reply-without-newline", test_reply_without_newline);
  ADD ("/client/send/oversized-reply", test_oversized_reply);
  ADD ("/client/send/async", test_send_async);
  ADD ("/client/send/cancel", test_send_cancel);
  ADD ("/client/status/live", test_status_live);
  ADD ("/client/status/store", test_status_store);
  ADD ("/client/is-running", test_is_running);
  ADD ("/client/stop/not-running", test_stop_not_running);
  ADD ("/client/stop/waits", test_stop_waits);
  ADD ("/client/stop/timeout", test_stop_timeout);
  ADD ("/client/wait-running/success", test_wait_running);
  ADD ("/client/wait-running/error", test_wait_running_error);
  ADD ("/client/wait-running/timeout", test_wait_running_timeout);
  g_test_add_func ("/client/spawn/arguments", test_spawn_arguments);

#undef ADD

  return g_test_run ();
}
