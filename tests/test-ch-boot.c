/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "test-ch-boot"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "holder-boot-extract.h"
#include "holder-backend.h"
#include "holder-test-util.h"

/* The images are real ext4 filesystems and partition tables built with
 * mkfs.ext4 -d and sfdisk; the "kernels" are small fake files. */

static char *
find_tool (const char *name)
{
  /* mkfs.ext4 and sfdisk live in /usr/sbin, often not on a user's PATH. */
  static const char *const extra[] = { "/usr/sbin", "/sbin" };
  char *path = g_find_program_in_path (name);

  for (guint i = 0; path == NULL && i < G_N_ELEMENTS (extra); i++)
    {
      char *candidate = g_build_filename (extra[i], name, NULL);

      if (g_file_test (candidate, G_FILE_TEST_IS_EXECUTABLE))
        path = candidate;
      else
        g_free (candidate);
    }
  return path;
}

static gboolean
skip_without_tools (void)
{
  static const char *const tools[] = { "mkfs.ext4", "sfdisk" };

  for (guint i = 0; i < G_N_ELEMENTS (tools); i++)
    {
      g_autofree char *path = find_tool (tools[i]);

      if (path == NULL)
        {
          g_autofree char *reason = g_strdup_printf ("%s is not installed (e2fsprogs, fdisk)",
                                                     tools[i]);
          g_test_skip (reason);
          return TRUE;
        }
    }
  return FALSE;
}

static void
run_tool (const char *stdin_text,
          const char *tool,
          ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, find_tool (tool));
  g_assert_nonnull (argv->pdata[0]);
  va_start (ap, tool);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  proc = g_subprocess_newv ((const char * const *) argv->pdata,
                            G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                            | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, stdin_text, NULL, &out, &err, &error);
  g_assert_no_error (error);
  if (!g_subprocess_get_successful (proc))
    g_error ("%s failed: %s%s", tool, out, err);
}

/* Entries are "path=contents" for files, "path->target" for symlinks. */
static char *
make_tree (const char        *tmpdir,
           const char *const *entries)
{
  char *root = g_build_filename (tmpdir, "tree", NULL);
  g_autofree char *boot = g_build_filename (root, "boot", NULL);

  g_assert_cmpint (g_mkdir_with_parents (boot, 0755), ==, 0);
  for (guint i = 0; entries[i] != NULL; i++)
    {
      const char *link = strstr (entries[i], "->");
      const char *eq = strchr (entries[i], '=');
      const char *sep = link != NULL ? link : eq;
      g_autofree char *name = g_strndup (entries[i], sep - entries[i]);
      g_autofree char *path = g_build_filename (root, name, NULL);
      g_autofree char *parent = g_path_get_dirname (path);

      g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
      if (link != NULL)
        g_assert_cmpint (symlink (link + 2, path), ==, 0);
      else
        g_assert_true (g_file_set_contents (path, eq + 1, -1, NULL));
    }
  return root;
}

static void
make_bare_image (const char        *image,
                 const char        *tmpdir,
                 const char *const *entries)
{
  g_autofree char *tree = make_tree (tmpdir, entries);

  run_tool (NULL, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-d", tree, image, "32M", NULL);
  holder_test_remove_tree (tree);
}

/* A 64 MiB image with the partition table of the sfdisk script @table and
 * up to two ext4 filesystems at the given byte offsets. */
static void
make_partitioned_image (const char        *image,
                        const char        *tmpdir,
                        const char        *table,
                        guint64            offset1,
                        const char *const *entries1,
                        guint64            offset2,
                        const char *const *entries2)
{
  int fd = g_open (image, O_WRONLY | O_CREAT | O_TRUNC, 0644);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (ftruncate (fd, 64 * 1024 * 1024), ==, 0);
  g_assert_cmpint (close (fd), ==, 0);
  run_tool (table, "sfdisk", "-q", "--no-reread", "--no-tell-kernel", image, NULL);

  for (int i = 0; i < 2; i++)
    {
      const char *const *entries = i == 0 ? entries1 : entries2;
      guint64 offset = i == 0 ? offset1 : offset2;
      g_autofree char *tree = NULL;
      g_autofree char *ext_opts = NULL;

      if (entries == NULL)
        continue;
      tree = make_tree (tmpdir, entries);
      ext_opts = g_strdup_printf ("offset=%" G_GUINT64_FORMAT ",nodiscard", offset);
      run_tool (NULL, "mkfs.ext4", "-q", "-F", "-E", ext_opts, "-d", tree, image, "16M", NULL);
      holder_test_remove_tree (tree);
    }
}

static void
assert_file_equals (const char *path,
                    const char *expected,
                    gsize       expected_len)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (contents, len, expected, expected_len);
}

static void
assert_no_temp_files (const char *tmpdir)
{
  g_autoptr(GDir) dir = g_dir_open (tmpdir, 0, NULL);
  const char *name;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    g_assert_null (strstr (name, ".tmp-"));
}

static char *
make_tmpdir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("test-ch-boot-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static const char *const versioned[] = {
  "boot/vmlinuz-6.1.0-9-amd64=KERNEL-9",
  "boot/initrd.img-6.1.0-9-amd64=INITRD-9",
  "boot/vmlinuz-6.1.0-10-amd64=KERNEL-10",
  "boot/initrd.img-6.1.0-10-amd64=INITRD-10",
  "etc/hostname=guest",
  NULL
};

static void
test_bare_versioned (void)
{
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *kernel_cache = NULL;
  g_autofree char *initrd_cache = NULL;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_bare_image (image, tmpdir, versioned);

  files = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  g_assert_nonnull (files);
  kernel_cache = g_strconcat (image, ".vmlinux", NULL);
  initrd_cache = g_strconcat (image, ".initrd", NULL);
  g_assert_cmpstr (files->kernel_path, ==, kernel_cache);
  g_assert_cmpstr (files->initramfs_path, ==, initrd_cache);
  /* Version order, not byte order: -10 is newer than -9. */
  assert_file_equals (files->kernel_path, "KERNEL-10", 9);
  assert_file_equals (files->initramfs_path, "INITRD-10", 9);
  assert_no_temp_files (tmpdir);
  holder_test_remove_tree (tmpdir);
}

static void
test_unversioned_wins (void)
{
  static const char *const entries[] = {
    "boot/vmlinuz-6.1.0-9-amd64=KERNEL-9",
    "boot/initrd.img-6.1.0-9-amd64=INITRD-9",
    "boot/vmlinuz-6.1.0-10-amd64=KERNEL-10",
    "boot/initrd.img-6.1.0-10-amd64=INITRD-10",
    "boot/vmlinuz->vmlinuz-6.1.0-9-amd64",
    "boot/initrd.img->initrd.img-6.1.0-9-amd64",
    NULL
  };
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_bare_image (image, tmpdir, entries);

  files = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  assert_file_equals (files->kernel_path, "KERNEL-9", 8);
  assert_file_equals (files->initramfs_path, "INITRD-9", 8);
  assert_no_temp_files (tmpdir);
  holder_test_remove_tree (tmpdir);
}

/* Debian's root-level links: /vmlinuz relative, /initrd.img absolute; the
 * absolute one must resolve inside the image, not on the host. */
static void
test_root_symlinks (void)
{
  static const char *const entries[] = {
    "boot/vmlinuz-6.1.0-9-amd64=KERNEL-9",
    "boot/initrd.img-6.1.0-9-amd64=INITRD-9",
    "boot/vmlinuz-6.1.0-10-amd64=KERNEL-10",
    "boot/initrd.img-6.1.0-10-amd64=INITRD-10",
    "vmlinuz->boot/vmlinuz-6.1.0-9-amd64",
    "initrd.img->/boot/initrd.img-6.1.0-9-amd64",
    NULL
  };
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_bare_image (image, tmpdir, entries);

  files = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  assert_file_equals (files->kernel_path, "KERNEL-9", 8);
  assert_file_equals (files->initramfs_path, "INITRD-9", 8);
  holder_test_remove_tree (tmpdir);
}

static void
test_gpt (void)
{
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_partitioned_image (image, tmpdir, "label: gpt\nstart=2048, type=linux\n",
                          1048576, versioned, 0, NULL);

  files = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  assert_file_equals (files->kernel_path, "KERNEL-10", 9);
  assert_file_equals (files->initramfs_path, "INITRD-10", 9);
  assert_no_temp_files (tmpdir);
  holder_test_remove_tree (tmpdir);
}

/* Partition 1 is a root filesystem whose /boot is a mount point (empty,
 * /vmlinuz dangling); partition 2 is the boot partition, files at its top. */
static void
test_gpt_boot_partition (void)
{
  static const char *const root_fs[] = {
    "etc/hostname=guest",
    "vmlinuz->boot/vmlinuz-6.1.0-10-amd64",
    NULL
  };
  static const char *const boot_fs[] = {
    "vmlinuz-6.1.0-9-amd64=KERNEL-9",
    "vmlinuz-6.1.0-10-amd64=KERNEL-10",
    "initrd.img-6.1.0-10-amd64=INITRD-10",
    NULL
  };
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_partitioned_image (image, tmpdir,
                          "label: gpt\n"
                          "start=2048, size=32768, type=linux\n"
                          "start=34816, size=32768, type=linux\n",
                          1048576, root_fs, 34816 * 512, boot_fs);

  files = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  assert_file_equals (files->kernel_path, "KERNEL-10", 9);
  assert_file_equals (files->initramfs_path, "INITRD-10", 9);
  holder_test_remove_tree (tmpdir);
}

static void
test_mbr (void)
{
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_partitioned_image (image, tmpdir, "label: dos\nstart=2048, type=83\n",
                          1048576, versioned, 0, NULL);

  files = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  assert_file_equals (files->kernel_path, "KERNEL-10", 9);
  assert_file_equals (files->initramfs_path, "INITRD-10", 9);
  holder_test_remove_tree (tmpdir);
}

/* Bytes that do not compress away, larger than one read chunk. */
static GBytes *
make_payload (const char *header,
              gsize       size)
{
  guint8 *data = g_malloc (size);
  guint32 x = 2463534242u;

  for (gsize i = 0; i < size; i++)
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      data[i] = (guint8) x;
    }
  memcpy (data, header, strlen (header));
  return g_bytes_new_take (data, size);
}

static GBytes *
gzip_bytes (GBytes *plain,
            gsize   keep)
{
  g_autoptr(GZlibCompressor) gz = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
  g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();
  g_autoptr(GOutputStream) out = g_converter_output_stream_new (mem, G_CONVERTER (gz));
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) all = NULL;

  g_output_stream_write_bytes (out, plain, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (out, NULL, &error);
  g_assert_no_error (error);
  all = g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
  return g_bytes_new_from_bytes (all, 0, MIN (keep, g_bytes_get_size (all)));
}

/* mkfs.ext4 -d copies files, so binary kernels go through real files. */
static void
make_image_with_kernel (const char *image,
                        const char *tmpdir,
                        GBytes     *kernel)
{
  g_autofree char *tree = g_build_filename (tmpdir, "tree", NULL);
  g_autofree char *boot = g_build_filename (tree, "boot", NULL);
  g_autofree char *path = g_build_filename (boot, "vmlinuz-6.1.0-10-arm64", NULL);
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (kernel, &len);

  g_assert_cmpint (g_mkdir_with_parents (boot, 0755), ==, 0);
  g_file_set_contents (path, data, len, &error);
  g_assert_no_error (error);
  run_tool (NULL, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-d", tree, image, "32M", NULL);
  holder_test_remove_tree (tree);
}

static void
test_gzip_kernel (void)
{
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autoptr(GBytes) plain = make_payload ("\x7f" "ELF", 3 * 1024 * 1024 + 17);
  g_autoptr(GBytes) packed = gzip_bytes (plain, G_MAXSIZE);
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (plain, &len);

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  g_assert_cmpuint (g_bytes_get_size (packed), >, 1024 * 1024);
  make_image_with_kernel (image, tmpdir, packed);

  files = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  /* A kernel without an initrd is allowed. */
  g_assert_null (files->initramfs_path);
  assert_file_equals (files->kernel_path, data, len);
  assert_no_temp_files (tmpdir);
  holder_test_remove_tree (tmpdir);
}

static void
test_plain_kernel_verbatim (void)
{
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  /* A bzImage starts "MZ" and is kept as it is, over several chunks. */
  g_autoptr(GBytes) bzimage = make_payload ("MZ", 2 * 1024 * 1024 + 5);
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (bzimage, &len);

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_image_with_kernel (image, tmpdir, bzimage);

  files = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  assert_file_equals (files->kernel_path, data, len);
  holder_test_remove_tree (tmpdir);
}

static void
test_truncated_gzip (void)
{
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autofree char *kernel_cache = NULL;
  g_autoptr(GBytes) plain = make_payload ("\x7f" "ELF", 256 * 1024);
  g_autoptr(GBytes) packed = gzip_bytes (plain, 100 * 1024);
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_image_with_kernel (image, tmpdir, packed);

  files = holder_boot_extract (image, &error);
  g_assert_null (files);
  g_assert_nonnull (error);
  g_test_message ("error: %s", error->message);
  g_assert_true (g_str_has_prefix (error->message, "extract kernel from "));
  g_assert_nonnull (strstr (error->message, ": decompress /boot/vmlinuz-6.1.0-10-arm64: "));
  kernel_cache = g_strconcat (image, ".vmlinux", NULL);
  g_assert_false (g_file_test (kernel_cache, G_FILE_TEST_EXISTS));
  assert_no_temp_files (tmpdir);
  holder_test_remove_tree (tmpdir);
}

static void
test_no_kernel (void)
{
  static const char *const entries[] = {
    "boot/config-6.1.0-10-amd64=CONFIG",
    "boot/initrd.img-6.1.0-10-amd64=INITRD-10",
    NULL
  };
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autofree char *prefix = NULL;
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_partitioned_image (image, tmpdir, "label: gpt\nstart=2048, type=linux\n",
                          1048576, entries, 0, NULL);

  files = holder_boot_extract (image, &error);
  g_assert_null (files);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_test_message ("error: %s", error->message);
  prefix = g_strdup_printf ("extract kernel from %s: no ext2/3/4 filesystem with a kernel in /boot",
                            image);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_nonnull (strstr (error->message, "partition 1: ext4 without a kernel"));
  assert_no_temp_files (tmpdir);
  holder_test_remove_tree (tmpdir);
}

static void
test_not_a_filesystem (void)
{
  g_autofree char *tmpdir = make_tmpdir ();
  g_autofree char *image = g_build_filename (tmpdir, "disk.raw", NULL);
  g_autofree char *prefix = NULL;
  g_autoptr(GBytes) noise = make_payload ("", 4 * 1024 * 1024);
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;

  g_file_set_contents (image, g_bytes_get_data (noise, NULL), g_bytes_get_size (noise), &error);
  g_assert_no_error (error);

  files = holder_boot_extract (image, &error);
  g_assert_null (files);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_test_message ("error: %s", error->message);
  prefix = g_strdup_printf ("extract kernel from %s: no ext2/3/4 filesystem with a kernel in /boot",
                            image);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_nonnull (strstr (error->message, "whole image: no filesystem"));
  holder_test_remove_tree (tmpdir);
}

static void
test_missing_disk (void)
{
  g_autofree char *tmpdir = make_tmpdir ();
  g_autofree char *image = g_build_filename (tmpdir, "absent.raw", NULL);
  g_autoptr(HolderBootFiles) files = NULL;
  g_autoptr(GError) error = NULL;

  files = holder_boot_extract (image, &error);
  g_assert_null (files);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_true (g_str_has_prefix (error->message, "extract kernel from "));
  holder_test_remove_tree (tmpdir);
}

static void
set_mtime (const char *path,
           gint64      sec,
           long        nsec)
{
  struct timespec times[2] = { { sec, nsec }, { sec, nsec } };

  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
}

static void
stat_path (const char  *path,
           struct stat *st)
{
  g_assert_cmpint (g_stat (path, st), ==, 0);
}

static void
test_cache_reuse (void)
{
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autoptr(HolderBootFiles) first = NULL;
  g_autoptr(HolderBootFiles) second = NULL;
  g_autoptr(HolderBootFiles) third = NULL;
  g_autoptr(GError) error = NULL;
  struct stat k1, i1, k2, i2, k3, i3;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_bare_image (image, tmpdir, versioned);
  /* The disk was made a while ago: the timestamps' granularity must not
   * decide whether the cache is newer. */
  set_mtime (image, g_get_real_time () / G_USEC_PER_SEC - 100, 0);

  first = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  stat_path (first->kernel_path, &k1);
  stat_path (first->initramfs_path, &i1);

  second = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (second->kernel_path, ==, first->kernel_path);
  g_assert_cmpstr (second->initramfs_path, ==, first->initramfs_path);
  stat_path (second->kernel_path, &k2);
  stat_path (second->initramfs_path, &i2);
  /* A rewrite goes through a rename and so a new inode. */
  g_assert_cmpuint (k2.st_ino, ==, k1.st_ino);
  g_assert_cmpuint (i2.st_ino, ==, i1.st_ino);
  g_assert_cmpint (k2.st_mtim.tv_sec, ==, k1.st_mtim.tv_sec);
  g_assert_cmpint (k2.st_mtim.tv_nsec, ==, k1.st_mtim.tv_nsec);

  /* The disk changed after the extraction: the cache is stale. */
  set_mtime (image, k1.st_mtim.tv_sec + 1, k1.st_mtim.tv_nsec);
  third = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  stat_path (third->kernel_path, &k3);
  stat_path (third->initramfs_path, &i3);
  g_assert_cmpuint (k3.st_ino, !=, k1.st_ino);
  g_assert_cmpuint (i3.st_ino, !=, i1.st_ino);
  assert_file_equals (third->kernel_path, "KERNEL-10", 9);
  assert_no_temp_files (tmpdir);
  holder_test_remove_tree (tmpdir);
}

/* A new image without an initrd must not be paired with the old one. */
static void
test_stale_initrd_removed (void)
{
  static const char *const kernel_only[] = {
    "boot/vmlinuz-6.1.0-11-amd64=KERNEL-11",
    NULL
  };
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  g_autoptr(HolderBootFiles) first = NULL;
  g_autoptr(HolderBootFiles) second = NULL;
  g_autoptr(HolderBootFiles) third = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *initrd_cache = NULL;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  initrd_cache = g_strconcat (image, ".initrd", NULL);
  make_bare_image (image, tmpdir, versioned);
  set_mtime (image, g_get_real_time () / G_USEC_PER_SEC - 100, 0);
  first = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first->initramfs_path, ==, initrd_cache);

  make_bare_image (image, tmpdir, kernel_only);
  set_mtime (image, g_get_real_time () / G_USEC_PER_SEC + 100, 0);
  second = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  g_assert_null (second->initramfs_path);
  assert_file_equals (second->kernel_path, "KERNEL-11", 9);
  g_assert_false (g_file_test (initrd_cache, G_FILE_TEST_EXISTS));

  /* And the cache of a kernel-only image is reused as such. */
  set_mtime (image, g_get_real_time () / G_USEC_PER_SEC - 100, 0);
  third = holder_boot_extract (image, &error);
  g_assert_no_error (error);
  g_assert_null (third->initramfs_path);
  assert_file_equals (third->kernel_path, "KERNEL-11", 9);
  holder_test_remove_tree (tmpdir);
}

typedef struct {
  GThread *thread;
  HolderBootFiles *files;
  GError *error;
  gboolean done;
} AsyncResult;

static void
on_extracted (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  AsyncResult *r = user_data;

  r->thread = g_thread_self ();
  r->files = holder_boot_extract_finish (result, &r->error);
  r->done = TRUE;
}

static void
test_async (void)
{
  enum { N = 4 };
  g_autofree char *tmpdir = NULL;
  g_autofree char *image = NULL;
  AsyncResult results[N] = { { 0 } };
  gboolean all_done = FALSE;

  if (skip_without_tools ())
    return;
  tmpdir = make_tmpdir ();
  image = g_build_filename (tmpdir, "disk.raw", NULL);
  make_bare_image (image, tmpdir, versioned);

  /* Concurrent extractions of one disk race on the same cache names; each
   * renames a complete file into place. */
  for (int i = 0; i < N; i++)
    holder_boot_extract_async (image, NULL, on_extracted, &results[i]);
  while (!all_done)
    {
      g_main_context_iteration (NULL, TRUE);
      all_done = TRUE;
      for (int i = 0; i < N; i++)
        all_done = all_done && results[i].done;
    }

  for (int i = 0; i < N; i++)
    {
      g_assert_no_error (results[i].error);
      g_assert_true (results[i].thread == g_thread_self ());
      assert_file_equals (results[i].files->kernel_path, "KERNEL-10", 9);
      assert_file_equals (results[i].files->initramfs_path, "INITRD-10", 9);
      holder_boot_files_free (results[i].files);
    }
  assert_no_temp_files (tmpdir);
  holder_test_remove_tree (tmpdir);
}

static void
test_async_cancelled (void)
{
  g_autofree char *tmpdir = make_tmpdir ();
  g_autofree char *image = g_build_filename (tmpdir, "disk.raw", NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  AsyncResult result = { 0 };

  g_cancellable_cancel (cancellable);
  holder_boot_extract_async (image, cancellable, on_extracted, &result);
  while (!result.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (result.files);
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&result.error);
  holder_test_remove_tree (tmpdir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ch-boot/bare-versioned", test_bare_versioned);
  g_test_add_func ("/ch-boot/unversioned-wins", test_unversioned_wins);
  g_test_add_func ("/ch-boot/root-symlinks", test_root_symlinks);
  g_test_add_func ("/ch-boot/gpt", test_gpt);
  g_test_add_func ("/ch-boot/gpt-boot-partition", test_gpt_boot_partition);
  g_test_add_func ("/ch-boot/mbr", test_mbr);
  g_test_add_func ("/ch-boot/gzip-kernel", test_gzip_kernel);
  g_test_add_func ("/ch-boot/plain-kernel-verbatim", test_plain_kernel_verbatim);
  g_test_add_func ("/ch-boot/truncated-gzip", test_truncated_gzip);
  g_test_add_func ("/ch-boot/no-kernel", test_no_kernel);
  g_test_add_func ("/ch-boot/not-a-filesystem", test_not_a_filesystem);
  g_test_add_func ("/ch-boot/missing-disk", test_missing_disk);
  g_test_add_func ("/ch-boot/cache-reuse", test_cache_reuse);
  g_test_add_func ("/ch-boot/stale-initrd-removed", test_stale_initrd_removed);
  g_test_add_func ("/ch-boot/async", test_async);
  g_test_add_func ("/ch-boot/async-cancelled", test_async_cancelled);

  return g_test_run ();
}
