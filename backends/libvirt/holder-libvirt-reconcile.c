/* holder-libvirt-reconcile.c: what dead helpers left: domains, then networks, whose owner is gone
 * (docs/libvirt.md, "Reconcile"), reported, or only listed in a dry run.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-libvirt"

#include "holder-libvirt-private.h"

/* ---- reconcile (worker thread) ---------------------------------------------- */

static HolderLibvirtOwnerState
domain_owner_state (virDomainPtr              domain,
                    const HolderLibvirtOwner *self)
{
  g_auto(HolderLibvirtOwner) owner = { 0 };
  g_autofree char *xml = virDomainGetMetadata (domain, VIR_DOMAIN_METADATA_ELEMENT,
                                               HOLDER_LIBVIRT_OWNER_NS, 0);

  if (xml == NULL || !holder_libvirt_owner_parse (xml, &owner))
    return HOLDER_LIBVIRT_OWNER_UNKNOWN;
  return holder_libvirt_owner_check (&owner, self);
}

static HolderLibvirtOwnerState
network_owner_state (virNetworkPtr             network,
                     const HolderLibvirtOwner *self)
{
  g_auto(HolderLibvirtOwner) owner = { 0 };
  g_autofree char *xml = virNetworkGetXMLDesc (network, 0);

  if (xml == NULL || !holder_libvirt_owner_parse (xml, &owner))
    return HOLDER_LIBVIRT_OWNER_UNKNOWN;
  return holder_libvirt_owner_check (&owner, self);
}

/* What reconcile removed (or, in a dry run, would remove): pairs of kind
 * ("domain", "network") and name, handed to the host on the main loop. */
struct _HolderLibvirtReconcile {
  HolderBackendLibvirt *self;     /* main thread only */
  gboolean              dry_run;
  GPtrArray            *kinds;    /* of char *, filled on the worker */
  GPtrArray            *names;
};

typedef HolderLibvirtReconcile ReconcileJob;

static void
reconcile_job_free (ReconcileJob *job)
{
  g_ptr_array_unref (job->kinds);
  g_ptr_array_unref (job->names);
  g_free (job);
}

/* Domains first (they hold the networks' ports), then networks. Only names
 * with our prefix and owners judged dead are touched, and with @dry_run
 * none is. Failures on one object are warnings; the rest goes on.
 * @job (nullable) collects what went. */
gboolean
holder_libvirt_reconcile_run (virConnectPtr              conn,
                              const HolderLibvirtOwner  *self,
                              HolderLibvirtReconcile    *job,
                              GError                   **error)
{
  virDomainPtr *domains = NULL;
  virNetworkPtr *networks = NULL;
  gboolean dry_run = job != NULL && job->dry_run;
  int n_domains, n_networks;

  n_domains = virConnectListAllDomains (conn, &domains, 0);
  if (n_domains < 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "list domains: %s",
                   holder_libvirt_error_message ());
      return FALSE;
    }
  for (int i = 0; i < n_domains; i++)
    {
      const char *name = virDomainGetName (domains[i]);

      if (g_str_has_prefix (name, HOLDER_LIBVIRT_NAME_PREFIX) &&
          domain_owner_state (domains[i], self) == HOLDER_LIBVIRT_OWNER_DEAD)
        {
          /* Asked first: a transient domain is gone once destroyed. */
          gboolean persistent = virDomainIsPersistent (domains[i]) == 1;
          gboolean gone = TRUE;

          g_debug ("reconcile: %s domain %s of a dead helper",
                   dry_run ? "would destroy" : "destroying", name);
          if (!dry_run && virDomainIsActive (domains[i]) == 1 && virDomainDestroy (domains[i]) < 0)
            {
              g_warning ("reconcile: destroy domain %s: %s", name, holder_libvirt_error_message ());
              gone = FALSE;
            }
          else if (!dry_run && persistent && virDomainUndefine (domains[i]) < 0)
            {
              g_warning ("reconcile: undefine domain %s: %s", name, holder_libvirt_error_message ());
              gone = FALSE;
            }
          if (gone && job != NULL)
            {
              g_ptr_array_add (job->kinds, g_strdup ("domain"));
              g_ptr_array_add (job->names, g_strdup (name));
            }
        }
      virDomainFree (domains[i]);
    }
  free (domains);

  n_networks = virConnectListAllNetworks (conn, &networks, 0);
  if (n_networks < 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "list networks: %s",
                   holder_libvirt_error_message ());
      return FALSE;
    }
  for (int i = 0; i < n_networks; i++)
    {
      const char *name = virNetworkGetName (networks[i]);

      if (g_str_has_prefix (name, HOLDER_LIBVIRT_NAME_PREFIX) &&
          network_owner_state (networks[i], self) == HOLDER_LIBVIRT_OWNER_DEAD)
        {
          gboolean persistent = virNetworkIsPersistent (networks[i]) == 1;
          gboolean gone = TRUE;

          g_debug ("reconcile: %s network %s of a dead helper",
                   dry_run ? "would destroy" : "destroying", name);
          if (!dry_run && virNetworkIsActive (networks[i]) == 1 && virNetworkDestroy (networks[i]) < 0)
            {
              g_warning ("reconcile: destroy network %s: %s", name, holder_libvirt_error_message ());
              gone = FALSE;
            }
          else if (!dry_run && persistent && virNetworkUndefine (networks[i]) < 0)
            {
              g_warning ("reconcile: undefine network %s: %s", name, holder_libvirt_error_message ());
              gone = FALSE;
            }
          if (gone && job != NULL)
            {
              g_ptr_array_add (job->kinds, g_strdup ("network"));
              g_ptr_array_add (job->names, g_strdup (name));
            }
        }
      virNetworkFree (networks[i]);
    }
  free (networks);
  return TRUE;
}

static void
reconcile_job (GTask         *task,
               virConnectPtr  conn,
               gpointer       job_data)
{
  ReconcileJob *job = job_data;
  GError *error = NULL;

  if (!holder_libvirt_reconcile_run (conn, &job->self->owner, job, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* On the main loop: what went is reported to the host, then the caller's
 * task completes. */
static void
on_reconciled (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) outer = user_data;
  ReconcileJob *job = g_task_get_task_data (G_TASK (result));
  GError *error = NULL;

  for (guint i = 0; i < job->kinds->len; i++)
    holder_backend_report_reclaimed (&job->self->parent, g_ptr_array_index (job->kinds, i),
                                     g_ptr_array_index (job->names, i));
  if (job->kinds->len > 0 && !job->dry_run)
    g_message ("reconcile: reclaimed %u domain(s) and network(s) of dead helpers",
               job->kinds->len);
  if (!g_task_propagate_boolean (G_TASK (result), &error))
    g_task_return_error (outer, error);
  else
    g_task_return_boolean (outer, TRUE);
}

void
holder_libvirt_reconcile_async (HolderBackend        *backend,
                                HolderReconcileFlags  flags,
                                GCancellable         *cancellable,
                                GAsyncReadyCallback   callback,
                                gpointer              user_data)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;
  GTask *outer = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, on_reconciled, outer);
  ReconcileJob *job = g_new0 (ReconcileJob, 1);

  g_task_set_name (outer, "holder_libvirt_reconcile_async");
  g_task_set_name (task, "libvirt_reconcile_job");
  job->self = self;
  job->dry_run = (flags & HOLDER_RECONCILE_FLAGS_DRY_RUN) != 0;
  job->kinds = g_ptr_array_new_with_free_func (g_free);
  job->names = g_ptr_array_new_with_free_func (g_free);
  g_task_set_task_data (task, job, (GDestroyNotify) reconcile_job_free);
  holder_libvirt_worker_push (self->worker, task, reconcile_job, job, NULL);
}
