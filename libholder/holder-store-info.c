/* holder-store-info.c: what a helper records about its members in their
 * folders, for tools such as holderctl (see holder-store.h):
 *
 *   backend   the backend's name, written at registration
 *   console   the serial_log_path of the member's last boot, when it had one
 *
 * Each is one line without a newline, replaced atomically. The helper may
 * run as root in a user's store: the member folder is reached with
 * openat() and O_NOFOLLOW below the root, never by path.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-store"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holder-backend.h"
#include "holder-store.h"
#include "holder-store-private.h"

/* The recorded values are short; a bigger file is not ours. */
#define INFO_MAX 4096

static int
open_member_dir (const char *root,
                 const char *name)
{
  g_autofree char *cluster = holder_store_cluster_name (name);
  const char *steps[] = { "clusters", cluster, name };
  int fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  for (guint i = 0; fd >= 0 && i < G_N_ELEMENTS (steps); i++)
    {
      int next = openat (fd, steps[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int saved_errno = errno;

      close (fd);
      fd = next;
      errno = saved_errno;
    }
  return fd;
}

gboolean
holder_store_record_member_info (const char  *root,
                                 const char  *name,
                                 const char  *file,
                                 const char  *value,
                                 GError     **error)
{
  g_autofree char *dir = NULL;
  gboolean ok = TRUE;
  int fd;

  g_return_val_if_fail (root != NULL && name != NULL && file != NULL, FALSE);

  fd = open_member_dir (root, name);
  if (fd < 0)
    {
      int saved_errno = errno;

      dir = holder_store_member_dir (root, name);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "open %s: %s", dir, g_strerror (saved_errno));
      return FALSE;
    }
  if (value != NULL)
    ok = holder_file_replace_at (fd, file, value, strlen (value), 0644, error);
  else if (unlinkat (fd, file, 0) != 0 && errno != ENOENT)
    {
      int saved_errno = errno;

      dir = holder_store_member_dir (root, name);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "remove %s/%s: %s", dir, file, g_strerror (saved_errno));
      ok = FALSE;
    }
  close (fd);
  return ok;
}

/* The contents of a recorded file, or NULL. */
static char *
read_member_info (const char *root,
                  const char *name,
                  const char *file)
{
  char buf[INFO_MAX + 1];
  ssize_t n;
  int dir_fd = open_member_dir (root, name);
  int fd;

  if (dir_fd < 0)
    return NULL;
  fd = openat (dir_fd, file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  close (dir_fd);
  if (fd < 0)
    return NULL;
  do
    n = read (fd, buf, sizeof buf);
  while (n < 0 && errno == EINTR);
  close (fd);
  if (n <= 0 || n > INFO_MAX)
    return NULL;
  buf[n] = '\0';
  if (strlen (buf) != (gsize) n || !g_utf8_validate (buf, n, NULL))
    return NULL;
  return g_strdup (buf);
}

char *
holder_store_read_member_backend (const char *root,
                                  const char *name)
{
  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return read_member_info (root, name, HOLDER_STORE_INFO_BACKEND);
}

char *
holder_store_member_console_path (const char *root,
                                  const char *name)
{
  g_autofree char *recorded = NULL;
  g_autofree char *dir = NULL;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  recorded = read_member_info (root, name, HOLDER_STORE_INFO_CONSOLE);
  if (recorded != NULL && g_path_is_absolute (recorded))
    return g_steal_pointer (&recorded);
  dir = holder_store_member_dir (root, name);
  return g_build_filename (dir, HOLDER_STORE_DEFAULT_CONSOLE, NULL);
}
