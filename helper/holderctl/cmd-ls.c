/* cmd-ls.c: `holderctl ls` (alias `list`): one row per member of the store.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include <time.h>

#include "holderctl.h"

static const char *const headings[] = {
  "CLUSTER", "MEMBER", "STATE", "IP", "PID", "BACKEND", "UPTIME", "HELPER", NULL,
};

static void
add_row (HolderctlTable        *table,
         const HolderctlMember *m)
{
  g_autofree char *pid = m->pid > 0 ? g_strdup_printf ("%d", (int) m->pid) : g_strdup ("-");
  g_autofree char *uptime = NULL;
  const char *cells[G_N_ELEMENTS (headings)];
  HolderctlColor colors[G_N_ELEMENTS (headings)] = { 0 };

  if (m->liveness == HOLDERCTL_LIVENESS_LIVE && m->registered > 0)
    uptime = holderctl_format_age ((gint64) time (NULL) - m->registered);
  cells[0] = m->cluster;
  cells[1] = m->name;
  cells[2] = m->state;
  cells[3] = m->ip[0] != '\0' ? m->ip : "-";
  cells[4] = pid;
  cells[5] = m->backend != NULL ? m->backend : "-";
  cells[6] = uptime != NULL ? uptime : "-";
  cells[7] = m->liveness == HOLDERCTL_LIVENESS_NONE ? "-" : holderctl_liveness_to_string (m->liveness);
  colors[2] = holderctl_state_color (m->state);
  colors[7] = m->liveness == HOLDERCTL_LIVENESS_STALE ? HOLDERCTL_COLOR_RED : HOLDERCTL_COLOR_NONE;
  holderctl_table_add_row (table, cells, colors);
}

int
holderctl_cmd_ls (HolderctlContext *ctx,
                  int               argc,
                  char            **argv)
{
  g_autofree char *cluster = NULL;
  GOptionEntry entries[] = {
    { "cluster", 'c', 0, G_OPTION_ARG_STRING, &cluster, "Only this cluster's members", "CLUSTER" },
    { NULL },
  };
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func ((GDestroyNotify) holderctl_member_free);
  g_autoptr(HolderctlTable) table = NULL;
  gboolean any_stale = FALSE;

  if (!holderctl_parse_options (ctx, &argc, &argv, "ls [--cluster CLUSTER]",
                                "List the members of the store: their state, IP, helper pid, "
                                "backend, uptime,\nand whether their helper is live or stale.",
                                entries))
    return HOLDERCTL_EXIT_USAGE;
  if (argc > 1)
    return holderctl_usage_error ("ls", "unexpected argument \"%s\"", argv[1]);

  names = holderctl_member_names (ctx->root, cluster);
  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add (members, holderctl_member_probe (ctx->root, g_ptr_array_index (names, i)));

  if (ctx->json)
    {
      g_autoptr(JsonArray) array = json_array_new ();
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_ARRAY);

      for (guint i = 0; i < members->len; i++)
        json_array_add_element (array, holderctl_member_to_json (g_ptr_array_index (members, i)));
      json_node_set_array (node, array);
      holderctl_print_json (node);
    }
  else if (members->len == 0)
    printf ("No members in %s%s%s.\n", ctx->root, cluster != NULL ? " in cluster " : "",
            cluster != NULL ? cluster : "");
  else
    {
      table = holderctl_table_new (headings);
      for (guint i = 0; i < members->len; i++)
        add_row (table, g_ptr_array_index (members, i));
      holderctl_table_print (table, ctx, stdout);
      for (guint i = 0; i < members->len; i++)
        {
          HolderctlMember *m = g_ptr_array_index (members, i);

          if (m->liveness != HOLDERCTL_LIVENESS_STALE)
            continue;
          if (!any_stale)
            printf ("\n");
          any_stale = TRUE;
          printf ("%s is stale: %s\n", m->name, m->stale_reason);
        }
    }

  if (cluster != NULL && !holderctl_cluster_exists (ctx->root, cluster))
    return holderctl_fail (HOLDERCTL_EXIT_ABSENT, "no cluster \"%s\" in %s", cluster, ctx->root);
  return HOLDERCTL_EXIT_OK;
}
