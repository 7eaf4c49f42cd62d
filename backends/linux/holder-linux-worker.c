/* SPDX-License-Identifier: MIT
 *
 * The worker queue of the Linux backends (see holder-linux-worker.h): a
 * GThreadPool of at most one thread, which exists only while there is
 * work.
 */
#define G_LOG_DOMAIN "holder-linux-net"

#include "holder-linux-worker.h"

typedef struct {
  GTask              *task;
  HolderLinuxJobFunc  func;
  gpointer            data;
  GDestroyNotify      data_free;
} Job;

struct _HolderLinuxWorker {
  GThreadPool *pool;
};

static void
job_run (gpointer job_pointer,
         gpointer user_data)
{
  Job *job = job_pointer;

  if (!g_task_return_error_if_cancelled (job->task))
    job->func (job->task, job->data);
  if (job->data_free != NULL && job->data != NULL)
    job->data_free (job->data);
  g_object_unref (job->task);
  g_free (job);
}

HolderLinuxWorker *
holder_linux_worker_new (void)
{
  HolderLinuxWorker *worker = g_new0 (HolderLinuxWorker, 1);

  /* Not exclusive: the thread comes from GLib's shared pool and goes back
   * to it when the queue is empty. One at most: jobs never overlap. */
  worker->pool = g_thread_pool_new (job_run, NULL, 1, FALSE, NULL);
  return worker;
}

void
holder_linux_worker_push (HolderLinuxWorker  *worker,
                          GTask              *task,
                          HolderLinuxJobFunc  func,
                          gpointer            job_data,
                          GDestroyNotify      job_data_free)
{
  Job *job;

  g_return_if_fail (worker != NULL);
  g_return_if_fail (G_IS_TASK (task) && func != NULL);

  job = g_new0 (Job, 1);
  job->task = g_object_ref (task);
  job->func = func;
  job->data = job_data;
  job->data_free = job_data_free;
  g_thread_pool_push (worker->pool, job, NULL);
}

void
holder_linux_worker_free (HolderLinuxWorker *worker)
{
  if (worker == NULL)
    return;
  g_thread_pool_free (worker->pool, FALSE, TRUE);
  g_free (worker);
}
