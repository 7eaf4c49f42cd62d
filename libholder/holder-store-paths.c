/* holder-store-paths.c: what a member name becomes in the store: its
 * validation, its cluster, its folder, pidfile and socket paths, its MAC.
 * Pure functions of their arguments: nothing here touches the file
 * system.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-store"

#include <string.h>

#include "holder-error.h"
#include "holder-store.h"
#include "holder-util-private.h"

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
