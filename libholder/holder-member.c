/* holder-member.c: members of one helper (see holder-member-private.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"

#include <unistd.h>

#include "holder-error.h"
#include "holder-member-private.h"
#include "holder-store.h"
#include "holder-store-private.h"

HolderMember *
holder_member_ref (HolderMember *m)
{
  g_atomic_int_inc (&m->ref_count);
  return m;
}

void
holder_member_unref (HolderMember *m)
{
  if (m == NULL || !g_atomic_int_dec_and_test (&m->ref_count))
    return;
  g_assert (m->listener == NULL && m->claim == NULL);
  g_free (m->name);
  g_free (m->ip);
  g_free (m->error);
  g_free (m);
}

void
holder_member_set_state (HolderMember      *m,
                         HolderMemberState  state)
{
  if (m->state == state)
    return;
  g_debug ("member %s: %s -> %s", m->name,
           holder_member_state_to_string (m->state),
           holder_member_state_to_string (state));
  m->state = state;
}

HolderStatus *
holder_member_status (HolderMember *m)
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

guint
holder_member_count_active (HolderServer *server)
{
  GHashTableIter iter;
  gpointer value;
  guint n = 0;

  g_hash_table_iter_init (&iter, server->members);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      HolderMember *m = value;
      if (holder_member_state_is_active (m->state))
        n++;
    }
  return n;
}

void
holder_member_retire (HolderMember *m)
{
  HolderServer *server = m->server;

  if (m->retired)
    return;
  m->retired = TRUE;

  /* Stop accepting, then remove the socket and the pidfile (the inodes we
   * made, nothing that replaced them) and let go of the name. */
  g_clear_pointer (&m->listener, holder_listener_free);
  g_clear_pointer (&m->claim, holder_store_claim_release);

  g_debug ("member %s retired", m->name);
  /* The registry holds a reference; this may free the member. */
  if (g_hash_table_lookup (server->members, m->name) == m)
    g_hash_table_remove (server->members, m->name);
}

static void
on_incoming (int      fd,
             gpointer user_data)
{
  HolderMember *m = user_data;

  m->server->accept_member (m, fd);
}

HolderMember *
holder_member_register (HolderServer  *server,
                        const char    *name,
                        GError       **error)
{
  g_autoptr(HolderMember) m = NULL;
  int fd;
  g_autoptr(GError) local_error = NULL;

  if (!holder_name_validate (name, error))
    return NULL;
  g_assert (g_hash_table_lookup (server->members, name) == NULL);

  m = g_new0 (HolderMember, 1);
  m->ref_count = 1;
  m->server = server;
  m->name = g_strdup (name);
  m->state = HOLDER_MEMBER_STATE_STARTING;

  /* The lock first: a live helper serving this name keeps its socket and
   * pidfile, and we touch nothing. Then the folder (made under the lock),
   * the socket, the pidfile. */
  m->claim = holder_store_claim_take (server->store, HOLDER_STORE_CLAIM_MEMBER, name, error);
  if (m->claim == NULL)
    return NULL;

  fd = holder_store_claim_listen (m->claim, HOLDER_LISTENER_BACKLOG, error);
  if (fd < 0)
    {
      g_clear_pointer (&m->claim, holder_store_claim_release);
      return NULL;
    }
  m->listener = holder_listener_new (fd, holder_store_claim_get_socket_path (m->claim),
                                     on_incoming, m);

  if (!holder_store_claim_write_pidfile (m->claim, error))
    {
      g_clear_pointer (&m->listener, holder_listener_free);
      g_clear_pointer (&m->claim, holder_store_claim_release);
      return NULL;
    }

  /* For tools (holderctl ls): the wire status does not name the backend.
   * Not worth failing a registration over. */
  if (!holder_store_record_member_info (server->root, name, HOLDER_STORE_INFO_BACKEND,
                                        server->backend_class->name, &local_error))
    g_debug ("record the backend of %s: %s", name, local_error->message);

  g_hash_table_insert (server->members, m->name, holder_member_ref (m));
  g_debug ("member %s registered on %s", name, holder_store_claim_get_socket_path (m->claim));
  return g_steal_pointer (&m);
}

static void
on_vm_stopped (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  HolderMember *m = user_data;
  HolderServer *server = m->server;
  g_autoptr(GError) error = NULL;

  if (!server->backend_class->stop_vm_finish (server->backend, result, &error))
    g_debug ("stop %s: %s", m->name, error->message);

  server->backend_class->vm_free (server->backend, m->vm);
  m->vm = NULL;
  m->stopping = FALSE;
  g_assert (server->pending_stops > 0);
  server->pending_stops--;

  /* A stop retires the member; a VM that exited on its own leaves it in
   * `error`, readable until it is stopped. */
  if (!server->shutting_down && m->state != HOLDER_MEMBER_STATE_ERROR)
    {
      holder_member_set_state (m, HOLDER_MEMBER_STATE_STOPPED);
      holder_member_retire (m);
    }
  holder_server_work_done (server);
  holder_member_unref (m);
}

void
holder_member_stop_vm (HolderMember *m)
{
  HolderServer *server = m->server;

  g_assert (m->vm != NULL);
  if (m->stopping)
    return;
  m->stopping = TRUE;
  server->pending_stops++;
  server->backend_class->stop_vm_async (server->backend, m->vm, NULL,
                                        on_vm_stopped, holder_member_ref (m));
}

void
holder_member_stop (HolderMember *m)
{
  if (m->retired || m->stopping)
    return;

  if (m->vm != NULL)
    {
      /* Retired when the VM is confirmed down. */
      holder_member_stop_vm (m);
      return;
    }

  holder_member_set_state (m, HOLDER_MEMBER_STATE_STOPPED);
  /* A boot in flight ends at once, stops the VM it made and replies. */
  if (m->boot_cancellable != NULL)
    g_cancellable_cancel (m->boot_cancellable);
  holder_member_retire (m);
  holder_server_work_done (m->server);
}
