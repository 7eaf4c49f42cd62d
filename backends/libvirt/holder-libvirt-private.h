/* SPDX-License-Identifier: MIT
 *
 * The libvirt backend's parts (holder-backend-libvirt.c for the overview):
 *
 *   holder-backend-libvirt.c    new/free, libvirt's events, create, start,
 *                               the wait for the IP, the class
 *   holder-libvirt-stop.c       stopping a domain, and a domain that stopped
 *   holder-libvirt-network.c    the NAT network, reservations, neighbour
 *                               entries
 *   holder-libvirt-reconcile.c  what dead helpers left
 *   holder-libvirt-vm.c         a VM's references
 *
 * Calls run down that list only.
 */
#pragma once

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

G_BEGIN_DECLS

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

HolderVm *holder_libvirt_vm_ref (HolderVm *vm);
void holder_libvirt_vm_unref (HolderVm *vm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderVm, holder_libvirt_vm_unref)

/* holder-libvirt-reconcile.c */
typedef struct _HolderLibvirtReconcile HolderLibvirtReconcile;

/* On the worker: destroys the domains, then the networks, whose owner is
 * dead (never @owner's); @job (nullable) collects what went, and with its
 * dry run set, nothing goes. */
gboolean holder_libvirt_reconcile_run (virConnectPtr              conn,
                                       const HolderLibvirtOwner  *owner,
                                       HolderLibvirtReconcile    *job,
                                       GError                   **error);
void holder_libvirt_reconcile_async (HolderBackend        *backend,
                                     HolderReconcileFlags  flags,
                                     GCancellable         *cancellable,
                                     GAsyncReadyCallback   callback,
                                     gpointer              user_data);

/* holder-libvirt-network.c */
void holder_libvirt_create_network_async (HolderBackend       *backend,
                                          GCancellable        *cancellable,
                                          GAsyncReadyCallback  callback,
                                          gpointer             user_data);
void holder_libvirt_close_network_async (HolderBackend       *backend,
                                         GCancellable        *cancellable,
                                         GAsyncReadyCallback  callback,
                                         gpointer             user_data);
void holder_libvirt_reserve_async (HolderBackend       *backend,
                                   const char          *name,
                                   const char          *ip_hint,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
void holder_libvirt_neighbour_add (const char              *name,
                                   const HolderReservation *reservation,
                                   gpointer                 user_data);
void holder_libvirt_neighbour_remove (HolderBackendLibvirt *self,
                                      const char           *name,
                                      const char           *ip);

/* holder-libvirt-stop.c */
void holder_libvirt_wait_abort (HolderVm *vm,
                                GError   *error);
void holder_libvirt_vm_release_console (HolderVm *vm);
/* The domain is gone (an event, or found gone): ends a stop in flight, or
 * turns a member that stopped on its own to `error` with @message. */
void holder_libvirt_vm_stopped (HolderVm   *vm,
                                const char *message);
void holder_libvirt_stop_complete (HolderVm *vm,
                                   GError   *error);
void holder_libvirt_stop_vm_async (HolderBackend       *backend,
                                   HolderVm            *vm,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
void holder_libvirt_vm_free (HolderBackend *backend,
                             HolderVm      *vm);

G_END_DECLS
