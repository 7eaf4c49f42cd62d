/* SPDX-License-Identifier: MIT
 *
 * The bridge from the shim's threads to the holder's main context.
 * Virtualization.framework calls back on each VM's dispatch queue (and,
 * inside a dispatch_sync, on the caller's own thread); holder keeps every
 * piece of state on one GMainContext with no locks. So an event is copied
 * and queued to that context, and handled there, in order, never inside
 * the call that produced it.
 */
#pragma once

#include <glib.h>

#include "holder-vz-shim.h"

G_BEGIN_DECLS

typedef struct _HolderVzEventBridge HolderVzEventBridge;

/* Runs on the bridge's context. @message may be NULL. */
typedef void (*HolderVzEventHandler) (HolderVzShimEventKind  kind,
                                      int                    raw_state,
                                      const char            *message,
                                      gpointer               user_data);

/* Delivers to @handler on @context (a reference is taken). */
HolderVzEventBridge *holder_vz_event_bridge_new   (GMainContext         *context,
                                                   HolderVzEventHandler  handler,
                                                   gpointer              user_data);
/* Thread-safe, never blocks: a HolderVzShimEventFunc, with the bridge as
 * its user data. */
void                 holder_vz_event_bridge_post  (void                 *bridge,
                                                   int                   kind,
                                                   int                   raw_state,
                                                   const char           *errmsg);
/* On the bridge's context: no handler runs after this; events still
 * queued are dropped. Releases the caller's reference. */
void                 holder_vz_event_bridge_close (HolderVzEventBridge  *bridge);

G_END_DECLS
