/* SPDX-License-Identifier: MIT
 *
 * See holder-vm-files.h.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-files"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "holder-acting-user.h"
#include "holder-boot-extract.h"
#include "holder-vm-files.h"

#define DEFAULT_SERIAL_LOG "serial.log"

/* Tags this module's tasks (a function pointer would not be ISO C). */
static char open_tag;

static const char *const role_names[] = {
  [HOLDER_VM_FILE_KERNEL] = "kernel",
  [HOLDER_VM_FILE_INITRAMFS] = "initramfs",
  [HOLDER_VM_FILE_DISK] = "disk",
  [HOLDER_VM_FILE_SEED] = "seed",
  [HOLDER_VM_FILE_FIXTURE] = "fixture",
  [HOLDER_VM_FILE_SERIAL_LOG] = "serial log",
};

const char *
holder_vm_file_role_name (HolderVmFileRole role)
{
  g_return_val_if_fail (role <= HOLDER_VM_FILE_SERIAL_LOG, "file");
  return role_names[role];
}

static void
vm_file_free (HolderVmFile *file)
{
  if (file->fd >= 0)
    close (file->fd);
  g_free (file->path);
  g_free (file);
}

static HolderVmFiles *
vm_files_new (void)
{
  HolderVmFiles *files = g_new0 (HolderVmFiles, 1);

  files->ref_count = 1;
  files->files = g_ptr_array_new_with_free_func ((GDestroyNotify) vm_file_free);
  return files;
}

HolderVmFiles *
holder_vm_files_ref (HolderVmFiles *files)
{
  g_return_val_if_fail (files != NULL, NULL);
  g_atomic_int_inc (&files->ref_count);
  return files;
}

void
holder_vm_files_unref (HolderVmFiles *files)
{
  if (files == NULL || !g_atomic_int_dec_and_test (&files->ref_count))
    return;
  g_ptr_array_unref (files->files);
  g_free (files->kernel_path);
  g_free (files->initramfs_path);
  g_free (files->serial_log_path);
  g_free (files);
}

const HolderVmFile *
holder_vm_files_get (const HolderVmFiles *files,
                     HolderVmFileRole     role)
{
  g_return_val_if_fail (files != NULL, NULL);

  for (guint i = 0; i < files->files->len; i++)
    {
      const HolderVmFile *file = g_ptr_array_index (files->files, i);

      if (file->role == role)
        return file;
    }
  return NULL;
}

static const char *
mode_words (HolderVmFileRole role)
{
  switch (role)
    {
    case HOLDER_VM_FILE_DISK:
      return "for reading and writing";
    case HOLDER_VM_FILE_SERIAL_LOG:
      return "for writing";
    case HOLDER_VM_FILE_KERNEL:
    case HOLDER_VM_FILE_INITRAMFS:
    case HOLDER_VM_FILE_SEED:
    case HOLDER_VM_FILE_FIXTURE:
    default:
      return "for reading";
    }
}

/* Kernels are files; disks may be block devices; a log may be a character
 * device (/dev/null). Anything else (a folder, a FIFO that would block the
 * VMM, a socket) is a mistake worth naming. */
static gboolean
type_ok (HolderVmFileRole  role,
         mode_t            mode,
         const char      **out_wanted)
{
  switch (role)
    {
    case HOLDER_VM_FILE_KERNEL:
    case HOLDER_VM_FILE_INITRAMFS:
      *out_wanted = "a regular file";
      return S_ISREG (mode);
    case HOLDER_VM_FILE_SERIAL_LOG:
      *out_wanted = "a regular file or a character device";
      return S_ISREG (mode) || S_ISCHR (mode);
    case HOLDER_VM_FILE_DISK:
    case HOLDER_VM_FILE_SEED:
    case HOLDER_VM_FILE_FIXTURE:
    default:
      *out_wanted = "a regular file or a block device";
      return S_ISREG (mode) || S_ISBLK (mode);
    }
}

static const char *
type_words (mode_t mode)
{
  if (S_ISDIR (mode))
    return "a folder";
  if (S_ISFIFO (mode))
    return "a FIFO";
  if (S_ISSOCK (mode))
    return "a socket";
  if (S_ISCHR (mode))
    return "a character device";
  if (S_ISBLK (mode))
    return "a block device";
  return "not a regular file";
}

static gboolean
add_file (HolderVmFiles     *files,
          HolderVmFileRole   role,
          const char        *path,
          int                fd,
          GError           **error)
{
  HolderVmFile *file;
  struct stat st;
  const char *wanted = NULL;
  int fl;

  if (fstat (fd, &st) != 0)
    {
      int saved_errno = errno;

      close (fd);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "stat %s %s: %s",
                   role_names[role], path, g_strerror (saved_errno));
      return FALSE;
    }
  if (!type_ok (role, st.st_mode, &wanted))
    {
      close (fd);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "%s %s is %s, not %s", role_names[role], path, type_words (st.st_mode),
                   wanted);
      return FALSE;
    }
  /* O_NONBLOCK only kept the open from hanging on a FIFO. */
  fl = fcntl (fd, F_GETFL);
  if (fl >= 0)
    fcntl (fd, F_SETFL, fl & ~O_NONBLOCK);

  file = g_new0 (HolderVmFile, 1);
  file->role = role;
  file->path = g_strdup (path);
  file->fd = fd;
  file->read_only = role != HOLDER_VM_FILE_DISK && role != HOLDER_VM_FILE_SERIAL_LOG;
  file->dev = st.st_dev;
  file->ino = st.st_ino;
  g_ptr_array_add (files->files, file);
  return TRUE;
}

/* Runs inside the user's scope: the kernel decides with the user's rights.
 * Inputs follow symbolic links (image links are ordinary, and every step
 * is walked with the user's identity); the serial log does not, since the
 * helper creates and truncates it. */
static gboolean
open_as_user (HolderVmFiles     *files,
              HolderVmFileRole   role,
              const char        *path,
              GError           **error)
{
  int flags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  int fd;

  if (role == HOLDER_VM_FILE_DISK)
    flags |= O_RDWR;
  else if (role == HOLDER_VM_FILE_SERIAL_LOG)
    flags |= O_WRONLY | O_CREAT | O_NOFOLLOW;
  else
    flags |= O_RDONLY;

  fd = open (path, flags, 0644);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (role == HOLDER_VM_FILE_SERIAL_LOG && saved_errno == ELOOP)
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                     "cannot open %s %s %s as uid %u: it is a symbolic link, which is not "
                     "followed (name the file itself)", role_names[role], path,
                     mode_words (role), (guint) files->uid);
      else
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                     "cannot open %s %s %s as uid %u: %s", role_names[role], path,
                     mode_words (role), (guint) files->uid, g_strerror (saved_errno));
      return FALSE;
    }
  return add_file (files, role, path, fd, error);
}

static gboolean
open_inputs (HolderVmFiles           *files,
             const HolderMemberSpec  *spec,
             GError                 **error)
{
  if (!open_as_user (files, HOLDER_VM_FILE_KERNEL, files->kernel_path, error))
    return FALSE;
  if (files->initramfs_path != NULL &&
      !open_as_user (files, HOLDER_VM_FILE_INITRAMFS, files->initramfs_path, error))
    return FALSE;
  if (!open_as_user (files, HOLDER_VM_FILE_DISK, spec->disk_path, error) ||
      !open_as_user (files, HOLDER_VM_FILE_SEED, spec->seed_path, error))
    return FALSE;
  for (guint i = 0; spec->fixture_paths != NULL && spec->fixture_paths[i] != NULL; i++)
    if (!open_as_user (files, HOLDER_VM_FILE_FIXTURE, spec->fixture_paths[i], error))
      return FALSE;
  return TRUE;
}

/* <member folder>/serial.log, made afresh: the old log goes (unlinked in
 * a checked folder, never followed), the new one is created with O_EXCL,
 * so nothing planted there can be written through. Root makes it, then
 * gives it to the user it works for. */
static gboolean
open_default_serial_log (HolderVmFiles           *files,
                         const char              *storage_root,
                         const HolderActingUser  *user,
                         const char              *name,
                         GError                 **error)
{
  g_autofree char *dir_path = holder_store_member_dir (storage_root, name);
  g_autofree char *path = g_build_filename (dir_path, DEFAULT_SERIAL_LOG, NULL);
  int dir_fd, fd;

  dir_fd = holder_store_open_member_folder (storage_root, name, TRUE, error);
  if (dir_fd < 0)
    {
      g_prefix_error (error, "serial log: ");
      return FALSE;
    }
  if (unlinkat (dir_fd, DEFAULT_SERIAL_LOG, 0) != 0 && errno != ENOENT)
    {
      int saved_errno = errno;

      close (dir_fd);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "remove the old serial log %s: %s",
                   path, g_strerror (saved_errno));
      return FALSE;
    }
  fd = openat (dir_fd, DEFAULT_SERIAL_LOG,
               O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
  close (dir_fd);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "create serial log %s: %s", path,
                   g_strerror (saved_errno));
      return FALSE;
    }
  /* Exactly 0644 whatever the umask, and the user's: `holderctl logs`
   * and the user read it. */
  if ((user->switches && fchown (fd, user->uid, user->gid) != 0) || fchmod (fd, 0644) != 0)
    {
      int saved_errno = errno;

      close (fd);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "give serial log %s to uid %u: %s",
                   path, (guint) user->uid, g_strerror (saved_errno));
      return FALSE;
    }
  files->serial_log_path = g_steal_pointer (&path);
  return add_file (files, HOLDER_VM_FILE_SERIAL_LOG, files->serial_log_path, fd, error);
}

/* Everything done with the user's identity, in one scope. */
static gboolean
open_in_user_scope (HolderVmFiles           *files,
                    const HolderMemberSpec  *spec,
                    HolderVmFilesFlags       flags,
                    GCancellable            *cancellable,
                    GError                 **error)
{
  if (spec->kernel_path == NULL)
    {
      g_autoptr(HolderBootFiles) boot = holder_boot_extract (spec->disk_path, error);

      if (boot == NULL)
        {
          g_prefix_error (error, "boot the kernel inside the disk as uid %u: ", (guint) files->uid);
          return FALSE;
        }
      files->kernel_path = g_steal_pointer (&boot->kernel_path);
      files->initramfs_path = g_steal_pointer (&boot->initramfs_path);
    }
  else
    {
      files->kernel_path = g_strdup (spec->kernel_path);
      files->initramfs_path = g_strdup (spec->initramfs_path);
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if ((flags & HOLDER_VM_FILES_INPUTS) && !open_inputs (files, spec, error))
    return FALSE;
  /* Last: a boot refused for its inputs leaves the previous log alone. */
  if (spec->serial_log_path != NULL)
    {
      files->serial_log_path = g_strdup (spec->serial_log_path);
      return open_as_user (files, HOLDER_VM_FILE_SERIAL_LOG, files->serial_log_path, error);
    }
  return TRUE;
}

HolderVmFiles *
holder_vm_files_open (const char              *storage_root,
                      const HolderMemberSpec  *spec,
                      HolderVmFilesFlags       flags,
                      GCancellable            *cancellable,
                      GError                 **error)
{
  g_autoptr(HolderVmFiles) files = NULL;
  g_autoptr(HolderActingUser) user = NULL;
  HolderActingUserScope scope = { 0 };
  gboolean ok;

  g_return_val_if_fail (storage_root != NULL && spec != NULL && spec->name != NULL, NULL);
  g_return_val_if_fail (spec->disk_path != NULL && spec->seed_path != NULL, NULL);

  user = holder_acting_user_new (error);
  if (user == NULL)
    return NULL;
  files = vm_files_new ();
  files->uid = user->uid;
  files->for_user = user->switches;

  if (!holder_acting_user_enter (user, &scope, error))
    return NULL;
  ok = open_in_user_scope (files, spec, flags, cancellable, error);
  holder_acting_user_leave (&scope);
  if (!ok)
    return NULL;

  if (spec->serial_log_path == NULL &&
      !open_default_serial_log (files, storage_root, user, spec->name, error))
    return NULL;
  g_debug ("%s: %u file(s) opened as uid %u", spec->name, files->files->len,
           (guint) files->uid);
  return g_steal_pointer (&files);
}

typedef struct {
  char               *storage_root;
  HolderMemberSpec   *spec;
  HolderVmFilesFlags  flags;
} OpenJob;

static void
open_job_free (OpenJob *job)
{
  g_free (job->storage_root);
  holder_member_spec_free (job->spec);
  g_free (job);
}

static void
open_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  OpenJob *job = task_data;
  GError *error = NULL;
  HolderVmFiles *files = holder_vm_files_open (job->storage_root, job->spec, job->flags,
                                               cancellable, &error);

  if (files == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, files, (GDestroyNotify) holder_vm_files_unref);
}

void
holder_vm_files_open_async (const char              *storage_root,
                            const HolderMemberSpec  *spec,
                            HolderVmFilesFlags       flags,
                            GCancellable            *cancellable,
                            GAsyncReadyCallback      callback,
                            gpointer                 user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  OpenJob *job = g_new0 (OpenJob, 1);

  g_task_set_source_tag (task, &open_tag);
  g_task_set_name (task, "holder_vm_files_open_async");
  job->storage_root = g_strdup (storage_root);
  job->spec = holder_member_spec_copy (spec);
  job->flags = flags;
  g_task_set_task_data (task, job, (GDestroyNotify) open_job_free);
  g_task_run_in_thread (task, open_thread);
}

HolderVmFiles *
holder_vm_files_open_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
holder_vm_files_check_unchanged (const HolderVmFiles  *files,
                                 GError              **error)
{
  g_return_val_if_fail (files != NULL, FALSE);

  for (guint i = 0; i < files->files->len; i++)
    {
      const HolderVmFile *file = g_ptr_array_index (files->files, i);
      struct stat st;

      if (file->role == HOLDER_VM_FILE_SERIAL_LOG)
        continue;  /* written through its descriptor, never by path */
      if (stat (file->path, &st) != 0 || st.st_dev != file->dev || st.st_ino != file->ino)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                       "%s %s was replaced after it was checked as uid %u: leave a "
                       "member's files in place while it boots", role_names[file->role],
                       file->path, (guint) files->uid);
          return FALSE;
        }
    }
  return TRUE;
}
