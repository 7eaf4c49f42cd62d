/* holder-test-util.c: see holder-test-util.h.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-test"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <glib/gstdio.h>

#include "holder-test-util.h"

void
holder_test_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *entry;
  struct stat st;

  if (lstat (path, &st) != 0)
    return;
  if (!S_ISDIR (st.st_mode))
    {
      g_unlink (path);
      return;
    }
  g_chmod (path, 0700);
  dir = g_dir_open (path, 0, NULL);
  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, entry, NULL);
      holder_test_remove_tree (child);
    }
  g_rmdir (path);
}

gboolean
holder_test_pid_is_dead (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *paren;

  waitpid (pid, NULL, WNOHANG);
  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  paren = strrchr (stat, ')');
  return paren == NULL || paren[2] == 'Z' || paren[2] == 'X';
}

GPid
holder_test_parent_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return 0;
  paren = strrchr (stat, ')');
  return paren != NULL ? (GPid) atoi (paren + 4) : 0;
}

GArray *
holder_test_descendants_of (GPid ancestor)
{
  GArray *found = g_array_new (FALSE, FALSE, sizeof (GPid));
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *entry;

  while (proc != NULL && (entry = g_dir_read_name (proc)) != NULL)
    {
      GPid pid = (GPid) atoi (entry), p = pid;

      if (pid <= 0 || holder_test_pid_is_dead (pid))
        continue;
      for (int depth = 0; depth < 8 && p > 1; depth++)
        {
          p = holder_test_parent_of (p);
          if (p == ancestor)
            {
              g_array_append_val (found, pid);
              break;
            }
        }
    }
  return found;
}

gboolean
holder_test_file_contains (const char *path,
                           const char *needle)
{
  g_autofree char *contents = NULL;

  return g_file_get_contents (path, &contents, NULL, NULL) && strstr (contents, needle) != NULL;
}

void
holder_test_wait_for_file (const char *path,
                           const char *needle,
                           guint       timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (!holder_test_file_contains (path, needle))
    {
      if (g_get_monotonic_time () > deadline)
        {
          g_autofree char *contents = NULL;
          g_file_get_contents (path, &contents, NULL, NULL);
          g_test_message ("%s:\n%s", path, contents != NULL ? contents : "(none)");
          g_error ("%s never contained \"%s\" within %u s", path, needle, timeout_s);
        }
      g_main_context_iteration (NULL, FALSE);
      g_usleep (20 * 1000); /* polling a file another process writes */
    }
}

char *
holder_test_neighbour_of (const char *ip)
{
  g_autofree char *command = g_strdup_printf ("ip neigh show to %s", ip);
  g_autoptr(GError) error = NULL;
  char *out = NULL;

  g_spawn_command_line_sync (command, &out, NULL, NULL, &error);
  g_assert_no_error (error);
  return g_strstrip (out);
}

gboolean
holder_test_has_permanent_neighbour (const char *ip,
                                     const char *mac,
                                     const char *link_prefix)
{
  g_autofree char *line = holder_test_neighbour_of (ip);
  g_autofree char *head = g_strdup_printf ("%s dev %s", ip, link_prefix);
  g_autofree char *tail = g_strdup_printf (" lladdr %s PERMANENT", mac);

  return g_str_has_prefix (line, head) && g_str_has_suffix (line, tail) &&
         strchr (line, '\n') == NULL;
}
