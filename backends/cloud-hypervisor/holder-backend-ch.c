/* SPDX-License-Identifier: MIT
 *
 * The cloud-hypervisor backend (FLEETBOX_BACKEND=cloud-hypervisor, the
 * Linux default): one bridge per helper from the shared Linux network
 * module, one VMM process per member. See docs/linux-network.md and
 * shared/spec/linux-backend.md.
 *
 * The network calls block (the host-wide lock of the runtime folder,
 * kernel round trips, waiting for killed VMMs), so they run as jobs on a
 * worker of their own, one at a time and in order (holder-linux-worker.h),
 * and complete their tasks on the main loop. A VM is a tap on the bridge
 * plus one cloud-hypervisor process (holder-ch-vm.c); its kernel comes
 * from the spec or out of its disk (holder-boot-extract.c, on a worker
 * thread), its binary from the system or a checked download
 * (holder-ch-binary.c).
 *
 * Root never trusts the invoking user's files: every file of a spec is
 * opened on a worker thread with the user's filesystem identity
 * (holder-vm-files.c), and the VMM inherits those descriptors and opens
 * them as /proc/self/fd/N, so the file checked is the file used. The
 * cached binary in the user's store runs only as a sealed copy whose
 * SHA-256 matched the pin (holder_ch_binary_open_verified).
 *
 * HolderBackend is a plain struct, not a GObject, so the tasks carry no
 * source object.
 */
#define G_LOG_DOMAIN "holder-backend-ch"

#include <unistd.h>

#include "holder-ch-private.h"
#include "holder-ipam.h"
#include "holder-linux-net.h"
#include "holder-linux-net-dir.h"
#include "holder-linux-net-host.h"
#include "holder-linux-worker.h"
#include "holder-ch-binary.h"
#include "holder-ch-doctor.h"
#include "holder-ch-reconcile.h"
#include "holder-boot-extract.h"
#include "holder-ch-vm.h"
#include "holder-vm-files.h"


static HolderBackend *
ch_new (const HolderBackendClass *klass,
        const HolderBackendHost  *host,
        GError                  **error)
{
  g_autoptr(HolderNetDir) dir = NULL;
  HolderBackendCh *self;

  /* Said at start-up, not at the first createnetwork: without it no
   * bridge, tap or firewall table can be made. */
  if (!holder_net_has_net_admin ())
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                           "the cloud-hypervisor backend needs the CAP_NET_ADMIN "
                           "capability to create bridges, taps and firewall tables, "
                           "and this process lacks it: run it as root or grant "
                           "CAP_NET_ADMIN");
      return NULL;
    }
  /* A runtime folder that may not be trusted is refused now, with what to
   * fix (two quick system calls). */
  dir = holder_net_dir_open (error);
  if (dir == NULL)
    return NULL;

  self = g_new0 (HolderBackendCh, 1);
  self->parent.klass = klass;
  self->parent.host = host;
  self->binary_fd = -1;
  self->net_worker = holder_linux_worker_new ();
  self->ready_taps = ch_ready_taps_new ();
  return &self->parent;
}

static void
ch_free (HolderBackend *backend)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;

  if (self == NULL)
    return;
  /* Links still being deleted end first (tens of milliseconds: their
   * completions use this backend), then the jobs still queued (a tap
   * forgotten), which use the network. */
  while (self->tap_deletions > 0)
    g_main_context_iteration (g_main_context_get_thread_default (), TRUE);
  holder_linux_worker_free (self->net_worker);
  /* The completions of the jobs that just ran (taps made ahead) use the
   * table below. */
  while (g_main_context_iteration (g_main_context_get_thread_default (), FALSE))
    ;
  g_hash_table_destroy (self->ready_taps);
  /* A network still open stays on the host with its record: whoever
   * reconciles after this process is gone reclaims it. */
  g_clear_pointer (&self->net, holder_linux_net_free);
  if (self->binary_fd >= 0)
    close (self->binary_fd);
  g_free (self);
}

/* ---- VMs ----------------------------------------------------------------- */

struct _HolderVm {
  HolderBackendCh   *backend;
  HolderMemberSpec  *spec;
  HolderReservation *reservation;
  char              *binary;
  gboolean           binary_verified;  /* run the backend's sealed copy */
  HolderVmFiles     *files;            /* opened as the user */
  char              *cmdline;
  char              *tap;
  char              *api_socket;
  HolderChVm        *vmm;
};

static void
vm_destroy (HolderVm *vm)
{
  if (vm == NULL)
    return;
  g_clear_pointer (&vm->vmm, holder_ch_vm_free);
  holder_member_spec_free (vm->spec);
  holder_reservation_free (vm->reservation);
  g_free (vm->binary);
  g_clear_pointer (&vm->files, holder_vm_files_unref);
  g_free (vm->cmdline);
  g_free (vm->tap);
  g_free (vm->api_socket);
  g_free (vm);
}

/* A VM whose creation failed half-way gives its tap back (on the worker,
 * before any later network job such as close). */
static void
vm_discard (HolderVm *vm)
{
  if (vm->tap != NULL && vm->backend->net != NULL)
    ch_remove_tap (vm->backend, vm->tap);
  vm_destroy (vm);
}

/* The task data of a create: the VM being made. Until it is handed over,
 * a failure frees it (and gives its tap back). */
typedef struct {
  HolderVm *vm;
} CreateOp;

static void
create_op_free (CreateOp *op)
{
  if (op->vm != NULL)
    vm_discard (op->vm);
  g_free (op);
}

static HolderVm *
create_op_vm (GTask *task)
{
  return ((CreateOp *) g_task_get_task_data (task))->vm;
}

static gboolean
spec_check (const HolderMemberSpec  *spec,
            const HolderReservation *reservation,
            GError                 **error)
{
  const char *why = NULL;

  if (spec->disk_path == NULL || spec->disk_path[0] == '\0')
    why = "disk_path is empty";
  else if (spec->seed_path == NULL || spec->seed_path[0] == '\0')
    why = "seed_path is empty";
  else if (spec->cpus < 1 || spec->cpus > 254)
    why = "cpus must be between 1 and 254";
  else if (spec->memory_bytes < 64 * 1024 * 1024)
    why = "memory_bytes must be at least 64 MiB";
  else if (reservation->ip == NULL || reservation->ip[0] == '\0')
    why = "the reservation has no IP address";
  else if (spec->kernel_path == NULL && spec->initramfs_path != NULL)
    why = "initramfs_path needs kernel_path";
  if (why == NULL)
    return TRUE;
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT, "invalid spec: %s", why);
  return FALSE;
}

/* The last step of create, once the tap is on the bridge: the VMM's
 * settings. */
static void
on_tap_added (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CreateOp *op = g_task_get_task_data (task);
  HolderVm *vm = op->vm;
  HolderBackendCh *self = vm->backend;
  g_autofree char *hash = NULL;
  g_autofree char *api_name = NULL;
  g_autoptr(GArray) fds = NULL;
  g_autoptr(GPtrArray) paths = NULL;
  g_autoptr(GPtrArray) fixtures = NULL;
  GPtrArray *files;
  GError *error = NULL;
  HolderChVmConfig config = { 0 };

  vm->tap = holder_ch_network_add_tap_finish (result, &error);
  if (vm->tap == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (g_task_return_error_if_cancelled (task))
    return;
  holder_boot_trace (vm->spec->name, "tap");

  /* Under <root>/run with a short hashed name: sun_path holds 108 bytes,
   * and the client's folders may be deep. */
  hash = holder_store_socket_hash (vm->spec->name);
  api_name = g_strdup_printf ("%s.%s.api", hash, vm->tap);
  vm->api_socket = g_build_filename (self->parent.host->storage_root, "run", api_name, NULL);

  /* Every file by its inherited descriptor, in the order of vm->files,
   * then the verified binary. */
  files = vm->files->files;
  fds = g_array_new (FALSE, FALSE, sizeof (int));
  paths = g_ptr_array_new_with_free_func (g_free);
  fixtures = g_ptr_array_new ();
  for (guint i = 0; i < files->len; i++)
    {
      const HolderVmFile *file = g_ptr_array_index (files, i);
      char *path = holder_ch_vm_fd_path (i);

      g_array_append_val (fds, file->fd);
      g_ptr_array_add (paths, path);
      switch (file->role)
        {
        case HOLDER_VM_FILE_KERNEL:
          config.kernel_path = path;
          break;
        case HOLDER_VM_FILE_INITRAMFS:
          config.initramfs_path = path;
          break;
        case HOLDER_VM_FILE_DISK:
          config.disk_path = path;
          break;
        case HOLDER_VM_FILE_SEED:
          config.seed_path = path;
          break;
        case HOLDER_VM_FILE_FIXTURE:
          g_ptr_array_add (fixtures, path);
          break;
        case HOLDER_VM_FILE_SERIAL_LOG:
        default:
          config.serial_log_path = path;
          break;
        }
    }
  g_ptr_array_add (fixtures, NULL);
  config.binary = vm->binary;
  if (vm->binary_verified)
    {
      char *path = holder_ch_vm_fd_path (fds->len);

      g_array_append_val (fds, self->binary_fd);
      g_ptr_array_add (paths, path);
      config.binary = path;
      config.binary_name = vm->binary;
    }
  config.api_socket = vm->api_socket;
  config.cmdline = vm->cmdline;
  config.fixture_paths = (const char *const *) fixtures->pdata;
  config.cpus = vm->spec->cpus;
  config.memory_bytes = vm->spec->memory_bytes;
  config.tap = vm->tap;
  config.mac = vm->reservation->mac;
  config.ip = vm->reservation->ip;
  config.fds = (const int *) fds->data;
  config.n_fds = fds->len;
  config.name = vm->spec->name;
  vm->vmm = holder_ch_vm_new (&config);

  op->vm = NULL;
  g_task_return_pointer (task, vm, (GDestroyNotify) vm_discard);
}

/* A tap on the bridge, made on the network's worker. */
static void
create_vm_complete (GTask *task)
{
  HolderBackendCh *self = create_op_vm (task)->backend;

  if (g_task_return_error_if_cancelled (task))
    return;
  if (self->net == NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_NETWORK_NOT_CREATED,
                               "network not created");
      return;
    }
  /* Again: a member booted after a stop lost its entry with its VM. */
  ch_set_neighbour (self, create_op_vm (task)->spec->name, create_op_vm (task)->reservation->ip,
                    create_op_vm (task)->reservation->mac);
  holder_ch_network_add_tap_async (self, create_op_vm (task)->spec->name, on_tap_added,
                                   g_object_ref (task));
}

static void
on_vm_files (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVm *vm = create_op_vm (task);
  GError *error = NULL;

  vm->files = holder_vm_files_open_finish (result, &error);
  if (vm->files == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  create_vm_complete (task);
}

/* The kernel comes from the spec (direct boot) or out of the disk; either
 * way every file is opened as the user the helper works for. */
static void
create_vm_files (GTask *task)
{
  HolderVm *vm = create_op_vm (task);

  vm->cmdline = g_strdup (vm->spec->cmdline != NULL ? vm->spec->cmdline
                                                    : HOLDER_BOOT_DEFAULT_CMDLINE);
  holder_vm_files_open_async (vm->backend->parent.host->storage_root, vm->spec,
                              HOLDER_VM_FILES_INPUTS, g_task_get_cancellable (task),
                              on_vm_files, g_object_ref (task));
}

/* One download, then one verification, serve every member that needs the
 * cached binary meanwhile. */
static void
binary_waiters_done (HolderBackendCh *self,
                     const GError    *error)
{
  g_autoptr(GPtrArray) waiters = g_steal_pointer (&self->binary_waiters);
  g_autofree char *path = holder_ch_binary_cache_path (self->parent.host->storage_root);
  gboolean downloaded = self->binary_downloading;

  self->binary_downloading = FALSE;
  for (guint i = 0; i < waiters->len; i++)
    {
      GTask *task = g_ptr_array_index (waiters, i);
      HolderVm *vm = create_op_vm (task);

      if (downloaded)
        self->parent.host->member_progress (vm->spec->name, HOLDER_MEMBER_STATE_STARTING,
                                            self->parent.host->user_data);
      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        {
          vm->binary = g_strdup (path);
          vm->binary_verified = TRUE;
          create_vm_files (task);
        }
    }
}

static void
on_binary_verified (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  HolderBackendCh *self = user_data;
  g_autoptr(GError) error = NULL;
  int fd = holder_ch_binary_open_verified_finish (result, &error);

  if (fd >= 0)
    {
      if (self->binary_fd >= 0)
        close (self->binary_fd);
      self->binary_fd = fd;
    }
  binary_waiters_done (self, error);
}

static void
on_binary_downloaded (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  HolderBackendCh *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *binary = NULL;

  binary = holder_ch_binary_download_finish (result, &error);
  if (binary == NULL)
    {
      binary_waiters_done (self, error);
      return;
    }
  /* What runs is what is read now, not what was downloaded. */
  holder_ch_binary_open_verified_async (self->parent.host->storage_root,
                                        holder_ch_release_for_host (), NULL,
                                        on_binary_verified, self);
}

static void
create_vm_binary (GTask *task)
{
  HolderVm *vm = create_op_vm (task);
  HolderBackendCh *self = vm->backend;
  const char *root = self->parent.host->storage_root;
  const HolderChRelease *release;
  g_autofree char *found = NULL;
  g_autofree char *cached = holder_ch_binary_cache_path (root);
  GError *error = NULL;

  found = holder_ch_binary_find (root, &error);
  if (error != NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  /* FLEETBOX_CH_BINARY or PATH: the operator's choice, run as it is. */
  if (found != NULL && g_strcmp0 (found, cached) != 0)
    {
      vm->binary = g_steal_pointer (&found);
      create_vm_files (task);
      return;
    }
  if (found != NULL && self->binary_fd >= 0)
    {
      vm->binary = g_steal_pointer (&found);
      vm->binary_verified = TRUE;
      create_vm_files (task);
      return;
    }

  release = holder_ch_release_for_host ();
  if (release == NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "no cloud-hypervisor release is pinned for this architecture; "
                               "install cloud-hypervisor or set FLEETBOX_CH_BINARY");
      return;
    }
  if (found == NULL || self->binary_downloading)
    self->parent.host->member_progress (vm->spec->name, HOLDER_MEMBER_STATE_DOWNLOADING,
                                        self->parent.host->user_data);
  if (self->binary_waiters == NULL)
    {
      self->binary_waiters = g_ptr_array_new_with_free_func (g_object_unref);
      if (found == NULL)
        {
          self->binary_downloading = TRUE;
          holder_ch_binary_download_async (root, release, NULL, on_binary_downloaded, self);
        }
      else
        holder_ch_binary_open_verified_async (root, release, NULL, on_binary_verified, self);
    }
  g_ptr_array_add (self->binary_waiters, g_object_ref (task));
}

static void
ch_create_vm_async (HolderBackend           *backend,
                    const HolderMemberSpec  *spec,
                    const HolderReservation *reservation,
                    GCancellable            *cancellable,
                    GAsyncReadyCallback      callback,
                    gpointer                 user_data)
{
  HolderBackendCh *self = (HolderBackendCh *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  CreateOp *op;
  HolderVm *vm;
  GError *error = NULL;

  g_task_set_name (task, "ch_create_vm_async");
  if (!spec_check (spec, reservation, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  vm = g_new0 (HolderVm, 1);
  vm->backend = self;
  vm->spec = holder_member_spec_copy (spec);
  vm->reservation = holder_reservation_copy (reservation);
  op = g_new0 (CreateOp, 1);
  op->vm = vm;
  g_task_set_task_data (task, op, (GDestroyNotify) create_op_free);
  create_vm_binary (task);
}

static void
on_vmm_exited (HolderChVm *vmm,
               const char *message,
               gpointer    user_data)
{
  HolderVm *vm = user_data;
  const HolderBackendHost *host = vm->backend->parent.host;

  host->vm_exited (vm, message, host->user_data);
}

static void
on_vmm_started (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVm *vm = g_task_get_task_data (task);
  GError *error = NULL;

  if (!holder_ch_vm_start_finish (vm->vmm, result, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  holder_ch_vm_set_exit_handler (vm->vmm, on_vmm_exited, vm);
  g_task_return_boolean (task, TRUE);
}

static void
ch_start_vm_async (HolderBackend       *backend,
                   HolderVm            *vm,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "ch_start_vm_async");
  g_task_set_task_data (task, vm, NULL);
  holder_ch_vm_start_async (vm->vmm, cancellable, on_vmm_started, task);
}

static void
on_vmm_ip (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVm *vm = g_task_get_task_data (task);
  GError *error = NULL;
  char *ip = holder_ch_vm_wait_ip_finish (vm->vmm, result, &error);

  if (ip == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, ip, g_free);
}

static void
ch_wait_ip_async (HolderBackend       *backend,
                  HolderVm            *vm,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "ch_wait_ip_async");
  g_task_set_task_data (task, vm, NULL);
  holder_ch_vm_wait_ip_async (vm->vmm, cancellable, on_vmm_ip, task);
}

static void
on_vmm_stopped (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVm *vm = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) neighbour_error = NULL;
  gboolean stopped = holder_ch_vm_stop_finish (vm->vmm, result, &error);

  /* The tap goes whatever happened to the process: queued on the
   * network's worker, so it is gone before any later network job (a new
   * tap, the close) runs, and the stop ends now. A tap that cannot be
   * removed stays in the record, and the close takes it. */
  if (vm->tap != NULL && vm->backend->net != NULL)
    {
      ch_remove_tap (vm->backend, vm->tap);
      g_clear_pointer (&vm->tap, g_free);
    }
  /* So does the neighbour entry (nothing answers at that address any
   * more), before the stop ends, so that a stopped member has none: one
   * netlink request on a socket of its own, reading only what the network
   * never changes after its creation (its bridge and subnet). */
  if (vm->backend->net != NULL &&
      !holder_linux_net_remove_neighbour (vm->backend->net, vm->reservation->ip, &neighbour_error))
    g_warning ("%s: %s", vm->spec->name, neighbour_error->message);
  if (!stopped)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
ch_stop_vm_async (HolderBackend       *backend,
                  HolderVm            *vm,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "ch_stop_vm_async");
  g_task_set_task_data (task, vm, NULL);
  holder_ch_vm_stop_async (vm->vmm, on_vmm_stopped, task);
}

static void
ch_vm_free (HolderBackend *backend,
            HolderVm      *vm)
{
  vm_discard (vm);
}

/* What "up" means here, for the message of a boot that timed out. */
static char *
ch_describe_ready (HolderBackend *backend,
                   HolderVm      *vm)
{
  g_autofree char *dir = NULL;
  const char *log = vm->spec->serial_log_path;

  if (log == NULL)
    {
      /* The backend's default: serial.log in the member folder. */
      dir = holder_store_member_dir (backend->host->storage_root, vm->spec->name);
      return g_strdup_printf ("TCP port 22 at %s; console log: %s/serial.log",
                              vm->reservation->ip, dir);
    }
  return g_strdup_printf ("TCP port 22 at %s; console log: %s", vm->reservation->ip, log);
}

static const HolderBackendClass holder_backend_cloud_hypervisor_class = {
  .name = "cloud-hypervisor",
  .caps = HOLDER_BACKEND_CAP_CLUSTERING | HOLDER_BACKEND_CAP_NESTED_VIRT,
  .new = ch_new,
  .free = ch_free,
  .reconcile_async = ch_reconcile_async,
  .reconcile_finish = holder_backend_task_finish_boolean,
  .create_network_async = ch_create_network_async,
  .create_network_finish = holder_backend_task_finish_string,
  .close_network_async = ch_close_network_async,
  .close_network_finish = holder_backend_task_finish_boolean,
  .reserve_async = ch_reserve_async,
  .reserve_finish = holder_backend_task_finish_reservation,
  .create_vm_async = ch_create_vm_async,
  .create_vm_finish = holder_backend_task_finish_vm,
  .start_vm_async = ch_start_vm_async,
  .start_vm_finish = holder_backend_task_finish_boolean,
  .wait_ip_async = ch_wait_ip_async,
  .wait_ip_finish = holder_backend_task_finish_string,
  .stop_vm_async = ch_stop_vm_async,
  .stop_vm_finish = holder_backend_task_finish_boolean,
  .vm_free = ch_vm_free,
  .check_host = holder_ch_check_host,
  .describe_ready = ch_describe_ready,
};

HOLDER_BACKEND_DEFINE_MODULE (holder_backend_cloud_hypervisor_class)
