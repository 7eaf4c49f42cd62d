/* holder-linux-net-nft.c: the cluster's nftables table, through
 * libnftables (see holder-linux-net-host.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-linux-net"

#include <errno.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "holder-backend.h"
#include "holder-linux-net-host.h"

static gboolean
nft_error_means_no_nf_tables (const char *message)
{
  return strstr (message, "Protocol not supported") != NULL ||
         strstr (message, "Operation not supported") != NULL ||
         strstr (message, "Address family not supported") != NULL;
}

/* Runs one libnftables command (a library call, not a process). */
static gboolean
nft_run (const char  *command,
         char       **out_output,
         GError     **error)
{
  struct nft_ctx *ctx = nft_ctx_new (NFT_CTX_DEFAULT);
  int rc;

  if (ctx == NULL)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "nftables: cannot create a context");
      return FALSE;
    }
  nft_ctx_buffer_output (ctx);
  nft_ctx_buffer_error (ctx);

  rc = nft_run_cmd_from_buffer (ctx, command);
  if (rc != 0)
    {
      g_autofree char *message = g_strdup (nft_ctx_get_error_buffer (ctx));

      g_strstrip (message);
      if (strstr (message, "Operation not permitted") != NULL)
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                     "needs root (CAP_NET_ADMIN) to change nftables: %s", message);
      else if (nft_error_means_no_nf_tables (message))
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                     "the kernel has no nf_tables support "
                     "(load the nf_tables module): %s", message);
      else
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                     "nftables: %s", message[0] != '\0' ? message : "command failed");
      nft_ctx_free (ctx);
      return FALSE;
    }

  if (out_output != NULL)
    *out_output = g_strdup (nft_ctx_get_output_buffer (ctx));
  nft_ctx_free (ctx);
  return TRUE;
}

gboolean
holder_net_table_install (const char *bridge,
                          const char *subnet,
                          GError    **error)
{
  g_autofree char *command = NULL;

  /* One transaction: the table appears with both rules or not at all.
   * Replies to guest-initiated traffic pass (ct state established), and
   * so does everything that comes from the bridge itself. */
  command = g_strdup_printf (
    "add table ip %s\n"
    "add chain ip %s postrouting "
      "{ type nat hook postrouting priority srcnat; policy accept; }\n"
    "add rule ip %s postrouting "
      "ip saddr %s oifname != \"%s\" masquerade\n"
    "add chain ip %s forward "
      "{ type filter hook forward priority filter; policy accept; }\n"
    "add rule ip %s forward "
      "ip daddr %s iifname != \"%s\" ct state new drop\n",
    bridge, bridge, bridge, subnet, bridge, bridge, bridge, subnet, bridge);

  if (!nft_run (command, NULL, error))
    {
      g_prefix_error (error, "install nft table %s: ", bridge);
      return FALSE;
    }
  return TRUE;
}

gboolean
holder_net_table_exists (const char *bridge,
                         gboolean   *out_exists,
                         GError    **error)
{
  g_autofree char *listing = NULL;
  g_autofree char *wanted = g_strdup_printf ("table ip %s", bridge);
  g_auto(GStrv) lines = NULL;

  if (!nft_run ("list tables ip", &listing, error))
    {
      g_prefix_error (error, "list nft tables: ");
      return FALSE;
    }
  lines = g_strsplit (listing, "\n", -1);
  *out_exists = FALSE;
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (strcmp (g_strstrip (lines[i]), wanted) == 0)
        *out_exists = TRUE;
    }
  return TRUE;
}

gboolean
holder_net_table_delete (const char *bridge,
                         GError    **error)
{
  g_autofree char *command = NULL;
  gboolean exists = TRUE;

  /* nft 1.0.6 has no `destroy`: look first, so a missing table is done. */
  if (!holder_net_table_exists (bridge, &exists, error))
    return FALSE;
  if (!exists)
    return TRUE;

  command = g_strdup_printf ("delete table ip %s", bridge);
  if (!nft_run (command, NULL, error))
    {
      g_prefix_error (error, "delete nft table %s: ", bridge);
      return FALSE;
    }

  if (!holder_net_table_exists (bridge, &exists, error))
    return FALSE;
  if (exists)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "delete nft table %s: still present after deletion", bridge);
      return FALSE;
    }
  return TRUE;
}

char *
holder_net_table_dump (const char *bridge,
                       GError    **error)
{
  g_autofree char *command = g_strdup_printf ("list table ip %s", bridge);
  char *output = NULL;

  if (!nft_run (command, &output, error))
    return NULL;
  return output;
}
