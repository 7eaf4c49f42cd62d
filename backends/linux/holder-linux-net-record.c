/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "holder-linux-net"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "holder-backend.h"
#include "holder-linux-net-dir.h"
#include "holder-linux-net-record.h"

#define NAME_HEX_DIGITS 8

/* ---- names -------------------------------------------------------------- */

char *
holder_net_random_name (const char *prefix)
{
  /* A fresh seed from the kernel each time: the global generator's state
   * is copied into forked children, which would then pick the same names
   * as their parent. */
  g_autoptr(GRand) rand = g_rand_new ();

  return g_strdup_printf ("%s%08x", prefix, g_rand_int (rand));
}

gboolean
holder_net_name_is_valid (const char *name,
                          const char *prefix)
{
  const char *hex;

  if (name == NULL || !g_str_has_prefix (name, prefix))
    return FALSE;
  hex = name + strlen (prefix);
  if (strlen (hex) != NAME_HEX_DIGITS)
    return FALSE;
  for (; *hex != '\0'; hex++)
    {
      if (!g_ascii_isxdigit (*hex) || g_ascii_isupper (*hex))
        return FALSE;
    }
  return TRUE;
}

/* An uplink is whatever the host calls it; only what could escape the
 * /proc/sys/net/ipv4/conf/ folder or name a global switch is refused. */
static gboolean
uplink_name_is_valid (const char *name)
{
  gsize len = name != NULL ? strlen (name) : 0;

  return len > 0 && len < 16 && strchr (name, '/') == NULL &&
         strcmp (name, ".") != 0 && strcmp (name, "..") != 0 &&
         strcmp (name, "all") != 0 && strcmp (name, "default") != 0;
}

/* ---- owners ------------------------------------------------------------- */

char *
holder_net_boot_id (void)
{
  g_autofree char *contents = NULL;

  if (!g_file_get_contents ("/proc/sys/kernel/random/boot_id", &contents, NULL, NULL))
    return g_strdup ("");
  return g_strdup (g_strstrip (contents));
}

/* Field 22 of /proc/<pid>/stat, counted after the last ')' because the
 * command name may hold spaces and parentheses. 0 when unknown. */
static guint64
process_start_time (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *contents = NULL;
  g_auto(GStrv) fields = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  paren = strrchr (contents, ')');
  if (paren == NULL || paren[1] != ' ')
    return 0;
  /* Field 3 (state) is the first after ')', so field 22 is the 20th. */
  fields = g_strsplit (paren + 2, " ", 21);
  if (g_strv_length (fields) < 20)
    return 0;
  return g_ascii_strtoull (fields[19], NULL, 10);
}

gboolean
holder_net_owner_init_self (HolderNetOwner *owner,
                            GError        **error)
{
  owner->pid = getpid ();
  owner->start_time = process_start_time (owner->pid);
  owner->boot_id = holder_net_boot_id ();
  if (owner->start_time == 0)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "read own start time from /proc/self/stat: unreadable");
      return FALSE;
    }
  return TRUE;
}

void
holder_net_owner_clear (HolderNetOwner *owner)
{
  g_clear_pointer (&owner->boot_id, g_free);
}

gboolean
holder_net_owner_is_alive (const HolderNetOwner *owner)
{
  g_autofree char *boot_id = holder_net_boot_id ();

  if (g_strcmp0 (owner->boot_id, boot_id) != 0)
    return FALSE;
  if (!holder_pid_is_alive (owner->pid))
    return FALSE;
  return process_start_time (owner->pid) == owner->start_time;
}

/* ---- files -------------------------------------------------------------- */

/* @name of the namespace folder as a JSON object, if the file is trusted. */
static JsonObject *
load_object (HolderNetDir  *dir,
             const char    *name,
             JsonParser    *parser,
             GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  JsonNode *root;

  if (!holder_net_dir_read (dir, name, &contents, &len, error))
    return NULL;
  if (!json_parser_load_from_data (parser, contents, (gssize) len, &local_error))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                   "%s/%s: %s", dir->path, name, local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                   "%s/%s: not a JSON object", dir->path, name);
      return NULL;
    }
  return json_node_get_object (root);
}

/* The member's string, NULL when absent or null; @ok turns FALSE when it
 * is present with another type. */
static const char *
member_string (JsonObject *object,
               const char *key,
               gboolean   *ok)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      *ok = FALSE;
      return NULL;
    }
  return json_node_get_string (node);
}

static gboolean
member_uint (JsonObject *object,
             const char *key,
             guint64    *out)
{
  JsonNode *node = json_object_get_member (object, key);
  gint64 value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  value = json_node_get_int (node);
  if (value < 0)
    return FALSE;
  *out = (guint64) value;
  return TRUE;
}

static void
add_string (JsonBuilder *builder,
            const char  *key,
            const char  *value)
{
  json_builder_set_member_name (builder, key);
  if (value == NULL)
    json_builder_add_null_value (builder);
  else
    json_builder_add_string_value (builder, value);
}

/* One line of compact JSON and a newline. */
static char *
builder_to_line (JsonBuilder *builder,
                 gsize       *out_len)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, FALSE);
  char *line = g_strconcat (text, "\n", NULL);

  *out_len = strlen (line);
  return line;
}

/* ---- records ------------------------------------------------------------ */

HolderNetRecord *
holder_net_record_new (void)
{
  HolderNetRecord *record = g_new0 (HolderNetRecord, 1);

  record->taps = g_ptr_array_new_with_free_func (g_free);
  return record;
}

void
holder_net_record_free (HolderNetRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->bridge);
  g_free (record->subnet);
  holder_net_owner_clear (&record->owner);
  g_free (record->uplink);
  g_free (record->uplink_forwarding_original);
  g_ptr_array_unref (record->taps);
  g_free (record);
}

char *
holder_net_record_name (const char *bridge)
{
  return g_strconcat (bridge, ".json", NULL);
}

gboolean
holder_net_name_is_record (const char *name)
{
  g_autofree char *bridge = NULL;

  if (!g_str_has_suffix (name, ".json"))
    return FALSE;
  bridge = g_strndup (name, strlen (name) - strlen (".json"));
  return holder_net_name_is_valid (bridge, HOLDER_NET_BRIDGE_PREFIX);
}

gboolean
holder_net_record_has_tap (const HolderNetRecord *record,
                           const char            *tap)
{
  for (guint i = 0; i < record->taps->len; i++)
    {
      if (strcmp (g_ptr_array_index (record->taps, i), tap) == 0)
        return TRUE;
    }
  return FALSE;
}

gboolean
holder_net_record_save (const HolderNetRecord *record,
                        HolderNetDir          *dir,
                        GError               **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *name = holder_net_record_name (record->bridge);
  g_autofree char *line = NULL;
  gsize len;

  json_builder_begin_object (builder);
  add_string (builder, "bridge", record->bridge);
  add_string (builder, "subnet", record->subnet);
  json_builder_set_member_name (builder, "owner_pid");
  json_builder_add_int_value (builder, record->owner.pid);
  json_builder_set_member_name (builder, "owner_start_time");
  json_builder_add_int_value (builder, (gint64) record->owner.start_time);
  add_string (builder, "owner_boot_id", record->owner.boot_id);
  add_string (builder, "uplink", record->uplink);
  add_string (builder, "uplink_forwarding_original", record->uplink_forwarding_original);
  json_builder_set_member_name (builder, "taps");
  json_builder_begin_array (builder);
  for (guint i = 0; i < record->taps->len; i++)
    json_builder_add_string_value (builder, g_ptr_array_index (record->taps, i));
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  line = builder_to_line (builder, &len);

  if (!holder_net_dir_write (dir, name, line, len, error))
    {
      g_prefix_error (error, "write record of %s: ", record->bridge);
      return FALSE;
    }
  return TRUE;
}

static gboolean
record_read_taps (HolderNetRecord *record,
                  JsonObject      *object)
{
  JsonNode *node = json_object_get_member (object, "taps");
  JsonArray *taps;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  taps = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (taps); i++)
    {
      JsonNode *element = json_array_get_element (taps, i);
      const char *tap;

      if (!JSON_NODE_HOLDS_VALUE (element) ||
          json_node_get_value_type (element) != G_TYPE_STRING)
        return FALSE;
      tap = json_node_get_string (element);
      if (!holder_net_name_is_valid (tap, HOLDER_NET_TAP_PREFIX))
        return FALSE;
      g_ptr_array_add (record->taps, g_strdup (tap));
    }
  return TRUE;
}

HolderNetRecord *
holder_net_record_load (HolderNetDir *dir,
                        const char   *base,
                        GError      **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(HolderNetRecord) record = holder_net_record_new ();
  g_autofree char *expected_base = NULL;
  JsonObject *object;
  guint64 pid = 0;
  gboolean ok = TRUE;
  const char *bridge;

  object = load_object (dir, base, parser, error);
  if (object == NULL)
    return NULL;

  bridge = member_string (object, "bridge", &ok);
  record->subnet = g_strdup (member_string (object, "subnet", &ok));
  record->owner.boot_id = g_strdup (member_string (object, "owner_boot_id", &ok));
  record->uplink = g_strdup (member_string (object, "uplink", &ok));
  record->uplink_forwarding_original =
    g_strdup (member_string (object, "uplink_forwarding_original", &ok));
  ok = ok && member_uint (object, "owner_pid", &pid) && pid > 0 && pid <= G_MAXINT;
  ok = ok && member_uint (object, "owner_start_time", &record->owner.start_time);
  ok = ok && record_read_taps (record, object);
  ok = ok && holder_net_name_is_valid (bridge, HOLDER_NET_BRIDGE_PREFIX);
  ok = ok && record->subnet != NULL;
  ok = ok && (record->uplink == NULL || uplink_name_is_valid (record->uplink));
  if (ok)
    {
      /* A record describes the bridge it is named after, nothing else. */
      expected_base = g_strconcat (bridge, ".json", NULL);
      ok = strcmp (base, expected_base) == 0;
    }
  if (!ok)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                   "%s/%s: not a valid network record", dir->path, base);
      return NULL;
    }

  record->bridge = g_strdup (bridge);
  record->owner.pid = (GPid) pid;
  return g_steal_pointer (&record);
}

/* ---- uplink markers ----------------------------------------------------- */

HolderNetMarker *
holder_net_marker_new (const char *uplink,
                       const char *original,
                       const char *boot_id)
{
  HolderNetMarker *marker = g_new0 (HolderNetMarker, 1);

  marker->uplink = g_strdup (uplink);
  marker->original = g_strdup (original);
  marker->boot_id = g_strdup (boot_id);
  return marker;
}

void
holder_net_marker_free (HolderNetMarker *marker)
{
  if (marker == NULL)
    return;
  g_free (marker->uplink);
  g_free (marker->original);
  g_free (marker->boot_id);
  g_free (marker);
}

char *
holder_net_marker_name (const char *uplink)
{
  return g_strconcat (HOLDER_NET_MARKER_PREFIX, uplink, ".json", NULL);
}

gboolean
holder_net_name_is_marker (const char *name)
{
  return g_str_has_prefix (name, HOLDER_NET_MARKER_PREFIX) &&
         g_str_has_suffix (name, ".json");
}

gboolean
holder_net_marker_save (const HolderNetMarker *marker,
                        HolderNetDir          *dir,
                        GError               **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *name = holder_net_marker_name (marker->uplink);
  g_autofree char *line = NULL;
  gsize len;

  json_builder_begin_object (builder);
  add_string (builder, "uplink", marker->uplink);
  add_string (builder, "original", marker->original);
  add_string (builder, "boot_id", marker->boot_id);
  json_builder_end_object (builder);
  line = builder_to_line (builder, &len);
  if (!holder_net_dir_write (dir, name, line, len, error))
    {
      g_prefix_error (error, "write forwarding marker of %s: ", marker->uplink);
      return FALSE;
    }
  return TRUE;
}

HolderNetMarker *
holder_net_marker_load (HolderNetDir *dir,
                        const char   *base,
                        GError      **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *expected_base = NULL;
  JsonObject *object;
  const char *uplink;
  const char *original;
  const char *boot_id;
  gboolean ok = TRUE;

  object = load_object (dir, base, parser, error);
  if (object == NULL)
    return NULL;

  uplink = member_string (object, "uplink", &ok);
  original = member_string (object, "original", &ok);
  boot_id = member_string (object, "boot_id", &ok);
  ok = ok && uplink_name_is_valid (uplink);
  ok = ok && (g_strcmp0 (original, "0") == 0 || g_strcmp0 (original, "1") == 0);
  if (ok)
    {
      expected_base = g_strconcat (HOLDER_NET_MARKER_PREFIX, uplink, ".json", NULL);
      ok = strcmp (base, expected_base) == 0;
    }
  if (!ok)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                   "%s/%s: not a valid forwarding marker", dir->path, base);
      return NULL;
    }
  return holder_net_marker_new (uplink, original, boot_id);
}
