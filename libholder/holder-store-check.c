/* holder-store-check.c: `holderctl doctor`'s checks of the storage root
 * itself (see holder_store_check_root() in holder-backend.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-store"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holder-backend.h"

static const char *const store_folders[] = { "", "clusters", "images", "run" };

/* The uid whose store this is: SUDO_USER's under sudo, else ours. */
static uid_t
store_user (void)
{
  const char *sudo_user = g_getenv ("SUDO_USER");

  if (geteuid () == 0 && sudo_user != NULL && *sudo_user != '\0')
    {
      struct passwd *pw = getpwnam (sudo_user);

      if (pw != NULL)
        return pw->pw_uid;
    }
  return geteuid ();
}

static char *
user_name (uid_t uid)
{
  struct passwd *pw = getpwuid (uid);

  return pw != NULL ? g_strdup (pw->pw_name) : g_strdup_printf ("%u", (guint) uid);
}

gboolean
holder_store_check_root (const char *root,
                         GPtrArray  *checks)
{
  g_autoptr(GString) unusable = g_string_new (NULL);
  g_autoptr(GString) writable = g_string_new (NULL);
  g_autoptr(GString) foreign = g_string_new (NULL);
  g_autofree char *me = NULL;
  g_autofree char *detail = NULL;
  g_autofree char *fix = NULL;
  uid_t user = store_user ();
  struct stat st;

  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (checks != NULL, FALSE);

  me = user_name (user);
  if (stat (root, &st) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        {
          detail = g_strdup_printf ("%s does not exist yet; the first helper makes it", root);
          g_ptr_array_add (checks, holder_host_check_new ("storage root", TRUE, TRUE, detail, NULL));
          return TRUE;
        }
      detail = g_strdup_printf ("%s: %s", root, g_strerror (saved_errno));
      fix = g_strdup_printf ("set FLEETBOX_HOME to a folder %s can use", me);
      g_ptr_array_add (checks, holder_host_check_new ("storage root", FALSE, TRUE, detail, fix));
      return FALSE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (store_folders); i++)
    {
      g_autofree char *path = g_build_filename (root, store_folders[i], NULL);
      struct stat folder;

      /* Below the root, the helper follows no symbolic link. */
      if ((i == 0 ? stat (path, &folder) : lstat (path, &folder)) != 0)
        continue;
      if (!S_ISDIR (folder.st_mode) || access (path, R_OK | W_OK | X_OK) != 0)
        g_string_append_printf (unusable, "%s%s", unusable->len > 0 ? ", " : "", path);
      if ((folder.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        g_string_append_printf (writable, "%s%s (%04o)", writable->len > 0 ? ", " : "",
                                path, (guint) (folder.st_mode & 07777));
      if (folder.st_uid != user && folder.st_uid != 0 && folder.st_uid != geteuid ())
        {
          g_autofree char *owner = user_name (folder.st_uid);

          g_string_append_printf (foreign, "%s%s (%s)", foreign->len > 0 ? ", " : "",
                                  path, owner);
        }
    }

  if (unusable->len > 0)
    {
      g_autofree char *who = user_name (geteuid ());

      detail = g_strdup_printf ("%s cannot use %s", who, unusable->str);
      fix = g_strdup_printf ("make each a folder %s owns (sudo chown -R %s %s), or set "
                             "FLEETBOX_HOME to another folder", who, who, root);
      g_ptr_array_add (checks, holder_host_check_new ("storage root", FALSE, TRUE, detail, fix));
    }
  else
    {
      detail = g_strdup_printf ("%s is usable", root);
      g_ptr_array_add (checks, holder_host_check_new ("storage root", TRUE, TRUE, detail, NULL));
    }
  g_clear_pointer (&detail, g_free);
  g_clear_pointer (&fix, g_free);

  if (foreign->len > 0)
    {
      detail = g_strdup_printf ("owned by another user: %s", foreign->str);
      fix = g_strdup_printf ("sudo chown -R %s %s", me, root);
      g_ptr_array_add (checks, holder_host_check_new ("storage root owner", FALSE, FALSE,
                                                      detail, fix));
    }
  else
    {
      g_autofree char *owner = user_name (st.st_uid);

      detail = g_strdup_printf ("owned by %s", owner);
      g_ptr_array_add (checks, holder_host_check_new ("storage root owner", TRUE, FALSE,
                                                      detail, NULL));
    }
  g_clear_pointer (&detail, g_free);
  g_clear_pointer (&fix, g_free);

  /* Anyone who may write there may plant files the helper then trusts. */
  if (writable->len > 0)
    {
      detail = g_strdup_printf ("writable by others: %s", writable->str);
      fix = g_strdup_printf ("chmod -R go-w %s", root);
      g_ptr_array_add (checks, holder_host_check_new ("storage root mode", FALSE, FALSE,
                                                      detail, fix));
    }
  else
    {
      detail = g_strdup_printf ("%04o, writable by its owner only", (guint) (st.st_mode & 07777));
      g_ptr_array_add (checks, holder_host_check_new ("storage root mode", TRUE, FALSE,
                                                      detail, NULL));
    }
  return unusable->len == 0;
}
