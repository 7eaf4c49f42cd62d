/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "holder-store"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "holder-error.h"
#include "holder-platform-private.h"
#include "holder-store.h"
#include "holder-store-fs-private.h"
#include "holder-store-private.h"
#include "holder-util-private.h"

static const char *
environ_get (const char *const *envp,
             const char        *name)
{
  return envp != NULL ? g_environ_getenv ((char **) envp, name) : g_getenv (name);
}

char *
holder_store_resolve_root (GError **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);
  return holder_store_resolve_root_for_environ (NULL, error);
}

char *
holder_store_resolve_root_for_environ (const char *const *envp,
                                       GError           **error)
{
  const char *fleetbox_home = environ_get (envp, "FLEETBOX_HOME");
  const char *sudo_user = environ_get (envp, "SUDO_USER");
  const char *home;

  if (fleetbox_home != NULL && *fleetbox_home != '\0')
    return g_strdup (fleetbox_home);

  /* Under sudo the state belongs to the invoking user, as with fleetbox. */
  if (geteuid () == 0 && sudo_user != NULL && *sudo_user != '\0')
    {
      struct passwd *pw = getpwnam (sudo_user);

      if (pw != NULL && pw->pw_dir != NULL && *pw->pw_dir != '\0')
        return g_build_filename (pw->pw_dir, ".fleetbox", NULL);
      g_debug ("SUDO_USER=%s not found in the password database; using HOME",
               sudo_user);
    }

  home = environ_get (envp, "HOME");
  if ((home == NULL || *home == '\0') && envp == NULL)
    home = g_get_home_dir ();
  if (home == NULL || *home == '\0')
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                           "cannot find the storage root: set FLEETBOX_HOME or HOME");
      return NULL;
    }

  return g_build_filename (home, ".fleetbox", NULL);
}

gboolean
holder_store_ensure_root (const char *root,
                          GError    **error)
{
  g_autoptr(HolderStoreDir) store = NULL;

  g_return_val_if_fail (root != NULL && *root != '\0', FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  store = holder_store_dir_open (root, HOLDER_STORE_DIR_CREATE, error);
  return store != NULL;
}

/* The member folder of @name in @root, for the pidfile calls below. */
static int
open_member_dir (const char          *root,
                 const char          *name,
                 HolderStoreDirFlags  flags,
                 GError             **error)
{
  g_autoptr(HolderStoreDir) store = holder_store_dir_open (root, flags, error);

  if (store == NULL)
    return -1;
  return holder_store_dir_open_member (store, name, FALSE, error);
}

gboolean
holder_store_write_pidfile (const char *root,
                            const char *name,
                            GError    **error)
{
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean ok;
  int dir_fd;

  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  path = holder_store_pidfile_path (root, name);
  contents = g_strdup_printf ("%d", (int) getpid ());
  dir_fd = open_member_dir (root, name, HOLDER_STORE_DIR_READ, &local_error);
  /* Through a rename: a reader sees the whole pid or no file, never a
   * half-written one, and a full disk leaves no empty pidfile behind. */
  ok = dir_fd >= 0 &&
       holder_file_replace_at_full (dir_fd, "pid", path, contents, strlen (contents), 0644,
                                    NULL, &local_error);
  if (dir_fd >= 0)
    close (dir_fd);
  if (!ok)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED,
                   "write pidfile: %s", local_error->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
holder_store_remove_pidfile (const char *root,
                             const char *name,
                             GError    **error)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) local_error = NULL;
  int dir_fd;

  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  path = holder_store_pidfile_path (root, name);
  dir_fd = open_member_dir (root, name, HOLDER_STORE_DIR_READ, &local_error);
  if (dir_fd < 0)
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (unlinkat (dir_fd, "pid", 0) != 0 && errno != ENOENT)
    {
      int saved_errno = errno;

      close (dir_fd);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
                   "remove pidfile %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  close (dir_fd);
  return TRUE;
}

gboolean
holder_store_read_pidfile (const char *root,
                           const char *name,
                           GPid       *out_pid,
                           GError    **error)
{
  g_autofree char *path = NULL;
  gboolean ok;
  int dir_fd;

  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  path = holder_store_pidfile_path (root, name);
  dir_fd = open_member_dir (root, name, HOLDER_STORE_DIR_QUERY, error);
  if (dir_fd < 0)
    return FALSE;
  ok = holder_store_read_pidfile_at (dir_fd, path, out_pid, error);
  close (dir_fd);
  return ok;
}

gboolean
holder_pid_is_alive (GPid pid)
{
  /* kill() succeeds on a zombie, and a PID 1 that does not reap (a bare
   * container init) keeps them around: the platform layer looks at the
   * process table (/proc, sysctl) where it can. */
  return holder_platform_pid_is_alive (pid);
}
