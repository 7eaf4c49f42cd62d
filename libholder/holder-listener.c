/* holder-listener.c: the accept loop of the member and control sockets.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "holder-error.h"
#include "holder-listener-private.h"

/* Connections taken per wake-up, so one busy socket cannot starve the
 * others or the connections already open. */
#define ACCEPT_BATCH 32
/* With no file descriptor left, wait this long before trying again. */
#define FD_EXHAUSTED_BACKOFF_MS 100

struct _HolderListener {
  char               *path;
  GSocket            *socket;
  GSource            *source;
  GMainContext       *context;
  HolderListenerFunc  func;
  gpointer            user_data;
};

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

  for (guint i = 0; i < ACCEPT_BATCH; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) accepted = g_socket_accept (socket, NULL, &error);
      g_autoptr(GSocketConnection) connection = NULL;

      if (accepted == NULL)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES) ||
              errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
            {
              /* The pending connection stays in the backlog: come back
               * when descriptors may have been freed, without spinning. */
              g_debug ("accept on %s: %s; backing off", listener->path, error->message);
              g_clear_pointer (&listener->source, g_source_unref);
              listener->source = g_timeout_source_new (FD_EXHAUSTED_BACKOFF_MS);
              g_source_set_callback (listener->source, on_backoff_over, listener, NULL);
              g_source_attach (listener->source, listener->context);
              return G_SOURCE_REMOVE;
            }
          /* ECONNABORTED and friends concern one connection only. */
          g_debug ("accept on %s: %s", listener->path, error->message);
          continue;
        }
      connection = g_socket_connection_factory_create_connection (accepted);
      listener->func (connection, listener->user_data);
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

void
holder_listener_free (HolderListener *listener)
{
  if (listener == NULL)
    return;
  if (listener->source != NULL)
    {
      g_source_destroy (listener->source);
      g_source_unref (listener->source);
    }
  if (listener->socket != NULL)
    {
      g_socket_close (listener->socket, NULL);
      g_object_unref (listener->socket);
    }
  if (listener->path != NULL && g_unlink (listener->path) != 0 && errno != ENOENT)
    g_debug ("remove %s: %s", listener->path, g_strerror (errno));
  g_main_context_unref (listener->context);
  g_free (listener->path);
  g_free (listener);
}
