/* SPDX-License-Identifier: MIT
 *
 * One command connection of the server: a plain non-blocking descriptor,
 * read until its request line is in, then written until the reply is out,
 * then closed. Status round trips are the hot path, so no GIO stream or
 * GTask is made per request. The connection knows nothing of members or
 * commands: what it carries is its owner's business (callbacks).
 */
#pragma once

#include <gio/gio.h>

#include "holder-types.h"

G_BEGIN_DECLS

typedef struct _HolderConn HolderConn;

/* The request line is in: @line (of @len bytes, the newline included when
 * there was one) stays valid during the call. The owner must reply. */
typedef void (*HolderConnRequestFunc) (HolderConn *conn,
                                       const char *line,
                                       gsize       len,
                                       gpointer    user_data);

/* Runs once the reply is written (or cannot be delivered), before the
 * connection closes. */
typedef void (*HolderConnThenFunc) (HolderConn *conn,
                                    gpointer    user_data);

/* The connection closed: it leaves its owner's list. */
typedef void (*HolderConnClosedFunc) (HolderConn *conn,
                                      gpointer    user_data);

typedef struct {
  GMainContext         *context;
  /* Bound on the wait for a request line. */
  guint                 request_timeout_ms;
  HolderConnRequestFunc on_request;
  HolderConnClosedFunc  on_closed;
  /* Passed to the callbacks; @destroy_data runs when the last reference
   * to the connection goes. */
  gpointer              user_data;
  GDestroyNotify        destroy_data;
} HolderConnOptions;

/* Takes @fd (connected, non-blocking, close-on-exec). Nothing is read
 * until holder_conn_start(). */
HolderConn *holder_conn_new (int                      fd,
                             const HolderConnOptions *options);

/* Reads what has arrived (the request is often there already), then
 * waits for the rest on the context, bounded by the request timeout. */
void holder_conn_start (HolderConn *conn);

HolderConn *holder_conn_ref (HolderConn *conn);
void holder_conn_unref (HolderConn *conn);

/* The descriptor, for peer checks. */
int holder_conn_get_fd (HolderConn *conn);

/* The user_data given to holder_conn_new(). */
gpointer holder_conn_get_data (HolderConn *conn);

/* The peer's uid (-1 when unknown), for its owner's bookkeeping and the
 * refusal's message. */
void holder_conn_set_peer_uid (HolderConn *conn,
                               gint64      uid);
gint64 holder_conn_get_peer_uid (HolderConn *conn);

/* Instead of holder_conn_start(), for a peer that may not command the
 * helper: writes `permission denied: uid N may not command this helper`
 * at once, without reading or buffering anything the peer sent, then
 * discards its bytes until it hangs up (bounded in time) and closes. */
void holder_conn_refuse (HolderConn *conn);
gboolean holder_conn_is_denied (HolderConn *conn);

/* Writes @reply in full (a slow reader only makes us wait), runs @then,
 * then closes. A connection that already replied or closed only runs
 * @then. */
void holder_conn_reply_then (HolderConn          *conn,
                             const HolderReply   *reply,
                             HolderConnThenFunc   then,
                             gpointer             then_data);
void holder_conn_reply (HolderConn        *conn,
                        const HolderReply *reply);
void holder_conn_reply_empty (HolderConn *conn);
void holder_conn_reply_error (HolderConn *conn,
                              const char *format,
                              ...) G_GNUC_PRINTF (2, 3);

/* TRUE once a reply is being written. */
gboolean holder_conn_is_replying (HolderConn *conn);

/* Closes now (idempotent); a reply in flight is abandoned. */
void holder_conn_close (HolderConn *conn);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderConn, holder_conn_unref)

G_END_DECLS
