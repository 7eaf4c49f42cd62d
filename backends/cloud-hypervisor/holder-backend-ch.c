/* SPDX-License-Identifier: MIT
 *
 * The cloud-hypervisor backend (FLEETBOX_BACKEND=cloud-hypervisor, the
 * Linux default): one bridge per helper from the shared Linux network
 * module, one VMM process per member. See docs/linux-network.md and
 * shared/spec/linux-backend.md.
 *
 * The network calls are short kernel round trips (netlink, nf_tables, a
 * few small files), so they run on the main loop and complete their tasks
 * at once. The VM half comes with the next issue: until then create_vm
 * fails plainly and the other VM entries are trivial.
 *
 * HolderBackend is a plain struct, not a GObject, so the tasks carry no
 * source object.
 */
#define G_LOG_DOMAIN "holder-backend-ch"

#include "holder-backend.h"
#include "holder-error.h"
#include "holder-store.h"
#include "holder-linux-net.h"

typedef struct {
  HolderBackend   parent;
  HolderLinuxNet *net; /* from create_network until close_network */
} HolderBackendCh;

static HolderBackend *
ch_new (const HolderBackendClass *klass,
        const HolderBackendHost  *host,
        GError                  **error)
{
  HolderBackendCh *self = g_new0 (HolderBackendCh, 1);

  self->parent.klass = klass;
  self->parent.host = host;
  return &self->parent;
}

static void
ch_free (HolderBackend *backend)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;

  if (self == NULL)
    return;
  /* A network still open stays on the host with its record: whoever
   * reconciles after this process is gone reclaims it. */
  g_clear_pointer (&self->net, holder_linux_net_free);
  g_free (self);
}

static gboolean
ch_finish_boolean (HolderBackend  *self,
                   GAsyncResult   *result,
                   GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gpointer
ch_finish_pointer (HolderBackend  *self,
                   GAsyncResult   *result,
                   GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static char *
ch_finish_string (HolderBackend  *self,
                  GAsyncResult   *result,
                  GError        **error)
{
  return ch_finish_pointer (self, result, error);
}

static HolderReservation *
ch_reserve_finish (HolderBackend  *self,
                   GAsyncResult   *result,
                   GError        **error)
{
  return ch_finish_pointer (self, result, error);
}

static HolderVm *
ch_create_vm_finish (HolderBackend  *self,
                     GAsyncResult   *result,
                     GError        **error)
{
  return ch_finish_pointer (self, result, error);
}

/* ---- network ------------------------------------------------------------ */

/* Reclaims what dead helpers left. Corrupt records are worth a warning;
 * the rest is routine. */
static gboolean
ch_reconcile_networks (HolderBackendCh *self,
                       GError         **error)
{
  g_auto(GStrv) warnings = NULL;
  guint reclaimed = 0;

  if (!holder_linux_net_reconcile (self->parent.host->storage_root,
                                   &reclaimed, &warnings, error))
    return FALSE;
  for (guint i = 0; warnings != NULL && warnings[i] != NULL; i++)
    g_warning ("reconcile: %s", warnings[i]);
  if (reclaimed > 0)
    g_debug ("reconcile: reclaimed %u network(s) of dead helpers", reclaimed);
  return TRUE;
}

static void
ch_reconcile_async (HolderBackend       *backend,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_name (task, "ch_reconcile_async");
  if (!ch_reconcile_networks (self, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
ch_create_network_async (HolderBackend       *backend,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GError) reconcile_error = NULL;
  GError *error = NULL;

  g_task_set_name (task, "ch_create_network_async");

  if (self->net != NULL)
    {
      g_task_return_pointer (task, g_strdup (holder_linux_net_get_subnet (self->net)),
                             g_free);
      return;
    }

  /* Subnets of dead helpers become free again before we choose one. */
  if (!ch_reconcile_networks (self, &reconcile_error))
    g_warning ("reconcile: %s", reconcile_error->message);

  self->net = holder_linux_net_create (self->parent.host->storage_root, &error);
  if (self->net == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, g_strdup (holder_linux_net_get_subnet (self->net)),
                         g_free);
}

static void
ch_close_network_async (HolderBackend       *backend,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_name (task, "ch_close_network_async");

  if (self->net != NULL && !holder_linux_net_close (self->net, &error))
    {
      /* The record stays: reconcile finishes once this helper is gone. */
      g_task_return_error (task, error);
      return;
    }
  g_clear_pointer (&self->net, holder_linux_net_free);
  g_task_return_boolean (task, TRUE);
}

static void
ch_reserve_async (HolderBackend       *backend,
                  const char          *name,
                  const char          *ip_hint,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autofree char *ip = NULL;
  g_autofree char *mac = NULL;
  GError *error = NULL;

  g_task_set_name (task, "ch_reserve_async");

  if (self->net == NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_NETWORK_NOT_CREATED,
                               "network not created");
      return;
    }
  ip = holder_linux_net_reserve (self->net, name, ip_hint, &error);
  if (ip == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  mac = holder_mac_for_name (name);
  g_task_return_pointer (task, holder_reservation_new (ip, mac),
                         (GDestroyNotify) holder_reservation_free);
}

/* ---- VMs (next issue) --------------------------------------------------- */

static void
ch_create_vm_async (HolderBackend           *backend,
                    const HolderMemberSpec  *spec,
                    const HolderReservation *reservation,
                    GCancellable            *cancellable,
                    GAsyncReadyCallback      callback,
                    gpointer                 user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "ch_create_vm_async");
  g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "the cloud-hypervisor backend cannot boot VMs yet");
}

/* No VM is ever created yet, so the entries below only keep the class
 * complete. */
static void
ch_start_vm_async (HolderBackend       *backend,
                   HolderVm            *vm,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "ch_start_vm_async");
  g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "the cloud-hypervisor backend cannot boot VMs yet");
}

static void
ch_wait_ip_async (HolderBackend       *backend,
                  HolderVm            *vm,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "ch_wait_ip_async");
  g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "VM is not running");
}

static void
ch_stop_vm_async (HolderBackend       *backend,
                  HolderVm            *vm,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "ch_stop_vm_async");
  g_task_return_boolean (task, TRUE);
}

static void
ch_vm_free (HolderBackend *backend,
            HolderVm      *vm)
{
}

const HolderBackendClass holder_backend_cloud_hypervisor_class = {
  .name = "cloud-hypervisor",
  .caps = HOLDER_BACKEND_CAP_CLUSTERING | HOLDER_BACKEND_CAP_NESTED_VIRT,
  .new = ch_new,
  .free = ch_free,
  .reconcile_async = ch_reconcile_async,
  .reconcile_finish = ch_finish_boolean,
  .create_network_async = ch_create_network_async,
  .create_network_finish = ch_finish_string,
  .close_network_async = ch_close_network_async,
  .close_network_finish = ch_finish_boolean,
  .reserve_async = ch_reserve_async,
  .reserve_finish = ch_reserve_finish,
  .create_vm_async = ch_create_vm_async,
  .create_vm_finish = ch_create_vm_finish,
  .start_vm_async = ch_start_vm_async,
  .start_vm_finish = ch_finish_boolean,
  .wait_ip_async = ch_wait_ip_async,
  .wait_ip_finish = ch_finish_string,
  .stop_vm_async = ch_stop_vm_async,
  .stop_vm_finish = ch_finish_boolean,
  .vm_free = ch_vm_free,
};
