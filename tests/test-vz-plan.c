/* SPDX-License-Identifier: MIT
 *
 * The vz backend's decisions that depend on the Mac only: the macOS
 * version and its gates, the macOS-26 cluster rule, the subnet plan and
 * vmnet's arguments and status texts, the VM state table. Portable code,
 * run on every platform.
 */
#define G_LOG_DOMAIN "holder-test"

#include <arpa/inet.h>
#include <string.h>
#include <gio/gio.h>

#include "holder-backend.h"
#include "holder-vz-net.h"
#include "holder-vz-state.h"
#include "holder-vz-version.h"

/* ---- versions ----------------------------------------------------------- */

static void
test_version_parse (void)
{
  /* fleetbox's vz_test cases, then a few of our own. */
  static const struct {
    const char *text;
    guint       major;
  } cases[] = {
    { "26.4.1", 26 },
    { "26", 26 },
    { "15.5", 15 },
    { "13.7.6", 13 },
    { "", 0 },
    { "notaversion", 0 },
    { ".4", 0 },
    { "26abc.1", 0 },
    { "-3.1", 0 },
    { "99999999999999999999.1", 0 },
    { "14.", 14 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("\"%s\"", cases[i].text);
      g_assert_cmpuint (holder_vz_parse_macos_major (cases[i].text), ==, cases[i].major);
    }
  g_assert_cmpuint (holder_vz_parse_macos_major (NULL), ==, 0);
}

static void
test_version_gates (void)
{
  g_assert_false (holder_vz_supports_clustering (0));
  g_assert_false (holder_vz_supports_clustering (13));
  g_assert_false (holder_vz_supports_clustering (15));
  g_assert_false (holder_vz_supports_clustering (25));
  g_assert_true (holder_vz_supports_clustering (26));
  g_assert_true (holder_vz_supports_clustering (27));

  g_assert_cmpint (holder_vz_net_mode (0), ==, HOLDER_VZ_NET_NAT);
  g_assert_cmpint (holder_vz_net_mode (15), ==, HOLDER_VZ_NET_NAT);
  g_assert_cmpint (holder_vz_net_mode (25), ==, HOLDER_VZ_NET_NAT);
  g_assert_cmpint (holder_vz_net_mode (26), ==, HOLDER_VZ_NET_SHARED);
  g_assert_cmpint (holder_vz_net_mode (30), ==, HOLDER_VZ_NET_SHARED);
  g_assert_cmpstr (holder_vz_net_mode_to_string (HOLDER_VZ_NET_NAT), ==, "NAT");
  g_assert_cmpstr (holder_vz_net_mode_to_string (HOLDER_VZ_NET_SHARED), ==,
                   "vmnet shared mode");
}

static void
test_cluster_rule (void)
{
  g_autoptr(GError) error = NULL;

  /* The first member is always fine; on 26+ any number is. */
  g_assert_true (holder_vz_cluster_allows (15, 0, &error));
  g_assert_no_error (error);
  g_assert_true (holder_vz_cluster_allows (26, 0, &error));
  g_assert_true (holder_vz_cluster_allows (26, 7, &error));
  g_assert_no_error (error);

  /* A second member below 26 gets the reason and the way out. */
  g_assert_false (holder_vz_cluster_allows (15, 1, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_true (g_str_has_prefix (error->message,
                                   "clusters require macOS 26 or later: this Mac runs macOS 15; "));
  g_assert_nonnull (strstr (error->message, "upgrade"));
  g_clear_error (&error);

  g_assert_false (holder_vz_cluster_allows (25, 3, &error));
  g_assert_true (g_str_has_prefix (error->message,
                                   "clusters require macOS 26 or later: this Mac runs macOS 25; "));
  g_clear_error (&error);

  /* An unreadable version is the conservative path, said plainly. */
  g_assert_false (holder_vz_cluster_allows (0, 1, &error));
  g_assert_true (g_str_has_prefix (error->message,
                                   "clusters require macOS 26 or later: this Mac's macOS "
                                   "version could not be read; "));
}

/* ---- subnets ------------------------------------------------------------------ */

static HolderVzIpv4Prefix
prefix (const char *address,
        guint8      length)
{
  struct in_addr in;
  HolderVzIpv4Prefix p;

  g_assert_cmpint (inet_pton (AF_INET, address, &in), ==, 1);
  p.network = ntohl (in.s_addr);
  p.length = length;
  return p;
}

static void
test_subnet_start_and_wrap (void)
{
  HolderVzSubnetSet set = { { 0 } };
  g_autoptr(GError) error = NULL;
  guint8 octet = 0;

  g_assert_true (holder_vz_pick_subnet (NULL, 0, &set, 77, &octet, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (octet, ==, 77);
  g_assert_true (holder_vz_subnet_set_contains (&set, 77));

  /* 255 taken: the scan wraps to 0. */
  holder_vz_subnet_set_add (&set, 255);
  g_assert_true (holder_vz_pick_subnet (NULL, 0, &set, 255, &octet, &error));
  g_assert_cmpuint (octet, ==, 0);
}

static void
test_subnet_skips_host_prefixes (void)
{
  HolderVzSubnetSet set = { { 0 } };
  g_autoptr(GError) error = NULL;
  HolderVzIpv4Prefix host[] = {
    prefix ("192.168.10.0", 24),   /* exactly the candidate */
    prefix ("192.168.11.128", 25), /* inside the next one */
    prefix ("192.168.12.0", 23),   /* covers 12 and 13 */
    prefix ("10.0.0.0", 8),        /* outside 192.168.0.0/16: ignored */
    prefix ("192.0.0.0", 8),       /* covers it all but is not inside: ignored */
    prefix ("172.16.5.0", 24),
  };
  guint8 octet = 0;

  g_assert_true (holder_vz_pick_subnet (host, G_N_ELEMENTS (host), &set, 10, &octet, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (octet, ==, 14);
}

static void
test_subnet_unique_and_exhausted (void)
{
  HolderVzSubnetSet set = { { 0 } };
  g_autoptr(GError) error = NULL;
  HolderVzIpv4Prefix host[] = { prefix ("192.168.100.0", 24), prefix ("192.168.200.7", 32) };
  gboolean seen[256] = { FALSE };
  guint8 octet = 0;

  /* 254 picks from random starts: each valid, none twice, never a host's. */
  for (guint i = 0; i < 254; i++)
    {
      guint32 addr_be, mask_be;

      g_assert_true (holder_vz_pick_subnet (host, G_N_ELEMENTS (host), &set,
                                            (guint8) g_test_rand_int_range (0, 256), &octet,
                                            &error));
      g_assert_no_error (error);
      g_assert_false (seen[octet]);
      g_assert_cmpuint (octet, !=, 100);
      g_assert_cmpuint (octet, !=, 200);
      seen[octet] = TRUE;
      holder_vz_vmnet_subnet_args (octet, &addr_be, &mask_be);
      g_assert_cmpuint (ntohl (addr_be) & 0xffff0000u, ==, 0xc0a80000u);
    }

  /* Nothing left. */
  g_assert_false (holder_vz_pick_subnet (host, G_N_ELEMENTS (host), &set, 0, &octet, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "no free /24 subnet available in 192.168.0.0/16");
  g_clear_error (&error);

  /* A host /16 over all of 192.168 leaves nothing either. */
  {
    HolderVzSubnetSet fresh = { { 0 } };
    HolderVzIpv4Prefix wide = prefix ("192.168.0.0", 16);

    g_assert_false (holder_vz_pick_subnet (&wide, 1, &fresh, 9, &octet, &error));
    g_assert_cmpstr (error->message, ==, "no free /24 subnet available in 192.168.0.0/16");
  }
}

static void
test_subnet_host_prefixes (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) prefixes = holder_vz_host_ipv4_prefixes (&error);
  gboolean loopback = FALSE;

  /* Read only: getifaddrs() touches nothing. Every Linux and macOS test
   * machine has 127.0.0.1/8. */
  g_assert_no_error (error);
  g_assert_nonnull (prefixes);
  for (guint i = 0; i < prefixes->len; i++)
    {
      HolderVzIpv4Prefix *p = &g_array_index (prefixes, HolderVzIpv4Prefix, i);

      g_assert_cmpuint (p->length, <=, 32);
      if (p->network == 0x7f000000u && p->length == 8)
        loopback = TRUE;
    }
  g_assert_true (loopback);
}

static void
test_subnet_process_wide (void)
{
  g_autoptr(GError) error = NULL;
  guint8 a = 0, b = 0;

  /* Two picks in one process never agree, whatever the random start. */
  g_assert_true (holder_vz_pick_subnet_for_process (&a, &error));
  g_assert_no_error (error);
  g_assert_true (holder_vz_pick_subnet_for_process (&b, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (a, !=, b);
}

static void
test_vmnet_args (void)
{
  guint32 addr_be = 0, mask_be = 0;
  char text[INET_ADDRSTRLEN];
  struct in_addr in;
  g_autofree char *cidr = holder_vz_subnet_to_string (77);

  /* The first host address, not the network address. */
  holder_vz_vmnet_subnet_args (77, &addr_be, &mask_be);
  in.s_addr = addr_be;
  g_assert_cmpstr (inet_ntop (AF_INET, &in, text, sizeof text), ==, "192.168.77.1");
  in.s_addr = mask_be;
  g_assert_cmpstr (inet_ntop (AF_INET, &in, text, sizeof text), ==, "255.255.255.0");
  g_assert_cmpstr (cidr, ==, "192.168.77.0/24");

  holder_vz_vmnet_subnet_args (0, &addr_be, &mask_be);
  in.s_addr = addr_be;
  g_assert_cmpstr (inet_ntop (AF_INET, &in, text, sizeof text), ==, "192.168.0.1");
  holder_vz_vmnet_subnet_args (255, &addr_be, &mask_be);
  in.s_addr = addr_be;
  g_assert_cmpstr (inet_ntop (AF_INET, &in, text, sizeof text), ==, "192.168.255.1");
}

static void
test_vmnet_status (void)
{
  static const char *const names[] = {
    "VMNET_SUCCESS", "VMNET_FAILURE", "VMNET_MEM_FAILURE", "VMNET_INVALID_ARGUMENT",
    "VMNET_SETUP_INCOMPLETE", "VMNET_INVALID_ACCESS", "VMNET_PACKET_TOO_BIG",
    "VMNET_BUFFER_EXHAUSTED", "VMNET_TOO_MANY_PACKETS", "VMNET_SHARING_SERVICE_BUSY",
    "VMNET_NOT_AUTHORIZED",
  };

  for (int code = 1000; code <= 1010; code++)
    {
      const char *text = holder_vz_vmnet_status_text (code);

      g_assert_true (g_str_has_prefix (text, names[code - 1000]));
      g_assert_cmpint (text[strlen (names[code - 1000])], ==, ':');
    }
  /* The failure ADR-0031 met says what clears it. */
  g_assert_nonnull (strstr (holder_vz_vmnet_status_text (1001), "reboot"));
  g_assert_cmpstr (holder_vz_vmnet_status_text (999), ==, "unknown vmnet status");
  g_assert_cmpstr (holder_vz_vmnet_status_text (1011), ==, "unknown vmnet status");
  g_assert_cmpstr (holder_vz_vmnet_status_text (0), ==, "unknown vmnet status");
}

/* ---- states ------------------------------------------------------------------------ */

static void
test_state_table (void)
{
  static const struct {
    int           raw;
    HolderVzState state;
    const char   *name;
  } cases[] = {
    { 0, HOLDER_VZ_STATE_STOPPED, "stopped" },
    { 1, HOLDER_VZ_STATE_RUNNING, "running" },
    { 2, HOLDER_VZ_STATE_PAUSED, "paused" },
    { 3, HOLDER_VZ_STATE_ERROR, "error" },
    { 4, HOLDER_VZ_STATE_STARTING, "starting" },
    { 5, HOLDER_VZ_STATE_PAUSING, "pausing" },
    { 6, HOLDER_VZ_STATE_RESUMING, "resuming" },
    { 7, HOLDER_VZ_STATE_STOPPING, "stopping" },
    /* Saving and Restoring (macOS 14) are never ours: unknown. */
    { 8, HOLDER_VZ_STATE_UNKNOWN, "unknown" },
    { 9, HOLDER_VZ_STATE_UNKNOWN, "unknown" },
    { 10, HOLDER_VZ_STATE_UNKNOWN, "unknown" },
    { -1, HOLDER_VZ_STATE_UNKNOWN, "unknown" },
    { G_MAXINT, HOLDER_VZ_STATE_UNKNOWN, "unknown" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      HolderVzState state = holder_vz_state_from_raw (cases[i].raw);

      g_assert_cmpint (state, ==, cases[i].state);
      g_assert_cmpstr (holder_vz_state_to_string (state), ==, cases[i].name);
    }
  g_assert_cmpstr (holder_vz_state_to_string ((HolderVzState) 42), ==, "unknown");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/vz/version/parse", test_version_parse);
  g_test_add_func ("/vz/version/gates", test_version_gates);
  g_test_add_func ("/vz/version/cluster-rule", test_cluster_rule);
  g_test_add_func ("/vz/subnet/start-and-wrap", test_subnet_start_and_wrap);
  g_test_add_func ("/vz/subnet/skips-host-prefixes", test_subnet_skips_host_prefixes);
  g_test_add_func ("/vz/subnet/unique-and-exhausted", test_subnet_unique_and_exhausted);
  g_test_add_func ("/vz/subnet/host-prefixes", test_subnet_host_prefixes);
  g_test_add_func ("/vz/subnet/process-wide", test_subnet_process_wide);
  g_test_add_func ("/vz/vmnet/subnet-args", test_vmnet_args);
  g_test_add_func ("/vz/vmnet/status", test_vmnet_status);
  g_test_add_func ("/vz/state/table", test_state_table);

  return g_test_run ();
}
