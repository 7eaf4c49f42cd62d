/* SPDX-License-Identifier: MIT
 *
 * test-ipam: address reservation in one /24, as both Linux VM backends use
 * it (hint, lowest free from .2, never the gateway, network or broadcast).
 */
#define G_LOG_DOMAIN "test-ipam"

#include "holder-backend.h"
#include "holder-ipam.h"

#define BASE ((192u << 24) | (168u << 16) | (42u << 8))

static char *
reserve (HolderIpam *ipam, const char *name, const char *hint)
{
  g_autoptr(GError) error = NULL;
  char *ip = holder_ipam_reserve (ipam, name, hint, &error);

  g_assert_no_error (error);
  g_assert_nonnull (ip);
  return ip;
}

static void
test_lowest_free (void)
{
  g_autoptr(HolderIpam) ipam = holder_ipam_new (BASE);
  g_autofree char *a = reserve (ipam, "a", NULL);
  g_autofree char *b = reserve (ipam, "b", NULL);

  g_assert_cmpstr (a, ==, "192.168.42.2");
  g_assert_cmpstr (b, ==, "192.168.42.3");
  g_assert_cmpstr (holder_ipam_lookup (ipam, "a"), ==, "192.168.42.2");
  g_assert_null (holder_ipam_lookup (ipam, "c"));
}

static void
test_same_name_same_address (void)
{
  g_autoptr(HolderIpam) ipam = holder_ipam_new (BASE);
  g_autofree char *first = reserve (ipam, "web", "192.168.42.77");
  g_autofree char *again = reserve (ipam, "web", "192.168.42.99");

  g_assert_cmpstr (first, ==, "192.168.42.77");
  g_assert_cmpstr (again, ==, "192.168.42.77");
}

static void
test_hint (void)
{
  g_autoptr(HolderIpam) ipam = holder_ipam_new (BASE | 0x17); /* last byte ignored */
  g_autofree char *hinted = reserve (ipam, "a", "192.168.42.200");
  g_autofree char *taken = reserve (ipam, "b", "192.168.42.200");
  g_autofree char *gateway = reserve (ipam, "c", "192.168.42.1");
  g_autofree char *network = reserve (ipam, "d", "192.168.42.0");
  g_autofree char *broadcast = reserve (ipam, "e", "192.168.42.255");
  g_autofree char *outside = reserve (ipam, "f", "10.0.0.9");
  g_autofree char *garbage = reserve (ipam, "g", "not-an-ip");

  g_assert_cmpstr (hinted, ==, "192.168.42.200");
  /* A taken hint, the gateway, .0, .255 or a foreign address: lowest free. */
  g_assert_cmpstr (taken, ==, "192.168.42.2");
  g_assert_cmpstr (gateway, ==, "192.168.42.3");
  g_assert_cmpstr (network, ==, "192.168.42.4");
  g_assert_cmpstr (broadcast, ==, "192.168.42.5");
  g_assert_cmpstr (outside, ==, "192.168.42.6");
  g_assert_cmpstr (garbage, ==, "192.168.42.7");
}

static void
test_full (void)
{
  g_autoptr(HolderIpam) ipam = holder_ipam_new (BASE);
  g_autoptr(GError) error = NULL;
  g_autofree char *last = NULL;
  char *ip;

  for (guint i = 2; i <= 254; i++)
    {
      g_autofree char *name = g_strdup_printf ("m%u", i);
      g_autofree char *got = reserve (ipam, name, NULL);
      g_autofree char *want = g_strdup_printf ("192.168.42.%u", i);

      g_assert_cmpstr (got, ==, want);
    }
  ip = holder_ipam_reserve (ipam, "one-too-many", NULL, &error);
  g_assert_null (ip);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "no free IP in subnet");
  /* Existing names still get theirs. */
  last = reserve (ipam, "m254", NULL);
  g_assert_cmpstr (last, ==, "192.168.42.254");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ipam/lowest-free", test_lowest_free);
  g_test_add_func ("/ipam/same-name-same-address", test_same_name_same_address);
  g_test_add_func ("/ipam/hint", test_hint);
  g_test_add_func ("/ipam/full", test_full);
  return g_test_run ();
}
