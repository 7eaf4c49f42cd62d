/* holder-server.c: the life of one helper's server: start-up, the
 * backend's host callbacks, accepting command connections, and the
 * shutdown sequence. The commands themselves are in holder-dispatch.c,
 * boots in holder-boot.c, members in holder-member.c (see
 * holder-server-state-private.h for how the parts call each other).
 *
 * Everything here runs on one thread, on the thread-default main context
 * the server was created on. Slow work (the backend) is asynchronous, so a
 * status request is answered while boots are in flight.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"

#include <unistd.h>

#include "holder-dispatch-private.h"
#include "holder-error.h"
#include "holder-member-private.h"
#include "holder-peer-private.h"
#include "holder-server-private.h"
#include "holder-server-state-private.h"

static void server_shutdown_continue (HolderServer *self);

/* The helper lives while a member is active (section 3 of the contract). */
static void
server_check_idle (HolderServer *self)
{
  if (self->started && !self->shutting_down && holder_member_count_active (self) == 0)
    holder_server_shutdown (self, "no active member left");
}

static void
server_work_done (HolderServer *self)
{
  if (self->shutting_down)
    server_shutdown_continue (self);
  else
    server_check_idle (self);
}

/* ------------------------------------------------------------ connections */

static void
on_conn_closed (HolderConn *conn,
                gpointer    user_data)
{
  HolderMember *m = user_data;
  HolderServer *self = m->server;

  holder_peer_table_release (self->peers, holder_conn_get_peer_uid (conn),
                             !holder_conn_is_denied (conn));
  /* The set held the connection's first reference. */
  g_hash_table_remove (self->connections, conn);
  /* The shutdown waits for replies in flight to be written. */
  if (self->shutting_down)
    server_shutdown_continue (self);
}

static void
server_accept_member (HolderMember *m,
                      int           fd)
{
  HolderServer *self = m->server;
  HolderConnOptions options = {
    .context = self->context,
    .request_timeout_ms = self->request_timeout_ms,
    .on_request = holder_dispatch_request,
    .on_closed = on_conn_closed,
    .destroy_data = (GDestroyNotify) holder_member_unref,
  };
  HolderConn *conn;
  gint64 uid;
  gboolean allowed = holder_peer_is_allowed (fd, &uid);

  /* Over its uid's cap: closed unread, before it costs anything more. */
  if (!holder_peer_table_admit (self->peers, uid, allowed))
    {
      g_debug ("uid %" G_GINT64_FORMAT " has too many connections open; closing a new one",
               uid);
      close (fd);
      return;
    }
  options.user_data = holder_member_ref (m);
  conn = holder_conn_new (fd, &options);
  holder_conn_set_peer_uid (conn, uid);
  /* The set holds the connection's reference until it closes. */
  g_hash_table_add (self->connections, conn);
  if (allowed)
    holder_conn_start (conn);
  else
    holder_conn_refuse (conn);
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
  holder_member_set_state (m, HOLDER_MEMBER_STATE_ERROR);
  g_free (m->error);
  m->error = g_strdup (message);
  g_clear_pointer (&m->ip, g_free);

  holder_member_stop_vm (m);
}

static void
on_backend_member_progress (const char        *name,
                            HolderMemberState  state,
                            gpointer           user_data)
{
  HolderServer *self = user_data;
  HolderMember *m = g_hash_table_lookup (self->members, name);

  if (m != NULL && m->boot != NULL && holder_member_state_is_active (state))
    holder_member_set_state (m, state);
}

static void
on_backend_reclaimed (const char *kind,
                      const char *what,
                      gpointer    user_data)
{
  g_info ("reconcile: removed %s %s", kind, what);
}

static void
on_store_pruned (const char *kind,
                 const char *what,
                 gpointer    user_data)
{
  g_info ("prune: removed %s %s", kind, what);
}

static void
on_client_gone (const char *reason,
                gpointer    user_data)
{
  holder_server_shutdown (user_data, reason);
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
  self->peers = holder_peer_table_new ();
  self->names = g_strdupv ((char **) options->names);
  self->backend_class = options->backend_class;
  self->bound = options->bound;
  self->parent_pid = options->parent_pid;
  self->request_timeout_ms = options->request_timeout_ms != 0
    ? options->request_timeout_ms : HOLDER_SERVER_REQUEST_TIMEOUT_SECONDS * 1000;
  self->context = g_main_context_ref_thread_default ();
  self->members = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) holder_member_unref);
  self->reservations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) holder_reservation_free);
  self->reserving = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->network_waiters = g_ptr_array_new ();
  self->connections = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                             (GDestroyNotify) holder_conn_unref, NULL);
  self->work_done = server_work_done;
  self->accept_member = server_accept_member;

  /* Opened (made, checked) once; every file of the store is reached
   * through it from now on. Too long a root fails here, before anything
   * is made. */
  self->store = holder_store_dir_open (self->root, HOLDER_STORE_DIR_CREATE, error);
  if (self->store == NULL)
    return NULL;

  self->host.storage_root = self->root;
  self->host.vm_exited = on_backend_vm_exited;
  self->host.member_progress = on_backend_member_progress;
  self->host.reclaimed = on_backend_reclaimed;
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

  /* Reclaim what dead helpers left before taking names (section 9): their
   * sockets, pidfiles and lock files in the store, then the backend's host
   * state (unless it keeps none). A failure is reported, never fatal: this
   * helper's own work is unaffected. */
  if (!holder_store_dir_prune (self->store, FALSE, on_store_pruned, self, &reconcile_error))
    {
      g_warning ("%s", reconcile_error->message);
      g_clear_error (&reconcile_error);
    }
  if ((self->backend_class->caps & HOLDER_BACKEND_CAP_NO_HOST_STATE) == 0)
    {
      self->backend_class->reconcile_async (self->backend, HOLDER_RECONCILE_FLAGS_NONE, NULL,
                                           on_reconciled, &reconciled);
      while (reconciled == NULL)
        g_main_context_iteration (self->context, TRUE);
      if (!self->backend_class->reconcile_finish (self->backend, reconciled, &reconcile_error))
        g_warning ("reconcile: %s", reconcile_error->message);
    }

  /* A signal during the reconcile began the shutdown (and may have ended
   * it): take no name any more. */
  if (self->shutting_down)
    {
      self->started = TRUE;
      return TRUE;
    }

  for (guint i = 0; self->names[i] != NULL; i++)
    {
      g_autoptr(GError) local_error = NULL;
      HolderMember *m;

      if (g_hash_table_contains (self->members, self->names[i]))
        continue;
      m = holder_member_register (self, self->names[i], &local_error);
      if (m == NULL)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "register %s: ", self->names[i]);
          /* Undo the members registered so far. */
          holder_server_shutdown (self, "start-up failed");
          holder_server_run_until_finished (self);
          return FALSE;
        }
      holder_member_unref (m);
    }

  if (self->bound)
    {
      self->lifetime = holder_lifetime_new (self->store, self->names[0], self->parent_pid,
                                            on_client_gone, self, error);
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
        holder_member_stop_vm (m);
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
        holder_member_set_state (m, HOLDER_MEMBER_STATE_STOPPED);
      holder_member_retire (m);
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
   * sent a request, and refused ones, are dropped. */
  {
    g_autoptr(GPtrArray) idle = g_ptr_array_new ();
    gpointer conn;

    g_hash_table_iter_init (&iter, self->connections);
    while (g_hash_table_iter_next (&iter, &conn, NULL))
      if (!holder_conn_is_replying (conn) || holder_conn_is_denied (conn))
        g_ptr_array_add (idle, conn);
    for (guint i = 0; i < idle->len; i++)
      holder_conn_close (g_ptr_array_index (idle, i));
  }
  if (g_hash_table_size (self->connections) > 0)
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
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  /* Members in a boot are no longer wanted: their boots reply "stopped
   * during boot". Boots of members already stopped were cancelled then. */
  {
    GHashTableIter iter;
    gpointer value;
    g_hash_table_iter_init (&iter, self->members);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      {
        HolderMember *m = value;
        if (m->boot_cancellable != NULL)
          {
            holder_member_set_state (m, HOLDER_MEMBER_STATE_STOPPED);
            g_cancellable_cancel (m->boot_cancellable);
          }
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
  while (g_hash_table_size (self->connections) > 0)
    {
      GHashTableIter iter;
      gpointer conn;

      g_hash_table_iter_init (&iter, self->connections);
      g_hash_table_iter_next (&iter, &conn, NULL);
      holder_conn_close (conn);
    }
  g_hash_table_destroy (self->connections);
  g_hash_table_destroy (self->members);
  g_hash_table_destroy (self->reservations);
  g_hash_table_destroy (self->reserving);
  g_ptr_array_unref (self->network_waiters);
  if (self->backend != NULL)
    self->backend_class->free (self->backend);
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->store, holder_store_dir_unref);
  holder_peer_table_free (self->peers);
  g_main_context_unref (self->context);
  g_free (self->subnet);
  g_strfreev (self->names);
  g_free (self->root);
  g_free (self);
}
