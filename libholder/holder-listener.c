/* holder-listener.c: the accept loop of the member and control sockets.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"
#define _GNU_SOURCE

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "holder-listener-private.h"
#include "holder-platform-private.h"

/* Connections taken per wake-up, so one busy socket cannot starve the
 * others or the connections already open. */
#define ACCEPT_BATCH 32
/* With no file descriptor left, wait this long before trying again. */
#define FD_EXHAUSTED_BACKOFF_MS 100

struct _HolderListener {
  char               *path;
  int                 fd;
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
on_incoming (int          listen_fd,
             GIOCondition condition,
             gpointer     user_data)
{
  HolderListener *listener = user_data;

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
  listener->source = g_unix_fd_source_new (listener->fd, G_IO_IN);
  g_source_set_callback (listener->source, G_SOURCE_FUNC (on_incoming), listener, NULL);
  g_source_attach (listener->source, listener->context);
}

HolderListener *
holder_listener_new (int                 fd,
                     const char         *path,
                     HolderListenerFunc  func,
                     gpointer            user_data)
{
  HolderListener *listener;

  g_return_val_if_fail (fd >= 0, NULL);

  listener = g_new0 (HolderListener, 1);
  listener->fd = fd;
  listener->path = g_strdup (path);
  listener->func = func;
  listener->user_data = user_data;
  listener->context = g_main_context_ref_thread_default ();
  listener_watch (listener);
  return listener;
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
  /* The socket file is the store's to remove (holder-store-claim.c), by
   * inode, not by path. */
  if (listener->fd >= 0)
    {
      close (listener->fd);
      listener->fd = -1;
    }
  if (listener->dispatching)
    listener->freed = TRUE;
  else
    listener_finalize (listener);
}
