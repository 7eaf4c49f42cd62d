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

#include "holder-backend.h"
#include "holder-boot-extract.h"
#include "holder-ipam.h"
#include "holder-libvirt-console.h"
#include "holder-libvirt-doctor.h"
#include "holder-libvirt-worker.h"
#include "holder-libvirt-xml.h"
#include "holder-guest-wait.h"
#include "holder-vm-files.h"
#include "holder-linux-net-host.h"

#define DEFAULT_URI            HOLDER_LIBVIRT_DEFAULT_URI
/* The first /24 tried; libvirt refuses one in use and we take the next. */
#define FIRST_THIRD_OCTET      100
/* The stop ladder: the power button, then destroy; under 20 s in all. */
#define STOP_POWER_BUTTON_MS   10000
#define STOP_DESTROY_EVENT_MS  5000
/* After the domain stopped, how long the serial log may take to end. */
#define STOP_CONSOLE_DRAIN_MS  2000
/* Keepalive towards libvirtd: a ping every 5 s, 6 unanswered = dead. */
#define KEEPALIVE_INTERVAL_S   5
#define KEEPALIVE_COUNT        6

typedef enum {
  VM_CREATED,   /* defined here only; no domain */
  VM_STARTING,  /* the create RPC is queued or running */
  VM_RUNNING,
  VM_STOPPING,
  VM_STOPPED,   /* the domain is gone */
} VmState;

typedef struct {
  HolderBackend       parent;
  char               *uri;
  char               *virt_type;   /* from the environment, NULL: detect */
  gboolean            local;       /* libvirtd runs here: paths are ours to check */
  char               *id;          /* 8 hex digits, in every name we make */
  HolderLibvirtOwner  owner;       /* immutable after new: read by the worker */
  HolderLibvirtWorker *worker;

  /* Main context only. */
  char               *network;     /* "holder-<id>" once created */
  char               *bridge;      /* its bridge, "hbr-<id>" */
  /* Netlink in this namespace, once the bridge is known to be here (a
   * local URI, and the rights to change it): NULL elsewhere. */
  HolderNetSock      *neighbours;
  gboolean            neighbours_checked;
  char               *subnet;
  HolderIpam         *ipam;
  GHashTable         *vms;         /* uuid -> HolderVm (unowned) with a domain */

  GMainContext       *context;     /* the main context */
  /* A lost connection, reported from whichever thread saw it. */
  GMutex              closed_lock;
  GSource            *closed_source;
  gboolean            freeing;

  /* Worker thread only (hooks). */
  char               *worker_virt_type;
  int                 lifecycle_callback;
  gboolean            close_callback;
} HolderBackendLibvirt;

struct _HolderVm {
  gint                  ref_count;
  HolderBackendLibvirt *backend;    /* NULL once the backend is gone */
  HolderMemberSpec     *spec;
  HolderReservation    *reservation;
  char                 *domain_name;
  HolderVmFiles        *files;      /* opened (or checked) as the user */
  char                 *cmdline;
  char                 *uuid;       /* new for each start */
  VmState               state;
  gboolean              guest_shut_down;
  char                 *exit_message;
  HolderLibvirtConsole *console;    /* copies the serial log, when asked */
  /* wait_ip: kept after it ended, since whether the guest came up
   * decides how it is stopped */
  HolderGuestWait      *wait;
  /* stop */
  GTask                *stop_task;
  GSource              *stop_timer;
  gboolean              destroying;
};

static HolderVm *
vm_ref (HolderVm *vm)
{
  g_atomic_int_inc (&vm->ref_count);
  return vm;
}

static void
vm_unref (HolderVm *vm)
{
  if (vm == NULL || !g_atomic_int_dec_and_test (&vm->ref_count))
    return;
  g_warn_if_fail (!holder_guest_wait_is_pending (vm->wait) && vm->stop_task == NULL);
  if (vm->stop_timer != NULL)
    {
      g_source_destroy (vm->stop_timer);
      g_source_unref (vm->stop_timer);
    }
  g_clear_pointer (&vm->wait, holder_guest_wait_unref);
  holder_libvirt_console_free (vm->console);
  holder_member_spec_free (vm->spec);
  holder_reservation_free (vm->reservation);
  g_free (vm->domain_name);
  g_clear_pointer (&vm->files, holder_vm_files_unref);
  g_free (vm->cmdline);
  g_free (vm->uuid);
  g_free (vm->exit_message);
  g_free (vm);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderVm, vm_unref)

static void vm_stopped (HolderVm *vm, const char *message);
static void vm_release_console (HolderVm *vm);
static void stop_complete (HolderVm *vm, GError *error);

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
      vm_stopped (vm, message);
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
    vm_stopped (l->data, message);
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
typedef struct {
  HolderBackendLibvirt *self;     /* main thread only */
  gboolean              dry_run;
  GPtrArray            *kinds;    /* of char *, filled on the worker */
  GPtrArray            *names;
} ReconcileJob;

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
static gboolean
reconcile_run (virConnectPtr              conn,
               const HolderLibvirtOwner  *self,
               ReconcileJob              *job,
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

  if (!reconcile_run (conn, &job->self->owner, job, &error))
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

static void
libvirt_reconcile_async (HolderBackend        *backend,
                         HolderReconcileFlags  flags,
                         GCancellable         *cancellable,
                         GAsyncReadyCallback   callback,
                         gpointer              user_data)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;
  GTask *outer = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, on_reconciled, outer);
  ReconcileJob *job = g_new0 (ReconcileJob, 1);

  g_task_set_name (outer, "libvirt_reconcile_async");
  g_task_set_name (task, "libvirt_reconcile_job");
  job->self = self;
  job->dry_run = (flags & HOLDER_RECONCILE_FLAGS_DRY_RUN) != 0;
  job->kinds = g_ptr_array_new_with_free_func (g_free);
  job->names = g_ptr_array_new_with_free_func (g_free);
  g_task_set_task_data (task, job, (GDestroyNotify) reconcile_job_free);
  holder_libvirt_worker_push (self->worker, task, reconcile_job, job, NULL);
}

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

  if (!reconcile_run (conn, &job->self->owner, NULL, &reconcile_error))
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

static void
libvirt_create_network_async (HolderBackend       *backend,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GTask) inner = NULL;
  NetworkJob *job;

  g_task_set_name (task, "libvirt_create_network_async");
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

static void
libvirt_close_network_async (HolderBackend       *backend,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "libvirt_close_network_async");
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
static void
neighbour_add (const char              *name,
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

static void
neighbour_remove (HolderBackendLibvirt *self,
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
static void
libvirt_reserve_async (HolderBackend       *backend,
                       const char          *name,
                       const char          *ip_hint,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  HolderBackendLibvirt *self = (HolderBackendLibvirt *) backend;

  holder_ipam_reserve_async (self->ipam, name, ip_hint, neighbour_add, self,
                             cancellable, callback, user_data);
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
  g_task_return_pointer (task, vm_ref (vm), (GDestroyNotify) vm_unref);
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
  g_task_set_task_data (task, vm, (GDestroyNotify) vm_unref);

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

/* Ends a console stream that ended or is no longer wanted: both calls reach
 * the daemon. */
static void
stream_abort_job (GTask         *task,
                  virConnectPtr  conn,
                  gpointer       job_data)
{
  virStreamPtr stream = job_data;

  virStreamAbort (stream);
  virStreamFree (stream);
  g_task_return_boolean (task, TRUE);
}

/* Stops copying the serial log; its stream is ended on the worker (or
 * freed here when the connection is already closed). */
static void
vm_release_console (HolderVm *vm)
{
  virStreamPtr stream;

  if (vm->console == NULL)
    return;
  stream = holder_libvirt_console_steal_stream (vm->console);
  if (stream != NULL && vm->backend != NULL)
    {
      g_autoptr(GTask) task = g_task_new (NULL, NULL, NULL, NULL);

      holder_libvirt_worker_push (vm->backend->worker, task, stream_abort_job, stream, NULL);
    }
  else if (stream != NULL)
    virStreamFree (stream);
}


/* Main context: the domain's console ended (it stopped). */
static void
on_console_ended (HolderLibvirtConsole *console,
                  gpointer              user_data)
{
  HolderVm *vm = user_data;

  vm_release_console (vm);
  /* A stop waits for the end of the log before it completes. */
  if (vm->state == VM_STOPPED && vm->stop_task != NULL)
    stop_complete (vm, NULL);
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
      stop_complete (vm, NULL);
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
  g_task_set_task_data (task, vm_ref (vm), (GDestroyNotify) vm_unref);
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
  vm_release_console (vm);
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
  neighbour_add (vm->spec->name, vm->reservation, self);
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

/* The domain stopped, or is being stopped: a wait in flight ends. */
static void
wait_abort (HolderVm *vm,
            GError   *error)
{
  if (holder_guest_wait_is_pending (vm->wait))
    holder_guest_wait_abort (vm->wait, error);
  else
    g_error_free (error);
}

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

/* ---- stop ------------------------------------------------------------------------- */

typedef enum {
  DOMAIN_SHUTDOWN,
  DOMAIN_DESTROY,
} DomainAction;

typedef struct {
  char         *name;
  char         *uuid;
  DomainAction  action;
} DomainJob;

static void
domain_job_free (DomainJob *job)
{
  g_free (job->name);
  g_free (job->uuid);
  g_free (job);
}

/* Returns 1 when the domain is already gone, 0 when the request was made. */
static void
domain_job (GTask         *task,
            virConnectPtr  conn,
            gpointer       job_data)
{
  DomainJob *job = job_data;
  virDomainPtr domain = virDomainLookupByUUIDString (conn, job->uuid);
  int rc;

  if (domain == NULL)
    {
      if (holder_libvirt_error_code () == VIR_ERR_NO_DOMAIN)
        g_task_return_int (task, 1);
      else
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                 "look up libvirt domain %s: %s", job->name,
                                 holder_libvirt_error_message ());
      return;
    }
  if (job->action == DOMAIN_SHUTDOWN)
    rc = virDomainShutdownFlags (domain, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN);
  else
    rc = virDomainDestroy (domain);
  if (rc == 0)
    g_task_return_int (task, 0);
  else if (holder_libvirt_error_code () == VIR_ERR_NO_DOMAIN ||
           holder_libvirt_error_code () == VIR_ERR_OPERATION_INVALID)
    g_task_return_int (task, 1); /* "domain is not running" */
  else
    g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s libvirt domain %s: %s",
                             job->action == DOMAIN_SHUTDOWN ? "press the power button of"
                                                            : "destroy",
                             job->name, holder_libvirt_error_message ());
  virDomainFree (domain);
}

static void stop_destroy (HolderVm *vm);

static void
stop_complete (HolderVm *vm,
               GError   *error)
{
  GTask *task = g_steal_pointer (&vm->stop_task);

  if (vm->stop_timer != NULL)
    {
      g_source_destroy (vm->stop_timer);
      g_clear_pointer (&vm->stop_timer, g_source_unref);
    }
  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
stop_set_timer (HolderVm    *vm,
                guint        ms,
                GSourceFunc  func)
{
  if (vm->stop_timer != NULL)
    {
      g_source_destroy (vm->stop_timer);
      g_source_unref (vm->stop_timer);
    }
  vm->stop_timer = g_timeout_source_new (ms);
  g_source_set_callback (vm->stop_timer, func, vm, NULL);
  g_source_attach (vm->stop_timer, g_main_context_get_thread_default ());
}

static gboolean
on_console_drain_timeout (gpointer user_data)
{
  HolderVm *vm = user_data;

  g_clear_pointer (&vm->stop_timer, g_source_unref);
  g_debug ("%s: the console did not end after the domain", vm->domain_name);
  vm_release_console (vm);
  stop_complete (vm, NULL);
  return G_SOURCE_REMOVE;
}

/* The domain is gone, by the event (or a lookup that finds nothing). */
static void
vm_stopped (HolderVm   *vm,
            const char *message)
{
  VmState was = vm->state;

  if (was == VM_STOPPED || was == VM_CREATED)
    return;
  vm->state = VM_STOPPED;
  if (vm->backend != NULL && vm->uuid != NULL)
    g_hash_table_remove (vm->backend->vms, vm->uuid);
  /* Nothing answers at its address any more. */
  if (vm->backend != NULL)
    neighbour_remove (vm->backend, vm->spec->name, vm->reservation->ip);
  if (vm->exit_message == NULL)
    vm->exit_message = g_strdup (message);

  if (was == VM_STOPPING)
    {
      /* The guest's last words (the power button seen, ...) may still be
       * on their way: the stop completes with the end of the log. */
      if (vm->console != NULL && !holder_libvirt_console_has_ended (vm->console))
        stop_set_timer (vm, STOP_CONSOLE_DRAIN_MS, on_console_drain_timeout);
      else
        stop_complete (vm, NULL);
      return;
    }
  wait_abort (vm, g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s", message));
  /* A start still in flight reports it itself (on_started). */
  if (was == VM_RUNNING && vm->backend != NULL)
    {
      const HolderBackendHost *host = vm->backend->parent.host;

      if (host->vm_exited != NULL)
        host->vm_exited (vm, message, host->user_data);
    }
}

static gboolean
on_destroy_event_timeout (gpointer user_data)
{
  HolderVm *vm = user_data;

  g_clear_pointer (&vm->stop_timer, g_source_unref);
  /* The destroy succeeded but no STOPPED event came (a lost connection):
   * the domain is gone all the same. */
  g_warning ("%s: destroyed, but no lifecycle event came", vm->domain_name);
  vm_stopped (vm, "destroyed");
  return G_SOURCE_REMOVE;
}

static void
on_domain_job (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(HolderVm) vm = user_data;
  g_autoptr(GError) error = NULL;
  gssize gone = g_task_propagate_int (G_TASK (result), &error);
  gboolean destroy = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (result), "destroy"));

  if (vm->state != VM_STOPPING)
    return; /* the event came first */
  if (gone < 0)
    {
      if (destroy)
        {
          stop_complete (vm, g_steal_pointer (&error));
          return;
        }
      g_debug ("%s", error->message);
      stop_destroy (vm);
      return;
    }
  if (gone == 1)
    {
      vm_stopped (vm, "stopped");
      return;
    }
  if (destroy)
    stop_set_timer (vm, STOP_DESTROY_EVENT_MS, on_destroy_event_timeout);
}

static void
push_domain_job (HolderVm     *vm,
                 DomainAction  action)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, on_domain_job, vm_ref (vm));
  DomainJob *job = g_new0 (DomainJob, 1);

  g_object_set_data (G_OBJECT (task), "destroy", GINT_TO_POINTER (action == DOMAIN_DESTROY));
  job->name = g_strdup (vm->domain_name);
  job->uuid = g_strdup (vm->uuid);
  job->action = action;
  holder_libvirt_worker_push (vm->backend->worker, task, domain_job, job,
                              (GDestroyNotify) domain_job_free);
}

static void
stop_destroy (HolderVm *vm)
{
  if (vm->destroying)
    return;
  vm->destroying = TRUE;
  if (vm->stop_timer != NULL)
    {
      g_source_destroy (vm->stop_timer);
      g_clear_pointer (&vm->stop_timer, g_source_unref);
    }
  push_domain_job (vm, DOMAIN_DESTROY);
}

static gboolean
on_power_button_timeout (gpointer user_data)
{
  HolderVm *vm = user_data;

  g_clear_pointer (&vm->stop_timer, g_source_unref);
  g_debug ("%s: no power-off after the power button; destroying", vm->domain_name);
  stop_destroy (vm);
  return G_SOURCE_REMOVE;
}

static void
libvirt_stop_vm_async (HolderBackend       *backend,
                       HolderVm            *vm,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "libvirt_stop_vm_async");
  g_task_set_check_cancellable (task, FALSE);
  if (vm->state == VM_CREATED || vm->state == VM_STOPPED || vm->backend == NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (vm->stop_task != NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "%s is already stopping", vm->domain_name);
      return;
    }
  wait_abort (vm, g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "the domain is being stopped"));
  vm->stop_task = g_steal_pointer (&task);
  g_task_set_task_data (vm->stop_task, vm_ref (vm), (GDestroyNotify) vm_unref);

  /* A start in flight: the domain may not exist yet, and a guest that
   * never came up would not honour the button anyway. The destroy job
   * runs after the start job (the queue is in order). */
  if (vm->state == VM_STARTING || !holder_guest_wait_reached (vm->wait))
    {
      vm->state = VM_STOPPING;
      stop_destroy (vm);
      return;
    }
  vm->state = VM_STOPPING;
  push_domain_job (vm, DOMAIN_SHUTDOWN);
  stop_set_timer (vm, STOP_POWER_BUTTON_MS, on_power_button_timeout);
}

static void
libvirt_vm_free (HolderBackend *backend,
                 HolderVm      *vm)
{
  if (vm == NULL)
    return;
  if (vm->backend != NULL && vm->uuid != NULL && vm->state != VM_STOPPED)
    g_hash_table_remove (vm->backend->vms, vm->uuid);
  vm_release_console (vm);
  vm->backend = NULL;
  vm_unref (vm);
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
  .reconcile_async = libvirt_reconcile_async,
  .reconcile_finish = holder_backend_task_finish_boolean,
  .create_network_async = libvirt_create_network_async,
  .create_network_finish = holder_backend_task_finish_string,
  .close_network_async = libvirt_close_network_async,
  .close_network_finish = holder_backend_task_finish_boolean,
  .reserve_async = libvirt_reserve_async,
  .reserve_finish = holder_backend_task_finish_reservation,
  .create_vm_async = libvirt_create_vm_async,
  .create_vm_finish = holder_backend_task_finish_vm,
  .start_vm_async = libvirt_start_vm_async,
  .start_vm_finish = holder_backend_task_finish_boolean,
  .wait_ip_async = libvirt_wait_ip_async,
  .wait_ip_finish = holder_backend_task_finish_string,
  .stop_vm_async = libvirt_stop_vm_async,
  .stop_vm_finish = holder_backend_task_finish_boolean,
  .vm_free = libvirt_vm_free,
  .check_host = holder_libvirt_check_host,
  .describe_ready = libvirt_describe_ready,
};

HOLDER_BACKEND_DEFINE_MODULE (holder_backend_libvirt_class)
