/* holder-conn.c: one command connection (see holder-conn-private.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include <glib-unix.h>

#include "holder-codec-private.h"
#include "holder-conn-private.h"
#include "holder-platform-private.h"

/* Request bytes are read in chunks of this size; the buffer grows up to
 * HOLDER_CODEC_MAX_LINE. */
#define READ_CHUNK 4096
/* How long the rest of an oversized request is drained before closing. */
#define LINGER_MS 2000

struct _HolderConn {
  gint                 ref_count;
  int                  fd;
  HolderConnOptions    options;
  GSource             *watch;     /* waiting for readable or writable */
  GSource             *timeout;
  GByteArray          *buffer;
  gsize                scanned;
  char                *out;
  gsize                out_len;
  gsize                out_done;
  HolderConnThenFunc   then;
  gpointer             then_data;
  gboolean             replying;
  /* Unread request bytes may remain: drain them before closing (see
   * conn_linger()). */
  gboolean             linger;
  gint64               peer_uid;
  gboolean             denied;
  gboolean             closed;
};

HolderConn *
holder_conn_new (int                      fd,
                 const HolderConnOptions *options)
{
  HolderConn *conn = g_new0 (HolderConn, 1);

  conn->ref_count = 1;
  conn->fd = fd;
  conn->options = *options;
  conn->peer_uid = -1;
  /* The buffer comes with the first read: a refused peer never gets one. */
  return conn;
}

HolderConn *
holder_conn_ref (HolderConn *conn)
{
  conn->ref_count++;
  return conn;
}

void
holder_conn_unref (HolderConn *conn)
{
  if (conn == NULL || --conn->ref_count > 0)
    return;
  g_assert (conn->closed);
  g_clear_pointer (&conn->buffer, g_byte_array_unref);
  g_free (conn->out);
  if (conn->options.destroy_data != NULL)
    conn->options.destroy_data (conn->options.user_data);
  g_free (conn);
}

int
holder_conn_get_fd (HolderConn *conn)
{
  return conn->fd;
}

gpointer
holder_conn_get_data (HolderConn *conn)
{
  return conn->options.user_data;
}

void
holder_conn_set_peer_uid (HolderConn *conn,
                          gint64      uid)
{
  conn->peer_uid = uid;
}

gint64
holder_conn_get_peer_uid (HolderConn *conn)
{
  return conn->peer_uid;
}

gboolean
holder_conn_is_denied (HolderConn *conn)
{
  return conn->denied;
}

gboolean
holder_conn_is_replying (HolderConn *conn)
{
  return conn->replying;
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

void
holder_conn_close (HolderConn *conn)
{
  if (conn->closed)
    return;
  conn->closed = TRUE;
  clear_source (&conn->watch);
  clear_source (&conn->timeout);
  /* Closing a socket never blocks (no SO_LINGER). */
  close (conn->fd);
  conn->fd = -1;
  holder_conn_ref (conn);
  if (conn->options.on_closed != NULL)
    conn->options.on_closed (conn, conn->options.user_data);
  holder_conn_unref (conn);
}

static void
conn_watch (HolderConn       *conn,
            GIOCondition      condition,
            GUnixFDSourceFunc func)
{
  clear_source (&conn->watch);
  conn->watch = g_unix_fd_source_new (conn->fd, condition);
  g_source_set_callback (conn->watch, G_SOURCE_FUNC (func), conn, NULL);
  g_source_attach (conn->watch, conn->options.context);
}

static void
conn_start_timer (HolderConn  *conn,
                  guint        ms,
                  GSourceFunc  func)
{
  clear_source (&conn->timeout);
  conn->timeout = g_timeout_source_new (ms);
  g_source_set_callback (conn->timeout, func, conn, NULL);
  g_source_attach (conn->timeout, conn->options.context);
}

/* Closing a Unix socket whose receive queue still holds data resets the
 * connection, and the peer may lose the reply we just wrote. When the rest
 * of an oversized request is still coming, signal EOF, discard what
 * arrives until the client closes (bounded in time), then close. */
static gboolean
on_linger_readable (int          fd,
                    GIOCondition condition,
                    gpointer     user_data)
{
  HolderConn *conn = user_data;
  char sink[16 * 1024];
  ssize_t n;

  while ((n = recv (fd, sink, sizeof sink, 0)) > 0)
    ;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&conn->watch, g_source_unref);
  holder_conn_close (conn);
  return G_SOURCE_REMOVE;
}

static gboolean
on_linger_timeout (gpointer user_data)
{
  HolderConn *conn = user_data;

  g_clear_pointer (&conn->timeout, g_source_unref);
  holder_conn_close (conn);
  return G_SOURCE_REMOVE;
}

static void
conn_linger (HolderConn *conn)
{
  shutdown (conn->fd, SHUT_WR);
  conn_start_timer (conn, LINGER_MS, on_linger_timeout);
  conn_watch (conn, G_IO_IN, on_linger_readable);
}

/* The reply is out (or cannot be delivered): run what waited for it. */
static void
conn_reply_done (HolderConn *conn,
                 gboolean    written)
{
  HolderConnThenFunc then = conn->then;

  conn->then = NULL;
  clear_source (&conn->watch);
  holder_conn_ref (conn);
  if (then != NULL)
    then (conn, conn->then_data);
  if (written && conn->linger && !conn->closed)
    conn_linger (conn);
  else
    holder_conn_close (conn);
  holder_conn_unref (conn);
}

/* Writes what is left of the reply; FALSE when it must wait. */
static gboolean
conn_flush (HolderConn *conn)
{
  while (conn->out_done < conn->out_len)
    {
      ssize_t n = send (conn->fd, conn->out + conn->out_done, conn->out_len - conn->out_done,
                        HOLDER_PLATFORM_SEND_FLAGS);
      if (n >= 0)
        conn->out_done += n;
      else if (errno == EINTR)
        continue;
      else if (errno == EAGAIN || errno == EWOULDBLOCK)
        return FALSE;
      else
        {
          g_debug ("reply not delivered: %s", g_strerror (errno));
          conn_reply_done (conn, FALSE);
          return TRUE;
        }
    }
  conn_reply_done (conn, TRUE);
  return TRUE;
}

static gboolean
on_conn_writable (int          fd,
                  GIOCondition condition,
                  gpointer     user_data)
{
  HolderConn *conn = user_data;

  /* conn_flush() finishes the connection (and this source) when done. */
  if (conn_flush (conn))
    return G_SOURCE_REMOVE;
  return G_SOURCE_CONTINUE;
}

void
holder_conn_reply_then (HolderConn         *conn,
                        const HolderReply  *reply,
                        HolderConnThenFunc  then,
                        gpointer            then_data)
{
  if (conn->closed || conn->replying)
    {
      if (then != NULL)
        then (conn, then_data);
      return;
    }
  conn->replying = TRUE;
  /* Once a request is in, the connection lives as long as its command (a
   * boot takes minutes): the request timer no longer applies. */
  clear_source (&conn->timeout);
  clear_source (&conn->watch);

  conn->then = then;
  conn->then_data = then_data;
  conn->out = holder_reply_serialize (reply, &conn->out_len);
  /* A reply is always written in full, or fails because the client went
   * away; a slow reader only makes us wait for writability. */
  if (!conn_flush (conn))
    conn_watch (conn, G_IO_OUT, on_conn_writable);
}

void
holder_conn_reply (HolderConn        *conn,
                   const HolderReply *reply)
{
  holder_conn_reply_then (conn, reply, NULL, NULL);
}

void
holder_conn_reply_error (HolderConn *conn,
                         const char *format,
                         ...)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();
  va_list args;

  va_start (args, format);
  reply->error = g_strdup_vprintf (format, args);
  va_end (args);
  g_debug ("reply: error: %s", reply->error);
  holder_conn_reply (conn, reply);
}

void
holder_conn_reply_empty (HolderConn *conn)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();
  holder_conn_reply (conn, reply);
}

/* ------------------------------------------------------------------ read */

static gboolean on_conn_readable (int fd, GIOCondition condition, gpointer user_data);

static gboolean
on_conn_timeout (gpointer user_data)
{
  HolderConn *conn = user_data;

  g_debug ("dropping a connection: no request within %u ms",
           conn->options.request_timeout_ms);
  g_clear_pointer (&conn->timeout, g_source_unref);
  holder_conn_close (conn);
  return G_SOURCE_REMOVE;
}

static void
conn_dispatch (HolderConn *conn,
               const char *line,
               gsize       len)
{
  clear_source (&conn->timeout);
  conn->options.on_request (conn, line, len, conn->options.user_data);
}

/* Reads what has arrived. The request is dispatched once its line is in
 * (bytes after the newline are ignored: one request per connection), or on
 * EOF after a complete object without a newline. */
static void
conn_read (HolderConn *conn)
{
  for (;;)
    {
      gsize want = MIN (READ_CHUNK, HOLDER_CODEC_MAX_LINE - conn->scanned);
      const guint8 *newline;
      ssize_t n;

      if (conn->buffer == NULL)
        conn->buffer = g_byte_array_sized_new (READ_CHUNK);
      g_byte_array_set_size (conn->buffer, conn->scanned + want);
      n = recv (conn->fd, conn->buffer->data + conn->scanned, want, 0);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            {
              /* Wait, but not forever: half-open clients must not pin
               * descriptors. */
              if (conn->watch == NULL)
                conn_watch (conn, G_IO_IN, on_conn_readable);
              if (conn->timeout == NULL)
                conn_start_timer (conn, conn->options.request_timeout_ms, on_conn_timeout);
              return;
            }
          g_debug ("read request: %s", g_strerror (errno));
          holder_conn_close (conn);
          return;
        }
      if (n == 0)
        {
          clear_source (&conn->watch);
          if (conn->scanned > 0)
            conn_dispatch (conn, (const char *) conn->buffer->data, conn->scanned);
          else
            holder_conn_close (conn);
          return;
        }

      newline = memchr (conn->buffer->data + conn->scanned, '\n', n);
      conn->scanned += n;
      if (newline != NULL)
        {
          clear_source (&conn->watch);
          conn_dispatch (conn, (const char *) conn->buffer->data,
                         newline - conn->buffer->data + 1);
          return;
        }
      if (conn->scanned >= HOLDER_CODEC_MAX_LINE)
        {
          conn->linger = TRUE;
          holder_conn_reply_error (conn, "request too long: the limit is %d bytes",
                                   HOLDER_CODEC_MAX_LINE);
          return;
        }
    }
}

static gboolean
on_conn_readable (int          fd,
                  GIOCondition condition,
                  gpointer     user_data)
{
  HolderConn *conn = holder_conn_ref (user_data);

  conn_read (conn);
  holder_conn_unref (conn);
  /* conn_read() keeps, replaces or removes conn->watch itself. */
  return G_SOURCE_CONTINUE;
}

void
holder_conn_refuse (HolderConn *conn)
{
  conn->denied = TRUE;
  /* Answered before anything is read, and nothing is ever buffered: the
   * reply is one short line, written at once, then whatever the peer sends
   * is discarded (not kept) until it hangs up or LINGER_MS pass, so that
   * closing with its request unread cannot cost it the reply. */
  conn->linger = TRUE;
  holder_conn_reply_error (conn, "permission denied: uid %" G_GINT64_FORMAT
                           " may not command this helper", conn->peer_uid);
}

void
holder_conn_start (HolderConn *conn)
{
  holder_conn_ref (conn);
  conn_read (conn);
  holder_conn_unref (conn);
}
