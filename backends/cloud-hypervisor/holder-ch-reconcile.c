/* SPDX-License-Identifier: MIT
 *
 * Leftover VMM API sockets (see holder-ch-reconcile.h).
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-backend-ch"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "holder-backend.h"
#include "holder-ch-reconcile.h"
#include "holder-linux-net-record.h"

#define HASH_DIGITS 16

static gboolean
is_lower_hex (const char *s,
              gsize       len)
{
  for (gsize i = 0; i < len; i++)
    {
      if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
        return FALSE;
    }
  return TRUE;
}

gboolean
holder_ch_api_socket_name_parse (const char  *name,
                                 char       **out_tap)
{
  gsize len = strlen (name);
  g_autofree char *tap = NULL;

  /* "<16 hex>." + "fbt-<8 hex>" + ".api" */
  if (len != HASH_DIGITS + 1 + 12 + 4 || !is_lower_hex (name, HASH_DIGITS) ||
      name[HASH_DIGITS] != '.' || !g_str_has_suffix (name, ".api"))
    return FALSE;
  tap = g_strndup (name + HASH_DIGITS + 1, 12);
  if (!holder_net_name_is_valid (tap, HOLDER_NET_TAP_PREFIX))
    return FALSE;
  if (out_tap != NULL)
    *out_tap = g_steal_pointer (&tap);
  return TRUE;
}

/* Whether something listens on socket @name of @dir_fd. Connected through
 * an O_PATH descriptor of the socket itself: a name swapped for a symbolic
 * link meanwhile cannot send root elsewhere. */
static gboolean
socket_is_listening (int         dir_fd,
                     const char *name)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct stat st;
  gboolean listening = FALSE;
  int path_fd;
  int fd;

  path_fd = openat (dir_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (path_fd < 0)
    return FALSE;
  if (fstat (path_fd, &st) < 0 || !S_ISSOCK (st.st_mode))
    {
      close (path_fd);
      return FALSE;
    }
  g_snprintf (addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d", path_fd);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0)
    {
      /* EAGAIN: a full backlog, so someone listens. */
      listening = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0 ||
                  errno == EAGAIN || errno == EINPROGRESS;
      close (fd);
    }
  close (path_fd);
  return listening;
}

void
holder_ch_reconcile_api_sockets (const char      *storage_root,
                                 gboolean         dry_run,
                                 HolderNetReport *report)
{
  g_autofree char *run_path = g_build_filename (storage_root, "run", NULL);
  g_autoptr(GHashTable) live_taps = NULL;
  g_autoptr(GError) error = NULL;
  struct dirent *entry;
  DIR *listing;
  int root_fd;
  int run_fd;
  int list_fd;

  root_fd = open (storage_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return;
  run_fd = openat (root_fd, "run", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  close (root_fd);
  if (run_fd < 0)
    return;

  /* Without the records, no socket can be judged: keep them all. */
  live_taps = holder_linux_net_live_taps (&error);
  if (live_taps == NULL)
    {
      holder_net_report_warn (report, "VMM API sockets in %s kept: %s", run_path,
                              error->message);
      close (run_fd);
      return;
    }

  list_fd = openat (run_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0 || (listing = fdopendir (list_fd)) == NULL)
    {
      if (list_fd >= 0)
        close (list_fd);
      close (run_fd);
      return;
    }
  while ((entry = readdir (listing)) != NULL)
    {
      g_autofree char *tap = NULL;
      struct stat st;

      if (!holder_ch_api_socket_name_parse (entry->d_name, &tap) ||
          g_hash_table_contains (live_taps, tap) ||
          fstatat (run_fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
          !S_ISSOCK (st.st_mode) || socket_is_listening (run_fd, entry->d_name))
        continue;
      /* unlinkat() removes the entry of this folder only, whatever it has
       * become meanwhile: nothing outside the store can be hit. */
      if (!dry_run && unlinkat (run_fd, entry->d_name, 0) < 0 && errno != ENOENT)
        {
          holder_net_report_warn (report, "remove %s/%s: %s", run_path, entry->d_name,
                                  g_strerror (errno));
          continue;
        }
      holder_net_report_reclaimed (report, "file", "%s/%s", run_path, entry->d_name);
    }
  closedir (listing);
  close (run_fd);
}
