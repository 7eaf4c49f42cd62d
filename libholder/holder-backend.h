/* SPDX-License-Identifier: MIT */
#pragma once

#if !defined(__HOLDER_H_INSIDE__) && !defined(HOLDER_COMPILATION)
#error "Only <holder.h> can be included directly."
#endif

#include <gio/gio.h>
#include "holder-export.h"
#include "holder-types.h"

G_BEGIN_DECLS

/**
 * SECTION:holder-backend
 *
 * A backend is a `const HolderBackendClass` of function pointers, filled with
 * designated initialisers in the backend's own file under backends/ and listed
 * once in backends/holder-backend-registry.c. The server creates one instance
 * per helper process with @new and drives it from the main loop only.
 *
 * Every slow operation is an `_async`/`_finish` pair (GTask conventions): it
 * must never block the main loop. A backend that wraps a blocking library runs
 * it on a worker thread of its own and completes the GTask on the main
 * context. @cancellable cancellation must end an operation promptly with
 * G_IO_ERROR_CANCELLED.
 *
 * Error messages are the backend's own words, without the member name or the
 * operation: the server adds `create <name>: ` and so on.
 */

typedef struct _HolderBackend HolderBackend;
typedef struct _HolderBackendClass HolderBackendClass;
typedef struct _HolderBackendHost HolderBackendHost;

/* A VM, as the backend sees it; its layout is the backend's business. */
typedef struct _HolderVm HolderVm;

typedef enum {
  HOLDER_BACKEND_CAP_NONE        = 0,
  HOLDER_BACKEND_CAP_CLUSTERING  = 1 << 0, /* members reach each other */
  HOLDER_BACKEND_CAP_NESTED_VIRT = 1 << 1, /* guests may run VMs */
} HolderBackendCaps;

/**
 * HolderBackendHost:
 * @storage_root: the helper's storage root (for caches and records)
 * @vm_exited: the VM stopped on its own (not through @stop_vm_async); the
 *   member goes to `error` with @message
 * @member_progress: the member entered @state while its VM is being made
 *   (for example `downloading` while a VMM binary is fetched)
 * @user_data: passed to the callbacks
 *
 * What the server offers the backend. Callbacks run on the main context.
 */
struct _HolderBackendHost {
  const char *storage_root;
  void (*vm_exited)       (HolderVm          *vm,
                           const char        *message,
                           gpointer           user_data);
  void (*member_progress) (const char        *name,
                           HolderMemberState  state,
                           gpointer           user_data);
  gpointer user_data;
};

/* Every backend instance starts with this. */
struct _HolderBackend {
  const HolderBackendClass *klass;
  const HolderBackendHost  *host;
};

struct _HolderBackendClass {
  /* The FLEETBOX_BACKEND value that selects it. */
  const char        *name;
  HolderBackendCaps  caps;

  /* Makes an instance (embedding HolderBackend first, with klass and host
   * set) or fails with a message that says what to do. */
  HolderBackend *(*new)  (const HolderBackendClass *klass,
                          const HolderBackendHost  *host,
                          GError                  **error);
  void           (*free) (HolderBackend *self);

  /* Reclaims host state left by helpers that died without tearing down.
   * A no-op for backends that own none. */
  void     (*reconcile_async)  (HolderBackend       *self,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data);
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
   * that already died; bounded in time by the backend (20 s at most). */
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
};

/* The backend registered under @name, or NULL with HOLDER_ERROR_NO_BACKEND
 * and a message listing the compiled-in backends. */
HOLDER_EXPORT
const HolderBackendClass *holder_backend_lookup (const char *name,
                                                 GError    **error);

/* FLEETBOX_BACKEND if set and non-empty, else the platform's real backend
 * (cloud-hypervisor on Linux). HOLDER_ERROR_NO_BACKEND when the helper was
 * built without it, with a message that says how to get one. */
HOLDER_EXPORT
const HolderBackendClass *holder_backend_select_from_env (GError **error);

/* NULL-terminated list of the compiled-in backends' names. */
HOLDER_EXPORT
const char *const *holder_backend_list_names (void);

G_END_DECLS
