/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "holder-boot-extract"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <blkid.h>
#include <ext2fs/ext2fs.h>
#include <ext2fs/ext2_err.h>
#include <gio/gio.h>
#include <gio/gunixoutputstream.h>
#include <glib/gstdio.h>

#include "holder-boot-extract.h"
#include "holder-backend.h"

#define SECTOR_SIZE 512
#define CHUNK_SIZE (1024 * 1024)

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (blkid_probe, blkid_free_probe, NULL)

static void
filsys_close (ext2_filsys fs)
{
  ext2fs_close_free (&fs);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (ext2_filsys, filsys_close, NULL)

static void
file_close (ext2_file_t file)
{
  ext2fs_file_close (file);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (ext2_file_t, file_close, NULL)

void
holder_boot_files_free (HolderBootFiles *files)
{
  if (files == NULL)
    return;
  g_free (files->kernel_path);
  g_free (files->initramfs_path);
  g_free (files);
}

/* libext2fs reports errno values and its own com_err codes. Its message
 * table is read directly: error_message() lives in libcom_err, which the
 * ext2fs pkg-config file does not link, and its fallback buffer is static. */
static const char *
ext2_error_text (errcode_t code)
{
  const struct error_table *table = &et_ext2_error_table;

  if (code > 0 && code < 4096)
    return g_strerror ((int) code);
  if (code >= table->base && code < table->base + table->n_msgs)
    return table->msgs[code - table->base];
  return "unknown libext2fs error";
}

/* dpkg's version order: digit runs compare numerically, so 6.1.0-10 is
 * newer than 6.1.0-9; letters sort before other characters, '~' first. */
static int
version_char_order (int c)
{
  if (g_ascii_isdigit (c))
    return 0;
  if (g_ascii_isalpha (c))
    return c;
  if (c == '~')
    return -1;
  if (c)
    return c + 256;
  return 0;
}

static int
version_compare (const char *a,
                 const char *b)
{
  while (*a || *b)
    {
      int first_diff = 0;

      while ((*a && !g_ascii_isdigit (*a)) || (*b && !g_ascii_isdigit (*b)))
        {
          int ac = version_char_order (*a);
          int bc = version_char_order (*b);

          if (ac != bc)
            return ac - bc;
          a++;
          b++;
        }
      while (*a == '0')
        a++;
      while (*b == '0')
        b++;
      while (g_ascii_isdigit (*a) && g_ascii_isdigit (*b))
        {
          if (!first_diff)
            first_diff = *a - *b;
          a++;
          b++;
        }
      if (g_ascii_isdigit (*a))
        return 1;
      if (g_ascii_isdigit (*b))
        return -1;
      if (first_diff)
        return first_diff;
    }
  return 0;
}

/* The inode of a regular file at @path (relative to the filesystem root),
 * following symlinks inside the image, or 0. */
static ext2_ino_t
lookup_regular (ext2_filsys  fs,
                const char  *path)
{
  ext2_ino_t ino = 0;
  struct ext2_inode inode;

  if (ext2fs_namei_follow (fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino) != 0)
    return 0;
  if (ext2fs_read_inode (fs, ino, &inode) != 0 || !LINUX_S_ISREG (inode.i_mode))
    return 0;
  return ino;
}

typedef struct {
  char *kernel;  /* path inside the filesystem, for reading and messages */
  char *initrd;  /* NULL when there is none */
} BootChoice;

static void
boot_choice_clear (BootChoice *choice)
{
  g_clear_pointer (&choice->kernel, g_free);
  g_clear_pointer (&choice->initrd, g_free);
}

static gboolean
choose_unversioned (ext2_filsys  fs,
                    const char  *dir,
                    BootChoice  *choice)
{
  g_autofree char *kernel = g_build_filename (dir, "vmlinuz", NULL);
  g_autofree char *initrd = g_build_filename (dir, "initrd.img", NULL);

  if (lookup_regular (fs, kernel) == 0)
    return FALSE;
  choice->kernel = g_steal_pointer (&kernel);
  if (lookup_regular (fs, initrd) != 0)
    choice->initrd = g_steal_pointer (&initrd);
  return TRUE;
}

static int
collect_versions (ext2_ino_t             dir,
                  int                    entry,
                  struct ext2_dir_entry *dirent,
                  int                    offset,
                  int                    blocksize,
                  char                  *buf,
                  void                  *user_data)
{
  GPtrArray *versions = user_data;
  int len = ext2fs_dirent_name_len (dirent);
  static const char prefix[] = "vmlinuz-";

  if (len > (int) strlen (prefix) && strncmp (dirent->name, prefix, strlen (prefix)) == 0)
    g_ptr_array_add (versions, g_strndup (dirent->name + strlen (prefix),
                                          len - strlen (prefix)));
  return 0;
}

static int
compare_versions_newest_first (gconstpointer a,
                               gconstpointer b)
{
  return version_compare (*(const char * const *) b, *(const char * const *) a);
}

/* The newest vmlinuz-<version> that has an initrd.img-<version> (or
 * initramfs-<version>.img); when no kernel has one, the newest kernel. */
static gboolean
choose_versioned (ext2_filsys  fs,
                  const char  *dir,
                  BootChoice  *choice)
{
  g_autoptr(GPtrArray) versions = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *lonely = NULL;
  ext2_ino_t dir_ino = 0;

  if (ext2fs_namei_follow (fs, EXT2_ROOT_INO, EXT2_ROOT_INO, dir, &dir_ino) != 0
      || ext2fs_check_directory (fs, dir_ino) != 0
      || ext2fs_dir_iterate2 (fs, dir_ino, 0, NULL, collect_versions, versions) != 0)
    return FALSE;
  g_ptr_array_sort (versions, compare_versions_newest_first);

  for (guint i = 0; i < versions->len; i++)
    {
      const char *version = versions->pdata[i];
      g_autofree char *name = g_strconcat ("vmlinuz-", version, NULL);
      g_autofree char *kernel = g_build_filename (dir, name, NULL);
      g_autofree char *initrd_name = g_strconcat ("initrd.img-", version, NULL);
      g_autofree char *initramfs_name = g_strconcat ("initramfs-", version, ".img", NULL);
      g_autofree char *initrd = g_build_filename (dir, initrd_name, NULL);
      g_autofree char *initramfs = g_build_filename (dir, initramfs_name, NULL);

      if (lookup_regular (fs, kernel) == 0)
        continue;
      if (lookup_regular (fs, initrd) != 0 || lookup_regular (fs, initramfs) != 0)
        {
          choice->kernel = g_steal_pointer (&kernel);
          choice->initrd = lookup_regular (fs, initrd) != 0 ? g_steal_pointer (&initrd)
                                                            : g_steal_pointer (&initramfs);
          return TRUE;
        }
      if (lonely == NULL)
        lonely = g_steal_pointer (&kernel);
    }
  if (lonely == NULL)
    return FALSE;
  choice->kernel = g_steal_pointer (&lonely);
  return TRUE;
}

/* A root filesystem keeps the kernel in /boot (and may carry /vmlinuz
 * symlinks at its top); a separate boot partition has it at its root. */
static gboolean
choose_kernel (ext2_filsys  fs,
               BootChoice  *choice)
{
  return choose_unversioned (fs, "/boot", choice)
         || choose_unversioned (fs, "/", choice)
         || choose_versioned (fs, "/boot", choice)
         || choose_versioned (fs, "/", choice);
}

/* The filesystem type blkid sees in a byte range of the image, or NULL. */
static char *
probe_fs_type (int     fd,
               guint64 offset,
               guint64 size)
{
  g_auto(blkid_probe) pr = blkid_new_probe ();
  const char *type = NULL;

  if (pr == NULL
      || blkid_probe_set_device (pr, fd, (blkid_loff_t) offset, (blkid_loff_t) size) != 0)
    return NULL;
  blkid_probe_enable_superblocks (pr, 1);
  blkid_probe_set_superblocks_flags (pr, BLKID_SUBLKS_TYPE);
  if (blkid_do_safeprobe (pr) != 0
      || blkid_probe_lookup_value (pr, "TYPE", &type, NULL) != 0)
    return NULL;
  return g_strdup (type);
}

static gboolean
is_ext_type (const char *type)
{
  return g_strcmp0 (type, "ext2") == 0 || g_strcmp0 (type, "ext3") == 0
         || g_strcmp0 (type, "ext4") == 0 || g_strcmp0 (type, "ext4dev") == 0;
}

typedef struct {
  guint64 offset;
  guint64 size;   /* 0: to the end of the image */
  char *label;    /* "partition 2" or "whole image", for messages */
} Volume;

static void
volume_free (Volume *volume)
{
  g_free (volume->label);
  g_free (volume);
}

/* The partitions of a GPT or MBR image in table order, or the whole image
 * when there is no partition table. */
static GPtrArray *
list_volumes (int          fd,
              const char  *disk_path,
              GError     **error)
{
  g_autoptr(GPtrArray) volumes = g_ptr_array_new_with_free_func ((GDestroyNotify) volume_free);
  g_auto(blkid_probe) pr = blkid_new_probe ();
  blkid_partlist parts;
  int n = 0;

  if (pr == NULL || blkid_probe_set_device (pr, fd, 0, 0) != 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "probe %s: libblkid cannot read it", disk_path);
      return NULL;
    }
  blkid_probe_enable_superblocks (pr, 0);
  blkid_probe_enable_partitions (pr, 1);
  parts = blkid_probe_get_partitions (pr);
  if (parts != NULL)
    n = blkid_partlist_numof_partitions (parts);

  for (int i = 0; i < n; i++)
    {
      blkid_partition part = blkid_partlist_get_partition (parts, i);
      Volume *volume;

      if (part == NULL || blkid_partition_is_extended (part))
        continue;
      volume = g_new0 (Volume, 1);
      volume->offset = (guint64) blkid_partition_get_start (part) * SECTOR_SIZE;
      volume->size = (guint64) blkid_partition_get_size (part) * SECTOR_SIZE;
      volume->label = g_strdup_printf ("partition %d", blkid_partition_get_partno (part));
      g_ptr_array_add (volumes, volume);
    }
  if (volumes->len == 0)
    {
      Volume *volume = g_new0 (Volume, 1);

      volume->label = g_strdup ("whole image");
      g_ptr_array_add (volumes, volume);
    }
  return g_steal_pointer (&volumes);
}

/* Opens the first ext2/3/4 volume that has a kernel, read-only and without
 * replaying its journal, and says which files to take. */
static ext2_filsys
find_boot_fs (int          fd,
              const char  *disk_path,
              BootChoice  *choice,
              GError     **error)
{
  g_autoptr(GPtrArray) volumes = list_volumes (fd, disk_path, error);
  g_autoptr(GString) seen = g_string_new (NULL);

  if (volumes == NULL)
    return NULL;

  for (guint i = 0; i < volumes->len; i++)
    {
      const Volume *volume = volumes->pdata[i];
      g_autofree char *type = probe_fs_type (fd, volume->offset, volume->size);
      g_autofree char *options = NULL;
      g_auto(ext2_filsys) fs = NULL;
      errcode_t err;

      if (seen->len > 0)
        g_string_append (seen, ", ");
      g_string_append_printf (seen, "%s: ", volume->label);
      if (!is_ext_type (type))
        {
          g_string_append (seen, type != NULL ? type : "no filesystem");
          continue;
        }

      /* unix_io reads the filesystem at a byte offset inside the image. */
      options = g_strdup_printf ("offset=%" G_GUINT64_FORMAT, volume->offset);
      err = ext2fs_open2 (disk_path, options, EXT2_FLAG_64BITS, 0, 0,
                          unix_io_manager, &fs);
      if (err != 0)
        {
          g_string_append_printf (seen, "%s that libext2fs cannot open (%s)",
                                  type, ext2_error_text (err));
          continue;
        }
      if (choose_kernel (fs, choice))
        {
          g_debug ("%s: kernel %s, initramfs %s in %s", disk_path, choice->kernel,
                   choice->initrd != NULL ? choice->initrd : "(none)", volume->label);
          return g_steal_pointer (&fs);
        }
      g_string_append_printf (seen, "%s without a kernel", type);
    }

  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
               "no ext2/3/4 filesystem with a kernel in /boot (%s)", seen->str);
  return NULL;
}

/* Streams one file out of the image into @dest through "<dest>.tmp-XXXXXX"
 * and a rename, so a reader (or a concurrent extraction of the same disk)
 * never sees a torn file. A gzip kernel is decompressed on the way. */
static gboolean
copy_out (ext2_filsys    fs,
          const char    *src,
          const char    *dest,
          gboolean       gunzip,
          GCancellable  *cancellable,
          GError       **error)
{
  g_autofree char *tmp_path = g_strconcat (dest, ".tmp-XXXXXX", NULL);
  g_autofree guint8 *buf = g_malloc (CHUNK_SIZE);
  g_autoptr(GOutputStream) out = NULL;
  g_auto(ext2_file_t) file = NULL;
  GError *local_error = NULL;
  ext2_ino_t ino;
  unsigned int got = 0;
  guint64 total = 0;
  errcode_t err;
  int fd;

  ino = lookup_regular (fs, src);
  if (ino == 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "read %s: no longer a regular file", src);
      return FALSE;
    }
  err = ext2fs_file_open (fs, ino, 0, &file);
  if (err == 0)
    err = ext2fs_file_read (file, buf, CHUNK_SIZE, &got);
  if (err != 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "read %s: %s", src, ext2_error_text (err));
      return FALSE;
    }
  if (got == 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "read %s: the file is empty", src);
      return FALSE;
    }

  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "create %s: %s", tmp_path, g_strerror (saved_errno));
      return FALSE;
    }
  out = g_unix_output_stream_new (fd, TRUE);
  if (gunzip && got >= 2 && buf[0] == 0x1f && buf[1] == 0x8b)
    {
      g_autoptr(GZlibDecompressor) gz =
        g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
      GOutputStream *plain = out;

      out = g_converter_output_stream_new (plain, G_CONVERTER (gz));
      g_object_unref (plain);
    }

  while (got > 0)
    {
      gsize written = 0;

      if (!g_output_stream_write_all (out, buf, got, &written, cancellable, &local_error))
        goto fail_write;
      total += got;
      err = ext2fs_file_read (file, buf, CHUNK_SIZE, &got);
      if (err != 0)
        {
          g_set_error (&local_error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                       "read %s at byte %" G_GUINT64_FORMAT ": %s",
                       src, total, ext2_error_text (err));
          goto fail;
        }
    }
  /* Closing flushes the decompressor, which reports a truncated stream. */
  if (!g_output_stream_close (out, cancellable, &local_error))
    goto fail_write;
  if (g_rename (tmp_path, dest) != 0)
    {
      int saved_errno = errno;

      g_set_error (&local_error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "rename %s to %s: %s", tmp_path, dest, g_strerror (saved_errno));
      goto fail;
    }
  return TRUE;

fail_write:
  if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT)
      || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
    g_prefix_error (&local_error, "decompress %s: ", src);
  else
    g_prefix_error (&local_error, "write %s from %s: ", dest, src);
fail:
  g_unlink (tmp_path);
  g_propagate_error (error, local_error);
  return FALSE;
}

static gboolean
mtime_after (const struct stat *a,
             const struct stat *b)
{
  if (a->st_mtim.tv_sec != b->st_mtim.tv_sec)
    return a->st_mtim.tv_sec > b->st_mtim.tv_sec;
  return a->st_mtim.tv_nsec > b->st_mtim.tv_nsec;
}

/* The kernel is written last, so a kernel newer than the disk means a
 * finished extraction; the initrd counts when it is newer too, and an older
 * one is a leftover, which forces a fresh extraction. */
static gboolean
cache_is_fresh (const struct stat *disk_st,
                const char        *kernel_cache,
                const char        *initrd_cache,
                gboolean          *has_initrd)
{
  struct stat st;

  if (g_stat (kernel_cache, &st) != 0 || !S_ISREG (st.st_mode)
      || !mtime_after (&st, disk_st))
    return FALSE;
  if (g_stat (initrd_cache, &st) != 0)
    {
      *has_initrd = FALSE;
      return errno == ENOENT;
    }
  *has_initrd = TRUE;
  return S_ISREG (st.st_mode) && mtime_after (&st, disk_st);
}

static HolderBootFiles *
extract (const char    *disk_path,
         GCancellable  *cancellable,
         GError       **error)
{
  g_autofree char *kernel_cache = g_strconcat (disk_path, ".vmlinux", NULL);
  g_autofree char *initrd_cache = g_strconcat (disk_path, ".initrd", NULL);
  g_autoptr(HolderBootFiles) files = g_new0 (HolderBootFiles, 1);
  g_auto(ext2_filsys) fs = NULL;
  BootChoice choice = { NULL, NULL };
  gboolean has_initrd = FALSE;
  struct stat disk_st;
  int fd;

  if (g_stat (disk_path, &disk_st) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "stat: %s", g_strerror (saved_errno));
      return NULL;
    }
  if (cache_is_fresh (&disk_st, kernel_cache, initrd_cache, &has_initrd))
    {
      g_debug ("%s: reusing the cached kernel", disk_path);
      files->kernel_path = g_steal_pointer (&kernel_cache);
      if (has_initrd)
        files->initramfs_path = g_steal_pointer (&initrd_cache);
      return g_steal_pointer (&files);
    }

  fd = g_open (disk_path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "open: %s", g_strerror (saved_errno));
      return NULL;
    }
  fs = find_boot_fs (fd, disk_path, &choice, error);
  close (fd);
  if (fs == NULL)
    return NULL;

  if (choice.initrd != NULL)
    {
      if (!copy_out (fs, choice.initrd, initrd_cache, FALSE, cancellable, error))
        goto fail;
      files->initramfs_path = g_strdup (initrd_cache);
    }
  else if (g_unlink (initrd_cache) != 0 && errno != ENOENT)
    {
      int saved_errno = errno;

      /* A stale initrd would be paired with the new kernel. */
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                   "remove the stale %s: %s", initrd_cache, g_strerror (saved_errno));
      goto fail;
    }
  if (!copy_out (fs, choice.kernel, kernel_cache, TRUE, cancellable, error))
    goto fail;
  files->kernel_path = g_strdup (kernel_cache);
  boot_choice_clear (&choice);
  return g_steal_pointer (&files);

fail:
  boot_choice_clear (&choice);
  return NULL;
}

HolderBootFiles *
holder_boot_extract (const char  *disk_path,
                        GError     **error)
{
  HolderBootFiles *files;

  g_return_val_if_fail (disk_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  files = extract (disk_path, NULL, error);
  if (files == NULL)
    g_prefix_error (error, "extract kernel from %s: ", disk_path);
  return files;
}

static const char extract_tag = 0;

static void
extract_thread (GTask        *task,
                gpointer      source_object,
                gpointer      task_data,
                GCancellable *cancellable)
{
  const char *disk_path = task_data;
  GError *error = NULL;
  HolderBootFiles *files;

  if (g_task_return_error_if_cancelled (task))
    return;
  files = extract (disk_path, cancellable, &error);
  if (files == NULL)
    {
      g_prefix_error (&error, "extract kernel from %s: ", disk_path);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, files, (GDestroyNotify) holder_boot_files_free);
}

void
holder_boot_extract_async (const char          *disk_path,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (disk_path != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, (gpointer) &extract_tag);
  g_task_set_task_data (task, g_strdup (disk_path), g_free);
  g_task_run_in_thread (task, extract_thread);
}

HolderBootFiles *
holder_boot_extract_finish (GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == &extract_tag, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
