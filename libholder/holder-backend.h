/* holder-backend.h: the backend API of libholder.
 *
 * SPDX-License-Identifier: MIT
 *
 * This is the one header a backend includes: everything a backend may use
 * of libholder is declared here or in the headers it includes (types,
 * errors, store paths). A backend is a loadable module, built against this
 * installed header and `pkg-config holder`, that exports one entry point
 * (HOLDER_BACKEND_DEFINE_MODULE) returning its HolderBackendClass with the
 * ABI version it was built for. The loader refuses a module built for
 * another ABI. See docs/architecture.md, "Backends", and
 * examples/backend-example/ for a complete out-of-tree backend.
 */
#pragma once

#ifndef __HOLDER_H_INSIDE__
#define __HOLDER_BACKEND_H_DEFINED_INSIDE__
#define __HOLDER_H_INSIDE__
#endif

#include <gio/gio.h>
#include <gmodule.h>

#include "holder-version.h"
#include "holder-export.h"
#include "holder-error.h"
#include "holder-types.h"
#include "holder-store.h"

G_BEGIN_DECLS

/**
 * SECTION:holder-backend
 * @title: The backend API
 * @short_description: what a VM backend implements, and what libholder offers it
 * @include: holder-backend.h
 *
 * A backend is a loadable module, built against this header and
 * `pkg-config holder`, that exports one entry point
 * (HOLDER_BACKEND_DEFINE_MODULE()) returning its #HolderBackendClass with
 * the ABI version it was built for (%HOLDER_BACKEND_ABI_VERSION, in
 * holder-version.h). The loader refuses a module built for another ABI.
 * See docs/architecture.md, "Backends", and examples/backend-example/ for
 * a complete out-of-tree backend.
 *
 * Tools reach backends through the same API: holder_backend_list(),
 * holder_backend_lookup(), holder_backend_reconcile() (`holderctl
 * prune`) and each class's check_host (`holderctl doctor`).
 */

/**
 * HOLDER_BACKEND_DIR_NAME:
 *
 * The folder of installed modules below $libdir (see holder.pc's
 * backenddir).
 */
#define HOLDER_BACKEND_DIR_NAME "holder-1/backends"

typedef struct _HolderBackend HolderBackend;
typedef struct _HolderBackendClass HolderBackendClass;
typedef struct _HolderBackendHost HolderBackendHost;

/**
 * HolderVm:
 *
 * A VM, as the backend sees it; its layout is the backend's business.
 */
typedef struct _HolderVm HolderVm;

/**
 * HolderBackendCaps:
 * @HOLDER_BACKEND_CAP_NONE: nothing special
 * @HOLDER_BACKEND_CAP_CLUSTERING: the members of one helper reach each other
 * @HOLDER_BACKEND_CAP_NESTED_VIRT: guests may run VMs themselves
 * @HOLDER_BACKEND_CAP_NO_HOST_STATE: leaves nothing on the host that
 *   outlives the helper: reconcile is never called (the fake)
 * @HOLDER_BACKEND_CAP_NO_GUEST: the backend boots no guest and opens none
 *   of the spec's files (the fake): boot-member does not check the spec's
 *   files and sizing before calling it
 *
 * What a backend offers, in #HolderBackendClass.caps.
 */
typedef enum {
  HOLDER_BACKEND_CAP_NONE          = 0,
  HOLDER_BACKEND_CAP_CLUSTERING    = 1 << 0,
  HOLDER_BACKEND_CAP_NESTED_VIRT   = 1 << 1,
  HOLDER_BACKEND_CAP_NO_HOST_STATE = 1 << 2,
  HOLDER_BACKEND_CAP_NO_GUEST      = 1 << 3,
} HolderBackendCaps;

/**
 * HolderReconcileFlags:
 * @HOLDER_RECONCILE_FLAGS_NONE: reclaim what dead helpers left
 * @HOLDER_RECONCILE_FLAGS_DRY_RUN: change nothing; report what would go
 *
 * How a backend's reconcile runs.
 */
typedef enum {
  HOLDER_RECONCILE_FLAGS_NONE    = 0,
  HOLDER_RECONCILE_FLAGS_DRY_RUN = 1 << 0,
} HolderReconcileFlags;

/**
 * HolderBackendHost:
 * @storage_root: the helper's storage root (for caches and records)
 * @vm_exited: the VM stopped on its own (not through @stop_vm_async); the
 *   member goes to `error` with @message
 * @member_progress: the member entered @state while its VM is being made
 *   (for example `downloading` while a VMM binary is fetched)
 * @reclaimed: reconcile removed (or, in a dry run, would remove) a piece of
 *   host state of a dead helper: @kind is one word ("link", "table",
 *   "record", "process", "domain", "network", "file", "forwarding"), @what
 *   names it. May be NULL: the backend then reports nothing.
 * @user_data: passed to the callbacks
 *
 * What libholder offers a backend instance. libholder allocates it and
 * keeps it alive for the instance's life; a backend only reads it.
 * Callbacks run on the main context.
 */
struct _HolderBackendHost {
  const char *storage_root;
  void (*vm_exited)       (HolderVm          *vm,
                           const char        *message,
                           gpointer           user_data);
  void (*member_progress) (const char        *name,
                           HolderMemberState  state,
                           gpointer           user_data);
  void (*reclaimed)       (const char        *kind,
                           const char        *what,
                           gpointer           user_data);
  gpointer user_data;

  /*< private >*/
  gpointer padding[8];
};

/**
 * HolderBackend:
 * @klass: the backend's class
 * @host: what libholder offers this instance
 *
 * Every backend instance starts with this; the rest is the backend's.
 */
struct _HolderBackend {
  const HolderBackendClass *klass;
  const HolderBackendHost  *host;
};

/**
 * HolderHostCheck:
 * @name: what was checked ("KVM", "CAP_NET_ADMIN", ...)
 * @ok: whether this host passes it
 * @detail: what was found ("/dev/kvm answers", "cloud-hypervisor v52.0")
 * @fix: (nullable): what to do when it fails
 * @required: whether the backend cannot boot without it
 *
 * One line of `holderctl doctor`, made by a backend's @check_host.
 */
typedef struct {
  char     *name;
  gboolean  ok;
  char     *detail;
  char     *fix;
  gboolean  required;
} HolderHostCheck;

/**
 * holder_host_check_new:
 * @name: what was checked
 * @ok: whether this host passes it
 * @required: whether the backend cannot boot without it
 * @detail: (nullable): what was found
 * @fix: (nullable): what to do when it fails (dropped when @ok)
 *
 * Makes one line of `holderctl doctor`.
 *
 * Returns: (transfer full): a check, for a check_host's array
 */
HOLDER_EXPORT
HolderHostCheck *holder_host_check_new (const char *name,
                                        gboolean    ok,
                                        gboolean    required,
                                        const char *detail,
                                        const char *fix);

/**
 * holder_host_check_free:
 * @check: (nullable): a check
 *
 * Frees @check.
 */
HOLDER_EXPORT
void holder_host_check_free (HolderHostCheck *check);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderHostCheck, holder_host_check_free)

/**
 * HolderBackendClass:
 * @name: the FLEETBOX_BACKEND value that selects it; also the module's file
 *   name without its suffix
 * @caps: what it offers (#HolderBackendCaps)
 * @new: makes an instance (embedding #HolderBackend first, with klass and
 *   host set) or fails with a message that says what to do; runs at helper
 *   start-up: check here what the backend cannot work without
 * @free: frees an instance
 * @reconcile_async: reclaims host state left by helpers that died without
 *   tearing down, reporting each piece through host->reclaimed; with
 *   %HOLDER_RECONCILE_FLAGS_DRY_RUN changes nothing and reports what it
 *   would remove; a no-op for backends that own no host state
 * @reconcile_finish: its result
 * @create_network_async: creates the cluster network, at most once per
 *   instance
 * @create_network_finish: the subnet in CIDR form, or "" on a DHCP-style
 *   backend
 * @close_network_async: releases the network, once, after every VM stopped
 * @close_network_finish: its result
 * @reserve_async: reserves an address and MAC for a name, at most once per
 *   name (the server remembers reservations); the hint may be %NULL
 * @reserve_finish: the #HolderReservation
 * @create_vm_async: prepares a VM for a spec on the network with the
 *   reservation's MAC and IP; nothing runs yet
 * @create_vm_finish: the #HolderVm
 * @start_vm_async: starts the VM
 * @start_vm_finish: its result
 * @wait_ip_async: waits until the guest is reachable; the server bounds it
 *   (FLEETBOX_IP_WAIT_TIMEOUT) by cancelling, and the backend fails at once
 *   if the VM dies meanwhile
 * @wait_ip_finish: the guest's IPv4 address
 * @stop_vm_async: stops the VM, gracefully first, and releases what it
 *   holds; safe on a VM never started or already dead; bounded in time by
 *   the backend (25 s at most)
 * @stop_vm_finish: its result
 * @vm_free: frees the handle of a VM that is stopped (or never started)
 * @check_host: (nullable): checks what this host offers the backend, for
 *   `holderctl doctor`: appends one #HolderHostCheck per check, each failed
 *   one with its fix, and returns %TRUE when the backend can boot VMs here
 * @describe_ready: (nullable): what "up" means for a VM and where to look
 *   when it is not ("TCP port 22 at 192.168.0.2; console log: /path"); the
 *   server appends it to the message of an IP wait that timed out
 *
 * A backend: a `const` struct of function pointers filled with designated
 * initialisers in the backend's own file. libholder creates one instance
 * per helper process with @new and drives it from the main loop only.
 *
 * Every slow operation is an `_async`/`_finish` pair (GTask conventions)
 * and must never block the main loop. A backend that wraps a blocking
 * library runs it on a worker thread of its own and completes the GTask on
 * the main context. Cancelling @cancellable must end an operation promptly
 * with G_IO_ERROR_CANCELLED. The holder_backend_task_finish_*() functions
 * below fit every `_finish` slot of a backend whose `_async` half completes
 * a GTask.
 *
 * Error messages are the backend's own words, without the member name or
 * the operation: the server adds `create <name>: ` and so on.
 */
struct _HolderBackendClass {
  /* The FLEETBOX_BACKEND value that selects it; also the module's file
   * name without its suffix. */
  const char        *name;
  HolderBackendCaps  caps;

  /* Makes an instance (embedding HolderBackend first, with klass and host
   * set) or fails with a message that says what to do. Runs at helper
   * start-up: check here what the backend cannot work without. */
  HolderBackend *(*new)  (const HolderBackendClass *klass,
                          const HolderBackendHost  *host,
                          GError                  **error);
  void           (*free) (HolderBackend *self);

  /* Reclaims host state left by helpers that died without tearing down,
   * reporting each piece through host->reclaimed. With
   * HOLDER_RECONCILE_FLAGS_DRY_RUN, changes nothing and reports what it
   * would remove. A no-op for backends that own no host state. */
  void     (*reconcile_async)  (HolderBackend        *self,
                                HolderReconcileFlags  flags,
                                GCancellable         *cancellable,
                                GAsyncReadyCallback   callback,
                                gpointer              user_data);
  gboolean (*reconcile_finish) (HolderBackend  *self,
                                GAsyncResult   *result,
                                GError        **error);

  /* Creates the cluster network, called at most once per instance. Returns
   * the subnet in CIDR form, or "" on a DHCP-style backend. */
  void   (*create_network_async)  (HolderBackend       *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
  char  *(*create_network_finish) (HolderBackend  *self,
                                   GAsyncResult   *result,
                                   GError        **error);

  /* Releases the network, called once, after every VM has stopped. */
  void     (*close_network_async)  (HolderBackend       *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
  gboolean (*close_network_finish) (HolderBackend  *self,
                                    GAsyncResult   *result,
                                    GError        **error);

  /* Reserves an address and MAC for @name. Called at most once per name:
   * the server remembers reservations. @ip_hint may be NULL. */
  void               (*reserve_async)  (HolderBackend       *self,
                                        const char          *name,
                                        const char          *ip_hint,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data);
  HolderReservation *(*reserve_finish) (HolderBackend  *self,
                                        GAsyncResult   *result,
                                        GError        **error);

  /* Prepares a VM for @spec on the network with @reservation's MAC and IP.
   * Nothing runs yet. */
  void      (*create_vm_async)  (HolderBackend           *self,
                                 const HolderMemberSpec  *spec,
                                 const HolderReservation *reservation,
                                 GCancellable            *cancellable,
                                 GAsyncReadyCallback      callback,
                                 gpointer                 user_data);
  HolderVm *(*create_vm_finish) (HolderBackend  *self,
                                 GAsyncResult   *result,
                                 GError        **error);

  /* Starts the VM. */
  void     (*start_vm_async)  (HolderBackend       *self,
                               HolderVm            *vm,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data);
  gboolean (*start_vm_finish) (HolderBackend  *self,
                               GAsyncResult   *result,
                               GError        **error);

  /* Waits until the guest is reachable and returns its IPv4 address. The
   * server bounds it (FLEETBOX_IP_WAIT_TIMEOUT) by cancelling
   * @cancellable; the backend fails at once if the VM dies meanwhile. */
  void  (*wait_ip_async)  (HolderBackend       *self,
                           HolderVm            *vm,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data);
  char *(*wait_ip_finish) (HolderBackend  *self,
                           GAsyncResult   *result,
                           GError        **error);

  /* Stops the VM, gracefully first, and releases what it holds (taps,
   * sockets). Must be safe on a VM that was created but never started, or
   * that already died; bounded in time by the backend (25 s at most). */
  void     (*stop_vm_async)  (HolderBackend       *self,
                              HolderVm            *vm,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data);
  gboolean (*stop_vm_finish) (HolderBackend  *self,
                              GAsyncResult   *result,
                              GError        **error);

  /* Frees the handle of a VM that is stopped (or never started). */
  void (*vm_free) (HolderBackend *self,
                   HolderVm      *vm);

  /* Nullable. Checks what this host offers the backend, appending one
   * HolderHostCheck per check to @checks (of HolderHostCheck, owning),
   * each failed one with its fix. Returns TRUE when the backend can boot
   * VMs here. Synchronous and may take a moment (it is for operators'
   * tools such as `holderctl doctor`), never called by a serving helper. */
  gboolean (*check_host) (const HolderBackendClass *klass,
                          const char               *storage_root,
                          GPtrArray                *checks);

  /* Nullable. What "up" means for @vm and where to look when it is not:
   * for example "TCP port 22 at 192.168.0.2; console log: /path". The
   * server appends it to the message of an IP wait that timed out
   * ("timed out after 5m0s waiting for ..."). */
  char    *(*describe_ready) (HolderBackend *self,
                              HolderVm      *vm);

  /*< private >*/
  /* Room for new virtual methods: a module built against an older header
   * has NULL here, which libholder reads as "not implemented". */
  gpointer padding[15];
};

/**
 * HolderBackendModuleInfo:
 * @abi_version: HOLDER_BACKEND_ABI_VERSION of the header the module was
 *   built against
 * @klass: the backend
 *
 * What a module's entry point returns. Its first member never moves, so
 * the loader can read the ABI version of any module before anything else.
 */
typedef struct {
  guint32                   abi_version;
  const HolderBackendClass *klass;
} HolderBackendModuleInfo;

/**
 * HOLDER_BACKEND_MODULE_ENTRY:
 *
 * The one symbol a backend module exports (a
 * #HolderBackendModuleQueryFunc).
 */
#define HOLDER_BACKEND_MODULE_ENTRY "holder_backend_module_query"

/**
 * HolderBackendModuleQueryFunc:
 *
 * The type of a module's entry point, %HOLDER_BACKEND_MODULE_ENTRY.
 *
 * Returns: the module's backend and the ABI version it was built for
 */
typedef const HolderBackendModuleInfo *(*HolderBackendModuleQueryFunc) (void);

/**
 * HOLDER_BACKEND_DEFINE_MODULE:
 * @klass_var: the backend's `const HolderBackendClass` variable
 *
 * Defines the module's entry point, stamped with the ABI version of the
 * header it is compiled against. Put it once in a module, at file scope.
 */
#define HOLDER_BACKEND_DEFINE_MODULE(klass_var)                                  \
  G_MODULE_EXPORT const HolderBackendModuleInfo *holder_backend_module_query (void); \
  G_MODULE_EXPORT const HolderBackendModuleInfo *                                \
  holder_backend_module_query (void)                                             \
  {                                                                              \
    static const HolderBackendModuleInfo info = {                                \
      HOLDER_BACKEND_ABI_VERSION, &(klass_var),                                  \
    };                                                                           \
    return &info;                                                                \
  }

/* ---- what libholder offers backends -------------------------------------- */

/**
 * holder_backend_task_finish_boolean:
 * @self: the backend
 * @result: a #GTask (created with a %NULL source object)
 * @error: return location for a #GError
 *
 * The `_finish` half of an operation whose `_async` half completed a
 * GTask with a boolean: fit for the vtable's slots.
 *
 * Returns: the task's boolean
 */
HOLDER_EXPORT
gboolean           holder_backend_task_finish_boolean     (HolderBackend  *self,
                                                           GAsyncResult   *result,
                                                           GError        **error);

/**
 * holder_backend_task_finish_string:
 * @self: the backend
 * @result: a #GTask (created with a %NULL source object)
 * @error: return location for a #GError
 *
 * The same for a task that returned a string.
 *
 * Returns: (transfer full) (nullable): the task's string
 */
HOLDER_EXPORT
char              *holder_backend_task_finish_string      (HolderBackend  *self,
                                                           GAsyncResult   *result,
                                                           GError        **error);

/**
 * holder_backend_task_finish_reservation:
 * @self: the backend
 * @result: a #GTask (created with a %NULL source object)
 * @error: return location for a #GError
 *
 * The same for a task that returned a #HolderReservation.
 *
 * Returns: (transfer full) (nullable): the task's reservation
 */
HOLDER_EXPORT
HolderReservation *holder_backend_task_finish_reservation (HolderBackend  *self,
                                                           GAsyncResult   *result,
                                                           GError        **error);

/**
 * holder_backend_task_finish_vm:
 * @self: the backend
 * @result: a #GTask (created with a %NULL source object)
 * @error: return location for a #GError
 *
 * The same for a task that returned a #HolderVm.
 *
 * Returns: (transfer full) (nullable): the task's VM
 */
HOLDER_EXPORT
HolderVm          *holder_backend_task_finish_vm          (HolderBackend  *self,
                                                           GAsyncResult   *result,
                                                           GError        **error);

/**
 * holder_backend_report_reclaimed:
 * @self: the backend
 * @kind: one word: "link", "table", "record", "process", "domain",
 *   "network", "file", "forwarding"
 * @what: what it names
 *
 * Reports one piece of reclaimed host state through host->reclaimed, if
 * the host listens.
 */
HOLDER_EXPORT
void holder_backend_report_reclaimed (HolderBackend *self,
                                      const char    *kind,
                                      const char    *what);

/**
 * HOLDER_BOOT_TRACE_DOMAIN:
 *
 * The log domain of the boot trace: `G_MESSAGES_DEBUG=holder-boot-trace`.
 */
#define HOLDER_BOOT_TRACE_DOMAIN "holder-boot-trace"

/**
 * holder_boot_trace:
 * @member: the member being booted
 * @step: the step just reached
 *
 * The boot trace: one debug line per step of a boot on the helper's side,
 * stamped with CLOCK_MONOTONIC (g_get_monotonic_time(), microseconds):
 * `boot-trace <usec> <member> <step>`, in the domain
 * %HOLDER_BOOT_TRACE_DOMAIN, so that only `G_MESSAGES_DEBUG=holder-boot-trace`
 * (or `all`) prints it. Off, a call costs one test of a flag read once.
 * Steps, in order: "request" (boot-member parsed), "tap" (the VM's link is
 * ready), "vmm-spawned", "api-answered", "vm-started", "port22" (the guest
 * accepted a connection), "reply" (the reply written).
 * bench/bench-boot-overhead reads them.
 */
HOLDER_EXPORT
void holder_boot_trace (const char *member,
                        const char *step);

/**
 * holder_duration_parse:
 * @text: a duration
 * @out_usec: (out): it in microseconds
 *
 * Parses a Go time.Duration string ("90s", "1h30m", "250ms", "1.5h",
 * "300us", "-1s", "0") into microseconds. The knobs of FLEETBOX_*
 * variables use this syntax.
 *
 * Returns: %FALSE on anything Go would refuse
 */
HOLDER_EXPORT
gboolean holder_duration_parse (const char *text,
                                gint64     *out_usec);

/**
 * holder_duration_format:
 * @usec: microseconds
 *
 * Formats microseconds like Go's Duration.String(): "5m0s", "1.5s".
 *
 * Returns: (transfer full): the duration
 */
HOLDER_EXPORT
char *holder_duration_format (gint64 usec);

/**
 * holder_file_replace_at:
 * @dir_fd: an open folder
 * @name: a file name in it (no '/')
 * @contents: (array length=len): what to write
 * @len: its length
 * @mode: the file's mode, exactly
 * @error: return location for a #GError
 *
 * Writes @contents to @name inside the open folder @dir_fd atomically: a
 * temporary file made with O_EXCL|O_NOFOLLOW in the same folder, fchmod
 * to exactly @mode, renamed over @name. A reader sees the old file or the
 * new one, never a part; a failure leaves no temporary file.
 *
 * Returns: whether the file was replaced
 */
HOLDER_EXPORT
gboolean holder_file_replace_at (int          dir_fd,
                                 const char  *name,
                                 const char  *contents,
                                 gsize        len,
                                 int          mode,
                                 GError     **error);

/**
 * holder_file_replace:
 * @path: the file
 * @contents: (array length=len): what to write
 * @len: its length
 * @mode: the file's mode, exactly
 * @error: return location for a #GError
 *
 * The same as holder_file_replace_at() for a path: its folder is opened
 * (O_DIRECTORY) and the file replaced inside it.
 *
 * Returns: whether the file was replaced
 */
HOLDER_EXPORT
gboolean holder_file_replace (const char  *path,
                              const char  *contents,
                              gsize        len,
                              int          mode,
                              GError     **error);

/* ---- operating backends from tools ---------------------------------------- */

/**
 * holder_backend_reconcile:
 * @klass: a backend
 * @root: the storage root
 * @flags: how to run it
 * @report: (nullable) (scope call): called for each piece reclaimed
 * @user_data: data for @report
 * @error: return location for a #GError
 *
 * Builds an instance of @klass for @root and runs its reconcile to the end
 * on a private main context (the calling thread blocks; for tools such as
 * `holderctl prune` and fleetbox-helper --fleetbox-reconcile). Each piece
 * of host state reclaimed (or, with %HOLDER_RECONCILE_FLAGS_DRY_RUN, that
 * would be) goes to @report as it does to host->reclaimed.
 *
 * Returns: whether the backend could be built and its reconcile succeeded
 */
HOLDER_EXPORT
gboolean holder_backend_reconcile (const HolderBackendClass *klass,
                                   const char               *root,
                                   HolderReconcileFlags      flags,
                                   HolderReclaimFunc         report,
                                   gpointer                  user_data,
                                   GError                  **error);

/**
 * holder_store_check_root:
 * @root: the storage root
 * @checks: (element-type HolderHostCheck): where to append the checks
 *
 * Appends what `holderctl doctor` checks of the storage root itself: that
 * this user can use it (required), its owner and its mode (warnings).
 *
 * Returns: %FALSE when no helper of this user could work in it
 */
HOLDER_EXPORT
gboolean holder_store_check_root (const char *root,
                                  GPtrArray  *checks);

/**
 * holder_store_open_folder:
 * @root: the storage root
 * @components: (array zero-terminated=1): the folders below it, one name
 *   each (`{ "bin", NULL }`)
 * @create: make missing folders (0755; as root working for a user, they
 *   are given to that user)
 * @error: return location for a #GError
 *
 * Opens a folder of the store the way the helper reaches every store path:
 * from the checked root, one folder at a time with
 * openat(O_NOFOLLOW|O_DIRECTORY), so a symbolic link planted in the store
 * cannot send a root helper elsewhere; as root, each folder must belong to
 * root or the user the helper works for and be writable by nobody else
 * (HOLDER_ERROR_UNSAFE_PATH says what to fix). Create, open and remove
 * files with the *at() calls from the returned descriptor.
 *
 * Returns: an O_DIRECTORY|O_CLOEXEC descriptor the caller closes, or -1
 */
HOLDER_EXPORT
int holder_store_open_folder (const char        *root,
                              const char *const *components,
                              gboolean           create,
                              GError           **error);

/**
 * holder_store_open_member_folder:
 * @root: the storage root
 * @name: a member name
 * @create: make the folder if missing
 * @error: return location for a #GError
 *
 * holder_store_open_folder() for @name's folder,
 * `clusters/<cluster>/<name>` (holder_store_member_dir()).
 *
 * Returns: an O_DIRECTORY|O_CLOEXEC descriptor the caller closes, or -1
 */
HOLDER_EXPORT
int holder_store_open_member_folder (const char *root,
                                     const char *name,
                                     gboolean    create,
                                     GError    **error);

/* ---- finding backends ----------------------------------------------------- */

/**
 * HolderBackendInfo:
 * @name: the backend's name
 * @path: (nullable): the module file, NULL for a backend built into
 *   libholder (the fake)
 * @loads: whether the module loads here (found, ABI and name match)
 * @error: (nullable): why it does not load
 *
 * A backend available here, as holder_backend_list() finds it.
 */
typedef struct {
  char     *name;
  char     *path;
  gboolean  loads;
  char     *error;
} HolderBackendInfo;

/**
 * holder_backend_info_free:
 * @info: (nullable): a backend's record
 *
 * Frees @info.
 */
HOLDER_EXPORT
void holder_backend_info_free (HolderBackendInfo *info);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderBackendInfo, holder_backend_info_free)

/**
 * holder_backend_lookup:
 * @name: a backend's name
 * @error: return location for a #GError
 *
 * The backend named @name: built in (fake) or loaded from its module, the
 * first time it is asked for, from the first folder of
 * holder_backend_get_search_path() that has it. HOLDER_ERROR_NO_BACKEND
 * names the folders searched and what is installed; a module built for
 * another ABI, or one that root may not trust (not owned by root, or
 * writable by others), is refused with a message naming the file.
 *
 * Returns: (transfer none) (nullable): the backend, loaded for good
 */
HOLDER_EXPORT
const HolderBackendClass *holder_backend_lookup (const char *name,
                                                 GError    **error);

/**
 * holder_backend_select_from_env:
 * @error: return location for a #GError
 *
 * FLEETBOX_BACKEND if set and non-empty, else the platform's real backend
 * (cloud-hypervisor on Linux, vz on macOS). The fake is never chosen
 * implicitly.
 *
 * Returns: (transfer none) (nullable): the backend
 */
HOLDER_EXPORT
const HolderBackendClass *holder_backend_select_from_env (GError **error);

/**
 * holder_backend_get_platform_default:
 *
 * The backend used when FLEETBOX_BACKEND is unset.
 *
 * Returns: (nullable): the platform's real backend ("cloud-hypervisor",
 *   "vz"), or %NULL
 */
HOLDER_EXPORT
const char *holder_backend_get_platform_default (void);

/**
 * holder_backend_get_search_path:
 *
 * Where modules are looked for, in order: FLEETBOX_BACKEND_DIR alone when
 * set; else the build tree's backends/ when this libholder runs
 * uninstalled, then $libdir/holder-1/backends.
 *
 * Returns: (transfer full): the folders
 */
HOLDER_EXPORT
GStrv holder_backend_get_search_path (void);

/**
 * holder_backend_list_names:
 *
 * The backends available here, by name.
 *
 * Returns: (transfer full): the names of every backend available here:
 *   "fake" first, then each module found on the search path (sorted, first
 *   folder wins)
 */
HOLDER_EXPORT
GStrv holder_backend_list_names (void);

/**
 * holder_backend_list:
 *
 * The same as holder_backend_list_names(), as records: each module is
 * loaded to tell whether it loads.
 *
 * Returns: (transfer full) (element-type HolderBackendInfo): the backends
 */
HOLDER_EXPORT
GPtrArray *holder_backend_list (void);

G_END_DECLS

#ifdef __HOLDER_BACKEND_H_DEFINED_INSIDE__
#undef __HOLDER_H_INSIDE__
#undef __HOLDER_BACKEND_H_DEFINED_INSIDE__
#endif
