/* example-backend.c: a complete holder backend, built outside the holder
 * tree against the installed API (see meson.build next to it).
 *
 * It boots nothing, like the fake: every VM is "up" at once, at the
 * address its reservation gave it. What it shows is the shape every
 * backend has: a const HolderBackendClass filled with designated
 * initialisers, `_async` halves that complete a GTask on the caller's
 * main context, libholder's finishers for the `_finish` halves, and
 * HOLDER_BACKEND_DEFINE_MODULE to export it with the ABI version it was
 * built for.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-backend-example"

#include <holder-backend.h>

typedef struct {
  HolderBackend  parent;
  gboolean       network;
  guint          reserved;   /* hands out 198.51.100.<reserved + 1> */
} ExampleBackend;

struct _HolderVm {
  char *name;
  char *ip;
};

static HolderBackend *
example_new (const HolderBackendClass *klass,
             const HolderBackendHost  *host,
             GError                  **error)
{
  ExampleBackend *self = g_new0 (ExampleBackend, 1);

  self->parent.klass = klass;
  self->parent.host = host;
  return &self->parent;
}

static void
example_free (HolderBackend *backend)
{
  g_free (backend);
}

/* Every operation of this backend is instant: one helper returns a
 * boolean task for the rest. */
static void
return_true (GCancellable        *cancellable,
             GAsyncReadyCallback  callback,
             gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_return_boolean (task, TRUE);
}

static void
example_reconcile_async (HolderBackend        *backend,
                         HolderReconcileFlags  flags,
                         GCancellable         *cancellable,
                         GAsyncReadyCallback   callback,
                         gpointer              user_data)
{
  /* Nothing on the host to reclaim. */
  return_true (cancellable, callback, user_data);
}

static void
example_create_network_async (HolderBackend       *backend,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  ExampleBackend *self = (ExampleBackend *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  self->network = TRUE;
  g_task_return_pointer (task, g_strdup ("198.51.100.0/24"), g_free);
}

static void
example_close_network_async (HolderBackend       *backend,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  ((ExampleBackend *) backend)->network = FALSE;
  return_true (cancellable, callback, user_data);
}

static void
example_reserve_async (HolderBackend       *backend,
                       const char          *name,
                       const char          *ip_hint,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  ExampleBackend *self = (ExampleBackend *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autofree char *ip = NULL;
  g_autofree char *mac = NULL;

  if (self->reserved >= 253)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "no free IP in subnet");
      return;
    }
  ip = g_strdup_printf ("198.51.100.%u", ++self->reserved + 1);
  mac = holder_mac_for_name (name);
  g_task_return_pointer (task, holder_reservation_new (ip, mac),
                         (GDestroyNotify) holder_reservation_free);
}

static void
example_create_vm_async (HolderBackend           *backend,
                         const HolderMemberSpec  *spec,
                         const HolderReservation *reservation,
                         GCancellable            *cancellable,
                         GAsyncReadyCallback      callback,
                         gpointer                 user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  HolderVm *vm = g_new0 (HolderVm, 1);

  vm->name = g_strdup (spec->name);
  vm->ip = g_strdup (reservation->ip);
  g_task_return_pointer (task, vm, NULL);
}

static void
example_start_vm_async (HolderBackend       *backend,
                        HolderVm            *vm,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  return_true (cancellable, callback, user_data);
}

static void
example_wait_ip_async (HolderBackend       *backend,
                       HolderVm            *vm,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_return_pointer (task, g_strdup (vm->ip), g_free);
}

static void
example_stop_vm_async (HolderBackend       *backend,
                       HolderVm            *vm,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  return_true (cancellable, callback, user_data);
}

static void
example_vm_free (HolderBackend *backend,
                 HolderVm      *vm)
{
  g_free (vm->name);
  g_free (vm->ip);
  g_free (vm);
}

static gboolean
example_check_host (const HolderBackendClass *klass,
                    const char               *storage_root,
                    GPtrArray                *checks)
{
  g_ptr_array_add (checks, holder_host_check_new ("nothing to check", TRUE, TRUE,
                                                  "the example backend boots nothing",
                                                  NULL));
  return TRUE;
}

static const HolderBackendClass example_backend_class = {
  .name = "example",
  .caps = HOLDER_BACKEND_CAP_CLUSTERING,
  .new = example_new,
  .free = example_free,
  .reconcile_async = example_reconcile_async,
  .reconcile_finish = holder_backend_task_finish_boolean,
  .create_network_async = example_create_network_async,
  .create_network_finish = holder_backend_task_finish_string,
  .close_network_async = example_close_network_async,
  .close_network_finish = holder_backend_task_finish_boolean,
  .reserve_async = example_reserve_async,
  .reserve_finish = holder_backend_task_finish_reservation,
  .create_vm_async = example_create_vm_async,
  .create_vm_finish = holder_backend_task_finish_vm,
  .start_vm_async = example_start_vm_async,
  .start_vm_finish = holder_backend_task_finish_boolean,
  .wait_ip_async = example_wait_ip_async,
  .wait_ip_finish = holder_backend_task_finish_string,
  .stop_vm_async = example_stop_vm_async,
  .stop_vm_finish = holder_backend_task_finish_boolean,
  .vm_free = example_vm_free,
  .check_host = example_check_host,
};

HOLDER_BACKEND_DEFINE_MODULE (example_backend_class)
