/* test-helper-cli.c: fleetbox-helper's command line: usage errors, the
 * environment --help lists (checked against every variable the sources
 * read), and --verbose.
 *
 * SPDX-License-Identifier: MIT
 */
#include "holder-test-process.h"
#include "holder-test-run.h"
#include "holder-test-util.h"

/* What a wrapper (valgrind) adds to stderr: its "==pid==" lines. */
static void
strip_wrapper_lines (char **text)
{
  g_auto(GStrv) lines = g_strsplit (*text, "\n", -1);
  g_autoptr(GString) kept = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    if (!g_str_has_prefix (lines[i], "==") && (lines[i][0] != '\0' || lines[i + 1] == NULL))
      g_string_append_printf (kept, "%s%s", lines[i], lines[i + 1] != NULL ? "\n" : "");
  g_free (*text);
  *text = g_string_free (g_steal_pointer (&kept), FALSE);
}

static void
run (Sandbox           *sb,
     const char *const *args,
     HolderTestRun     *r)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, sb->program);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  holder_test_run ((const char *const *) argv->pdata, (const char *const *) sb->env,
                   scaled (10000), r);
  if (wrapped)
    strip_wrapper_lines (&r->err);
}

/* Exit 2, the problem on the first line of stderr, the usage after it,
 * nothing on stdout and nothing made in the store. */
static void
assert_usage_error (const char *const *args,
                    const char        *first_line)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  HolderTestRun r = { 0 };
  g_autofree char *expected = g_strdup_printf ("fleetbox-helper: %s\nUsage:\n", first_line);

  run (sb, args, &r);
  g_test_message ("%s", r.err);
  g_assert_cmpint (r.status, ==, 2);
  g_assert_true (g_str_has_prefix (r.err, expected));
  g_assert_nonnull (strstr (r.err, "--fleetbox-runner NAME1,NAME2,..."));
  g_assert_nonnull (strstr (r.err, "--help"));
  g_assert_cmpstr (r.out, ==, "");
  g_assert_false (path_exists (sb->root));
  holder_test_run_clear (&r);
}

static void
test_unknown_option (void)
{
  const char *before[] = { "--frobnicate", "--fleetbox-runner", "solo", NULL };
  const char *after[] = { "--fleetbox-runner", "solo", "-x", NULL };
  const char *with_value[] = { "--fleetbox-reconcile", "--backend=fake", NULL };

  assert_usage_error (before, "unknown option \"--frobnicate\"");
  assert_usage_error (after, "unknown option \"-x\"");
  assert_usage_error (with_value, "unknown option \"--backend=fake\"");
}

static void
test_stray_argument (void)
{
  const char *stray[] = { "--fleetbox-runner", "solo", "extra", NULL };
  const char *alone[] = { "web-1", NULL };
  const char *quoted[] = { "--fleetbox-reconcile", "a\nb", NULL };

  assert_usage_error (stray, "unexpected argument \"extra\"");
  assert_usage_error (alone, "unexpected argument \"web-1\"");
  /* Quoted like Go's %q: the message stays one line. */
  assert_usage_error (quoted, "unexpected argument \"a\\nb\"");
}

/* The runner's value is the next argument, whatever it looks like; the
 * known flags go anywhere. */
static void
test_flags_anywhere (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *args[] = { "--verbose", "--fleetbox-runner", "--odd-1", NULL };
  const char *names[] = { "--odd-1", NULL };
  g_autoptr(GSubprocess) process = spawn_helper (sb, args);
  GPid pid = subprocess_pid (process);

  wait_ready (sb, process, pid, names, FALSE);
  kill (pid, SIGTERM);
  g_assert_cmpint (wait_exit (process, pid, scaled (10000)), ==, 0);
}

/* Every FLEETBOX_*, SUDO_* or HOLDER_* name quoted in the sources of the
 * library and the backends (what the helper reads), but for the client's. */
static GPtrArray *
variables_in_sources (void)
{
  static const char *const folders[] = {
    "libholder", "backends/cloud-hypervisor", "backends/libvirt", "backends/linux",
  };
  static const char *const client_only[] = { "FLEETBOX_BIND_TIMEOUT", NULL };
  g_autoptr(GRegex) regex = g_regex_new ("\"((FLEETBOX|SUDO|HOLDER)_[A-Z0-9_]+)\"", 0, 0, NULL);
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < G_N_ELEMENTS (folders); i++)
    {
      g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", folders[i], NULL);
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *entry;

      g_assert_nonnull (dir);
      while ((entry = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *file = g_build_filename (path, entry, NULL);
          g_autofree char *contents = NULL;
          g_autoptr(GMatchInfo) match = NULL;

          if (!g_str_has_suffix (entry, ".c") && !g_str_has_suffix (entry, ".h"))
            continue;
          g_assert_true (g_file_get_contents (file, &contents, NULL, NULL));
          g_regex_match (regex, contents, 0, &match);
          for (; g_match_info_matches (match); g_match_info_next (match, NULL))
            {
              char *name = g_match_info_fetch (match, 1);

              if (g_strv_contains (client_only, name) ||
                  g_ptr_array_find_with_equal_func (found, name, g_str_equal, NULL))
                g_free (name);
              else
                g_ptr_array_add (found, name);
            }
        }
    }
  return found;
}

static void
test_help_lists_environment (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  g_autoptr(GPtrArray) variables = variables_in_sources ();
  const char *args[] = { "--help", NULL };
  HolderTestRun r = { 0 };

  run (sb, args, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.err, ==, "");
  g_test_message ("%u variables in the sources", variables->len);
  /* At least the ones the issue names, so the scan itself is checked. */
  g_assert_cmpuint (variables->len, >=, 15);
  g_assert_true (g_ptr_array_find_with_equal_func (variables, "FLEETBOX_CH_BINARY", g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (variables, "FLEETBOX_LIBVIRT_URI", g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (variables, "FLEETBOX_FAKE_RECORD", g_str_equal, NULL));
  for (guint i = 0; i < variables->len; i++)
    {
      const char *name = g_ptr_array_index (variables, i);

      if (strstr (r.out, name) == NULL)
        g_error ("fleetbox-helper --help does not list %s", name);
    }
  g_assert_nonnull (strstr (r.out, "--verbose"));
  g_assert_nonnull (strstr (r.out, "Exit status"));
  holder_test_run_clear (&r);
}

/* A reconcile's debug lines, on stderr only when asked for. */
static void
assert_reconcile_log (const char *flag,
                      const char *env_value,
                      gboolean    expect_debug)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  g_autofree char *reclaim = g_build_filename (sb->dir, "reclaim", NULL);
  const char *with_flag[] = { flag, "--fleetbox-reconcile", NULL };
  const char *without[] = { "--fleetbox-reconcile", NULL };
  HolderTestRun r = { 0 };

  /* The fake reports this as reclaimed; reconcile logs it at info level. */
  g_assert_true (g_file_set_contents (reclaim, "link fbx-dead\n", -1, NULL));
  sandbox_setenv (sb, "FLEETBOX_FAKE_RECLAIM", reclaim);
  sandbox_setenv (sb, "G_MESSAGES_DEBUG", NULL);
  sandbox_setenv (sb, "FLEETBOX_VERBOSE", env_value);
  run (sb, flag != NULL ? with_flag : without, &r);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "");
  g_test_message ("stderr: %s", r.err);
  if (expect_debug)
    g_assert_nonnull (strstr (r.err, "reconcile: removed link fbx-dead"));
  else
    g_assert_cmpstr (r.err, ==, "");
  /* Not a dry run: the fake's state is gone. */
  g_assert_false (path_exists (reclaim));
  holder_test_run_clear (&r);
}

static void
test_verbose (void)
{
  assert_reconcile_log ("--verbose", NULL, TRUE);
  assert_reconcile_log ("-v", NULL, TRUE);
  assert_reconcile_log (NULL, "1", TRUE);
  assert_reconcile_log (NULL, "0", FALSE);
  assert_reconcile_log (NULL, NULL, FALSE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  process_test_init ();

  g_test_add_func ("/helper-cli/unknown-option", test_unknown_option);
  g_test_add_func ("/helper-cli/stray-argument", test_stray_argument);
  g_test_add_func ("/helper-cli/flags-anywhere", test_flags_anywhere);
  g_test_add_func ("/helper-cli/help-lists-environment", test_help_lists_environment);
  g_test_add_func ("/helper-cli/verbose", test_verbose);
  return g_test_run ();
}
