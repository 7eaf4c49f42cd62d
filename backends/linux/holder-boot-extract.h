/* SPDX-License-Identifier: MIT
 *
 * The boot payload of a guest without direct-boot fields: the kernel and
 * initramfs from the image's own /boot, read with libblkid and libext2fs
 * (no loop devices, no mounts, no root), cached next to the disk.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  char *kernel_path;     /* an uncompressed vmlinux or a bzImage cloud-hypervisor can boot */
  char *initramfs_path;  /* NULL when the image has none */
} HolderBootFiles;

void holder_boot_files_free (HolderBootFiles *files);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderBootFiles, holder_boot_files_free)

/* Finds the root filesystem in @disk_path (a GPT partition table, an MBR,
 * or a bare filesystem; ext2/3/4), picks the kernel in /boot (an
 * unversioned vmlinuz/initrd.img wins, following symlinks inside the image;
 * else the newest versioned pair by version order), decompresses a gzip
 * kernel, and writes both next to the disk as "<disk>.vmlinux" and
 * "<disk>.initrd" through a temporary name and a rename. A cache newer
 * than the disk is reused. Blocking: run it off the main loop (see
 * holder_boot_extract_async). */
HolderBootFiles *holder_boot_extract (const char *disk_path,
                                           GError    **error);

/* The same, on a GTask worker thread (the image reads can take seconds);
 * the callback runs on the caller's main context. */
void holder_boot_extract_async (const char          *disk_path,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
HolderBootFiles *holder_boot_extract_finish (GAsyncResult  *result,
                                                  GError       **error);

/* The default kernel command line on x86_64. */
#define HOLDER_BOOT_DEFAULT_CMDLINE "console=ttyS0 root=/dev/vda1 rw"

G_END_DECLS
