/* SPDX-License-Identifier: MIT
 *
 * The real fleetbox-helper with FLEETBOX_BACKEND=cloud-hypervisor:
 * createnetwork and reserve over its socket, SIGTERM and SIGKILL, and
 * --fleetbox-reconcile. Everything runs in a network and mount namespace
 * this program makes at start-up (holder-test-net.h; the host's namespace
 * is never touched), with a fake uplink (veth upl0, default route via
 * 10.99.0.1), a busy address (192.168.0.1/24) and a busy route
 * (192.168.1.0/24), so the first free subnet is 192.168.2.0/24. The
 * helpers, as children, share it.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "test-ch-network-process"

#include <signal.h>
#include <string.h>

#include <glib.h>

#include "holder-linux-net-host.h"
#include "holder-test-net.h"
#include "holder-test-util.h"

#define UPLINK HOLDER_TEST_UPLINK

static const char *skip_reason;

/* ---- the helper's replies ----------------------------------------------- */

static char *
expected_mac (const char *name)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *input = g_strdup_printf ("fleetbox:%s", name);
  guint8 digest[32];
  gsize len = sizeof digest;

  g_checksum_update (sum, (const guchar *) input, -1);
  g_checksum_get_digest (sum, digest, &len);
  digest[0] = (digest[0] & 0xfe) | 0x02;
  return g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x", digest[0], digest[1],
                          digest[2], digest[3], digest[4], digest[5]);
}

static void
assert_reserve (HolderTestSandbox *sb,
                const char        *via,
                const char        *name,
                const char        *hint,
                const char        *expected_ip)
{
  g_autofree char *line = hint != NULL
    ? g_strdup_printf ("{\"cmd\":\"reserve\",\"name\":\"%s\",\"ip_hint\":\"%s\"}\n", name, hint)
    : g_strdup_printf ("{\"cmd\":\"reserve\",\"name\":\"%s\"}\n", name);
  g_autofree char *mac = expected_mac (name);
  g_autofree char *expected = g_strdup_printf ("{\"reservation\":{\"ip\":\"%s\",\"mac\":\"%s\"}}\n",
                                               expected_ip, mac);
  g_autofree char *reply = holder_test_sandbox_request (sb, via, line);

  g_assert_cmpstr (reply, ==, expected);
}

static void
reconcile_once (HolderTestSandbox *sb)
{
  const char *args[] = { "--fleetbox-reconcile", NULL };

  holder_test_assert_exits_zero (holder_test_sandbox_spawn (sb, args), 30000);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_createnetwork_reserve_sigterm (void)
{
  g_autoptr(HolderTestSandbox) sb = NULL;
  g_auto(GStrv) bridges = NULL;
  g_autofree char *addrs = NULL;
  g_autofree char *dump = NULL;
  g_autofree char *value = NULL;
  g_autofree char *record = NULL;
  g_autofree char *record_file = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *reply = NULL;
  g_autoptr(GError) error = NULL;
  GPid pid;

  HOLDER_TEST_SKIP_IF (skip_reason);
  sb = holder_test_sandbox_new (NULL);
  pid = holder_test_sandbox_helper_with_network (sb, "web-1", "192.168.2.0/24");

  /* Idempotent: the same subnet, no second bridge. */
  reply = holder_test_sandbox_request (sb, "web-1", "{\"cmd\":\"createnetwork\"}\n");
  g_assert_cmpstr (reply, ==, "{\"subnet\":\"192.168.2.0/24\"}\n");
  bridges = holder_test_net_links ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);

  assert_reserve (sb, "web-1", "web-1", "192.168.2.9", "192.168.2.9");
  assert_reserve (sb, "web-1", "web-2", NULL, "192.168.2.2");
  assert_reserve (sb, "web-1", "web-3", "192.168.2.1", "192.168.2.3");
  assert_reserve (sb, "web-1", "web-4", "192.168.2.9", "192.168.2.4");
  /* Repeats return the first reservation. */
  assert_reserve (sb, "web-1", "web-2", "192.168.2.50", "192.168.2.2");

  addrs = holder_test_net_ip_output ("-o -4 addr show dev %s", bridges[0]);
  g_assert_nonnull (strstr (addrs, "inet 192.168.2.1/24"));
  dump = holder_net_table_dump (bridges[0], &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (dump, "ip saddr 192.168.2.0/24 oifname != "));
  g_assert_nonnull (strstr (dump, "masquerade"));
  g_assert_nonnull (strstr (dump, "ip daddr 192.168.2.0/24 iifname != "));
  g_assert_nonnull (strstr (dump, "ct state new drop"));
  g_assert_cmpstr ((value = holder_test_net_forwarding (bridges[0])), ==, "1");
  g_clear_pointer (&value, g_free);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");
  g_clear_pointer (&value, g_free);

  record_file = holder_test_net_record_path (sb->runtime, bridges[0]);
  g_assert_true (g_file_get_contents (record_file, &record, NULL, NULL));
  owner = g_strdup_printf ("\"owner_pid\":%d,", (int) pid);
  g_assert_nonnull (strstr (record, owner));

  /* SIGTERM: the helper closes its network on the way out. */
  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  holder_test_assert_exits_zero (pid, 30000);
  g_assert_false (holder_test_net_table_exists (bridges[0]));
  holder_test_sandbox_assert_nothing_left (sb);
}

/* A reserve's reply comes once the member's neighbour entry is in: a
 * client may probe the guest the moment it has the address. Eight at
 * once, looked at from the last: each one's entry would otherwise still
 * be queued behind the taps made for the members before it. */
static void
test_reserve_neighbour_first (void)
{
  g_autoptr(HolderTestSandbox) sb = NULL;
  char *ips[8];
  GPid pid;

  HOLDER_TEST_SKIP_IF (skip_reason);
  sb = holder_test_sandbox_new (NULL);
  pid = holder_test_sandbox_helper_with_network (sb, "nb-0", "192.168.2.0/24");
  for (guint i = 0; i < G_N_ELEMENTS (ips); i++)
    {
      g_autofree char *name = g_strdup_printf ("nb-%u", i);

      ips[i] = g_strdup_printf ("192.168.2.%u", i + 2);
      assert_reserve (sb, "nb-0", name, NULL, ips[i]);
    }
  for (guint i = G_N_ELEMENTS (ips); i-- > 0;)
    {
      g_autofree char *name = g_strdup_printf ("nb-%u", i);
      g_autofree char *mac = expected_mac (name);

      if (!holder_test_has_permanent_neighbour (ips[i], mac, "fbx-"))
        g_error ("no neighbour entry for %s right after its reserve: \"%s\"", name,
                 holder_test_neighbour_of (ips[i]));
      g_free (ips[i]);
    }

  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  holder_test_assert_exits_zero (pid, 30000);
  holder_test_sandbox_assert_nothing_left (sb);
}

static void
test_sigkill_then_reconcile (void)
{
  g_autoptr(HolderTestSandbox) sb = NULL;
  g_auto(GStrv) bridges = NULL;
  g_autofree char *value = NULL;
  GPid pid;

  HOLDER_TEST_SKIP_IF (skip_reason);
  sb = holder_test_sandbox_new (NULL);
  pid = holder_test_sandbox_helper_with_network (sb, "db-1", "192.168.2.0/24");
  bridges = holder_test_net_links ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);

  holder_test_kill_helper (pid);
  /* A SIGKILLed helper leaves everything behind... */
  g_assert_true (holder_test_net_table_exists (bridges[0]));
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");

  /* ...which reconcile takes away, and a second run finds nothing. */
  reconcile_once (sb);
  g_assert_false (holder_test_net_table_exists (bridges[0]));
  holder_test_sandbox_assert_nothing_left (sb);
  reconcile_once (sb);
  holder_test_sandbox_assert_nothing_left (sb);
}

static void
test_reconcile_beside_live_owner (void)
{
  g_autoptr(HolderTestSandbox) sb = NULL;
  g_auto(GStrv) dead_bridges = NULL;
  g_auto(GStrv) bridges = NULL;
  g_autofree char *value = NULL;
  g_autofree char *addrs = NULL;
  GPid dead;
  GPid live;

  HOLDER_TEST_SKIP_IF (skip_reason);
  sb = holder_test_sandbox_new (NULL);
  dead = holder_test_sandbox_helper_with_network (sb, "old-1", "192.168.2.0/24");
  dead_bridges = holder_test_net_links ("fbx-");
  live = holder_test_sandbox_helper_with_network (sb, "new-1", "192.168.3.0/24");
  holder_test_kill_helper (dead);

  reconcile_once (sb);
  reconcile_once (sb);

  /* Only the live helper's network is left, whole. */
  g_assert_false (holder_test_net_table_exists (dead_bridges[0]));
  bridges = holder_test_net_links ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);
  g_assert_cmpstr (bridges[0], !=, dead_bridges[0]);
  addrs = holder_test_net_ip_output ("-o -4 addr show dev %s", bridges[0]);
  g_assert_nonnull (strstr (addrs, "inet 192.168.3.1/24"));
  g_assert_true (holder_test_net_table_exists (bridges[0]));
  g_assert_cmpuint (holder_test_net_count_state (sb->runtime), ==, 3); /* folder, record, marker */
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");
  assert_reserve (sb, "new-1", "new-1", NULL, "192.168.3.2");

  g_assert_cmpint (kill (live, SIGTERM), ==, 0);
  holder_test_assert_exits_zero (live, 30000);
  holder_test_sandbox_assert_nothing_left (sb);
}

static void
test_startup_reconcile (void)
{
  g_autoptr(HolderTestSandbox) sb = NULL;
  g_auto(GStrv) bridges = NULL;
  const char *args[] = { "--fleetbox-runner", "late-1", NULL };
  GPid pid;

  HOLDER_TEST_SKIP_IF (skip_reason);
  sb = holder_test_sandbox_new (NULL);
  pid = holder_test_sandbox_helper_with_network (sb, "early-1", "192.168.2.0/24");
  holder_test_kill_helper (pid);
  bridges = holder_test_net_links ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);

  /* A new helper reclaims it before it serves. */
  pid = holder_test_sandbox_spawn (sb, args);
  holder_test_sandbox_wait_serving (sb, "late-1");
  g_assert_false (holder_test_net_table_exists (bridges[0]));
  holder_test_sandbox_assert_nothing_left (sb);

  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  holder_test_assert_exits_zero (pid, 30000);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  skip_reason = holder_test_net_enter ();
  if (skip_reason == NULL && g_getenv ("HOLDER_TEST_HELPER") == NULL)
    skip_reason = "HOLDER_TEST_HELPER is not set";

  g_test_add_func ("/ch-network/createnetwork-reserve-sigterm",
                   test_createnetwork_reserve_sigterm);
  g_test_add_func ("/ch-network/reserve-neighbour-first", test_reserve_neighbour_first);
  g_test_add_func ("/ch-network/sigkill-then-reconcile", test_sigkill_then_reconcile);
  g_test_add_func ("/ch-network/reconcile-beside-live-owner",
                   test_reconcile_beside_live_owner);
  g_test_add_func ("/ch-network/startup-reconcile", test_startup_reconcile);

  return g_test_run ();
}
