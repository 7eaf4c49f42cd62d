/* SPDX-License-Identifier: MIT
 *
 * The vz backend (FLEETBOX_BACKEND=vz, macOS 13+ on Apple silicon): the
 * HolderBackendClass vtable on top of the portable core and the
 * Objective-C shim. darwin only; everything that can be decided without
 * Virtualization.framework lives in the core (holder-vz-*.c), where the
 * unit suite tests it on every platform. See docs/vz.md.
 *
 *  - network: macOS 26+ gets one vmnet shared-mode network per helper on
 *    a free 192.168.X.0/24; below 26 each VM has its own NAT attachment
 *    and a cluster may have one member only. Either way createnetwork
 *    answers "" (addresses come from the Mac's DHCP server, bootpd);
 *  - reserve: the member's MAC only (holder_mac_for_name); no IP;
 *  - wait_ip: bootpd's lease for the member's hostname, then port 22;
 *  - stop: the power button, then a forced stop that always happens.
 *
 * Threads: every VZ call runs on the VM's dispatch queue, inside the
 * shim; shim events are bridged to the main context (holder-vz-events.c),
 * where all of the state below lives. The two slow synchronous shim calls
 * (creating the vmnet network, building and validating a VM, which opens
 * its disks and may create its EFI store) run on GTask worker threads and
 * touch nothing but their own arguments there.
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "holder-backend.h"
#include "holder-vz-config.h"
#include "holder-vz-machine.h"
#include "holder-vz-member.h"
#include "holder-vz-net.h"
#include "holder-vz-shim.h"
#include "holder-vz-version.h"

typedef struct {
  HolderBackend         parent;
  guint                 major;          /* macOS, 0 when unknown */
  HolderVzShimHostInfo  limits;
  GMainContext         *context;
  HolderVzShimNet      *net;            /* 26+, once created */
  char                 *subnet;         /* "192.168.X.0/24", for messages */
  gboolean              net_closed;     /* release with the last VM */
  GHashTable           *names;          /* members with a VM, or one being made */
  GHashTable           *vms;            /* HolderVm * (unowned), made or being made */
} HolderBackendVz;

struct _HolderVm {
  HolderBackendVz *backend;   /* NULL once the backend is gone */
  char            *name;
  HolderVzMachine *machine;
  HolderVzMember  *member;
};


/* Takes a shim message (malloc) into GLib's hands. */
static char *
take_errmsg (char *errmsg)
{
  char *copy = g_strdup (errmsg != NULL ? errmsg : "no reason given");

  free (errmsg);
  return copy;
}

/* ---- network lifetime ------------------------------------------------------------- */

/* The vmnet reservation lives as long as the network reference: released
 * once createnetwork's network is closed and the last VM is gone, never
 * earlier (a sibling's teardown must not pull it from under a VM). */
static void
vz_maybe_release_network (HolderBackendVz *self)
{
  if (self->net == NULL || !self->net_closed || g_hash_table_size (self->names) > 0)
    return;
  g_debug ("releasing the vmnet network on %s", self->subnet);
  holder_vz_shim_net_free (self->net);
  self->net = NULL;
}

/* ---- new / free ---------------------------------------------------------------------- */

static const HolderBackendClass holder_backend_vz_clustering_class;

static HolderBackend *
vz_new (const HolderBackendClass *klass,
        const HolderBackendHost  *host,
        GError                  **error)
{
  g_autofree HolderBackendVz *self = NULL;
  HolderVzShimHostInfo limits;
  guint major;

  holder_vz_shim_host_info (&limits);
  if (!limits.apple_silicon)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                           "the vz backend needs a Mac with Apple silicon: on Intel, "
                           "Virtualization.framework cannot boot the EFI guests it uses");
      return NULL;
    }
  major = holder_vz_parse_macos_major (limits.os_version);
  if (major == 0)
    g_warning ("cannot read the macOS version (\"%s\"): assuming NAT networking",
               limits.os_version);
  else if (major < HOLDER_VZ_MACOS_MINIMUM)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                   "the vz backend needs macOS %d or later (EFI boot); this Mac runs macOS %u",
                   HOLDER_VZ_MACOS_MINIMUM, major);
      return NULL;
    }

  self = g_new0 (HolderBackendVz, 1);
  /* The same functions either way; the instance's class says whether
   * members reach each other on this Mac. */
  self->parent.klass = holder_vz_supports_clustering (major) ? &holder_backend_vz_clustering_class
                                                             : klass;
  self->parent.host = host;
  self->major = major;
  self->limits = limits;
  self->context = g_main_context_ref_thread_default ();
  self->names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->vms = g_hash_table_new (NULL, NULL);
  g_debug ("macOS %u: %s networking, CPUs %u..%u, memory %" G_GUINT64_FORMAT "..%"
           G_GUINT64_FORMAT " MiB, nested virtualization %s", major,
           holder_vz_net_mode_to_string (holder_vz_net_mode (major)), self->limits.min_cpus,
           self->limits.max_cpus, self->limits.min_memory_bytes / HOLDER_VZ_MIB,
           self->limits.max_memory_bytes / HOLDER_VZ_MIB,
           self->limits.nested_supported ? "supported" : "not supported");
  return &g_steal_pointer (&self)->parent;
}

static void
vz_free (HolderBackend *backend)
{
  HolderBackendVz *self = (HolderBackendVz *) backend;
  GHashTableIter iter;
  gpointer vm;

  if (self == NULL)
    return;
  /* VMs still held are the server's to free; they only forget us. */
  g_hash_table_iter_init (&iter, self->vms);
  while (g_hash_table_iter_next (&iter, &vm, NULL))
    ((HolderVm *) vm)->backend = NULL;
  /* Attachments keep their own reference to the network: releasing ours
   * here cannot pull it from under a VM that is still running. */
  if (self->net != NULL)
    holder_vz_shim_net_free (self->net);
  g_hash_table_unref (self->vms);
  g_hash_table_unref (self->names);
  g_main_context_unref (self->context);
  g_free (self->subnet);
  g_free (self);
}

/* ---- reconcile ------------------------------------------------------------------------ */

static void
vz_reconcile_async (HolderBackend        *backend,
                    HolderReconcileFlags  flags,
                    GCancellable         *cancellable,
                    GAsyncReadyCallback   callback,
                    gpointer              user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  /* Nothing to reclaim: VMs and vmnet reservations end with the process
   * that made them, and nothing is written outside the member folders. */
  g_task_set_name (task, "vz_reconcile_async");
  g_task_return_boolean (task, TRUE);
}

/* ---- network ---------------------------------------------------------------------------- */

typedef struct {
  guint32          addr_be;
  guint32          mask_be;
  HolderVzShimNet *net;
  int              status;
  char            *errmsg;   /* malloc, the shim's */
} NetJob;

static void
net_job_free (NetJob *job)
{
  free (job->errmsg);
  g_free (job);
}

/* Worker thread: vmnet's calls are synchronous and may take a while. */
static void
net_job_run (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  NetJob *job = task_data;

  job->net = holder_vz_shim_net_new_shared (job->addr_be, job->mask_be, &job->status,
                                            &job->errmsg);
  g_task_return_boolean (task, TRUE);
}

static void
on_net_created (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderBackendVz *self = g_task_get_task_data (task);
  NetJob *job = g_task_get_task_data (G_TASK (result));
  g_autofree char *message = NULL;

  if (job->net == NULL)
    {
      message = take_errmsg (g_steal_pointer (&job->errmsg));
      if (job->status != 0)
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                 "create the vmnet network on %s: %s: %s", self->subnet,
                                 message, holder_vz_vmnet_status_text (job->status));
      else
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                 "create the vmnet network on %s: %s", self->subnet, message);
      return;
    }
  self->net = job->net;
  g_debug ("vmnet shared network on %s", self->subnet);
  g_task_return_pointer (task, g_strdup (""), g_free);
}

static void
vz_create_network_async (HolderBackend       *backend,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  HolderBackendVz *self = (HolderBackendVz *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GTask) job_task = NULL;
  g_autoptr(GError) error = NULL;
  NetJob *job;
  guint8 octet = 0;

  g_task_set_name (task, "vz_create_network_async");
  g_task_set_task_data (task, self, NULL);
  if (holder_vz_net_mode (self->major) == HOLDER_VZ_NET_NAT)
    {
      g_debug ("macOS %u: each VM gets its own NAT attachment", self->major);
      g_task_return_pointer (task, g_strdup (""), g_free);
      return;
    }
  /* Made by an earlier call whose caller gave up (cancelled) meanwhile:
   * it is the one to use, not a second reservation. */
  if (self->net != NULL)
    {
      g_task_return_pointer (task, g_strdup (""), g_free);
      return;
    }
  if (!holder_vz_pick_subnet_for_process (&octet, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_free (self->subnet);
  self->subnet = holder_vz_subnet_to_string (octet);
  job = g_new0 (NetJob, 1);
  holder_vz_vmnet_subnet_args (octet, &job->addr_be, &job->mask_be);
  /* Not cancellable once asked: a network made is a network to keep
   * (and release), so the result is always taken in. */
  job_task = g_task_new (NULL, NULL, on_net_created, g_steal_pointer (&task));
  g_task_set_task_data (job_task, job, (GDestroyNotify) net_job_free);
  g_task_run_in_thread (job_task, net_job_run);
}

static void
vz_close_network_async (HolderBackend       *backend,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  HolderBackendVz *self = (HolderBackendVz *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "vz_close_network_async");
  self->net_closed = TRUE;
  vz_maybe_release_network (self);
  g_task_return_boolean (task, TRUE);
}

/* ---- reserve ------------------------------------------------------------------------------ */

static void
vz_reserve_async (HolderBackend       *backend,
                  const char          *name,
                  const char          *ip_hint,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autofree char *mac = holder_mac_for_name (name);

  g_task_set_name (task, "vz_reserve_async");
  /* bootpd picks the address; the deterministic MAC makes it pick the
   * same one again for the same name. */
  if (ip_hint != NULL)
    g_debug ("%s: ignoring the IP hint %s: the Mac's DHCP server assigns addresses", name,
             ip_hint);
  g_task_return_pointer (task, holder_reservation_new (NULL, mac),
                         (GDestroyNotify) holder_reservation_free);
}

/* ---- create ------------------------------------------------------------------------------- */

static void
vm_free_internal (HolderVm *vm)
{
  if (vm->member != NULL)
    holder_vz_member_set_exit_func (vm->member, NULL, NULL);
  /* The machine first: the shim drains its queue, then nothing more
   * arrives; operations still awaiting it are told. */
  holder_vz_machine_free (vm->machine);
  holder_vz_member_unref (vm->member);
  g_free (vm->name);
  g_free (vm);
}

static void vm_discard (HolderVm *vm);

static void
on_machine_exit (const char *message,
                 gpointer    user_data)
{
  HolderVm *vm = user_data;

  if (vm->member != NULL)
    holder_vz_member_vm_exited (vm->member, message);
}

static void
on_member_exit (HolderVzMember *member,
                const char     *message,
                gpointer        user_data)
{
  HolderVm *vm = user_data;
  const HolderBackendHost *host;

  if (vm->backend == NULL)
    return;
  host = vm->backend->parent.host;
  if (host->vm_exited != NULL)
    host->vm_exited (vm, message, host->user_data);
}

typedef struct {
  HolderVzShimVmConfig *config;
  HolderVzShimNet      *net;
  HolderVzEventBridge  *bridge;
  HolderVzShimVm       *shim_vm;
  char                 *errmsg;   /* malloc, the shim's */
} CreateJob;

static void
create_job_free (CreateJob *job)
{
  holder_vz_config_free (job->config);
  free (job->errmsg);
  g_free (job);
}

/* Worker thread: builds the configuration, opens the disks, maybe
 * creates the EFI store, validates. Events of the new VM go through the
 * bridge, which is thread-safe. */
static void
create_job_run (GTask        *task,
                gpointer      source,
                gpointer      task_data,
                GCancellable *cancellable)
{
  CreateJob *job = task_data;

  /* The log exists before the framework opens it, created as fleetbox
   * did (write-only, append, 0644), so that a path that cannot be written
   * fails here with a plain reason. */
  if (job->config->serial_log_path != NULL)
    {
      int fd = g_open (job->config->serial_log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                       0644);

      if (fd < 0)
        {
          int saved = errno;
          g_autofree char *message = g_strdup_printf ("open the serial log %s: %s",
                                                      job->config->serial_log_path,
                                                      g_strerror (saved));

          job->errmsg = strdup (message);
          g_task_return_boolean (task, TRUE);
          return;
        }
      g_close (fd, NULL);
    }
  job->shim_vm = holder_vz_shim_vm_new (job->config, job->net, holder_vz_event_bridge_post,
                                        job->bridge, &job->errmsg);
  g_task_return_boolean (task, TRUE);
}

static void
on_vm_created (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVm *vm = g_task_get_task_data (task);
  CreateJob *job = g_task_get_task_data (G_TASK (result));
  HolderVzMemberParams params = HOLDER_VZ_MEMBER_PARAMS_DEFAULT;
  HolderVzController controller;
  g_autofree char *message = NULL;

  if (job->shim_vm == NULL)
    {
      message = take_errmsg (g_steal_pointer (&job->errmsg));
      if (vm->backend != NULL)
        {
          g_hash_table_remove (vm->backend->vms, vm);
          g_hash_table_remove (vm->backend->names, vm->name);
          vz_maybe_release_network (vm->backend);
        }
      g_task_set_task_data (task, NULL, NULL);
      vm_free_internal (vm);
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s", message);
      return;
    }
  holder_vz_machine_attach (vm->machine, job->shim_vm);
  holder_vz_machine_set_exit_func (vm->machine, on_machine_exit, vm);
  controller = holder_vz_machine_get_controller (vm->machine);
  vm->member = holder_vz_member_new (vm->name, &controller, &params);
  holder_vz_member_set_exit_func (vm->member, on_member_exit, vm);
  g_task_set_task_data (task, NULL, NULL);
  /* A caller that cancelled meanwhile never takes the VM: GTask then
   * frees it with the task. */
  g_task_return_pointer (task, vm, (GDestroyNotify) vm_discard);
}

static guint
other_members (HolderBackendVz *self,
               const char      *name)
{
  return g_hash_table_size (self->names) - (g_hash_table_contains (self->names, name) ? 1 : 0);
}

static void
vz_create_vm_async (HolderBackend           *backend,
                    const HolderMemberSpec  *spec,
                    const HolderReservation *reservation,
                    GCancellable            *cancellable,
                    GAsyncReadyCallback      callback,
                    gpointer                 user_data)
{
  HolderBackendVz *self = (HolderBackendVz *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GTask) job_task = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderVzShimVmConfig) config = NULL;
  g_autofree char *serial_log = NULL;
  CreateJob *job;
  HolderVm *vm;

  g_task_set_name (task, "vz_create_vm_async");
  if (!holder_vz_cluster_allows (self->major, other_members (self, spec->name), &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (holder_vz_net_mode (self->major) == HOLDER_VZ_NET_SHARED && self->net == NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_NETWORK_NOT_CREATED,
                               "network not created");
      return;
    }
  if (!holder_vz_config_validate (spec, &self->limits, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  serial_log = holder_vz_config_serial_log_path (spec, self->parent.host->storage_root);
  config = holder_vz_config_new (spec, reservation->mac, serial_log,
                                 self->limits.nested_supported != 0,
                                 holder_vz_config_efi_needs_create (spec->efi_path), &error);
  if (config == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  vm = g_new0 (HolderVm, 1);
  vm->backend = self;
  vm->name = g_strdup (spec->name);
  /* The bridge exists before the VM: it may raise events at once. */
  vm->machine = holder_vz_machine_new (&holder_vz_shim_ops, self->context);
  g_hash_table_add (self->names, g_strdup (spec->name));
  /* Known from now on, so that a backend freed meanwhile is forgotten by
   * the VM being made too. */
  g_hash_table_add (self->vms, vm);
  g_task_set_task_data (task, vm, NULL);

  job = g_new0 (CreateJob, 1);
  job->config = g_steal_pointer (&config);
  job->net = self->net;
  job->bridge = holder_vz_machine_get_bridge (vm->machine);
  /* Runs to the end even if cancelled: the VM it makes must be taken in
   * and freed, never left to the worker. */
  job_task = g_task_new (NULL, NULL, on_vm_created, g_steal_pointer (&task));
  g_task_set_task_data (job_task, job, (GDestroyNotify) create_job_free);
  g_task_run_in_thread (job_task, create_job_run);
}

/* ---- start, wait_ip, stop: the member ------------------------------------------------ */

static void
on_member_started (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVm *vm = g_task_get_task_data (task);
  GError *error = NULL;

  if (holder_vz_member_start_finish (vm->member, result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
vz_start_vm_async (HolderBackend       *backend,
                   HolderVm            *vm,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "vz_start_vm_async");
  g_task_set_task_data (task, vm, NULL);
  holder_vz_member_start_async (vm->member, cancellable, on_member_started, task);
}

static void
on_member_ip (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVm *vm = g_task_get_task_data (task);
  GError *error = NULL;
  char *ip = holder_vz_member_wait_ip_finish (vm->member, result, &error);

  if (ip != NULL)
    g_task_return_pointer (task, ip, g_free);
  else
    g_task_return_error (task, error);
}

static void
vz_wait_ip_async (HolderBackend       *backend,
                  HolderVm            *vm,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "vz_wait_ip_async");
  g_task_set_task_data (task, vm, NULL);
  holder_vz_member_wait_ip_async (vm->member, cancellable, on_member_ip, task);
}

static void
on_member_stopped (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVm *vm = g_task_get_task_data (task);
  GError *error = NULL;

  if (holder_vz_member_stop_finish (vm->member, result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
vz_stop_vm_async (HolderBackend       *backend,
                  HolderVm            *vm,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "vz_stop_vm_async");
  /* The stop's own outcome stands, cancelled or not (holder-vz-stop.h). */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, vm, NULL);
  holder_vz_member_stop_async (vm->member, cancellable, on_member_stopped, task);
}

static void
vz_vm_free (HolderBackend *backend,
            HolderVm      *vm)
{
  HolderBackendVz *self;

  if (vm == NULL)
    return;
  self = vm->backend;
  if (self != NULL)
    {
      g_hash_table_remove (self->vms, vm);
      g_hash_table_remove (self->names, vm->name);
    }
  vm_free_internal (vm);
  if (self != NULL)
    vz_maybe_release_network (self);
}

static void
vm_discard (HolderVm *vm)
{
  vz_vm_free (vm->backend != NULL ? &vm->backend->parent : NULL, vm);
}

#define HOLDER_BACKEND_VZ_FUNCTIONS                                  \
  .name = "vz",                                                      \
  .new = vz_new,                                                     \
  .free = vz_free,                                                   \
  .reconcile_async = vz_reconcile_async,                             \
  .reconcile_finish = holder_backend_task_finish_boolean,            \
  .create_network_async = vz_create_network_async,                   \
  .create_network_finish = holder_backend_task_finish_string,        \
  .close_network_async = vz_close_network_async,                     \
  .close_network_finish = holder_backend_task_finish_boolean,        \
  .reserve_async = vz_reserve_async,                                 \
  .reserve_finish = holder_backend_task_finish_reservation,          \
  .create_vm_async = vz_create_vm_async,                             \
  .create_vm_finish = holder_backend_task_finish_vm,                 \
  .start_vm_async = vz_start_vm_async,                               \
  .start_vm_finish = holder_backend_task_finish_boolean,             \
  .wait_ip_async = vz_wait_ip_async,                                 \
  .wait_ip_finish = holder_backend_task_finish_string,               \
  .stop_vm_async = vz_stop_vm_async,                                 \
  .stop_vm_finish = holder_backend_task_finish_boolean,              \
  .vm_free = vz_vm_free

/* What the registry (or the module entry point) names: the conservative
 * capabilities, as on a Mac below 26. */
const HolderBackendClass holder_backend_vz_class = {
  HOLDER_BACKEND_VZ_FUNCTIONS,
  .caps = HOLDER_BACKEND_CAP_NONE,
};

/* What an instance on macOS 26+ points to: the same functions. */
static const HolderBackendClass holder_backend_vz_clustering_class = {
  HOLDER_BACKEND_VZ_FUNCTIONS,
  .caps = HOLDER_BACKEND_CAP_CLUSTERING,
};

#ifdef HOLDER_VZ_MODULE
/* The module's entry point (darwin builds only; the tests drive the class
 * directly). */
HOLDER_BACKEND_DEFINE_MODULE (holder_backend_vz_class)
#endif
