/* holder-test-guest.c: see holder-test-guest.h.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-test"

#include <unistd.h>

#include "holder-test-guest.h"

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
