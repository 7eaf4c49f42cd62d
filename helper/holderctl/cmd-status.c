/* cmd-status.c: `holderctl status MEMBER...`: everything known of each
 * member, its helper's status first.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include <time.h>

#include "holderctl.h"

static void
print_field (HolderctlContext *ctx,
             const char       *key,
             const char       *value,
             HolderctlColor    color)
{
  g_autofree char *painted = holderctl_paint (ctx, color, value);

  printf ("  %-10s %s\n", key, painted);
}

static void
print_member (HolderctlContext      *ctx,
              const HolderctlMember *m)
{
  g_autofree char *name = holderctl_paint (ctx, HOLDERCTL_COLOR_BOLD, m->name);
  g_autofree char *helper = NULL;
  g_autofree char *uptime = NULL;

  if (m->pid > 0)
    helper = g_strdup_printf ("pid %d, %s", (int) m->pid, holderctl_liveness_to_string (m->liveness));
  else
    helper = g_strdup (m->liveness == HOLDERCTL_LIVENESS_NONE ? "none"
                       : holderctl_liveness_to_string (m->liveness));
  printf ("%s\n", name);
  print_field (ctx, "cluster:", m->cluster, HOLDERCTL_COLOR_NONE);
  print_field (ctx, "state:", m->state, holderctl_state_color (m->state));
  print_field (ctx, "running:", m->running ? "yes" : "no", HOLDERCTL_COLOR_NONE);
  print_field (ctx, "ip:", m->ip[0] != '\0' ? m->ip : "-", HOLDERCTL_COLOR_NONE);
  if (m->error != NULL)
    print_field (ctx, "error:", m->error, HOLDERCTL_COLOR_RED);
  print_field (ctx, "helper:", helper,
               m->liveness == HOLDERCTL_LIVENESS_STALE ? HOLDERCTL_COLOR_RED : HOLDERCTL_COLOR_NONE);
  if (m->stale_reason != NULL)
    print_field (ctx, "stale:", m->stale_reason, HOLDERCTL_COLOR_RED);
  print_field (ctx, "backend:", m->backend != NULL ? m->backend : "-", HOLDERCTL_COLOR_NONE);
  if (m->liveness == HOLDERCTL_LIVENESS_LIVE && m->registered > 0)
    {
      uptime = holderctl_format_age ((gint64) time (NULL) - m->registered);
      print_field (ctx, "uptime:", uptime, HOLDERCTL_COLOR_NONE);
    }
  print_field (ctx, "console:", m->console, HOLDERCTL_COLOR_NONE);
}

int
holderctl_cmd_status (HolderctlContext *ctx,
                      int               argc,
                      char            **argv)
{
  g_autoptr(JsonArray) array = json_array_new ();
  int status = HOLDERCTL_EXIT_OK;
  gboolean first = TRUE;

  if (!holderctl_parse_options (ctx, &argc, &argv, "status MEMBER...",
                                "Show everything known of each member: its helper's status "
                                "(state, IP, error),\nthe helper's pid and liveness, the "
                                "backend, the uptime and the console log.", NULL))
    return HOLDERCTL_EXIT_USAGE;
  if (argc < 2)
    return holderctl_usage_error ("status", "name at least one member");

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(HolderctlMember) member = NULL;

      if (!holderctl_member_exists (ctx->root, argv[i]))
        {
          status = holderctl_fail (HOLDERCTL_EXIT_ABSENT, "no member \"%s\" in %s (holderctl ls "
                                   "lists them)", argv[i], ctx->root);
          continue;
        }
      member = holderctl_member_probe (ctx->root, argv[i]);
      if (ctx->json)
        json_array_add_element (array, holderctl_member_to_json (member));
      else
        {
          if (!first)
            printf ("\n");
          first = FALSE;
          print_member (ctx, member);
        }
    }

  if (ctx->json)
    {
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_ARRAY);

      json_node_set_array (node, array);
      holderctl_print_json (node);
    }
  return status;
}
