/* cmd-logs.c: `holderctl logs MEMBER [-f]`: the member's serial console,
 * from the file its backend writes (holder_store_member_console_path());
 * -f follows it until the member stops.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holderctl.h"

/* How often -f looks for new output and for the member's end. */
#define FOLLOW_INTERVAL_US (100 * 1000)

typedef struct {
  const char *path;
  int         fd;
  dev_t       dev;
  ino_t       ino;
  off_t       offset;
} Console;

/* Opens the log if it is there; a missing one is not an error. */
static gboolean
console_open (Console  *console,
              GError  **error)
{
  struct stat st;
  int fd = open (console->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        return TRUE;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "read %s: %s%s", console->path, g_strerror (saved_errno),
                   saved_errno == EACCES ? " (the helper wrote it as another user: try sudo)" : "");
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s is not a regular file",
                   console->path);
      return FALSE;
    }
  console->fd = fd;
  console->dev = st.st_dev;
  console->ino = st.st_ino;
  console->offset = 0;
  return TRUE;
}

static void
console_close (Console *console)
{
  if (console->fd >= 0)
    close (console->fd);
  console->fd = -1;
}

/* Copies what is new to stdout. A log that was replaced (a new boot) or
 * truncated starts again from its beginning. */
static gboolean
console_drain (Console  *console,
               GError  **error)
{
  struct stat st;
  char buf[64 * 1024];

  if (stat (console->path, &st) == 0 && console->fd >= 0 &&
      (st.st_dev != console->dev || st.st_ino != console->ino))
    console_close (console);
  if (console->fd < 0 && !console_open (console, error))
    return FALSE;
  if (console->fd < 0)
    return TRUE;
  if (fstat (console->fd, &st) == 0 && st.st_size < console->offset)
    {
      console->offset = 0;
      lseek (console->fd, 0, SEEK_SET);
    }
  for (;;)
    {
      ssize_t n = read (console->fd, buf, sizeof buf);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                       "read %s: %s", console->path, g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0)
        break;
      if (fwrite (buf, 1, (size_t) n, stdout) != (size_t) n)
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "write to stdout: %s",
                       g_strerror (errno));
          return FALSE;
        }
      console->offset += n;
    }
  fflush (stdout);
  return TRUE;
}

int
holderctl_cmd_logs (HolderctlContext *ctx,
                    int               argc,
                    char            **argv)
{
  gboolean follow = FALSE;
  GOptionEntry entries[] = {
    { "follow", 'f', 0, G_OPTION_ARG_NONE, &follow, "Keep printing new output until the member stops", NULL },
    { NULL },
  };
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  Console console = { .fd = -1 };
  const char *name;

  if (!holderctl_parse_options (ctx, &argc, &argv, "logs MEMBER [-f]",
                                "Print a member's serial console. With -f, follow it until "
                                "the member stops.", entries))
    return HOLDERCTL_EXIT_USAGE;
  if (argc != 2)
    return holderctl_usage_error ("logs", "name one member");
  name = argv[1];
  if (!holderctl_member_exists (ctx->root, name))
    return holderctl_fail (HOLDERCTL_EXIT_ABSENT, "no member \"%s\" in %s (holderctl ls lists "
                           "them)", name, ctx->root);

  path = holder_store_member_console_path (ctx->root, name);
  console.path = path;
  if (!console_drain (&console, &error))
    return holderctl_fail (HOLDERCTL_EXIT_FAILURE, "logs %s: %s", name, error->message);

  if (!follow || !holder_store_member_is_served (ctx->root, name, NULL))
    {
      gboolean missing = console.fd < 0;

      console_close (&console);
      if (missing)
        return holderctl_fail (HOLDERCTL_EXIT_FAILURE, "logs %s: no console log at %s: the "
                               "backend writes it there once the member boots", name, path);
      return HOLDERCTL_EXIT_OK;
    }

  /* Until the member is retired; then once more for what its last moments
   * wrote. */
  while (holder_store_member_is_served (ctx->root, name, NULL))
    {
      g_usleep (FOLLOW_INTERVAL_US);
      if (!console_drain (&console, &error))
        {
          console_close (&console);
          return holderctl_fail (HOLDERCTL_EXIT_FAILURE, "logs %s: %s", name, error->message);
        }
    }
  if (!console_drain (&console, &error))
    {
      console_close (&console);
      return holderctl_fail (HOLDERCTL_EXIT_FAILURE, "logs %s: %s", name, error->message);
    }
  console_close (&console);
  return HOLDERCTL_EXIT_OK;
}
