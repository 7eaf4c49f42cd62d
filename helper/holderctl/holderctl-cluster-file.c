/* holderctl-cluster-file.c: the small JSON description `holderctl up`
 * boots: a backend and a list of members, each a MemberSpec of protocol v2
 * (same key names) plus an address hint. See holderctl(1).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include <string.h>

#include "holderctl.h"

#define DEFAULT_CPUS 1
#define DEFAULT_MEMORY_BYTES (G_GUINT64_CONSTANT (512) * 1024 * 1024)

static void
cluster_member_free (HolderctlClusterMember *member)
{
  holder_member_spec_free (member->spec);
  g_free (member->ip_hint);
  g_free (member);
}

void
holderctl_cluster_free (HolderctlCluster *cluster)
{
  if (cluster == NULL)
    return;
  g_free (cluster->path);
  g_free (cluster->backend);
  g_ptr_array_unref (cluster->members);
  g_free (cluster);
}

static gboolean
bad (GError    **error,
     const char *path,
     const char *where,
     const char *format,
     ...) G_GNUC_PRINTF (4, 5);

static gboolean
bad (GError    **error,
     const char *path,
     const char *where,
     const char *format,
     ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT, "%s: %s%s%s", path,
               where != NULL ? where : "", where != NULL ? ": " : "", message);
  return FALSE;
}

/* "512M", "2GiB", "1073741824": binary units. */
static gboolean
parse_size (const char *text,
            guint64    *out_bytes)
{
  static const struct { const char *suffix; guint64 factor; } units[] = {
    { "", 1 }, { "K", 1024 }, { "KiB", 1024 }, { "M", 1024 * 1024 }, { "MiB", 1024 * 1024 },
    { "G", G_GUINT64_CONSTANT (1) << 30 }, { "GiB", G_GUINT64_CONSTANT (1) << 30 },
  };
  char *end = NULL;
  guint64 value;

  if (!g_ascii_isdigit (text[0]))
    return FALSE;
  value = g_ascii_strtoull (text, &end, 10);
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_str_equal (end, units[i].suffix))
      {
        if (value > G_MAXUINT64 / units[i].factor)
          return FALSE;
        *out_bytes = value * units[i].factor;
        return TRUE;
      }
  return FALSE;
}

static char *
absolute (const char *base_dir,
          const char *path)
{
  if (path == NULL || path[0] == '\0')
    return NULL;
  return g_canonicalize_filename (path, base_dir);
}

static gboolean
get_string (JsonNode    *node,
            const char **out)
{
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
get_int (JsonNode *node,
         gint64   *out)
{
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (node);
  return TRUE;
}

static HolderctlClusterMember *
parse_member (JsonNode    *node,
              guint        index,
              const char  *path,
              const char  *base_dir,
              GError     **error)
{
  g_autofree char *where = g_strdup_printf ("members[%u]", index);
  HolderctlClusterMember *member;
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autofree char *ip_hint = NULL;
  g_autoptr(GList) keys = NULL;
  JsonObject *object;
  const char *name = NULL;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      bad (error, path, where, "not an object");
      return NULL;
    }
  object = json_node_get_object (node);
  if (!json_object_has_member (object, "name") ||
      !get_string (json_object_get_member (object, "name"), &name))
    {
      bad (error, path, where, "no \"name\" (a string)");
      return NULL;
    }
  if (!holder_name_validate (name, error))
    {
      g_prefix_error (error, "%s: %s: ", path, where);
      return NULL;
    }
  g_free (where);
  where = g_strdup_printf ("member %s", name);

  spec = holder_member_spec_new (name);
  spec->cpus = DEFAULT_CPUS;
  spec->memory_bytes = DEFAULT_MEMORY_BYTES;
  keys = json_object_get_members (object);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonNode *value = json_object_get_member (object, key);
      const char *text = NULL;
      char **target = NULL;
      gint64 number = 0;

      if (g_str_equal (key, "name"))
        continue;
      if (g_str_equal (key, "kernel_path"))
        target = &spec->kernel_path;
      else if (g_str_equal (key, "initramfs_path"))
        target = &spec->initramfs_path;
      else if (g_str_equal (key, "disk_path"))
        target = &spec->disk_path;
      else if (g_str_equal (key, "seed_path"))
        target = &spec->seed_path;
      else if (g_str_equal (key, "efi_path"))
        target = &spec->efi_path;
      else if (g_str_equal (key, "serial_log_path"))
        target = &spec->serial_log_path;

      if (target != NULL)
        {
          if (!get_string (value, &text))
            {
              bad (error, path, where, "\"%s\" must be a string (a path)", key);
              return NULL;
            }
          g_free (*target);
          *target = absolute (base_dir, text);
        }
      else if (g_str_equal (key, "cmdline") || g_str_equal (key, "ip_hint"))
        {
          if (!get_string (value, &text))
            {
              bad (error, path, where, "\"%s\" must be a string", key);
              return NULL;
            }
          if (g_str_equal (key, "cmdline"))
            {
              g_free (spec->cmdline);
              spec->cmdline = g_strdup (text);
            }
          else
            {
              g_free (ip_hint);
              ip_hint = g_strdup (text);
            }
        }
      else if (g_str_equal (key, "cpus"))
        {
          if (!get_int (value, &number) || number < 1)
            {
              bad (error, path, where, "\"cpus\" must be a whole number of at least 1");
              return NULL;
            }
          spec->cpus = number;
        }
      else if (g_str_equal (key, "memory_bytes") || g_str_equal (key, "memory"))
        {
          guint64 bytes = 0;

          if (get_int (value, &number) && number > 0)
            bytes = (guint64) number;
          else if (!get_string (value, &text) || !parse_size (text, &bytes))
            {
              bad (error, path, where, "\"%s\" must be a size such as 512M, 2G or a number "
                   "of bytes", key);
              return NULL;
            }
          spec->memory_bytes = bytes;
        }
      else if (g_str_equal (key, "fixture_paths"))
        {
          JsonArray *array;
          g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

          if (!JSON_NODE_HOLDS_ARRAY (value))
            {
              bad (error, path, where, "\"fixture_paths\" must be a list of paths");
              return NULL;
            }
          array = json_node_get_array (value);
          for (guint i = 0; i < json_array_get_length (array); i++)
            {
              if (!get_string (json_array_get_element (array, i), &text))
                {
                  bad (error, path, where, "\"fixture_paths\" must be a list of paths");
                  return NULL;
                }
              g_ptr_array_add (paths, absolute (base_dir, text));
            }
          g_ptr_array_add (paths, NULL);
          g_strfreev (spec->fixture_paths);
          spec->fixture_paths = (char **) g_ptr_array_free (g_steal_pointer (&paths), FALSE);
        }
      else
        {
          bad (error, path, where, "unknown key \"%s\"", key);
          return NULL;
        }
    }

  if (spec->disk_path == NULL)
    spec->disk_path = g_strdup ("");
  if (spec->seed_path == NULL)
    spec->seed_path = g_strdup ("");
  member = g_new0 (HolderctlClusterMember, 1);
  member->spec = g_steal_pointer (&spec);
  member->ip_hint = g_steal_pointer (&ip_hint);
  return member;
}

HolderctlCluster *
holderctl_cluster_load (const char  *path,
                        GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(HolderctlCluster) cluster = g_new0 (HolderctlCluster, 1);
  g_autoptr(GList) keys = NULL;
  g_autofree char *base_dir = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonObject *object;
  JsonArray *members = NULL;

  cluster->path = g_canonicalize_filename (path, NULL);
  cluster->members = g_ptr_array_new_with_free_func ((GDestroyNotify) cluster_member_free);
  base_dir = g_path_get_dirname (cluster->path);

  if (!json_parser_load_from_file (parser, path, &local_error))
    {
      bad (error, path, NULL, "%s", local_error->message);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      bad (error, path, NULL, "not a JSON object with \"members\"");
      return NULL;
    }
  object = json_node_get_object (json_parser_get_root (parser));
  keys = json_object_get_members (object);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      const char *key = l->data;
      JsonNode *value = json_object_get_member (object, key);
      const char *text = NULL;

      if (g_str_equal (key, "backend"))
        {
          if (!get_string (value, &text) || text[0] == '\0')
            {
              bad (error, path, NULL, "\"backend\" must be a backend's name (holderctl doctor "
                   "lists them)");
              return NULL;
            }
          cluster->backend = g_strdup (text);
        }
      else if (g_str_equal (key, "members"))
        {
          if (!JSON_NODE_HOLDS_ARRAY (value))
            {
              bad (error, path, NULL, "\"members\" must be a list of members");
              return NULL;
            }
          members = json_node_get_array (value);
        }
      else
        {
          bad (error, path, NULL, "unknown key \"%s\" (known: backend, members)", key);
          return NULL;
        }
    }
  if (members == NULL || json_array_get_length (members) == 0)
    {
      bad (error, path, NULL, "no members: give \"members\": [{\"name\": \"web-1\", ...}]");
      return NULL;
    }

  for (guint i = 0; i < json_array_get_length (members); i++)
    {
      HolderctlClusterMember *member = parse_member (json_array_get_element (members, i), i,
                                                     path, base_dir, error);

      if (member == NULL)
        return NULL;
      for (guint j = 0; j < cluster->members->len; j++)
        {
          HolderctlClusterMember *other = g_ptr_array_index (cluster->members, j);

          if (g_str_equal (other->spec->name, member->spec->name))
            {
              bad (error, path, NULL, "member %s appears twice", member->spec->name);
              cluster_member_free (member);
              return NULL;
            }
        }
      g_ptr_array_add (cluster->members, member);
    }
  return g_steal_pointer (&cluster);
}
