/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "test-store"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "holder-error.h"
#include "holder-store.h"
#include "holder-test-util.h"

static char *
make_tmp (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("test-store-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
test_paths (void)
{
  g_autofree char *dir = holder_store_member_dir ("/r", "web-3");
  g_autofree char *pidfile = holder_store_pidfile_path ("/r", "web-3");
  g_autofree char *solo_dir = holder_store_member_dir ("/home/u/.fleetbox", "solo");
  g_autofree char *hash = holder_store_socket_hash ("solo");
  g_autofree char *sock = holder_store_socket_path ("/r", "solo");
  g_autofree char *ctl = holder_store_control_socket_path ("/r", "solo");
  g_autofree char *web1 = holder_store_socket_path ("/r", "web-1");
  g_autofree char *web2 = holder_store_socket_path ("/r", "web-2");
  g_autofree char *long_name = g_strnfill (HOLDER_NAME_MAX, 'a');
  g_autofree char *long_sock = holder_store_socket_path ("/r", long_name);

  g_assert_cmpstr (dir, ==, "/r/clusters/web/web-3");
  g_assert_cmpstr (pidfile, ==, "/r/clusters/web/web-3/pid");
  g_assert_cmpstr (solo_dir, ==, "/home/u/.fleetbox/clusters/solo/solo");
  g_assert_cmpstr (hash, ==, "5364f2f2fc4f54e9");
  g_assert_cmpstr (sock, ==, "/r/run/5364f2f2fc4f54e9.sock");
  g_assert_cmpstr (ctl, ==, "/r/run/5364f2f2fc4f54e9.ctl");
  g_assert_cmpstr (web1, ==, "/r/run/c4719afa76fa448b.sock");
  g_assert_cmpstr (web2, ==, "/r/run/612f7a0edd33d5c1.sock");
  /* Hashing keeps the socket name short whatever the member name. */
  g_assert_cmpstr (long_sock, ==, "/r/run/ffe054fe7ae0cb6d.sock");
}

static void
test_cluster_name (void)
{
  static const struct {
    const char *name;
    const char *cluster;
  } cases[] = {
    /* protocol-v2.md section 2 */
    { "web-3", "web" },
    { "web-1-2", "web-1" },
    { "node-2024", "node" },
    { "web--1", "web-" },
    { "dev", "dev" },
    { "web-", "web-" },
    { "web-x", "web-x" },
    { "-5", "-5" },
    { "5", "5" },
    /* more */
    { "solo", "solo" },
    { "web-10", "web" },
    { "x-007", "x" },
    { "a-b-c-3", "a-b-c" },
    { "web-3a", "web-3a" },
    { "web3", "web3" },
    { "--5", "-" },
    { "-", "-" },
    { "", "" },
    { "a-", "a-" },
    { "a-1", "a" },
    { "web-\xd9\xa3", "web-\xd9\xa3" }, /* ARABIC-INDIC DIGIT THREE is no ASCII digit */
    { "web-1 ", "web-1 " },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *cluster = holder_store_cluster_name (cases[i].name);

      g_test_message ("cluster of \"%s\"", cases[i].name);
      g_assert_cmpstr (cluster, ==, cases[i].cluster);
    }
}

static gboolean
is_lower_hex (char c)
{
  return g_ascii_isdigit (c) || (c >= 'a' && c <= 'f');
}

static void
test_mac (void)
{
  g_autofree char *solo = holder_mac_for_name ("solo");
  g_autofree char *solo_again = holder_mac_for_name ("solo");
  g_autofree char *web1 = holder_mac_for_name ("web-1");
  g_autofree char *web2 = holder_mac_for_name ("web-2");
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  g_assert_cmpstr (solo, ==, "a2:da:71:da:e0:db");
  g_assert_cmpstr (solo_again, ==, solo);
  g_assert_cmpstr (web1, ==, "c2:e2:65:d7:2f:93");
  g_assert_cmpstr (web2, ==, "52:c4:d8:6c:d9:e6");

  for (int i = 0; i < 200; i++)
    {
      g_autofree char *name = g_strdup_printf ("node-%d", i);
      char *mac = holder_mac_for_name (name);
      guint b0;

      g_assert_cmpuint (strlen (mac), ==, 17);
      for (int j = 0; j < 17; j++)
        {
          if (j % 3 == 2)
            g_assert_cmpint (mac[j], ==, ':');
          else
            g_assert_true (is_lower_hex (mac[j]));
        }
      b0 = (guint) g_ascii_strtoull (mac, NULL, 16);
      g_assert_cmpuint (b0 & 0x01, ==, 0); /* unicast */
      g_assert_cmpuint (b0 & 0x02, ==, 0x02); /* locally administered */
      g_assert_false (g_hash_table_contains (seen, mac));
      g_hash_table_add (seen, mac);
    }
}

static void
test_name_validate (void)
{
  g_autofree char *max = g_strnfill (HOLDER_NAME_MAX, 'a');
  g_autofree char *too_long = g_strnfill (HOLDER_NAME_MAX + 1, 'a');
  g_autoptr(GString) utf8_max = g_string_new (NULL);
  g_autoptr(GString) utf8_too_long = g_string_new (NULL);

  for (int i = 0; i < HOLDER_NAME_MAX / 2; i++)
    g_string_append (utf8_max, "\xc3\xa9"); /* é: 64 bytes, 32 characters */
  g_string_append (utf8_too_long, utf8_max->str);
  g_string_append_c (utf8_too_long, 'x');

  {
    const char *good[] = {
      "solo", "web-1", "a", "web_1.x", ".hidden", "...", "a b", "-5",
      "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x9a\x80",
      max, utf8_max->str,
    };

    for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
      {
        g_autoptr(GError) error = NULL;

        g_test_message ("accept \"%s\"", good[i]);
        g_assert_true (holder_name_validate (good[i], &error));
        g_assert_no_error (error);
      }
  }

  {
    const struct {
      const char *name;
      const char *message;
    } bad[] = {
      { "", "invalid member name \"\": empty" },
      { ".", NULL },
      { "..", NULL },
      { "a/b", "invalid member name \"a/b\": contains '/'" },
      { "/", NULL },
      { "../x", NULL },
      { "a,b", "invalid member name \"a,b\": contains ','" },
      { "..-1", "invalid member name \"..-1\": its cluster would be a relative folder name" },
      { ".-7", NULL },
      { "a\nb", "invalid member name \"a\\nb\": contains a control character" },
      { "a\tb", NULL },
      { "\x01", "invalid member name \"\\x01\": contains a control character" },
      { "a\x7f", NULL },
      { "\xff", "invalid member name \"\\xff\": not valid UTF-8" },
      { "ab\xc3", NULL },                  /* truncated sequence */
      { "\xed\xa0\x80", NULL },            /* encoded surrogate */
      { "\xc0\xaf", NULL },                /* overlong '/' */
      { too_long, NULL },
      { utf8_too_long->str, NULL },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(GError) error = NULL;

        g_test_message ("refuse case %" G_GSIZE_FORMAT, i);
        g_assert_false (holder_name_validate (bad[i].name, &error));
        g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_NAME);
        g_assert_true (g_str_has_prefix (error->message, "invalid member name "));
        if (bad[i].message != NULL)
          g_assert_cmpstr (error->message, ==, bad[i].message);
      }
  }

  {
    g_autoptr(GError) error = NULL;

    g_assert_false (holder_name_validate (too_long, &error));
    g_assert_nonnull (strstr (error->message, "longer than 64 bytes"));
  }
}

/* Sets or unsets a variable for the length of a test. */
static void
set_env (const char *name,
         const char *value)
{
  if (value == NULL)
    g_unsetenv (name);
  else
    g_setenv (name, value, TRUE);
}

static void
test_resolve_root (void)
{
  g_autofree char *saved_fleetbox_home = g_strdup (g_getenv ("FLEETBOX_HOME"));
  g_autofree char *saved_home = g_strdup (g_getenv ("HOME"));
  g_autofree char *saved_sudo_user = g_strdup (g_getenv ("SUDO_USER"));
  g_autoptr(GError) error = NULL;
  char *root;

  /* FLEETBOX_HOME wins, verbatim. */
  set_env ("FLEETBOX_HOME", "/srv/fleet//box/");
  set_env ("SUDO_USER", "root");
  set_env ("HOME", "/home/someone");
  root = holder_store_resolve_root (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (root, ==, "/srv/fleet//box/");
  g_free (root);

  /* Empty FLEETBOX_HOME is ignored; HOME is used without SUDO_USER. */
  set_env ("FLEETBOX_HOME", "");
  set_env ("SUDO_USER", NULL);
  root = holder_store_resolve_root (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (root, ==, "/home/someone/.fleetbox");
  g_free (root);

  set_env ("FLEETBOX_HOME", NULL);
  root = holder_store_resolve_root (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (root, ==, "/home/someone/.fleetbox");
  g_free (root);

  /* SUDO_USER counts only as root, and only for a user that exists. */
  set_env ("SUDO_USER", "root");
  root = holder_store_resolve_root (&error);
  g_assert_no_error (error);
  if (geteuid () == 0)
    {
      struct passwd *pw = getpwnam ("root");
      g_autofree char *expected = NULL;

      g_assert_nonnull (pw);
      expected = g_build_filename (pw->pw_dir, ".fleetbox", NULL);
      g_assert_cmpstr (root, ==, expected);
      g_assert_cmpstr (root, ==, "/root/.fleetbox");
    }
  else
    g_assert_cmpstr (root, ==, "/home/someone/.fleetbox");
  g_free (root);

  set_env ("SUDO_USER", "no-such-user-holder-test");
  root = holder_store_resolve_root (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (root, ==, "/home/someone/.fleetbox");
  g_free (root);

  /* Without HOME, the password database's home. */
  set_env ("SUDO_USER", NULL);
  set_env ("HOME", NULL);
  root = holder_store_resolve_root (&error);
  g_assert_no_error (error);
  {
    g_autofree char *expected = g_build_filename (g_get_home_dir (), ".fleetbox", NULL);
    g_assert_cmpstr (root, ==, expected);
  }
  g_free (root);

  set_env ("FLEETBOX_HOME", saved_fleetbox_home);
  set_env ("HOME", saved_home);
  set_env ("SUDO_USER", saved_sudo_user);
}

static void
assert_dir_0755 (const char *root,
                 const char *sub)
{
  g_autofree char *path = g_build_filename (root, sub, NULL);
  GStatBuf st;

  g_assert_no_errno (g_stat (path, &st));
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0755);
}

static void
test_ensure_root (void)
{
  g_autofree char *tmp = make_tmp ();
  g_autofree char *root = g_build_filename (tmp, "deep", "er", ".fleetbox", NULL);
  g_autofree char *file = g_build_filename (tmp, "file", NULL);
  g_autofree char *under_file = g_build_filename (file, ".fleetbox", NULL);
  g_autoptr(GError) error = NULL;
  mode_t old_umask;

  /* Even a restrictive umask must leave the folders 0755. */
  old_umask = umask (077);
  g_assert_true (holder_store_ensure_root (root, &error));
  g_assert_no_error (error);
  assert_dir_0755 (root, "");
  assert_dir_0755 (root, "clusters");
  assert_dir_0755 (root, "images");
  assert_dir_0755 (root, "run");

  /* Idempotent. */
  g_assert_true (holder_store_ensure_root (root, &error));
  g_assert_no_error (error);
  umask (old_umask);

  /* A folder that cannot be made: the message names it. */
  g_assert_true (g_file_set_contents (file, "x", 1, &error));
  g_assert_false (holder_store_ensure_root (under_file, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == G_FILE_ERROR);
  g_assert_nonnull (strstr (error->message, under_file));

  holder_test_remove_tree (tmp);
}

/* Running as root: links on the way to the root are followed only when
 * they belong to root (or SUDO_UID); what is made for a SUDO_UID user is
 * theirs. */
static void
test_ensure_root_as_root (void)
{
  g_autofree char *tmp = NULL;
  g_autofree char *real = NULL;
  g_autofree char *link = NULL;
  g_autofree char *via_link = NULL;
  g_autofree char *foreign_link = NULL;
  g_autofree char *via_foreign = NULL;
  g_autofree char *owned = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  if (geteuid () != 0)
    {
      g_test_skip ("needs root");
      return;
    }
  tmp = make_tmp ();
  real = g_build_filename (tmp, "real", NULL);
  g_assert_no_errno (g_mkdir (real, 0755));

  /* A root-owned link to the root, and one on the way to it. */
  link = g_build_filename (tmp, "link", NULL);
  g_assert_no_errno (symlink (real, link));
  g_assert_true (holder_store_ensure_root (link, &error));
  g_assert_no_error (error);
  via_link = g_build_filename (link, "store", NULL);
  g_assert_true (holder_store_ensure_root (via_link, &error));
  g_assert_no_error (error);

  /* Another user's link on the way: refused, nothing made. */
  foreign_link = g_build_filename (tmp, "foreign", NULL);
  g_assert_no_errno (symlink (real, foreign_link));
  g_assert_no_errno (lchown (foreign_link, 4343, 4343));
  via_foreign = g_build_filename (foreign_link, "other", NULL);
  g_assert_false (holder_store_ensure_root (via_foreign, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH);
  g_assert_nonnull (strstr (error->message, "the symbolic link"));
  g_assert_nonnull (strstr (error->message, "belongs to uid 4343"));
  g_clear_error (&error);
  {
    g_autofree char *other = g_build_filename (real, "other", NULL);

    g_assert_false (g_file_test (other, G_FILE_TEST_EXISTS));
  }

  /* Made for the user who ran sudo: theirs, 0755, all the way down. */
  g_setenv ("SUDO_UID", "4242", TRUE);
  g_setenv ("SUDO_GID", "4242", TRUE);
  owned = g_build_filename (tmp, "a", "b", NULL);
  g_assert_true (holder_store_ensure_root (owned, &error));
  g_assert_no_error (error);
  g_unsetenv ("SUDO_UID");
  g_unsetenv ("SUDO_GID");
  for (guint i = 0; i < 3; i++)
    {
      const char *sub = (const char *[]) { "", "run", "clusters" }[i];
      g_autofree char *path = g_build_filename (owned, sub, NULL);

      g_assert_no_errno (lstat (path, &st));
      g_assert_cmpuint (st.st_uid, ==, 4242);
      g_assert_cmpuint (st.st_gid, ==, 4242);
      g_assert_cmpint (st.st_mode & 07777, ==, 0755);
    }

  holder_test_remove_tree (tmp);
}

static void
test_read_pidfile (void)
{
  static const struct {
    const char *contents;
    gssize len; /* -1: strlen */
    GPid pid;   /* 0: refused */
  } cases[] = {
    { "123", -1, 123 },
    { "1", -1, 1 },
    { "0000042", -1, 42 },
    { "2147483647", -1, 2147483647 },
    { "123\n", -1, 0 },
    { " 123", -1, 0 },
    { "123 ", -1, 0 },
    { "", -1, 0 },
    { "0", -1, 0 },
    { "-1", -1, 0 },
    { "+1", -1, 0 },
    { "12a", -1, 0 },
    { "0x10", -1, 0 },
    { "2147483648", -1, 0 },
    { "9999999999999999999", -1, 0 },
    { "99999999999999999999", -1, 0 },
    { "12\0" "3", 4, 0 },
  };
  g_autofree char *root = make_tmp ();
  g_autofree char *dir = holder_store_member_dir (root, "web-1");
  g_autofree char *path = holder_store_pidfile_path (root, "web-1");

  {
    g_autoptr(GError) error = NULL;
    GPid pid = -7;

    g_assert_false (holder_store_read_pidfile (root, "web-1", &pid, &error));
    g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    g_assert_cmpint (pid, ==, -7);
  }

  g_assert_no_errno (g_mkdir_with_parents (dir, 0755));
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      GPid pid = -7;

      g_test_message ("pidfile case %" G_GSIZE_FORMAT, i);
      g_assert_true (g_file_set_contents (path, cases[i].contents, cases[i].len, &error));
      if (cases[i].pid > 0)
        {
          g_assert_true (holder_store_read_pidfile (root, "web-1", &pid, &error));
          g_assert_no_error (error);
          g_assert_cmpint (pid, ==, cases[i].pid);
        }
      else
        {
          g_assert_false (holder_store_read_pidfile (root, "web-1", &pid, &error));
          g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL);
          g_assert_cmpint (pid, ==, -7);
        }
    }

  holder_test_remove_tree (root);
}

static void
test_pid_is_alive (void)
{
  siginfo_t info = { 0 };
  pid_t child;

  g_assert_true (holder_pid_is_alive (getpid ()));
  g_assert_false (holder_pid_is_alive (0));
  g_assert_false (holder_pid_is_alive (-1));

  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    _exit (0);

  /* Wait for the exit without reaping: the child stays a zombie, which
   * kill(pid, 0) still reports as existing. */
  g_assert_no_errno (waitid (P_PID, (id_t) child, &info, WEXITED | WNOWAIT));
  g_assert_no_errno (kill (child, 0));
  g_assert_false (holder_pid_is_alive (child));

  g_assert_cmpint (waitpid (child, NULL, 0), ==, child);
  g_assert_false (holder_pid_is_alive (child));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/store/paths", test_paths);
  g_test_add_func ("/store/cluster-name", test_cluster_name);
  g_test_add_func ("/store/mac", test_mac);
  g_test_add_func ("/store/name-validate", test_name_validate);
  g_test_add_func ("/store/resolve-root", test_resolve_root);
  g_test_add_func ("/store/ensure-root", test_ensure_root);
  g_test_add_func ("/store/ensure-root-as-root", test_ensure_root_as_root);
  g_test_add_func ("/store/read-pidfile", test_read_pidfile);
  g_test_add_func ("/store/pid-is-alive", test_pid_is_alive);

  return g_test_run ();
}
