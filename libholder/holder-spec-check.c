/* holder-spec-check.c: boot-member's checks of a spec, before anything
 * starts (see holder-spec-check-private.h). A missing disk found here costs
 * the client one round trip; found by the VMM, it costs a boot and reads
 * as the VMM's words.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holder-error.h"
#include "holder-spec-check-private.h"

static guint64
host_memory_bytes (void)
{
  long pages = sysconf (_SC_PHYS_PAGES);
  long page_size = sysconf (_SC_PAGESIZE);

  if (pages <= 0 || page_size <= 0)
    return 0;
  return (guint64) pages * (guint64) page_size;
}

/* "1.0 MiB": ASCII only, whatever the locale (g_format_size() puts a
 * no-break space in), since it goes into a protocol message. */
static char *
format_size (guint64 bytes)
{
  static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
  char number[G_ASCII_DTOSTR_BUF_SIZE];
  double value = (double) bytes;
  guint unit = 0;

  if (bytes < 1024)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", bytes);
  value /= 1024;
  while (value >= 1024 && unit + 1 < G_N_ELEMENTS (units))
    {
      value /= 1024;
      unit++;
    }
  g_ascii_formatd (number, sizeof number, "%.1f", value);
  return g_strdup_printf ("%s %s", number, units[unit]);
}

static gboolean
invalid (GError    **error,
         const char *format,
         ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError    **error,
         const char *format,
         ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT, message);
  return FALSE;
}

gboolean
holder_spec_check_sizing (const HolderMemberSpec  *spec,
                          guint64                  host_memory,
                          GError                 **error)
{
  g_return_val_if_fail (spec != NULL, FALSE);

  if (host_memory == 0)
    host_memory = host_memory_bytes ();

  if (spec->cpus < 1)
    return invalid (error, "cpus is %" G_GINT64_FORMAT "; give the guest at least 1 vCPU",
                    spec->cpus);
  if (spec->memory_bytes < HOLDER_SPEC_MIN_MEMORY_BYTES)
    {
      g_autofree char *size = format_size (spec->memory_bytes);

      return invalid (error, "memory_bytes is %" G_GUINT64_FORMAT " (%s); give the guest "
                      "at least 64 MiB", spec->memory_bytes, size);
    }
  if (host_memory > 0 && spec->memory_bytes > host_memory)
    {
      g_autofree char *size = format_size (spec->memory_bytes);
      g_autofree char *host = format_size (host_memory);

      return invalid (error, "memory_bytes is %" G_GUINT64_FORMAT " (%s), more than this "
                      "host's %s of RAM; give the guest less memory", spec->memory_bytes,
                      size, host);
    }
  return TRUE;
}

/* @field names the spec's field, @what the kind of file it should be. */
static gboolean
check_file (const char  *field,
            const char  *path,
            const char  *what,
            GError     **error)
{
  struct stat st;
  int fd;

  if (path == NULL || path[0] == '\0')
    return TRUE;

  if (stat (path, &st) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT || saved_errno == ENOTDIR)
        return invalid (error, "%s %s: no such file; give the path of an existing %s",
                        field, path, what);
      return invalid (error, "%s %s: %s; check the path, and that this helper (uid %d) may "
                      "read the %s", field, path, g_strerror (saved_errno), (int) geteuid (),
                      what);
    }
  if (!S_ISREG (st.st_mode))
    return invalid (error, "%s %s: not a regular file (%s); give the path of the %s file",
                    field, path,
                    S_ISDIR (st.st_mode) ? "a folder" : S_ISBLK (st.st_mode) ? "a block device"
                    : "a special file", what);

  /* Opening says more than access(): it sees ACLs, read-only mounts and
   * whatever else stands in the way, as the VMM will. */
  fd = open (path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      return invalid (error, "%s %s: %s; make it readable by uid %d (the helper's user)",
                      field, path, g_strerror (saved_errno), (int) geteuid ());
    }
  close (fd);
  return TRUE;
}

gboolean
holder_spec_check_files (const HolderMemberSpec  *spec,
                         GError                 **error)
{
  g_return_val_if_fail (spec != NULL, FALSE);

  if (!check_file ("kernel_path", spec->kernel_path, "kernel image", error) ||
      !check_file ("initramfs_path", spec->initramfs_path, "initramfs", error) ||
      !check_file ("disk_path", spec->disk_path, "disk image", error) ||
      !check_file ("seed_path", spec->seed_path, "seed image", error) ||
      !check_file ("efi_path", spec->efi_path, "EFI variable store", error))
    return FALSE;
  for (guint i = 0; spec->fixture_paths != NULL && spec->fixture_paths[i] != NULL; i++)
    {
      g_autofree char *field = g_strdup_printf ("fixture_paths[%u]", i);

      if (!check_file (field, spec->fixture_paths[i], "fixture image", error))
        return FALSE;
    }
  return TRUE;
}

static void
check_files_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  GError *error = NULL;

  if (holder_spec_check_files (task_data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
holder_spec_check_async (const HolderMemberSpec  *spec,
                         GCancellable            *cancellable,
                         GAsyncReadyCallback      callback,
                         gpointer                 user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_name (task, "holder_spec_check_async");
  if (!holder_spec_check_sizing (spec, 0, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_set_task_data (task, holder_member_spec_copy (spec),
                        (GDestroyNotify) holder_member_spec_free);
  /* stat() and open() may wait on a slow or hung file system; a stop
   * must not wait for them. */
  g_task_set_return_on_cancel (task, TRUE);
  g_task_run_in_thread (task, check_files_thread);
}

gboolean
holder_spec_check_finish (GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
