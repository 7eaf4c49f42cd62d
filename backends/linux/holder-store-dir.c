/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-files"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "holder-backend.h"
#include "holder-store-dir.h"

/* Who may own a folder root works in, and that nobody else may write to
 * it. Only enforced for root: a helper running as the user works in the
 * user's own folders with the user's own rights. */
static gboolean
check_folder (int          fd,
              const char  *path,
              uid_t        user_uid,
              GError     **error)
{
  uid_t euid = geteuid ();
  struct stat st;

  if (fstat (fd, &st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "stat %s: %s", path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  if (euid != 0)
    return TRUE;
  if (st.st_uid != 0 && st.st_uid != euid && st.st_uid != user_uid)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "%s is owned by uid %u, not by root or uid %u: the helper runs as root "
                   "and will not work in it (chown %u %s, or use another storage root)",
                   path, (guint) st.st_uid, (guint) user_uid, (guint) user_uid, path);
      return FALSE;
    }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "%s is writable by group or others: the helper runs as root and will "
                   "not work in it (chmod go-w %s)", path, path);
      return FALSE;
    }
  return TRUE;
}

int
holder_store_dir_open (const char        *root,
                       const char *const *components,
                       gboolean           create,
                       uid_t              user_uid,
                       GError           **error)
{
  g_autofree char *path = g_strdup (root);
  int fd;

  g_return_val_if_fail (root != NULL && components != NULL, -1);

  /* The path to the root itself is the operator's (FLEETBOX_HOME, the
   * user's home): links up to it are followed, the folder is checked. */
  fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "open the storage root %s: %s",
                   root, g_strerror (saved_errno));
      return -1;
    }
  if (!check_folder (fd, path, user_uid, error))
    {
      close (fd);
      return -1;
    }

  for (guint i = 0; components[i] != NULL; i++)
    {
      const char *name = components[i];
      char *next_path;
      int next;

      g_return_val_if_fail (name[0] != '\0' && strchr (name, '/') == NULL &&
                            g_strcmp0 (name, ".") != 0 && g_strcmp0 (name, "..") != 0, -1);
      next_path = g_build_filename (path, name, NULL);
      g_free (path);
      path = next_path;

      if (create && mkdirat (fd, name, 0755) != 0 && errno != EEXIST)
        {
          int saved_errno = errno;

          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "create %s: %s", path,
                       g_strerror (saved_errno));
          close (fd);
          return -1;
        }
      next = openat (fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (next < 0)
        {
          int saved_errno = errno;

          /* O_NOFOLLOW|O_DIRECTORY on a symbolic link: ELOOP or ENOTDIR. */
          if (saved_errno == ELOOP || saved_errno == ENOTDIR)
            g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                         "%s is not a folder (a symbolic link or a file): the helper does "
                         "not follow links inside the storage root; remove it", path);
          else
            g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "open %s: %s", path,
                         g_strerror (saved_errno));
          close (fd);
          return -1;
        }
      close (fd);
      fd = next;
      if (!check_folder (fd, path, user_uid, error))
        {
          close (fd);
          return -1;
        }
    }
  return fd;
}

int
holder_store_dir_open_member (const char *root,
                              const char *name,
                              uid_t       user_uid,
                              GError    **error)
{
  g_autofree char *cluster = NULL;
  const char *components[4] = { "clusters", NULL, NULL, NULL };

  if (!holder_name_validate (name, error))
    return -1;
  cluster = holder_store_cluster_name (name);
  components[1] = cluster;
  components[2] = name;
  return holder_store_dir_open (root, components, TRUE, user_uid, error);
}
