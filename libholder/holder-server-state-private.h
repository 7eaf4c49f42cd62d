/* SPDX-License-Identifier: MIT
 *
 * The state one helper's server shares among its parts:
 *
 *   holder-server.c    life cycle: start, the backend's host, shutdown
 *   holder-dispatch.c  the commands of protocol v2
 *   holder-boot.c      a member's boot, step by step
 *   holder-member.c    members: registration, state, stop, retirement
 *   holder-conn.c      command connections (knows nothing of the above)
 *
 * Calls run down that list only. Where a lower part must tell a higher one
 * that something ended, it calls a function pointer of the server that
 * holder-server.c installed (holder_server_work_done()), as the listener
 * calls HolderListenerFunc.
 */
#pragma once

#include <gio/gio.h>

#include "holder-backend.h"
#include "holder-conn-private.h"
#include "holder-lifetime-private.h"
#include "holder-listener-private.h"
#include "holder-peer-private.h"
#include "holder-store-claim-private.h"

G_BEGIN_DECLS

typedef struct _HolderServer HolderServer;
typedef struct _HolderMember HolderMember;
typedef struct _HolderBoot HolderBoot;

struct _HolderMember {
  gint               ref_count;
  HolderServer      *server;
  char              *name;
  HolderMemberState  state;
  char              *ip;
  char              *error;
  /* Adopted VM: set once a boot succeeded, cleared when it is stopped. */
  HolderVm          *vm;
  /* The boot in flight, if any (it owns its VM until adoption), and its
   * cancellable, which a stop cancels. */
  HolderBoot        *boot;
  GCancellable      *boot_cancellable;
  gboolean           stopping;
  gboolean           retired;
  /* The member's lock, socket and pidfile in the store, and the listener
   * on that socket. */
  HolderStoreClaim  *claim;
  HolderListener    *listener;
};

typedef enum {
  NETWORK_NONE,
  NETWORK_CREATING,
  NETWORK_READY,
} HolderNetworkState;

struct _HolderServer {
  char                     *root;
  /* The storage root, opened and checked once (holder-store-fs-private.h). */
  HolderStoreDir           *store;
  char                    **names;
  const HolderBackendClass *backend_class;
  HolderBackend            *backend;
  HolderBackendHost         host;
  GMainContext             *context;

  GHashTable               *members;       /* name -> HolderMember */
  GHashTable               *reservations;  /* name -> HolderReservation */
  GHashTable               *reserving;     /* name -> GPtrArray of HolderConn */
  GHashTable               *connections;   /* set of HolderConn, open ones */
  HolderPeerTable          *peers;         /* open connections per peer uid */
  GList                    *boots;         /* HolderBoot in flight */

  HolderNetworkState        network_state;
  char                     *subnet;
  GPtrArray                *network_waiters; /* HolderConn */

  HolderLifetime           *lifetime;
  gboolean                  bound;
  GPid                      parent_pid;
  guint                     request_timeout_ms;

  gboolean                  started;
  gboolean                  shutting_down;
  gboolean                  finished;
  guint                     pending_stops;
  gboolean                  closing_network;
  /* The shutdown's progress is re-entered by the completions it causes. */
  gboolean                  continuing;
  gboolean                  continue_again;
  GSource                  *budget;
  GCancellable             *cancellable;

  /* Installed by holder-server.c. */
  void (*work_done)     (HolderServer *self);
  void (*accept_member) (HolderMember *member,
                         int           fd);
};

/* Work that the shutdown or the idle check waits for has ended (a boot, a
 * stop, a network call, a connection): advance the shutdown when one is
 * running, else end the helper if no member is active any more. */
static inline void
holder_server_work_done (HolderServer *self)
{
  self->work_done (self);
}

/* The cancellable of the network and reservation work, made on first use:
 * a helper that only answers status never makes a GObject. One made after
 * the shutdown began is cancelled at once, as a shared one would have
 * been. */
static inline GCancellable *
holder_server_get_cancellable (HolderServer *self)
{
  if (self->cancellable == NULL)
    {
      self->cancellable = g_cancellable_new ();
      if (self->shutting_down)
        g_cancellable_cancel (self->cancellable);
    }
  return self->cancellable;
}

G_END_DECLS
