/* SPDX-License-Identifier: MIT
 *
 * The serial log copied from the console stream (see
 * holder-libvirt-console.h).
 */
#define G_LOG_DOMAIN "holder-libvirt"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "holder-backend.h"
#include "holder-libvirt-console.h"
#include "holder-libvirt-worker.h"

/* One read's worth; the event comes again while more is buffered. */
#define CHUNK_BYTES 65536

struct _HolderLibvirtConsole {
  virStreamPtr               stream;     /* NULL once stolen */
  gboolean                   watching;   /* the event callback is registered */
  int                        fd;         /* the log, -1 once closed */
  char                      *log_path;
  gboolean                   ended;
  HolderLibvirtConsoleEnded  ended_handler;
  gpointer                   ended_data;
};

static void
console_write (HolderLibvirtConsole *self,
               const char           *data,
               gsize                 length)
{
  while (length > 0 && self->fd >= 0)
    {
      ssize_t n = write (self->fd, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_warning ("write %s: %s", self->log_path, g_strerror (errno));
          g_close (self->fd, NULL);
          self->fd = -1;
          return;
        }
      data += n;
      length -= (gsize) n;
    }
}

/* Reads what libvirt buffered, without blocking. FALSE at the end. */
static gboolean
console_drain (HolderLibvirtConsole *self)
{
  g_autofree char *buffer = g_malloc (CHUNK_BYTES);

  for (;;)
    {
      int n = virStreamRecv (self->stream, buffer, CHUNK_BYTES);

      if (n > 0)
        console_write (self, buffer, (gsize) n);
      else if (n == -2)
        return TRUE;  /* nothing more for now */
      else
        return FALSE; /* 0: end of stream; -1: error */
    }
}

static void
console_unwatch (HolderLibvirtConsole *self)
{
  if (self->watching)
    virStreamEventRemoveCallback (self->stream);
  self->watching = FALSE;
}

/* Main context: libvirt-glib's event loop dispatches stream events. */
static void
on_stream_event (virStreamPtr  stream,
                 int           events,
                 void         *opaque)
{
  HolderLibvirtConsole *self = opaque;
  gboolean open = TRUE;

  if (self->stream == NULL || self->ended)
    return;
  if (events & VIR_STREAM_EVENT_READABLE)
    open = console_drain (self);
  if (events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP))
    {
      /* Whatever is still buffered comes first. */
      if (open)
        console_drain (self);
      open = FALSE;
    }
  if (open)
    return;

  console_unwatch (self);
  self->ended = TRUE;
  if (self->fd >= 0)
    g_close (self->fd, NULL);
  self->fd = -1;
  if (self->ended_handler != NULL)
    self->ended_handler (self, self->ended_data);
}

HolderLibvirtConsole *
holder_libvirt_console_new (int          fd,
                            const char  *log_path,
                            GError     **error)
{
  HolderLibvirtConsole *self;
  struct stat st;

  g_return_val_if_fail (fd >= 0 && log_path != NULL, NULL);

  /* The descriptor shares its offset with the one it was duplicated from:
   * back to the start, too. */
  if (fstat (fd, &st) != 0 ||
      (S_ISREG (st.st_mode) && (ftruncate (fd, 0) != 0 || lseek (fd, 0, SEEK_SET) != 0)))
    {
      int saved_errno = errno;

      close (fd);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "truncate serial log %s: %s",
                   log_path, g_strerror (saved_errno));
      return NULL;
    }
  self = g_new0 (HolderLibvirtConsole, 1);
  self->fd = fd;
  self->log_path = g_strdup (log_path);
  return self;
}

void
holder_libvirt_console_attach (HolderLibvirtConsole *console,
                               virStreamPtr          stream)
{
  g_return_if_fail (console != NULL && stream != NULL);
  g_return_if_fail (console->stream == NULL && !console->ended);

  console->stream = stream;
  if (virStreamEventAddCallback (stream,
                                 VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR |
                                 VIR_STREAM_EVENT_HANGUP,
                                 on_stream_event, console, NULL) == 0)
    console->watching = TRUE;
  else
    g_warning ("watch the console for %s: %s", console->log_path,
               holder_libvirt_error_message ());
}

void
holder_libvirt_console_set_ended_handler (HolderLibvirtConsole      *console,
                                          HolderLibvirtConsoleEnded  handler,
                                          gpointer                   user_data)
{
  g_return_if_fail (console != NULL);

  console->ended_handler = handler;
  console->ended_data = user_data;
}

gboolean
holder_libvirt_console_has_ended (HolderLibvirtConsole *console)
{
  g_return_val_if_fail (console != NULL, TRUE);
  return console->ended;
}

virStreamPtr
holder_libvirt_console_steal_stream (HolderLibvirtConsole *console)
{
  g_return_val_if_fail (console != NULL, NULL);

  if (console->stream == NULL)
    return NULL;
  if (!console->ended)
    console_drain (console);
  console_unwatch (console);
  if (console->fd >= 0)
    g_close (console->fd, NULL);
  console->fd = -1;
  console->ended = TRUE;
  return g_steal_pointer (&console->stream);
}

void
holder_libvirt_console_free (HolderLibvirtConsole *console)
{
  if (console == NULL)
    return;
  console_unwatch (console);
  if (console->stream != NULL)
    virStreamFree (console->stream);
  if (console->fd >= 0)
    g_close (console->fd, NULL);
  g_free (console->log_path);
  g_free (console);
}
