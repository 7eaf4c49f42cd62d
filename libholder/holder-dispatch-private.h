/* SPDX-License-Identifier: MIT
 *
 * The commands of protocol v2 on a member's socket: status and stop act on
 * that member; createnetwork, reserve and boot-member on the whole helper.
 */
#pragma once

#include "holder-server-state-private.h"

G_BEGIN_DECLS

/* A HolderConnRequestFunc: @user_data is the HolderMember whose socket
 * carried the connection. Every path replies on @conn. */
void holder_dispatch_request (HolderConn *conn,
                              const char *line,
                              gsize       len,
                              gpointer    user_data);

G_END_DECLS
