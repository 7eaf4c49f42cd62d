/* SPDX-License-Identifier: MIT
 *
 * The cloud-hypervisor backend's two halves: holder-backend-ch.c (the class,
 * its VMs) calls holder-ch-network.c (the cluster network, on a worker of
 * its own), never the other way.
 */
#pragma once

#include "holder-backend.h"
#include "holder-linux-net.h"
#include "holder-linux-worker.h"

G_BEGIN_DECLS

typedef struct {
  HolderBackend      parent;
  /* Network jobs run here, one at a time, off the main loop. */
  HolderLinuxWorker *net_worker;
  /* From create_network until close_network. Jobs add and remove its
   * taps and neighbour entries; the main thread only reads what never
   * changes after create (subnet, bridge, addresses). */
  HolderLinuxNet    *net;
  /* The cached binary's verified, sealed copy (-1 until made): it cannot
   * change, so every VMM of this helper runs it. */
  int                binary_fd;
  /* member -> ReadyTap: taps made when members are reserved
   * (holder-ch-network.c) */
  GHashTable        *ready_taps;
  /* Taps whose link is being deleted off the worker (holder-ch-network.c),
   * and a close waiting for them. */
  guint              tap_deletions;
  GTask             *close_waiting;
  /* create_vm tasks waiting for the download or verification in flight */
  GPtrArray         *binary_waiters;
  gboolean           binary_downloading;
} HolderBackendCh;

/* The vtable's network slots. */
void ch_reconcile_async (HolderBackend        *backend,
                         HolderReconcileFlags  flags,
                         GCancellable         *cancellable,
                         GAsyncReadyCallback   callback,
                         gpointer              user_data);
void ch_create_network_async (HolderBackend       *backend,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data);
void ch_close_network_async (HolderBackend       *backend,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data);
void ch_reserve_async (HolderBackend       *backend,
                       const char          *name,
                       const char          *ip_hint,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data);

/* A tap on the bridge for @member: the one made when it was reserved
 * (ch_prepare_tap), else a new one, made on the network's worker; its
 * name. */
void holder_ch_network_add_tap_async (HolderBackendCh     *self,
                                      const char          *member,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);

/* The table of taps made ahead (self->ready_taps). */
GHashTable *ch_ready_taps_new (void);

/* Makes @member's tap ahead of its boot (once per member). */
void ch_prepare_tap (HolderBackendCh *self,
                     const char      *member);
char *holder_ch_network_add_tap_finish (GAsyncResult  *result,
                                        GError       **error);

/* Gives @tap back on the worker, before any later network job. */
void ch_remove_tap (HolderBackendCh *self,
                    const char      *tap);

/* Sets @member's permanent neighbour entry (@ip -> @mac) on the worker. */
void ch_set_neighbour (HolderBackendCh *self,
                       const char      *member,
                       const char      *ip,
                       const char      *mac);

G_END_DECLS
