/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "holder-linux-net"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <signal.h>
#include <string.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include "holder-backend.h"
#include "holder-linux-net-host.h"

#define CAP_NET_ADMIN_BIT 12

/* Never the global switch, conf/all or conf/default: only named links. */
static gboolean
ifname_is_valid (const char *ifname)
{
  gsize len = strlen (ifname);

  return len > 0 && len < IFNAMSIZ && strchr (ifname, '/') == NULL &&
         strcmp (ifname, ".") != 0 && strcmp (ifname, "..") != 0 &&
         strcmp (ifname, "all") != 0 && strcmp (ifname, "default") != 0;
}

static int
nl_error_code (int err)
{
  err = err < 0 ? -err : err;
  return (err == NLE_PERM) ? HOLDER_ERROR_PERMISSION_DENIED : HOLDER_ERROR_BACKEND;
}

static gboolean
set_nl_error (GError    **error,
              int         err,
              const char *what,
              const char *name)
{
  g_set_error (error, HOLDER_ERROR, nl_error_code (err), "%s %s: %s",
               what, name, nl_geterror (err));
  return FALSE;
}

static gboolean
set_errno_error (GError    **error,
                 int         saved_errno,
                 const char *what,
                 const char *name)
{
  g_set_error (error, HOLDER_ERROR,
               (saved_errno == EPERM || saved_errno == EACCES)
                 ? HOLDER_ERROR_PERMISSION_DENIED : HOLDER_ERROR_BACKEND,
               "%s %s: %s", what, name, g_strerror (saved_errno));
  return FALSE;
}

gboolean
holder_net_has_net_admin (void)
{
  g_autofree char *status = NULL;
  const char *line;
  guint64 caps;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return FALSE;
  line = strstr (status, "\nCapEff:");
  if (line == NULL)
    return FALSE;
  caps = g_ascii_strtoull (line + strlen ("\nCapEff:"), NULL, 16);
  return (caps & (G_GUINT64_CONSTANT (1) << CAP_NET_ADMIN_BIT)) != 0;
}

/* ---- netlink ------------------------------------------------------------ */

HolderNetSock *
holder_net_sock_open (GError **error)
{
  struct nl_sock *sock = nl_socket_alloc ();
  int err;

  if (sock == NULL)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "open netlink socket: out of memory");
      return NULL;
    }
  err = nl_connect (sock, NETLINK_ROUTE);
  if (err < 0)
    {
      nl_socket_free (sock);
      set_nl_error (error, err, "open netlink", "socket");
      return NULL;
    }
  return sock;
}

void
holder_net_sock_free (HolderNetSock *sock)
{
  if (sock != NULL)
    nl_socket_free (sock);
}

gboolean
holder_net_prefix_overlaps (const HolderNetPrefix *a,
                            const HolderNetPrefix *b)
{
  guint length = MIN (a->length, b->length);
  guint32 mask = length == 0 ? 0 : G_MAXUINT32 << (32 - length);

  return (a->address & mask) == (b->address & mask);
}

static gboolean
prefix_from_nl_addr (struct nl_addr  *addr,
                     HolderNetPrefix *out)
{
  guint32 be;

  if (addr == NULL || nl_addr_get_family (addr) != AF_INET ||
      nl_addr_get_len (addr) != sizeof be)
    return FALSE;
  memcpy (&be, nl_addr_get_binary_addr (addr), sizeof be);
  out->address = ntohl (be);
  out->length = MIN (nl_addr_get_prefixlen (addr), 32u);
  return TRUE;
}

typedef struct {
  GArray *busy;
  int     except_ifindex;
} BusyScan;

static void
collect_address (struct nl_object *object,
                 void             *user_data)
{
  struct rtnl_addr *addr = (struct rtnl_addr *) object;
  BusyScan *scan = user_data;
  GArray *busy = scan->busy;
  HolderNetPrefix prefix;

  if (scan->except_ifindex > 0 && rtnl_addr_get_ifindex (addr) == scan->except_ifindex)
    return;
  if (!prefix_from_nl_addr (rtnl_addr_get_local (addr), &prefix))
    return;
  prefix.length = (guint) MIN (MAX (rtnl_addr_get_prefixlen (addr), 0), 32);
  g_array_append_val (busy, prefix);
}

/* Whether every next hop of @route leaves through @ifindex. */
static gboolean
route_only_via (struct rtnl_route *route,
                int                ifindex)
{
  int n = rtnl_route_get_nnexthops (route);

  if (ifindex <= 0 || n <= 0)
    return FALSE;
  for (int i = 0; i < n; i++)
    {
      if (rtnl_route_nh_get_ifindex (rtnl_route_nexthop_n (route, i)) != ifindex)
        return FALSE;
    }
  return TRUE;
}

static void
collect_route (struct nl_object *object,
               void             *user_data)
{
  struct rtnl_route *route = (struct rtnl_route *) object;
  BusyScan *scan = user_data;
  GArray *busy = scan->busy;
  HolderNetPrefix prefix;

  /* The local table only mirrors the addresses; a default route would
   * otherwise overlap everything. */
  if (rtnl_route_get_table (route) == RT_TABLE_LOCAL)
    return;
  if (route_only_via (route, scan->except_ifindex))
    return;
  if (!prefix_from_nl_addr (rtnl_route_get_dst (route), &prefix) ||
      prefix.length == 0)
    return;
  g_array_append_val (busy, prefix);
}

GArray *
holder_net_list_busy_prefixes (HolderNetSock *sock,
                               int            except_ifindex,
                               GError       **error)
{
  g_autoptr(GArray) busy = g_array_new (FALSE, FALSE, sizeof (HolderNetPrefix));
  BusyScan scan = { busy, except_ifindex };
  struct nl_cache *cache = NULL;
  int err;

  err = rtnl_addr_alloc_cache (sock, &cache);
  if (err < 0)
    {
      set_nl_error (error, err, "list", "addresses");
      return NULL;
    }
  nl_cache_foreach (cache, collect_address, &scan);
  nl_cache_free (cache);

  err = rtnl_route_alloc_cache (sock, AF_INET, 0, &cache);
  if (err < 0)
    {
      set_nl_error (error, err, "list", "routes");
      return NULL;
    }
  nl_cache_foreach (cache, collect_route, &scan);
  nl_cache_free (cache);

  return g_steal_pointer (&busy);
}

static char *
link_name_of_index (HolderNetSock *sock,
                    int            ifindex)
{
  struct rtnl_link *link = NULL;
  char *name;

  if (ifindex <= 0 || rtnl_link_get_kernel (sock, ifindex, NULL, &link) < 0)
    return NULL;
  name = g_strdup (rtnl_link_get_name (link));
  rtnl_link_put (link);
  return name;
}

char *
holder_net_find_uplink (HolderNetSock *sock)
{
  /* Any public address will do: the kernel only answers which route it
   * would take. */
  static const guint8 public_address[4] = { 1, 1, 1, 1 };
  struct nl_addr *dst = nl_addr_build (AF_INET, public_address, sizeof public_address);
  struct rtnl_route *route = NULL;
  struct rtnl_nexthop *nexthop;
  char *uplink = NULL;
  int err;

  if (dst == NULL)
    return NULL;
  err = rtnl_route_lookup (sock, dst, &route);
  nl_addr_put (dst);
  if (err < 0)
    {
      g_debug ("no route towards a public address: %s", nl_geterror (err));
      return NULL;
    }

  if (rtnl_route_get_nnexthops (route) > 0)
    {
      nexthop = rtnl_route_nexthop_n (route, 0);
      uplink = link_name_of_index (sock, rtnl_route_nh_get_ifindex (nexthop));
    }
  rtnl_route_put (route);

  /* Routed through lo means unreachable in practice: no uplink. */
  if (uplink != NULL && (strcmp (uplink, "lo") == 0 || !ifname_is_valid (uplink)))
    g_clear_pointer (&uplink, g_free);
  return uplink;
}

static int
link_get (HolderNetSock     *sock,
          const char        *name,
          struct rtnl_link **out_link)
{
  return rtnl_link_get_kernel (sock, 0, name, out_link);
}

static gboolean
link_is_missing_error (int err)
{
  err = err < 0 ? -err : err;
  return err == NLE_OBJ_NOTFOUND || err == NLE_NODEV;
}

gboolean
holder_net_link_exists (HolderNetSock *sock,
                        const char    *name,
                        gboolean      *out_exists,
                        GError       **error)
{
  struct rtnl_link *link = NULL;
  int err = link_get (sock, name, &link);

  if (err >= 0)
    {
      rtnl_link_put (link);
      *out_exists = TRUE;
      return TRUE;
    }
  if (link_is_missing_error (err))
    {
      *out_exists = FALSE;
      return TRUE;
    }
  return set_nl_error (error, err, "look up link", name);
}

/* Brings @name up and, when @master_ifindex > 0, enslaves it first (one
 * RTM_NEWLINK). */
static gboolean
link_set_up (HolderNetSock *sock,
             const char    *name,
             int            master_ifindex,
             GError       **error)
{
  struct rtnl_link *link = NULL;
  struct rtnl_link *change;
  int err;

  err = link_get (sock, name, &link);
  if (err < 0)
    return set_nl_error (error, err, "look up link", name);

  change = rtnl_link_alloc ();
  if (master_ifindex > 0)
    rtnl_link_set_master (change, master_ifindex);
  rtnl_link_set_flags (change, IFF_UP);
  err = rtnl_link_change (sock, link, change, 0);
  rtnl_link_put (change);
  rtnl_link_put (link);
  if (err < 0)
    return set_nl_error (error, err,
                         master_ifindex > 0 ? "attach and bring up" : "bring up",
                         name);
  return TRUE;
}

gboolean
holder_net_link_ifindex (HolderNetSock *sock,
                         const char    *name,
                         int           *out_ifindex,
                         GError       **error)
{
  struct rtnl_link *link = NULL;
  int err = link_get (sock, name, &link);

  if (err < 0)
    return set_nl_error (error, err, "look up link", name);
  *out_ifindex = rtnl_link_get_ifindex (link);
  rtnl_link_put (link);
  return TRUE;
}

/* Adds (@add) or deletes @cidr on link @name. */
static gboolean
link_change_address (HolderNetSock *sock,
                     const char    *name,
                     const char    *cidr,
                     gboolean       add,
                     GError       **error)
{
  struct rtnl_link *link = NULL;
  struct rtnl_addr *addr;
  struct nl_addr *local = NULL;
  int err;

  err = link_get (sock, name, &link);
  if (err < 0)
    return set_nl_error (error, err, "look up link", name);

  err = nl_addr_parse (cidr, AF_INET, &local);
  if (err < 0)
    {
      rtnl_link_put (link);
      return set_nl_error (error, err, "parse address", cidr);
    }

  addr = rtnl_addr_alloc ();
  rtnl_addr_set_ifindex (addr, rtnl_link_get_ifindex (link));
  rtnl_addr_set_local (addr, local);
  err = add ? rtnl_addr_add (sock, addr, 0) : rtnl_addr_delete (sock, addr, 0);
  rtnl_addr_put (addr);
  nl_addr_put (local);
  rtnl_link_put (link);
  /* Deleting an address that is gone already is done. */
  if (err < 0 && !(!add && (link_is_missing_error (err) || err == -NLE_NOADDR)))
    {
      g_autofree char *what = g_strdup_printf (add ? "add address %s to" : "delete address %s from",
                                               cidr);
      return set_nl_error (error, err, what, name);
    }
  return TRUE;
}

gboolean
holder_net_address_add (HolderNetSock *sock,
                        const char    *name,
                        const char    *cidr,
                        GError       **error)
{
  return link_change_address (sock, name, cidr, TRUE, error);
}

gboolean
holder_net_address_delete (HolderNetSock *sock,
                           const char    *name,
                           const char    *cidr,
                           GError       **error)
{
  return link_change_address (sock, name, cidr, FALSE, error);
}

gboolean
holder_net_bridge_create (HolderNetSock *sock,
                          const char    *name,
                          GError       **error)
{
  struct rtnl_link *bridge = rtnl_link_bridge_alloc ();
  int err;

  struct nl_addr *address;
  guint8 mac[6];

  if (bridge == NULL)
    return set_errno_error (error, ENOMEM, "create bridge", name);
  rtnl_link_set_name (bridge, name);
  /* A bridge without an address of its own takes the lowest of its
   * ports', so adding a tap could change it; a changed address flushes
   * every neighbour entry on the bridge, permanent ones included (and
   * leaves the guests' ARP caches pointing at the old gateway). A random
   * locally administered unicast address of its own never changes. */
  for (guint i = 0; i < G_N_ELEMENTS (mac); i++)
    mac[i] = (guint8) g_random_int_range (0, 256);
  mac[0] = (guint8) ((mac[0] & 0xfe) | 0x02);
  address = nl_addr_build (AF_LLC, mac, sizeof mac);
  rtnl_link_set_addr (bridge, address);
  nl_addr_put (address);
  err = rtnl_link_add (sock, bridge, NLM_F_CREATE | NLM_F_EXCL);
  rtnl_link_put (bridge);
  if (err < 0)
    return set_nl_error (error, err, "create bridge", name);

  return link_set_up (sock, name, 0, error);
}

static gboolean
tap_create_persistent (const char *name,
                       GError    **error)
{
  struct ifreq ifr = { 0 };
  int fd;

  fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return set_errno_error (error, errno, "open /dev/net/tun for", name);

  /* The flags a VMM opens it with later (cloud-hypervisor: one queue pair,
   * virtio-net header). */
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  g_strlcpy (ifr.ifr_name, name, sizeof ifr.ifr_name);
  if (ioctl (fd, TUNSETIFF, &ifr) < 0 || ioctl (fd, TUNSETPERSIST, 1) < 0)
    {
      int saved_errno = errno;
      close (fd);
      return set_errno_error (error, saved_errno, "create tap", name);
    }
  close (fd);
  return TRUE;
}

gboolean
holder_net_tap_create (HolderNetSock *sock,
                       const char    *name,
                       const char    *bridge,
                       GError       **error)
{
  struct rtnl_link *master = NULL;
  int master_ifindex;
  int err;

  err = link_get (sock, bridge, &master);
  if (err < 0)
    return set_nl_error (error, err, "look up bridge", bridge);
  master_ifindex = rtnl_link_get_ifindex (master);
  rtnl_link_put (master);

  return tap_create_persistent (name, error) &&
         link_set_up (sock, name, master_ifindex, error);
}

gboolean
holder_net_link_delete (HolderNetSock *sock,
                        const char    *name,
                        GError       **error)
{
  struct rtnl_link *link = rtnl_link_alloc ();
  gboolean exists = TRUE;
  int err;

  rtnl_link_set_name (link, name);
  err = rtnl_link_delete (sock, link);
  rtnl_link_put (link);
  if (err < 0 && !link_is_missing_error (err))
    return set_nl_error (error, err, "delete link", name);

  /* Confirmed gone, not just asked to go: the record depends on it. */
  if (!holder_net_link_exists (sock, name, &exists, error))
    return FALSE;
  if (exists)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "delete link %s: still present after deletion", name);
      return FALSE;
    }
  return TRUE;
}

/* ---- neighbour entries ---------------------------------------------------- */

/* A neighbour object for @ip on @ifname, or NULL with @error set. */
static struct rtnl_neigh *
neigh_new (HolderNetSock *sock,
           const char    *ifname,
           const char    *ip,
           gboolean      *out_link_missing,
           GError       **error)
{
  struct rtnl_link *link = NULL;
  struct rtnl_neigh *neigh;
  struct nl_addr *dst = NULL;
  int err;

  *out_link_missing = FALSE;
  err = nl_addr_parse (ip, AF_INET, &dst);
  if (err < 0 || nl_addr_get_family (dst) != AF_INET || nl_addr_get_prefixlen (dst) != 32)
    {
      if (dst != NULL)
        nl_addr_put (dst);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "%s is not an IPv4 address", ip);
      return NULL;
    }
  err = link_get (sock, ifname, &link);
  if (err < 0)
    {
      nl_addr_put (dst);
      *out_link_missing = link_is_missing_error (err);
      set_nl_error (error, err, "look up link", ifname);
      return NULL;
    }
  neigh = rtnl_neigh_alloc ();
  rtnl_neigh_set_ifindex (neigh, rtnl_link_get_ifindex (link));
  rtnl_neigh_set_family (neigh, AF_INET);
  rtnl_neigh_set_dst (neigh, dst);
  nl_addr_put (dst);
  rtnl_link_put (link);
  return neigh;
}

gboolean
holder_net_neigh_set (HolderNetSock *sock,
                      const char    *ifname,
                      const char    *ip,
                      const char    *mac,
                      GError       **error)
{
  g_autofree char *what = g_strdup_printf ("add neighbour %s on", ip);
  struct rtnl_neigh *neigh;
  struct nl_addr *lladdr = NULL;
  gboolean link_missing;
  int err;

  err = nl_addr_parse (mac, AF_LLC, &lladdr);
  if (err < 0 || nl_addr_get_len (lladdr) != 6)
    {
      if (lladdr != NULL)
        nl_addr_put (lladdr);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "%s %s: %s is not a MAC address", what, ifname, mac);
      return FALSE;
    }
  neigh = neigh_new (sock, ifname, ip, &link_missing, error);
  if (neigh == NULL)
    {
      nl_addr_put (lladdr);
      g_prefix_error (error, "%s %s: ", what, ifname);
      return FALSE;
    }
  rtnl_neigh_set_lladdr (neigh, lladdr);
  rtnl_neigh_set_state (neigh, NUD_PERMANENT);
  /* REPLACE: installing it again (a member booted again) is no error. */
  err = rtnl_neigh_add (sock, neigh, NLM_F_CREATE | NLM_F_REPLACE);
  rtnl_neigh_put (neigh);
  nl_addr_put (lladdr);
  if (err < 0)
    return set_nl_error (error, err, what, ifname);
  return TRUE;
}

gboolean
holder_net_neigh_delete (HolderNetSock *sock,
                         const char    *ifname,
                         const char    *ip,
                         GError       **error)
{
  g_autofree char *what = g_strdup_printf ("delete neighbour %s on", ip);
  g_autoptr(GError) local_error = NULL;
  struct rtnl_neigh *neigh;
  gboolean link_missing;
  int err;

  neigh = neigh_new (sock, ifname, ip, &link_missing, &local_error);
  if (neigh == NULL)
    {
      /* The bridge took its entries with it. */
      if (link_missing)
        return TRUE;
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s %s: ", what, ifname);
      return FALSE;
    }
  err = rtnl_neigh_delete (sock, neigh, 0);
  rtnl_neigh_put (neigh);
  if (err < 0 && !link_is_missing_error (err))
    return set_nl_error (error, err, what, ifname);
  return TRUE;
}

/* ---- forwarding --------------------------------------------------------- */

static char *
forwarding_path (const char *ifname)
{
  return g_strdup_printf ("/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
}

char *
holder_net_forwarding_read (const char *ifname,
                            GError    **error)
{
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) local_error = NULL;

  if (!ifname_is_valid (ifname))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "read forwarding of %s: not an interface name", ifname);
      return NULL;
    }
  path = forwarding_path (ifname);
  if (!g_file_get_contents (path, &contents, NULL, &local_error))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "read forwarding of %s: %s", ifname, local_error->message);
      return NULL;
    }
  return g_strdup (g_strstrip (contents));
}

gboolean
holder_net_forwarding_write (const char *ifname,
                             const char *value,
                             GError    **error)
{
  g_autofree char *path = NULL;
  gsize len = strlen (value);
  ssize_t written;
  int fd;

  if (!ifname_is_valid (ifname))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "set forwarding of %s: not an interface name", ifname);
      return FALSE;
    }
  /* A plain write to the proc file: the same as sysctl(8) without the
   * process, and never the global net.ipv4.ip_forward. */
  path = forwarding_path (ifname);
  fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return set_errno_error (error, errno, "set forwarding of", ifname);
  do
    written = write (fd, value, len);
  while (written < 0 && errno == EINTR);
  if (written < 0)
    {
      int saved_errno = errno;
      close (fd);
      return set_errno_error (error, saved_errno, "set forwarding of", ifname);
    }
  close (fd);
  return TRUE;
}

/* ---- processes attached to a tap ---------------------------------------- */

/* Whether an fdinfo file describes a tun fd attached to @tap: the tun
 * driver prints "iff:\t<name>". */
static gboolean
fdinfo_names_tap (const char *path,
                  const char *tap)
{
  g_autofree char *contents = NULL;
  g_autofree char *needle = g_strdup_printf ("iff:\t%s\n", tap);

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return FALSE;
  return strstr (contents, needle) != NULL;
}

/* A tap name is unique only within a network namespace: a process of
 * another namespace holding a tap of the same name holds another tap. */
static gboolean
same_netns (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/ns/net", (int) pid);
  struct stat mine;
  struct stat theirs;

  return stat ("/proc/self/ns/net", &mine) == 0 && stat (path, &theirs) == 0 &&
         mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
}

static gboolean
process_holds_tap (GPid        pid,
                   const char *tap)
{
  g_autofree char *fdinfo = g_strdup_printf ("/proc/%d/fdinfo", (int) pid);
  g_autoptr(GDir) dir = NULL;
  const char *entry;

  if (!same_netns (pid))
    return FALSE;
  dir = g_dir_open (fdinfo, 0, NULL);
  if (dir == NULL)
    return FALSE;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fdinfo, entry, NULL);

      if (fdinfo_names_tap (path, tap))
        return TRUE;
    }
  return FALSE;
}

GArray *
holder_net_tap_users (const char *tap)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  GArray *users = g_array_new (FALSE, FALSE, sizeof (GPid));
  GPid self = getpid ();
  const char *entry;

  if (proc == NULL)
    return users;
  while ((entry = g_dir_read_name (proc)) != NULL)
    {
      char *end = NULL;
      guint64 pid = g_ascii_strtoull (entry, &end, 10);
      GPid candidate;

      if (end == entry || *end != '\0' || pid == 0 || pid > G_MAXINT ||
          (GPid) pid == self)
        continue;
      candidate = (GPid) pid;
      if (process_holds_tap (candidate, tap))
        g_array_append_val (users, candidate);
    }
  return users;
}

char *
holder_net_process_describe (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/comm", (int) pid);
  g_autofree char *comm = NULL;

  if (!g_file_get_contents (path, &comm, NULL, NULL))
    return g_strdup_printf ("%d", (int) pid);
  return g_strdup_printf ("%d (%s)", (int) pid, g_strstrip (comm));
}

/* SIGKILLs @pid if it still holds @tap. The pidfd pins the process: once
 * it is open, a pid reused since the scan is a process that holds no tap.
 * Where pidfds are missing (kernels before 5.3, valgrind), the check and
 * kill() are as close together as they can be. Returns the pidfd to wait
 * on (-1 without pidfds), or -2 when nothing was killed. */
static int
kill_if_holding (GPid        pid,
                 const char *tap)
{
  int fd = pidfd_open (pid, 0);

  if (fd < 0 && errno != ENOSYS)
    return -2;
  if (!process_holds_tap (pid, tap) ||
      (fd >= 0 ? pidfd_send_signal (fd, SIGKILL, NULL, 0) : kill (pid, SIGKILL)) < 0)
    {
      if (fd >= 0)
        close (fd);
      return -2;
    }
  return fd;
}

GArray *
holder_net_kill_tap_users (const char *tap,
                           GArray     *users)
{
  g_autoptr(GArray) candidates = users != NULL ? g_array_ref (users) : holder_net_tap_users (tap);
  g_autoptr(GArray) pidfds = g_array_new (FALSE, FALSE, sizeof (struct pollfd));
  GArray *killed = g_array_new (FALSE, FALSE, sizeof (GPid));
  gint64 deadline;

  for (guint i = 0; i < candidates->len; i++)
    {
      GPid pid = g_array_index (candidates, GPid, i);
      struct pollfd pfd = { .events = POLLIN };

      pfd.fd = kill_if_holding (pid, tap);
      if (pfd.fd == -2)
        continue;
      g_debug ("killed pid %d, still attached to orphaned tap %s", (int) pid, tap);
      g_array_append_val (killed, pid);
      if (pfd.fd >= 0)
        g_array_append_val (pidfds, pfd);
    }

  /* Its fds close as it exits; the tap is deleted right after, which
   * works either way, so the wait is short. A pidfd turns readable when
   * its process exits. */
  deadline = g_get_monotonic_time () + 200 * G_TIME_SPAN_MILLISECOND;
  for (guint i = 0; i < pidfds->len; i++)
    {
      struct pollfd *pfd = &g_array_index (pidfds, struct pollfd, i);
      gint64 left;

      while ((left = deadline - g_get_monotonic_time ()) > 0 &&
             poll (pfd, 1, (int) (left / 1000) + 1) < 0 && errno == EINTR)
        ;
      close (pfd->fd);
    }
  /* Without pidfds: look every 2 ms until the same deadline. */
  for (guint i = 0; pidfds->len < killed->len && i < killed->len; i++)
    {
      while (holder_pid_is_alive (g_array_index (killed, GPid, i)) &&
             g_get_monotonic_time () < deadline)
        g_usleep (2 * G_TIME_SPAN_MILLISECOND);
    }
  return killed;
}
