/* SPDX-License-Identifier: MIT
 *
 * The kernel primitives of the cluster network: netlink through
 * libnl-route-3, nf_tables through libnftables, taps through /dev/net/tun,
 * forwarding through /proc/sys. Each call is one round trip and does one
 * thing. A round trip can wait on the kernel's locks, so callers run them
 * on a worker thread with handles of their own. The ordering that keeps
 * the records truthful lives in holder-linux-net.c.
 *
 * Every deletion treats a missing object as deleted, so that close and
 * reconcile are idempotent.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct nl_sock HolderNetSock;

/* An IPv4 prefix, host byte order. */
typedef struct {
  guint32 address;
  guint   length;
} HolderNetPrefix;

/* Whether the effective capability set holds CAP_NET_ADMIN. */
gboolean holder_net_has_net_admin (void);

HolderNetSock *holder_net_sock_open (GError **error);
void holder_net_sock_free (HolderNetSock *sock);

/* Whether the two prefixes share at least one address. */
gboolean holder_net_prefix_overlaps (const HolderNetPrefix *a,
                                     const HolderNetPrefix *b);

/* Every IPv4 address on any interface (with its prefix) and every route
 * outside the local table, except default routes, and except what is on
 * (or only routed through) link @except_ifindex when it is > 0. */
GArray *holder_net_list_busy_prefixes (HolderNetSock *sock,
                                       int            except_ifindex,
                                       GError       **error);

/* The interface of the route the kernel would pick towards a public
 * address (an RTM_GETROUTE question: no packet is sent), or NULL when
 * there is no such route. */
char *holder_net_find_uplink (HolderNetSock *sock);

gboolean holder_net_link_exists (HolderNetSock *sock,
                                 const char    *name,
                                 gboolean      *out_exists,
                                 GError       **error);

gboolean holder_net_link_ifindex (HolderNetSock *sock,
                                  const char    *name,
                                  int           *out_ifindex,
                                  GError       **error);

/* Creates bridge @name and brings it up. */
gboolean holder_net_bridge_create (HolderNetSock *sock,
                                   const char    *name,
                                   GError       **error);

/* Adds @cidr ("192.168.2.1/24") to link @name. */
gboolean holder_net_address_add (HolderNetSock *sock,
                                 const char    *name,
                                 const char    *cidr,
                                 GError       **error);
/* Deletes it; a missing address or link counts as deleted. */
gboolean holder_net_address_delete (HolderNetSock *sock,
                                    const char    *name,
                                    const char    *cidr,
                                    GError       **error);

/* Creates the persistent tap @name, enslaves it to @bridge, brings it up. */
gboolean holder_net_tap_create (HolderNetSock *sock,
                                const char    *name,
                                const char    *bridge,
                                GError       **error);

/* Deletes the link and confirms it is gone; a missing link is fine. */
gboolean holder_net_link_delete (HolderNetSock *sock,
                                 const char    *name,
                                 GError       **error);

/* Installs (or replaces) the permanent neighbour entry @ip -> @mac
 * ("52:54:00:12:34:56") on @ifname, so that the kernel sends to the guest
 * at once instead of resolving its address first (ARP, retried once a
 * second while the guest is not up). Entries live on the link: deleting
 * it removes them. */
gboolean holder_net_neigh_set (HolderNetSock *sock,
                               const char    *ifname,
                               const char    *ip,
                               const char    *mac,
                               GError       **error);
/* Deletes the neighbour entry of @ip on @ifname; a missing entry or link
 * counts as deleted. */
gboolean holder_net_neigh_delete (HolderNetSock *sock,
                                  const char    *ifname,
                                  const char    *ip,
                                  GError       **error);

/* The `ip` table named @bridge: masquerade of @subnet leaving through any
 * other interface, drop of new connections towards @subnet that do not
 * come from the bridge. */
gboolean holder_net_table_install (const char *bridge,
                                   const char *subnet,
                                   GError    **error);
gboolean holder_net_table_exists (const char *bridge,
                                  gboolean   *out_exists,
                                  GError    **error);
/* Deletes the table; a missing table is fine. */
gboolean holder_net_table_delete (const char *bridge,
                                  GError    **error);
/* `list table ip <bridge>` as nft prints it, for tests and debugging. */
char *holder_net_table_dump (const char *bridge,
                             GError    **error);

/* /proc/sys/net/ipv4/conf/<ifname>/forwarding, "0" or "1". */
char *holder_net_forwarding_read (const char *ifname,
                                  GError    **error);
gboolean holder_net_forwarding_write (const char *ifname,
                                      const char *value,
                                      GError    **error);

/* The processes of this network namespace (other than this one) holding a
 * tun fd attached to @tap: orphaned VMMs. Of GPid. */
GArray *holder_net_tap_users (const char *tap);

/* "4242 (cloud-hypervisor)", for reports. */
char *holder_net_process_describe (GPid pid);

/* SIGKILLs those processes, or those of @users (from
 * holder_net_tap_users) that still hold @tap, through a pidfd so that a
 * pid reused meanwhile is never hit, and waits briefly for them to go.
 * Blocks for up to 200 ms: never call it on the main loop. Returns the
 * pids killed. */
GArray *holder_net_kill_tap_users (const char *tap,
                                   GArray     *users);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderNetSock, holder_net_sock_free)

G_END_DECLS
