/* test-holderctl-vm.c: holderctl with real guests: `up` boots two busybox
 * test guests through the cloud-hypervisor backend (stand-in VMM: qemu
 * under TCG), `ls` shows them, `logs` shows their consoles (-f until the
 * member stops), `down` stops them gracefully; and a boot that times out
 * says what "up" meant and where the console is. Everything runs inside a
 * network namespace this test creates.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "holder-test-ctl.h"
#include "holder-test-guest.h"
#include "holder-test-util.h"

/* In a namespace of our own, the first cluster network is this one. */
#define SUBNET "192.168.0.0/24"

static char *skip_reason;
/* What meson test hands these tests. */
static const char *const needed_env[] = { "HOLDER_TEST_CH_STANDIN", "HOLDER_TEST_HOLDERCTL", NULL };

static Sandbox *
vm_sandbox (const char *ip_wait)
{
  Sandbox *sb = sandbox_new ();
  g_autofree char *runtime = g_build_filename (sb->dir, "runtime", NULL);

  /* The network records in a runtime folder of the test's own, not the
   * host's /run/fleetbox. */
  sandbox_setenv (sb, "FLEETBOX_RUNTIME_DIR", runtime);
  sandbox_setenv (sb, "FLEETBOX_BACKEND", NULL);
  sandbox_setenv (sb, "FLEETBOX_CH_BINARY", g_getenv ("HOLDER_TEST_CH_STANDIN"));
  sandbox_setenv (sb, "FLEETBOX_IP_WAIT_TIMEOUT", ip_wait);
  return sb;
}

/* One member of the cluster file: the test guest's spec, as JSON. */
static void
add_member (JsonBuilder *builder,
            Sandbox     *sb,
            const char  *name,
            const char  *ip,
            const char  *peer,
            const char  *cmdline)
{
  const char *peers[] = { peer, NULL };
  g_autofree char *console = g_strdup_printf ("%s/%s.console", sb->dir, name);
  g_autoptr(HolderMemberSpec) spec = holder_test_guest_spec (sb->dir, name, ip, peers, console);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, name);
  json_builder_set_member_name (builder, "kernel_path");
  json_builder_add_string_value (builder, spec->kernel_path);
  json_builder_set_member_name (builder, "initramfs_path");
  json_builder_add_string_value (builder, spec->initramfs_path);
  json_builder_set_member_name (builder, "cmdline");
  json_builder_add_string_value (builder, cmdline != NULL ? cmdline : spec->cmdline);
  json_builder_set_member_name (builder, "disk_path");
  json_builder_add_string_value (builder, spec->disk_path);
  json_builder_set_member_name (builder, "seed_path");
  json_builder_add_string_value (builder, spec->seed_path);
  json_builder_set_member_name (builder, "memory");
  json_builder_add_string_value (builder, "256M");
  json_builder_set_member_name (builder, "ip_hint");
  json_builder_add_string_value (builder, ip);
  json_builder_set_member_name (builder, "serial_log_path");
  json_builder_add_string_value (builder, console);
  json_builder_end_object (builder);
}

static char *
write_cluster (Sandbox     *sb,
               JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *path = g_build_filename (sb->dir, "cluster.json", NULL);
  g_autoptr(GError) error = NULL;

  json_generator_set_root (generator, root);
  g_assert_true (json_generator_to_file (generator, path, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

static JsonBuilder *
begin_cluster (void)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "backend");
  json_builder_add_string_value (builder, "cloud-hypervisor");
  json_builder_set_member_name (builder, "members");
  json_builder_begin_array (builder);
  return builder;
}

static void
assert_no_links_left (void)
{
  g_autofree char *links = NULL;

  g_assert_true (g_spawn_command_line_sync ("ip -o link show", &links, NULL, NULL, NULL));
  g_assert_null (strstr (links, "fbx-"));
  g_assert_null (strstr (links, "fbt-"));
}

static gboolean
file_has (gpointer data)
{
  const char *const *what = data;

  return holder_test_file_contains (what[0], what[1]);
}

static void
test_up_ls_logs_down (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonArray) array = NULL;
  g_autoptr(GSubprocess) follower = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *file = NULL;
  g_autofree char *followed = NULL;
  g_autofree char *console1 = NULL;
  HolderTestRun r = { 0 };
  GPid helper;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }
  sb = vm_sandbox ("200s");
  builder = begin_cluster ();
  add_member (builder, sb, "vm-1", "192.168.0.10", "192.168.0.11", NULL);
  add_member (builder, sb, "vm-2", "192.168.0.11", "192.168.0.10", NULL);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  file = write_cluster (sb, builder);

  ctl (sb, &r, "up", "-f", file, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "network: " SUBNET "\n"));
  g_assert_nonnull (strstr (r.out, "\nvm-1  running      192.168.0.10 "));
  g_assert_nonnull (strstr (r.out, "\nvm-2  running      192.168.0.11 "));
  g_test_message ("up took %.1f s", r.elapsed_ms / 1000);
  holder_test_run_clear (&r);
  helper = read_pidfile (sb, "vm-1");
  track_pid (helper);

  ctl (sb, &r, "ls", "--json", NULL);
  g_assert_cmpint (r.status, ==, 0);
  array = parse_json_array (r.out);
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *m = json_array_get_object_element (array, i);
      g_autofree char *ip = g_strdup_printf ("192.168.0.%u", 10 + i);

      assert_member_schema (m);
      g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, "running");
      g_assert_cmpstr (json_object_get_string_member (m, "ip"), ==, ip);
      g_assert_cmpstr (json_object_get_string_member (m, "backend"), ==, "cloud-hypervisor");
      g_assert_cmpstr (json_object_get_string_member (m, "liveness"), ==, "live");
      g_assert_cmpint (json_object_get_int_member (m, "pid"), ==, helper);
    }
  holder_test_run_clear (&r);

  /* The guest's console, as holderctl finds it. */
  console1 = g_strdup_printf ("%s/vm-1.console", sb->dir);
  holder_test_wait_for_file (console1, "holder-guest: reached 192.168.0.11", 120);
  ctl (sb, &r, "logs", "vm-1", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "holder-guest: up 192.168.0.10"));
  g_assert_nonnull (strstr (r.out, "holder-guest: reached 192.168.0.11"));
  holder_test_run_clear (&r);

  /* Followed until down stops the member: the guest's power-off shows. */
  followed = g_build_filename (sb->dir, "followed", NULL);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_environ (launcher, sb->env);
  g_subprocess_launcher_set_stdout_file_path (launcher, followed);
  {
    const char *argv[] = { g_getenv ("HOLDER_TEST_HOLDERCTL"), "logs", "-f", "vm-2", NULL };
    const char *up[] = { followed, "holder-guest: up 192.168.0.11", NULL };

    follower = g_subprocess_launcher_spawnv (launcher, argv, &error);
    g_assert_no_error (error);
    g_assert_true (wait_until (file_has, up, 30000));
  }

  ctl (sb, &r, "down", "vm", NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_nonnull (strstr (r.out, "vm-1: stopped in "));
  g_assert_nonnull (strstr (r.out, "vm-2: stopped in "));
  holder_test_run_clear (&r);
  g_assert_true (wait_until (subprocess_reaped, follower, 30000));
  g_subprocess_wait (follower, NULL, NULL);
  g_assert_cmpint (g_subprocess_get_exit_status (follower), ==, 0);
  g_assert_true (holder_test_file_contains (followed, "holder-guest: ACPI power button, powering off"));

  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (helper), 30000));
  untrack_pid (helper);
  ctl (sb, &r, "ls", "--json", NULL);
  g_clear_pointer (&array, json_array_unref);
  array = parse_json_array (r.out);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *m = json_array_get_object_element (array, i);

      g_assert_cmpstr (json_object_get_string_member (m, "state"), ==, "stopped");
      g_assert_cmpstr (json_object_get_string_member (m, "liveness"), ==, "none");
    }
  holder_test_run_clear (&r);
  assert_no_links_left ();
}

/* A guest that never answers on port 22 (it is given no address): the
 * boot's error says what was waited for, how long, and where to look. */
static void
test_boot_timeout_explains (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(JsonBuilder) builder = NULL;
  g_autofree char *file = NULL;
  g_autofree char *expected = NULL;
  HolderTestRun r = { 0 };
  GPid helper;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }
  sb = vm_sandbox ("5s");
  builder = begin_cluster ();
  add_member (builder, sb, "mute-1", "192.168.0.10", NULL, "console=ttyS0 panic=-1");
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  file = write_cluster (sb, builder);

  ctl (sb, &r, "up", "-f", file, NULL);
  g_assert_cmpint (r.status, ==, 1);
  expected = g_strdup_printf ("wait for ip mute-1: timed out after 5s waiting for TCP port 22 at "
                              "192.168.0.10; console log: %s/mute-1.console", sb->dir);
  g_assert_nonnull (strstr (r.err, expected));
  g_assert_true (g_str_has_prefix (r.out, "helper "));
  helper = (GPid) atoi (r.out + strlen ("helper "));
  g_assert_cmpint (helper, >, 0);
  holder_test_run_clear (&r);

  /* The failure left the helper no active member: it ends by itself and
   * takes its network along. */
  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (helper), 30000));
  assert_no_links_left ();
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  process_test_init ();
  skip_reason = holder_test_guest_enter_namespace (needed_env, HOLDER_TEST_GUEST_NS_NONE);

  g_test_add_func ("/holderctl-vm/up-ls-logs-down", test_up_ls_logs_down);
  g_test_add_func ("/holderctl-vm/boot-timeout-explains", test_boot_timeout_explains);
  ret = g_test_run ();
  g_free (skip_reason);
  return ret;
}
