/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "test-codec"

#include <string.h>

#include <glib.h>

#include "holder-codec-private.h"
#include "holder-error.h"

/* --- Replies: golden bytes ---------------------------------------------- */

/* Serialises @reply, checks the exact bytes, then checks that parsing them
 * and serialising again gives the same bytes. */
static void
assert_reply_bytes (const HolderReply *reply,
                    const char        *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReply) back = NULL;
  g_autofree char *bytes = NULL;
  g_autofree char *again = NULL;
  gsize len = 0, again_len = 0;

  bytes = holder_reply_serialize (reply, &len);
  g_assert_cmpstr (bytes, ==, expected);
  g_assert_cmpuint (len, ==, strlen (expected));

  back = holder_reply_parse (bytes, len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  again = holder_reply_serialize (back, &again_len);
  g_assert_cmpstr (again, ==, expected);
  g_assert_cmpuint (again_len, ==, len);
}

static HolderStatus *
make_status (const char *name,
             gint64      pid,
             gboolean    running,
             const char *ip,
             const char *state,
             const char *error)
{
  HolderStatus *status = g_new0 (HolderStatus, 1);

  status->name = g_strdup (name);
  status->pid = pid;
  status->running = running;
  status->ip = g_strdup (ip);
  status->state = g_strdup (state);
  status->error = g_strdup (error);
  return status;
}

static void
test_reply_empty (void)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();
  g_autofree char *bytes = NULL;

  assert_reply_bytes (reply, "{}\n");

  /* Empty strings are omitted like NULL ones. */
  reply->error = g_strdup ("");
  reply->subnet = g_strdup ("");
  bytes = holder_reply_serialize (reply, NULL);
  g_assert_cmpstr (bytes, ==, "{}\n");
}

static void
test_reply_status (void)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();

  reply->status = make_status ("web-1", 4242, TRUE, "203.0.113.1", "running", NULL);
  assert_reply_bytes (reply,
                      "{\"status\":{\"name\":\"web-1\",\"pid\":4242,\"running\":true,"
                      "\"ip\":\"203.0.113.1\",\"state\":\"running\"}}\n");

  /* ip is always present, even unknown (NULL here, "" on the wire). */
  holder_status_free (reply->status);
  reply->status = make_status ("solo", 1, TRUE, NULL, "starting", "");
  assert_reply_bytes (reply,
                      "{\"status\":{\"name\":\"solo\",\"pid\":1,\"running\":true,"
                      "\"ip\":\"\",\"state\":\"starting\"}}\n");
}

static void
test_reply_status_error (void)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();

  reply->status = make_status ("web-2", 77, FALSE, "", "error",
                               "fake backend: forced Create failure for \"web-2\"");
  assert_reply_bytes (reply,
                      "{\"status\":{\"name\":\"web-2\",\"pid\":77,\"running\":false,"
                      "\"ip\":\"\",\"state\":\"error\","
                      "\"error\":\"fake backend: forced Create failure for \\\"web-2\\\"\"}}\n");
}

static void
test_reply_subnet (void)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();

  reply->subnet = g_strdup ("192.168.100.0/24");
  assert_reply_bytes (reply, "{\"subnet\":\"192.168.100.0/24\"}\n");
}

static void
test_reply_reservation (void)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();

  reply->reservation = holder_reservation_new ("192.168.100.2", "a2:da:71:da:e0:db");
  assert_reply_bytes (reply,
                      "{\"reservation\":{\"ip\":\"192.168.100.2\",\"mac\":\"a2:da:71:da:e0:db\"}}\n");

  holder_reservation_free (reply->reservation);
  reply->reservation = holder_reservation_new (NULL, "a2:da:71:da:e0:db");
  assert_reply_bytes (reply, "{\"reservation\":{\"mac\":\"a2:da:71:da:e0:db\"}}\n");

  holder_reservation_free (reply->reservation);
  reply->reservation = holder_reservation_new ("", "a2:da:71:da:e0:db");
  g_assert_null (reply->reservation->ip);
  assert_reply_bytes (reply, "{\"reservation\":{\"mac\":\"a2:da:71:da:e0:db\"}}\n");
}

static void
test_reply_all_fields (void)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();

  /* Never sent together, but the order must still be the Go struct's. */
  reply->reservation = holder_reservation_new ("10.0.0.2", "02:00:00:00:00:01");
  reply->subnet = g_strdup ("10.0.0.0/24");
  reply->status = make_status ("a", 2, FALSE, "10.0.0.2", "stopped", NULL);
  reply->error = g_strdup ("boom");
  assert_reply_bytes (reply,
                      "{\"error\":\"boom\","
                      "\"status\":{\"name\":\"a\",\"pid\":2,\"running\":false,\"ip\":\"10.0.0.2\",\"state\":\"stopped\"},"
                      "\"subnet\":\"10.0.0.0/24\","
                      "\"reservation\":{\"ip\":\"10.0.0.2\",\"mac\":\"02:00:00:00:00:01\"}}\n");
}

static void
test_reply_error_escaping (void)
{
  static const struct {
    const char *text;
    const char *wire;
  } cases[] = {
    { "member web-1 is already running", "{\"error\":\"member web-1 is already running\"}\n" },
    { "create \"x\": <b> & co", "{\"error\":\"create \\\"x\\\": \\u003cb\\u003e \\u0026 co\"}\n" },
    { "back\\slash /slash", "{\"error\":\"back\\\\slash /slash\"}\n" },
    { "a\x01\b\f\n\r\t\x1f\x7fz", "{\"error\":\"a\\u0001\\b\\f\\n\\r\\t\\u001f\x7fz\"}\n" },
    { "\x0b\x1b", "{\"error\":\"\\u000b\\u001b\"}\n" },
    { "x\xe2\x80\xa8y\xe2\x80\xa9z", "{\"error\":\"x\\u2028y\\u2029z\"}\n" },
    { "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x9a\x80 \xc2\x85 \xef\xbb\xbf",
      "{\"error\":\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x9a\x80 \xc2\x85 \xef\xbb\xbf\"}\n" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(HolderReply) reply = holder_reply_new ();
      g_autoptr(HolderReply) back = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *bytes = NULL;
      gsize len;

      g_test_message ("error text case %" G_GSIZE_FORMAT, i);
      reply->error = g_strdup (cases[i].text);
      assert_reply_bytes (reply, cases[i].wire);

      /* Valid UTF-8 survives the trip unchanged. */
      bytes = holder_reply_serialize (reply, &len);
      back = holder_reply_parse (bytes, len, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (back->error, ==, cases[i].text);
    }
}

static void
test_reply_invalid_utf8 (void)
{
  static const struct {
    const char *text;
    const char *wire;
    const char *parsed;
  } cases[] = {
    /* Each bad byte on its own becomes U+FFFD, as in Go. */
    { "a\xff" "b", "{\"error\":\"a\\ufffdb\"}\n", "a\xef\xbf\xbd" "b" },
    { "a\xc3", "{\"error\":\"a\\ufffd\"}\n", "a\xef\xbf\xbd" },
    { "\xed\xa0\x80", "{\"error\":\"\\ufffd\\ufffd\\ufffd\"}\n",
      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
    { "\xc0\xaf<", "{\"error\":\"\\ufffd\\ufffd\\u003c\"}\n", "\xef\xbf\xbd\xef\xbf\xbd<" },
    { "\xf4\x90\x80\x80", "{\"error\":\"\\ufffd\\ufffd\\ufffd\\ufffd\"}\n",
      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
    { "\xe2\x82\xac\xe2\x82", "{\"error\":\"\xe2\x82\xac\\ufffd\\ufffd\"}\n",
      "\xe2\x82\xac\xef\xbf\xbd\xef\xbf\xbd" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(HolderReply) reply = holder_reply_new ();
      g_autoptr(HolderReply) back = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *bytes = NULL;
      gsize len;

      g_test_message ("invalid UTF-8 case %" G_GSIZE_FORMAT, i);
      reply->error = g_strdup (cases[i].text);
      bytes = holder_reply_serialize (reply, &len);
      g_assert_cmpstr (bytes, ==, cases[i].wire);

      back = holder_reply_parse (bytes, len, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (back->error, ==, cases[i].parsed);
    }

  /* Raw invalid bytes on the wire are replaced the same way. */
  {
    const char wire[] = "{\"error\":\"a\xff\xfe" "b\"}";
    g_autoptr(GError) error = NULL;
    g_autoptr(HolderReply) back = holder_reply_parse (wire, sizeof wire - 1, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (back->error, ==, "a\xef\xbf\xbd\xef\xbf\xbd" "b");
  }
}

static void
test_json_append_string (void)
{
  g_autoptr(GString) out = g_string_new ("x");

  holder_json_append_string (out, "<a href=\"x\">&amp;</a>");
  holder_json_append_string (out, NULL);
  holder_json_append_string (out, "");
  g_assert_cmpstr (out->str, ==,
                   "x\"\\u003ca href=\\\"x\\\"\\u003e\\u0026amp;\\u003c/a\\u003e\"\"\"\"\"");
}

/* --- Requests ------------------------------------------------------------ */

static void
assert_request_bytes (const HolderRequest *request,
                      const char          *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderRequest) back = NULL;
  g_autofree char *bytes = NULL;
  g_autofree char *again = NULL;
  gsize len = 0;

  bytes = holder_request_serialize (request, &len);
  g_assert_cmpstr (bytes, ==, expected);
  g_assert_cmpuint (len, ==, strlen (expected));

  back = holder_request_parse (bytes, len, &error);
  g_assert_no_error (error);
  again = holder_request_serialize (back, NULL);
  g_assert_cmpstr (again, ==, expected);
}

static HolderRequest *
parse_ok (const char *text)
{
  g_autoptr(GError) error = NULL;
  HolderRequest *request = holder_request_parse (text, strlen (text), &error);

  g_assert_no_error (error);
  g_assert_nonnull (request);
  return request;
}

static void
test_request_simple (void)
{
  g_autoptr(HolderRequest) status = holder_request_new ("status");
  g_autoptr(HolderRequest) none = holder_request_new (NULL);
  g_autoptr(HolderRequest) reserve = holder_request_new ("reserve");
  g_autoptr(HolderRequest) back = NULL;

  assert_request_bytes (status, "{\"cmd\":\"status\"}\n");
  assert_request_bytes (none, "{\"cmd\":\"\"}\n");

  reserve->name = g_strdup ("web-1");
  assert_request_bytes (reserve, "{\"cmd\":\"reserve\",\"name\":\"web-1\"}\n");
  reserve->ip_hint = g_strdup ("192.168.100.5");
  assert_request_bytes (reserve,
                        "{\"cmd\":\"reserve\",\"name\":\"web-1\",\"ip_hint\":\"192.168.100.5\"}\n");

  back = parse_ok ("{\"cmd\":\"reserve\",\"name\":\"web-1\",\"ip_hint\":\"192.168.100.5\"}\n");
  g_assert_cmpstr (back->cmd, ==, "reserve");
  g_assert_cmpstr (back->name, ==, "web-1");
  g_assert_cmpstr (back->ip_hint, ==, "192.168.100.5");
  g_assert_null (back->spec);
}

static void
test_request_spec (void)
{
  g_autoptr(HolderRequest) request = holder_request_new ("boot-member");
  g_autoptr(HolderRequest) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *bytes = NULL;
  HolderMemberSpec *spec;
  gsize len;

  spec = request->spec = holder_member_spec_new ("web-1");
  g_free (spec->disk_path);
  spec->disk_path = g_strdup ("/d/disk.img");
  g_free (spec->seed_path);
  spec->seed_path = g_strdup ("/d/seed.iso");
  spec->cpus = 2;
  spec->memory_bytes = G_GUINT64_CONSTANT (2147483648);
  assert_request_bytes (request,
                        "{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"web-1\","
                        "\"disk_path\":\"/d/disk.img\",\"seed_path\":\"/d/seed.iso\","
                        "\"cpus\":2,\"memory_bytes\":2147483648}}\n");

  /* An empty list is omitted like a missing one. */
  spec->fixture_paths = g_new0 (char *, 1);
  assert_request_bytes (request,
                        "{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"web-1\","
                        "\"disk_path\":\"/d/disk.img\",\"seed_path\":\"/d/seed.iso\","
                        "\"cpus\":2,\"memory_bytes\":2147483648}}\n");

  /* Every field, in the Go struct's order, then this project's additions. */
  g_strfreev (spec->fixture_paths);
  spec->fixture_paths = g_strsplit ("/f/one.img,/f/two<&>.img", ",", -1);
  spec->efi_path = g_strdup ("/d/efi");
  spec->cpus = 4;
  spec->memory_bytes = G_MAXUINT64;
  spec->serial_log_path = g_strdup ("/d/serial.log");
  spec->kernel_path = g_strdup ("/k/vmlinuz");
  spec->initramfs_path = g_strdup ("/k/initrd");
  spec->cmdline = g_strdup ("console=ttyS0 root=/dev/vda");
  request->name = g_strdup ("ignored-by-boot");
  assert_request_bytes (request,
                        "{\"cmd\":\"boot-member\",\"name\":\"ignored-by-boot\",\"spec\":{\"name\":\"web-1\","
                        "\"disk_path\":\"/d/disk.img\",\"seed_path\":\"/d/seed.iso\","
                        "\"fixture_paths\":[\"/f/one.img\",\"/f/two\\u003c\\u0026\\u003e.img\"],"
                        "\"efi_path\":\"/d/efi\",\"cpus\":4,\"memory_bytes\":18446744073709551615,"
                        "\"serial_log_path\":\"/d/serial.log\",\"kernel_path\":\"/k/vmlinuz\","
                        "\"initramfs_path\":\"/k/initrd\",\"cmdline\":\"console=ttyS0 root=/dev/vda\"}}\n");

  bytes = holder_request_serialize (request, &len);
  back = holder_request_parse (bytes, len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->spec->name, ==, "web-1");
  g_assert_cmpstr (back->spec->disk_path, ==, "/d/disk.img");
  g_assert_cmpstr (back->spec->seed_path, ==, "/d/seed.iso");
  g_assert_cmpuint (g_strv_length (back->spec->fixture_paths), ==, 2);
  g_assert_cmpstr (back->spec->fixture_paths[1], ==, "/f/two<&>.img");
  g_assert_cmpstr (back->spec->efi_path, ==, "/d/efi");
  g_assert_cmpint (back->spec->cpus, ==, 4);
  g_assert_cmpuint (back->spec->memory_bytes, ==, G_MAXUINT64);
  g_assert_cmpstr (back->spec->serial_log_path, ==, "/d/serial.log");
  g_assert_cmpstr (back->spec->kernel_path, ==, "/k/vmlinuz");
  g_assert_cmpstr (back->spec->initramfs_path, ==, "/k/initrd");
  g_assert_cmpstr (back->spec->cmdline, ==, "console=ttyS0 root=/dev/vda");

  /* The copy is deep and equal. */
  {
    g_autoptr(HolderMemberSpec) copy = holder_member_spec_copy (back->spec);
    g_autoptr(HolderRequest) wrapper = holder_request_new ("boot-member");
    g_autofree char *copy_bytes = NULL;

    g_assert_true (copy->fixture_paths != back->spec->fixture_paths);
    wrapper->name = g_strdup ("ignored-by-boot");
    wrapper->spec = g_steal_pointer (&copy);
    copy_bytes = holder_request_serialize (wrapper, NULL);
    g_assert_cmpstr (copy_bytes, ==, bytes);
  }
}

static void
test_request_go_compat (void)
{
  /* Unknown keys, of any shape, are ignored. */
  {
    g_autoptr(HolderRequest) r =
      parse_ok ("{\"cmd\":\"status\",\"extra\":{\"a\":[1,2.5e10,{\"b\":null}],\"t\":true},\"n\":-0.5E-3,\"s\":\"\\u0000\"}");
    g_assert_cmpstr (r->cmd, ==, "status");
    g_assert_null (r->name);
  }
  /* null means absent; a missing cmd is "". */
  {
    g_autoptr(HolderRequest) r =
      parse_ok ("{\"cmd\":null,\"name\":null,\"ip_hint\":null,\"spec\":null}");
    g_assert_cmpstr (r->cmd, ==, "");
    g_assert_null (r->name);
    g_assert_null (r->ip_hint);
    g_assert_null (r->spec);
  }
  {
    g_autoptr(HolderRequest) r = parse_ok ("{}");
    g_assert_cmpstr (r->cmd, ==, "");
  }
  {
    g_autoptr(HolderRequest) r =
      parse_ok ("{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"a\",\"disk_path\":null,"
                "\"fixture_paths\":null,\"efi_path\":null,\"cpus\":null,\"memory_bytes\":null}}");
    g_assert_cmpstr (r->spec->name, ==, "a");
    g_assert_cmpstr (r->spec->disk_path, ==, "");
    g_assert_cmpstr (r->spec->seed_path, ==, "");
    g_assert_null (r->spec->fixture_paths);
    g_assert_null (r->spec->efi_path);
    g_assert_cmpint (r->spec->cpus, ==, 0);
    g_assert_cmpuint (r->spec->memory_bytes, ==, 0);
  }
  /* Keys match case-insensitively; the last of several wins. */
  {
    g_autoptr(HolderRequest) r =
      parse_ok ("{\"CMD\":\"reserve\",\"Name\":\"web-1\",\"IP_Hint\":\"10.0.0.9\","
                "\"SPEC\":{\"NAME\":\"web-1\",\"Disk_Path\":\"/d\",\"CPUs\":3,\"Memory_Bytes\":1}}");
    g_assert_cmpstr (r->cmd, ==, "reserve");
    g_assert_cmpstr (r->name, ==, "web-1");
    g_assert_cmpstr (r->ip_hint, ==, "10.0.0.9");
    g_assert_cmpstr (r->spec->name, ==, "web-1");
    g_assert_cmpstr (r->spec->disk_path, ==, "/d");
    g_assert_cmpint (r->spec->cpus, ==, 3);
    g_assert_cmpuint (r->spec->memory_bytes, ==, 1);
  }
  {
    g_autoptr(HolderRequest) r = parse_ok ("{\"Cmd\":\"a\",\"cmd\":\"b\"}");
    g_assert_cmpstr (r->cmd, ==, "b");
  }
  {
    g_autoptr(HolderRequest) r = parse_ok ("{\"cmd\":\"b\",\"cMd\":\"a\",\"cmd\":null}");
    g_assert_cmpstr (r->cmd, ==, "a");
  }
  {
    /* Not a fold of any field. */
    g_autoptr(HolderRequest) r = parse_ok ("{\"cmd \":\"a\",\"c_md\":\"b\",\"cm\":\"c\"}");
    g_assert_cmpstr (r->cmd, ==, "");
  }
  /* Go folds KELVIN SIGN onto k and LONG S onto s. */
  {
    g_autoptr(HolderRequest) r =
      parse_ok ("{\"cmd\":\"boot-member\",\"\\u017fpec\":{\"name\":\"a\",\"\\u212aernel_path\":\"/k\"}}");
    g_assert_nonnull (r->spec);
    g_assert_cmpstr (r->spec->kernel_path, ==, "/k");
  }
  /* A repeated object fills the same spec; null then clears it. */
  {
    g_autoptr(HolderRequest) r =
      parse_ok ("{\"spec\":{\"name\":\"a\",\"cpus\":1},\"spec\":{\"cpus\":2}}");
    g_assert_cmpstr (r->spec->name, ==, "a");
    g_assert_cmpint (r->spec->cpus, ==, 2);
  }
  {
    g_autoptr(HolderRequest) r = parse_ok ("{\"spec\":{\"name\":\"a\"},\"spec\":null}");
    g_assert_null (r->spec);
  }
  /* Empty optional strings and lists become NULL; required ones stay "". */
  {
    g_autoptr(HolderRequest) r =
      parse_ok ("{\"cmd\":\"reserve\",\"name\":\"\",\"ip_hint\":\"\",\"spec\":{\"fixture_paths\":[],"
                "\"efi_path\":\"\",\"serial_log_path\":\"\",\"kernel_path\":\"\",\"initramfs_path\":\"\",\"cmdline\":\"\"}}");
    g_assert_null (r->name);
    g_assert_null (r->ip_hint);
    g_assert_cmpstr (r->spec->name, ==, "");
    g_assert_null (r->spec->fixture_paths);
    g_assert_null (r->spec->efi_path);
    g_assert_null (r->spec->serial_log_path);
    g_assert_null (r->spec->kernel_path);
    g_assert_null (r->spec->initramfs_path);
    g_assert_null (r->spec->cmdline);
  }
  {
    g_autoptr(HolderRequest) r = parse_ok ("{\"spec\":{\"fixture_paths\":[null,\"/f\"]}}");
    g_assert_cmpuint (g_strv_length (r->spec->fixture_paths), ==, 2);
    g_assert_cmpstr (r->spec->fixture_paths[0], ==, "");
    g_assert_cmpstr (r->spec->fixture_paths[1], ==, "/f");
  }
  /* Integers: the full int64 and uint64 ranges. */
  {
    g_autoptr(HolderRequest) r =
      parse_ok ("{\"spec\":{\"cpus\":-9223372036854775808,\"memory_bytes\":18446744073709551615}}");
    g_assert_cmpint (r->spec->cpus, ==, G_MININT64);
    g_assert_cmpuint (r->spec->memory_bytes, ==, G_MAXUINT64);
  }
  {
    g_autoptr(HolderRequest) r =
      parse_ok ("{\"spec\":{\"cpus\":9223372036854775807,\"memory_bytes\":0}}");
    g_assert_cmpint (r->spec->cpus, ==, G_MAXINT64);
    g_assert_cmpuint (r->spec->memory_bytes, ==, 0);
  }
  {
    g_autoptr(HolderRequest) r = parse_ok ("{\"spec\":{\"cpus\":-0}}");
    g_assert_cmpint (r->spec->cpus, ==, 0);
  }
  /* Strings: escapes, surrogates, and Go's U+FFFD for what is broken. */
  {
    g_autoptr(HolderRequest) r =
      parse_ok ("{\"cmd\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\ud83d\\ude80\"}");
    g_assert_cmpstr (r->cmd, ==, "\"\\/\b\f\n\r\tA\xc3\xa9\xf0\x9f\x9a\x80");
  }
  {
    g_autoptr(HolderRequest) r = parse_ok ("{\"cmd\":\"\\ud800\\u0041|\\udc00\\ud800\\udc00|\\ud800\"}");
    g_assert_cmpstr (r->cmd, ==, "\xef\xbf\xbd" "A|\xef\xbf\xbd\xf0\x90\x80\x80|\xef\xbf\xbd");
  }
  {
    g_autoptr(HolderRequest) r = parse_ok ("{\"cmd\":\"a\xff\xed\xa0\x80z\"}");
    g_assert_cmpstr (r->cmd, ==, "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
  }
  /* Framing: one LF or CRLF, blanks around the object. */
  {
    g_autoptr(HolderRequest) r = parse_ok ("{\"cmd\":\"status\"}\r\n");
    g_assert_cmpstr (r->cmd, ==, "status");
  }
  {
    g_autoptr(HolderRequest) r = parse_ok (" \t{ \"cmd\" : \"status\" , \"name\" :\"x\" }  \n");
    g_assert_cmpstr (r->cmd, ==, "status");
    g_assert_cmpstr (r->name, ==, "x");
  }
  {
    /* Not NUL-terminated: only @len bytes count. */
    g_autoptr(GError) error = NULL;
    g_autoptr(HolderRequest) r = holder_request_parse ("{\"cmd\":\"stop\"}garbage", 14, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (r->cmd, ==, "stop");
  }
}

static char *
deep (const char *prefix,
      const char *open,
      int         n,
      const char *suffix)
{
  GString *s = g_string_new (prefix);

  for (int i = 0; i < n; i++)
    g_string_append (s, open);
  g_string_append (s, suffix);
  return g_string_free (s, FALSE);
}

static void
test_request_malformed (void)
{
  g_autofree char *deep_arrays = deep ("", "[", 100000, "\n");
  g_autofree char *deep_objects = deep ("", "{\"a\":", 100000, "\n");
  g_autofree char *deep_inside = deep ("{\"cmd\":\"status\",\"x\":", "[", 100000, "");
  g_autofree char *deep_closed = NULL;
  const struct {
    const char *text;
    gssize len;              /* -1: strlen */
    const char *message;     /* NULL: only the prefix is checked */
  } cases[] = {
    { "", -1, "invalid request: empty message" },
    { "\n", -1, "invalid request: empty message" },
    { "\r\n", -1, "invalid request: empty message" },
    { "  \t ", -1, "invalid request: empty message" },
    { "[]", -1, "invalid request: not a JSON object" },
    { "\"x\"", -1, "invalid request: not a JSON object" },
    { "1", -1, "invalid request: not a JSON object" },
    { "null", -1, "invalid request: not a JSON object" },
    { "true\n", -1, "invalid request: not a JSON object" },
    { "{", -1, NULL },
    { "{\"cmd\"", -1, NULL },
    { "{\"cmd\":", -1, NULL },
    { "{\"cmd\":\"x", -1, NULL },
    { "{\"cmd\":\"x\"", -1, NULL },
    { "}", -1, NULL },
    { "{}{}", -1, NULL },
    { "{} x", -1, NULL },
    { "{}\n{}\n", -1, NULL },
    { "{'cmd':'x'}", -1, NULL },
    { "{cmd:\"x\"}", -1, NULL },
    { "{\"cmd\":\"x\",}", -1, NULL },
    { "{\"cmd\":\"x\"/*c*/}", -1, NULL },
    { "{\"cmd\":tru}", -1, NULL },
    { "{\"cmd\":True}", -1, NULL },
    { "{\"cmd\":\"\\x41\"}", -1, NULL },
    { "{\"cmd\":\"\\'\"}", -1, NULL },
    { "{\"cmd\":\"\\u12\"}", -1, NULL },
    { "{\"cmd\":\"a\x01\"}", -1, NULL },
    { "{\"cmd\":\"a\tb\"}", -1, NULL },
    { "{\"cmd\":\"x\"}\0", 12, NULL },
    { "\xef\xbb\xbf{}", -1, NULL },
    { "{\"spec\":{\"cpus\":01}}", -1, NULL },
    { "{\"spec\":{\"cpus\":+1}}", -1, NULL },
    { "{\"spec\":{\"cpus\":.5}}", -1, NULL },
    { "{\"spec\":{\"cpus\":1.}}", -1, NULL },
    { "{\"spec\":{\"cpus\":0x10}}", -1, NULL },
    { "{\"spec\":{\"cpus\":-}}", -1, NULL },
    { "{\"spec\":{\"cpus\":1e}}", -1, NULL },
    { "{\"spec\":{\"cpus\":NaN}}", -1, NULL },
    { "{\"cmd\":1}", -1, "invalid request: \"cmd\" must be a string" },
    { "{\"cmd\":true}", -1, "invalid request: \"cmd\" must be a string" },
    { "{\"cmd\":[\"x\"]}", -1, "invalid request: \"cmd\" must be a string" },
    { "{\"CMD\":{}}", -1, "invalid request: \"cmd\" must be a string" },
    { "{\"cmd\":\"a\\u0000b\"}", -1, "invalid request: \"cmd\" must not contain a NUL character" },
    { "{\"name\":5}", -1, "invalid request: \"name\" must be a string" },
    { "{\"ip_hint\":false}", -1, "invalid request: \"ip_hint\" must be a string" },
    { "{\"cmd\":\"x\",\"spec\":[]}", -1, "invalid request: \"spec\" must be an object" },
    { "{\"spec\":\"web-1\"}", -1, "invalid request: \"spec\" must be an object" },
    { "{\"cmd\":\"boot-member\",\"spec\":{\"cpus\":\"2\"}}", -1, "invalid request: \"spec.cpus\" must be an integer" },
    { "{\"spec\":{\"cpus\":2.0}}", -1, "invalid request: \"spec.cpus\" must be an integer" },
    { "{\"spec\":{\"cpus\":2e0}}", -1, "invalid request: \"spec.cpus\" must be an integer" },
    { "{\"spec\":{\"cpus\":9223372036854775808}}", -1, "invalid request: \"spec.cpus\" must be an integer" },
    { "{\"spec\":{\"cpus\":-9223372036854775809}}", -1, "invalid request: \"spec.cpus\" must be an integer" },
    { "{\"spec\":{\"cpus\":true}}", -1, "invalid request: \"spec.cpus\" must be an integer" },
    { "{\"spec\":{\"memory_bytes\":-1}}", -1, "invalid request: \"spec.memory_bytes\" must be a non-negative integer" },
    { "{\"spec\":{\"memory_bytes\":-0}}", -1, "invalid request: \"spec.memory_bytes\" must be a non-negative integer" },
    { "{\"spec\":{\"memory_bytes\":18446744073709551616}}", -1, "invalid request: \"spec.memory_bytes\" must be a non-negative integer" },
    { "{\"spec\":{\"memory_bytes\":99999999999999999999999}}", -1, "invalid request: \"spec.memory_bytes\" must be a non-negative integer" },
    { "{\"spec\":{\"memory_bytes\":1.5}}", -1, "invalid request: \"spec.memory_bytes\" must be a non-negative integer" },
    { "{\"spec\":{\"memory_bytes\":\"1\"}}", -1, "invalid request: \"spec.memory_bytes\" must be a non-negative integer" },
    { "{\"spec\":{\"name\":[]}}", -1, "invalid request: \"spec.name\" must be a string" },
    { "{\"spec\":{\"fixture_paths\":\"/f\"}}", -1, "invalid request: \"spec.fixture_paths\" must be an array of strings" },
    { "{\"spec\":{\"fixture_paths\":[\"/f\",1]}}", -1, "invalid request: \"spec.fixture_paths\" must be an array of strings" },
    { "{\"spec\":{\"fixture_paths\":[[\"/f\"]]}}", -1, "invalid request: \"spec.fixture_paths\" must be an array of strings" },
    /* The first wrong field in document order is the one named. */
    { "{\"spec\":{\"efi_path\":1,\"cpus\":\"x\"},\"cmd\":2}", -1, "invalid request: \"spec.efi_path\" must be a string" },
    { deep_arrays, -1, "invalid request: nesting too deep" },
    { deep_objects, -1, "invalid request: nesting too deep" },
    { deep_inside, -1, "invalid request: nesting too deep" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(HolderRequest) request = NULL;
      gsize len = cases[i].len < 0 ? strlen (cases[i].text) : (gsize) cases[i].len;
      gint64 start = g_get_monotonic_time ();

      g_test_message ("malformed request case %" G_GSIZE_FORMAT, i);
      request = holder_request_parse (cases[i].text, len, &error);
      g_assert_null (request);
      g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL);
      g_assert_true (g_str_has_prefix (error->message, "invalid request: "));
      if (cases[i].message != NULL)
        g_assert_cmpstr (error->message, ==, cases[i].message);
      /* Refusing is cheap, even for a megabyte of brackets. */
      g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
    }

  /* 64 levels are fine (the request object and 63 arrays), 65 are not. */
  {
    g_autofree char *ok_text = NULL;
    g_autoptr(GString) s = g_string_new ("{\"cmd\":\"status\",\"x\":");
    g_autoptr(HolderRequest) r = NULL;

    for (int i = 0; i < 63; i++)
      g_string_append_c (s, '[');
    for (int i = 0; i < 63; i++)
      g_string_append_c (s, ']');
    g_string_append_c (s, '}');
    r = parse_ok (s->str);
    g_assert_cmpstr (r->cmd, ==, "status");

    deep_closed = deep ("{\"x\":", "[", 64, "");
  }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(HolderRequest) r = holder_request_parse (deep_closed, strlen (deep_closed), &error);

    g_assert_null (r);
    g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL);
    g_assert_cmpstr (error->message, ==, "invalid request: nesting too deep");
  }
}

static void
test_reply_parse (void)
{
  {
    const char *text = "{\"status\":{\"Name\":\"web-1\",\"pid\":12,\"running\":true,\"ip\":null,"
                       "\"state\":\"running\",\"error\":\"\",\"future\":[1]},\"extra\":1}\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(HolderReply) r = holder_reply_parse (text, strlen (text), &error);

    g_assert_no_error (error);
    g_assert_null (r->error);
    g_assert_cmpstr (r->status->name, ==, "web-1");
    g_assert_cmpint (r->status->pid, ==, 12);
    g_assert_true (r->status->running);
    g_assert_cmpstr (r->status->ip, ==, "");
    g_assert_cmpstr (r->status->state, ==, "running");
    g_assert_null (r->status->error);
    g_assert_null (r->subnet);
    g_assert_null (r->reservation);
  }
  {
    const char *text = "{\"reservation\":{\"ip\":\"\"},\"subnet\":\"\",\"error\":null}";
    g_autoptr(GError) error = NULL;
    g_autoptr(HolderReply) r = holder_reply_parse (text, strlen (text), &error);

    g_assert_no_error (error);
    g_assert_null (r->reservation->ip);
    g_assert_cmpstr (r->reservation->mac, ==, "");
    g_assert_null (r->subnet);
    g_assert_null (r->error);
  }

  {
    static const struct {
      const char *text;
      const char *message;
    } bad[] = {
      { "", "invalid reply: empty message" },
      { "[]", "invalid reply: not a JSON object" },
      { "null\n", "invalid reply: not a JSON object" },
      { "{\"error\":", NULL },
      { "{\"error\":5}", "invalid reply: \"error\" must be a string" },
      { "{\"status\":[]}", "invalid reply: \"status\" must be an object" },
      { "{\"status\":{\"running\":\"yes\"}}", "invalid reply: \"status.running\" must be a boolean" },
      { "{\"status\":{\"running\":1}}", "invalid reply: \"status.running\" must be a boolean" },
      { "{\"status\":{\"pid\":\"1\"}}", "invalid reply: \"status.pid\" must be an integer" },
      { "{\"status\":{\"pid\":1.5}}", "invalid reply: \"status.pid\" must be an integer" },
      { "{\"subnet\":{}}", "invalid reply: \"subnet\" must be a string" },
      { "{\"reservation\":\"x\"}", "invalid reply: \"reservation\" must be an object" },
      { "{\"reservation\":{\"mac\":7}}", "invalid reply: \"reservation.mac\" must be a string" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(HolderReply) r = holder_reply_parse (bad[i].text, strlen (bad[i].text), &error);

        g_test_message ("malformed reply case %" G_GSIZE_FORMAT, i);
        g_assert_null (r);
        g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL);
        g_assert_true (g_str_has_prefix (error->message, "invalid reply: "));
        if (bad[i].message != NULL)
          g_assert_cmpstr (error->message, ==, bad[i].message);
      }
  }

  {
    g_autofree char *text = deep ("", "[", 100000, "\n");
    g_autoptr(GError) error = NULL;
    g_autoptr(HolderReply) r = holder_reply_parse (text, strlen (text), &error);

    g_assert_null (r);
    g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL);
    g_assert_cmpstr (error->message, ==, "invalid reply: nesting too deep");
  }
}

static void
test_error_code_from_reply_text (void)
{
  static const struct {
    const char *text;
    int code;
  } cases[] = {
    { "missing member name", HOLDER_ERROR_INVALID_ARGUMENT },
    { "missing or invalid spec", HOLDER_ERROR_INVALID_ARGUMENT },
    { "network not created", HOLDER_ERROR_NETWORK_NOT_CREATED },
    { "member web-1 was not reserved", HOLDER_ERROR_NOT_RESERVED },
    { "member web-1 is already running", HOLDER_ERROR_ALREADY_RUNNING },
    { "member web-1 was stopped during boot", HOLDER_ERROR_STOPPED_DURING_BOOT },
    { "create web-1: fake backend: forced Create failure for \"web-1\"", HOLDER_ERROR_BACKEND },
    { "create network: ip link add fbr-1: Operation not permitted", HOLDER_ERROR_BACKEND },
    { "start web-1: exit status 1", HOLDER_ERROR_BACKEND },
    { "wait for ip web-1: timed out after 5m0s", HOLDER_ERROR_BACKEND },
    /* A backend message may end like a member text; the prefix decides. */
    { "create web-1: vm web-1 is already running", HOLDER_ERROR_BACKEND },
    { "start web-1: member web-1 was stopped during boot", HOLDER_ERROR_BACKEND },
    { "invalid member name \"a/b\": contains '/'", HOLDER_ERROR_INVALID_NAME },
    { "invalid request: not a JSON object", HOLDER_ERROR_PROTOCOL },
    { "invalid request: \"cmd\" must be a string", HOLDER_ERROR_PROTOCOL },
    { "request too long", HOLDER_ERROR_PROTOCOL },
    { "unknown command \"frob\"", HOLDER_ERROR_PROTOCOL },
    { "permission denied: uid 1000 is not the owner", HOLDER_ERROR_PERMISSION_DENIED },
    { "something else entirely", HOLDER_ERROR_FAILED },
    { "member web-1", HOLDER_ERROR_FAILED },
    { "creates", HOLDER_ERROR_FAILED },
    { "", HOLDER_ERROR_FAILED },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("error text \"%s\"", cases[i].text);
      g_assert_cmpint (holder_error_code_from_reply_text (cases[i].text), ==, cases[i].code);
    }
  g_assert_cmpint (holder_error_code_from_reply_text (NULL), ==, HOLDER_ERROR_FAILED);
}

static void
test_types (void)
{
  static const char * const names[] = { "downloading", "starting", "running", "stopped", "error" };
  HolderMemberState state = HOLDER_MEMBER_STATE_ERROR;

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_assert_cmpstr (holder_member_state_to_string ((HolderMemberState) i), ==, names[i]);
      g_assert_true (holder_member_state_from_string (names[i], &state));
      g_assert_cmpint (state, ==, (HolderMemberState) i);
    }
  g_assert_false (holder_member_state_from_string ("Running", &state));
  g_assert_false (holder_member_state_from_string ("", &state));
  g_assert_false (holder_member_state_from_string (NULL, &state));
  g_assert_cmpint (state, ==, HOLDER_MEMBER_STATE_ERROR);

  g_assert_true (holder_member_state_is_active (HOLDER_MEMBER_STATE_DOWNLOADING));
  g_assert_true (holder_member_state_is_active (HOLDER_MEMBER_STATE_STARTING));
  g_assert_true (holder_member_state_is_active (HOLDER_MEMBER_STATE_RUNNING));
  g_assert_false (holder_member_state_is_active (HOLDER_MEMBER_STATE_STOPPED));
  g_assert_false (holder_member_state_is_active (HOLDER_MEMBER_STATE_ERROR));

  {
    g_autoptr(HolderStatus) status = make_status ("a", 3, TRUE, NULL, "running", "e");
    g_autoptr(HolderStatus) copy = holder_status_copy (status);
    g_autoptr(HolderReservation) reservation = holder_reservation_new ("1.2.3.4", "m");
    g_autoptr(HolderReservation) rcopy = holder_reservation_copy (reservation);

    g_assert_cmpstr (copy->name, ==, "a");
    g_assert_cmpint (copy->pid, ==, 3);
    g_assert_true (copy->running);
    g_assert_cmpstr (copy->ip, ==, "");
    g_assert_cmpstr (copy->error, ==, "e");
    g_assert_true (copy->name != status->name);
    g_assert_cmpstr (rcopy->ip, ==, "1.2.3.4");
    g_assert_cmpstr (rcopy->mac, ==, "m");
  }

  /* Frees accept NULL. */
  holder_member_spec_free (NULL);
  holder_reservation_free (NULL);
  holder_status_free (NULL);
  holder_request_free (NULL);
  holder_reply_free (NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/codec/reply/empty", test_reply_empty);
  g_test_add_func ("/codec/reply/status", test_reply_status);
  g_test_add_func ("/codec/reply/status-error", test_reply_status_error);
  g_test_add_func ("/codec/reply/subnet", test_reply_subnet);
  g_test_add_func ("/codec/reply/reservation", test_reply_reservation);
  g_test_add_func ("/codec/reply/all-fields", test_reply_all_fields);
  g_test_add_func ("/codec/reply/error-escaping", test_reply_error_escaping);
  g_test_add_func ("/codec/reply/invalid-utf8", test_reply_invalid_utf8);
  g_test_add_func ("/codec/reply/parse", test_reply_parse);
  g_test_add_func ("/codec/json-append-string", test_json_append_string);
  g_test_add_func ("/codec/request/simple", test_request_simple);
  g_test_add_func ("/codec/request/spec", test_request_spec);
  g_test_add_func ("/codec/request/go-compat", test_request_go_compat);
  g_test_add_func ("/codec/request/malformed", test_request_malformed);
  g_test_add_func ("/codec/error-code-from-reply-text", test_error_code_from_reply_text);
  g_test_add_func ("/codec/types", test_types);

  return g_test_run ();
}
