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

static void
close_network_start (HolderBackendCh *self,
                     GTask           *outer)
{
  net_job_start (self,
                 net_job_new (self, g_task_get_cancellable (outer), on_network_closed, outer,
                              "ch_close_network_job"),
                 close_network_job);
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
  /* Taps still being deleted are forgotten by jobs that need the network:
   * the close comes after them. */
  if (self->tap_deletions > 0)
    {
      g_assert (self->close_waiting == NULL);
      self->close_waiting = outer;
      return;
    }
  close_network_start (self, outer);
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
forget_tap_job (GTask    *task,
                gpointer  job_data)
{
  NetJob *job = job_data;
  GError *error = NULL;

  if (!holder_linux_net_forget_tap (job->net, job->tap, &error))
    {
      g_warning ("%s", error->message);
      g_task_return_error (task, error);
    }
  else
    g_task_return_boolean (task, TRUE);
}

static void
delete_tap_thread (GTask        *task,
                   gpointer      source,
                   gpointer      task_data,
                   GCancellable *cancellable)
{
  GError *error = NULL;

  if (!holder_linux_net_delete_tap_link (task_data, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
on_tap_deleted (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  HolderBackendCh *self = user_data;
  const char *tap = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  g_assert (self->tap_deletions > 0);
  self->tap_deletions--;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    /* The record keeps the tap, and the close removes it. */
    g_warning ("%s", error->message);
  else if (self->net != NULL)
    {
      GTask *task = net_job_new (self, NULL, NULL, NULL, "ch_forget_tap_job");

      net_job_of (task)->tap = g_strdup (tap);
      net_job_start (self, task, forget_tap_job);
    }
  if (self->tap_deletions == 0 && self->close_waiting != NULL)
    close_network_start (self, g_steal_pointer (&self->close_waiting));
}

/* Gives @tap back: the kernel deletes its link on a thread of its own (it
 * waits for an RCU grace period, 10 to 20 ms, which must not hold back the
 * next boot's tap), then a job on the worker drops it from the record, so
 * that the record lists the tap until it is confirmed gone. A failure is
 * logged; the record keeps the tap, and the close removes it. */
void
ch_remove_tap (HolderBackendCh *self,
               const char      *tap)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, on_tap_deleted, self);

  g_task_set_name (task, "ch_remove_tap");
  g_task_set_task_data (task, g_strdup (tap), g_free);
  self->tap_deletions++;
  g_task_run_in_thread (task, delete_tap_thread);
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
 * (it is removed when the VM stops), then calls @done if given. Once the
 * guest's address and MAC are known, a permanent entry spares every probe
 * of its port 22 the address resolution (which the kernel retries once a
 * second while the guest is not up); having none only makes readiness
 * slower: a warning. */
static void
ch_set_neighbour_then (HolderBackendCh     *self,
                       const char          *member,
                       const char          *ip,
                       const char          *mac,
                       GAsyncReadyCallback  done,
                       gpointer             user_data)
{
  GTask *task;
  NetJob *job;

  task = net_job_new (self, NULL, done, user_data, "ch_neighbour_job");
  job = net_job_of (task);
  job->member = g_strdup (member);
  job->ip = g_strdup (ip);
  job->mac = g_strdup (mac);
  net_job_start (self, task, neighbour_job);
}

void
ch_set_neighbour (HolderBackendCh *self,
                  const char      *member,
                  const char      *ip,
                  const char      *mac)
{
  if (self->net != NULL)
    ch_set_neighbour_then (self, member, ip, mac, NULL, NULL);
}

/* The reservation goes out once its neighbour entry is in: whoever reads
 * the reply finds the entry. */
static void
on_reserved_neighbour_set (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;

  g_task_return_pointer (task, holder_reservation_copy (g_task_get_task_data (task)),
                         (GDestroyNotify) holder_reservation_free);
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
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  HolderReservation *reservation;
  GError *error = NULL;

  g_task_set_name (task, "ch_reserve_async");
  reservation = holder_ipam_reserve_member (self->net != NULL
                                              ? holder_linux_net_get_ipam (self->net) : NULL,
                                            name, ip_hint, &error);
  if (reservation == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, reservation, (GDestroyNotify) holder_reservation_free);
  ch_set_neighbour_then (self, name, reservation->ip, reservation->mac,
                         on_reserved_neighbour_set, g_object_ref (task));
  ch_prepare_tap (self, name);
}

/* A member's tap made ahead of its boot, when it is reserved: the kernel
 * and the record take a few milliseconds per tap, one tap at a time on the
 * worker, and that is better spent before boot-member than in it. */
typedef struct {
  char      *tap;      /* made, not yet taken */
  GError    *error;    /* the making failed */
  gboolean   pending;  /* the job is queued or running */
  GPtrArray *waiters;  /* of GTask (a boot asked for it meanwhile) */
} ReadyTap;

static void
ready_tap_free (ReadyTap *ready)
{
  /* A tap never taken stays in the record: the close removes it. */
  g_free (ready->tap);
  g_clear_error (&ready->error);
  g_ptr_array_unref (ready->waiters);
  g_free (ready);
}

/* The task of a boot's tap: its result is the tap's name. */
static void
tap_task_return (GTask  *task,
                 char   *tap,
                 GError *error)
{
  if (tap != NULL)
    g_task_return_pointer (task, tap, g_free);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

static void on_fresh_tap_made (GObject *source, GAsyncResult *result, gpointer user_data);

static void
on_ready_tap_made (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ReadyTap *ready = user_data;
  GError *error = NULL;

  ready->pending = FALSE;
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    ready->error = error;
  else
    ready->tap = g_steal_pointer (&net_job_of (G_TASK (result))->tap);
  /* A boot that asked meanwhile takes it (one boot per member at a
   * time); any other gets a tap of its own. */
  for (guint i = 0; i < ready->waiters->len; i++)
    {
      GTask *task = g_ptr_array_index (ready->waiters, i);
      HolderBackendCh *self = g_task_get_task_data (task);

      if (ready->tap != NULL)
        tap_task_return (task, g_steal_pointer (&ready->tap), NULL);
      else
        net_job_start (self, net_job_new (self, NULL, on_fresh_tap_made, task,
                                          "ch_add_tap_job"),
                       add_tap_job);
    }
  g_ptr_array_set_size (ready->waiters, 0);
}

GHashTable *
ch_ready_taps_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                (GDestroyNotify) ready_tap_free);
}

void
ch_prepare_tap (HolderBackendCh *self,
                const char      *member)
{
  ReadyTap *ready;

  if (self->net == NULL || g_hash_table_contains (self->ready_taps, member))
    return;
  ready = g_new0 (ReadyTap, 1);
  ready->pending = TRUE;
  ready->waiters = g_ptr_array_new ();
  g_hash_table_insert (self->ready_taps, g_strdup (member), ready);
  net_job_start (self, net_job_new (self, NULL, on_ready_tap_made, ready, "ch_prepare_tap_job"),
                 add_tap_job);
}

static void
on_fresh_tap_made (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    tap_task_return (user_data, NULL, error);
  else
    tap_task_return (user_data, g_steal_pointer (&net_job_of (G_TASK (result))->tap), NULL);
}

void
holder_ch_network_add_tap_async (HolderBackendCh     *self,
                                 const char          *member,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  ReadyTap *ready = g_hash_table_lookup (self->ready_taps, member);

  g_task_set_name (task, "holder_ch_network_add_tap_async");
  g_task_set_task_data (task, self, NULL);
  if (ready != NULL && ready->tap != NULL)
    {
      tap_task_return (task, g_steal_pointer (&ready->tap), NULL);
      return;
    }
  if (ready != NULL && ready->pending)
    {
      g_ptr_array_add (ready->waiters, task);
      return;
    }
  /* Taken already (a re-join after a stop), or it could not be made. */
  net_job_start (self, net_job_new (self, NULL, on_fresh_tap_made, task, "ch_add_tap_job"),
                 add_tap_job);
}

char *
holder_ch_network_add_tap_finish (GAsyncResult  *result,
                                  GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
