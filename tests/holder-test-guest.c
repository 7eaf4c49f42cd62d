/* holder-test-guest.c: see holder-test-guest.h.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-test"

#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "holder-test-guest.h"

gboolean
holder_test_run_command (const char  *command_line,
                         GError     **error)
{
  g_auto(GStrv) argv = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_shell_parse_argv (command_line, NULL, &argv, error) ||
      !g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &err, &status,
                     error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", command_line,
                   err != NULL ? g_strchomp (err) : "");
      return FALSE;
    }
  return TRUE;
}

char *
holder_test_guest_skip_reason (const char *const *needed_env)
{
  const char *kernel = g_getenv ("HOLDER_TEST_GUEST_KERNEL");
  GStatBuf st;

  for (guint i = 0; needed_env != NULL && needed_env[i] != NULL; i++)
    if (g_getenv (needed_env[i]) == NULL)
      return g_strdup_printf ("%s not set (run through meson test)", needed_env[i]);
  if (kernel == NULL || g_getenv ("HOLDER_TEST_GUEST_INITRAMFS") == NULL ||
      g_stat (kernel, &st) != 0 || st.st_size == 0)
    {
      g_autofree char *dir = kernel != NULL ? g_path_get_dirname (kernel) : g_strdup (".");
      g_autofree char *status_path = g_build_filename (dir, "guest-status", NULL);
      g_autofree char *status = NULL;

      /* tests/guest says why it built nothing (no busybox, no kernel...). */
      if (g_file_get_contents (status_path, &status, NULL, NULL) &&
          g_str_has_prefix (status, "skip: "))
        return g_strdup (g_strchomp (status + strlen ("skip: ")));
      return g_strdup ("the test guest was not built");
    }
  return NULL;
}

char *
holder_test_guest_enter_namespace (const char *const      *needed_env,
                                   HolderTestGuestNsFlags  flags)
{
  g_autofree char *qemu = NULL;
  g_autoptr(GError) error = NULL;
  char *reason;

  if (geteuid () != 0)
    return g_strdup ("needs root (network namespace, bridge, taps)");
  if ((reason = holder_test_guest_skip_reason (needed_env)) != NULL)
    return reason;
  qemu = g_find_program_in_path ("qemu-system-x86_64");
  if (qemu == NULL)
    return g_strdup ("qemu-system-x86_64 not installed (Debian: qemu-system-x86)");
  if (!g_file_test ("/dev/net/tun", G_FILE_TEST_EXISTS))
    return g_strdup ("/dev/net/tun missing");
  if (unshare (CLONE_NEWNET | CLONE_NEWNS) != 0)
    return g_strdup_printf ("unshare: %s", g_strerror (errno));
  if (mount ("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return g_strdup_printf ("make mounts private: %s", g_strerror (errno));
  /* /sys/class/net must show this namespace's interfaces. */
  if (mount ("sysfs", "/sys", "sysfs", 0, NULL) != 0)
    {
      if ((flags & HOLDER_TEST_GUEST_NS_NEED_SYSFS) != 0)
        return g_strdup_printf ("mount sysfs: %s", g_strerror (errno));
      g_debug ("mount sysfs: %s", g_strerror (errno));
    }
  if (!holder_test_run_command ("ip link set lo up", &error))
    return g_strdup (error->message);
  if ((flags & HOLDER_TEST_GUEST_NS_SUBREAPER) != 0)
    prctl (PR_SET_CHILD_SUBREAPER, 1);
  return NULL;
}

static void
make_blank_disk (const char *path,
                 off_t       size)
{
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return;
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  g_assert_cmpint (truncate (path, size), ==, 0);
}

HolderMemberSpec *
holder_test_guest_spec (const char        *root,
                        const char        *name,
                        const char        *ip,
                        const char *const *peers,
                        const char        *serial_log_path)
{
  HolderMemberSpec *spec = holder_member_spec_new (name);
  g_autofree char *disk_dir = g_build_filename (root, "disks", name, NULL);
  g_autoptr(GString) cmdline = g_string_new ("console=ttyS0 panic=-1 holder.ip=");

  g_assert_cmpint (g_mkdir_with_parents (disk_dir, 0755), ==, 0);
  g_free (spec->disk_path);
  spec->disk_path = g_build_filename (disk_dir, "disk.raw", NULL);
  g_free (spec->seed_path);
  spec->seed_path = g_build_filename (disk_dir, "seed.img", NULL);
  make_blank_disk (spec->disk_path, 1024 * 1024);
  make_blank_disk (spec->seed_path, 64 * 1024);
  spec->cpus = 1;
  spec->memory_bytes = 256 * 1024 * 1024;
  spec->serial_log_path = g_strdup (serial_log_path);
  spec->kernel_path = g_strdup (g_getenv ("HOLDER_TEST_GUEST_KERNEL"));
  spec->initramfs_path = g_strdup (g_getenv ("HOLDER_TEST_GUEST_INITRAMFS"));

  g_string_append_printf (cmdline, "%s/24", ip);
  for (guint i = 0; peers != NULL && peers[i] != NULL; i++)
    g_string_append_printf (cmdline, "%s%s", i == 0 ? " holder.peers=" : ",", peers[i]);
  spec->cmdline = g_string_free (g_steal_pointer (&cmdline), FALSE);
  return spec;
}
