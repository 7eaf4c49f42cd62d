/* holder-test-ctl.c: see holder-test-ctl.h.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-test"

#include <stdarg.h>

#include "holder-test-ctl.h"
#include "holder-test-util.h"

void
ctl_env (const char *const *envp,
         HolderTestRun     *r,
         const char *const *args)
{
  const char *holderctl = g_getenv ("HOLDER_TEST_HOLDERCTL");
  const char *wrapper = g_getenv ("HOLDER_TEST_HELPER_WRAPPER");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) wrapper_argv = NULL;

  g_assert_nonnull (holderctl);
  /* tools/dev valgrind runs holderctl under memcheck too: a finding makes
   * its exit status 99, which no test expects. */
  if (wrapper != NULL && wrapper[0] != '\0')
    {
      g_assert_true (g_shell_parse_argv (wrapper, NULL, &wrapper_argv, NULL));
      for (guint i = 0; wrapper_argv[i] != NULL; i++)
        g_ptr_array_add (argv, wrapper_argv[i]);
    }
  g_ptr_array_add (argv, (gpointer) holderctl);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  holder_test_run ((const char *const *) argv->pdata, envp, scaled (30000), r);
  g_test_message ("holderctl%s%s -> %d\n%s%s", args[0] != NULL ? " " : "",
                  args[0] != NULL ? args[0] : "", r->status, r->out, r->err);
}

void
ctl (Sandbox       *sb,
     HolderTestRun *r,
     const char    *first_arg,
     ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  va_list ap;

  va_start (ap, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  ctl_env ((const char *const *) sb->env, r, (const char *const *) args->pdata);
}

GPid
spawn_detached (Sandbox           *sb,
                const char *const *names)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderHelper) helper =
    holder_helper_spawn (sb->program, names, (const char *const *) sb->env,
                         HOLDER_SPAWN_FLAGS_DETACHED, &error);
  GPid pid;

  g_assert_no_error (error);
  pid = holder_helper_get_pid (helper);
  track_pid (pid);
  /* Spawning waits for the primary only; the others register after it. */
  wait_ready (sb, NULL, pid, names, FALSE);
  return pid;
}

GError *
boot_member (Sandbox    *sb,
             const char *primary,
             const char *name,
             const char *serial_log)
{
  g_autoptr(HolderReservation) reservation = NULL;
  g_autoptr(HolderMemberSpec) spec = holder_member_spec_new (name);
  g_autofree char *subnet = NULL;
  GError *error = NULL;

  g_assert_true (holder_client_create_network (sb->root, primary, &subnet, &error));
  g_assert_no_error (error);
  reservation = holder_client_reserve (sb->root, primary, name, NULL, &error);
  g_assert_no_error (error);
  g_free (spec->disk_path);
  spec->disk_path = g_strdup_printf ("/nonexistent/%s.raw", name);
  spec->cpus = 1;
  spec->memory_bytes = 256 * 1024 * 1024;
  spec->serial_log_path = g_strdup (serial_log);
  holder_client_boot_member (sb->root, primary, spec, scaled (10000), &error);
  return error;
}

void
kill_store_helpers (Sandbox *sb)
{
  g_autofree char *clusters = g_build_filename (sb->root, "clusters", NULL);
  g_autoptr(GDir) dir = g_dir_open (clusters, 0, NULL);
  const char *cluster;

  while (dir != NULL && (cluster = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (clusters, cluster, NULL);
      g_autoptr(GDir) members = g_dir_open (path, 0, NULL);
      const char *name;

      while (members != NULL && (name = g_dir_read_name (members)) != NULL)
        {
          GPid pid = read_pidfile (sb, name);

          if (pid > 0 && pid != getpid ())
            kill_and_wait_gone (pid);
        }
    }
}

static JsonNode *
parse (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

JsonArray *
parse_json_array (const char *text)
{
  g_autoptr(JsonNode) root = parse (text);

  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));
  return json_array_ref (json_node_get_array (root));
}

JsonObject *
parse_json_object (const char *text)
{
  g_autoptr(JsonNode) root = parse (text);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

JsonObject *
find_member (JsonArray  *array,
             const char *name)
{
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *member = json_array_get_object_element (array, i);

      if (g_strcmp0 (json_object_get_string_member (member, "name"), name) == 0)
        return member;
    }
  return NULL;
}

const char *
json_string_or_null (JsonObject *object,
                     const char *key)
{
  JsonNode *node = json_object_get_member (object, key);

  g_assert_nonnull (node);
  if (JSON_NODE_HOLDS_NULL (node))
    return NULL;
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_STRING);
  return json_node_get_string (node);
}

typedef enum { STRING, STRING_OR_NULL, INT_OR_NULL, BOOLEAN } FieldType;

static void
assert_field (JsonObject *object,
              const char *key,
              FieldType   type)
{
  JsonNode *node = json_object_get_member (object, key);

  if (node == NULL)
    g_error ("member object without \"%s\"", key);
  if ((type == STRING_OR_NULL || type == INT_OR_NULL) && JSON_NODE_HOLDS_NULL (node))
    return;
  g_assert_true (JSON_NODE_HOLDS_VALUE (node));
  switch (type)
    {
    case STRING:
    case STRING_OR_NULL:
      g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_STRING);
      break;
    case INT_OR_NULL:
      g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_INT64);
      break;
    case BOOLEAN:
    default:
      g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_BOOLEAN);
      break;
    }
}

void
assert_member_schema (JsonObject *member)
{
  static const struct { const char *key; FieldType type; } fields[] = {
    { "name", STRING }, { "cluster", STRING }, { "state", STRING }, { "running", BOOLEAN },
    { "ip", STRING }, { "error", STRING_OR_NULL }, { "pid", INT_OR_NULL },
    { "backend", STRING_OR_NULL }, { "uptime_seconds", INT_OR_NULL }, { "liveness", STRING },
    { "stale_reason", STRING_OR_NULL }, { "console_log", STRING },
  };
  static const char *const states[] = {
    "downloading", "starting", "running", "stopped", "error", "unknown", NULL,
  };
  static const char *const livenesses[] = { "live", "stale", "none", NULL };
  const char *liveness;

  g_assert_cmpuint (json_object_get_size (member), ==, G_N_ELEMENTS (fields));
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    assert_field (member, fields[i].key, fields[i].type);
  g_assert_true (g_strv_contains (states, json_object_get_string_member (member, "state")));
  liveness = json_object_get_string_member (member, "liveness");
  g_assert_true (g_strv_contains (livenesses, liveness));
  /* A reason exactly when stale; an uptime only when live. */
  g_assert_true ((json_string_or_null (member, "stale_reason") != NULL) ==
                 g_str_equal (liveness, "stale"));
  if (!g_str_equal (liveness, "live"))
    g_assert_true (json_object_get_null_member (member, "uptime_seconds"));
  g_assert_true (g_path_is_absolute (json_object_get_string_member (member, "console_log")));
}
