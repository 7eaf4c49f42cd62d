/* SPDX-License-Identifier: MIT
 *
 * The Linux network module against a real kernel, inside a network and
 * mount namespace this program makes for itself at start-up
 * (holder-test-net.h; the host's namespace is never touched). The
 * namespace has a fake uplink (veth upl0, 10.99.0.2/24, default route via
 * 10.99.0.1), a busy address (192.168.0.1/24) and a busy route
 * (192.168.1.0/24), so the first free subnet is 192.168.2.0/24. Guests are
 * veth peers in child namespaces made with `ip netns` (fixtures only; the
 * library never runs `ip`), named in a /run/netns of the test's own.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "test-linux-net"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>

#include "holder-backend.h"
#include "holder-linux-net.h"
#include "holder-guest-wait.h"
#include "holder-linux-net-dir.h"
#include "holder-linux-net-host.h"
#include "holder-net-watch.h"
#include "holder-tcp-probe.h"
#include "holder-test-net.h"
#include "holder-test-util.h"

#define UPLINK HOLDER_TEST_UPLINK

static const char *skip_reason;

/* ---- fixtures ----------------------------------------------------------- */

static char *
read_global_forward (void)
{
  g_autofree char *contents = NULL;

  g_file_get_contents ("/proc/sys/net/ipv4/ip_forward", &contents, NULL, NULL);
  return g_strdup (g_strstrip (contents));
}

/* The runtime folder of a test: <root>/runtime. */
static char *
runtime_dir (const char *root)
{
  return g_build_filename (root, "runtime", NULL);
}

static char *
record_path (const char *root,
             const char *bridge)
{
  g_autofree char *runtime = runtime_dir (root);

  return holder_test_net_record_path (runtime, bridge);
}

static char *
marker_path (const char *root)
{
  g_autofree char *runtime = runtime_dir (root);
  g_autofree char *dir = holder_test_net_netns_dir (runtime);

  return g_build_filename (dir, "uplink-" UPLINK ".json", NULL);
}

/* What the runtime folder holds besides its lock (an empty namespace
 * folder left behind counts too: close and reconcile tidy it away). */
static guint
count_network_files (const char *root)
{
  g_autofree char *runtime = runtime_dir (root);

  return holder_test_net_count_state (runtime);
}

/* A private store root with a private runtime folder: FLEETBOX_RUNTIME_DIR
 * names <root>/runtime, which the library makes. */
static char *
make_root (void)
{
  g_autoptr(GError) error = NULL;
  char *root = g_dir_make_tmp ("test-linux-net-XXXXXX", &error);
  g_autofree char *runtime = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (chmod (root, 0755), ==, 0);
  runtime = runtime_dir (root);
  g_setenv ("FLEETBOX_RUNTIME_DIR", runtime, TRUE);
  return root;
}

/* ---- sockets and guests ------------------------------------------------- */

static gboolean
tcp_connects (const char *ip,
              guint16     port,
              int         timeout_ms)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
  struct pollfd pfd;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int so_error = 0;
  socklen_t len = sizeof so_error;
  gboolean ok = FALSE;

  if (fd < 0 || inet_pton (AF_INET, ip, &addr.sin_addr) != 1)
    goto out;
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0)
    {
      ok = TRUE;
      goto out;
    }
  if (errno != EINPROGRESS)
    goto out;
  pfd.fd = fd;
  pfd.events = POLLOUT;
  if (poll (&pfd, 1, timeout_ms) == 1 &&
      getsockopt (fd, SOL_SOCKET, SO_ERROR, &so_error, &len) == 0)
    ok = so_error == 0;
out:
  if (fd >= 0)
    close (fd);
  return ok;
}

static void
enter_netns_or_die (const char *netns)
{
  g_autofree char *path = g_build_filename ("/run/netns", netns, NULL);
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  if (fd < 0 || setns (fd, CLONE_NEWNET) < 0)
    _exit (97);
  close (fd);
}

/* A process in @netns listening on port 22 and accepting forever. */
static GPid
spawn_listener (const char *netns)
{
  int ready[2];
  char byte;
  GPid pid;

  g_assert_cmpint (pipe2 (ready, O_CLOEXEC), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (22) };
      int one = 1;
      int fd;

      enter_netns_or_die (netns);
      fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (fd < 0 || bind (fd, (struct sockaddr *) &addr, sizeof addr) < 0 ||
          listen (fd, 16) < 0)
        _exit (98);
      if (write (ready[1], "r", 1) != 1)
        _exit (99);
      for (;;)
        {
          int conn = accept (fd, NULL, NULL);
          if (conn >= 0)
            close (conn);
        }
    }
  close (ready[1]);
  g_assert_cmpint (read (ready[0], &byte, 1), ==, 1);
  close (ready[0]);
  return pid;
}

typedef struct {
  const char *netns; /* NULL: the test's own namespace */
  const char *ip;
} ConnectProbe;

static gboolean
probe_connect (gconstpointer data)
{
  const ConnectProbe *probe = data;

  if (probe->netns != NULL)
    enter_netns_or_die (probe->netns);
  return tcp_connects (probe->ip, 22, 1000);
}

/* Whether a process in @netns can connect to @ip:22, retried until
 * @timeout_ms passes (a fresh bridge port may take a moment). */
static gboolean
connects_from_netns (const char *netns,
                     const char *ip,
                     int         timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  ConnectProbe probe = { netns, ip };

  do
    {
      if (holder_test_check_in_child_as (0, probe_connect, &probe))
        return TRUE;
      g_usleep (50 * G_TIME_SPAN_MILLISECOND);
    }
  while (g_get_monotonic_time () < deadline);
  return FALSE;
}

/* A "guest": veth @host_side on the bridge, its peer eth0 in @netns with
 * @ip/24 and a default route via the gateway. */
static void
add_guest (HolderLinuxNet *net,
           const char     *netns,
           const char     *host_side,
           const char     *ip)
{
  const char *bridge = holder_linux_net_get_bridge (net);

  holder_test_net_ip ("netns add %s", netns);
  holder_test_net_ip ("link add %s type veth peer name eth0 netns %s", host_side, netns);
  holder_test_net_ip ("link set %s master %s up", host_side, bridge);
  holder_test_net_ip ("-n %s link set lo up", netns);
  holder_test_net_ip ("-n %s link set eth0 up", netns);
  holder_test_net_ip ("-n %s addr add %s/24 dev eth0", netns, ip);
  holder_test_net_ip ("-n %s route add default via %s", netns, holder_linux_net_get_gateway (net));
}

/* What `ip neigh` says of @ip in this namespace ("" when nothing). */
static char *
neighbour_of (const char *ip)
{
  return g_strstrip (holder_test_net_ip_output ("neigh show to %s", ip));
}

/* Whether @ip has the permanent entry @mac on @bridge. */
static gboolean
has_permanent_neighbour (const char *bridge,
                         const char *ip,
                         const char *mac)
{
  g_autofree char *line = neighbour_of (ip);
  g_autofree char *wanted = g_strdup_printf ("%s dev %s lladdr %s PERMANENT", ip, bridge, mac);

  return g_str_equal (line, wanted);
}

/* The link's MAC address ("ip -br": name, state, address, flags; /sys
 * here still shows the host's namespace). */
static char *
link_address (const char *name)
{
  g_autofree char *out = holder_test_net_ip_output ("-br link show dev %s", name);
  g_auto(GStrv) fields = NULL;

  fields = g_strsplit_set (g_strstrip (out), " \t", -1);
  for (guint i = 1, seen = 0; fields[i] != NULL; i++)
    if (fields[i][0] != '\0' && ++seen == 2)
      return g_strdup (fields[i]);
  g_assert_not_reached ();
}

/* Reconcile that must succeed; returns the warnings. */
static GStrv
reconcile_ok (const char *root,
              guint      *out_reclaimed)
{
  g_autoptr(HolderNetReport) report = holder_test_linux_net_reconcile (root, FALSE);
  g_autoptr(GStrvBuilder) warnings = g_strv_builder_new ();

  for (guint i = 0; i < report->warnings->len; i++)
    g_strv_builder_add (warnings, g_ptr_array_index (report->warnings, i));
  if (out_reclaimed != NULL)
    *out_reclaimed = report->networks;
  return g_strv_builder_end (warnings);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_create_bridge (void)
{
  g_autofree char *root = NULL;
  g_autofree char *addrs = NULL;
  g_autofree char *details = NULL;
  g_autofree char *path = NULL;
  g_autofree char *record = NULL;
  HolderLinuxNet *net;
  const char *bridge;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  net = holder_test_linux_net_create ();
  bridge = holder_linux_net_get_bridge (net);

  /* The busy address and the busy route push it to the third /24. */
  g_assert_cmpstr (holder_linux_net_get_subnet (net), ==, "192.168.2.0/24");
  g_assert_cmpstr (holder_linux_net_get_gateway (net), ==, "192.168.2.1");
  g_assert_true (g_str_has_prefix (bridge, "fbx-"));
  g_assert_cmpuint (strlen (bridge), ==, 12);

  addrs = holder_test_net_ip_output ("-o -4 addr show dev %s up", bridge);
  g_assert_nonnull (strstr (addrs, "inet 192.168.2.1/24"));

  details = holder_test_net_ip_output ("-d -o link show dev %s", bridge);
  g_assert_nonnull (strstr (details, ",UP"));
  g_assert_nonnull (strstr (details, " bridge "));

  /* The record is on disk, owned by us. */
  path = record_path (root, bridge);
  g_assert_true (g_file_get_contents (path, &record, NULL, NULL));
  g_assert_nonnull (strstr (record, "\"subnet\":\"192.168.2.0/24\""));
  g_assert_nonnull (strstr (record, "\"uplink\":\"" UPLINK "\""));
  g_assert_nonnull (strstr (record, "\"uplink_forwarding_original\":\"0\""));

  holder_test_linux_net_close (net);
  holder_test_remove_tree (root);
}

static void
test_create_table (void)
{
  g_autofree char *root = NULL;
  g_autofree char *dump = NULL;
  g_autofree char *masquerade = NULL;
  g_autofree char *drop = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *bridge = NULL;
  HolderLinuxNet *net;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  net = holder_test_linux_net_create ();
  bridge = g_strdup (holder_linux_net_get_bridge (net));

  dump = holder_net_table_dump (bridge, &error);
  g_assert_no_error (error);
  g_test_message ("%s", dump);
  masquerade = g_strdup_printf ("ip saddr 192.168.2.0/24 oifname != \"%s\" masquerade", bridge);
  drop = g_strdup_printf ("ip daddr 192.168.2.0/24 iifname != \"%s\" ct state new drop", bridge);
  g_assert_nonnull (strstr (dump, masquerade));
  g_assert_nonnull (strstr (dump, drop));
  g_assert_nonnull (strstr (dump, "hook postrouting"));
  g_assert_nonnull (strstr (dump, "hook forward"));

  holder_test_linux_net_close (net);
  g_assert_false (holder_test_net_table_exists (bridge));
  holder_test_remove_tree (root);
}

static void
test_create_forwarding (void)
{
  g_autofree char *root = NULL;
  g_autofree char *global_before = read_global_forward ();
  g_autofree char *all_before = holder_test_net_forwarding ("all");
  g_autofree char *default_before = holder_test_net_forwarding ("default");
  g_autofree char *value = NULL;
  g_autofree char *marker = NULL;
  HolderLinuxNet *net;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
  g_clear_pointer (&value, g_free);

  net = holder_test_linux_net_create ();
  value = holder_test_net_forwarding (holder_linux_net_get_bridge (net));
  g_assert_cmpstr (value, ==, "1");
  g_clear_pointer (&value, g_free);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");
  g_clear_pointer (&value, g_free);

  /* The global switches stay as they were. */
  g_assert_cmpstr ((value = read_global_forward ()), ==, global_before);
  g_clear_pointer (&value, g_free);
  g_assert_cmpstr ((value = holder_test_net_forwarding ("all")), ==, all_before);
  g_clear_pointer (&value, g_free);
  g_assert_cmpstr ((value = holder_test_net_forwarding ("default")), ==, default_before);
  g_clear_pointer (&value, g_free);

  /* The uplink's original value is remembered before it changes. */
  marker = marker_path (root);
  g_assert_true (g_file_test (marker, G_FILE_TEST_EXISTS));

  holder_test_linux_net_close (net);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  holder_test_remove_tree (root);
}

static void
test_shared_uplink (void)
{
  g_autofree char *root = NULL;
  g_autofree char *value = NULL;
  HolderLinuxNet *first;
  HolderLinuxNet *second;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  first = holder_test_linux_net_create ();
  second = holder_test_linux_net_create ();
  g_assert_cmpstr (holder_linux_net_get_subnet (first), ==, "192.168.2.0/24");
  g_assert_cmpstr (holder_linux_net_get_subnet (second), ==, "192.168.3.0/24");

  /* The uplink stays forwarding while one cluster still needs it. */
  holder_test_linux_net_close (first);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");
  g_clear_pointer (&value, g_free);
  holder_test_linux_net_close (second);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
  g_assert_cmpuint (count_network_files (root), ==, 0);
  holder_test_remove_tree (root);
}

static void
test_create_original_one (void)
{
  g_autofree char *root = NULL;
  g_autofree char *value = NULL;
  g_autoptr(GError) error = NULL;
  HolderLinuxNet *net;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  /* An uplink that already forwarded keeps forwarding after close. */
  g_assert_true (holder_net_forwarding_write (UPLINK, "1", &error));
  g_assert_no_error (error);
  net = holder_test_linux_net_create ();
  holder_test_linux_net_close (net);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");
  g_assert_true (holder_net_forwarding_write (UPLINK, "0", &error));
  holder_test_remove_tree (root);
}

static void
test_no_free_subnet (void)
{
  g_autofree char *root = NULL;
  g_autoptr(GError) error = NULL;
  HolderLinuxNet *net;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  /* One route covering every 192.168.X.0/24 (the default route never
   * counts, or nothing would ever be free). */
  holder_test_net_ip ("route add 192.168.0.0/16 via 10.99.0.1");
  net = holder_linux_net_create (NULL, &error);
  holder_test_net_ip ("route del 192.168.0.0/16 via 10.99.0.1");

  g_assert_null (net);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_nonnull (strstr (error->message, "no free 192.168.X.0/24 subnet"));
  g_assert_cmpuint (holder_test_net_count_links ("fbx-"), ==, 0);
  g_assert_cmpuint (count_network_files (root), ==, 0);
  holder_test_remove_tree (root);
}

/* capget/capset straight from the kernel ABI: no libcap dependency. */
static gboolean
drop_net_admin (void)
{
  struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

  if (syscall (SYS_capget, &header, data) != 0)
    return FALSE;
  data[0].effective &= ~(1u << CAP_NET_ADMIN);
  return syscall (SYS_capset, &header, data) == 0;
}

/* In a child without CAP_NET_ADMIN: create fails saying so. */
static gboolean
create_fails_needing_root (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  HolderLinuxNet *net;

  if (!drop_net_admin ())
    return FALSE;
  net = holder_linux_net_create (NULL, &error);
  return net == NULL &&
         g_error_matches (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED) &&
         strstr (error->message, "needs root (CAP_NET_ADMIN)") != NULL;
}

static void
test_needs_root (void)
{
  g_autofree char *root = NULL;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  g_assert_true (holder_test_check_in_child_as (0, create_fails_needing_root, root));
  g_assert_cmpuint (holder_test_net_count_links ("fbx-"), ==, 0);
  holder_test_remove_tree (root);
}

static char *
reserve_ok (HolderLinuxNet *net,
            const char     *name,
            const char     *hint)
{
  g_autoptr(GError) error = NULL;
  char *ip = holder_ipam_reserve (holder_linux_net_get_ipam (net), name, hint, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ip);
  return ip;
}

static void
test_reserve (void)
{
  g_autofree char *root = NULL;
  g_autoptr(GError) error = NULL;
  HolderLinuxNet *net;
  char *ip;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  net = holder_test_linux_net_create ();

  /* A free hint is honoured. */
  g_assert_cmpstr ((ip = reserve_ok (net, "web-1", "192.168.2.7")), ==, "192.168.2.7");
  g_free (ip);
  /* No hint: the lowest free from .2. */
  g_assert_cmpstr ((ip = reserve_ok (net, "web-2", NULL)), ==, "192.168.2.2");
  g_free (ip);
  /* The gateway is never handed out. */
  g_assert_cmpstr ((ip = reserve_ok (net, "web-3", "192.168.2.1")), ==, "192.168.2.3");
  g_free (ip);
  /* Taken, outside the subnet, network, broadcast, garbage: lowest free. */
  g_assert_cmpstr ((ip = reserve_ok (net, "web-4", "192.168.2.7")), ==, "192.168.2.4");
  g_free (ip);
  g_assert_cmpstr ((ip = reserve_ok (net, "web-5", "10.0.0.9")), ==, "192.168.2.5");
  g_free (ip);
  g_assert_cmpstr ((ip = reserve_ok (net, "web-6", "192.168.2.0")), ==, "192.168.2.6");
  g_free (ip);
  g_assert_cmpstr ((ip = reserve_ok (net, "web-8", "192.168.2.255")), ==, "192.168.2.8");
  g_free (ip);
  g_assert_cmpstr ((ip = reserve_ok (net, "web-9", "not an ip")), ==, "192.168.2.9");
  g_free (ip);
  /* The same name gets the same address. */
  g_assert_cmpstr ((ip = reserve_ok (net, "web-1", NULL)), ==, "192.168.2.7");
  g_free (ip);

  /* Fill the subnet: .2 to .254 is 253 addresses, 8 are taken. */
  for (guint i = 0; i < 253 - 8; i++)
    {
      g_autofree char *name = g_strdup_printf ("fill-%u", i);
      g_free (reserve_ok (net, name, NULL));
    }
  g_assert_null (holder_ipam_reserve (holder_linux_net_get_ipam (net), "one-too-many", NULL, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "no free IP in subnet");

  holder_test_linux_net_close (net);
  holder_test_remove_tree (root);
}

static void
test_taps (void)
{
  g_autofree char *root = NULL;
  g_autofree char *tap = NULL;
  g_autofree char *record = NULL;
  g_autofree char *path = NULL;
  g_autofree char *details = NULL;
  g_autoptr(GError) error = NULL;
  HolderLinuxNet *net;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  net = holder_test_linux_net_create ();

  tap = holder_linux_net_add_tap (net, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (tap, "fbt-"));
  g_assert_cmpuint (strlen (tap), ==, 12);

  /* A tap, up, on the bridge, and in the record. */
  details = holder_test_net_ip_output ("-d -o link show dev %s", tap);
  g_assert_nonnull (strstr (details, "tun type tap"));
  g_assert_nonnull (strstr (details, holder_linux_net_get_bridge (net)));
  g_assert_nonnull (strstr (details, "UP"));
  path = record_path (root, holder_linux_net_get_bridge (net));
  g_assert_true (g_file_get_contents (path, &record, NULL, NULL));
  g_assert_nonnull (strstr (record, tap));

  g_assert_true (holder_linux_net_remove_tap (net, tap, &error));
  g_assert_no_error (error);
  g_assert_false (holder_test_net_link_exists (tap));
  g_clear_pointer (&record, g_free);
  g_assert_true (g_file_get_contents (path, &record, NULL, NULL));
  g_assert_null (strstr (record, tap));

  /* Close takes the remaining taps with it. */
  g_clear_pointer (&tap, g_free);
  tap = holder_linux_net_add_tap (net, &error);
  g_assert_no_error (error);
  holder_test_linux_net_close (net);
  g_assert_false (holder_test_net_link_exists (tap));
  holder_test_remove_tree (root);
}

static void
test_neighbours (void)
{
  g_autofree char *root = NULL;
  g_autofree char *ip = NULL;
  g_autofree char *mac = holder_mac_for_name ("n-1");
  g_autofree char *bridge_mac = NULL;
  g_autofree char *bridge_mac_after = NULL;
  g_autofree char *tap = NULL;
  g_autofree char *line = NULL;
  g_autofree char *bridge = NULL;
  g_autoptr(GError) error = NULL;
  HolderLinuxNet *net;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  net = holder_test_linux_net_create ();
  bridge = g_strdup (holder_linux_net_get_bridge (net));
  ip = reserve_ok (net, "n-1", NULL);

  g_assert_true (holder_linux_net_add_neighbour (net, ip, mac, &error));
  g_assert_no_error (error);
  g_assert_true (has_permanent_neighbour (bridge, ip, mac));
  /* Again (a member booted after a stop): replaced, no error. */
  g_assert_true (holder_linux_net_add_neighbour (net, ip, mac, &error));
  g_assert_no_error (error);
  g_assert_true (has_permanent_neighbour (bridge, ip, mac));

  /* A port whose address is lower than the bridge's would become the
   * bridge's address if the bridge had none of its own, and a changed
   * address flushes every neighbour entry, permanent ones too. */
  bridge_mac = link_address (bridge);
  tap = holder_linux_net_add_tap (net, &error);
  g_assert_no_error (error);
  holder_test_net_ip ("link set dev %s address 00:00:00:00:00:01", tap);
  bridge_mac_after = link_address (bridge);
  g_assert_cmpstr (bridge_mac_after, ==, bridge_mac);
  g_assert_true (has_permanent_neighbour (bridge, ip, mac));
  /* The port going away does not take it either. */
  g_assert_true (holder_linux_net_remove_tap (net, tap, &error));
  g_assert_no_error (error);
  g_assert_true (has_permanent_neighbour (bridge, ip, mac));

  /* Removed, and removing again is fine. */
  g_assert_true (holder_linux_net_remove_neighbour (net, ip, &error));
  g_assert_no_error (error);
  g_assert_cmpstr ((line = neighbour_of (ip)), ==, "");
  g_assert_true (holder_linux_net_remove_neighbour (net, ip, &error));
  g_assert_no_error (error);

  /* Only member addresses of this network. */
  g_assert_false (holder_linux_net_add_neighbour (net, "10.99.0.1", mac, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (holder_linux_net_add_neighbour (net, holder_linux_net_get_gateway (net),
                                                  mac, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (holder_linux_net_add_neighbour (net, ip, "not a mac", &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Close: the bridge takes its entries with it. */
  g_assert_true (holder_linux_net_add_neighbour (net, ip, mac, &error));
  g_assert_no_error (error);
  holder_test_linux_net_close (net);
  g_clear_pointer (&line, g_free);
  g_assert_cmpstr ((line = neighbour_of (ip)), ==, "");
  holder_test_remove_tree (root);
}

typedef struct {
  guint signs[HOLDER_NET_SIGN_LOST + 1];
} Signs;

static void
on_sign (HolderNetSign sign,
         gpointer      user_data)
{
  Signs *signs = user_data;

  signs->signs[sign]++;
}

static gboolean
on_deadline (gpointer user_data)
{
  gboolean *passed = user_data;

  *passed = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run_main_for_ms (guint ms)
{
  gboolean passed = FALSE;

  g_timeout_add (ms, on_deadline, &passed);
  while (!passed)
    g_main_context_iteration (NULL, TRUE);
}

/* Runs the main context until @signs has a @sign, or 5 s. */
static gboolean
await_sign (Signs         *signs,
            HolderNetSign  sign)
{
  gboolean passed = FALSE;
  guint deadline = g_timeout_add_seconds (5, on_deadline, &passed);

  while (signs->signs[sign] == 0 && !passed)
    g_main_context_iteration (NULL, TRUE);
  if (!passed)
    g_source_remove (deadline);
  return signs->signs[sign] > 0;
}

static void
test_net_watch (void)
{
  static const guint8 frame[] = {
    /* virtio_net_hdr (IFF_VNET_HDR): no offloads */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* broadcast, from the guest's MAC, ARP */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc, 0x08, 0x06,
    0, 1, 8, 0, 6, 4, 0, 1, 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  };
  g_autofree char *root = NULL;
  g_autofree char *tap = NULL;
  g_autoptr(GError) error = NULL;
  struct ifreq ifr = { 0 };
  HolderNetWatch *watch;
  HolderNetWatch *other;
  Signs signs = { { 0 } };
  Signs other_signs = { { 0 } };
  HolderLinuxNet *net;
  int fd;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  net = holder_test_linux_net_create ();
  tap = holder_linux_net_add_tap (net, &error);
  g_assert_no_error (error);

  watch = holder_net_watch_new (tap, "52:54:00:aa:bb:cc", "192.168.2.77", on_sign, &signs);
  g_assert_nonnull (watch);
  /* Another guest's watch hears nothing of this one. */
  other = holder_net_watch_new ("fbt-00000000", "52:54:00:00:00:01", "192.168.2.99",
                                on_sign, &other_signs);
  g_assert_nonnull (other);

  /* The VMM attaches: the tap gains its carrier. */
  fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  g_strlcpy (ifr.ifr_name, tap, sizeof ifr.ifr_name);
  g_assert_cmpint (ioctl (fd, TUNSETIFF, &ifr), ==, 0);
  g_assert_true (await_sign (&signs, HOLDER_NET_SIGN_CARRIER));
  g_assert_cmpuint (signs.signs[HOLDER_NET_SIGN_FRAME], ==, 0);

  /* The guest's first frame: the bridge learns its MAC. */
  g_assert_cmpint (write (fd, frame, sizeof frame), ==, sizeof frame);
  g_assert_true (await_sign (&signs, HOLDER_NET_SIGN_FRAME));
  g_assert_cmpuint (signs.signs[HOLDER_NET_SIGN_CARRIER], ==, 1);

  /* Without a permanent entry, the kernel confirming the guest's address
   * (as after an ARP answer) is a sign too. */
  g_assert_cmpuint (signs.signs[HOLDER_NET_SIGN_NEIGHBOUR], ==, 0);
  holder_test_net_ip ("neigh replace 192.168.2.77 lladdr 52:54:00:aa:bb:cc nud reachable dev %s",
          holder_linux_net_get_bridge (net));
  g_assert_true (await_sign (&signs, HOLDER_NET_SIGN_NEIGHBOUR));

  /* Freed from inside its own call is fine too; here, plainly. */
  holder_net_watch_free (watch);
  holder_net_watch_free (other);
  for (guint i = 0; i <= HOLDER_NET_SIGN_LOST; i++)
    g_assert_cmpuint (other_signs.signs[i], ==, 0);
  close (fd);
  holder_test_linux_net_close (net);
  holder_test_remove_tree (root);
}

/* ---- a slow guest ----------------------------------------------------- */

/* A "guest" that is the test itself on the far side of a tap: it answers
 * every SYN to its port 22 with a SYN-ACK, but late (a starved or
 * emulated guest), later than the probe keeps its short-lived attempts. */
#define SLOW_ANSWER_MS 60
#define VNET_HDR_LEN   10

typedef struct {
  int     fd;
  guint8  mac[6];
  guint   syns;
  GSList *pending;  /* frames to send back, in order */
} SlowGuest;

static guint16
checksum_fold (guint32 sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (guint16) ~sum;
}

static guint32
checksum_add (guint32 sum, const guint8 *data, gsize len)
{
  for (gsize i = 0; i + 1 < len; i += 2)
    sum += (guint32) (data[i] << 8 | data[i + 1]);
  if (len % 2)
    sum += (guint32) data[len - 1] << 8;
  return sum;
}

static gboolean
on_slow_answer (gpointer user_data)
{
  SlowGuest *guest = user_data;
  GBytes *frame = guest->pending->data;
  gsize len;
  gconstpointer data = g_bytes_get_data (frame, &len);

  g_assert_cmpint (write (guest->fd, data, len), ==, (gssize) len);
  guest->pending = g_slist_delete_link (guest->pending, guest->pending);
  g_bytes_unref (frame);
  return G_SOURCE_REMOVE;
}

/* A SYN to port 22 in @in (virtio header, Ethernet, IPv4, TCP): queues
 * its SYN-ACK, sent SLOW_ANSWER_MS later. */
static gboolean
on_guest_frame (int          fd,
                GIOCondition condition,
                gpointer     user_data)
{
  SlowGuest *guest = user_data;
  guint8 in[2048];
  guint8 out[VNET_HDR_LEN + 14 + 20 + 20] = { 0 };
  guint8 *eth = out + VNET_HDR_LEN, *ip = eth + 14, *tcp = ip + 20;
  const guint8 *ieth = in + VNET_HDR_LEN, *iip = ieth + 14, *itcp;
  gssize n = read (fd, in, sizeof in);
  guint32 seq, sum;

  if (n < VNET_HDR_LEN + 14 + 20 + 20 || ieth[12] != 0x08 || ieth[13] != 0x00 ||
      (iip[0] & 0x0f) != 5 || iip[9] != 6)
    return G_SOURCE_CONTINUE;
  itcp = iip + 20;
  if (itcp[2] != 0 || itcp[3] != 22 || (itcp[13] & 0x12) != 0x02)
    return G_SOURCE_CONTINUE;
  guest->syns++;

  memcpy (eth, ieth + 6, 6);                 /* to the bridge */
  memcpy (eth + 6, guest->mac, 6);
  eth[12] = 0x08;
  ip[0] = 0x45;
  ip[3] = 40;                                /* total length */
  ip[6] = 0x40;                              /* DF */
  ip[8] = 64;
  ip[9] = 6;
  memcpy (ip + 12, iip + 16, 4);             /* from the guest's address */
  memcpy (ip + 16, iip + 12, 4);
  sum = checksum_fold (checksum_add (0, ip, 20));
  ip[10] = sum >> 8;
  ip[11] = sum & 0xff;
  memcpy (tcp, itcp + 2, 2);                 /* ports swapped */
  memcpy (tcp + 2, itcp, 2);
  tcp[4] = 0x10;                             /* our sequence number */
  seq = (guint32) itcp[4] << 24 | itcp[5] << 16 | itcp[6] << 8 | itcp[7];
  seq++;
  tcp[8] = seq >> 24;
  tcp[9] = (seq >> 16) & 0xff;
  tcp[10] = (seq >> 8) & 0xff;
  tcp[11] = seq & 0xff;
  tcp[12] = 5 << 4;
  tcp[13] = 0x12;                            /* SYN, ACK */
  tcp[14] = 0xff;
  tcp[15] = 0xff;
  {
    guint8 pseudo[12] = { 0 };

    memcpy (pseudo, ip + 12, 8);
    pseudo[9] = 6;
    pseudo[11] = 20;
    sum = checksum_fold (checksum_add (checksum_add (0, pseudo, sizeof pseudo), tcp, 20));
    tcp[16] = sum >> 8;
    tcp[17] = sum & 0xff;
  }
  guest->pending = g_slist_append (guest->pending, g_bytes_new (out, sizeof out));
  g_timeout_add (SLOW_ANSWER_MS, on_slow_answer, guest);
  return G_SOURCE_CONTINUE;
}

static void
on_waited (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

static void
on_carrier_seen (HolderNetSign sign,
                 gpointer      user_data)
{
  gint64 *carrier_at = user_data;

  if (sign == HOLDER_NET_SIGN_CARRIER && *carrier_at == 0)
    *carrier_at = g_get_monotonic_time ();
}

static void
test_slow_guest (void)
{
  g_autofree char *root = NULL;
  g_autofree char *ip = NULL;
  g_autofree char *mac = holder_mac_for_name ("slow-1");
  g_autofree char *tap = NULL;
  g_autofree char *answer = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderGuestWait) wait = NULL;
  GAsyncResult *waited = NULL;
  struct ifreq ifr = { 0 };
  SlowGuest guest = { 0 };
  HolderGuestWaitHints hints = { "slow-1", NULL, mac };
  HolderLinuxNet *net;
  HolderNetWatch *carrier_watch;
  gboolean passed = FALSE;
  guint deadline, watch;
  gint64 t0, carrier_at = 0, seen_at;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  net = holder_test_linux_net_create ();
  ip = reserve_ok (net, "slow-1", NULL);
  g_assert_true (holder_linux_net_add_neighbour (net, ip, mac, &error));
  g_assert_no_error (error);
  g_assert_cmpint (sscanf (mac, "%2hhx:%2hhx:%2hhx:%2hhx:%2hhx:%2hhx", &guest.mac[0],
                           &guest.mac[1], &guest.mac[2], &guest.mac[3], &guest.mac[4],
                           &guest.mac[5]), ==, 6);
  tap = holder_linux_net_add_tap (net, &error);
  g_assert_no_error (error);
  hints.link = tap;
  carrier_watch = holder_net_watch_new (tap, NULL, NULL, on_carrier_seen, &carrier_at);
  g_assert_nonnull (carrier_watch);

  /* The wait starts before the VMM attaches to the tap: the bridge drops
   * the first SYNs (a port without carrier does not forward). */
  t0 = g_get_monotonic_time ();
  wait = holder_guest_wait_start_full (ip, 22, &hints, NULL, on_waited, &waited);
  run_main_for_ms (100);
  g_assert_null (waited);
  guest.fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  g_assert_cmpint (guest.fd, >=, 0);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  g_strlcpy (ifr.ifr_name, tap, sizeof ifr.ifr_name);
  g_assert_cmpint (ioctl (guest.fd, TUNSETIFF, &ifr), ==, 0);
  watch = g_unix_fd_add (guest.fd, G_IO_IN, on_guest_frame, &guest);

  /* Every answer comes SLOW_ANSWER_MS late, after the short-lived
   * attempts are gone: only a patient one can take it, and one sent once
   * the port forwards (its carrier, noticed, makes the next one patient). */
  deadline = g_timeout_add_seconds (5, on_deadline, &passed);
  while (waited == NULL && !passed)
    g_main_context_iteration (NULL, TRUE);
  seen_at = g_get_monotonic_time ();
  g_assert_nonnull (waited);
  g_source_remove (deadline);
  answer = holder_guest_wait_finish (waited, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (answer, ==, ip);
  g_assert_cmpint (carrier_at, >, 0);
  g_test_message ("a guest answering %d ms late, its tap's carrier seen after %.0f ms: "
                  "the guest seen %.0f ms later, after %u SYNs", SLOW_ANSWER_MS,
                  (carrier_at - t0) / 1e3, (seen_at - carrier_at) / 1e3, guest.syns);
  g_assert_cmpint (seen_at - carrier_at, <, 400 * G_TIME_SPAN_MILLISECOND);
  holder_net_watch_free (carrier_watch);

  g_object_unref (waited);
  g_source_remove (watch);
  /* The answers still queued go nowhere. */
  while (guest.pending != NULL)
    g_main_context_iteration (NULL, TRUE);
  close (guest.fd);
  holder_test_linux_net_close (net);
  holder_test_remove_tree (root);
}

static void
test_guests_reach_each_other (void)
{
  g_autofree char *root = NULL;
  g_autofree char *ip_a = NULL;
  g_autofree char *ip_b = NULL;
  HolderLinuxNet *net;
  GPid listener_a;
  GPid listener_b;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  net = holder_test_linux_net_create ();
  ip_a = reserve_ok (net, "guest-a", NULL);
  ip_b = reserve_ok (net, "guest-b", NULL);
  add_guest (net, "guest-a", "veth-ga", ip_a);
  add_guest (net, "guest-b", "veth-gb", ip_b);
  listener_a = spawn_listener ("guest-a");
  listener_b = spawn_listener ("guest-b");

  g_assert_true (connects_from_netns ("guest-b", ip_a, 10000));
  g_assert_true (connects_from_netns ("guest-a", ip_b, 10000));
  /* From the helper's namespace, across the bridge's own address. */
  g_assert_true (connects_from_netns (NULL, ip_a, 10000));
  g_assert_true (connects_from_netns (NULL, ip_b, 10000));

  holder_test_kill_and_reap (listener_a);
  holder_test_kill_and_reap (listener_b);
  /* A guest port is not reachable once nothing listens: the probe above
   * did test the listener. */
  g_assert_false (connects_from_netns (NULL, ip_a, 0));

  holder_test_net_ip ("netns del guest-a");
  holder_test_net_ip ("netns del guest-b");
  holder_test_linux_net_close (net);
  holder_test_remove_tree (root);
}

/* Runs in a child: makes a network, then adds taps forever, printing each
 * tap's name on @fd once it exists. Never returns. */
static void G_GNUC_NORETURN
owner_adding_taps (const char *root,
                   int         fd)
{
  HolderLinuxNet *net = holder_linux_net_create (NULL, NULL);
  char *ip;
  char *ip_line;

  if (net == NULL)
    _exit (3);
  /* A member first: its neighbour entry, then its address on a line. */
  ip = holder_ipam_reserve (holder_linux_net_get_ipam (net), "member-1", NULL, NULL);
  if (ip == NULL || !holder_linux_net_add_neighbour (net, ip, "52:54:00:00:00:42", NULL))
    _exit (8);
  ip_line = g_strdup_printf ("%s\n", ip);
  if (write (fd, ip_line, strlen (ip_line)) < 0)
    _exit (5);
  for (guint i = 0; i < 200; i++)
    {
      char *tap = holder_linux_net_add_tap (net, NULL);
      char *line;

      if (tap == NULL)
        _exit (4);
      line = g_strdup_printf ("%s\n", tap);
      if (write (fd, line, strlen (line)) < 0)
        _exit (5);
    }
  pause ();
  _exit (0);
}

static void
test_crash_reconcile (void)
{
  g_autofree char *root = NULL;
  g_autofree char *member_ip = NULL;
  g_autofree char *neighbour = NULL;
  g_autofree char *first_tap = NULL;
  g_autofree char *value = NULL;
  g_auto(GStrv) warnings = NULL;
  int lines[2];
  int status = 0;
  guint reclaimed = 0;
  GPid owner;
  GPid vmm;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  g_assert_cmpint (pipe2 (lines, O_CLOEXEC), ==, 0);
  owner = fork ();
  g_assert_cmpint (owner, >=, 0);
  if (owner == 0)
    {
      close (lines[0]);
      owner_adding_taps (root, lines[1]);
    }
  close (lines[1]);

  member_ip = holder_test_read_line (lines[0]);
  first_tap = holder_test_read_line (lines[0]);
  g_assert_true (g_str_has_prefix (first_tap, "fbt-"));
  vmm = holder_test_net_spawn_tap_user (first_tap, FALSE);
  for (guint i = 0; i < 3; i++)
    g_free (holder_test_read_line (lines[0]));

  /* Killed mid-way through adding taps. */
  kill (owner, SIGKILL);
  g_assert_true (holder_test_wait_child (owner, &status));
  g_assert_true (WIFSIGNALED (status));
  close (lines[0]);
  g_assert_cmpuint (holder_test_net_count_links ("fbx-"), ==, 1);
  g_assert_cmpuint (holder_test_net_count_links ("fbt-"), >=, 4);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");
  g_clear_pointer (&value, g_free);
  /* The member's entry outlived its owner, and survived the taps. */
  neighbour = neighbour_of (member_ip);
  g_assert_nonnull (strstr (neighbour, "lladdr 52:54:00:00:00:42 PERMANENT"));
  g_clear_pointer (&neighbour, g_free);

  warnings = reconcile_ok (root, &reclaimed);
  g_assert_cmpuint (g_strv_length (warnings), ==, 0);
  g_assert_cmpuint (reclaimed, ==, 1);

  /* The stand-in VMM attached to an orphaned tap was killed. */
  g_assert_true (holder_test_wait_child (vmm, &status));
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);

  g_assert_cmpuint (holder_test_net_count_links ("fbx-"), ==, 0);
  g_assert_cmpuint (holder_test_net_count_links ("fbt-"), ==, 0);
  g_assert_cmpuint (count_network_files (root), ==, 0);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
  g_clear_pointer (&value, g_free);
  /* The bridge took its neighbour entries with it. */
  g_assert_cmpstr ((neighbour = neighbour_of (member_ip)), ==, "");

  /* Idempotent: a second run finds nothing to do. */
  g_clear_pointer (&warnings, g_strfreev);
  warnings = reconcile_ok (root, &reclaimed);
  g_assert_cmpuint (reclaimed, ==, 0);
  g_assert_cmpuint (g_strv_length (warnings), ==, 0);
  holder_test_remove_tree (root);
}

static void
test_reconcile_live_owner (void)
{
  g_autofree char *root = NULL;
  g_autofree char *dead = NULL;
  g_autofree char *tap = NULL;
  g_autofree char *path = NULL;
  g_autofree char *value = NULL;
  g_auto(GStrv) warnings = NULL;
  g_autoptr(GError) error = NULL;
  guint reclaimed = 0;
  HolderLinuxNet *live;
  const char *bridge;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  live = holder_test_linux_net_create ();
  bridge = holder_linux_net_get_bridge (live);
  tap = holder_linux_net_add_tap (live, &error);
  g_assert_no_error (error);
  dead = holder_test_linux_net_make_dead (NULL);
  g_assert_true (holder_test_net_link_exists (dead));

  warnings = reconcile_ok (root, &reclaimed);
  g_assert_cmpuint (reclaimed, ==, 1);
  g_assert_false (holder_test_net_link_exists (dead));

  /* Ours is untouched: bridge, tap, table, record, forwarding. */
  g_assert_true (holder_test_net_link_exists (bridge));
  g_assert_true (holder_test_net_link_exists (tap));
  g_assert_true (holder_test_net_table_exists (bridge));
  path = record_path (root, bridge);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");
  g_clear_pointer (&value, g_free);

  holder_test_linux_net_close (live);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
  g_assert_cmpuint (count_network_files (root), ==, 0);
  holder_test_remove_tree (root);
}

static void
test_reconcile_corrupt_record (void)
{
  g_autofree char *root = NULL;
  g_autofree char *dead = NULL;
  g_autofree char *garbage = NULL;
  g_autofree char *fake_eth0 = NULL;
  g_autofree char *runtime = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *value = NULL;
  g_auto(GStrv) warnings = NULL;
  g_autoptr(GError) error = NULL;
  guint reclaimed = 0;

  HOLDER_TEST_SKIP_IF (skip_reason);
  root = make_root ();
  dead = holder_test_linux_net_make_dead (NULL);

  runtime = runtime_dir (root);
  dir = holder_test_net_netns_dir (runtime);
  garbage = g_build_filename (dir, "fbx-0badf00d.json", NULL);
  g_assert_true (g_file_set_contents (garbage, "{\"bridge\": \"fbx-0bad", -1, &error));
  /* Well-formed, but it names a link that is not ours to delete. */
  fake_eth0 = g_build_filename (dir, "fbx-00000001.json", NULL);
  g_assert_true (g_file_set_contents (fake_eth0,
                                      "{\"bridge\":\"" UPLINK "\",\"subnet\":\"x\","
                                      "\"owner_pid\":1,\"owner_start_time\":1,"
                                      "\"owner_boot_id\":\"x\",\"taps\":[]}",
                                      -1, &error));

  warnings = reconcile_ok (root, &reclaimed);
  g_assert_cmpuint (reclaimed, ==, 1);
  g_assert_cmpuint (g_strv_length (warnings), ==, 2);
  for (guint i = 0; warnings[i] != NULL; i++)
    {
      g_test_message ("warning: %s", warnings[i]);
      g_assert_nonnull (strstr (warnings[i], "corrupt network record skipped"));
    }
  g_assert_true (g_file_test (garbage, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fake_eth0, G_FILE_TEST_EXISTS));
  g_assert_false (holder_test_net_link_exists (dead));
  g_assert_true (holder_test_net_link_exists (UPLINK));
  /* A record that cannot be read may be a live network's: the uplink
   * keeps forwarding until it is put right. */
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");
  g_clear_pointer (&value, g_free);

  g_assert_cmpint (g_unlink (garbage), ==, 0);
  g_assert_cmpint (g_unlink (fake_eth0), ==, 0);
  g_clear_pointer (&warnings, g_strfreev);
  warnings = reconcile_ok (root, &reclaimed);
  g_assert_cmpuint (g_strv_length (warnings), ==, 0);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
  g_assert_cmpuint (count_network_files (root), ==, 0);

  holder_test_remove_tree (root);
}

/* ---- namespace set-up --------------------------------------------------- */

/* The namespaces of holder-test-net.h, and /run/netns a tmpfs of its own
 * so that `ip netns` names stay ours. */
static const char *
enter_private_namespace (void)
{
  static char reason[256];
  const char *why = holder_test_net_enter ();

  if (why != NULL)
    return why;
  if (g_mkdir_with_parents ("/run/netns", 0755) < 0 ||
      mount ("tmpfs", "/run/netns", "tmpfs", 0, "mode=0755") < 0)
    {
      g_snprintf (reason, sizeof reason, "cannot make private mounts: %s",
                  g_strerror (errno));
      return reason;
    }
  return NULL;
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  skip_reason = enter_private_namespace ();

  g_test_add_func ("/linux-net/create/bridge", test_create_bridge);
  g_test_add_func ("/linux-net/create/table", test_create_table);
  g_test_add_func ("/linux-net/create/forwarding", test_create_forwarding);
  g_test_add_func ("/linux-net/create/original-forwarding-kept", test_create_original_one);
  g_test_add_func ("/linux-net/create/shared-uplink", test_shared_uplink);
  g_test_add_func ("/linux-net/create/no-free-subnet", test_no_free_subnet);
  g_test_add_func ("/linux-net/create/needs-root", test_needs_root);
  g_test_add_func ("/linux-net/reserve", test_reserve);
  g_test_add_func ("/linux-net/taps", test_taps);
  g_test_add_func ("/linux-net/neighbours", test_neighbours);
  g_test_add_func ("/linux-net/net-watch", test_net_watch);
  g_test_add_func ("/linux-net/slow-guest", test_slow_guest);
  g_test_add_func ("/linux-net/guests-reach-each-other", test_guests_reach_each_other);
  g_test_add_func ("/linux-net/reconcile/crash", test_crash_reconcile);
  g_test_add_func ("/linux-net/reconcile/live-owner", test_reconcile_live_owner);
  g_test_add_func ("/linux-net/reconcile/corrupt-record", test_reconcile_corrupt_record);

  return g_test_run ();
}
