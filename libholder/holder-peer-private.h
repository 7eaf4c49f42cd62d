/* SPDX-License-Identifier: MIT
 *
 * Who may command a helper: its own (effective) uid, root, and, when the
 * helper runs as root under sudo, the invoking user (SUDO_UID). Sockets are
 * connectable by anyone (mode 0666 when the helper is root, as the protocol
 * requires), so every connection is checked by its peer credentials.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* TRUE when the peer of the connected Unix socket @fd may issue commands.
 * @out_uid gets the peer's uid (or -1 when the credentials could not be
 * read, which denies). */
gboolean holder_peer_is_allowed (int     fd,
                                 gint64 *out_uid);

G_END_DECLS
