/* SPDX-License-Identifier: MIT
 *
 * Bound mode: the control socket with its bind handshake and death watch,
 * and the parent watch. Either one ends the helper through
 * holder_server_shutdown().
 */
#pragma once

#include <glib.h>

#include "holder-store-fs-private.h"

G_BEGIN_DECLS

/* The bind handshake must finish within this. */
#define HOLDER_LIFETIME_HANDSHAKE_TIMEOUT_SECONDS 10

typedef struct _HolderLifetime HolderLifetime;

/* The bound client is gone (@reason says how): the helper must end. */
typedef void (*HolderLifetimeGoneFunc) (const char *reason,
                                        gpointer    user_data);

/* Takes the control socket's lock and listens on
 * <root>/run/<h(primary)>.ctl (holder-store-claim-private.h) and, when
 * @parent_pid > 0, watches that process. Calls @on_gone, from the main
 * context, when an acked control connection reads EOF or the parent
 * exits. */
HolderLifetime *holder_lifetime_new (HolderStoreDir          *store,
                                     const char              *primary,
                                     GPid                     parent_pid,
                                     HolderLifetimeGoneFunc   on_gone,
                                     gpointer                 user_data,
                                     GError                 **error);

/* Stops listening, drops every control connection, removes the control
 * socket and releases its lock. Never calls on_gone. */
void holder_lifetime_free (HolderLifetime *lifetime);

G_END_DECLS
