/* SPDX-License-Identifier: MIT
 *
 * The one thread that talks to libvirt. Every call that reaches the daemon
 * is a synchronous RPC (open, create, destroy, shutdown, lists, XML and
 * metadata reads), so none may run on the main loop: the worker owns the
 * connection and runs jobs one at a time, in the order they were pushed.
 * A job completes its GTask from the worker; GTask delivers the result on
 * the context the task was created in, the main context.
 *
 * Nothing is shared with the main thread but the queue: a job's data is
 * handed over whole and freed on the worker.
 */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

G_BEGIN_DECLS

typedef struct _HolderLibvirtWorker HolderLibvirtWorker;

/* Runs on the worker with an open connection and must complete @task. */
typedef void (*HolderLibvirtJobFunc) (GTask         *task,
                                      virConnectPtr  conn,
                                      gpointer       job_data);

typedef struct {
  /* On the worker, after each (re)open: register event callbacks and the
   * like. A failure closes the connection and fails the job. */
  gboolean (*opened)  (virConnectPtr  conn,
                       gpointer       user_data,
                       GError       **error);
  /* On the worker, before the connection is closed (not when it died). */
  void     (*closing) (virConnectPtr  conn,
                       gpointer       user_data);
  gpointer user_data;
} HolderLibvirtWorkerHooks;

/* Starts the thread; the connection to @uri opens with the first job. */
HolderLibvirtWorker *holder_libvirt_worker_new (const char                     *uri,
                                                const HolderLibvirtWorkerHooks *hooks);

/* Queues @func. A task cancelled before its turn fails with
 * G_IO_ERROR_CANCELLED without running; once running, a job completes. */
void holder_libvirt_worker_push (HolderLibvirtWorker  *worker,
                                 GTask                *task,
                                 HolderLibvirtJobFunc  func,
                                 gpointer              job_data,
                                 GDestroyNotify        job_data_free);

/* Runs what is queued, closes the connection (libvirt then destroys the
 * domains started with AUTODESTROY) and joins the thread. Blocks. */
void holder_libvirt_worker_free (HolderLibvirtWorker *worker);

/* The calling thread's last libvirt error, for messages ("unknown error"
 * when there is none). */
const char *holder_libvirt_error_message (void);
/* Its virErrorNumber, VIR_ERR_OK when none. */
int holder_libvirt_error_code (void);

G_END_DECLS
