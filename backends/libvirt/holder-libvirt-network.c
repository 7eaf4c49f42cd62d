/* holder-libvirt-network.c: the NAT network of a cluster, its reservations and the
 * neighbour entries of its members.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-libvirt"

#include "holder-libvirt-private.h"

/* ---- network ----------------------------------------------------------------- */

typedef struct {
  HolderBackendLibvirt *self;   /* for the owner only (immutable) */
  char                 *name;
  char                 *bridge;
} NetworkJob;

static void
network_job_free (NetworkJob *job)
{
  g_free (job->name);
  g_free (job->bridge);
  g_free (job);
}

/* Reconcile first, so that subnets of dead helpers are free again, then
 * the first /24 from .100 that libvirt accepts. Returns the third octet. */
static void
create_network_job (GTask         *task,
                    virConnectPtr  conn,
                    gpointer       job_data)
{
  NetworkJob *job = job_data;
  g_autoptr(GError) reconcile_error = NULL;

  if (!holder_libvirt_reconcile_run (conn, &job->self->owner, NULL, &reconcile_error))
    g_warning ("reconcile: %s", reconcile_error->message);

  for (guint n = 0; n < 255; n++)
    {
      guint octet = (FIRST_THIRD_OCTET + n) % 255;
      g_autofree char *xml = holder_libvirt_network_xml (job->name, job->bridge, octet,
                                                         &job->self->owner);
      virNetworkPtr network = virNetworkCreateXML (conn, xml);

      if (network != NULL)
        {
          virNetworkFree (network);
          g_task_return_int (task, octet);
          return;
        }
      /* "Network is already in use by interface ...": the next one. */
      if (strstr (holder_libvirt_error_message (), "already in use") == NULL)
        {
          g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                   "create libvirt network %s: %s", job->name,
                                   holder_libvirt_error_message ());
          return;
        }
    }
  g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "create libvirt network %s: no free 192.168.X.0/24 subnet: "
                           "every one is in use on the hypervisor host", job->name);
}

static void
on_network_created (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderBackendLibvirt *self = g_task_get_task_data (task);
  GError *error = NULL;
  gssize octet = g_task_propagate_int (G_TASK (result), &error);

  if (octet < 0)
    {
      g_task_return_error (task, error);
      return;
    }
  self->network = g_strdup_printf (HOLDER_LIBVIRT_NAME_PREFIX "%s", self->id);
  self->bridge = g_strdup_printf ("hbr-%s", self->id);
  self->subnet = g_strdup_printf ("192.168.%u.0/24", (guint) octet);
  self->ipam = holder_ipam_new ((192u << 24) | (168u << 16) | ((guint) octet << 8));
  g_debug ("network %s on %s", self->network, self->subnet);
  g_task_return_pointer (task, g_strdup (self->subnet), g_free);
}

void
holder_libvirt_create_network_async (HolderBackend       *backend,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GTask) inner = NULL;
  NetworkJob *job;

  g_task_set_name (task, "holder_libvirt_create_network_async");
  if (self->subnet != NULL)
    {
      g_task_return_pointer (task, g_strdup (self->subnet), g_free);
      return;
    }
  g_task_set_task_data (task, self, NULL);

  job = g_new0 (NetworkJob, 1);
  job->self = self;
  job->name = g_strdup_printf (HOLDER_LIBVIRT_NAME_PREFIX "%s", self->id);
  job->bridge = g_strdup_printf ("hbr-%s", self->id); /* 12 bytes of IFNAMSIZ's 15 */
  inner = g_task_new (NULL, NULL, on_network_created, g_object_ref (task));
  /* A network that exists must be known here: the job always completes. */
  g_task_set_check_cancellable (inner, FALSE);
  holder_libvirt_worker_push (self->worker, inner, create_network_job, job,
                              (GDestroyNotify) network_job_free);
}

static void
destroy_network_job (GTask         *task,
                     virConnectPtr  conn,
                     gpointer       job_data)
{
  const char *name = job_data;
  virNetworkPtr network = virNetworkLookupByName (conn, name);

  if (network == NULL)
    {
      if (holder_libvirt_error_code () == VIR_ERR_NO_NETWORK)
        g_task_return_boolean (task, TRUE);
      else
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                 "look up libvirt network %s: %s", name,
                                 holder_libvirt_error_message ());
      return;
    }
  if (virNetworkDestroy (network) < 0 && holder_libvirt_error_code () != VIR_ERR_NO_NETWORK)
    g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                             "destroy libvirt network %s: %s", name,
                             holder_libvirt_error_message ());
  else
    g_task_return_boolean (task, TRUE);
  virNetworkFree (network);
}

void
holder_libvirt_close_network_async (HolderBackend       *backend,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "holder_libvirt_close_network_async");
  if (self->network == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  g_task_set_check_cancellable (task, FALSE);
  holder_libvirt_worker_push (self->worker, task, destroy_network_job,
                              g_strdup (self->network), g_free);
  g_clear_pointer (&self->network, g_free);
}

/* ---- neighbour entries ---------------------------------------------------------- */

/* Whether the network's bridge is in this network namespace and ours to
 * change: a local URI and CAP_NET_ADMIN. Found out once. */
static HolderNetSock *
neighbour_sock (HolderBackendLibvirt *self)
{
  g_autoptr(GError) error = NULL;
  gboolean exists = FALSE;

  if (self->neighbours_checked || self->bridge == NULL)
    return self->neighbours;
  self->neighbours_checked = TRUE;
  if (!holder_net_has_net_admin ())
    return NULL;
  self->neighbours = holder_net_sock_open (&error);
  if (self->neighbours != NULL &&
      (!holder_net_link_exists (self->neighbours, self->bridge, &exists, &error) || !exists))
    g_clear_pointer (&self->neighbours, holder_net_sock_free);
  if (self->neighbours == NULL)
    g_debug ("bridge %s is not in this namespace%s%s: no neighbour entries", self->bridge,
             error != NULL ? ": " : "", error != NULL ? error->message : "");
  return self->neighbours;
}

/* As the cloud-hypervisor backend does (docs/linux-network.md): a
 * permanent neighbour entry for the guest, so that probes of its port 22
 * never wait for address resolution; where the bridge is on another
 * machine, probes resolve as usual. libvirt gives its bridges an address
 * of their own, so the entries stay when ports come and go, and they go
 * with the bridge when the network is destroyed (close, reconcile). */
void
holder_libvirt_neighbour_add (const char              *name,
                              const HolderReservation *reservation,
                              gpointer                 user_data)
{
  HolderBackendLibvirt *self = user_data;
  HolderNetSock *sock = neighbour_sock (self);
  g_autoptr(GError) error = NULL;

  if (sock != NULL &&
      !holder_net_neigh_set (sock, self->bridge, reservation->ip, reservation->mac, &error))
    g_warning ("%s: %s; probes of its port 22 wait for address resolution", name,
               error->message);
}

void
holder_libvirt_neighbour_remove (HolderBackendLibvirt *self,
                                 const char           *name,
                                 const char           *ip)
{
  HolderNetSock *sock = neighbour_sock (self);
  g_autoptr(GError) error = NULL;

  if (sock != NULL && !holder_net_neigh_delete (sock, self->bridge, ip, &error))
    g_warning ("%s: %s", name, error->message);
}

/* The address and the MAC are the backend's own choice, and the guest
 * takes the address statically (the network runs no DHCP server): it can
 * be probed from the moment the domain runs, with no lease to wait for. */
void
holder_libvirt_reserve_async (HolderBackend       *backend,
                              const char          *name,
                              const char          *ip_hint,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;

  holder_ipam_reserve_async (self->ipam, name, ip_hint, holder_libvirt_neighbour_add, self,
                             cancellable, callback, user_data);
}
