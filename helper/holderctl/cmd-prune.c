/* cmd-prune.c: `holderctl prune [--dry-run]`: every installed backend's
 * reconcile (links, tables, records, domains, processes of dead helpers),
 * then the store's stale sockets and pidfiles; each piece is printed.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include "holderctl.h"

typedef struct {
  HolderctlContext *ctx;
  const char       *source;  /* a backend's name, or "store" */
  gboolean          dry_run;
  guint             count;
  JsonArray        *json;
} Pruning;

static void
on_reclaimed (const char *kind,
              const char *what,
              gpointer    user_data)
{
  Pruning *p = user_data;

  p->count++;
  if (p->ctx->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "source");
      json_builder_add_string_value (builder, p->source);
      json_builder_set_member_name (builder, "kind");
      json_builder_add_string_value (builder, kind);
      json_builder_set_member_name (builder, "what");
      json_builder_add_string_value (builder, what);
      json_builder_set_member_name (builder, "removed");
      json_builder_add_boolean_value (builder, !p->dry_run);
      json_builder_end_object (builder);
      json_array_add_element (p->json, json_builder_get_root (builder));
      return;
    }
  printf ("%s %s %s (%s)\n", p->dry_run ? "would remove" : "removed", kind, what, p->source);
  fflush (stdout);
}

/* Every backend that loads here, unless @only names some. */
static GPtrArray *
backends_to_reconcile (char **only)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) installed = NULL;

  if (only != NULL)
    {
      for (guint i = 0; only[i] != NULL; i++)
        g_ptr_array_add (names, g_strdup (only[i]));
      return names;
    }
  installed = holder_backend_list ();
  for (guint i = 0; i < installed->len; i++)
    {
      HolderBackendInfo *info = g_ptr_array_index (installed, i);

      if (info->loads)
        g_ptr_array_add (names, g_strdup (info->name));
    }
  return names;
}

int
holderctl_cmd_prune (HolderctlContext *ctx,
                     int               argc,
                     char            **argv)
{
  gboolean dry_run = FALSE;
  g_auto(GStrv) only = NULL;
  GOptionEntry entries[] = {
    { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, "Change nothing; print what would be removed", NULL },
    { "backend", 'b', 0, G_OPTION_ARG_STRING_ARRAY, &only,
      "Reconcile only this backend (repeatable; default: every installed one)", "NAME" },
    { NULL },
  };
  g_autoptr(GPtrArray) backends = NULL;
  g_autoptr(JsonArray) json = json_array_new ();
  g_autoptr(GError) error = NULL;
  Pruning p = { 0 };
  gboolean failed = FALSE;

  if (!holderctl_parse_options (ctx, &argc, &argv, "prune [--dry-run] [--backend NAME]...",
                                "Reclaim what dead helpers left: each backend's host state "
                                "(links, tables,\nrecords, domains, processes), then the store's "
                                "stale sockets and pidfiles.", entries))
    return HOLDERCTL_EXIT_USAGE;
  if (argc > 1)
    return holderctl_usage_error ("prune", "unexpected argument \"%s\"", argv[1]);

  p.ctx = ctx;
  p.dry_run = dry_run;
  p.json = json;
  backends = backends_to_reconcile (only);
  for (guint i = 0; i < backends->len; i++)
    {
      const char *name = g_ptr_array_index (backends, i);
      const HolderBackendClass *klass = holder_backend_lookup (name, &error);

      p.source = name;
      if (klass == NULL ||
          !holder_backend_reconcile (klass, ctx->root,
                                     dry_run ? HOLDER_RECONCILE_FLAGS_DRY_RUN
                                             : HOLDER_RECONCILE_FLAGS_NONE,
                                     on_reclaimed, &p, &error))
        {
          /* A backend nobody asked for that cannot reach its host state
           * (no libvirtd here, say) holds nothing to reclaim: a warning.
           * One asked for by name must work. */
          if (only != NULL)
            {
              holderctl_fail (HOLDERCTL_EXIT_FAILURE, "prune: %s: %s", name, error->message);
              failed = TRUE;
            }
          else
            holderctl_fail (HOLDERCTL_EXIT_OK, "prune: skipped the %s backend: %s (holderctl "
                            "doctor says why)", name, error->message);
          g_clear_error (&error);
        }
    }

  p.source = "store";
  if (!holder_store_prune (ctx->root, dry_run, on_reclaimed, &p, &error))
    {
      holderctl_fail (HOLDERCTL_EXIT_FAILURE, "prune: %s", error->message);
      failed = TRUE;
    }

  if (ctx->json)
    {
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_ARRAY);

      json_node_set_array (node, json);
      holderctl_print_json (node);
    }
  else if (p.count == 0 && !failed)
    printf ("Nothing to prune.\n");
  return failed ? HOLDERCTL_EXIT_FAILURE : HOLDERCTL_EXIT_OK;
}
