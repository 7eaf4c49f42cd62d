/* holder-libvirt-stop.c: stopping a domain (the power button, then
 * destroy), and a domain that stopped, asked to or on its own.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-libvirt"

#include "holder-libvirt-private.h"

/* Ends a console stream that ended or is no longer wanted: both calls reach
 * the daemon. */
static void
stream_abort_job (GTask         *task,
                  virConnectPtr  conn,
                  gpointer       job_data)
{
  virStreamPtr stream = job_data;

  virStreamAbort (stream);
  virStreamFree (stream);
  g_task_return_boolean (task, TRUE);
}

/* The domain stopped, or is being stopped: a wait in flight ends. */
void
holder_libvirt_wait_abort (HolderVm *vm,
                           GError   *error)
{
  if (holder_guest_wait_is_pending (vm->wait))
    holder_guest_wait_abort (vm->wait, error);
  else
    g_error_free (error);
}

/* Stops copying the serial log; its stream is ended on the worker (or
 * freed here when the connection is already closed). */
void
holder_libvirt_vm_release_console (HolderVm *vm)
{
  virStreamPtr stream;

  if (vm->console == NULL)
    return;
  stream = holder_libvirt_console_steal_stream (vm->console);
  if (stream != NULL && vm->backend != NULL)
    {
      g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);

      holder_libvirt_worker_push (vm->backend->worker, task, stream_abort_job, stream, NULL);
    }
  else if (stream != NULL)
    virStreamFree (stream);
}

/* ---- stop ------------------------------------------------------------------------- */

typedef enum {
  DOMAIN_SHUTDOWN,
  DOMAIN_DESTROY,
} DomainAction;

typedef struct {
  char         *name;
  char         *uuid;
  DomainAction  action;
} DomainJob;

static void
domain_job_free (DomainJob *job)
{
  g_free (job->name);
  g_free (job->uuid);
  g_free (job);
}

/* Returns 1 when the domain is already gone, 0 when the request was made. */
static void
domain_job (GTask         *task,
            virConnectPtr  conn,
            gpointer       job_data)
{
  DomainJob *job = job_data;
  virDomainPtr domain = virDomainLookupByUUIDString (conn, job->uuid);
  int rc;

  if (domain == NULL)
    {
      if (holder_libvirt_error_code () == VIR_ERR_NO_DOMAIN)
        g_task_return_int (task, 1);
      else
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                 "look up libvirt domain %s: %s", job->name,
                                 holder_libvirt_error_message ());
      return;
    }
  if (job->action == DOMAIN_SHUTDOWN)
    rc = virDomainShutdownFlags (domain, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN);
  else
    rc = virDomainDestroy (domain);
  if (rc == 0)
    g_task_return_int (task, 0);
  else if (holder_libvirt_error_code () == VIR_ERR_NO_DOMAIN ||
           holder_libvirt_error_code () == VIR_ERR_OPERATION_INVALID)
    g_task_return_int (task, 1); /* "domain is not running" */
  else
    g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s libvirt domain %s: %s",
                             job->action == DOMAIN_SHUTDOWN ? "press the power button of"
                                                            : "destroy",
                             job->name, holder_libvirt_error_message ());
  virDomainFree (domain);
}

static void stop_destroy (HolderVm *vm);

void
holder_libvirt_stop_complete (HolderVm *vm,
                              GError   *error)
{
  GTask *task = g_steal_pointer (&vm->stop_task);

  if (vm->stop_timer != NULL)
    {
      g_source_destroy (vm->stop_timer);
      g_clear_pointer (&vm->stop_timer, g_source_unref);
    }
  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
stop_set_timer (HolderVm    *vm,
                guint        ms,
                GSourceFunc  func)
{
  if (vm->stop_timer != NULL)
    {
      g_source_destroy (vm->stop_timer);
      g_source_unref (vm->stop_timer);
    }
  vm->stop_timer = g_timeout_source_new (ms);
  g_source_set_callback (vm->stop_timer, func, vm, NULL);
  g_source_attach (vm->stop_timer, g_main_context_get_thread_default ());
}

static gboolean
on_console_drain_timeout (gpointer user_data)
{
  HolderVm *vm = user_data;

  g_clear_pointer (&vm->stop_timer, g_source_unref);
  g_debug ("%s: the console did not end after the domain", vm->domain_name);
  holder_libvirt_vm_release_console (vm);
  holder_libvirt_stop_complete (vm, NULL);
  return G_SOURCE_REMOVE;
}

/* The domain is gone, by the event (or a lookup that finds nothing). */
void
holder_libvirt_vm_stopped (HolderVm   *vm,
                           const char *message)
{
  VmState was = vm->state;

  if (was == VM_STOPPED || was == VM_CREATED)
    return;
  vm->state = VM_STOPPED;
  if (vm->backend != NULL && vm->uuid != NULL)
    g_hash_table_remove (vm->backend->vms, vm->uuid);
  /* Nothing answers at its address any more. */
  if (vm->backend != NULL)
    holder_libvirt_neighbour_remove (vm->backend, vm->spec->name, vm->reservation->ip);
  if (vm->exit_message == NULL)
    vm->exit_message = g_strdup (message);

  if (was == VM_STOPPING)
    {
      /* The guest's last words (the power button seen, ...) may still be
       * on their way: the stop completes with the end of the log. */
      if (vm->console != NULL && !holder_libvirt_console_has_ended (vm->console))
        stop_set_timer (vm, STOP_CONSOLE_DRAIN_MS, on_console_drain_timeout);
      else
        holder_libvirt_stop_complete (vm, NULL);
      return;
    }
  holder_libvirt_wait_abort (vm, g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s", message));
  /* A start still in flight reports it itself (on_started). */
  if (was == VM_RUNNING && vm->backend != NULL)
    {
      const HolderBackendHost *host = vm->backend->parent.host;

      if (host->vm_exited != NULL)
        host->vm_exited (vm, message, host->user_data);
    }
}

static gboolean
on_destroy_event_timeout (gpointer user_data)
{
  HolderVm *vm = user_data;

  g_clear_pointer (&vm->stop_timer, g_source_unref);
  /* The destroy succeeded but no STOPPED event came (a lost connection):
   * the domain is gone all the same. */
  g_warning ("%s: destroyed, but no lifecycle event came", vm->domain_name);
  holder_libvirt_vm_stopped (vm, "destroyed");
  return G_SOURCE_REMOVE;
}

static void
on_domain_job (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(HolderVm) vm = user_data;
  g_autoptr(GError) error = NULL;
  gssize gone = g_task_propagate_int (G_TASK (result), &error);
  gboolean destroy = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (result), "destroy"));

  if (vm->state != VM_STOPPING)
    return; /* the event came first */
  if (gone < 0)
    {
      if (destroy)
        {
          holder_libvirt_stop_complete (vm, g_steal_pointer (&error));
          return;
        }
      g_debug ("%s", error->message);
      stop_destroy (vm);
      return;
    }
  if (gone == 1)
    {
      holder_libvirt_vm_stopped (vm, "stopped");
      return;
    }
  if (destroy)
    stop_set_timer (vm, STOP_DESTROY_EVENT_MS, on_destroy_event_timeout);
}

static void
push_domain_job (HolderVm     *vm,
                 DomainAction  action)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, on_domain_job, holder_libvirt_vm_ref (vm));
  DomainJob *job = g_new0 (DomainJob, 1);

  g_object_set_data (G_OBJECT (task), "destroy", GINT_TO_POINTER (action == DOMAIN_DESTROY));
  job->name = g_strdup (vm->domain_name);
  job->uuid = g_strdup (vm->uuid);
  job->action = action;
  holder_libvirt_worker_push (vm->backend->worker, task, domain_job, job,
                              (GDestroyNotify) domain_job_free);
}

static void
stop_destroy (HolderVm *vm)
{
  if (vm->destroying)
    return;
  vm->destroying = TRUE;
  if (vm->stop_timer != NULL)
    {
      g_source_destroy (vm->stop_timer);
      g_clear_pointer (&vm->stop_timer, g_source_unref);
    }
  push_domain_job (vm, DOMAIN_DESTROY);
}

static gboolean
on_power_button_timeout (gpointer user_data)
{
  HolderVm *vm = user_data;

  g_clear_pointer (&vm->stop_timer, g_source_unref);
  g_debug ("%s: no power-off after the power button; destroying", vm->domain_name);
  stop_destroy (vm);
  return G_SOURCE_REMOVE;
}

void
holder_libvirt_stop_vm_async (HolderBackend       *backend,
                              HolderVm            *vm,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "holder_libvirt_stop_vm_async");
  g_task_set_check_cancellable (task, FALSE);
  if (vm->state == VM_CREATED || vm->state == VM_STOPPED || vm->backend == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (vm->stop_task != NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "%s is already stopping", vm->domain_name);
      return;
    }
  holder_libvirt_wait_abort (vm, g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                             "the domain is being stopped"));
  vm->stop_task = g_steal_pointer (&task);
  g_task_set_task_data (vm->stop_task, holder_libvirt_vm_ref (vm), (GDestroyNotify) holder_libvirt_vm_unref);

  /* A start in flight: the domain may not exist yet, and a guest that
   * never came up would not honour the button anyway. The destroy job
   * runs after the start job (the queue is in order). */
  if (vm->state == VM_STARTING || !holder_guest_wait_reached (vm->wait))
    {
      vm->state = VM_STOPPING;
      stop_destroy (vm);
      return;
    }
  vm->state = VM_STOPPING;
  push_domain_job (vm, DOMAIN_SHUTDOWN);
  stop_set_timer (vm, STOP_POWER_BUTTON_MS, on_power_button_timeout);
}

void
holder_libvirt_vm_free (HolderBackend *backend,
                        HolderVm      *vm)
{
  if (vm == NULL)
    return;
  if (vm->backend != NULL && vm->uuid != NULL && vm->state != VM_STOPPED)
    g_hash_table_remove (vm->backend->vms, vm->uuid);
  holder_libvirt_vm_release_console (vm);
  vm->backend = NULL;
  holder_libvirt_vm_unref (vm);
}
