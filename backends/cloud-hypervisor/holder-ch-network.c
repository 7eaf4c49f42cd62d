/* holder-ch-network.c: the cloud-hypervisor backend's cluster network:
 * created, given taps and neighbour entries, closed and reconciled as jobs
 * on a worker of its own (holder-linux-worker.h), one at a time and in
 * order, completing their tasks on the main loop: they block (the
 * host-wide lock of the runtime folder, kernel round trips, waiting for
 * killed VMMs).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-backend-ch"

#include "holder-ch-private.h"
#include "holder-ch-reconcile.h"
#include "holder-ipam.h"
#include "holder-linux-net-dir.h"
#include "holder-linux-net-host.h"

/* What a network job is handed, and what it hands back. The main thread
 * reads it once the job's task completed. */
typedef struct {
  HolderBackendCh *self;          /* main thread only */
  char            *storage_root;
  gboolean         dry_run;
  HolderNetReport *report;        /* filled by the job */
  HolderLinuxNet  *net;           /* create: made by the job (owned);
                                   * close, taps: the network (borrowed) */
  gboolean         owns_net;
  char            *tap;           /* added, or to remove */
  char            *member;        /* neighbour entries: whose */
  char            *ip;
  char            *mac;
} NetJob;

static void
net_job_free (NetJob *job)
{
  g_free (job->storage_root);
  holder_net_report_free (job->report);
  if (job->owns_net)
    holder_linux_net_free (job->net);
  g_free (job->tap);
  g_free (job->member);
  g_free (job->ip);
  g_free (job->mac);
  g_free (job);
}

/* A job's task: @done runs on the main loop with it as its result and
 * @user_data. Fill the job, then start it. */
static GTask *
net_job_new (HolderBackendCh     *self,
             GCancellable        *cancellable,
             GAsyncReadyCallback  done,
             gpointer             user_data,
             const char          *name)
{
  GTask *task = g_task_new (NULL, cancellable, done, user_data);
  NetJob *job = g_new0 (NetJob, 1);

  g_task_set_name (task, name);
  job->self = self;
  job->storage_root = g_strdup (self->parent.host->storage_root);
  job->report = holder_net_report_new ();
  job->net = self->net;
  g_task_set_task_data (task, job, (GDestroyNotify) net_job_free);
  return task;
}

static NetJob *
net_job_of (GTask *task)
{
  return g_task_get_task_data (task);
}

/* Queues @func; from here on only the worker touches the job until the
 * task completes. Takes @task. */
static void
net_job_start (HolderBackendCh    *self,
               GTask              *task,
               HolderLinuxJobFunc  func)
{
  holder_linux_worker_push (self->net_worker, task, func, net_job_of (task), NULL);
  g_object_unref (task);
}

/* Hands what reconcile found to the host, on the main loop. */
static void
ch_report (HolderBackendCh *self,
           HolderNetReport *report)
{
  for (guint i = 0; i < report->kinds->len; i++)
    holder_backend_report_reclaimed (&self->parent, g_ptr_array_index (report->kinds, i),
                                     g_ptr_array_index (report->whats, i));
  for (guint i = 0; i < report->warnings->len; i++)
    g_warning ("reconcile: %s", (const char *) g_ptr_array_index (report->warnings, i));
  if (report->networks > 0)
    g_debug ("reconcile: reclaimed %u network(s) of dead helpers", report->networks);
}

/* The network half and the VMM half of reconcile. */
static gboolean
reconcile_run (NetJob        *job,
               GCancellable  *cancellable,
               GError       **error)
{
  if (!holder_linux_net_reconcile (job->storage_root, job->dry_run, cancellable,
                                   job->report, error))
    return FALSE;
  holder_ch_reconcile_api_sockets (job->storage_root, job->dry_run, job->report);
  return TRUE;
}

static void
reconcile_job (GTask    *task,
               gpointer  job_data)
{
  GError *error = NULL;

  if (!reconcile_run (job_data, g_task_get_cancellable (task), &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_reconciled (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) outer = user_data;
  NetJob *job = g_task_get_task_data (G_TASK (result));
  GError *error = NULL;

  ch_report (job->self, job->report);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (outer, error);
  else
    g_task_return_boolean (outer, TRUE);
}

void
ch_reconcile_async (HolderBackend        *backend,
                    HolderReconcileFlags  flags,
                    GCancellable         *cancellable,
                    GAsyncReadyCallback   callback,
                    gpointer              user_data)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;
  GTask *outer = g_task_new (NULL, cancellable, callback, user_data);
  GTask *task;

  g_task_set_name (outer, "ch_reconcile_async");
  task = net_job_new (self, cancellable, on_reconciled, outer, "ch_reconcile_job");
  net_job_of (task)->dry_run = (flags & HOLDER_RECONCILE_FLAGS_DRY_RUN) != 0;
  net_job_start (self, task, reconcile_job);
}

static void
create_network_job (GTask    *task,
                    gpointer  job_data)
{
  NetJob *job = job_data;
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(GError) reconcile_error = NULL;
  GError *error = NULL;

  /* Subnets of dead helpers become free again before we choose one. */
  if (!reconcile_run (job, cancellable, &reconcile_error))
    holder_net_report_warn (job->report, "%s", reconcile_error->message);

  job->net = holder_linux_net_create (cancellable, &error);
  job->owns_net = job->net != NULL;
  if (job->net == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_network_created (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) outer = user_data;
  NetJob *job = g_task_get_task_data (G_TASK (result));
  HolderBackendCh *self = job->self;
  GError *error = NULL;

  ch_report (self, job->report);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (outer, error);
      return;
    }
  self->net = g_steal_pointer (&job->net);
  job->owns_net = FALSE;
  g_task_return_pointer (outer, g_strdup (holder_linux_net_get_subnet (self->net)), g_free);
}

void
ch_create_network_async (HolderBackend       *backend,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;
  GTask *outer = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (outer, "ch_create_network_async");
  if (self->net != NULL)
    {
      g_task_return_pointer (outer, g_strdup (holder_linux_net_get_subnet (self->net)),
                             g_free);
      g_object_unref (outer);
      return;
    }
  net_job_start (self,
                 net_job_new (self, cancellable, on_network_created, outer,
                              "ch_create_network_job"),
                 create_network_job);
}

static void
close_network_job (GTask    *task,
                   gpointer  job_data)
{
  NetJob *job = job_data;
  GError *error = NULL;

  if (job->net != NULL &&
      !holder_linux_net_close (job->net, g_task_get_cancellable (task), &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_network_closed (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) outer = user_data;
  NetJob *job = g_task_get_task_data (G_TASK (result));
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* The record stays: reconcile finishes once this helper is gone. */
      g_task_return_error (outer, error);
      return;
    }
  if (job->self->net == job->net)
    g_clear_pointer (&job->self->net, holder_linux_net_free);
  g_task_return_boolean (outer, TRUE);
}

void
ch_close_network_async (HolderBackend       *backend,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;
  GTask *outer = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (outer, "ch_close_network_async");
  net_job_start (self,
                 net_job_new (self, cancellable, on_network_closed, outer,
                              "ch_close_network_job"),
                 close_network_job);
}

static void
add_tap_job (GTask    *task,
             gpointer  job_data)
{
  NetJob *job = job_data;
  GError *error = NULL;

  job->tap = holder_linux_net_add_tap (job->net, &error);
  if (job->tap == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
remove_tap_job (GTask    *task,
                gpointer  job_data)
{
  NetJob *job = job_data;
  GError *error = NULL;

  if (!holder_linux_net_remove_tap (job->net, job->tap, &error))
    {
      g_warning ("remove tap %s: %s", job->tap, error->message);
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
}

/* Gives @tap back on the worker, before any later network job. A failure
 * is logged there; the record keeps the tap, and the close removes it. */
void
ch_remove_tap (HolderBackendCh *self,
               const char      *tap)
{
  GTask *task = net_job_new (self, NULL, NULL, NULL, "ch_remove_tap_job");

  net_job_of (task)->tap = g_strdup (tap);
  net_job_start (self, task, remove_tap_job);
}

static void
neighbour_job (GTask    *task,
               gpointer  job_data)
{
  NetJob *job = job_data;
  g_autoptr(GError) error = NULL;

  if (!holder_linux_net_add_neighbour (job->net, job->ip, job->mac, &error))
    g_warning ("%s: %s; probes of its port 22 wait for address resolution",
               job->member, error->message);
  g_task_return_boolean (task, TRUE);
}

/* Sets @member's neighbour entry on the worker, in order with the taps
 * (it is removed when the VM stops). Once the guest's address and MAC are
 * known, a
 * permanent entry spares every probe of its port 22 the address
 * resolution (which the kernel retries once a second while the guest is
 * not up); having none only makes readiness slower: a warning. */
void
ch_set_neighbour (HolderBackendCh *self,
                  const char      *member,
                  const char      *ip,
                  const char      *mac)
{
  GTask *task;
  NetJob *job;

  if (self->net == NULL)
    return;
  task = net_job_new (self, NULL, NULL, NULL, "ch_neighbour_job");
  job = net_job_of (task);
  job->member = g_strdup (member);
  job->ip = g_strdup (ip);
  job->mac = g_strdup (mac);
  net_job_start (self, task, neighbour_job);
}

static void
ch_add_neighbour (const char              *name,
                  const HolderReservation *reservation,
                  gpointer                 user_data)
{
  ch_set_neighbour (user_data, name, reservation->ip, reservation->mac);
}

void
ch_reserve_async (HolderBackend       *backend,
                  const char          *name,
                  const char          *ip_hint,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;

  holder_ipam_reserve_async (self->net != NULL ? holder_linux_net_get_ipam (self->net) : NULL,
                             name, ip_hint, ch_add_neighbour, self,
                             cancellable, callback, user_data);
}

void
holder_ch_network_add_tap_async (HolderBackendCh     *self,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  net_job_start (self, net_job_new (self, NULL, callback, user_data, "ch_add_tap_job"),
                 add_tap_job);
}

char *
holder_ch_network_add_tap_finish (GAsyncResult  *result,
                                  GError       **error)
{
  if (!g_task_propagate_boolean (G_TASK (result), error))
    return NULL;
  return g_steal_pointer (&net_job_of (G_TASK (result))->tap);
}
