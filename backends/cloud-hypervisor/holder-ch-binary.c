/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-ch-binary"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gio/gunixoutputstream.h>
#include <libsoup/soup.h>

#include "holder-ch-binary.h"
#include "holder-acting-user.h"
#include "holder-backend.h"
#include "holder-version.h"

/* Linux 6.3's flag for a memfd that may be executed; older kernels refuse
 * it (EINVAL) and execute any memfd. */
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* The SHA-256 of the v52.0 static builds, as the Go fleetbox helper pins
 * them (the x86_64 value also agrees with two other public pins). They
 * were not recomputed here: this machine cannot reach the release. A value
 * of CH_SHA256_UNVERIFIED makes a download fail closed (release_check). */
#define CH_SHA256_UNVERIFIED "unverified"
#define CH_SHA256_X86_64  "829af01ff075bb96c4f183905134c453a88d68cbabdc6b87df21098842581ee9"
#define CH_SHA256_AARCH64 "bf004ddc1a148f47caa87ac49a783b8dbd6bf9bc27abe522ed197df7b982d3b1"

#define CH_RELEASE_BASE \
  "https://github.com/cloud-hypervisor/cloud-hypervisor/releases/download/" \
  HOLDER_CH_RELEASE_VERSION "/"

/* Stands for "only one of the two override variables is set". */
static const char ch_sha256_half_override[] = "half-override";

/* The static build is a few MiB; a mirror streaming far more than that is
 * broken, and would fill <root> before the checksum could say so. */
#define CH_MAX_DOWNLOAD_BYTES (256 * 1024 * 1024)
#define CH_CHUNK_SIZE (64 * 1024)
/* Connect and idle bound of each socket operation, in seconds. */
#define CH_SOCKET_TIMEOUT 30

/* Tags this module's tasks (a function pointer would not be ISO C). */
static char download_tag;
static char verify_tag;

#define CH_BIN_DIR "bin"
#define CH_CACHE_NAME "cloud-hypervisor-" HOLDER_CH_RELEASE_VERSION

#define CH_INSTALL_HINT "install cloud-hypervisor or set FLEETBOX_CH_BINARY"

static const HolderChRelease *
pinned_release (void)
{
#if defined(__x86_64__)
  static const HolderChRelease release = {
    CH_RELEASE_BASE "cloud-hypervisor-static",
    CH_SHA256_X86_64,
  };
  return &release;
#elif defined(__aarch64__)
  static const HolderChRelease release = {
    CH_RELEASE_BASE "cloud-hypervisor-static-aarch64",
    CH_SHA256_AARCH64,
  };
  return &release;
#else
  return NULL;
#endif
}

/* FLEETBOX_CH_DOWNLOAD_URL and FLEETBOX_CH_DOWNLOAD_SHA256 (both together)
 * replace the pinned pair, for mirrors and tests. */
const HolderChRelease *
holder_ch_release_for_host (void)
{
  static GMutex lock;
  static GHashTable *overrides;  /* "url\nsha256" -> HolderChRelease */
  const char *url = g_getenv ("FLEETBOX_CH_DOWNLOAD_URL");
  const char *sha256 = g_getenv ("FLEETBOX_CH_DOWNLOAD_SHA256");
  const HolderChRelease *pinned = pinned_release ();
  g_autofree char *key = NULL;
  HolderChRelease *ret;

  if (url != NULL && *url == '\0')
    url = NULL;
  if (sha256 != NULL && *sha256 == '\0')
    sha256 = NULL;
  if (url == NULL && sha256 == NULL)
    return pinned;

  /* One struct per distinct pair, kept for the process's life: a caller
   * may still hold an earlier one while the environment changes. */
  key = g_strconcat (url != NULL ? url : "", "\n",
                     sha256 != NULL ? sha256 : "", NULL);
  g_mutex_lock (&lock);
  if (overrides == NULL)
    overrides = g_hash_table_new (g_str_hash, g_str_equal);
  ret = g_hash_table_lookup (overrides, key);
  if (ret == NULL)
    {
      ret = g_new0 (HolderChRelease, 1);
      ret->url = g_intern_string (url != NULL ? url
                                  : pinned != NULL ? pinned->url : "");
      ret->sha256 = (url != NULL && sha256 != NULL)
                    ? g_intern_string (sha256) : ch_sha256_half_override;
      g_hash_table_insert (overrides, g_steal_pointer (&key), ret);
    }
  g_mutex_unlock (&lock);

  return ret;
}

static gboolean
is_executable_file (const char *path)
{
  return g_file_test (path, G_FILE_TEST_IS_REGULAR)
         && g_access (path, X_OK) == 0;
}

static char *
cache_path (const char *root)
{
  return g_build_filename (root, CH_BIN_DIR, CH_CACHE_NAME, NULL);
}

char *
holder_ch_binary_cache_path (const char *root)
{
  g_return_val_if_fail (root != NULL, NULL);
  return cache_path (root);
}

char *
holder_ch_binary_find (const char *root,
                       GError    **error)
{
  const char *env = g_getenv ("FLEETBOX_CH_BINARY");
  g_autofree char *cached = NULL;
  char *found;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (env != NULL && *env != '\0')
    {
      if (!is_executable_file (env))
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                       "FLEETBOX_CH_BINARY=%s is not an executable file", env);
          return NULL;
        }
      /* Absolute, so it still works when run from another folder. */
      return g_canonicalize_filename (env, NULL);
    }

  found = g_find_program_in_path ("cloud-hypervisor");
  if (found != NULL)
    return found;

  /* Hashed again before it runs (holder_ch_binary_open_verified): the
   * store's owner can replace it. */
  cached = cache_path (root);
  if (is_executable_file (cached))
    return g_steal_pointer (&cached);

  return NULL;
}

/* Refuses a release whose checksum cannot be checked, before any byte
 * crosses the network. */
static gboolean
release_check (const HolderChRelease *release,
               GError               **error)
{
  const char *p;

  if (release->sha256 == ch_sha256_half_override)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                           "FLEETBOX_CH_DOWNLOAD_URL and "
                           "FLEETBOX_CH_DOWNLOAD_SHA256 must be set together");
      return FALSE;
    }
  if (g_strcmp0 (release->sha256, CH_SHA256_UNVERIFIED) == 0)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "no verified checksum for cloud-hypervisor "
                           HOLDER_CH_RELEASE_VERSION " on this architecture; "
                           CH_INSTALL_HINT);
      return FALSE;
    }
  if (release->url == NULL || *release->url == '\0')
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                           "no download URL for cloud-hypervisor");
      return FALSE;
    }
  for (p = release->sha256; p != NULL && *p != '\0'; p++)
    if (!g_ascii_isxdigit (*p))
      break;
  if (release->sha256 == NULL || *p != '\0' || p - release->sha256 != 64)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "\"%s\" is not a SHA-256 (64 hex digits) for %s",
                   release->sha256 != NULL ? release->sha256 : "",
                   release->url);
      return FALSE;
    }
  return TRUE;
}

/* A memfd that may be executed, sealed once filled. */
static int
memfd_for_binary (GError **error)
{
  int fd = memfd_create ("cloud-hypervisor", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

  if (fd < 0 && errno == EINVAL)
    fd = memfd_create ("cloud-hypervisor", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    {
      int saved_errno = errno;

      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "make a sealed copy of cloud-hypervisor: memfd_create: %s",
                   g_strerror (saved_errno));
    }
  return fd;
}

/* Copies @in into @out while hashing; the copy is what runs, so the hash
 * is of exactly the bytes executed. */
static gboolean
copy_and_hash (int          in,
               int          out,
               GChecksum   *checksum,
               const char  *path,
               GError     **error)
{
  g_autofree guint8 *buffer = g_malloc (CH_CHUNK_SIZE);
  guint64 total = 0;

  for (;;)
    {
      ssize_t n = read (in, buffer, CH_CHUNK_SIZE);
      ssize_t done = 0;

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "read %s: %s", path,
                       g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0)
        return TRUE;
      total += (guint64) n;
      if (total > CH_MAX_DOWNLOAD_BYTES)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                       "%s is larger than %d bytes: not a cloud-hypervisor binary", path,
                       CH_MAX_DOWNLOAD_BYTES);
          return FALSE;
        }
      g_checksum_update (checksum, buffer, (gsize) n);
      while (done < n)
        {
          ssize_t w = write (out, buffer + done, (size_t) (n - done));

          if (w < 0 && errno == EINTR)
            continue;
          if (w < 0)
            {
              int saved_errno = errno;

              g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "copy %s into memory: %s", path, g_strerror (saved_errno));
              return FALSE;
            }
          done += w;
        }
    }
}

int
holder_ch_binary_open_verified (const char             *root,
                                const HolderChRelease  *release,
                                GError                **error)
{
  const char *const bin[] = { CH_BIN_DIR, NULL };
  g_autofree char *path = NULL;
  g_autofree char *want = NULL;
  g_autoptr(GChecksum) checksum = NULL;
  const char *got;
  int dir_fd, in, out;

  g_return_val_if_fail (root != NULL && release != NULL, -1);
  g_return_val_if_fail (error == NULL || *error == NULL, -1);

  path = cache_path (root);
  if (!release_check (release, error))
    {
      g_prefix_error (error, "cannot verify the cached %s: ", path);
      return -1;
    }
  dir_fd = holder_store_open_folder (root, bin, FALSE, error);
  if (dir_fd < 0)
    return -1;
  in = openat (dir_fd, CH_CACHE_NAME, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  close (dir_fd);
  if (in < 0)
    {
      int saved_errno = errno;

      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "open %s: %s", path,
                   g_strerror (saved_errno));
      return -1;
    }
  out = memfd_for_binary (error);
  if (out < 0)
    {
      close (in);
      return -1;
    }
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  if (!copy_and_hash (in, out, checksum, path, error))
    {
      close (in);
      close (out);
      return -1;
    }
  close (in);

  got = g_checksum_get_string (checksum);
  want = g_ascii_strdown (release->sha256, -1);
  if (g_strcmp0 (got, want) != 0)
    {
      close (out);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "cached cloud-hypervisor %s does not match its pinned SHA-256 "
                   "(got %s, want %s): not running it; remove it to download it again, "
                   "or " CH_INSTALL_HINT, path, got, want);
      return -1;
    }
  if (fcntl (out, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0)
    {
      int saved_errno = errno;

      close (out);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "seal the copy of %s: %s", path, g_strerror (saved_errno));
      return -1;
    }
  g_debug ("%s matches its pinned SHA-256 %s", path, got);
  return out;
}

typedef struct {
  char *root;
  char *url;
  char *sha256;
} VerifyJob;

static void
verify_job_free (VerifyJob *job)
{
  g_free (job->root);
  g_free (job->url);
  g_free (job->sha256);
  g_free (job);
}

static void
verify_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  VerifyJob *job = task_data;
  HolderChRelease release = { job->url, job->sha256 };
  GError *error = NULL;
  int fd = holder_ch_binary_open_verified (job->root, &release, &error);

  if (fd < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, fd);
}

void
holder_ch_binary_open_verified_async (const char             *root,
                                      const HolderChRelease  *release,
                                      GCancellable           *cancellable,
                                      GAsyncReadyCallback     callback,
                                      gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  GError *error = NULL;
  VerifyJob *job;

  g_return_if_fail (root != NULL && release != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, &verify_tag);
  g_task_set_name (task, "holder_ch_binary_open_verified");
  /* The fd is the result: a cancel after it was made must not leak it. */
  g_task_set_check_cancellable (task, FALSE);
  /* Checked here, where the release is the caller's (a half override is
   * told apart by its pointer); the thread gets copies. */
  if (!release_check (release, &error))
    {
      g_autofree char *path = cache_path (root);

      g_prefix_error (&error, "cannot verify the cached %s: ", path);
      g_task_return_error (task, error);
      return;
    }
  job = g_new0 (VerifyJob, 1);
  job->root = g_strdup (root);
  job->url = g_strdup (release->url);
  job->sha256 = g_strdup (release->sha256);
  g_task_set_task_data (task, job, (GDestroyNotify) verify_job_free);
  g_task_run_in_thread (task, verify_thread);
}

int
holder_ch_binary_open_verified_finish (GAsyncResult  *result,
                                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), -1);
  g_return_val_if_fail (g_async_result_is_tagged (result, &verify_tag), -1);
  return (int) g_task_propagate_int (G_TASK (result), error);
}

typedef struct {
  char *url;
  char *want_sha256;     /* lowercase */
  char *bin_dir;
  int   bin_fd;          /* <root>/bin, reached with O_NOFOLLOW */
  char *tmp_name;        /* in bin_fd, set while a temporary file exists */
  char *tmp_path;        /* the same, for messages */
  char *final_path;
  SoupSession *session;
  SoupMessage *message;
  GInputStream *body;
  GOutputStream *out;
  GChecksum *checksum;
  guint64 received;
  guint8 buffer[CH_CHUNK_SIZE];
} Download;

/* Closes the streams and removes the temporary file, if any. */
static void
download_cleanup (Download *d)
{
  g_clear_object (&d->body);
  g_clear_object (&d->out);
  if (d->tmp_name != NULL && unlinkat (d->bin_fd, d->tmp_name, 0) != 0 && errno != ENOENT)
    g_warning ("remove %s: %s", d->tmp_path, g_strerror (errno));
  g_clear_pointer (&d->tmp_name, g_free);
  g_clear_pointer (&d->tmp_path, g_free);
}

static void
download_free (Download *d)
{
  download_cleanup (d);
  g_clear_object (&d->message);
  if (d->session != NULL)
    soup_session_abort (d->session);
  g_clear_object (&d->session);
  g_clear_pointer (&d->checksum, g_checksum_free);
  g_free (d->url);
  g_free (d->want_sha256);
  if (d->bin_fd >= 0)
    close (d->bin_fd);
  g_free (d->bin_dir);
  g_free (d->final_path);
  g_free (d);
}

/* Every failure after the start goes through here, and consumes the
 * chain's reference on @task. The temporary file is gone before the
 * callback can look. */
static void
download_return_error (GTask  *task,
                       GError *error)
{
  download_cleanup (g_task_get_task_data (task));
  g_task_return_error (task, error);
  g_object_unref (task);
}

/* Network-side failures read the same whatever broke: where from, why, and
 * what the user can do instead. Cancellation stays G_IO_ERROR_CANCELLED. */
static void
download_fail (GTask  *task,
               GError *error)
{
  Download *d = g_task_get_task_data (task);
  GError *wrapped;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      download_return_error (task, error);
      return;
    }
  wrapped = g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                         "download cloud-hypervisor "
                         HOLDER_CH_RELEASE_VERSION " from %s: %s; "
                         CH_INSTALL_HINT, d->url, error->message);
  g_error_free (error);
  download_return_error (task, wrapped);
}

static GError *
error_from_errno (int         saved_errno,
                  const char *what,
                  const char *path)
{
  return g_error_new (G_IO_ERROR, g_io_error_from_errno (saved_errno),
                      "%s %s: %s", what, path, g_strerror (saved_errno));
}

static void read_next (GTask *task);

static void
sync_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  Download *d = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      download_return_error (task, error);
      return;
    }
  g_clear_object (&d->out);

  /* Within the folder's descriptor: no path is resolved again. */
  if (renameat (d->bin_fd, d->tmp_name, d->bin_fd, CH_CACHE_NAME) != 0)
    {
      download_return_error (task, error_from_errno (errno, "rename to",
                                                     d->final_path));
      return;
    }
  g_clear_pointer (&d->tmp_name, g_free);
  g_clear_pointer (&d->tmp_path, g_free);
  g_debug ("installed %s from %s", d->final_path, d->url);
  g_task_return_pointer (task, g_strdup (d->final_path), g_free);
  g_object_unref (task);
}

/* fsync has no asynchronous form; it runs on GIO's worker pool so the
 * rename that follows never exposes a file whose bytes are not on disk.
 * The mode is set through the descriptor, never by path. */
static void
sync_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GOutputStream *out = task_data;
  int fd = g_unix_output_stream_get_fd (G_UNIX_OUTPUT_STREAM (out));
  GError *error = NULL;

  if (fchmod (fd, 0755) != 0)
    {
      int saved = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "chmod: %s", g_strerror (saved));
      return;
    }
  if (fsync (fd) != 0)
    {
      int saved = errno;
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "fsync: %s", g_strerror (saved));
      return;
    }
  if (!g_output_stream_close (out, NULL, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
body_done (GTask *task)
{
  Download *d = g_task_get_task_data (task);
  const char *got = g_checksum_get_string (d->checksum);
  GTask *sync_task;

  if (g_strcmp0 (got, d->want_sha256) != 0)
    {
      download_return_error (task,
                             g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                          "checksum mismatch for %s: "
                                          "got %s, want %s",
                                          d->url, got, d->want_sha256));
      return;
    }

  sync_task = g_task_new (NULL, g_task_get_cancellable (task),
                          sync_done_cb, task);
  g_task_set_task_data (sync_task, g_object_ref (d->out), g_object_unref);
  g_task_run_in_thread (sync_task, sync_thread);
  g_object_unref (sync_task);
}

static void
write_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  GTask *task = user_data;
  Download *d = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (d->out, result, NULL, &error))
    {
      g_prefix_error (&error, "write %s: ", d->tmp_path);
      download_return_error (task, error);
      return;
    }
  read_next (task);
}

static void
read_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  Download *d = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n;

  n = g_input_stream_read_finish (d->body, result, &error);
  if (n < 0)
    {
      download_fail (task, error);
      return;
    }
  if (n == 0)
    {
      body_done (task);
      return;
    }

  d->received += (guint64) n;
  if (d->received > CH_MAX_DOWNLOAD_BYTES)
    {
      download_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                        "more than %d bytes",
                                        CH_MAX_DOWNLOAD_BYTES));
      return;
    }
  g_checksum_update (d->checksum, d->buffer, (gsize) n);
  g_output_stream_write_all_async (d->out, d->buffer, (gsize) n,
                                   G_PRIORITY_DEFAULT,
                                   g_task_get_cancellable (task),
                                   write_done_cb, task);
}

static void
read_next (GTask *task)
{
  Download *d = g_task_get_task_data (task);

  g_input_stream_read_async (d->body, d->buffer, sizeof d->buffer,
                             G_PRIORITY_DEFAULT,
                             g_task_get_cancellable (task),
                             read_done_cb, task);
}

/* A new name in the bin folder, created with O_EXCL|O_NOFOLLOW: nothing
 * planted there is written through. */
static gboolean
open_temporary (Download *d,
                GError  **error)
{
  for (guint attempt = 0; attempt < 16; attempt++)
    {
      g_autofree char *name = g_strdup_printf ("." CH_CACHE_NAME ".%08x", g_random_int ());
      int fd = openat (d->bin_fd, name,
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);

      if (fd < 0 && errno == EEXIST)
        continue;
      if (fd < 0)
        {
          int saved = errno;
          g_autofree char *path = g_build_filename (d->bin_dir, name, NULL);

          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                       "create %s: %s", path, g_strerror (saved));
          return FALSE;
        }
      d->tmp_path = g_build_filename (d->bin_dir, name, NULL);
      d->tmp_name = g_steal_pointer (&name);
      d->out = g_unix_output_stream_new (fd, TRUE);
      return TRUE;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
               "create a temporary file in %s: every name tried exists", d->bin_dir);
  return FALSE;
}

static void
send_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  Download *d = g_task_get_task_data (task);
  GError *error = NULL;
  guint status;

  d->body = soup_session_send_finish (d->session, result, &error);
  if (d->body == NULL)
    {
      download_fail (task, error);
      return;
    }

  status = soup_message_get_status (d->message);
  if (status != SOUP_STATUS_OK)
    {
      const char *reason = soup_message_get_reason_phrase (d->message);

      download_fail (task, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                        "HTTP %u %s", status,
                                        reason != NULL ? reason : ""));
      return;
    }

  /* The temporary file only appears once there is something to put in
   * it, so an offline attempt leaves nothing behind. */
  if (!open_temporary (d, &error))
    {
      download_return_error (task, error);
      return;
    }
  read_next (task);
}

void
holder_ch_binary_download_async (const char             *root,
                                 const HolderChRelease  *release,
                                 GCancellable           *cancellable,
                                 GAsyncReadyCallback     callback,
                                 gpointer                user_data)
{
  g_autoptr(GTask) task = NULL;
  Download *d;
  GError *error = NULL;

  g_return_if_fail (root != NULL);
  g_return_if_fail (release != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, &download_tag);
  g_task_set_name (task, "holder_ch_binary_download");
  /* Success is decided by the rename, not by a late cancel: once the file
   * is in place it is reported, and a cancel before that surfaces as the
   * failing operation's G_IO_ERROR_CANCELLED. */
  g_task_set_check_cancellable (task, FALSE);

  if (!release_check (release, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  d = g_new0 (Download, 1);
  d->bin_fd = -1;
  g_task_set_task_data (task, d, (GDestroyNotify) download_free);
  d->url = g_strdup (release->url);
  d->want_sha256 = g_ascii_strdown (release->sha256, -1);
  d->bin_dir = g_build_filename (root, CH_BIN_DIR, NULL);
  d->final_path = cache_path (root);
  d->checksum = g_checksum_new (G_CHECKSUM_SHA256);

  {
    const char *const bin[] = { CH_BIN_DIR, NULL };

    d->bin_fd = holder_store_open_folder (root, bin, TRUE, &error);
    if (d->bin_fd < 0)
      {
        g_task_return_error (task, error);
        return;
      }
  }

  d->message = soup_message_new (SOUP_METHOD_GET, d->url);
  if (d->message == NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR,
                               HOLDER_ERROR_INVALID_ARGUMENT,
                               "download cloud-hypervisor: invalid URL %s",
                               d->url);
      return;
    }

  /* A session of its own: downloads are rare, and its timeout must not
   * leak into anything else. Redirects (GitHub sends one) are followed. */
  d->session = soup_session_new_with_options (
      "timeout", (guint) CH_SOCKET_TIMEOUT,
      "idle-timeout", (guint) CH_SOCKET_TIMEOUT,
      "user-agent", "fleetbox/" HOLDER_VERSION " ",
      NULL);

  g_debug ("downloading %s to %s", d->url, d->final_path);
  soup_session_send_async (d->session, d->message, G_PRIORITY_DEFAULT,
                           cancellable, send_done_cb,
                           g_steal_pointer (&task));
}

char *
holder_ch_binary_download_finish (GAsyncResult  *result,
                                  GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, &download_tag),
                        NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
