/* holder-lifetime.c: how a bound helper learns that its client is gone.
 *
 * Two independent signals, either of which ends the helper:
 *  - the control connection: a client that finished the bind handshake
 *    holds it open for its whole life, so its EOF means the client died;
 *  - the parent watch: a pidfd (Linux) or a kqueue NOTE_EXIT (macOS) on
 *    the parent, which fires the moment it exits, kill -9 included; else a
 *    poll of getppid() every 100 ms (holder-platform-private.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-lifetime"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "holder-error.h"
#include "holder-lifetime-private.h"
#include "holder-listener-private.h"
#include "holder-peer-private.h"
#include "holder-platform-private.h"
#include "holder-store-claim-private.h"
#include "holder-store.h"
#include "holder-version.h"

#define HANDSHAKE_MAX 64

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
  GSource        *parent_source;
  GMainContext   *context;
};

/* A control connection: a plain non-blocking descriptor watched by one
 * GUnixFDSource (readable, or writable while the version goes out). No
 * GSocketConnection, GIO stream or GTask: GTask's class init would start
 * GLib's worker thread in every bound helper, and the EOF that ends the
 * helper is seen one dispatch sooner. Everything runs on the main
 * context's thread. */
struct _CtlConn {
  HolderLifetime    *lifetime;
  int                fd;
  GSource           *watch;
  GIOCondition       watching;
  GSource           *timeout;
  CtlState           state;
  char               buf[HANDSHAKE_MAX];
  gsize              len;
  /* Bytes of the version written, while answering `bind`. */
  gboolean           replying;
  gsize              written;
};

static gboolean on_ctl_io (int fd, GIOCondition condition, gpointer user_data);

static void
lifetime_gone (HolderLifetime *lifetime,
               const char     *reason)
{
  lifetime->on_gone (reason, lifetime->user_data);
}

static void
ctl_clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Watches for @condition; a no-op if that is already watched. */
static void
ctl_watch (CtlConn      *ctl,
           GIOCondition  condition)
{
  if (ctl->watch != NULL && ctl->watching == condition)
    return;
  ctl_clear_source (&ctl->watch);
  ctl->watching = condition;
  ctl->watch = g_unix_fd_source_new (ctl->fd, condition);
  g_source_set_callback (ctl->watch, G_SOURCE_FUNC (on_ctl_io), ctl, NULL);
  g_source_attach (ctl->watch, ctl->lifetime->context);
}

/* Closes and frees @ctl at once; callers touch it no more. */
static void
ctl_close (CtlConn *ctl)
{
  ctl_clear_source (&ctl->timeout);
  ctl_clear_source (&ctl->watch);
  close (ctl->fd);
  ctl->lifetime->conns = g_list_remove (ctl->lifetime->conns, ctl);
  g_free (ctl);
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

/* The version alone, in one write when the socket takes it (it always
 * does on a fresh connection). FALSE if @ctl was closed. */
static gboolean
ctl_write_version (CtlConn *ctl)
{
  static const char version[] = HOLDER_PROTOCOL_VERSION;

  while (ctl->written < sizeof version - 1)
    {
      gssize n = send (ctl->fd, version + ctl->written, sizeof version - 1 - ctl->written,
                        HOLDER_PLATFORM_SEND_FLAGS);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          ctl_watch (ctl, G_IO_OUT);
          return TRUE;
        }
      if (n < 0)
        {
          g_debug ("bind: write version: %s", g_strerror (errno));
          ctl_close (ctl);
          return FALSE;
        }
      ctl->written += (gsize) n;
    }
  ctl->replying = FALSE;
  ctl->state = CTL_WAIT_ACK;
  ctl->len = 0;
  ctl_watch (ctl, G_IO_IN);
  return TRUE;
}

/* One read; FALSE if @ctl was closed. */
static gboolean
ctl_read (CtlConn *ctl)
{
  HolderLifetime *lifetime = ctl->lifetime;
  gsize offset = ctl->state == CTL_ARMED ? 0 : ctl->len;
  gssize n;

  n = recv (ctl->fd, ctl->buf + offset, HANDSHAKE_MAX - offset, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return TRUE;

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
      return FALSE;
    }

  if (ctl->state == CTL_ARMED)
    {
      /* Anything the client sends later is ignored; only EOF matters. */
      ctl->len = 0;
      return TRUE;
    }

  ctl->len += n;
  switch (ctl_match (ctl, ctl->state == CTL_WAIT_BIND ? "bind" : "ack"))
    {
    case 1:
      if (ctl->state == CTL_WAIT_BIND)
        {
          /* Nothing more is read until the version is out. */
          ctl->replying = TRUE;
          ctl->written = 0;
          return ctl_write_version (ctl);
        }
      g_debug ("bind: acked; the death watch is armed");
      ctl_clear_source (&ctl->timeout);
      ctl->state = CTL_ARMED;
      ctl->len = 0;
      return TRUE;
    case 0:
      return TRUE;
    default:
      g_debug ("bind: unexpected handshake bytes; dropping the connection");
      ctl_close (ctl);
      return FALSE;
    }
}

static gboolean
on_ctl_io (int          fd,
           GIOCondition condition,
           gpointer     user_data)
{
  CtlConn *ctl = user_data;
  GSource *source = ctl->watch;

  if (!(ctl->replying ? ctl_write_version (ctl) : ctl_read (ctl)))
    return G_SOURCE_REMOVE;
  /* ctl_watch() may have replaced this source by another. */
  return ctl->watch == source ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
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
  CtlConn *ctl;
  gint64 uid;

  /* Another user could otherwise ack and hang up, ending our cluster. */
  if (!holder_peer_is_allowed (fd, &uid))
    {
      g_debug ("bind: uid %" G_GINT64_FORMAT " may not bind; dropping it", uid);
      close (fd);
      return;
    }

  ctl = g_new0 (CtlConn, 1);
  ctl->lifetime = lifetime;
  ctl->fd = fd;
  ctl->state = CTL_WAIT_BIND;
  lifetime->conns = g_list_prepend (lifetime->conns, ctl);

  ctl->timeout = g_timeout_source_new_seconds (HOLDER_LIFETIME_HANDSHAKE_TIMEOUT_SECONDS);
  g_source_set_callback (ctl->timeout, on_handshake_timeout, ctl, NULL);
  g_source_attach (ctl->timeout, lifetime->context);

  ctl_watch (ctl, G_IO_IN);
}

/* ----------------------------------------------------------- parent watch */

static void
on_parent_gone (const char *reason,
                gpointer    user_data)
{
  HolderLifetime *lifetime = user_data;

  /* The source is destroyed after this returns. */
  g_clear_pointer (&lifetime->parent_source, g_source_unref);
  lifetime_gone (lifetime, reason);
}

static void
lifetime_watch_parent (HolderLifetime *lifetime)
{
  lifetime->parent_source = holder_platform_parent_watch_new (lifetime->parent_pid);
  g_debug ("watching the parent %d: %s", (int) lifetime->parent_pid,
           holder_platform_parent_watch_get_mechanism (lifetime->parent_source));
  g_source_set_callback (lifetime->parent_source, G_SOURCE_FUNC (on_parent_gone),
                         lifetime, NULL);
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
  g_main_context_unref (lifetime->context);
  g_free (lifetime);
}
