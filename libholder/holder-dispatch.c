/* holder-dispatch.c: the commands of protocol v2 (see
 * holder-dispatch-private.h and docs/protocol.md).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"

#include "holder-boot-private.h"
#include "holder-codec-private.h"
#include "holder-dispatch-private.h"
#include "holder-error.h"
#include "holder-member-private.h"
#include "holder-store.h"
#include "holder-util-private.h"

/* ------------------------------------------------------- createnetwork */

static void
reply_subnet (HolderServer *self,
              HolderConn   *conn)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();

  reply->subnet = self->subnet[0] != '\0' ? g_strdup (self->subnet) : NULL;
  holder_conn_reply (conn, reply);
}

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
        reply_subnet (self, conn);
      else
        holder_conn_reply_error (conn, "create network: %s", error->message);
      holder_conn_unref (conn);
    }

  /* The shutdown waits for a creation in flight so that the network it
   * made is closed too. */
  holder_server_work_done (self);
}

static void
handle_create_network (HolderServer *self,
                       HolderConn   *conn)
{
  if (self->shutting_down)
    {
      holder_conn_reply_error (conn, "helper is shutting down");
      return;
    }
  switch (self->network_state)
    {
    case NETWORK_READY:
      reply_subnet (self, conn);
      return;
    case NETWORK_CREATING:
      g_ptr_array_add (self->network_waiters, holder_conn_ref (conn));
      return;
    case NETWORK_NONE:
    default:
      self->network_state = NETWORK_CREATING;
      g_ptr_array_add (self->network_waiters, holder_conn_ref (conn));
      self->backend_class->create_network_async (self->backend,
                                                 holder_server_get_cancellable (self),
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
          holder_conn_reply (conn, reply);
        }
      else
        holder_conn_reply_error (conn, "reserve %s: %s", op->name, error->message);
      holder_conn_unref (conn);
    }

  g_free (op->name);
  g_free (op);
  holder_server_work_done (self);
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
      holder_conn_reply_error (conn, "missing member name");
      return;
    }
  /* A repeat returns the first reservation, before any other check, and
   * never reaches the backend again. */
  existing = g_hash_table_lookup (self->reservations, request->name);
  if (existing != NULL)
    {
      g_autoptr(HolderReply) reply = holder_reply_new ();
      reply->reservation = holder_reservation_copy (existing);
      holder_conn_reply (conn, reply);
      return;
    }
  if (!holder_name_validate (request->name, &error))
    {
      holder_conn_reply_error (conn, "%s", error->message);
      return;
    }
  if (self->network_state != NETWORK_READY)
    {
      holder_conn_reply_error (conn, "network not created");
      return;
    }

  waiters = g_hash_table_lookup (self->reserving, request->name);
  if (waiters != NULL)
    {
      g_ptr_array_add (waiters, holder_conn_ref (conn));
      return;
    }
  waiters = g_ptr_array_new ();
  g_ptr_array_add (waiters, holder_conn_ref (conn));
  g_hash_table_insert (self->reserving, g_strdup (request->name), waiters);

  op = g_new0 (ReserveOp, 1);
  op->server = self;
  op->name = g_strdup (request->name);
  self->backend_class->reserve_async (self->backend, request->name, request->ip_hint,
                                      holder_server_get_cancellable (self), on_reserved, op);
}

/* ------------------------------------------------------------ boot-member */

static void
handle_boot_member (HolderServer        *self,
                    HolderConn          *conn,
                    const HolderRequest *request)
{
  const HolderMemberSpec *spec = request->spec;
  HolderReservation *reservation;
  HolderMember *m;
  g_autoptr(GError) error = NULL;

  if (spec == NULL || spec->name == NULL || spec->name[0] == '\0')
    {
      holder_conn_reply_error (conn, "missing or invalid spec");
      return;
    }
  if (!holder_name_validate (spec->name, &error))
    {
      holder_conn_reply_error (conn, "%s", error->message);
      return;
    }
  holder_boot_trace (spec->name, "request");
  if (self->shutting_down)
    {
      holder_conn_reply_error (conn, "helper is shutting down");
      return;
    }
  if (self->network_state != NETWORK_READY)
    {
      holder_conn_reply_error (conn, "network not created");
      return;
    }
  reservation = g_hash_table_lookup (self->reservations, spec->name);
  if (reservation == NULL)
    {
      holder_conn_reply_error (conn, "member %s was not reserved", spec->name);
      return;
    }

  m = g_hash_table_lookup (self->members, spec->name);
  if (m == NULL)
    {
      /* A runtime add, or a stopped member re-joining. */
      m = holder_member_register (self, spec->name, &error);
      if (m == NULL)
        {
          holder_conn_reply_error (conn, "register %s: %s", spec->name, error->message);
          return;
        }
      holder_member_unref (m); /* the registry keeps it */
    }

  /* A VM, or a boot that will make one, makes a second boot a duplicate;
   * neither the state nor the active count changes. */
  if (m->vm != NULL || m->boot != NULL || m->stopping)
    {
      holder_conn_reply_error (conn, "member %s is already running", spec->name);
      return;
    }

  holder_boot_start (m, conn, spec, reservation);
}

/* ------------------------------------------------------------------- stop */

static void
stop_after_reply (HolderConn *conn,
                  gpointer    user_data)
{
  holder_member_stop (user_data);
}

/* --------------------------------------------------------------- dispatch */

void
holder_dispatch_request (HolderConn *conn,
                         const char *line,
                         gsize       len,
                         gpointer    user_data)
{
  HolderMember *m = user_data;
  HolderServer *self = m->server;
  g_autoptr(HolderRequest) request = NULL;
  g_autoptr(GError) error = NULL;

  request = holder_request_parse (line, len, &error);
  if (request == NULL)
    {
      holder_conn_reply_error (conn, "%s", error->message);
      return;
    }

  g_debug ("request on %s: %s", m->name, request->cmd);

  if (g_str_equal (request->cmd, "status"))
    {
      g_autoptr(HolderReply) reply = holder_reply_new ();
      reply->status = holder_member_status (m);
      holder_conn_reply (conn, reply);
    }
  else if (g_str_equal (request->cmd, "stop"))
    {
      g_autoptr(HolderReply) reply = holder_reply_new ();
      /* `{}` is written before the teardown starts. */
      holder_conn_reply_then (conn, reply, stop_after_reply, m);
    }
  else if (g_str_equal (request->cmd, "createnetwork"))
    handle_create_network (self, conn);
  else if (g_str_equal (request->cmd, "reserve"))
    handle_reserve (self, conn, request);
  else if (g_str_equal (request->cmd, "boot-member"))
    handle_boot_member (self, conn, request);
  else
    {
      g_autoptr(GString) quoted = g_string_new (NULL);
      holder_append_go_quoted (quoted, request->cmd);
      holder_conn_reply_error (conn, "unknown command %s", quoted->str);
    }
}
