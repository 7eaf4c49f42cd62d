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

static gboolean
invalid_name (GError    **error,
              const char *name,
              const char *why)
{
  g_autoptr(GString) quoted = g_string_new (NULL);

  holder_append_go_quoted (quoted, name);
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_NAME,
               "invalid member name %s: %s", quoted->str, why);
  return FALSE;
}

gboolean
holder_name_validate (const char *name,
                      GError    **error)
{
  gsize len;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (name == NULL || *name == '\0')
    return invalid_name (error, "", "empty");
  if (strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return invalid_name (error, name, "not a folder name");
  if (strchr (name, '/') != NULL)
    return invalid_name (error, name, "contains '/'");
  /* The runner flag carries names joined by commas. */
  if (strchr (name, ',') != NULL)
    return invalid_name (error, name, "contains ','");
  /* The cluster folder is the name minus "-<digits>": "..-1" would put the
   * member beside clusters/ instead of inside it. */
  if (g_str_has_prefix (name, "..-") || g_str_has_prefix (name, ".-"))
    {
      g_autofree char *cluster = holder_store_cluster_name (name);
      if (strcmp (cluster, ".") == 0 || strcmp (cluster, "..") == 0)
        return invalid_name (error, name, "its cluster would be a relative folder name");
    }

  len = strlen (name);
  for (gsize i = 0; i < len; i++)
    {
      guchar c = (guchar) name[i];

      if (c < 0x20 || c == 0x7f)
        return invalid_name (error, name, "contains a control character");
    }

  if (!g_utf8_validate (name, (gssize) len, NULL))
    return invalid_name (error, name, "not valid UTF-8");

  if (len > HOLDER_NAME_MAX)
    {
      g_autofree char *why = g_strdup_printf ("longer than %d bytes", HOLDER_NAME_MAX);
      return invalid_name (error, name, why);
    }

  return TRUE;
}

char *
holder_store_cluster_name (const char *name)
{
  gsize len, digits_start;

  g_return_val_if_fail (name != NULL, NULL);

  len = strlen (name);
  digits_start = len;
  while (digits_start > 0 && g_ascii_isdigit (name[digits_start - 1]))
    digits_start--;

  /* Need: at least one digit, a '-' before them, something before it. */
  if (digits_start == len || digits_start < 2 || name[digits_start - 1] != '-')
    return g_strdup (name);

  return g_strndup (name, digits_start - 1);
}

char *
holder_store_member_dir (const char *root,
                         const char *name)
{
  g_autofree char *cluster = NULL;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  cluster = holder_store_cluster_name (name);
  return g_build_filename (root, "clusters", cluster, name, NULL);
}

char *
holder_store_pidfile_path (const char *root,
                           const char *name)
{
  g_autofree char *dir = NULL;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  dir = holder_store_member_dir (root, name);
  return g_build_filename (dir, "pid", NULL);
}

char *
holder_store_socket_hash (const char *name)
{
  g_autofree char *digest = NULL;

  g_return_val_if_fail (name != NULL, NULL);

  digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
  return g_strndup (digest, 16);
}

char *
holder_store_socket_path (const char *root,
                          const char *name)
{
  g_autofree char *hash = NULL;
  g_autofree char *file = NULL;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  hash = holder_store_socket_hash (name);
  file = g_strconcat (hash, ".sock", NULL);
  return g_build_filename (root, "run", file, NULL);
}

char *
holder_store_control_socket_path (const char *root,
                                  const char *primary)
{
  g_autofree char *hash = NULL;
  g_autofree char *file = NULL;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (primary != NULL, NULL);

  hash = holder_store_socket_hash (primary);
  file = g_strconcat (hash, ".ctl", NULL);
  return g_build_filename (root, "run", file, NULL);
}

char *
holder_mac_for_name (const char *name)
{
  g_autoptr(GChecksum) checksum = NULL;
  guint8 digest[32];
  gsize digest_len = sizeof digest;

  g_return_val_if_fail (name != NULL, NULL);

  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *) "fleetbox:", 9);
  g_checksum_update (checksum, (const guchar *) name, (gssize) strlen (name));
  g_checksum_get_digest (checksum, digest, &digest_len);

  /* Unicast, locally administered. */
  digest[0] = (guint8) ((digest[0] & 0xfe) | 0x02);

  return g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x",
                          digest[0], digest[1], digest[2],
                          digest[3], digest[4], digest[5]);
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
