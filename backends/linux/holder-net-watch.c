/* SPDX-License-Identifier: MIT
 *
 * Link and neighbour notifications for the readiness probe (see
 * holder-net-watch.h). One non-blocking rtnetlink socket per process,
 * shared by every watch, read by one GSource on the main context: the
 * kernel pushes what changed, nothing here polls or blocks.
 */
#define G_LOG_DOMAIN "holder-net-watch"

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "holder-net-watch.h"

#define MAC_LEN 6

struct _HolderNetWatch {
  char               *link;
  guint8              mac[MAC_LEN];
  gboolean            has_mac;
  guint32             ip;        /* network byte order */
  gboolean            has_ip;
  gboolean            carrier;   /* last seen on @link */
  guint               pending;   /* signs (1 << HolderNetSign) not yet told */
  HolderNetWatchFunc  func;
  gpointer            user_data;
};

/* Process-wide, main context only (no locks: one thread). */
static struct {
  struct nl_sock *sock;
  struct nl_cb   *cb;
  GSource        *source;
  GMainContext   *context;
  GList          *watches;
} monitor;

static void
monitor_close (void)
{
  if (monitor.source != NULL)
    {
      g_source_destroy (monitor.source);
      g_clear_pointer (&monitor.source, g_source_unref);
    }
  g_clear_pointer (&monitor.cb, nl_cb_put);
  g_clear_pointer (&monitor.sock, nl_socket_free);
}

/* Every watch, as if each had a sign: after lost notifications. */
static void
monitor_mark_all (void)
{
  for (GList *l = monitor.watches; l != NULL; l = l->next)
    ((HolderNetWatch *) l->data)->pending |= 1u << HOLDER_NET_SIGN_LOST;
}

static void
on_link (struct nlmsghdr *nlh)
{
  struct nlattr *tb[IFLA_MAX + 1];
  const struct ifinfomsg *ifi;
  gboolean carrier;

  if (nlmsg_parse (nlh, sizeof *ifi, tb, IFLA_MAX, NULL) < 0 || tb[IFLA_IFNAME] == NULL)
    return;
  ifi = nlmsg_data (nlh);
  carrier = (ifi->ifi_flags & IFF_LOWER_UP) != 0;
  for (GList *l = monitor.watches; l != NULL; l = l->next)
    {
      HolderNetWatch *watch = l->data;

      if (watch->link == NULL || nla_strcmp (tb[IFLA_IFNAME], watch->link) != 0)
        continue;
      /* Only a carrier that comes up: a tap changes for other reasons. */
      if (carrier && !watch->carrier)
        watch->pending |= 1u << HOLDER_NET_SIGN_CARRIER;
      watch->carrier = carrier;
    }
}

static void
on_neigh (struct nlmsghdr *nlh)
{
  struct nlattr *tb[NDA_MAX + 1];
  const struct ndmsg *ndm;

  if (nlmsg_parse (nlh, sizeof *ndm, tb, NDA_MAX, NULL) < 0)
    return;
  ndm = nlmsg_data (nlh);
  for (GList *l = monitor.watches; l != NULL; l = l->next)
    {
      HolderNetWatch *watch = l->data;

      /* A bridge learnt the guest's MAC: its first frame. */
      if (ndm->ndm_family == AF_BRIDGE && watch->has_mac && tb[NDA_LLADDR] != NULL &&
          nla_len (tb[NDA_LLADDR]) == MAC_LEN &&
          memcmp (nla_data (tb[NDA_LLADDR]), watch->mac, MAC_LEN) == 0)
        watch->pending |= 1u << HOLDER_NET_SIGN_FRAME;
      /* The guest answered for its address (no permanent entry here). */
      else if (ndm->ndm_family == AF_INET && watch->has_ip && tb[NDA_DST] != NULL &&
               nla_len (tb[NDA_DST]) == sizeof watch->ip &&
               memcmp (nla_data (tb[NDA_DST]), &watch->ip, sizeof watch->ip) == 0 &&
               (ndm->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE)) != 0)
        watch->pending |= 1u << HOLDER_NET_SIGN_NEIGHBOUR;
    }
}

static int
on_message (struct nl_msg *msg,
            void          *arg)
{
  struct nlmsghdr *nlh = nlmsg_hdr (msg);

  if (nlh->nlmsg_type == RTM_NEWLINK)
    on_link (nlh);
  else if (nlh->nlmsg_type == RTM_NEWNEIGH)
    on_neigh (nlh);
  return NL_OK;
}

/* Notifications carry no sequence number of ours. */
static int
on_seq_check (struct nl_msg *msg,
              void          *arg)
{
  return NL_OK;
}

static gboolean
on_readable (int          fd,
             GIOCondition condition,
             gpointer     user_data)
{
  int n;

  /* Everything queued, then the watches: a burst of notifications makes
   * one call per watch. */
  while ((n = nl_recvmsgs_report (monitor.sock, monitor.cb)) > 0)
    ;
  if (n == -NLE_NOMEM)
    {
      /* ENOBUFS: the kernel dropped notifications; any of them may have
       * been a sign. The socket itself is fine. */
      g_debug ("netlink notifications were lost");
      monitor_mark_all ();
    }
  else if (n < 0 && n != -NLE_AGAIN)
    {
      /* Not worth a spin on a broken socket: the probes keep their own
       * schedule without it. */
      g_debug ("netlink watch ends: %s", nl_geterror (n));
      monitor_mark_all ();
      monitor_close ();
    }

  /* A watch's function may free any watch, itself included: start over
   * after each call (its sign is cleared first, so this ends). */
restart:
  for (GList *l = monitor.watches; l != NULL; l = l->next)
    {
      HolderNetWatch *watch = l->data;
      HolderNetSign sign;

      if (watch->pending == 0)
        continue;
      sign = (HolderNetSign) g_bit_nth_lsf (watch->pending, -1);
      watch->pending &= ~(1u << sign);
      watch->func (sign, watch->user_data);
      goto restart;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
monitor_open (GMainContext *context)
{
  int err;

  monitor.sock = nl_socket_alloc ();
  monitor.cb = nl_cb_alloc (NL_CB_DEFAULT);
  if (monitor.sock == NULL || monitor.cb == NULL)
    {
      monitor_close ();
      return FALSE;
    }
  nl_cb_set (monitor.cb, NL_CB_VALID, NL_CB_CUSTOM, on_message, NULL);
  nl_cb_set (monitor.cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, on_seq_check, NULL);
  err = nl_connect (monitor.sock, NETLINK_ROUTE);
  if (err >= 0)
    err = nl_socket_add_memberships (monitor.sock, RTNLGRP_LINK, RTNLGRP_NEIGH, 0);
  if (err >= 0)
    err = nl_socket_set_nonblocking (monitor.sock);
  if (err < 0)
    {
      g_debug ("cannot watch netlink: %s", nl_geterror (err));
      monitor_close ();
      return FALSE;
    }
  monitor.source = g_unix_fd_source_new (nl_socket_get_fd (monitor.sock), G_IO_IN);
  g_source_set_callback (monitor.source, G_SOURCE_FUNC (on_readable), NULL, NULL);
  g_source_set_static_name (monitor.source, "holder-net-watch");
  g_source_attach (monitor.source, context);
  return TRUE;
}

static gboolean
parse_mac (const char *text,
           guint8     *out)
{
  unsigned int b[MAC_LEN];
  char end;

  if (sscanf (text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
              &end) != MAC_LEN)
    return FALSE;
  for (guint i = 0; i < MAC_LEN; i++)
    out[i] = (guint8) b[i];
  return TRUE;
}

HolderNetWatch *
holder_net_watch_new (const char         *link,
                      const char         *mac,
                      const char         *ip,
                      HolderNetWatchFunc  func,
                      gpointer            user_data)
{
  GMainContext *context = g_main_context_get_thread_default ();
  HolderNetWatch *watch;

  g_return_val_if_fail (func != NULL, NULL);

  if (context == NULL)
    context = g_main_context_default ();
  if (monitor.watches != NULL && monitor.context != context)
    return NULL;
  if (monitor.sock == NULL)
    {
      /* The first watch, or the socket broke: (re)open it. */
      if (monitor.watches == NULL)
        monitor.context = context;
      if (!monitor_open (monitor.context))
        return NULL;
    }

  watch = g_new0 (HolderNetWatch, 1);
  watch->link = g_strdup (link);
  watch->has_mac = mac != NULL && parse_mac (mac, watch->mac);
  watch->has_ip = ip != NULL && inet_pton (AF_INET, ip, &watch->ip) == 1;
  watch->func = func;
  watch->user_data = user_data;
  monitor.watches = g_list_prepend (monitor.watches, watch);
  return watch;
}

void
holder_net_watch_free (HolderNetWatch *watch)
{
  if (watch == NULL)
    return;
  monitor.watches = g_list_remove (monitor.watches, watch);
  if (monitor.watches == NULL)
    {
      monitor_close ();
      monitor.context = NULL;
    }
  g_free (watch->link);
  g_free (watch);
}
