/* test-holderctl-up.c: holderctl's command line, `up` from a cluster
 * description (fake backend, detached helper), `doctor`'s verdicts, and
 * colour only on a terminal.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>

#include "holder-test-ctl.h"
#include "holder-test-util.h"

/* ---- the command line ---------------------------------------------------------- */

static void
test_usage (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *const usage_errors[][4] = {
    { NULL }, { "frob", NULL }, { "--frob", "ls", NULL }, { "ls", "extra", NULL },
    { "ls", "--frob", NULL }, { "up", NULL }, { "up", "-f", "c.json", "extra" },
    { "logs", NULL }, { "down", NULL }, { "prune", "now", NULL }, { "doctor", "x", NULL },
  };
  HolderTestRun r = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (usage_errors); i++)
    {
      const char *args[5] = { NULL };

      for (guint j = 0; j < 4 && usage_errors[i][j] != NULL; j++)
        args[j] = usage_errors[i][j];
      ctl_env ((const char *const *) sb->env, &r, args);
      g_assert_cmpint (r.status, ==, 2);
      g_assert_cmpstr (r.out, ==, "");
      g_assert_true (g_str_has_prefix (r.err, i == 0 ? "Usage: holderctl" : "holderctl"));
      holder_test_run_clear (&r);
    }

  ctl (sb, &r, "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  for (guint i = 0; i < 8; i++)
    {
      static const char *const commands[] = { "ls", "status", "up", "stop", "down", "logs",
                                              "prune", "doctor" };
      g_autofree char *line = g_strdup_printf ("\n  %-8s ", commands[i]);

      g_assert_nonnull (strstr (r.out, line));
    }
  g_assert_nonnull (strstr (r.out, "Exit status"));
  holder_test_run_clear (&r);

  ctl (sb, &r, "stop", "--help", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "--timeout"));
  g_assert_nonnull (strstr (r.out, "--root"));
  holder_test_run_clear (&r);
}

/* ---- up ------------------------------------------------------------------------ */

static char *
write_cluster (Sandbox    *sb,
               const char *json)
{
  char *path = g_build_filename (sb->dir, "cluster.json", NULL);

  g_assert_true (g_file_set_contents (path, json, -1, NULL));
  return path;
}

static void
test_up (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  g_autofree char *file = write_cluster (sb,
    "{\"backend\": \"fake\", \"members\": ["
    " {\"name\": \"app-1\", \"disk_path\": \"disks/app-1.raw\", \"memory\": \"256M\"},"
    " {\"name\": \"app-2\", \"cpus\": 2, \"ip_hint\": \"10.0.0.9\", \"fixture_paths\": [\"f.img\"]}"
    "]}");
  g_autofree char *create = NULL;
  g_autoptr(JsonArray) array = NULL;
  HolderTestRun r = { 0 };

  /* Whatever the environment says, the file chooses the backend. */
  sandbox_setenv (sb, "FLEETBOX_BACKEND", "nonexistent");
  ctl (sb, &r, "up", "-f", file, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "(backend fake, root "));
  g_assert_nonnull (strstr (r.out, "network: addresses by DHCP\n"));
  g_assert_nonnull (strstr (r.out, "reserved app-1: address by DHCP, mac "));
  g_assert_nonnull (strstr (r.out, "\napp-1  running      203.0.113."));
  g_assert_nonnull (strstr (r.out, "\napp-2  running      203.0.113."));
  holder_test_run_clear (&r);

  ctl (sb, &r, "ls", "--json", NULL);
  array = parse_json_array (r.out);
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *m = json_array_get_object_element (array, i);

      assert_member_schema (m);
      g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, "running");
      g_assert_cmpstr (json_object_get_string_member (m, "liveness"), ==, "live");
    }
  holder_test_run_clear (&r);

  /* Paths in the file are relative to it; the hint went to reserve. */
  create = g_strdup_printf ("{\"op\":\"create\",\"name\":\"app-1\",\"disk_path\":\"%s/disks/app-1.raw\",",
                            sb->dir);
  {
    g_auto(GStrv) lines = read_record (sb);
    g_autofree char *joined = g_strjoinv ("\n", lines);

    g_assert_nonnull (strstr (joined, create));
    g_assert_nonnull (strstr (joined, "{\"op\":\"reserve\",\"name\":\"app-2\",\"ip_hint\":\"10.0.0.9\""));
    g_assert_nonnull (strstr (joined, "\"fixture_paths\":[\""));
  }

  ctl (sb, &r, "up", "-f", file, NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "app-1 is already running"));
  holder_test_run_clear (&r);

  ctl (sb, &r, "down", "app", NULL);
  g_assert_cmpint (r.status, ==, 0);
  holder_test_run_clear (&r);
  kill_store_helpers (sb);
}

static void
test_up_json_and_failure (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  g_autofree char *file = write_cluster (sb,
    "{\"members\": [{\"name\": \"bad-1\"}, {\"name\": \"bad-2\"}]}");
  g_autoptr(JsonArray) array = NULL;
  HolderTestRun r = { 0 };

  sandbox_setenv (sb, "FLEETBOX_FAKE_FAIL_CREATE", "bad-2");
  ctl (sb, &r, "--json", "up", "-f", file, NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "create bad-2: fake backend: forced Create failure for \"bad-2\""));
  array = parse_json_array (r.out);
  assert_member_schema (find_member (array, "bad-1"));
  assert_member_schema (find_member (array, "bad-2"));
  g_assert_cmpstr (json_object_get_string_member (find_member (array, "bad-1"), "state"), ==, "running");
  g_assert_cmpstr (json_object_get_string_member (find_member (array, "bad-2"), "state"), ==, "error");
  holder_test_run_clear (&r);
  kill_store_helpers (sb);
}

static void
test_up_bad_files (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *cases[][2] = {
    { "{\"members\": [", "cluster.json" },
    { "[]", "not a JSON object" },
    { "{\"members\": []}", "no members" },
    { "{\"clusters\": []}", "unknown key \"clusters\"" },
    { "{\"members\": [{\"name\": \"a-1\", \"kernal_path\": \"x\"}]}", "member a-1: unknown key \"kernal_path\"" },
    { "{\"members\": [{\"name\": \"a-1\"}, {\"name\": \"a-1\"}]}", "member a-1 appears twice" },
    { "{\"members\": [{\"name\": \"a/b\"}]}", "invalid member name \"a/b\"" },
    { "{\"members\": [{\"name\": \"a-1\", \"memory\": \"lots\"}]}", "\"memory\" must be a size" },
    { "{\"members\": [{\"name\": \"a-1\", \"cpus\": 0}]}", "\"cpus\" must be a whole number" },
    { "{\"members\": [{\"cpus\": 1}]}", "members[0]: no \"name\"" },
    { "{\"backend\": 3, \"members\": [{\"name\": \"a-1\"}]}", "\"backend\" must be" },
  };
  HolderTestRun r = { 0 };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *file = write_cluster (sb, cases[i][0]);

      ctl (sb, &r, "up", "-f", file, NULL);
      g_assert_cmpint (r.status, ==, 1);
      g_assert_true (g_str_has_prefix (r.err, "holderctl: "));
      g_assert_nonnull (strstr (r.err, file));
      g_assert_nonnull (strstr (r.err, cases[i][1]));
      holder_test_run_clear (&r);
    }
  ctl (sb, &r, "up", "-f", "/nonexistent/cluster.json", NULL);
  g_assert_cmpint (r.status, ==, 1);
  g_assert_nonnull (strstr (r.err, "/nonexistent/cluster.json"));
  holder_test_run_clear (&r);
  /* Nothing was started. */
  g_assert_false (path_exists (sb->root));
}

/* ---- doctor ---------------------------------------------------------------------- */

static void
assert_check_schema (JsonObject *check)
{
  g_assert_cmpuint (json_object_get_size (check), ==, 6);
  g_assert_nonnull (json_object_get_string_member (check, "backend"));
  g_assert_nonnull (json_object_get_string_member (check, "name"));
  g_assert_nonnull (json_object_get_string_member (check, "detail"));
  (void) json_object_get_boolean_member (check, "ok");
  (void) json_object_get_boolean_member (check, "required");
  /* A fix exactly for what fails. */
  g_assert_true ((json_string_or_null (check, "fix") == NULL) ==
                 json_object_get_boolean_member (check, "ok"));
}

static JsonObject *
find_check (JsonObject *report,
            const char *backend,
            const char *name)
{
  JsonArray *checks = json_object_get_array_member (report, "checks");

  for (guint i = 0; i < json_array_get_length (checks); i++)
    {
      JsonObject *check = json_array_get_object_element (checks, i);

      assert_check_schema (check);
      if (g_str_equal (json_object_get_string_member (check, "backend"), backend) &&
          g_str_equal (json_object_get_string_member (check, "name"), name))
        return check;
    }
  return NULL;
}

static void
test_doctor (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  g_autofree char *empty = g_build_filename (sb->dir, "no-modules", NULL);
  g_autoptr(JsonObject) report = NULL;
  JsonObject *check;
  HolderTestRun r = { 0 };

  g_assert_no_errno (g_mkdir (empty, 0755));
  sandbox_setenv (sb, "FLEETBOX_BACKEND_DIR", empty);
  ctl (sb, &r, "doctor", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_true (g_str_has_prefix (r.out, "fake (default)\n"));
  g_assert_nonnull (strstr (r.out, "\nfake can boot VMs here.\n"));
  holder_test_run_clear (&r);

  /* A store anyone may write to: a warning with its fix, not a blocker. */
  g_assert_true (holder_store_ensure_root (sb->root, NULL));
  g_assert_no_errno (g_chmod (sb->root, 0777));
  ctl (sb, &r, "doctor", "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  report = parse_json_object (r.out);
  g_assert_cmpuint (json_object_get_size (report), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (report, "root"), ==, sb->root);
  g_assert_cmpstr (json_object_get_string_member (report, "default_backend"), ==, "fake");
  g_assert_true (json_object_get_boolean_member (report, "can_boot"));
  check = find_check (report, "storage root", "storage root mode");
  g_assert_nonnull (check);
  g_assert_false (json_object_get_boolean_member (check, "ok"));
  g_assert_false (json_object_get_boolean_member (check, "required"));
  g_assert_nonnull (strstr (json_string_or_null (check, "fix"), "chmod -R go-w"));
  check = find_check (report, "storage root", "storage root");
  g_assert_true (json_object_get_boolean_member (check, "ok"));
  holder_test_run_clear (&r);
  g_assert_no_errno (g_chmod (sb->root, 0755));

  /* A default backend that is not installed cannot boot. */
  sandbox_setenv (sb, "FLEETBOX_BACKEND", "nonexistent");
  ctl (sb, &r, "doctor", NULL);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.out, "The default backend, nonexistent, is not installed"));
  holder_test_run_clear (&r);
}

/* On a host without KVM (here: /dev/kvm covered by /dev/null in a mount
 * namespace of the run's own), the cloud-hypervisor backend cannot boot. */
static void
test_doctor_without_kvm (void)
{
#ifdef HOLDER_TEST_HAVE_CH
  g_autoptr(Sandbox) sb = sandbox_new ();
  g_autoptr(JsonObject) report = NULL;
  g_autofree char *unshare = g_find_program_in_path ("unshare");
  const char *argv[] = {
    unshare, "--mount", "--", "sh", "-c",
    "mount --bind /dev/null /dev/kvm 2>/dev/null; exec \"$0\" \"$@\"",
    g_getenv ("HOLDER_TEST_HOLDERCTL"), "doctor", "--json", NULL,
  };
  const char *human[] = {
    unshare, "--mount", "--", "sh", "-c",
    "mount --bind /dev/null /dev/kvm 2>/dev/null; exec \"$0\" \"$@\"",
    g_getenv ("HOLDER_TEST_HOLDERCTL"), "doctor", NULL,
  };
  JsonObject *kvm;
  HolderTestRun r = { 0 };

  if (geteuid () != 0 || unshare == NULL)
    {
      g_test_skip ("needs root and unshare(1) to hide /dev/kvm");
      return;
    }
  sandbox_setenv (sb, "FLEETBOX_BACKEND", "cloud-hypervisor");
  holder_test_run (argv, (const char *const *) sb->env, scaled (30000), &r);
  g_test_message ("%s%s", r.out, r.err);
  g_assert_cmpint (r.status, ==, 3);
  report = parse_json_object (r.out);
  g_assert_cmpstr (json_object_get_string_member (report, "default_backend"), ==, "cloud-hypervisor");
  g_assert_false (json_object_get_boolean_member (report, "can_boot"));
  kvm = find_check (report, "cloud-hypervisor", "KVM");
  g_assert_nonnull (kvm);
  g_assert_false (json_object_get_boolean_member (kvm, "ok"));
  g_assert_true (json_object_get_boolean_member (kvm, "required"));
  g_assert_nonnull (strstr (json_string_or_null (kvm, "fix"), "modprobe"));
  holder_test_run_clear (&r);

  holder_test_run (human, (const char *const *) sb->env, scaled (30000), &r);
  g_assert_cmpint (r.status, ==, 3);
  g_assert_nonnull (strstr (r.out, "cloud-hypervisor cannot boot VMs here: KVM"));
  g_assert_nonnull (strstr (r.out, "fix: "));
  holder_test_run_clear (&r);
#else
  g_test_skip ("built without the cloud-hypervisor backend");
#endif
}

/* ---- colour ---------------------------------------------------------------------- */

/* Runs holderctl with its stdout on a pseudo-terminal; returns what it
 * wrote there. */
static char *
run_on_terminal (Sandbox           *sb,
                 const char *const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  gint64 deadline = g_get_monotonic_time () + scaled (20000) * 1000;
  int master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  int slave;

  g_assert_cmpint (master, >=, 0);
  g_assert_no_errno (grantpt (master));
  g_assert_no_errno (unlockpt (master));
  slave = open (ptsname (master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  g_assert_cmpint (slave, >=, 0);
  g_ptr_array_add (argv, (gpointer) g_getenv ("HOLDER_TEST_HOLDERCTL"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_environ (launcher, sb->env);
  g_subprocess_launcher_take_stdout_fd (launcher, slave);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  /* Our copy of the terminal's far end goes with the launcher: EOF (EIO)
   * then comes when the program exits. */
  g_clear_object (&launcher);
  for (;;)
    {
      char buf[4096];
      gssize n = read_once (master, buf, sizeof buf, 100);

      if (n > 0)
        g_string_append_len (out, buf, n);
      else if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN))
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  close (master);
  g_subprocess_wait (process, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
test_color (void)
{
  g_autoptr(Sandbox) sb = sandbox_new ();
  const char *names[] = { "web-1", NULL };
  const char *ls[] = { "ls", NULL };
  const char *ls_plain[] = { "ls", "--no-color", NULL };
  g_autofree char *colored = NULL;
  g_autofree char *no_color = NULL;
  g_autofree char *plain = NULL;

  spawn_detached (sb, names);
  g_assert_null (boot_member (sb, "web-1", "web-1", NULL));
  sandbox_setenv (sb, "NO_COLOR", NULL);
  sandbox_setenv (sb, "TERM", "xterm");
  colored = run_on_terminal (sb, ls);
  g_assert_nonnull (strstr (colored, "\033[32mrunning\033[0m"));
  g_assert_nonnull (strstr (colored, "\033[1mCLUSTER\033[0m"));
  plain = run_on_terminal (sb, ls_plain);
  g_assert_nonnull (strstr (plain, "running"));
  g_assert_null (strchr (plain, '\033'));
  sandbox_setenv (sb, "NO_COLOR", "1");
  no_color = run_on_terminal (sb, ls);
  g_assert_nonnull (strstr (no_color, "running"));
  g_assert_null (strchr (no_color, '\033'));
  kill_store_helpers (sb);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  process_test_init ();

  g_test_add_func ("/holderctl/usage", test_usage);
  g_test_add_func ("/holderctl/up", test_up);
  g_test_add_func ("/holderctl/up/json-and-failure", test_up_json_and_failure);
  g_test_add_func ("/holderctl/up/bad-files", test_up_bad_files);
  g_test_add_func ("/holderctl/doctor", test_doctor);
  g_test_add_func ("/holderctl/doctor/without-kvm", test_doctor_without_kvm);
  g_test_add_func ("/holderctl/color", test_color);
  return g_test_run ();
}
