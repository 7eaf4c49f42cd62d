/* SPDX-License-Identifier: MIT
 *
 * A queue of blocking jobs run off the main loop, one at a time, in the
 * order they were pushed. The cluster network needs both: its calls block
 * (the host-wide lock, kernel round trips, waiting for killed processes),
 * and two calls on one network (two taps added at once) must not overlap.
 *
 * A job completes its GTask from the worker; GTask delivers the result on
 * the context the task was created in, the main context. Nothing is shared
 * with the main thread but what a job is handed: the main thread only
 * reads what a job never changes.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _HolderLinuxWorker HolderLinuxWorker;

/* Runs on a worker thread and must complete @task. */
typedef void (*HolderLinuxJobFunc) (GTask    *task,
                                    gpointer  job_data);

HolderLinuxWorker *holder_linux_worker_new (void);

/* Queues @func. A task cancelled before its turn fails with
 * G_IO_ERROR_CANCELLED without running; once running, a job completes. */
void holder_linux_worker_push (HolderLinuxWorker  *worker,
                               GTask              *task,
                               HolderLinuxJobFunc  func,
                               gpointer            job_data,
                               GDestroyNotify      job_data_free);

/* Runs what is queued, then frees the queue. Blocks. */
void holder_linux_worker_free (HolderLinuxWorker *worker);

G_END_DECLS
