/* SPDX-License-Identifier: MIT
 *
 * Bound mode: the control socket with its bind handshake and death watch,
 * and the parent watch. Either one ends the helper through
 * holder_server_shutdown().
 */
#pragma once

#include "holder-server-private.h"

G_BEGIN_DECLS

typedef struct _HolderLifetime HolderLifetime;

/* Listens on <root>/run/<h(primary)>.ctl and, when @parent_pid > 0, watches
 * that process. */
HolderLifetime *holder_lifetime_new (HolderServer *server,
                                     const char   *root,
                                     const char   *primary,
                                     GPid          parent_pid,
                                     GError      **error);

/* Stops listening, drops every control connection and removes the control
 * socket. Never triggers a shutdown. */
void holder_lifetime_free (HolderLifetime *lifetime);

G_END_DECLS
