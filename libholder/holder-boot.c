/* holder-boot.c: a member's boot (see holder-boot-private.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"

#include "holder-boot-private.h"
#include "holder-error.h"
#include "holder-member-private.h"
#include "holder-spec-check-private.h"
#include "holder-store-private.h"
#include "holder-util-private.h"

struct _HolderBoot {
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

static void boot_finish (HolderBoot *op);

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static void
boot_free (HolderBoot *op)
{
  clear_source (&op->ip_timeout);
  if (op->vm != NULL)
    op->server->backend_class->vm_free (op->server->backend, op->vm);
  g_clear_object (&op->cancellable);
  holder_member_spec_free (op->spec);
  holder_reservation_free (op->reservation);
  g_free (op->failure);
  if (op->conn != NULL)
    holder_conn_unref (op->conn);
  holder_member_unref (op->member);
  g_free (op);
}

/* The member went away (stop, shutdown) while this boot was in flight. */
static gboolean
boot_member_gone (HolderBoot *op)
{
  return op->member->retired || op->member->state == HOLDER_MEMBER_STATE_STOPPED;
}

static void
boot_fail (HolderBoot *op,
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
      g_autofree char *bound = holder_duration_format (op->ip_timeout_usec);
      g_autofree char *ready = NULL;
      g_autofree char *why = NULL;

      /* Say what "up" means and where to look: a bare "timed out" leaves
       * the user guessing between a slow guest, a wrong address and a
       * kernel that never booted. */
      if (op->server->backend_class->describe_ready != NULL && op->vm != NULL)
        ready = op->server->backend_class->describe_ready (op->server->backend, op->vm);
      if (ready != NULL && ready[0] != '\0')
        why = g_strdup_printf ("timed out after %s waiting for %s", bound, ready);
      else
        why = g_strdup_printf ("timed out after %s", bound);
      op->failure = g_strdup_printf ("%s %s: %s", step, op->spec->name, why);
      g_free (op->member->error);
      op->member->error = g_steal_pointer (&why);
    }
  else
    {
      op->failure = g_strdup_printf ("%s %s: %s", step, op->spec->name, error->message);
      g_free (op->member->error);
      op->member->error = g_strdup (error->message);
    }
}

static void
on_vm_stopped (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  HolderBoot *op = user_data;
  g_autoptr(GError) error = NULL;

  if (!op->server->backend_class->stop_vm_finish (op->server->backend, result, &error))
    g_debug ("stop %s after a failed boot: %s", op->spec->name, error->message);
  boot_finish (op);
}

/* Ends a boot that failed or lost its member: stop the partial VM first,
 * then report. */
static void
boot_abort (HolderBoot *op)
{
  if (op->vm != NULL)
    op->server->backend_class->stop_vm_async (op->server->backend, op->vm, NULL,
                                              on_vm_stopped, op);
  else
    boot_finish (op);
}

static void
boot_finish (HolderBoot *op)
{
  HolderServer *server = op->server;
  HolderMember *m = op->member;

  if (m->boot == op)
    {
      m->boot = NULL;
      m->boot_cancellable = NULL;
    }
  server->boots = g_list_remove (server->boots, op);

  if (op->failure == NULL)
    {
      g_assert (m->vm == NULL);
      m->vm = g_steal_pointer (&op->vm);
      holder_member_set_state (m, HOLDER_MEMBER_STATE_RUNNING);
      g_clear_pointer (&m->error, g_free);
    }
  else if (op->failure_code != HOLDER_ERROR_STOPPED_DURING_BOOT)
    {
      holder_member_set_state (m, HOLDER_MEMBER_STATE_ERROR);
      g_clear_pointer (&m->ip, g_free);
    }

  /* The reply goes out before anything that may end the helper: the
   * shutdown waits for open connections to finish writing. */
  if (op->conn != NULL)
    {
      if (op->failure == NULL)
        holder_conn_reply_empty (op->conn);
      else
        holder_conn_reply_error (op->conn, "%s", op->failure);
      /* Written by now: a reply this small never waits for the socket. */
      holder_boot_trace (op->spec->name, "reply");
    }

  boot_free (op);
  holder_server_work_done (server);
}

static void
on_ip_known (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  HolderBoot *op = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;

  ip = op->server->backend_class->wait_ip_finish (op->server->backend, result, &error);
  clear_source (&op->ip_timeout);

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
on_ip_timeout (gpointer user_data)
{
  HolderBoot *op = user_data;

  op->timed_out = TRUE;
  g_cancellable_cancel (op->cancellable);
  g_clear_pointer (&op->ip_timeout, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
boot_step_wait_ip (HolderBoot *op)
{
  op->ip_timeout_usec = holder_ip_wait_timeout_usec ();
  op->ip_timeout = g_timeout_source_new (MAX (1, op->ip_timeout_usec / 1000));
  g_source_set_callback (op->ip_timeout, on_ip_timeout, op, NULL);
  g_source_attach (op->ip_timeout, op->server->context);

  op->server->backend_class->wait_ip_async (op->server->backend, op->vm, op->cancellable,
                                            on_ip_known, op);
}

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  HolderBoot *op = user_data;
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
  holder_boot_trace (op->spec->name, "vm-started");
  boot_step_wait_ip (op);
}

static void
on_created (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  HolderBoot *op = user_data;
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
  op->server->backend_class->start_vm_async (op->server->backend, op->vm, op->cancellable,
                                             on_started, op);
}

static void
boot_step_create (HolderBoot *op)
{
  op->server->backend_class->create_vm_async (op->server->backend, op->spec, op->reservation,
                                              op->cancellable, on_created, op);
}

static void
on_spec_checked (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  HolderBoot *op = user_data;
  g_autoptr(GError) error = NULL;

  if (!holder_spec_check_finish (result, &error) || boot_member_gone (op))
    {
      /* Nothing was made: no VM to stop. */
      boot_fail (op, "create", error);
      boot_finish (op);
      return;
    }
  boot_step_create (op);
}

/* Tools (holderctl logs) find the console where this boot writes it. */
static void
boot_record_console (HolderBoot *op)
{
  g_autoptr(GError) error = NULL;

  if (!holder_store_record_member_info (op->server->root, op->spec->name,
                                        HOLDER_STORE_INFO_CONSOLE,
                                        op->spec->serial_log_path, &error))
    g_debug ("record the console of %s: %s", op->spec->name, error->message);
}

void
holder_boot_start (HolderMember            *m,
                   HolderConn              *conn,
                   const HolderMemberSpec  *spec,
                   const HolderReservation *reservation)
{
  HolderServer *server = m->server;
  HolderBoot *op;

  g_assert (m->vm == NULL && m->boot == NULL);

  op = g_new0 (HolderBoot, 1);
  op->server = server;
  op->member = holder_member_ref (m);
  op->conn = holder_conn_ref (conn);
  op->spec = holder_member_spec_copy (spec);
  op->reservation = holder_reservation_copy (reservation);
  op->cancellable = g_cancellable_new ();
  m->boot = op;
  m->boot_cancellable = op->cancellable;
  g_clear_pointer (&m->error, g_free);
  holder_member_set_state (m, HOLDER_MEMBER_STATE_STARTING);
  server->boots = g_list_prepend (server->boots, op);

  g_debug ("booting %s", spec->name);
  boot_record_console (op);
  /* Errors up front: a missing file or an impossible size is found before
   * the backend makes anything. The fake opens no file and boots nothing. */
  if ((server->backend_class->caps & HOLDER_BACKEND_CAP_NO_GUEST) != 0)
    boot_step_create (op);
  else
    holder_spec_check_async (op->spec, op->cancellable, on_spec_checked, op);
}
