/* cmd-complete.c: `holderctl __complete WHAT`, for the shell completions
 * (completion/): the store's member or cluster names, one per line. Never
 * fails loudly: a completion has nothing to say to the user.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include "holderctl.h"

int
holderctl_cmd_complete (HolderctlContext *ctx,
                        int               argc,
                        char            **argv)
{
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GHashTable) seen = NULL;

  if (!holderctl_parse_options (ctx, &argc, &argv, "__complete members|running|clusters",
                                "Names for shell completion.", NULL) ||
      argc != 2)
    return HOLDERCTL_EXIT_USAGE;

  names = holderctl_member_names (ctx->root, NULL);
  if (g_str_equal (argv[1], "members"))
    {
      for (guint i = 0; i < names->len; i++)
        printf ("%s\n", (const char *) g_ptr_array_index (names, i));
    }
  else if (g_str_equal (argv[1], "running"))
    {
      for (guint i = 0; i < names->len; i++)
        if (holder_store_member_is_served (ctx->root, g_ptr_array_index (names, i), NULL))
          printf ("%s\n", (const char *) g_ptr_array_index (names, i));
    }
  else if (g_str_equal (argv[1], "clusters"))
    {
      seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      for (guint i = 0; i < names->len; i++)
        {
          char *cluster = holder_store_cluster_name (g_ptr_array_index (names, i));

          if (g_hash_table_add (seen, cluster))
            printf ("%s\n", cluster);
        }
    }
  else
    return HOLDERCTL_EXIT_USAGE;
  return HOLDERCTL_EXIT_OK;
}
