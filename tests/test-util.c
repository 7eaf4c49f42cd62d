/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "test-util"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "holder-util-private.h"

static void
test_parse_duration (void)
{
  static const struct {
    const char *text;
    gboolean ok;
    gint64 usec;
  } cases[] = {
    { "90s", TRUE, G_GINT64_CONSTANT (90000000) },
    { "10m", TRUE, G_GINT64_CONSTANT (600000000) },
    { "1h30m", TRUE, G_GINT64_CONSTANT (5400000000) },
    { "250ms", TRUE, 250000 },
    { "1.5h", TRUE, G_GINT64_CONSTANT (5400000000) },
    { "300us", TRUE, 300 },
    { "300\xc2\xb5s", TRUE, 300 },   /* U+00B5 MICRO SIGN */
    { "300\xce\xbcs", TRUE, 300 },   /* U+03BC GREEK SMALL LETTER MU */
    { "-1s", TRUE, -1000000 },
    { "+5m", TRUE, G_GINT64_CONSTANT (300000000) },
    { "0", TRUE, 0 },
    { "+0", TRUE, 0 },
    { "-0", TRUE, 0 },
    { "0s", TRUE, 0 },
    { ".5s", TRUE, 500000 },
    { "1.s", TRUE, 1000000 },
    { "1h1h", TRUE, G_GINT64_CONSTANT (7200000000) },
    { "1m30.25s", TRUE, G_GINT64_CONSTANT (90250000) },
    { "1ns", TRUE, 0 },               /* truncated to microseconds */
    { "1500ns", TRUE, 1 },
    { "-1500ns", TRUE, -1 },
    { "0.1ns", TRUE, 0 },
    { "1.0000000000000000000000001s", TRUE, 1000000 },
    { "9223372036854775807ns", TRUE, G_GINT64_CONSTANT (9223372036854775) },
    { "-9223372036854775808ns", TRUE, -G_GINT64_CONSTANT (9223372036854775) },
    { "2562047h47m16.854775807s", TRUE, G_GINT64_CONSTANT (9223372036854775) },
    { "", FALSE, 0 },
    { "-", FALSE, 0 },
    { "+", FALSE, 0 },
    { "1", FALSE, 0 },
    { "1x", FALSE, 0 },
    { "1H", FALSE, 0 },
    { "1e3s", FALSE, 0 },
    { ".", FALSE, 0 },
    { ".s", FALSE, 0 },
    { "-.s", FALSE, 0 },
    { "s", FALSE, 0 },
    { "1.5", FALSE, 0 },
    { "00", FALSE, 0 },
    { "1h 30m", FALSE, 0 },
    { " 1s", FALSE, 0 },
    { "1s ", FALSE, 0 },
    { "1.5.5s", FALSE, 0 },
    { "--1s", FALSE, 0 },
    { "9223372036854775808ns", FALSE, 0 },
    { "2562047h47m16.854775808s", FALSE, 0 },
    { "3000000h", FALSE, 0 },
    { "99999999999999999999s", FALSE, 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gint64 usec = 42;

      g_test_message ("parse \"%s\"", cases[i].text);
      g_assert_cmpint (holder_duration_parse (cases[i].text, &usec), ==, cases[i].ok);
      if (cases[i].ok)
        g_assert_cmpint (usec, ==, cases[i].usec);
      else
        g_assert_cmpint (usec, ==, 42);
    }

  /* Go accepts the most negative duration but not its opposite. */
  {
    gint64 usec = 0;

    g_assert_true (holder_duration_parse ("-2562047h47m16.854775808s", &usec));
    g_assert_cmpint (usec, ==, -G_GINT64_CONSTANT (9223372036854775));
  }
}

static void
test_format_duration (void)
{
  static const struct {
    gint64 usec;
    const char *text;
  } cases[] = {
    { 0, "0s" },
    { 1, "1\xc2\xb5s" },
    { 300, "300\xc2\xb5s" },
    { 999, "999\xc2\xb5s" },
    { 1000, "1ms" },
    { 1500, "1.5ms" },
    { 1001, "1.001ms" },
    { 250000, "250ms" },
    { 999999, "999.999ms" },
    { 1000000, "1s" },
    { 1500000, "1.5s" },
    { 1000001, "1.000001s" },
    { G_GINT64_CONSTANT (59000000), "59s" },
    { G_GINT64_CONSTANT (60000000), "1m0s" },
    { G_GINT64_CONSTANT (90000000), "1m30s" },
    { G_GINT64_CONSTANT (300000000), "5m0s" },
    { G_GINT64_CONSTANT (3600000000), "1h0m0s" },
    { G_GINT64_CONSTANT (5400000000), "1h30m0s" },
    { G_GINT64_CONSTANT (3600000001), "1h0m0.000001s" },
    { -1000000, "-1s" },
    { -1500, "-1.5ms" },
    { -1, "-1\xc2\xb5s" },
    { G_MAXINT64, "2562047788h0m54.775807s" },
    { G_MININT64, "-2562047788h0m54.775808s" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = holder_duration_format (cases[i].usec);
      gint64 back = 0;

      g_assert_cmpstr (text, ==, cases[i].text);
      /* What Go prints, Go parses back, within Go's nanosecond range. */
      if (cases[i].usec > G_MAXINT64 / 1000 || cases[i].usec < -(G_MAXINT64 / 1000))
        continue;
      g_assert_true (holder_duration_parse (text, &back));
      g_assert_cmpint (back, ==, cases[i].usec);
    }
}

static void
test_go_quote (void)
{
  static const struct {
    const char *in;
    const char *out;
  } cases[] = {
    { "", "\"\"" },
    { "abc", "\"abc\"" },
    { "web-1", "\"web-1\"" },
    { "a\"b\\c", "\"a\\\"b\\\\c\"" },
    { "it's", "\"it's\"" },
    { "\a\b\f\n\r\t\v", "\"\\a\\b\\f\\n\\r\\t\\v\"" },
    { "\x01\x1f\x7f", "\"\\x01\\x1f\\x7f\"" },
    { "<&>", "\"<&>\"" },
    { "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80", "\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\"" },
    { "e\xcc\x81", "\"e\xcc\x81\"" },                 /* combining mark */
    { "\xef\xbf\xbd", "\"\xef\xbf\xbd\"" },           /* a real U+FFFD */
    { "\xff", "\"\\xff\"" },
    { "a\xc3", "\"a\\xc3\"" },                        /* truncated */
    { "\xed\xa0\x80", "\"\\xed\\xa0\\x80\"" },        /* surrogate */
    { "\xc0\xaf", "\"\\xc0\\xaf\"" },                 /* overlong */
    { "\xc2\x85", "\"\\u0085\"" },                    /* NEL, a C1 control */
    { "\xc2\xa0", "\"\\u00a0\"" },                    /* no-break space */
    { "\xe2\x80\x8b", "\"\\u200b\"" },                /* zero width space (Cf) */
    { "\xe2\x80\xa8", "\"\\u2028\"" },                /* line separator */
    { "\xe3\x80\x80", "\"\\u3000\"" },                /* ideographic space */
    { "\xef\xbb\xbf", "\"\\ufeff\"" },                /* BOM */
    { "\xee\x80\x80", "\"\\ue000\"" },                /* private use */
    { "\xf3\xa0\x80\x81", "\"\\U000e0001\"" },        /* language tag */
    { "\xf4\x8f\xbf\xbf", "\"\\U0010ffff\"" },        /* unassigned */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GString) out = g_string_new ("x=");

      g_test_message ("quote case %" G_GSIZE_FORMAT, i);
      holder_append_go_quoted (out, cases[i].in);
      g_assert_true (g_str_has_prefix (out->str, "x="));
      g_assert_cmpstr (out->str + 2, ==, cases[i].out);
    }

  {
    g_autoptr(GString) out = g_string_new (NULL);

    holder_append_go_quoted (out, NULL);
    g_assert_cmpstr (out->str, ==, "\"\"");
  }
}

static void
test_ip_wait_timeout (void)
{
  static const struct {
    const char *value; /* NULL: unset */
    gint64 usec;
  } cases[] = {
    { NULL, G_GINT64_CONSTANT (300000000) },
    { "", G_GINT64_CONSTANT (300000000) },
    { "90s", G_GINT64_CONSTANT (90000000) },
    { "10m", G_GINT64_CONSTANT (600000000) },
    { "1h30m", G_GINT64_CONSTANT (5400000000) },
    { "250ms", 250000 },
    { "1ns", 1 },           /* positive for Go, so positive here */
    { "0", G_GINT64_CONSTANT (300000000) },
    { "0s", G_GINT64_CONSTANT (300000000) },
    { "-1s", G_GINT64_CONSTANT (300000000) },
    { "90", G_GINT64_CONSTANT (300000000) },
    { "soon", G_GINT64_CONSTANT (300000000) },
  };
  g_autofree char *saved = g_strdup (g_getenv ("FLEETBOX_IP_WAIT_TIMEOUT"));

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      if (cases[i].value == NULL)
        g_unsetenv ("FLEETBOX_IP_WAIT_TIMEOUT");
      else
        g_setenv ("FLEETBOX_IP_WAIT_TIMEOUT", cases[i].value, TRUE);
      g_assert_cmpint (holder_ip_wait_timeout_usec (), ==, cases[i].usec);
    }

  if (saved != NULL)
    g_setenv ("FLEETBOX_IP_WAIT_TIMEOUT", saved, TRUE);
  else
    g_unsetenv ("FLEETBOX_IP_WAIT_TIMEOUT");
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* The entries of @dir, sorted, joined by ','. */
static char *
list_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  {
    g_auto(GStrv) strv = (GStrv) g_ptr_array_free (g_steal_pointer (&names), FALSE);
    return g_strjoinv (",", strv);
  }
}

static void
test_file_replace (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("test-util-XXXXXX", &error);
  g_autofree char *path = g_build_filename (tmp, "pid", NULL);
  g_autofree char *missing = g_build_filename (tmp, "no", "such", "pid", NULL);
  g_autofree char *subdir = g_build_filename (tmp, "adir", NULL);
  g_autofree char *in_subdir = g_build_filename (subdir, "keep", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *listing = NULL;
  gsize len = 0;
  GStatBuf st;
  mode_t old_umask;

  g_assert_no_error (error);

  /* Exactly the mode asked for, whatever the umask. */
  old_umask = umask (077);
  g_assert_true (holder_file_replace (path, "12345", 5, 0644, &error));
  g_assert_no_error (error);
  umask (old_umask);

  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_cmpmem (contents, len, "12345", 5);
  g_assert_no_errno (g_stat (path, &st));
  g_assert_cmpint (st.st_mode & 07777, ==, 0644);
  listing = list_dir (tmp);
  g_assert_cmpstr (listing, ==, "pid");
  g_clear_pointer (&contents, g_free);
  g_clear_pointer (&listing, g_free);

  /* Replacing keeps nothing of the old contents; bytes are written as
   * given, NULs included. */
  g_assert_true (holder_file_replace (path, "a\0b", 3, 0600, &error));
  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_cmpmem (contents, len, "a\0b", 3);
  g_assert_no_errno (g_stat (path, &st));
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);
  g_clear_pointer (&contents, g_free);

  g_assert_true (holder_file_replace (path, "", 0, 0644, &error));
  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_cmpuint (len, ==, 0);
  g_clear_pointer (&contents, g_free);

  /* A missing folder: a clean error naming the path. */
  g_assert_false (holder_file_replace (missing, "1", 1, 0644, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

  /* The rename fails (a folder is in the way): the temporary file goes. */
  g_assert_no_errno (g_mkdir (subdir, 0755));
  g_assert_true (g_file_set_contents (in_subdir, "x", 1, &error));
  g_assert_false (holder_file_replace (subdir, "1", 1, 0644, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_FILE_ERROR);
  g_assert_nonnull (strstr (error->message, subdir));
  g_clear_error (&error);
  listing = list_dir (tmp);
  g_assert_cmpstr (listing, ==, "adir,pid");

  g_assert_no_errno (g_unlink (in_subdir));
  g_assert_no_errno (g_rmdir (subdir));
  g_assert_no_errno (g_unlink (path));
  g_assert_no_errno (g_rmdir (tmp));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/util/parse-go-duration", test_parse_duration);
  g_test_add_func ("/util/format-go-duration", test_format_duration);
  g_test_add_func ("/util/go-quote", test_go_quote);
  g_test_add_func ("/util/ip-wait-timeout", test_ip_wait_timeout);
  g_test_add_func ("/util/file-replace", test_file_replace);

  return g_test_run ();
}
