/* holder-listener.c: the accept loop of the member and control sockets.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"
#define _GNU_SOURCE

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "holder-error.h"
#include "holder-listener-private.h"
#include "holder-platform-private.h"

/* Connections taken per wake-up, so one busy socket cannot starve the
 * others or the connections already open. */
#define ACCEPT_BATCH 32
/* With no file descriptor left, wait this long before trying again. */
#define FD_EXHAUSTED_BACKOFF_MS 100
/* Many clients connect at once (a test suite's workers): let them queue
 * instead of being refused. The kernel caps it at somaxconn. */
#define LISTEN_BACKLOG 1024

struct _HolderListener {
  char               *path;
  GSocket            *socket;
  GSource            *source;
  GMainContext       *context;
  HolderListenerFunc  func;
  gpointer            user_data;
  /* A callback may free its own listener (a stop retires the member whose
   * socket carried it): the memory then goes when the callback returns. */
  gboolean            dispatching;
  gboolean            freed;
};

static void listener_finalize (HolderListener *listener);

static void listener_watch (HolderListener *listener);

static gboolean
on_backoff_over (gpointer user_data)
{
  HolderListener *listener = user_data;

  g_clear_pointer (&listener->source, g_source_unref);
  listener_watch (listener);
  return G_SOURCE_REMOVE;
}

static gboolean
on_incoming (GSocket      *socket,
             GIOCondition  condition,
             gpointer      user_data)
{
  HolderListener *listener = user_data;
  int listen_fd = g_socket_get_fd (socket);

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      /* accept directly (non-blocking, close-on-exec): the server speaks
       * to its clients through plain descriptors, without a GSocket per
       * connection. */
      int fd = holder_platform_accept (listen_fd);

      if (fd >= 0)
        {
          listener->dispatching = TRUE;
          listener->func (fd, listener->user_data);
          listener->dispatching = FALSE;
          if (listener->freed)
            {
              listener_finalize (listener);
              return G_SOURCE_REMOVE;
            }
          continue;
        }
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return G_SOURCE_CONTINUE;
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
        continue; /* concerns one connection only */
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        {
          /* The pending connection stays in the backlog: come back when
           * descriptors may have been freed, without spinning. */
          g_debug ("accept on %s: %s; backing off", listener->path, g_strerror (errno));
          g_clear_pointer (&listener->source, g_source_unref);
          listener->source = g_timeout_source_new (FD_EXHAUSTED_BACKOFF_MS);
          g_source_set_callback (listener->source, on_backoff_over, listener, NULL);
          g_source_attach (listener->source, listener->context);
          return G_SOURCE_REMOVE;
        }
      g_debug ("accept on %s: %s", listener->path, g_strerror (errno));
      return G_SOURCE_CONTINUE;
    }
  return G_SOURCE_CONTINUE;
}

static void
listener_watch (HolderListener *listener)
{
  listener->source = g_socket_create_source (listener->socket, G_IO_IN, NULL);
  g_source_set_callback (listener->source, G_SOURCE_FUNC (on_incoming), listener, NULL);
  g_source_attach (listener->source, listener->context);
}

HolderListener *
holder_listener_new (const char          *path,
                     HolderListenerFunc   func,
                     gpointer             user_data,
                     GError             **error)
{
  g_autoptr(HolderListener) listener = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) local_error = NULL;

  listener = g_new0 (HolderListener, 1);
  listener->path = g_strdup (path);
  listener->func = func;
  listener->user_data = user_data;
  listener->context = g_main_context_ref_thread_default ();

  /* A stale socket of a dead helper is in the way of bind(). */
  if (g_unlink (path) != 0 && errno != ENOENT)
    {
      int saved_errno = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "remove stale socket %s: %s", path, g_strerror (saved_errno));
      g_clear_pointer (&listener->path, g_free);
      return NULL;
    }

  listener->socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                   G_SOCKET_PROTOCOL_DEFAULT, &local_error);
  address = g_unix_socket_address_new (path);
  if (listener->socket == NULL ||
      !g_socket_bind (listener->socket, address, FALSE, &local_error))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED, "listen on %s: %s",
                   path, local_error->message);
      /* Nothing of ours is at @path: leave it alone. */
      g_clear_pointer (&listener->path, g_free);
      return NULL;
    }
  g_socket_set_listen_backlog (listener->socket, LISTEN_BACKLOG);
  if (!g_socket_listen (listener->socket, &local_error))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED, "listen on %s: %s",
                   path, local_error->message);
      return NULL; /* freeing removes the socket file we bound */
    }
  g_socket_set_blocking (listener->socket, FALSE);
  if (geteuid () == 0 && g_chmod (path, 0666) != 0)
    g_debug ("chmod %s: %s", path, g_strerror (errno));

  listener_watch (listener);
  return g_steal_pointer (&listener);
}

static void
listener_finalize (HolderListener *listener)
{
  g_main_context_unref (listener->context);
  g_free (listener->path);
  g_free (listener);
}

void
holder_listener_free (HolderListener *listener)
{
  if (listener == NULL)
    return;
  if (listener->source != NULL)
    {
      g_source_destroy (listener->source);
      g_clear_pointer (&listener->source, g_source_unref);
    }
  if (listener->socket != NULL)
    {
      g_socket_close (listener->socket, NULL);
      g_clear_object (&listener->socket);
    }
  if (listener->path != NULL && g_unlink (listener->path) != 0 && errno != ENOENT)
    g_debug ("remove %s: %s", listener->path, g_strerror (errno));
  if (listener->dispatching)
    listener->freed = TRUE;
  else
    listener_finalize (listener);
}
