/* holder-lifetime.c: how a bound helper learns that its client is gone.
 *
 * Two independent signals, either of which ends the helper:
 *  - the control connection: a client that finished the bind handshake
 *    holds it open for its whole life, so its EOF means the client died;
 *  - the parent watch: a pidfd on the parent (Linux; fires the moment it
 *    exits, kill -9 included), else a poll of getppid() every 100 ms.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-lifetime"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "holder-error.h"
#include "holder-lifetime-private.h"
#include "holder-listener-private.h"
#include "holder-peer-private.h"
#include "holder-store-claim-private.h"
#include "holder-store.h"
#include "holder-version.h"

#define HANDSHAKE_MAX 64
#define PARENT_POLL_MS 100

typedef enum {
  CTL_WAIT_BIND,
  CTL_WAIT_ACK,
  CTL_ARMED,
} CtlState;

typedef struct _CtlConn CtlConn;

struct _HolderLifetime {
  HolderLifetimeGoneFunc on_gone;
  gpointer        user_data;
  HolderStoreClaim *claim;
  HolderListener *listener;
  GList          *conns;
  GPid            parent_pid;
  int             pidfd;
  GSource        *parent_source;
  GMainContext   *context;
};

struct _CtlConn {
  gint               ref_count;
  HolderLifetime    *lifetime;
  GSocketConnection *connection;
  GCancellable      *cancellable;
  GSource           *timeout;
  CtlState           state;
  char               buf[HANDSHAKE_MAX];
  gsize              len;
  gboolean           closed;
};

static void ctl_read (CtlConn *ctl);

static void
lifetime_gone (HolderLifetime *lifetime,
               const char     *reason)
{
  lifetime->on_gone (reason, lifetime->user_data);
}

static CtlConn *
ctl_ref (CtlConn *ctl)
{
  ctl->ref_count++;
  return ctl;
}

static void
ctl_unref (CtlConn *ctl)
{
  if (--ctl->ref_count > 0)
    return;
  g_clear_object (&ctl->connection);
  g_clear_object (&ctl->cancellable);
  g_free (ctl);
}

static void
ctl_close (CtlConn *ctl)
{
  if (ctl->closed)
    return;
  ctl->closed = TRUE;
  if (ctl->timeout != NULL)
    {
      g_source_destroy (ctl->timeout);
      g_clear_pointer (&ctl->timeout, g_source_unref);
    }
  g_cancellable_cancel (ctl->cancellable);
  g_io_stream_close (G_IO_STREAM (ctl->connection), NULL, NULL);
  ctl->lifetime->conns = g_list_remove (ctl->lifetime->conns, ctl);
  ctl_unref (ctl);
}

/* What the peer sent so far, against the token this step expects:
 * 1 complete, 0 a prefix of it (read on), -1 something else. */
static int
ctl_match (CtlConn    *ctl,
           const char *token)
{
  gsize len = ctl->len;
  gsize token_len = strlen (token);

  /* Tolerate trailing whitespace (a client that adds a newline). */
  while (len > 0 && g_ascii_isspace (ctl->buf[len - 1]))
    len--;
  if (len == token_len && memcmp (ctl->buf, token, len) == 0)
    return 1;
  if (len < token_len && len == ctl->len && memcmp (ctl->buf, token, len) == 0)
    return 0;
  return -1;
}

static void
on_version_written (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  CtlConn *ctl = user_data;
  g_autoptr(GError) error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      if (!ctl->closed)
        {
          g_debug ("bind: write version: %s", error->message);
          ctl_close (ctl);
        }
      ctl_unref (ctl);
      return;
    }
  if (!ctl->closed)
    {
      ctl->state = CTL_WAIT_ACK;
      ctl->len = 0;
      ctl_read (ctl);
    }
  ctl_unref (ctl);
}

static void
on_ctl_read (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  CtlConn *ctl = user_data;
  HolderLifetime *lifetime = ctl->lifetime;
  g_autoptr(GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (ctl->closed)
    {
      ctl_unref (ctl);
      return;
    }

  if (n <= 0)
    {
      if (ctl->state == CTL_ARMED)
        {
          /* Only an acked connection carries the client's life. */
          ctl_close (ctl);
          lifetime_gone (lifetime, "the bound client closed its control connection");
        }
      else
        {
          g_debug ("bind: connection closed before the handshake finished");
          ctl_close (ctl);
        }
      ctl_unref (ctl);
      return;
    }

  if (ctl->state == CTL_ARMED)
    {
      /* Anything the client sends later is ignored; only EOF matters. */
      ctl->len = 0;
      ctl_read (ctl);
      ctl_unref (ctl);
      return;
    }

  ctl->len += n;
  switch (ctl_match (ctl, ctl->state == CTL_WAIT_BIND ? "bind" : "ack"))
    {
    case 1:
      if (ctl->state == CTL_WAIT_BIND)
        {
          /* The version alone, in one write. */
          g_output_stream_write_all_async (g_io_stream_get_output_stream (G_IO_STREAM (ctl->connection)),
                                           HOLDER_PROTOCOL_VERSION, strlen (HOLDER_PROTOCOL_VERSION),
                                           G_PRIORITY_DEFAULT, ctl->cancellable,
                                           on_version_written, ctl_ref (ctl));
        }
      else
        {
          g_debug ("bind: acked; the death watch is armed");
          if (ctl->timeout != NULL)
            {
              g_source_destroy (ctl->timeout);
              g_clear_pointer (&ctl->timeout, g_source_unref);
            }
          ctl->state = CTL_ARMED;
          ctl->len = 0;
          ctl_read (ctl);
        }
      break;
    case 0:
      ctl_read (ctl);
      break;
    default:
      g_debug ("bind: unexpected handshake bytes; dropping the connection");
      ctl_close (ctl);
      break;
    }
  ctl_unref (ctl);
}

static void
ctl_read (CtlConn *ctl)
{
  gsize offset = ctl->state == CTL_ARMED ? 0 : ctl->len;

  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (ctl->connection)),
                             ctl->buf + offset, HANDSHAKE_MAX - offset,
                             G_PRIORITY_DEFAULT, ctl->cancellable,
                             on_ctl_read, ctl_ref (ctl));
}

static gboolean
on_handshake_timeout (gpointer user_data)
{
  CtlConn *ctl = user_data;

  g_debug ("bind: handshake not finished within %d s; dropping it",
           HOLDER_LIFETIME_HANDSHAKE_TIMEOUT_SECONDS);
  g_clear_pointer (&ctl->timeout, g_source_unref);
  ctl_close (ctl);
  return G_SOURCE_REMOVE;
}

static void
on_incoming_control (int      fd,
                     gpointer user_data)
{
  HolderLifetime *lifetime = user_data;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  CtlConn *ctl;
  gint64 uid;

  /* Another user could otherwise ack and hang up, ending our cluster. */
  if (!holder_peer_is_allowed (fd, &uid))
    {
      g_debug ("bind: uid %" G_GINT64_FORMAT " may not bind; dropping it", uid);
      close (fd);
      return;
    }
  /* A handful of connections in a helper's life: GIO streams are fine. */
  socket = g_socket_new_from_fd (fd, NULL);
  if (socket == NULL)
    {
      close (fd);
      return;
    }
  connection = g_socket_connection_factory_create_connection (socket);

  ctl = g_new0 (CtlConn, 1);
  ctl->ref_count = 1;
  ctl->lifetime = lifetime;
  ctl->connection = g_object_ref (connection);
  ctl->cancellable = g_cancellable_new ();
  ctl->state = CTL_WAIT_BIND;
  lifetime->conns = g_list_prepend (lifetime->conns, ctl);

  ctl->timeout = g_timeout_source_new_seconds (HOLDER_LIFETIME_HANDSHAKE_TIMEOUT_SECONDS);
  g_source_set_callback (ctl->timeout, on_handshake_timeout, ctl, NULL);
  g_source_attach (ctl->timeout, lifetime->context);

  ctl_read (ctl);
}

/* ----------------------------------------------------------- parent watch */

static gboolean
parent_is_gone (HolderLifetime *lifetime)
{
  /* Reparenting happens the moment the parent exits, however it died. */
  return getppid () != lifetime->parent_pid;
}

static gboolean
on_parent_exited (int          fd,
                  GIOCondition condition,
                  gpointer     user_data)
{
  HolderLifetime *lifetime = user_data;

  g_clear_pointer (&lifetime->parent_source, g_source_unref);
  lifetime_gone (lifetime, "the bound parent exited");
  return G_SOURCE_REMOVE;
}

static gboolean
on_parent_poll (gpointer user_data)
{
  HolderLifetime *lifetime = user_data;

  if (!parent_is_gone (lifetime))
    return G_SOURCE_CONTINUE;
  g_clear_pointer (&lifetime->parent_source, g_source_unref);
  lifetime_gone (lifetime, "the bound parent is gone");
  return G_SOURCE_REMOVE;
}

static gboolean
on_parent_gone_at_start (gpointer user_data)
{
  HolderLifetime *lifetime = user_data;

  g_clear_pointer (&lifetime->parent_source, g_source_unref);
  lifetime_gone (lifetime, "the bound parent was gone at start-up");
  return G_SOURCE_REMOVE;
}

static void
lifetime_watch_parent (HolderLifetime *lifetime)
{
  if (parent_is_gone (lifetime))
    {
      /* Died (or was never our parent) before we looked: end from the
       * main loop, like any other trigger. */
      lifetime->parent_source = g_idle_source_new ();
      g_source_set_callback (lifetime->parent_source, on_parent_gone_at_start, lifetime, NULL);
      g_source_attach (lifetime->parent_source, lifetime->context);
      return;
    }

#if defined(__linux__) && defined(SYS_pidfd_open)
  lifetime->pidfd = (int) syscall (SYS_pidfd_open, lifetime->parent_pid, 0);
  if (lifetime->pidfd >= 0)
    {
      /* Readable once the process has exited. The parent could have died
       * between the check above and the open: the pidfd of an exited
       * process is readable at once, so that case is covered too. */
      lifetime->parent_source = g_unix_fd_source_new (lifetime->pidfd, G_IO_IN);
      g_source_set_callback (lifetime->parent_source, G_SOURCE_FUNC (on_parent_exited),
                             lifetime, NULL);
      g_source_attach (lifetime->parent_source, lifetime->context);
      if (!parent_is_gone (lifetime))
        return;
      g_source_destroy (lifetime->parent_source);
      g_clear_pointer (&lifetime->parent_source, g_source_unref);
      close (lifetime->pidfd);
      lifetime->pidfd = -1;
      lifetime->parent_source = g_idle_source_new ();
      g_source_set_callback (lifetime->parent_source, on_parent_gone_at_start, lifetime, NULL);
      g_source_attach (lifetime->parent_source, lifetime->context);
      return;
    }
  g_debug ("pidfd_open: %s; polling the parent instead", g_strerror (errno));
#endif

  lifetime->parent_source = g_timeout_source_new (PARENT_POLL_MS);
  g_source_set_callback (lifetime->parent_source, on_parent_poll, lifetime, NULL);
  g_source_attach (lifetime->parent_source, lifetime->context);
}

/* ---------------------------------------------------------------- public */

HolderLifetime *
holder_lifetime_new (HolderStoreDir          *store,
                     const char              *primary,
                     GPid                     parent_pid,
                     HolderLifetimeGoneFunc   on_gone,
                     gpointer                 user_data,
                     GError                 **error)
{
  HolderLifetime *lifetime;
  int fd;

  lifetime = g_new0 (HolderLifetime, 1);
  lifetime->on_gone = on_gone;
  lifetime->user_data = user_data;
  lifetime->parent_pid = parent_pid;
  lifetime->pidfd = -1;
  lifetime->context = g_main_context_ref_thread_default ();

  /* Listening before any boot lets the client bind at once. */
  lifetime->claim = holder_store_claim_take (store, HOLDER_STORE_CLAIM_CONTROL, primary, error);
  fd = lifetime->claim != NULL
       ? holder_store_claim_listen (lifetime->claim, HOLDER_LISTENER_BACKLOG, error) : -1;
  if (fd < 0)
    {
      g_prefix_error (error, "control socket: ");
      holder_lifetime_free (lifetime);
      return NULL;
    }
  lifetime->listener = holder_listener_new (fd, holder_store_claim_get_socket_path (lifetime->claim),
                                            on_incoming_control, lifetime);

  if (parent_pid > 0)
    lifetime_watch_parent (lifetime);

  return lifetime;
}

void
holder_lifetime_free (HolderLifetime *lifetime)
{
  if (lifetime == NULL)
    return;

  g_clear_pointer (&lifetime->listener, holder_listener_free);
  g_clear_pointer (&lifetime->claim, holder_store_claim_release);
  /* Closing our own end is no client death: ctl_close() cancels the reads
   * first, so their callbacks see `closed` and trigger nothing. */
  while (lifetime->conns != NULL)
    ctl_close (lifetime->conns->data);
  if (lifetime->parent_source != NULL)
    {
      g_source_destroy (lifetime->parent_source);
      g_clear_pointer (&lifetime->parent_source, g_source_unref);
    }
  if (lifetime->pidfd >= 0)
    close (lifetime->pidfd);
  g_main_context_unref (lifetime->context);
  g_free (lifetime);
}
