/* SPDX-License-Identifier: MIT
 *
 * The libvirt backend (FLEETBOX_BACKEND=libvirt): one transient NAT network
 * per helper, one transient domain per member, started with AUTODESTROY so
 * that the VMs end with the helper's connection however the helper ends.
 * See docs/libvirt.md.
 *
 *   FLEETBOX_LIBVIRT_URI        the connection (default qemu:///system)
 *   FLEETBOX_LIBVIRT_VIRT_TYPE  kvm or qemu (default: kvm when the host's
 *                               capabilities offer it, else qemu)
 *
 * Threads: every libvirt RPC runs on the worker (holder-libvirt-worker.c),
 * in order; everything else, the state below included, lives on the main
 * context. libvirt-glib's event loop implementation services keepalives and
 * delivers the lifecycle events on the main context: a STOPPED event ends a
 * stop, or turns a member that stopped on its own to `error`.
 *
 * Files: libvirtd opens the disks, kernel and initramfs itself (as root,
 * or as libvirt-qemu with qemu:///system), by path. On a local URI the
 * helper first opens each of them on a worker thread as the user it works
 * for (holder-vm-files.c), in the mode QEMU will use, and refuses a boot
 * the user could not make; right before and right after the domain is
 * created it checks that every path still leads to the file it checked.
 * What is left (a path swapped and swapped back while libvirtd opens it)
 * is described in docs/security.md. The serial log is written by the
 * helper itself through a descriptor opened as the user.
 */
#define G_LOG_DOMAIN "holder-libvirt"

#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <libvirt-glib/libvirt-glib.h>
#include <libvirt/virterror.h>

#include "holder-libvirt-private.h"
#include "holder-boot-extract.h"
#include "holder-ipam.h"
#include "holder-libvirt-console.h"
#include "holder-libvirt-doctor.h"
#include "holder-libvirt-worker.h"
#include "holder-libvirt-xml.h"
#include "holder-guest-wait.h"
#include "holder-vm-files.h"
#include "holder-linux-net-host.h"

/* ---- worker hooks (worker thread) ----------------------------------------- */

static const char *
describe_stop (int detail)
{
  switch (detail)
    {
    case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
      return "the guest powered off";
    case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
      return "destroyed (a guest reboot or crash ends it too: "
             "every lifecycle action is destroy)";
    case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
      return "the guest crashed";
    case VIR_DOMAIN_EVENT_STOPPED_MIGRATED:
      return "migrated away";
    case VIR_DOMAIN_EVENT_STOPPED_SAVED:
      return "saved";
    case VIR_DOMAIN_EVENT_STOPPED_FAILED:
      return "QEMU failed (see libvirt's log of the domain)";
    default:
      return "for an unknown reason";
    }
}

/* Main context: libvirt-glib's event loop dispatches here. */
static int
on_lifecycle (virConnectPtr  conn,
              virDomainPtr   domain,
              int            event,
              int            detail,
              void          *opaque)
{
  HolderBackendLibvirt *self = opaque;
  char uuid[VIR_UUID_STRING_BUFLEN];
  HolderVm *vm;

  if (virDomainGetUUIDString (domain, uuid) < 0)
    return 0;
  vm = g_hash_table_lookup (self->vms, uuid);
  if (vm == NULL)
    return 0;
  g_debug ("%s: lifecycle event %d detail %d", vm->domain_name, event, detail);
  /* The guest's own power-off (QEMU also reports one when it is killed,
   * with detail HOST). */
  if (event == VIR_DOMAIN_EVENT_SHUTDOWN && detail == VIR_DOMAIN_EVENT_SHUTDOWN_GUEST)
    vm->guest_shut_down = TRUE;
  else if (event == VIR_DOMAIN_EVENT_STOPPED)
    {
      g_autofree char *message = NULL;

      if (detail == VIR_DOMAIN_EVENT_STOPPED_DESTROYED && vm->guest_shut_down)
        detail = VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN;
      message = g_strdup_printf ("libvirt domain %s stopped: %s", vm->domain_name,
                                 describe_stop (detail));
      holder_libvirt_vm_stopped (vm, message);
    }
  return 0;
}

/* Main context. The domains are AUTODESTROY: when the connection goes, they
 * go (or, after a libvirtd restart, they are left to reconcile). */
static gboolean
on_connection_closed_idle (gpointer user_data)
{
  HolderBackendLibvirt *self = user_data;
  g_autoptr(GList) vms = NULL;
  g_autofree char *message =
    g_strdup_printf ("lost the connection to %s: the domain was destroyed with it "
                     "(or, if libvirtd restarted, is left to reconcile)", self->uri);

  g_mutex_lock (&self->closed_lock);
  g_clear_pointer (&self->closed_source, g_source_unref);
  g_mutex_unlock (&self->closed_lock);

  g_warning ("the connection to %s closed", self->uri);
  vms = g_hash_table_get_values (self->vms);
  for (GList *l = vms; l != NULL; l = l->next)
    holder_libvirt_vm_stopped (l->data, message);
  return G_SOURCE_REMOVE;
}

/* libvirt calls this from the thread that saw the connection end: the event
 * loop (main) or the worker in the middle of an RPC. Hand over to main. */
static void
on_connection_closed (virConnectPtr  conn,
                      int            reason,
                      void          *opaque)
{
  HolderBackendLibvirt *self = opaque;

  g_debug ("the connection to %s closed (reason %d)", self->uri, reason);
  g_mutex_lock (&self->closed_lock);
  if (!self->freeing && self->closed_source == NULL)
    {
      self->closed_source = g_idle_source_new ();
      g_source_set_callback (self->closed_source, on_connection_closed_idle, self, NULL);
      g_source_attach (self->closed_source, self->context);
    }
  g_mutex_unlock (&self->closed_lock);
}

static gboolean
worker_opened (virConnectPtr  conn,
               gpointer       user_data,
               GError       **error)
{
  HolderBackendLibvirt *self = user_data;

  /* Detected once per connection: KVM where the host offers it. */
  g_clear_pointer (&self->worker_virt_type, g_free);
  if (self->virt_type != NULL)
    self->worker_virt_type = g_strdup (self->virt_type);
  else
    {
      g_autofree char *caps = virConnectGetCapabilities (conn);

      if (caps == NULL)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "read capabilities: %s",
                       holder_libvirt_error_message ());
          return FALSE;
        }
      self->worker_virt_type = g_strdup (strstr (caps, "<domain type='kvm'") != NULL ? "kvm"
                                                                                     : "qemu");
      g_debug ("virt type %s (from the host's capabilities)", self->worker_virt_type);
    }

  self->lifecycle_callback =
    virConnectDomainEventRegisterAny (conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                      VIR_DOMAIN_EVENT_CALLBACK (on_lifecycle), self, NULL);
  if (self->lifecycle_callback < 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "register for lifecycle events: %s", holder_libvirt_error_message ());
      return FALSE;
    }
  self->close_callback = virConnectRegisterCloseCallback (conn, on_connection_closed,
                                                          self, NULL) == 0;
  if (virConnectSetKeepAlive (conn, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT) < 0)
    g_debug ("no keepalive on %s: %s", self->uri, holder_libvirt_error_message ());
  return TRUE;
}

static void
worker_closing (virConnectPtr conn,
                gpointer      user_data)
{
  HolderBackendLibvirt *self = user_data;

  if (self->lifecycle_callback >= 0)
    virConnectDomainEventDeregisterAny (conn, self->lifecycle_callback);
  self->lifecycle_callback = -1;
  if (self->close_callback)
    virConnectUnregisterCloseCallback (conn, on_connection_closed);
  self->close_callback = FALSE;
}

/* ---- new / free ------------------------------------------------------------ */

/* A URI whose daemon runs on this host and resolves our paths:
 * "qemu:///system", "qemu+unix:///session?socket=...". A host part or a
 * network transport (qemu+ssh://h/system, qemu+tcp://...) is remote. */
static gboolean
uri_is_local (const char *uri)
{
  g_autoptr(GUri) parsed = g_uri_parse (uri, G_URI_FLAGS_NON_DNS, NULL);
  const char *scheme, *plus, *host;

  if (parsed == NULL)
    return FALSE;
  scheme = g_uri_get_scheme (parsed);
  plus = strchr (scheme, '+');
  host = g_uri_get_host (parsed);
  return (plus == NULL || g_str_equal (plus, "+unix")) && (host == NULL || host[0] == '\0');
}

static HolderBackend *
libvirt_new (const HolderBackendClass *klass,
             const HolderBackendHost  *host,
             GError                  **error)
{
  g_autofree HolderBackendLibvirt *self = g_new0 (HolderBackendLibvirt, 1);
  const char *uri = g_getenv ("FLEETBOX_LIBVIRT_URI");
  const char *virt_type = g_getenv ("FLEETBOX_LIBVIRT_VIRT_TYPE");
  HolderLibvirtWorkerHooks hooks = { worker_opened, worker_closing, NULL };

  if (virt_type != NULL && virt_type[0] != '\0' &&
      g_strcmp0 (virt_type, "kvm") != 0 && g_strcmp0 (virt_type, "qemu") != 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "FLEETBOX_LIBVIRT_VIRT_TYPE=%s: use kvm (hardware virtualization) "
                   "or qemu (TCG emulation), or leave it unset to pick kvm when the host "
                   "offers it", virt_type);
      return NULL;
    }
  if (!holder_libvirt_owner_init_self (&self->owner, error))
    return NULL;

  /* Before the first connection: libvirt needs an event loop for
   * keepalives and events, and libvirt-glib's runs on the default main
   * context. Registering twice is harmless. */
  gvir_event_register ();

  self->parent.klass = klass;
  self->parent.host = host;
  self->uri = g_strdup (uri != NULL && uri[0] != '\0' ? uri : DEFAULT_URI);
  self->local = uri_is_local (self->uri);
  self->virt_type = virt_type != NULL && virt_type[0] != '\0' ? g_strdup (virt_type) : NULL;
  self->id = g_strdup_printf ("%08x", g_random_int ());
  self->vms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->lifecycle_callback = -1;
  self->context = g_main_context_ref_thread_default ();
  g_mutex_init (&self->closed_lock);
  hooks.user_data = self;
  self->worker = holder_libvirt_worker_new (self->uri, &hooks);
  return &g_steal_pointer (&self)->parent;
}

static void
libvirt_free (HolderBackend *backend)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;
  GHashTableIter iter;
  gpointer vm;

  if (self == NULL)
    return;
  g_mutex_lock (&self->closed_lock);
  self->freeing = TRUE;
  g_mutex_unlock (&self->closed_lock);
  /* Closing the connection destroys every domain still running (AUTODESTROY);
   * a network still open stays for reconcile, as after a crash. */
  holder_libvirt_worker_free (self->worker);
  if (self->closed_source != NULL)
    {
      g_source_destroy (self->closed_source);
      g_source_unref (self->closed_source);
    }
  g_mutex_clear (&self->closed_lock);
  g_main_context_unref (self->context);
  g_hash_table_iter_init (&iter, self->vms);
  while (g_hash_table_iter_next (&iter, NULL, &vm))
    ((HolderVm *) vm)->backend = NULL;
  g_hash_table_unref (self->vms);
  holder_libvirt_owner_clear (&self->owner);
  g_clear_pointer (&self->ipam, holder_ipam_free);
  g_free (self->worker_virt_type);
  g_free (self->network);
  g_free (self->bridge);
  holder_net_sock_free (self->neighbours);
  g_free (self->subnet);
  g_free (self->id);
  g_free (self->virt_type);
  g_free (self->uri);
  g_free (self);
}

/* ---- create -------------------------------------------------------------------- */

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
  else if (reservation->mac == NULL || reservation->mac[0] == '\0')
    why = "the reservation has no MAC address";
  else if (spec->kernel_path == NULL && spec->initramfs_path != NULL)
    why = "initramfs_path needs kernel_path";
  if (why == NULL)
    return TRUE;
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT, "invalid spec: %s", why);
  return FALSE;
}

static void
on_vm_files (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVm *vm = g_task_get_task_data (task);
  GError *error = NULL;

  vm->files = holder_vm_files_open_finish (result, &error);
  if (vm->files == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, holder_libvirt_vm_ref (vm), (GDestroyNotify) holder_libvirt_vm_unref);
}

/* Nothing reaches libvirt yet: the kernel comes from the spec (direct boot)
 * or out of the disk, which must then be readable here as well. The files
 * are opened as the user (only the serial log on a remote URI, whose
 * daemon resolves the other paths on its own host). */
static void
libvirt_create_vm_async (HolderBackend           *backend,
                         const HolderMemberSpec  *spec,
                         const HolderReservation *reservation,
                         GCancellable            *cancellable,
                         GAsyncReadyCallback      callback,
                         gpointer                 user_data)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  HolderVm *vm;
  GError *error = NULL;

  g_task_set_name (task, "libvirt_create_vm_async");
  if (!spec_check (spec, reservation, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (self->network == NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_NETWORK_NOT_CREATED,
                               "network not created");
      return;
    }

  vm = g_new0 (HolderVm, 1);
  vm->ref_count = 1;
  vm->backend = self;
  vm->spec = holder_member_spec_copy (spec);
  vm->reservation = holder_reservation_copy (reservation);
  vm->domain_name = g_strdup_printf (HOLDER_LIBVIRT_NAME_PREFIX "%s-%s", self->id, spec->name);
  vm->cmdline = g_strdup (spec->cmdline != NULL ? spec->cmdline : HOLDER_BOOT_DEFAULT_CMDLINE);
  vm->state = VM_CREATED;
  g_task_set_task_data (task, vm, (GDestroyNotify) holder_libvirt_vm_unref);

  holder_vm_files_open_async (self->parent.host->storage_root, spec,
                              self->local ? HOLDER_VM_FILES_INPUTS : HOLDER_VM_FILES_NONE,
                              cancellable, on_vm_files, g_object_ref (task));
}

/* ---- start ---------------------------------------------------------------------- */

typedef struct {
  HolderBackendLibvirt *self;      /* owner and worker-side virt type */
  HolderVm             *vm;        /* read-only copy of its fields below */
  char                 *name;
  char                 *uuid;
  char                 *title;
  HolderMemberSpec     *spec;
  HolderVmFiles        *files;     /* checked again around the create */
  gboolean              check_files;
  char                 *cmdline;
  char                 *network;
  char                 *mac;
} StartJob;

static void
start_job_free (StartJob *job)
{
  g_free (job->name);
  g_free (job->uuid);
  g_free (job->title);
  holder_member_spec_free (job->spec);
  holder_vm_files_unref (job->files);
  g_free (job->cmdline);
  g_free (job->network);
  g_free (job->mac);
  g_free (job);
}

/* A result never taken (it always is): no RPC, just the reference. */
static void
stream_free (gpointer stream)
{
  virStreamFree (stream);
}

static void
start_job (GTask         *task,
           virConnectPtr  conn,
           gpointer       job_data)
{
  StartJob *job = job_data;
  HolderLibvirtDomainConfig config = { 0 };
  g_autofree char *xml = NULL;
  virDomainPtr domain;
  virStreamPtr stream;
  const char *step = "open the console of";
  GError *error = NULL;

  config.name = job->name;
  config.uuid = job->uuid;
  config.title = job->title;
  config.virt_type = job->self->worker_virt_type;
  config.memory_bytes = job->spec->memory_bytes;
  config.cpus = (guint) job->spec->cpus;
  config.kernel_path = job->files->kernel_path;
  config.initramfs_path = job->files->initramfs_path;
  config.cmdline = job->cmdline;
  config.disk_path = job->spec->disk_path;
  config.seed_path = job->spec->seed_path;
  config.fixture_paths = (const char *const *) job->spec->fixture_paths;
  config.network = job->network;
  config.mac = job->mac;
  config.owner = &job->self->owner;
  xml = holder_libvirt_domain_xml (&config, &error);
  if (xml == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  g_debug ("starting %s:\n%s", job->name, xml);

  /* The files checked as the user are still the ones the paths lead to. */
  if (job->check_files && !holder_vm_files_check_unchanged (job->files, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  /* The domain starts paused until its console is streamed, so that not a
   * byte of the boot is lost from the serial log. */
  domain = virDomainCreateXML (conn, xml, VIR_DOMAIN_START_AUTODESTROY |
                                          VIR_DOMAIN_START_PAUSED);
  if (domain == NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "start libvirt domain %s: %s", job->name,
                               holder_libvirt_error_message ());
      return;
    }
  /* ... and were while libvirtd opened them: a path swapped since is
   * refused, with the domain (paused: the guest ran nothing) destroyed. */
  if (job->check_files && !holder_vm_files_check_unchanged (job->files, &error))
    {
      virDomainDestroy (domain);
      virDomainFree (domain);
      g_task_return_error (task, error);
      return;
    }
  stream = virStreamNew (conn, VIR_STREAM_NONBLOCK);
  if (stream != NULL &&
      virDomainOpenConsole (domain, NULL, stream, VIR_DOMAIN_CONSOLE_FORCE) == 0 &&
      (step = "resume", virDomainResume (domain) == 0))
    {
      virDomainFree (domain);
      g_task_return_pointer (task, stream, stream_free);
      return;
    }
  g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "%s libvirt domain %s: %s", step, job->name,
                           holder_libvirt_error_message ());
  virDomainDestroy (domain);
  if (stream != NULL)
    {
      virStreamAbort (stream);
      virStreamFree (stream);
    }
  virDomainFree (domain);
}

/* Main context: the domain's console ended (it stopped). */
static void
on_console_ended (HolderLibvirtConsole *console,
                  gpointer              user_data)
{
  HolderVm *vm = user_data;

  holder_libvirt_vm_release_console (vm);
  /* A stop waits for the end of the log before it completes. */
  if (vm->state == VM_STOPPED && vm->stop_task != NULL)
    holder_libvirt_stop_complete (vm, NULL);
}

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVm *vm = g_task_get_task_data (task);
  GError *error = NULL;
  virStreamPtr stream = g_task_propagate_pointer (G_TASK (result), &error);

  if (stream != NULL && vm->console != NULL)
    holder_libvirt_console_attach (vm->console, stream);
  else if (stream != NULL)
    virStreamFree (stream);
  if (error != NULL)
    {
      if (vm->backend != NULL && vm->uuid != NULL)
        g_hash_table_remove (vm->backend->vms, vm->uuid);
      vm->state = VM_STOPPED;
      holder_libvirt_stop_complete (vm, NULL);
      g_task_return_error (task, error);
      return;
    }
  /* The STOPPED event may come before this result. */
  if (vm->state == VM_STOPPED)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s",
                               vm->exit_message != NULL ? vm->exit_message
                                                        : "the domain stopped at once");
      return;
    }
  if (vm->state == VM_STARTING)
    vm->state = VM_RUNNING;
  g_task_return_boolean (task, TRUE);
}

static void
libvirt_start_vm_async (HolderBackend       *backend,
                        HolderVm            *vm,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GTask) inner = NULL;
  StartJob *job;

  g_task_set_name (task, "libvirt_start_vm_async");
  g_task_set_task_data (task, holder_libvirt_vm_ref (vm), (GDestroyNotify) holder_libvirt_vm_unref);
  if (vm->state != VM_CREATED && vm->state != VM_STOPPED)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "the domain %s is already running", vm->domain_name);
      return;
    }
  if (self->network == NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_NETWORK_NOT_CREATED,
                               "network not created");
      return;
    }

  /* The log was opened as the user when the VM was made; each start
   * begins it afresh. */
  holder_libvirt_vm_release_console (vm);
  g_clear_pointer (&vm->console, holder_libvirt_console_free);
  {
    const HolderVmFile *log = holder_vm_files_get (vm->files, HOLDER_VM_FILE_SERIAL_LOG);
    int fd = log != NULL ? fcntl (log->fd, F_DUPFD_CLOEXEC, 3) : -1;
    GError *error = NULL;

    if (fd < 0)
      {
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                 "serial log %s: %s", vm->files->serial_log_path,
                                 log == NULL ? "not open" : g_strerror (errno));
        return;
      }
    vm->console = holder_libvirt_console_new (fd, log->path, &error);
    if (vm->console == NULL)
      {
        g_task_return_error (task, error);
        return;
      }
    holder_libvirt_console_set_ended_handler (vm->console, on_console_ended, vm);
  }

  g_free (vm->uuid);
  vm->uuid = g_uuid_string_random ();
  g_clear_pointer (&vm->exit_message, g_free);
  g_clear_pointer (&vm->wait, holder_guest_wait_unref);
  vm->guest_shut_down = FALSE;
  vm->destroying = FALSE;
  vm->state = VM_STARTING;
  /* Again: a member started after a stop lost its entry with its domain. */
  holder_libvirt_neighbour_add (vm->spec->name, vm->reservation, self);
  /* Known before the domain exists, so that no event about it is missed. */
  g_hash_table_insert (self->vms, g_strdup (vm->uuid), vm);

  job = g_new0 (StartJob, 1);
  job->self = self;
  job->name = g_strdup (vm->domain_name);
  job->uuid = g_strdup (vm->uuid);
  job->title = g_strdup_printf ("holder member %s (helper %" G_GINT64_FORMAT " on %s)",
                                vm->spec->name, self->owner.pid, self->owner.host);
  job->spec = holder_member_spec_copy (vm->spec);
  job->files = holder_vm_files_ref (vm->files);
  job->check_files = self->local;
  job->cmdline = g_strdup (vm->cmdline);
  job->network = g_strdup (self->network);
  job->mac = g_strdup (vm->reservation->mac);

  /* Once queued the start runs to the end, so that a domain that exists is
   * always known here (and stopped by stop_vm). */
  inner = g_task_new (NULL, NULL, on_started, g_object_ref (task));
  g_task_set_check_cancellable (inner, FALSE);
  holder_libvirt_worker_push (self->worker, inner, start_job, job,
                              (GDestroyNotify) start_job_free);
}

/* ---- wait for the IP ---------------------------------------------------------- */

static void
libvirt_wait_ip_async (HolderBackend       *backend,
                       HolderVm            *vm,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  if (vm->state == VM_RUNNING && !holder_guest_wait_is_pending (vm->wait) &&
      !g_cancellable_is_cancelled (cancellable))
    {
      /* Its tap is libvirt's (vnetN): the MAC names the guest well enough. */
      HolderGuestWaitHints hints = { vm->spec->name, NULL, vm->reservation->mac };

      g_clear_pointer (&vm->wait, holder_guest_wait_unref);
      vm->wait = holder_guest_wait_start_full (vm->reservation->ip, 22, &hints, cancellable,
                                               callback, user_data);
      return;
    }

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "libvirt_wait_ip_async");
  if (g_task_return_error_if_cancelled (task))
    return;
  if (holder_guest_wait_is_pending (vm->wait))
    g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                             "already waiting for %s", vm->domain_name);
  else
    g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s",
                             vm->exit_message != NULL ? vm->exit_message
                                                      : "the domain is not running");
}

/* What "up" means here, for the message of a boot that timed out. */
static char *
libvirt_describe_ready (HolderBackend *backend,
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

static const HolderBackendClass holder_backend_libvirt_class = {
  .name = "libvirt",
  .caps = HOLDER_BACKEND_CAP_CLUSTERING,
  .new = libvirt_new,
  .free = libvirt_free,
  .reconcile_async = holder_libvirt_reconcile_async,
  .reconcile_finish = holder_backend_task_finish_boolean,
  .create_network_async = holder_libvirt_create_network_async,
  .create_network_finish = holder_backend_task_finish_string,
  .close_network_async = holder_libvirt_close_network_async,
  .close_network_finish = holder_backend_task_finish_boolean,
  .reserve_async = holder_libvirt_reserve_async,
  .reserve_finish = holder_backend_task_finish_reservation,
  .create_vm_async = libvirt_create_vm_async,
  .create_vm_finish = holder_backend_task_finish_vm,
  .start_vm_async = libvirt_start_vm_async,
  .start_vm_finish = holder_backend_task_finish_boolean,
  .wait_ip_async = libvirt_wait_ip_async,
  .wait_ip_finish = holder_backend_task_finish_string,
  .stop_vm_async = holder_libvirt_stop_vm_async,
  .stop_vm_finish = holder_backend_task_finish_boolean,
  .vm_free = holder_libvirt_vm_free,
  .check_host = holder_libvirt_check_host,
  .describe_ready = libvirt_describe_ready,
};

HOLDER_BACKEND_DEFINE_MODULE (holder_backend_libvirt_class)

