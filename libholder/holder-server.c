/* holder-server.c: members, their sockets, the command dispatch and the
 * shutdown sequence of one helper process.
 *
 * Everything here runs on one thread, on the thread-default main context
 * the server was created on. Slow work (the backend) is asynchronous, so a
 * status request is answered while boots are in flight.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/socket.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "holder-codec-private.h"
#include "holder-error.h"
#include "holder-runner.h"
#include "holder-server-private.h"
#include "holder-lifetime-private.h"
#include "holder-listener-private.h"
#include "holder-peer-private.h"
#include "holder-store.h"
#include "holder-util-private.h"

/* Request bytes are read in chunks of this size; the buffer grows up to
 * HOLDER_CODEC_MAX_LINE. */
#define READ_CHUNK 4096
/* How long the rest of an oversized request is drained before closing. */
#define HOLDER_SERVER_LINGER_MS 2000

typedef struct _HolderMember HolderMember;
typedef struct _HolderConn HolderConn;
typedef struct _BootOp BootOp;

struct _HolderMember {
  gint               ref_count;
  HolderServer      *server;
  char              *name;
  HolderMemberState  state;
  char              *ip;
  char              *error;
  /* Adopted VM: set once a boot succeeded, cleared when it is stopped. */
  HolderVm          *vm;
  /* The boot in flight, if any; it owns its VM until adoption. */
  BootOp            *boot;
  gboolean           stopping;
  gboolean           retired;
  HolderListener    *listener;
  char              *socket_path;
};

/* One command connection: a plain non-blocking descriptor, read until the
 * request line is in, then written until the reply is out. Status round
 * trips are the hot path, so no GIO stream or GTask is made per request. */
struct _HolderConn {
  gint               ref_count;
  HolderServer      *server;
  HolderMember      *member;
  int                fd;
  GList             *link;      /* in server->connections */
  GSource           *watch;     /* waiting for readable or writable */
  GSource           *timeout;
  GByteArray        *buffer;
  gsize              scanned;
  char              *out;
  gsize              out_len;
  gsize              out_done;
  void             (*then) (HolderMember *member);
  gboolean           replying;
  /* Unread request bytes may remain: drain them before closing (see
   * conn_linger()). */
  gboolean           linger;
  /* The peer may not command this helper: its request is answered with an
   * error and nothing else. */
  gint64             denied_uid;
  gboolean           denied;
  gboolean           closed;
};

struct _BootOp {
  HolderServer      *server;
  HolderMember      *member;
  HolderConn        *conn;
  HolderMemberSpec  *spec;
  HolderReservation *reservation;
  HolderVm          *vm;
  GCancellable      *cancellable;
  GSource           *ip_timeout;
  gint64             ip_timeout_usec;
  gboolean           timed_out;
  char              *failure;
  int                failure_code;
};

typedef enum {
  NETWORK_NONE,
  NETWORK_CREATING,
  NETWORK_READY,
} NetworkState;

struct _HolderServer {
  char                     *root;
  char                    **names;
  const HolderBackendClass *backend_class;
  HolderBackend            *backend;
  HolderBackendHost         host;
  GMainContext             *context;

  GHashTable               *members;       /* name -> HolderMember */
  GHashTable               *reservations;  /* name -> HolderReservation */
  GHashTable               *reserving;     /* name -> GPtrArray of HolderConn */
  GQueue                    connections;   /* HolderConn, open ones */
  GList                    *boots;         /* BootOp in flight */

  NetworkState              network_state;
  char                     *subnet;
  GPtrArray                *network_waiters; /* HolderConn */

  HolderLifetime           *lifetime;
  gboolean                  bound;
  GPid                      parent_pid;
  guint                     request_timeout_ms;

  gboolean                  started;
  gboolean                  shutting_down;
  gboolean                  finished;
  guint                     pending_stops;
  gboolean                  closing_network;
  /* server_shutdown_continue() is re-entered by the completions it causes. */
  gboolean                  continuing;
  gboolean                  continue_again;
  GSource                  *budget;
  GCancellable             *cancellable;
};

static void server_check_idle (HolderServer *self);
static void server_shutdown_continue (HolderServer *self);
static void conn_reply (HolderConn *conn, HolderReply *reply);
static void conn_reply_error (HolderConn *conn, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* ---------------------------------------------------------------- members */

static HolderMember *
member_ref (HolderMember *m)
{
  g_atomic_int_inc (&m->ref_count);
  return m;
}

static void
member_unref (HolderMember *m)
{
  if (m == NULL || !g_atomic_int_dec_and_test (&m->ref_count))
    return;
  g_assert (m->listener == NULL);
  g_free (m->name);
  g_free (m->ip);
  g_free (m->error);
  g_free (m->socket_path);
  g_free (m);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderMember, member_unref)

static void
member_set_state (HolderMember      *m,
                  HolderMemberState  state)
{
  if (m->state == state)
    return;
  g_debug ("member %s: %s -> %s", m->name,
           holder_member_state_to_string (m->state),
           holder_member_state_to_string (state));
  m->state = state;
}

static HolderStatus *
member_status (HolderMember *m)
{
  HolderStatus *status = g_new0 (HolderStatus, 1);

  status->name = g_strdup (m->name);
  status->pid = getpid ();
  status->running = holder_member_state_is_active (m->state);
  status->ip = g_strdup (m->ip != NULL ? m->ip : "");
  status->state = g_strdup (holder_member_state_to_string (m->state));
  status->error = g_strdup (m->error);
  return status;
}

/* Closes the member's listener and removes its socket and pidfile. The
 * member leaves the registry; a later boot-member for the name registers it
 * anew (a re-join). Idempotent. */
static void
member_retire (HolderMember *m)
{
  HolderServer *self = m->server;
  g_autoptr(GError) error = NULL;

  if (m->retired)
    return;
  m->retired = TRUE;

  /* Closes the socket and removes its file. */
  g_clear_pointer (&m->listener, holder_listener_free);
  if (!holder_remove_pidfile (self->root, m->name, &error))
    g_debug ("%s", error->message);

  g_debug ("member %s retired", m->name);
  /* The registry holds a reference; this may free the member. */
  if (g_hash_table_lookup (self->members, m->name) == m)
    g_hash_table_remove (self->members, m->name);
}

static void on_incoming_member (int      fd,
                                gpointer user_data);

/* Makes a member addressable: its folder, its socket, its pidfile, in that
 * order, then `starting`. Undoes what it did on failure. */
static HolderMember *
server_register_member (HolderServer  *self,
                        const char    *name,
                        GError       **error)
{
  g_autoptr(HolderMember) m = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;
  GPid other_pid = 0;

  if (!holder_name_validate (name, error))
    return NULL;
  g_assert (g_hash_table_lookup (self->members, name) == NULL);

  /* Another live helper serving this name would have its socket stolen and
   * its pidfile overwritten: refuse instead. */
  if (holder_store_read_pidfile (self->root, name, &other_pid, NULL) &&
      other_pid != getpid () && holder_pid_is_alive (other_pid))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_ALREADY_RUNNING,
                   "member %s is already served by helper %d", name, (int) other_pid);
      return NULL;
    }

  dir = holder_store_member_dir (self->root, name);
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved_errno = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "create %s: %s", dir, g_strerror (saved_errno));
      return NULL;
    }

  m = g_new0 (HolderMember, 1);
  m->ref_count = 1;
  m->server = self;
  m->name = g_strdup (name);
  m->state = HOLDER_MEMBER_STATE_STARTING;
  m->socket_path = holder_store_socket_path (self->root, name);

  m->listener = holder_listener_new (m->socket_path, on_incoming_member, m, error);
  if (m->listener == NULL)
    return NULL;

  if (!holder_write_pidfile (self->root, name, error))
    {
      g_clear_pointer (&m->listener, holder_listener_free);
      return NULL;
    }

  g_hash_table_insert (self->members, m->name, member_ref (m));
  g_debug ("member %s registered on %s", name, m->socket_path);
  return g_steal_pointer (&m);
}

static guint
server_count_active (HolderServer *self)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, self->members);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      HolderMember *m = value;
      if (holder_member_state_is_active (m->state))
        n++;
    }
  return n;
}

/* The helper lives while a member is active (section 3 of the contract). */
static void
server_check_idle (HolderServer *self)
{
  if (self->started && !self->shutting_down && server_count_active (self) == 0)
    holder_server_shutdown (self, "no active member left");
}

/* ------------------------------------------------------------ connections */

static HolderConn *
conn_ref (HolderConn *conn)
{
  conn->ref_count++;
  return conn;
}

static void
conn_unref (HolderConn *conn)
{
  if (conn == NULL || --conn->ref_count > 0)
    return;
  g_assert (conn->closed);
  g_clear_pointer (&conn->buffer, g_byte_array_unref);
  g_free (conn->out);
  member_unref (conn->member);
  g_free (conn);
}

static void
conn_clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Once a request is in, the connection lives as long as its command (a
 * boot takes minutes): the request timer no longer applies. */
static void
conn_stop_timer (HolderConn *conn)
{
  conn_clear_source (&conn->timeout);
}

static void
conn_close (HolderConn *conn)
{
  HolderServer *self = conn->server;

  if (conn->closed)
    return;
  conn->closed = TRUE;
  conn_clear_source (&conn->watch);
  conn_clear_source (&conn->timeout);
  /* Closing a socket never blocks (no SO_LINGER). */
  close (conn->fd);
  conn->fd = -1;
  g_queue_delete_link (&self->connections, conn->link);
  conn->link = NULL;
  conn_unref (conn);

  /* The shutdown waits for replies in flight to be written. */
  if (self->shutting_down)
    server_shutdown_continue (self);
}

static void
conn_watch (HolderConn      *conn,
            GIOCondition     condition,
            GUnixFDSourceFunc func)
{
  conn_clear_source (&conn->watch);
  conn->watch = g_unix_fd_source_new (conn->fd, condition);
  g_source_set_callback (conn->watch, G_SOURCE_FUNC (func), conn, NULL);
  g_source_attach (conn->watch, conn->server->context);
}

static void
conn_start_timer (HolderConn  *conn,
                  guint        ms,
                  GSourceFunc  func)
{
  conn_clear_source (&conn->timeout);
  conn->timeout = g_timeout_source_new (ms);
  g_source_set_callback (conn->timeout, func, conn, NULL);
  g_source_attach (conn->timeout, conn->server->context);
}

/* Closing a Unix socket whose receive queue still holds data resets the
 * connection, and the peer may lose the reply we just wrote. When the rest
 * of an oversized request is still coming, signal EOF, discard what
 * arrives until the client closes (bounded in time), then close. */
static gboolean
on_linger_readable (int          fd,
                    GIOCondition condition,
                    gpointer     user_data)
{
  HolderConn *conn = user_data;
  char sink[16 * 1024];
  ssize_t n;

  while ((n = recv (fd, sink, sizeof sink, 0)) > 0)
    ;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&conn->watch, g_source_unref);
  conn_close (conn);
  return G_SOURCE_REMOVE;
}

static gboolean
on_linger_timeout (gpointer user_data)
{
  HolderConn *conn = user_data;

  g_clear_pointer (&conn->timeout, g_source_unref);
  conn_close (conn);
  return G_SOURCE_REMOVE;
}

static void
conn_linger (HolderConn *conn)
{
  shutdown (conn->fd, SHUT_WR);
  conn_start_timer (conn, HOLDER_SERVER_LINGER_MS, on_linger_timeout);
  conn_watch (conn, G_IO_IN, on_linger_readable);
}

/* The reply is out (or cannot be delivered): run what waited for it. */
static void
conn_reply_done (HolderConn *conn,
                 gboolean    written)
{
  void (*then) (HolderMember *member) = conn->then;

  conn->then = NULL;

  conn_clear_source (&conn->watch);
  conn_ref (conn);
  if (then != NULL)
    then (conn->member);
  if (written && conn->linger && !conn->closed)
    conn_linger (conn);
  else
    conn_close (conn);
  conn_unref (conn);
}

/* Writes what is left of the reply; FALSE when it must wait. */
static gboolean
conn_flush (HolderConn *conn)
{
  while (conn->out_done < conn->out_len)
    {
      ssize_t n = send (conn->fd, conn->out + conn->out_done, conn->out_len - conn->out_done,
                        MSG_NOSIGNAL);
      if (n >= 0)
        conn->out_done += n;
      else if (errno == EINTR)
        continue;
      else if (errno == EAGAIN || errno == EWOULDBLOCK)
        return FALSE;
      else
        {
          g_debug ("reply not delivered: %s", g_strerror (errno));
          conn_reply_done (conn, FALSE);
          return TRUE;
        }
    }
  conn_reply_done (conn, TRUE);
  return TRUE;
}

static gboolean
on_conn_writable (int          fd,
                  GIOCondition condition,
                  gpointer     user_data)
{
  HolderConn *conn = user_data;

  /* conn_flush() finishes the connection (and this source) when done. */
  if (conn_flush (conn))
    return G_SOURCE_REMOVE;
  return G_SOURCE_CONTINUE;
}

static void
conn_reply_then (HolderConn   *conn,
                 HolderReply  *reply,
                 void        (*then) (HolderMember *member))
{
  if (conn->closed || conn->replying)
    {
      if (then != NULL)
        then (conn->member);
      return;
    }
  conn->replying = TRUE;
  conn_stop_timer (conn);
  conn_clear_source (&conn->watch);

  conn->then = then;
  conn->out = holder_reply_serialize (reply, &conn->out_len);
  /* A reply is always written in full, or fails because the client went
   * away; a slow reader only makes us wait for writability. */
  if (!conn_flush (conn))
    conn_watch (conn, G_IO_OUT, on_conn_writable);
}

static void
conn_reply (HolderConn  *conn,
            HolderReply *reply)
{
  conn_reply_then (conn, reply, NULL);
}

static void
conn_reply_error (HolderConn *conn,
                  const char *format,
                  ...)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();
  va_list args;

  va_start (args, format);
  reply->error = g_strdup_vprintf (format, args);
  va_end (args);
  g_debug ("reply to %s: error: %s", conn->member->name, reply->error);
  conn_reply (conn, reply);
}

static void
conn_reply_empty (HolderConn *conn)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();
  conn_reply (conn, reply);
}

/* ------------------------------------------------------- createnetwork */

static void
on_network_created (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  HolderServer *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *subnet = NULL;
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&self->network_waiters);

  subnet = self->backend_class->create_network_finish (self->backend, result, &error);
  self->network_waiters = g_ptr_array_new ();

  if (subnet == NULL)
    {
      /* A failed attempt leaves no network: a later createnetwork retries. */
      self->network_state = NETWORK_NONE;
      g_debug ("create network failed: %s", error->message);
    }
  else
    {
      self->network_state = NETWORK_READY;
      self->subnet = g_steal_pointer (&subnet);
      g_debug ("network ready: subnet \"%s\"", self->subnet);
    }

  for (guint i = 0; i < waiters->len; i++)
    {
      HolderConn *conn = g_ptr_array_index (waiters, i);
      if (self->network_state == NETWORK_READY)
        {
          g_autoptr(HolderReply) reply = holder_reply_new ();
          reply->subnet = self->subnet[0] != '\0' ? g_strdup (self->subnet) : NULL;
          conn_reply (conn, reply);
        }
      else
        conn_reply_error (conn, "create network: %s", error->message);
      conn_unref (conn);
    }

  /* The shutdown waits for a creation in flight so that the network it
   * made is closed too. */
  if (self->shutting_down)
    server_shutdown_continue (self);
}

static void
handle_create_network (HolderServer *self,
                       HolderConn   *conn)
{
  switch (self->network_state)
    {
    case NETWORK_READY:
      {
        g_autoptr(HolderReply) reply = holder_reply_new ();
        reply->subnet = self->subnet[0] != '\0' ? g_strdup (self->subnet) : NULL;
        conn_reply (conn, reply);
        return;
      }
    case NETWORK_CREATING:
      g_ptr_array_add (self->network_waiters, conn_ref (conn));
      return;
    case NETWORK_NONE:
    default:
      self->network_state = NETWORK_CREATING;
      g_ptr_array_add (self->network_waiters, conn_ref (conn));
      self->backend_class->create_network_async (self->backend, self->cancellable,
                                                 on_network_created, self);
      return;
    }
}

/* --------------------------------------------------------------- reserve */

typedef struct {
  HolderServer *server;
  char         *name;
} ReserveOp;

static void
on_reserved (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  ReserveOp *op = user_data;
  HolderServer *self = op->server;
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReservation) reservation = NULL;
  g_autoptr(GPtrArray) waiters = NULL;
  g_autofree char *key = NULL;

  reservation = self->backend_class->reserve_finish (self->backend, result, &error);
  g_hash_table_steal_extended (self->reserving, op->name, (gpointer *) &key, (gpointer *) &waiters);

  if (reservation != NULL)
    {
      g_debug ("reserved %s: ip %s mac %s", op->name,
               reservation->ip != NULL ? reservation->ip : "(none)", reservation->mac);
      g_hash_table_insert (self->reservations, g_strdup (op->name),
                           holder_reservation_copy (reservation));
    }

  for (guint i = 0; waiters != NULL && i < waiters->len; i++)
    {
      HolderConn *conn = g_ptr_array_index (waiters, i);
      if (reservation != NULL)
        {
          g_autoptr(HolderReply) reply = holder_reply_new ();
          reply->reservation = holder_reservation_copy (reservation);
          conn_reply (conn, reply);
        }
      else
        conn_reply_error (conn, "reserve %s: %s", op->name, error->message);
      conn_unref (conn);
    }

  g_free (op->name);
  g_free (op);

  if (self->shutting_down)
    server_shutdown_continue (self);
}

static void
handle_reserve (HolderServer        *self,
                HolderConn          *conn,
                const HolderRequest *request)
{
  HolderReservation *existing;
  GPtrArray *waiters;
  ReserveOp *op;
  g_autoptr(GError) error = NULL;

  if (request->name == NULL || request->name[0] == '\0')
    {
      conn_reply_error (conn, "missing member name");
      return;
    }
  /* A repeat returns the first reservation, before any other check, and
   * never reaches the backend again. */
  existing = g_hash_table_lookup (self->reservations, request->name);
  if (existing != NULL)
    {
      g_autoptr(HolderReply) reply = holder_reply_new ();
      reply->reservation = holder_reservation_copy (existing);
      conn_reply (conn, reply);
      return;
    }
  if (!holder_name_validate (request->name, &error))
    {
      conn_reply_error (conn, "%s", error->message);
      return;
    }
  if (self->network_state != NETWORK_READY)
    {
      conn_reply_error (conn, "network not created");
      return;
    }

  waiters = g_hash_table_lookup (self->reserving, request->name);
  if (waiters != NULL)
    {
      g_ptr_array_add (waiters, conn_ref (conn));
      return;
    }
  waiters = g_ptr_array_new ();
  g_ptr_array_add (waiters, conn_ref (conn));
  g_hash_table_insert (self->reserving, g_strdup (request->name), waiters);

  op = g_new0 (ReserveOp, 1);
  op->server = self;
  op->name = g_strdup (request->name);
  self->backend_class->reserve_async (self->backend, request->name, request->ip_hint,
                                      self->cancellable, on_reserved, op);
}

/* ------------------------------------------------------------ boot-member */

static void boot_step_start (BootOp *op);
static void boot_step_wait_ip (BootOp *op);
static void boot_finish (BootOp *op);

static void
boot_op_free (BootOp *op)
{
  if (op->ip_timeout != NULL)
    {
      g_source_destroy (op->ip_timeout);
      g_source_unref (op->ip_timeout);
    }
  if (op->vm != NULL)
    op->server->backend_class->vm_free (op->server->backend, op->vm);
  g_clear_object (&op->cancellable);
  holder_member_spec_free (op->spec);
  holder_reservation_free (op->reservation);
  g_free (op->failure);
  if (op->conn != NULL)
    conn_unref (op->conn);
  member_unref (op->member);
  g_free (op);
}

/* The member went away (stop, shutdown) while this boot was in flight. */
static gboolean
boot_member_gone (BootOp *op)
{
  return op->member->retired || op->member->state == HOLDER_MEMBER_STATE_STOPPED;
}

static void
boot_fail (BootOp     *op,
           const char *step,
           GError     *error)
{
  if (boot_member_gone (op))
    {
      op->failure_code = HOLDER_ERROR_STOPPED_DURING_BOOT;
      op->failure = g_strdup_printf ("member %s was stopped during boot", op->spec->name);
      return;
    }

  op->failure_code = HOLDER_ERROR_BACKEND;
  if (op->timed_out)
    {
      g_autofree char *bound = holder_format_go_duration (op->ip_timeout_usec);
      op->failure = g_strdup_printf ("%s %s: timed out after %s", step, op->spec->name, bound);
      g_free (op->member->error);
      op->member->error = g_strdup_printf ("timed out after %s", bound);
    }
  else
    {
      op->failure = g_strdup_printf ("%s %s: %s", step, op->spec->name, error->message);
      g_free (op->member->error);
      op->member->error = g_strdup (error->message);
    }
}

static void
on_boot_vm_stopped (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  BootOp *op = user_data;
  g_autoptr(GError) error = NULL;

  if (!op->server->backend_class->stop_vm_finish (op->server->backend, result, &error))
    g_debug ("stop %s after a failed boot: %s", op->spec->name, error->message);
  boot_finish (op);
}

/* Ends a boot that failed or lost its member: stop the partial VM first,
 * then report. */
static void
boot_abort (BootOp *op)
{
  if (op->vm != NULL)
    op->server->backend_class->stop_vm_async (op->server->backend, op->vm, NULL,
                                              on_boot_vm_stopped, op);
  else
    boot_finish (op);
}

static void
boot_finish (BootOp *op)
{
  HolderServer *self = op->server;
  HolderMember *m = op->member;

  if (m->boot == op)
    m->boot = NULL;
  self->boots = g_list_remove (self->boots, op);

  if (op->failure == NULL)
    {
      g_assert (m->vm == NULL);
      m->vm = g_steal_pointer (&op->vm);
      member_set_state (m, HOLDER_MEMBER_STATE_RUNNING);
      g_clear_pointer (&m->error, g_free);
    }
  else if (op->failure_code != HOLDER_ERROR_STOPPED_DURING_BOOT)
    {
      member_set_state (m, HOLDER_MEMBER_STATE_ERROR);
      g_clear_pointer (&m->ip, g_free);
    }

  /* The reply goes out before anything that may end the helper: the
   * shutdown waits for open connections to finish writing. */
  if (op->conn != NULL)
    {
      if (op->failure == NULL)
        conn_reply_empty (op->conn);
      else
        conn_reply_error (op->conn, "%s", op->failure);
    }

  boot_op_free (op);

  if (self->shutting_down)
    server_shutdown_continue (self);
  else
    server_check_idle (self);
}

static void
on_boot_ip_known (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  BootOp *op = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;

  ip = op->server->backend_class->wait_ip_finish (op->server->backend, result, &error);
  if (op->ip_timeout != NULL)
    {
      g_source_destroy (op->ip_timeout);
      g_clear_pointer (&op->ip_timeout, g_source_unref);
    }

  if (ip == NULL)
    {
      boot_fail (op, "wait for ip", error);
      boot_abort (op);
      return;
    }
  if (boot_member_gone (op))
    {
      boot_fail (op, NULL, NULL);
      boot_abort (op);
      return;
    }
  g_free (op->member->ip);
  op->member->ip = g_steal_pointer (&ip);
  boot_finish (op);
}

static gboolean
on_boot_ip_timeout (gpointer user_data)
{
  BootOp *op = user_data;

  op->timed_out = TRUE;
  g_cancellable_cancel (op->cancellable);
  g_clear_pointer (&op->ip_timeout, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
boot_step_wait_ip (BootOp *op)
{
  op->ip_timeout_usec = holder_ip_wait_timeout_usec ();
  op->ip_timeout = g_timeout_source_new (MAX (1, op->ip_timeout_usec / 1000));
  g_source_set_callback (op->ip_timeout, on_boot_ip_timeout, op, NULL);
  g_source_attach (op->ip_timeout, op->server->context);

  op->server->backend_class->wait_ip_async (op->server->backend, op->vm, op->cancellable,
                                            on_boot_ip_known, op);
}

static void
on_boot_started (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  BootOp *op = user_data;
  g_autoptr(GError) error = NULL;

  if (!op->server->backend_class->start_vm_finish (op->server->backend, result, &error))
    {
      boot_fail (op, "start", error);
      boot_abort (op);
      return;
    }
  if (boot_member_gone (op))
    {
      boot_fail (op, NULL, NULL);
      boot_abort (op);
      return;
    }
  boot_step_wait_ip (op);
}

static void
boot_step_start (BootOp *op)
{
  op->server->backend_class->start_vm_async (op->server->backend, op->vm, op->cancellable,
                                             on_boot_started, op);
}

static void
on_boot_created (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  BootOp *op = user_data;
  g_autoptr(GError) error = NULL;

  op->vm = op->server->backend_class->create_vm_finish (op->server->backend, result, &error);
  if (op->vm == NULL)
    {
      boot_fail (op, "create", error);
      boot_finish (op);
      return;
    }
  if (boot_member_gone (op))
    {
      boot_fail (op, NULL, NULL);
      boot_abort (op);
      return;
    }
  boot_step_start (op);
}

static void
handle_boot_member (HolderServer        *self,
                    HolderConn          *conn,
                    const HolderRequest *request)
{
  const HolderMemberSpec *spec = request->spec;
  HolderReservation *reservation;
  HolderMember *m;
  BootOp *op;
  g_autoptr(GError) error = NULL;

  if (spec == NULL || spec->name == NULL || spec->name[0] == '\0')
    {
      conn_reply_error (conn, "missing or invalid spec");
      return;
    }
  if (!holder_name_validate (spec->name, &error))
    {
      conn_reply_error (conn, "%s", error->message);
      return;
    }
  if (self->shutting_down)
    {
      conn_reply_error (conn, "helper is shutting down");
      return;
    }
  if (self->network_state != NETWORK_READY)
    {
      conn_reply_error (conn, "network not created");
      return;
    }
  reservation = g_hash_table_lookup (self->reservations, spec->name);
  if (reservation == NULL)
    {
      conn_reply_error (conn, "member %s was not reserved", spec->name);
      return;
    }

  m = g_hash_table_lookup (self->members, spec->name);
  if (m == NULL)
    {
      /* A runtime add, or a stopped member re-joining. */
      m = server_register_member (self, spec->name, &error);
      if (m == NULL)
        {
          conn_reply_error (conn, "register %s: %s", spec->name, error->message);
          return;
        }
      member_unref (m); /* the registry keeps it */
    }

  /* A VM, or a boot that will make one, makes a second boot a duplicate;
   * neither the state nor the active count changes. */
  if (m->vm != NULL || m->boot != NULL || m->stopping)
    {
      conn_reply_error (conn, "member %s is already running", spec->name);
      return;
    }

  op = g_new0 (BootOp, 1);
  op->server = self;
  op->member = member_ref (m);
  op->conn = conn_ref (conn);
  op->spec = holder_member_spec_copy (spec);
  op->reservation = holder_reservation_copy (reservation);
  op->cancellable = g_cancellable_new ();
  m->boot = op;
  g_clear_pointer (&m->error, g_free);
  member_set_state (m, HOLDER_MEMBER_STATE_STARTING);
  self->boots = g_list_prepend (self->boots, op);

  g_debug ("booting %s", spec->name);
  self->backend_class->create_vm_async (self->backend, op->spec, op->reservation,
                                        op->cancellable, on_boot_created, op);
}

/* ------------------------------------------------------------------ stop */

static void
on_member_vm_stopped (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  HolderMember *m = user_data;
  HolderServer *self = m->server;
  g_autoptr(GError) error = NULL;

  if (!self->backend_class->stop_vm_finish (self->backend, result, &error))
    g_debug ("stop %s: %s", m->name, error->message);

  self->backend_class->vm_free (self->backend, m->vm);
  m->vm = NULL;
  m->stopping = FALSE;
  g_assert (self->pending_stops > 0);
  self->pending_stops--;

  if (!self->shutting_down)
    {
      member_set_state (m, HOLDER_MEMBER_STATE_STOPPED);
      member_retire (m);
      server_check_idle (self);
    }
  else
    server_shutdown_continue (self);
  member_unref (m);
}

static void
member_stop_vm (HolderMember *m)
{
  HolderServer *self = m->server;

  g_assert (m->vm != NULL);
  if (m->stopping)
    return;
  m->stopping = TRUE;
  self->pending_stops++;
  self->backend_class->stop_vm_async (self->backend, m->vm, NULL,
                                      on_member_vm_stopped, member_ref (m));
}

/* The stop command's teardown, started once `{}` is on its way. */
static void
member_stop (HolderMember *m)
{
  HolderServer *self = m->server;

  if (m->retired || m->stopping)
    return;

  if (m->vm != NULL)
    {
      /* Retired when the VM is confirmed down. */
      member_stop_vm (m);
      return;
    }

  member_set_state (m, HOLDER_MEMBER_STATE_STOPPED);
  if (m->boot != NULL)
    {
      /* The boot ends at once, stops the VM it made and replies. */
      g_cancellable_cancel (m->boot->cancellable);
    }
  member_retire (m);
  server_check_idle (self);
}

/* --------------------------------------------------------------- dispatch */

static void
conn_dispatch (HolderConn *conn,
               const char *line,
               gsize       len)
{
  HolderServer *self = conn->server;
  g_autoptr(HolderRequest) request = NULL;
  g_autoptr(GError) error = NULL;

  conn_stop_timer (conn);
  if (conn->denied)
    {
      /* Read first, refuse second: closing on unread bytes could lose
       * the reply. */
      conn_reply_error (conn, "permission denied: uid %" G_GINT64_FORMAT
                        " may not command this helper", conn->denied_uid);
      return;
    }
  request = holder_request_parse (line, len, &error);
  if (request == NULL)
    {
      conn_reply_error (conn, "%s", error->message);
      return;
    }

  g_debug ("request on %s: %s", conn->member->name, request->cmd);

  if (g_str_equal (request->cmd, "status"))
    {
      g_autoptr(HolderReply) reply = holder_reply_new ();
      reply->status = member_status (conn->member);
      conn_reply (conn, reply);
    }
  else if (g_str_equal (request->cmd, "stop"))
    {
      g_autoptr(HolderReply) reply = holder_reply_new ();
      /* `{}` is written before the teardown starts. */
      conn_reply_then (conn, reply, member_stop);
    }
  else if (g_str_equal (request->cmd, "createnetwork"))
    {
      if (self->shutting_down)
        conn_reply_error (conn, "helper is shutting down");
      else
        handle_create_network (self, conn);
    }
  else if (g_str_equal (request->cmd, "reserve"))
    handle_reserve (self, conn, request);
  else if (g_str_equal (request->cmd, "boot-member"))
    handle_boot_member (self, conn, request);
  else
    {
      GString *quoted = g_string_new (NULL);
      holder_append_go_quoted (quoted, request->cmd);
      conn_reply_error (conn, "unknown command %s", quoted->str);
      g_string_free (quoted, TRUE);
    }
}

static gboolean on_conn_readable (int fd, GIOCondition condition, gpointer user_data);

static gboolean
on_conn_timeout (gpointer user_data)
{
  HolderConn *conn = user_data;

  g_debug ("dropping a connection to %s: no request within %u ms",
           conn->member->name, conn->server->request_timeout_ms);
  g_clear_pointer (&conn->timeout, g_source_unref);
  conn_close (conn);
  return G_SOURCE_REMOVE;
}

/* Reads what has arrived. The request is dispatched once its line is in
 * (bytes after the newline are ignored: one request per connection), or on
 * EOF after a complete object without a newline. */
static void
conn_read (HolderConn *conn)
{
  for (;;)
    {
      gsize want = MIN (READ_CHUNK, HOLDER_CODEC_MAX_LINE - conn->scanned);
      const guint8 *newline;
      ssize_t n;

      g_byte_array_set_size (conn->buffer, conn->scanned + want);
      n = recv (conn->fd, conn->buffer->data + conn->scanned, want, 0);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            {
              /* Wait, but not forever: half-open clients must not pin
               * descriptors. */
              if (conn->watch == NULL)
                conn_watch (conn, G_IO_IN, on_conn_readable);
              if (conn->timeout == NULL)
                conn_start_timer (conn, conn->server->request_timeout_ms, on_conn_timeout);
              return;
            }
          g_debug ("read request: %s", g_strerror (errno));
          conn_close (conn);
          return;
        }
      if (n == 0)
        {
          conn_clear_source (&conn->watch);
          if (conn->scanned > 0)
            conn_dispatch (conn, (const char *) conn->buffer->data, conn->scanned);
          else
            conn_close (conn);
          return;
        }

      newline = memchr (conn->buffer->data + conn->scanned, '\n', n);
      conn->scanned += n;
      if (newline != NULL)
        {
          conn_clear_source (&conn->watch);
          conn_dispatch (conn, (const char *) conn->buffer->data,
                         newline - conn->buffer->data + 1);
          return;
        }
      if (conn->scanned >= HOLDER_CODEC_MAX_LINE)
        {
          conn->linger = TRUE;
          conn_reply_error (conn, "request too long: the limit is %d bytes", HOLDER_CODEC_MAX_LINE);
          return;
        }
    }
}

static gboolean
on_conn_readable (int          fd,
                  GIOCondition condition,
                  gpointer     user_data)
{
  HolderConn *conn = conn_ref (user_data);

  conn_read (conn);
  conn_unref (conn);
  /* conn_read() keeps, replaces or removes conn->watch itself. */
  return G_SOURCE_CONTINUE;
}

static void
on_incoming_member (int      fd,
                    gpointer user_data)
{
  HolderMember *m = user_data;
  HolderServer *self = m->server;
  HolderConn *conn;

  conn = g_new0 (HolderConn, 1);
  conn->ref_count = 1;
  conn->server = self;
  conn->member = member_ref (m);
  conn->fd = fd;
  conn->denied = !holder_peer_is_allowed (fd, &conn->denied_uid);
  conn->buffer = g_byte_array_sized_new (READ_CHUNK);
  g_queue_push_tail (&self->connections, conn);
  conn->link = self->connections.tail;

  /* The request is often there already: read before waiting. */
  conn_ref (conn);
  conn_read (conn);
  conn_unref (conn);
}

/* ---------------------------------------------------------- backend host */

static HolderMember *
server_find_member_by_vm (HolderServer *self,
                          HolderVm     *vm)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->members);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      HolderMember *m = value;
      if (m->vm == vm)
        return m;
    }
  return NULL;
}

static void
on_vm_stopped_after_exit (GObject      *source,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  HolderMember *m = user_data;
  HolderServer *self = m->server;
  g_autoptr(GError) error = NULL;

  if (!self->backend_class->stop_vm_finish (self->backend, result, &error))
    g_debug ("clean up %s after its VM exited: %s", m->name, error->message);
  self->backend_class->vm_free (self->backend, m->vm);
  m->vm = NULL;
  m->stopping = FALSE;
  g_assert (self->pending_stops > 0);
  self->pending_stops--;

  if (self->shutting_down)
    server_shutdown_continue (self);
  else
    server_check_idle (self);
  member_unref (m);
}

/* A VM that died on its own turns its member into `error`; what the VM
 * held (tap, sockets) is released through the ordinary stop. */
static void
on_backend_vm_exited (HolderVm   *vm,
                      const char *message,
                      gpointer    user_data)
{
  HolderServer *self = user_data;
  HolderMember *m = server_find_member_by_vm (self, vm);

  if (m == NULL || m->stopping)
    return; /* a boot in flight learns of it from its own wait */

  g_debug ("member %s: VM exited: %s", m->name, message);
  member_set_state (m, HOLDER_MEMBER_STATE_ERROR);
  g_free (m->error);
  m->error = g_strdup (message);
  g_clear_pointer (&m->ip, g_free);

  m->stopping = TRUE;
  self->pending_stops++;
  self->backend_class->stop_vm_async (self->backend, m->vm, NULL,
                                      on_vm_stopped_after_exit, member_ref (m));
}

static void
on_backend_member_progress (const char        *name,
                            HolderMemberState  state,
                            gpointer           user_data)
{
  HolderServer *self = user_data;
  HolderMember *m = g_hash_table_lookup (self->members, name);

  if (m != NULL && m->boot != NULL && holder_member_state_is_active (state))
    member_set_state (m, state);
}

/* ------------------------------------------------------------- lifecycle */

HolderServer *
holder_server_new (const HolderServerOptions *options,
                   GError                   **error)
{
  g_autoptr(HolderServer) self = NULL;

  g_return_val_if_fail (options != NULL, NULL);
  g_return_val_if_fail (options->root != NULL, NULL);
  g_return_val_if_fail (options->backend_class != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (options->names == NULL || options->names[0] == NULL)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                           "no VM names provided");
      return NULL;
    }
  for (guint i = 0; options->names[i] != NULL; i++)
    if (!holder_name_validate (options->names[i], error))
      return NULL;

  self = g_new0 (HolderServer, 1);
  self->root = g_strdup (options->root);
  self->names = g_strdupv ((char **) options->names);
  self->backend_class = options->backend_class;
  self->bound = options->bound;
  self->parent_pid = options->parent_pid;
  self->request_timeout_ms = options->request_timeout_ms != 0
    ? options->request_timeout_ms : HOLDER_SERVER_REQUEST_TIMEOUT_SECONDS * 1000;
  self->context = g_main_context_ref_thread_default ();
  self->members = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) member_unref);
  self->reservations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) holder_reservation_free);
  self->reserving = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->network_waiters = g_ptr_array_new ();
  self->cancellable = g_cancellable_new ();

  self->host.storage_root = self->root;
  self->host.vm_exited = on_backend_vm_exited;
  self->host.member_progress = on_backend_member_progress;
  self->host.user_data = self;

  self->backend = self->backend_class->new (self->backend_class, &self->host, error);
  if (self->backend == NULL)
    return NULL;

  return g_steal_pointer (&self);
}

static void
on_reconciled (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref (result);
}

gboolean
holder_server_start (HolderServer  *self,
                     GError       **error)
{
  g_autoptr(GAsyncResult) reconciled = NULL;
  g_autoptr(GError) reconcile_error = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (!self->started, FALSE);

  /* Reclaim what dead helpers left before taking names (section 9). A
   * failure is reported, never fatal: this helper's own work is unaffected. */
  self->backend_class->reconcile_async (self->backend, NULL, on_reconciled, &reconciled);
  while (reconciled == NULL)
    g_main_context_iteration (self->context, TRUE);
  if (!self->backend_class->reconcile_finish (self->backend, reconciled, &reconcile_error))
    g_warning ("reconcile: %s", reconcile_error->message);

  for (guint i = 0; self->names[i] != NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;
      HolderMember *m;

      if (g_hash_table_contains (self->members, self->names[i]))
        continue;
      m = server_register_member (self, self->names[i], &local_error);
      if (m == NULL)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "register %s: ", self->names[i]);
          /* Undo the members registered so far. */
          holder_server_shutdown (self, "start-up failed");
          holder_server_run_until_finished (self);
          return FALSE;
        }
      member_unref (m);
    }

  if (self->bound)
    {
      self->lifetime = holder_lifetime_new (self, self->root, self->names[0],
                                            self->parent_pid, error);
      if (self->lifetime == NULL)
        {
          holder_server_shutdown (self, "start-up failed");
          holder_server_run_until_finished (self);
          return FALSE;
        }
    }

  self->started = TRUE;
  return TRUE;
}

/* ------------------------------------------------------------- shutdown */

static gboolean
on_shutdown_budget_spent (gpointer user_data)
{
  HolderServer *self = user_data;

  g_warning ("shutdown did not finish within %d s; exiting anyway",
             HOLDER_SERVER_SHUTDOWN_BUDGET_SECONDS);
  g_clear_pointer (&self->budget, g_source_unref);
  self->finished = TRUE;
  g_main_context_wakeup (self->context);
  return G_SOURCE_REMOVE;
}

static void
on_network_closed (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  HolderServer *self = user_data;
  g_autoptr(GError) error = NULL;

  if (!self->backend_class->close_network_finish (self->backend, result, &error))
    g_warning ("close network: %s", error->message);
  self->network_state = NETWORK_NONE;
  self->closing_network = FALSE;
  server_shutdown_continue (self);
}

/* Advances the teardown as far as the work still in flight allows; every
 * completion that the teardown waits for calls it again. */
static void server_shutdown_step (HolderServer *self);

static void
server_shutdown_continue (HolderServer *self)
{
  if (!self->shutting_down || self->finished)
    return;
  if (self->continuing)
    {
      self->continue_again = TRUE;
      return;
    }
  self->continuing = TRUE;
  do
    {
      self->continue_again = FALSE;
      server_shutdown_step (self);
    }
  while (self->continue_again && !self->finished);
  self->continuing = FALSE;
}

static void
server_shutdown_step (HolderServer *self)
{
  GHashTableIter iter;
  gpointer value;
  g_autoptr(GPtrArray) to_retire = NULL;

  /* 1. Work in flight ends (it was cancelled); boots stop the VMs they
   * made and reply. */
  if (self->boots != NULL || self->network_state == NETWORK_CREATING ||
      g_hash_table_size (self->reserving) > 0)
    return;

  /* 2. Every adopted VM stops. */
  g_hash_table_iter_init (&iter, self->members);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      HolderMember *m = value;
      if (m->vm != NULL && !m->stopping)
        member_stop_vm (m);
    }
  if (self->pending_stops > 0)
    return;

  /* 3. Every member retires: listener, socket, pidfile. */
  to_retire = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, self->members);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (to_retire, value);
  for (guint i = 0; i < to_retire->len; i++)
    {
      HolderMember *m = g_ptr_array_index (to_retire, i);
      if (holder_member_state_is_active (m->state))
        member_set_state (m, HOLDER_MEMBER_STATE_STOPPED);
      member_retire (m);
    }
  g_clear_pointer (&self->lifetime, holder_lifetime_free);

  /* 4. The network closes, once, and only if it was made. */
  if (self->closing_network)
    return;
  if (self->network_state == NETWORK_READY)
    {
      self->closing_network = TRUE;
      self->backend_class->close_network_async (self->backend, NULL, on_network_closed, self);
      return;
    }

  /* 5. Replies still being written go out in full. Connections that never
   * sent a request are dropped. */
  for (GList *l = self->connections.head; l != NULL;)
    {
      HolderConn *conn = l->data;
      l = l->next;
      if (!conn->replying)
        conn_close (conn);
    }
  if (!g_queue_is_empty (&self->connections))
    return;

  if (self->budget != NULL)
    {
      g_source_destroy (self->budget);
      g_clear_pointer (&self->budget, g_source_unref);
    }
  g_debug ("shutdown complete");
  self->finished = TRUE;
  g_main_context_wakeup (self->context);
}

void
holder_server_shutdown (HolderServer *self,
                        const char   *reason)
{
  g_return_if_fail (self != NULL);

  if (self->shutting_down)
    return;
  self->shutting_down = TRUE;
  g_debug ("shutting down: %s", reason);

  self->budget = g_timeout_source_new_seconds (HOLDER_SERVER_SHUTDOWN_BUDGET_SECONDS);
  g_source_set_callback (self->budget, on_shutdown_budget_spent, self, NULL);
  g_source_attach (self->budget, self->context);

  /* No new work: cancel what the backend is doing for the network and for
   * every boot (each boot stops the VM it made and replies). */
  g_cancellable_cancel (self->cancellable);
  for (GList *l = self->boots; l != NULL; l = l->next)
    {
      BootOp *op = l->data;
      g_cancellable_cancel (op->cancellable);
    }
  /* Members in a boot are no longer wanted: their boots reply "stopped
   * during boot". */
  {
    GHashTableIter iter;
    gpointer value;
    g_hash_table_iter_init (&iter, self->members);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      {
        HolderMember *m = value;
        if (m->boot != NULL)
          member_set_state (m, HOLDER_MEMBER_STATE_STOPPED);
      }
  }

  server_shutdown_continue (self);
}

gboolean
holder_server_is_finished (HolderServer *self)
{
  g_return_val_if_fail (self != NULL, TRUE);
  return self->finished;
}

void
holder_server_run_until_finished (HolderServer *self)
{
  g_return_if_fail (self != NULL);
  while (!self->finished)
    g_main_context_iteration (self->context, TRUE);
}

void
holder_server_free (HolderServer *self)
{
  if (self == NULL)
    return;

  /* A server freed before it finished (start-up failure, a test) must not
   * leave files behind. */
  if (!self->finished)
    {
      holder_server_shutdown (self, "freed");
      holder_server_run_until_finished (self);
    }

  g_clear_pointer (&self->lifetime, holder_lifetime_free);
  if (self->budget != NULL)
    {
      g_source_destroy (self->budget);
      g_clear_pointer (&self->budget, g_source_unref);
    }
  while (!g_queue_is_empty (&self->connections))
    conn_close (g_queue_peek_head (&self->connections));
  g_hash_table_destroy (self->members);
  g_hash_table_destroy (self->reservations);
  g_hash_table_destroy (self->reserving);
  g_ptr_array_unref (self->network_waiters);
  if (self->backend != NULL)
    self->backend_class->free (self->backend);
  g_clear_object (&self->cancellable);
  g_main_context_unref (self->context);
  g_free (self->subnet);
  g_strfreev (self->names);
  g_free (self->root);
  g_free (self);
}
