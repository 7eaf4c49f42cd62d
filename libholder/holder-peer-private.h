/* SPDX-License-Identifier: MIT
 *
 * Who may command a helper: its own (effective) uid, root, and, when the
 * helper runs as root under sudo, the invoking user (SUDO_UID). Sockets are
 * connectable by anyone (mode 0666 when the helper is root, as the protocol
 * requires), so every connection is checked by its peer credentials, and
 * how many a uid may hold open at once is capped.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* TRUE when the peer of the connected Unix socket @fd may issue commands.
 * @out_uid gets the peer's uid (or -1 when the credentials could not be
 * read, which denies). */
gboolean holder_peer_is_allowed (int     fd,
                                 gint64 *out_uid);

/* Concurrent command connections a helper keeps open per peer uid. A uid
 * that may command (the helper's own, root, SUDO_UID) gets many: a test
 * suite's workers connect at once. A refused uid gets very few, and all
 * refused uids together a few more, so that refused peers can never take
 * the descriptors or the memory the allowed ones need; a connection over
 * its cap is closed at once, unread. */
#define HOLDER_PEER_MAX_CONNECTIONS_ALLOWED 1024
#define HOLDER_PEER_MAX_CONNECTIONS_REFUSED 4
#define HOLDER_PEER_MAX_CONNECTIONS_REFUSED_TOTAL 16

/* Open connections per peer uid. */
typedef struct _HolderPeerTable HolderPeerTable;

HolderPeerTable *holder_peer_table_new (void);
void holder_peer_table_free (HolderPeerTable *table);

/* Counts a new connection of @uid (@allowed: it may command) and returns
 * TRUE, or returns FALSE, counting nothing, when @uid is at its cap. */
gboolean holder_peer_table_admit (HolderPeerTable *table,
                                  gint64           uid,
                                  gboolean         allowed);

/* A connection holder_peer_table_admit() counted has closed. */
void holder_peer_table_release (HolderPeerTable *table,
                                gint64           uid,
                                gboolean         allowed);

G_END_DECLS
