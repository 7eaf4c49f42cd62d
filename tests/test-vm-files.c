/* test-vm-files.c: a VM's files opened as the user a root helper works for
 * (backends/linux/holder-vm-files.c, holder-acting-user.c,
 * holder_store_open_member_folder()). Runs as root with SUDO_UID=4242, an unprivileged uid
 * with no passwd entry, against files in a scratch folder: root-only files
 * are refused with the message, symbolic links at the serial log are not
 * followed, and nothing root-only is read, written or truncated.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "holder.h"
#include "holder-acting-user.h"
#include "holder-vm-files.h"
#include "holder-test-util.h"

#define USER_UID 4242
#define USER_GID 4242
#define NAME "files-1"
#define WAIT_USEC (30 * G_USEC_PER_SEC)

typedef struct {
  char *tmp;          /* 0755, root's */
  char *home;         /* the user's folder */
  char *store;        /* the storage root, the user's */
  char *kernel, *initramfs, *disk, *seed, *fixture;
  char *secret;       /* root's, 0600 */
  char *member_dir;
  char *default_log;
} Fixture;

static void
make_file (const char *path,
           const char *contents,
           uid_t       uid,
           mode_t      mode)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (chown (path, uid, uid), ==, 0);
  g_assert_cmpint (chmod (path, mode), ==, 0);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  if (geteuid () != 0)
    return;
  f->tmp = g_dir_make_tmp ("test-vm-files-XXXXXX", NULL);
  g_assert_nonnull (f->tmp);
  g_assert_cmpint (chmod (f->tmp, 0755), ==, 0);
  f->home = g_build_filename (f->tmp, "home", NULL);
  f->store = g_build_filename (f->home, "store", NULL);
  g_assert_cmpint (g_mkdir (f->home, 0755), ==, 0);
  g_assert_cmpint (chown (f->home, USER_UID, USER_GID), ==, 0);
  g_assert_cmpint (g_mkdir (f->store, 0755), ==, 0);
  g_assert_cmpint (chown (f->store, USER_UID, USER_GID), ==, 0);

  f->kernel = g_build_filename (f->home, "vmlinux", NULL);
  f->initramfs = g_build_filename (f->home, "initrd", NULL);
  f->disk = g_build_filename (f->home, "disk.raw", NULL);
  f->seed = g_build_filename (f->home, "seed.img", NULL);
  f->fixture = g_build_filename (f->home, "fixture.img", NULL);
  f->secret = g_build_filename (f->tmp, "secret", NULL);
  make_file (f->kernel, "kernel", USER_UID, 0644);
  make_file (f->initramfs, "initramfs", USER_UID, 0644);
  make_file (f->disk, "disk", USER_UID, 0644);
  make_file (f->seed, "seed", USER_UID, 0644);
  make_file (f->fixture, "fixture", USER_UID, 0644);
  make_file (f->secret, "secret", 0, 0600);
  f->member_dir = g_build_filename (f->store, "clusters", "files", NAME, NULL);
  f->default_log = g_build_filename (f->member_dir, "serial.log", NULL);

  g_setenv ("SUDO_UID", G_STRINGIFY (USER_UID), TRUE);
  g_setenv ("SUDO_GID", G_STRINGIFY (USER_GID), TRUE);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_unsetenv ("SUDO_UID");
  g_unsetenv ("SUDO_GID");
  if (f->tmp != NULL)
    holder_test_remove_tree (f->tmp);
  g_free (f->tmp);
  g_free (f->home);
  g_free (f->store);
  g_free (f->kernel);
  g_free (f->initramfs);
  g_free (f->disk);
  g_free (f->seed);
  g_free (f->fixture);
  g_free (f->secret);
  g_free (f->member_dir);
  g_free (f->default_log);
}

static gboolean
skip_unless_root (void)
{
  if (geteuid () == 0)
    return FALSE;
  g_test_skip ("needs root (acting for another uid)");
  return TRUE;
}

static HolderMemberSpec *
make_spec (Fixture *f)
{
  HolderMemberSpec *spec = holder_member_spec_new (NAME);
  const char *fixtures[] = { f->fixture, NULL };

  g_free (spec->disk_path);
  spec->disk_path = g_strdup (f->disk);
  g_free (spec->seed_path);
  spec->seed_path = g_strdup (f->seed);
  spec->fixture_paths = g_strdupv ((char **) fixtures);
  spec->kernel_path = g_strdup (f->kernel);
  spec->initramfs_path = g_strdup (f->initramfs);
  spec->cpus = 1;
  spec->memory_bytes = 256 * 1024 * 1024;
  return spec;
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* holder_vm_files_open on a worker thread, as the backends call it. */
static HolderVmFiles *
open_files (Fixture                 *f,
            const HolderMemberSpec  *spec,
            HolderVmFilesFlags       flags,
            GError                 **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_USEC;

  holder_vm_files_open_async (f->store, spec, flags, NULL, store_result, &result);
  while (result == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  return holder_vm_files_open_finish (result, error);
}

static char *
read_fd (int fd)
{
  char buffer[64] = { 0 };

  g_assert_cmpint (pread (fd, buffer, sizeof buffer - 1, 0), >=, 0);
  return g_strdup (buffer);
}

static void
assert_untouched (const char *path,
                  const char *contents,
                  uid_t       uid)
{
  g_autofree char *now = NULL;
  struct stat st;

  g_assert_true (g_file_get_contents (path, &now, NULL, NULL));
  g_assert_cmpstr (now, ==, contents);
  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_uid, ==, uid);
}

/* ------------------------------------------------------------------ tests */

static void
test_opens_as_user (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(HolderVmFiles) files = NULL;
  g_autoptr(GError) error = NULL;
  static const HolderVmFileRole roles[] = {
    HOLDER_VM_FILE_KERNEL, HOLDER_VM_FILE_INITRAMFS, HOLDER_VM_FILE_DISK,
    HOLDER_VM_FILE_SEED, HOLDER_VM_FILE_FIXTURE, HOLDER_VM_FILE_SERIAL_LOG,
  };
  static const int modes[] = { O_RDONLY, O_RDONLY, O_RDWR, O_RDONLY, O_RDONLY, O_WRONLY };
  const char *contents[] = { "kernel", "initramfs", "disk", "seed", "fixture" };
  struct stat st;

  if (skip_unless_root ())
    return;
  spec = make_spec (f);
  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_no_error (error);
  g_assert_true (files->for_user);
  g_assert_cmpuint (files->uid, ==, USER_UID);
  g_assert_cmpuint (files->files->len, ==, G_N_ELEMENTS (roles));
  for (guint i = 0; i < files->files->len; i++)
    {
      const HolderVmFile *file = g_ptr_array_index (files->files, i);
      int fl = fcntl (file->fd, F_GETFL);

      g_assert_cmpint (file->role, ==, roles[i]);
      g_assert_cmpint (fl & O_ACCMODE, ==, modes[i]);
      g_assert_cmpint (fl & O_NONBLOCK, ==, 0);
      g_assert_cmpint (fcntl (file->fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
      if (i < G_N_ELEMENTS (contents))
        {
          g_autofree char *read = read_fd (file->fd);
          g_assert_cmpstr (read, ==, contents[i]);
        }
    }

  /* No serial_log_path: serial.log in the member's folder, the user's. */
  g_assert_cmpstr (files->serial_log_path, ==, f->default_log);
  g_assert_cmpint (lstat (f->default_log, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_uid, ==, USER_UID);
  g_assert_cmpuint (st.st_gid, ==, USER_GID);
  g_assert_cmpint (st.st_mode & 07777, ==, 0644);
}

static void
assert_refused (Fixture          *f,
                HolderMemberSpec *spec,
                const char       *message)
{
  g_autoptr(HolderVmFiles) files = NULL;
  g_autoptr(GError) error = NULL;

  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_null (files);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, message);
  /* Refused before the log was made: an earlier log stays. */
  g_assert_false (g_file_test (f->default_log, G_FILE_TEST_EXISTS));
}

static void
test_root_only_inputs (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autofree char *message = NULL;
  g_autofree char *readable = g_build_filename (f->tmp, "readable.raw", NULL);

  if (skip_unless_root ())
    return;

  spec = make_spec (f);
  g_free (spec->kernel_path);
  spec->kernel_path = g_strdup (f->secret);
  message = g_strdup_printf ("cannot open kernel %s for reading as uid %u: Permission denied",
                             f->secret, USER_UID);
  assert_refused (f, spec, message);
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&spec, holder_member_spec_free);

  spec = make_spec (f);
  g_free (spec->disk_path);
  spec->disk_path = g_strdup (f->secret);
  message = g_strdup_printf ("cannot open disk %s for reading and writing as uid %u: "
                             "Permission denied", f->secret, USER_UID);
  assert_refused (f, spec, message);
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&spec, holder_member_spec_free);

  /* Readable by the user is not enough for the root disk: QEMU writes it. */
  make_file (readable, "root's", 0, 0644);
  spec = make_spec (f);
  g_free (spec->disk_path);
  spec->disk_path = g_strdup (readable);
  message = g_strdup_printf ("cannot open disk %s for reading and writing as uid %u: "
                             "Permission denied", readable, USER_UID);
  assert_refused (f, spec, message);
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&spec, holder_member_spec_free);

  /* A fixture, and a folder where a file belongs. */
  spec = make_spec (f);
  g_free (spec->fixture_paths[0]);
  spec->fixture_paths[0] = g_strdup (f->secret);
  message = g_strdup_printf ("cannot open fixture %s for reading as uid %u: Permission denied",
                             f->secret, USER_UID);
  assert_refused (f, spec, message);
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&spec, holder_member_spec_free);

  spec = make_spec (f);
  g_free (spec->seed_path);
  spec->seed_path = g_strdup (f->home);
  message = g_strdup_printf ("seed %s is a folder, not a regular file or a block device",
                             f->home);
  assert_refused (f, spec, message);

  assert_untouched (f->secret, "secret", 0);
}

/* Without SUDO_UID, root works for itself: nothing switches. */
static void
test_root_for_itself (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(HolderVmFiles) files = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *read = NULL;

  if (skip_unless_root ())
    return;
  g_unsetenv ("SUDO_UID");
  spec = make_spec (f);
  g_free (spec->kernel_path);
  spec->kernel_path = g_strdup (f->secret);
  spec->serial_log_path = g_build_filename (f->tmp, "root.log", NULL);
  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_no_error (error);
  g_assert_false (files->for_user);
  g_assert_cmpuint (files->uid, ==, 0);
  read = read_fd (holder_vm_files_get (files, HOLDER_VM_FILE_KERNEL)->fd);
  g_assert_cmpstr (read, ==, "secret");
  g_clear_pointer (&files, holder_vm_files_unref);

  /* ... and refuses a store another uid owns, for the default log. */
  g_clear_pointer (&spec->serial_log_path, g_free);
  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_null (files);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH);
  g_assert_nonnull (strstr (error->message, "(owner uid 4242, mode "));
}

static void
test_serial_log_root_only (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autofree char *message = NULL;
  /* Long ago, so that a write or a truncation would show. */
  struct timespec times[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
  struct stat st;

  if (skip_unless_root ())
    return;
  g_assert_cmpint (utimensat (AT_FDCWD, f->secret, times, 0), ==, 0);
  spec = make_spec (f);
  spec->serial_log_path = g_strdup (f->secret);
  message = g_strdup_printf ("cannot open serial log %s for writing as uid %u: "
                             "Permission denied", f->secret, USER_UID);
  assert_refused (f, spec, message);
  assert_untouched (f->secret, "secret", 0);
  g_assert_cmpint (stat (f->secret, &st), ==, 0);
  g_assert_cmpint (st.st_mtim.tv_sec, ==, 1000000000);
  g_assert_cmpint (st.st_mode & 07777, ==, 0600);

  /* A new log in a folder the user may not write to is not made either. */
  g_clear_pointer (&spec, holder_member_spec_free);
  g_clear_pointer (&message, g_free);
  spec = make_spec (f);
  spec->serial_log_path = g_build_filename (f->tmp, "new.log", NULL);
  message = g_strdup_printf ("cannot open serial log %s for writing as uid %u: "
                             "Permission denied", spec->serial_log_path, USER_UID);
  assert_refused (f, spec, message);
  g_assert_false (g_file_test (spec->serial_log_path, G_FILE_TEST_EXISTS));
}

static void
test_serial_log_made_by_user (Fixture       *f,
                              gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(HolderVmFiles) files = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  if (skip_unless_root ())
    return;
  spec = make_spec (f);
  spec->serial_log_path = g_build_filename (f->home, "console.log", NULL);
  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (files->serial_log_path, ==, spec->serial_log_path);
  g_assert_cmpint (stat (spec->serial_log_path, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, USER_UID);
  g_assert_cmpuint (st.st_gid, ==, USER_GID);
  /* The member folder got no log of its own. */
  g_assert_false (g_file_test (f->default_log, G_FILE_TEST_EXISTS));
}

static void
test_serial_log_symlink (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autofree char *message = NULL;
  g_autofree char *target = g_build_filename (f->home, "precious", NULL);
  g_autofree char *link = g_build_filename (f->home, "serial.log", NULL);
  g_autofree char *root_link = g_build_filename (f->home, "root.log", NULL);

  if (skip_unless_root ())
    return;
  /* The user could write the target: only O_NOFOLLOW keeps it safe. */
  make_file (target, "untouched", USER_UID, 0644);
  g_assert_cmpint (symlink (target, link), ==, 0);
  spec = make_spec (f);
  spec->serial_log_path = g_strdup (link);
  message = g_strdup_printf ("cannot open serial log %s for writing as uid %u: it is a "
                             "symbolic link, which is not followed (name the file itself)",
                             link, USER_UID);
  assert_refused (f, spec, message);
  assert_untouched (target, "untouched", USER_UID);

  g_clear_pointer (&spec, holder_member_spec_free);
  g_clear_pointer (&message, g_free);
  g_assert_cmpint (symlink (f->secret, root_link), ==, 0);
  spec = make_spec (f);
  spec->serial_log_path = g_strdup (root_link);
  message = g_strdup_printf ("cannot open serial log %s for writing as uid %u: it is a "
                             "symbolic link, which is not followed (name the file itself)",
                             root_link, USER_UID);
  assert_refused (f, spec, message);
  assert_untouched (f->secret, "secret", 0);
}

/* What is planted at <member>/serial.log is replaced, never written
 * through; a member folder that is a link is refused. */
static void
test_default_log_planted (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(HolderVmFiles) files = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cluster_dir = g_path_get_dirname (f->member_dir);
  g_autofree char *elsewhere = g_build_filename (f->tmp, "elsewhere", NULL);
  g_autofree char *message = NULL;
  struct stat st;

  if (skip_unless_root ())
    return;
  g_assert_cmpint (g_mkdir_with_parents (f->member_dir, 0755), ==, 0);
  g_assert_cmpint (symlink (f->secret, f->default_log), ==, 0);
  spec = make_spec (f);
  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lstat (f->default_log, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_uid, ==, USER_UID);
  g_assert_cmpint (write (holder_vm_files_get (files, HOLDER_VM_FILE_SERIAL_LOG)->fd, "x", 1),
                   ==, 1);
  assert_untouched (f->secret, "secret", 0);
  g_clear_pointer (&files, holder_vm_files_unref);

  /* The cluster folder swapped for a link to a folder root owns. */
  g_assert_cmpint (g_mkdir (elsewhere, 0755), ==, 0);
  holder_test_remove_tree (cluster_dir);
  g_assert_cmpint (symlink (elsewhere, cluster_dir), ==, 0);
  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_null (files);
  message = g_strdup_printf ("serial log: %s is a symbolic link: the helper never follows "
                             "links inside the storage root; replace it with a real folder "
                             "(or remove it)",
                             cluster_dir);
  g_assert_cmpstr (error->message, ==, message);
  g_clear_error (&error);
  g_clear_pointer (&message, g_free);
  g_assert_cmpint (g_rmdir (elsewhere), ==, 0);  /* still empty */

  /* A store folder others may write to. */
  g_assert_cmpint (g_unlink (cluster_dir), ==, 0);
  g_assert_cmpint (g_mkdir (cluster_dir, 0777), ==, 0);
  g_assert_cmpint (chmod (cluster_dir, 0777), ==, 0);
  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_null (files);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH);
  message = g_strdup_printf ("serial log: unsafe storage folder %s (owner uid 0, mode 0777): ",
                             cluster_dir);
  g_assert_true (g_str_has_prefix (error->message, message));
  g_assert_nonnull (strstr (error->message, "run chmod go-w '"));
}

/* libvirtd opens paths itself: a path swapped after the check is seen. */
static void
test_check_unchanged (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(HolderVmFiles) files = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *moved = g_build_filename (f->home, "moved.raw", NULL);
  g_autofree char *message = NULL;

  if (skip_unless_root ())
    return;
  spec = make_spec (f);
  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_no_error (error);
  g_assert_true (holder_vm_files_check_unchanged (files, &error));
  g_assert_no_error (error);

  g_assert_cmpint (g_rename (f->disk, moved), ==, 0);
  g_assert_cmpint (symlink (f->secret, f->disk), ==, 0);
  g_assert_false (holder_vm_files_check_unchanged (files, &error));
  message = g_strdup_printf ("disk %s was replaced after it was checked as uid %u: leave a "
                             "member's files in place while it boots", f->disk, USER_UID);
  g_assert_cmpstr (error->message, ==, message);
}

/* A disk without a kernel beside it: the kernel comes out of the disk,
 * extracted as the user (the cache next to the disk is the user's). */
static void
test_extract_as_user (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(HolderVmFiles) files = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *mkfs = g_find_program_in_path ("mkfs.ext4");
  g_autofree char *tree = g_build_filename (f->tmp, "tree", NULL);
  g_autofree char *boot = g_build_filename (tree, "boot", NULL);
  g_autofree char *vmlinuz = g_build_filename (boot, "vmlinuz", NULL);
  g_autofree char *image = g_build_filename (f->home, "image.raw", NULL);
  g_autofree char *cache = g_strconcat (image, ".vmlinux", NULL);
  g_autofree char *locked_dir = g_build_filename (f->tmp, "images", NULL);
  g_autofree char *locked = g_build_filename (locked_dir, "image.raw", NULL);
  g_autofree char *locked_cache = g_strconcat (locked, ".vmlinux", NULL);
  g_autofree char *read = NULL;
  int status = 0;
  struct stat st;

  if (skip_unless_root ())
    return;
  if (mkfs == NULL && g_file_test ("/usr/sbin/mkfs.ext4", G_FILE_TEST_IS_EXECUTABLE))
    mkfs = g_strdup ("/usr/sbin/mkfs.ext4");
  if (mkfs == NULL)
    {
      g_test_skip ("mkfs.ext4 is not installed (e2fsprogs)");
      return;
    }
  g_assert_cmpint (g_mkdir_with_parents (boot, 0755), ==, 0);
  g_assert_true (g_file_set_contents (vmlinuz, "a kernel", -1, NULL));
  {
    const char *argv[] = { mkfs, "-q", "-F", "-E", "nodiscard", "-d", tree, image, "16M", NULL };
    g_autofree char *output = NULL;
    g_autofree char *errors = NULL;

    /* mkfs talks on stdout even with -q; kept off the TAP stream. */
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                 &output, &errors, &status, &error));
    g_assert_no_error (error);
    if (!g_spawn_check_wait_status (status, NULL))
      g_error ("%s failed: %s%s", mkfs, output, errors);
  }
  g_assert_cmpint (chown (image, USER_UID, USER_GID), ==, 0);

  spec = make_spec (f);
  g_free (spec->disk_path);
  spec->disk_path = g_strdup (image);
  g_clear_pointer (&spec->kernel_path, g_free);
  g_clear_pointer (&spec->initramfs_path, g_free);
  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (files->kernel_path, ==, cache);
  read = read_fd (holder_vm_files_get (files, HOLDER_VM_FILE_KERNEL)->fd);
  g_assert_cmpstr (read, ==, "a kernel");
  g_assert_cmpint (stat (cache, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, USER_UID);
  g_clear_pointer (&files, holder_vm_files_unref);

  /* Next to a disk in a folder of root's, the user may write nothing:
   * neither may the helper on the user's behalf. */
  g_assert_cmpint (g_mkdir (locked_dir, 0755), ==, 0);
  g_assert_cmpint (g_rename (image, locked), ==, 0);
  g_free (spec->disk_path);
  spec->disk_path = g_strdup (locked);
  files = open_files (f, spec, HOLDER_VM_FILES_INPUTS, &error);
  g_assert_null (files);
  g_assert_nonnull (strstr (error->message, "boot the kernel inside the disk as uid 4242: "));
  g_assert_nonnull (strstr (error->message, "Permission denied"));
  g_assert_false (g_file_test (locked_cache, G_FILE_TEST_EXISTS));
}

/* ----------------------------------------------- the per-thread identity */

typedef struct {
  const char *secret;
  GMutex      lock;
  GCond       cond;
  int         step;      /* 1: the worker switched; 2: main checked */
  int         open_errno_inside;
  gboolean    readable_after;
  long        fsuid_inside;
  long        fsuid_after;
} ThreadCheck;

static gpointer
identity_thread (gpointer data)
{
  ThreadCheck *check = data;
  g_autoptr(HolderActingUser) user = NULL;
  HolderActingUserScope scope = { 0 };
  GError *error = NULL;
  int fd;

  user = holder_acting_user_new (&error);
  g_assert_no_error (error);
  g_assert_true (holder_acting_user_enter (user, &scope, &error));
  g_assert_no_error (error);
  check->fsuid_inside = syscall (SYS_setfsuid, -1);
  fd = open (check->secret, O_RDONLY | O_CLOEXEC);
  check->open_errno_inside = fd < 0 ? errno : 0;
  if (fd >= 0)
    close (fd);

  g_mutex_lock (&check->lock);
  check->step = 1;
  g_cond_broadcast (&check->cond);
  while (check->step < 2)
    g_cond_wait (&check->cond, &check->lock);
  g_mutex_unlock (&check->lock);

  holder_acting_user_leave (&scope);
  check->fsuid_after = syscall (SYS_setfsuid, -1);
  fd = open (check->secret, O_RDONLY | O_CLOEXEC);
  check->readable_after = fd >= 0;
  if (fd >= 0)
    close (fd);
  return NULL;
}

static void
test_identity_per_thread (Fixture       *f,
                          gconstpointer  data)
{
  ThreadCheck check = { 0 };
  GThread *thread;
  int fd;

  if (skip_unless_root ())
    return;
  check.secret = f->secret;
  g_mutex_init (&check.lock);
  g_cond_init (&check.cond);
  thread = g_thread_new ("identity", identity_thread, &check);

  g_mutex_lock (&check.lock);
  while (check.step < 1)
    g_cond_wait (&check.cond, &check.lock);
  /* The worker is the user now; this thread, the helper, is still root. */
  g_assert_cmpint (syscall (SYS_setfsuid, -1), ==, 0);
  fd = open (f->secret, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  check.step = 2;
  g_cond_broadcast (&check.cond);
  g_mutex_unlock (&check.lock);
  g_thread_join (thread);

  g_assert_cmpint (check.fsuid_inside, ==, USER_UID);
  g_assert_cmpint (check.open_errno_inside, ==, EACCES);
  g_assert_cmpint (check.fsuid_after, ==, 0);
  g_assert_true (check.readable_after);
  g_mutex_clear (&check.lock);
  g_cond_clear (&check.cond);
}

/* The main thread's identity is the whole helper's: never switched. */
static void
test_identity_not_on_main_thread (Fixture       *f,
                                  gconstpointer  data)
{
  g_autoptr(HolderActingUser) user = NULL;
  HolderActingUserScope scope = { 0 };
  g_autoptr(GError) error = NULL;

  if (skip_unless_root ())
    return;
  user = holder_acting_user_new (&error);
  g_assert_no_error (error);
  g_assert_true (user->switches);
  g_test_expect_message ("holder-files", G_LOG_LEVEL_CRITICAL, "*refusing to switch the main thread*");
  g_assert_false (holder_acting_user_enter (user, &scope, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED);
  g_test_assert_expected_messages ();
  g_assert_cmpint (syscall (SYS_setfsuid, -1), ==, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/vm-files/opens-as-user", test_opens_as_user);
  ADD ("/vm-files/root-only-inputs", test_root_only_inputs);
  ADD ("/vm-files/root-for-itself", test_root_for_itself);
  ADD ("/vm-files/serial-log-root-only", test_serial_log_root_only);
  ADD ("/vm-files/serial-log-made-by-user", test_serial_log_made_by_user);
  ADD ("/vm-files/serial-log-symlink", test_serial_log_symlink);
  ADD ("/vm-files/default-log-planted", test_default_log_planted);
  ADD ("/vm-files/check-unchanged", test_check_unchanged);
  ADD ("/vm-files/extract-as-user", test_extract_as_user);
  ADD ("/vm-files/identity-per-thread", test_identity_per_thread);
  ADD ("/vm-files/identity-not-on-main-thread", test_identity_not_on_main_thread);
#undef ADD
  return g_test_run ();
}
