/* SPDX-License-Identifier: MIT
 *
 * The libvirt worker thread (see holder-libvirt-worker.h).
 */
#define G_LOG_DOMAIN "holder-libvirt"

#include <libvirt/virterror.h>

#include "holder-backend.h"
#include "holder-libvirt-worker.h"

typedef struct {
  GTask                *task;      /* NULL: the quit job */
  HolderLibvirtJobFunc  func;
  gpointer              data;
  GDestroyNotify        data_free;
} Job;

struct _HolderLibvirtWorker {
  char                     *uri;
  HolderLibvirtWorkerHooks  hooks;
  GAsyncQueue              *queue;
  GThread                  *thread;
  /* Touched by the worker thread only. */
  virConnectPtr             conn;
};

static void
job_free (Job *job)
{
  if (job->data_free != NULL && job->data != NULL)
    job->data_free (job->data);
  g_clear_object (&job->task);
  g_free (job);
}

const char *
holder_libvirt_error_message (void)
{
  virErrorPtr error = virGetLastError ();

  return error != NULL && error->message != NULL ? error->message : "unknown error";
}

int
holder_libvirt_error_code (void)
{
  virErrorPtr error = virGetLastError ();

  return error != NULL ? error->code : VIR_ERR_OK;
}

/* libvirt prints every error on stderr by default; ours are reported
 * through GError, and the rest are noise (lookups that find nothing). */
static void
on_libvirt_error (void        *user_data,
                  virErrorPtr  error)
{
  g_debug ("libvirt: %s", error->message != NULL ? error->message : "(no message)");
}

static void
worker_close (HolderLibvirtWorker *self,
              gboolean             alive)
{
  if (self->conn == NULL)
    return;
  if (alive && self->hooks.closing != NULL)
    self->hooks.closing (self->conn, self->hooks.user_data);
  virConnectClose (self->conn);
  self->conn = NULL;
}

static gboolean
worker_ensure_open (HolderLibvirtWorker *self,
                    GError             **error)
{
  if (self->conn != NULL && virConnectIsAlive (self->conn) == 1)
    return TRUE;
  if (self->conn != NULL)
    {
      g_message ("the connection to %s was lost; reconnecting", self->uri);
      worker_close (self, FALSE);
    }

  /* No interactive authentication: the helper has no terminal to ask on. */
  self->conn = virConnectOpen (self->uri);
  if (self->conn == NULL)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "connect to %s: %s",
                   self->uri, holder_libvirt_error_message ());
      return FALSE;
    }
  if (self->hooks.opened != NULL && !self->hooks.opened (self->conn, self->hooks.user_data, error))
    {
      g_prefix_error (error, "connect to %s: ", self->uri);
      worker_close (self, FALSE);
      return FALSE;
    }
  g_debug ("connected to %s", self->uri);
  return TRUE;
}

static gpointer
worker_main (gpointer user_data)
{
  HolderLibvirtWorker *self = user_data;

  for (;;)
    {
      Job *job = g_async_queue_pop (self->queue);
      GError *error = NULL;

      if (job->task == NULL)
        {
          job_free (job);
          break;
        }
      if (g_task_return_error_if_cancelled (job->task))
        ;
      else if (!worker_ensure_open (self, &error))
        g_task_return_error (job->task, error);
      else
        job->func (job->task, self->conn, job->data);
      job_free (job);
    }
  worker_close (self, self->conn != NULL && virConnectIsAlive (self->conn) == 1);
  return NULL;
}

HolderLibvirtWorker *
holder_libvirt_worker_new (const char                     *uri,
                           const HolderLibvirtWorkerHooks *hooks)
{
  HolderLibvirtWorker *self = g_new0 (HolderLibvirtWorker, 1);

  g_return_val_if_fail (uri != NULL, NULL);

  virSetErrorFunc (NULL, on_libvirt_error);
  self->uri = g_strdup (uri);
  if (hooks != NULL)
    self->hooks = *hooks;
  self->queue = g_async_queue_new ();
  self->thread = g_thread_new ("holder-libvirt", worker_main, self);
  return self;
}

void
holder_libvirt_worker_push (HolderLibvirtWorker  *worker,
                            GTask                *task,
                            HolderLibvirtJobFunc  func,
                            gpointer              job_data,
                            GDestroyNotify        job_data_free)
{
  Job *job = g_new0 (Job, 1);

  g_return_if_fail (worker != NULL);
  g_return_if_fail (G_IS_TASK (task) && func != NULL);

  job->task = g_object_ref (task);
  job->func = func;
  job->data = job_data;
  job->data_free = job_data_free;
  g_async_queue_push (worker->queue, job);
}

void
holder_libvirt_worker_free (HolderLibvirtWorker *worker)
{
  if (worker == NULL)
    return;
  g_async_queue_push (worker->queue, g_new0 (Job, 1));
  g_thread_join (worker->thread);
  g_async_queue_unref (worker->queue);
  g_free (worker->uri);
  g_free (worker);
}
