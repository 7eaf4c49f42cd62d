/* SPDX-License-Identifier: MIT
 *
 * bootpd's lease file as the vz backend reads it: fleetbox's dhcp_test
 * cases (the VZ "ff," form, the Ethernet form, a record with no IP, empty
 * input, order) plus garbage, a missing file, the hostname lookup and the
 * MAC helper. Portable code.
 */
#define G_LOG_DOMAIN "holder-test"

#include <gio/gio.h>
#include <string.h>

#include "holder-vz-leases.h"
#include "holder-test-util.h"

/* The spec's invented example: VZ form first (newest), Ethernet second. */
static const char two_records[] =
  "{\n"
  "\tname=web-1\n"
  "\tip_address=192.168.77.5\n"
  "\thw_address=ff,6e,2a,91,c4,0b,17\n"
  "\tidentifier=ff,6e,2a,91,c4,0b,17\n"
  "\tlease=0x6a1b2c3d\n"
  "}\n"
  "{\n"
  "\tname=legacy-host\n"
  "\tip_address=192.168.77.4\n"
  "\thw_address=1,aa:bb:cc:dd:ee:ff\n"
  "\tidentifier=1,aa:bb:cc:dd:ee:ff\n"
  "\tlease=0x6a1b2000\n"
  "}\n";

static GPtrArray *
parse (const char *text)
{
  return holder_vz_leases_parse (text, strlen (text));
}

static const HolderVzLease *
at (GPtrArray *leases,
    guint      i)
{
  return g_ptr_array_index (leases, i);
}

static void
test_vz_and_ethernet_forms (void)
{
  g_autoptr(GPtrArray) leases = parse (two_records);

  g_assert_cmpuint (leases->len, ==, 2);
  /* VZ: a DUID, so no hardware address. */
  g_assert_cmpstr (at (leases, 0)->name, ==, "web-1");
  g_assert_cmpstr (at (leases, 0)->ip, ==, "192.168.77.5");
  g_assert_cmpstr (at (leases, 0)->hw_address, ==, "");
  g_assert_cmpuint (at (leases, 0)->expiry, ==, 0x6a1b2c3d);
  /* Ethernet: type 1 and the MAC. */
  g_assert_cmpstr (at (leases, 1)->name, ==, "legacy-host");
  g_assert_cmpstr (at (leases, 1)->ip, ==, "192.168.77.4");
  g_assert_cmpstr (at (leases, 1)->hw_address, ==, "aa:bb:cc:dd:ee:ff");
  g_assert_cmpuint (at (leases, 1)->expiry, ==, 0x6a1b2000);
}

static void
test_record_without_ip (void)
{
  g_autoptr(GPtrArray) leases = parse ("{\n\tname=no-ip\n\thw_address=1,a:b:c:d:e:f\n}\n"
                                       "{\n\tname=bad-ip\n\tip_address=\n}\n"
                                       "{\n\tname=letters\n\tip_address=abc\n}\n"
                                       "{\n\tname=ok\n\tip_address=10.0.0.2\n}\n");

  g_assert_cmpuint (leases->len, ==, 1);
  g_assert_cmpstr (at (leases, 0)->name, ==, "ok");
  g_assert_cmpstr (at (leases, 0)->hw_address, ==, "");
  g_assert_cmpuint (at (leases, 0)->expiry, ==, 0);
}

static void
test_empty_and_garbage (void)
{
  static const char *const inputs[] = {
    "",
    "\n\n",
    "garbage without braces",
    "}}}}",
    "{{{{",
    "{ name=x",                   /* no IP */
    "\x01\x02\xff\xfe{}{}",
    "name=web-1\nip_address=1.2.3.4\n", /* outside a record */
  };
  g_autoptr(GPtrArray) none = holder_vz_leases_parse (NULL, 0);

  g_assert_cmpuint (none->len, ==, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GPtrArray) leases = parse (inputs[i]);

      g_test_message ("input %" G_GSIZE_FORMAT, i);
      g_assert_nonnull (leases);
      g_assert_cmpuint (leases->len, ==, 0);
    }
}

static void
test_truncated_record (void)
{
  /* bootpd rewriting the file: the last record is cut in the middle. */
  g_autofree char *cut = g_strndup (two_records, strlen (two_records) - 40);
  g_autoptr(GPtrArray) leases = parse (cut);

  g_assert_cmpuint (leases->len, ==, 2);
  g_assert_cmpstr (at (leases, 1)->ip, ==, "192.168.77.4");
  g_assert_cmpstr (at (leases, 1)->hw_address, ==, "aa:bb:cc:dd:ee:ff");
}

static void
test_order_and_lookup (void)
{
  g_autoptr(GPtrArray) leases =
    parse ("{\n name=web-1\n ip_address=192.168.64.9\n}\n"  /* newest */
           "{\n name=web-2\n ip_address=192.168.64.8\n}\n"
           "{\n name=web-1\n ip_address=192.168.64.3\n}\n"  /* an older lease */
           "{\n name=web-10\n ip_address=192.168.64.10\n}\n");
  const HolderVzLease *lease;

  g_assert_cmpuint (leases->len, ==, 4);
  g_assert_cmpstr (at (leases, 0)->ip, ==, "192.168.64.9");
  g_assert_cmpstr (at (leases, 2)->ip, ==, "192.168.64.3");

  /* The first exact match: the newest. */
  lease = holder_vz_leases_lookup_hostname (leases, "web-1");
  g_assert_nonnull (lease);
  g_assert_cmpstr (lease->ip, ==, "192.168.64.9");
  lease = holder_vz_leases_lookup_hostname (leases, "web-10");
  g_assert_cmpstr (lease->ip, ==, "192.168.64.10");
  g_assert_null (holder_vz_leases_lookup_hostname (leases, "web"));
  g_assert_null (holder_vz_leases_lookup_hostname (leases, "WEB-1"));
  g_assert_null (holder_vz_leases_lookup_hostname (leases, ""));
}

static void
test_first_key_wins (void)
{
  /* Keys must open their line; values end where their characters do. */
  g_autoptr(GPtrArray) leases =
    parse ("{\n\tname=web-1 trailing\n\tip_address=192.168.1.2/24\n"
           "\tip_address=10.9.9.9\n\thostname=other\n\tlease=0xABCdef junk\n}\n");

  g_assert_cmpuint (leases->len, ==, 1);
  g_assert_cmpstr (at (leases, 0)->name, ==, "web-1");
  g_assert_cmpstr (at (leases, 0)->ip, ==, "192.168.1.2");
  g_assert_cmpuint (at (leases, 0)->expiry, ==, 0xabcdef);
}

static void
test_lookup_file (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("holder-vz-leases-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "dhcpd_leases", NULL);
  g_autofree char *missing = g_build_filename (dir, "nope", NULL);
  g_autofree char *ip = NULL;

  g_assert_no_error (error);
  g_file_set_contents (path, two_records, -1, &error);
  g_assert_no_error (error);

  ip = holder_vz_leases_lookup_file (path, "web-1", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ip, ==, "192.168.77.5");
  g_clear_pointer (&ip, g_free);

  /* Not there: no address, no error. */
  ip = holder_vz_leases_lookup_file (path, "web-2", &error);
  g_assert_no_error (error);
  g_assert_null (ip);

  /* A file that cannot be read is the one error. */
  ip = holder_vz_leases_lookup_file (missing, "web-1", &error);
  g_assert_null (ip);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_true (g_str_has_prefix (error->message, "read leases file: "));
  g_assert_nonnull (strstr (error->message, missing));

  holder_test_remove_tree (dir);
}

static void
test_mac_parse (void)
{
  guint8 mac[6];
  static const char *const bad[] = {
    "", "52:54:00:12:34", "52:54:00:12:34:56:78", "52:54:00:12:34:5g",
    "52:54:00:12:34:", ":54:00:12:34:56", "525:4:00:12:34:56", "52-54-00-12-34-56",
    "52:54:00:12:34:56 ", " 52:54:00:12:34:56", "52::00:12:34:56",
  };

  g_assert_true (holder_vz_mac_parse ("52:54:00:12:34:56", mac));
  g_assert_cmpmem (mac, 6, ((guint8[]) { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }), 6);
  g_assert_true (holder_vz_mac_parse ("AA:bb:Cc:dD:ee:FF", mac));
  g_assert_cmpmem (mac, 6, ((guint8[]) { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff }), 6);
  /* bootpd drops leading zeros. */
  g_assert_true (holder_vz_mac_parse ("a:b:0:1:c:d", mac));
  g_assert_cmpmem (mac, 6, ((guint8[]) { 0x0a, 0x0b, 0x00, 0x01, 0x0c, 0x0d }), 6);
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("\"%s\"", bad[i]);
      g_assert_false (holder_vz_mac_parse (bad[i], mac));
    }
  g_assert_false (holder_vz_mac_parse (NULL, mac));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/vz/leases/vz-and-ethernet-forms", test_vz_and_ethernet_forms);
  g_test_add_func ("/vz/leases/record-without-ip", test_record_without_ip);
  g_test_add_func ("/vz/leases/empty-and-garbage", test_empty_and_garbage);
  g_test_add_func ("/vz/leases/truncated-record", test_truncated_record);
  g_test_add_func ("/vz/leases/order-and-lookup", test_order_and_lookup);
  g_test_add_func ("/vz/leases/first-key-wins", test_first_key_wins);
  g_test_add_func ("/vz/leases/lookup-file", test_lookup_file);
  g_test_add_func ("/vz/leases/mac-parse", test_mac_parse);

  return g_test_run ();
}
