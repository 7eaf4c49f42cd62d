/* SPDX-License-Identifier: MIT
 *
 * The seed's design on Linux: no separate helper. This test binary calls
 * holder_main_hook() first in main() and spawns *itself* as the holder
 * (holder_helper_spawn() with no helper path), bound, runs a cluster on
 * the fake backend and closes it. The hook must not load any backend
 * module into a binary that never becomes a holder, and a client that
 * only talks to a helper maps no backend library.
 */
#define G_LOG_DOMAIN "holder-test"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <holder.h>

#include "holder-test-util.h"

/* Libraries that only backends may bring in. */
static const char *const backend_libraries[] = {
  "cloud-hypervisor.so", "libvirt.so", "libvirt-glib", "libsoup", "libnl-route",
  "libnftables", "libext2fs", "libgnutls", NULL,
};

static void
assert_maps_no_backend (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/maps", (int) pid);
  g_autofree char *maps = NULL;

  g_assert_true (g_file_get_contents (path, &maps, NULL, NULL));
  for (guint i = 0; backend_libraries[i] != NULL; i++)
    if (strstr (maps, backend_libraries[i]) != NULL)
      g_error ("process %d maps %s", (int) pid, backend_libraries[i]);
}

typedef struct {
  char  *dir;
  char  *root;
  GStrv  env;
} Sandbox;

static void
sandbox_init (Sandbox *sb)
{
  g_autoptr(GError) error = NULL;

  sb->dir = g_dir_make_tmp ("holder-reexec-XXXXXX", &error);
  g_assert_no_error (error);
  sb->root = g_build_filename (sb->dir, "home", NULL);
  sb->env = g_get_environ ();
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_HOME", sb->root, TRUE);
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_BACKEND", "fake", TRUE);
  sb->env = g_environ_unsetenv (sb->env, "FLEETBOX_PARENT_PID");
}

static void
sandbox_clear (Sandbox *sb)
{
  holder_test_remove_tree (sb->dir);
  g_free (sb->dir);
  g_free (sb->root);
  g_strfreev (sb->env);
}

/* Spawned with no helper path, the helper is this very program. */
static void
test_bound_cluster (void)
{
  Sandbox sb = { 0 };
  const char *names[] = { "rx-1", "rx-2", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderHelper) helper = NULL;
  g_autofree char *subnet = NULL;
  g_autofree char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *helper_exe = NULL;
  g_autofree char *exe_link = NULL;
  g_autofree char *socket_path = NULL;
  int exit_status = -1;

  sandbox_init (&sb);
  helper = holder_helper_spawn (NULL, names, (const char *const *) sb.env,
                                HOLDER_SPAWN_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (helper);

  exe_link = g_strdup_printf ("/proc/%d/exe", (int) holder_helper_get_pid (helper));
  helper_exe = g_file_read_link (exe_link, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (helper_exe, ==, self_exe);

  g_assert_true (holder_client_create_network (sb.root, names[0], &subnet, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (subnet, ==, "");

  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr(HolderReservation) reservation =
        holder_client_reserve (sb.root, names[0], names[i], NULL, &error);
      g_autoptr(HolderMemberSpec) spec = holder_member_spec_new (names[i]);
      g_autoptr(HolderStatus) status = NULL;
      g_autofree char *expected_mac = holder_mac_for_name (names[i]);

      g_assert_no_error (error);
      g_assert_cmpstr (reservation->mac, ==, expected_mac);

      g_free (spec->disk_path);
      g_free (spec->seed_path);
      spec->disk_path = g_strdup ("/nonexistent/disk.raw");
      spec->seed_path = g_strdup ("/nonexistent/seed.iso");
      spec->cpus = 1;
      spec->memory_bytes = 512u << 20;
      g_assert_true (holder_client_boot_member (sb.root, names[0], spec, 0, &error));
      g_assert_no_error (error);

      status = holder_client_status (sb.root, names[i], &error);
      g_assert_no_error (error);
      g_assert_cmpstr (status->state, ==, "running");
      g_assert_cmpint (status->pid, ==, holder_helper_get_pid (helper));
      g_assert_true (g_str_has_prefix (status->ip, "203.0.113."));
    }

  /* The holder this binary became loaded no backend module, and neither
   * did this client by talking to it. */
  assert_maps_no_backend (holder_helper_get_pid (helper));
  assert_maps_no_backend (getpid ());

  socket_path = holder_store_socket_path (sb.root, names[0]);
  g_assert_true (g_file_test (socket_path, G_FILE_TEST_EXISTS));
  g_assert_true (holder_helper_close (helper, 10 * 1000, &exit_status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (exit_status));
  g_assert_cmpint (WEXITSTATUS (exit_status), ==, 0);
  g_assert_false (g_file_test (socket_path, G_FILE_TEST_EXISTS));

  sandbox_clear (&sb);
}

/* Without a runner or reconcile flag the hook returns, selecting and
 * loading nothing. */
static void
test_hook_returns (void)
{
  if (g_test_subprocess ())
    {
      char *args[] = { (char *) "test-reexec", (char *) "--some-flag", (char *) "value", NULL };

      g_setenv ("FLEETBOX_BACKEND", "cloud-hypervisor", TRUE);
      holder_main_hook (3, args);
      assert_maps_no_backend (getpid ());
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int    argc,
      char **argv)
{
  /* First, as a re-executed test binary must: becomes the helper (and
   * exits) when asked to. */
  holder_main_hook (argc, argv);

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reexec/bound-cluster", test_bound_cluster);
  g_test_add_func ("/reexec/hook-returns", test_hook_returns);
  return g_test_run ();
}
