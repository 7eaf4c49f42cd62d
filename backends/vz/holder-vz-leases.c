/* SPDX-License-Identifier: MIT
 *
 * The bootpd lease parser (see holder-vz-leases.h). Stricter than
 * fleetbox's regular expressions (each key must start its own line) with
 * the same outcomes: records split on '}', only chunks with a '{' count,
 * a record without an IP is dropped, nothing is an error but a file that
 * cannot be read.
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include <string.h>

#include "holder-backend.h"
#include "holder-vz-leases.h"

void
holder_vz_lease_free (HolderVzLease *lease)
{
  if (lease == NULL)
    return;
  g_free (lease->name);
  g_free (lease->ip);
  g_free (lease->hw_address);
  g_free (lease);
}

/* The leading run of @value whose characters @accept takes. */
static char *
leading_run (const char *value,
             gboolean  (*accept) (char c))
{
  const char *end = value;

  while (*end != '\0' && accept (*end))
    end++;
  return g_strndup (value, (gsize) (end - value));
}

static gboolean
is_not_space (char c)
{
  return !g_ascii_isspace (c);
}

static gboolean
is_ip_char (char c)
{
  return g_ascii_isdigit (c) || c == '.';
}

static gboolean
is_mac_char (char c)
{
  return g_ascii_isxdigit (c) || c == ':';
}

static gboolean
is_hex_char (char c)
{
  return g_ascii_isxdigit (c);
}

/* The value of @key on @line, or NULL when the line is about another. */
static const char *
value_of (const char *line,
          const char *key)
{
  gsize length = strlen (key);

  if (strncmp (line, key, length) != 0 || line[length] != '=')
    return NULL;
  return line + length + 1;
}

static HolderVzLease *
parse_record (const char *body)
{
  g_autoptr(HolderVzLease) lease = g_new0 (HolderVzLease, 1);
  g_auto(GStrv) lines = g_strsplit (body, "\n", -1);

  for (gsize i = 0; lines[i] != NULL; i++)
    {
      const char *line = g_strstrip (lines[i]);
      const char *value;

      /* The first occurrence of each key wins, as with a regex search. */
      if (lease->name == NULL && (value = value_of (line, "name")) != NULL)
        lease->name = leading_run (value, is_not_space);
      else if (lease->ip == NULL && (value = value_of (line, "ip_address")) != NULL)
        lease->ip = leading_run (value, is_ip_char);
      else if (lease->hw_address == NULL && (value = value_of (line, "hw_address")) != NULL)
        lease->hw_address = g_str_has_prefix (value, "1,") ? leading_run (value + 2, is_mac_char)
                                                             : g_strdup ("");
      else if (lease->expiry == 0 && (value = value_of (line, "lease")) != NULL &&
               g_str_has_prefix (value, "0x"))
        {
          g_autofree char *hex = leading_run (value + 2, is_hex_char);

          lease->expiry = g_ascii_strtoull (hex, NULL, 16);
        }
    }
  if (lease->ip == NULL || lease->ip[0] == '\0')
    return NULL;
  if (lease->name == NULL)
    lease->name = g_strdup ("");
  if (lease->hw_address == NULL)
    lease->hw_address = g_strdup ("");
  return g_steal_pointer (&lease);
}

GPtrArray *
holder_vz_leases_parse (const char *text,
                        gsize       length)
{
  GPtrArray *leases = g_ptr_array_new_with_free_func ((GDestroyNotify) holder_vz_lease_free);
  g_autofree char *copy = NULL;
  g_auto(GStrv) chunks = NULL;

  if (text == NULL || length == 0)
    return leases;
  /* A copy ends at the first NUL, as a text file should. */
  copy = g_strndup (text, length);
  chunks = g_strsplit (copy, "}", -1);
  for (gsize i = 0; chunks[i] != NULL; i++)
    {
      const char *open = strchr (chunks[i], '{');
      HolderVzLease *lease;

      if (open == NULL)
        continue;
      lease = parse_record (open + 1);
      if (lease != NULL)
        g_ptr_array_add (leases, lease);
    }
  return leases;
}

const HolderVzLease *
holder_vz_leases_lookup_hostname (GPtrArray  *leases,
                                  const char *hostname)
{
  g_return_val_if_fail (leases != NULL, NULL);
  g_return_val_if_fail (hostname != NULL, NULL);

  for (guint i = 0; i < leases->len; i++)
    {
      const HolderVzLease *lease = g_ptr_array_index (leases, i);

      if (g_strcmp0 (lease->name, hostname) == 0)
        return lease;
    }
  return NULL;
}

char *
holder_vz_leases_lookup_file (const char  *path,
                              const char  *hostname,
                              GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GPtrArray) leases = NULL;
  const HolderVzLease *lease;
  gsize length = 0;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (hostname != NULL, NULL);

  if (!g_file_get_contents (path, &text, &length, &local_error))
    {
      g_set_error (error, local_error->domain, local_error->code, "read leases file: %s",
                   local_error->message);
      return NULL;
    }
  leases = holder_vz_leases_parse (text, length);
  lease = holder_vz_leases_lookup_hostname (leases, hostname);
  return lease != NULL ? g_strdup (lease->ip) : NULL;
}

gboolean
holder_vz_mac_parse (const char *text,
                     guint8      out[6])
{
  const char *p = text;

  g_return_val_if_fail (out != NULL, FALSE);
  if (text == NULL)
    return FALSE;
  for (guint i = 0; i < 6; i++)
    {
      guint value = 0;
      guint digits = 0;

      while (g_ascii_isxdigit (*p) && digits < 3)
        {
          value = value * 16 + (guint) g_ascii_xdigit_value (*p);
          p++;
          digits++;
        }
      if (digits == 0 || digits > 2)
        return FALSE;
      out[i] = (guint8) value;
      if (i < 5 && *p++ != ':')
        return FALSE;
    }
  return *p == '\0';
}
