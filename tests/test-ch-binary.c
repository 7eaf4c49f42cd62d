/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "test-ch-binary"

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "holder-ch-binary.h"
#include "holder-backend.h"
#include "holder-test-util.h"

/* Every download here goes to a small HTTP/1.1 server on 127.0.0.1 in this
 * process; nothing leaves loopback. It is a GSocketService rather than a
 * SoupServer because libsoup 3.2's server leaks its accepted sockets and
 * listening addresses, which would hide real leaks under valgrind. */

#define PAYLOAD_SIZE (300 * 1024 + 17)  /* several chunks, not aligned */
#define STALL_FIRST_CHUNK (64 * 1024)
#define WAIT_USEC (30 * G_USEC_PER_SEC)

typedef struct {
  char *tmp;          /* removed at teardown */
  char *root;
  char *bin_dir;
  char *empty_path;   /* a PATH with no cloud-hypervisor */
  GSocketService *service;
  GPtrArray *requests;  /* of Request, each with an operation pending */
  char *base_url;     /* http://127.0.0.1:<port> */
  GBytes *payload;
  char *payload_sha256;
  guint stalled;      /* /stall requests seen */
  GAsyncResult *result;
} Fixture;

typedef struct {
  Fixture *f;
  GSocketConnection *conn;
  GDataInputStream *in;
  GCancellable *cancellable;
  char *path;         /* from the request line */
  GBytes *response;   /* being written */
  gboolean stalling;  /* response half sent; waits for the client to go */
} Request;

static void
request_free (Request *r)
{
  g_clear_object (&r->in);
  if (r->conn != NULL)
    g_io_stream_close (G_IO_STREAM (r->conn), NULL, NULL);
  g_clear_object (&r->conn);
  g_clear_object (&r->cancellable);
  g_clear_pointer (&r->response, g_bytes_unref);
  g_free (r->path);
  g_free (r);
}

static void
request_done (Request *r)
{
  g_ptr_array_remove_fast (r->f->requests, r);  /* frees it */
}

static void read_line (Request *r);

static void
write_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Request *r = user_data;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result,
                                         NULL, NULL)
      || !r->stalling)
    {
      request_done (r);
      return;
    }
  /* Hold the connection open until the client gives up (EOF) or the
   * fixture goes. */
  read_line (r);
}

static void
respond (Request *r)
{
  Fixture *f = r->f;
  g_autoptr(GString) response = g_string_new (NULL);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (r->conn));
  gsize len = 0;

  if (g_strcmp0 (r->path, "/ch") == 0)
    {
      const char *data = g_bytes_get_data (f->payload, &len);

      g_string_append_printf (response,
                              "HTTP/1.1 200 OK\r\n"
                              "Content-Type: application/octet-stream\r\n"
                              "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                              "Connection: close\r\n\r\n", len);
      g_string_append_len (response, data, (gssize) len);
    }
  else if (g_strcmp0 (r->path, "/stall") == 0)
    {
      /* A first chunk of a much longer body, then silence: the client has
       * a temporary file half written when the test cancels. */
      g_string_append (response,
                       "HTTP/1.1 200 OK\r\n"
                       "Content-Length: 10485760\r\n"
                       "Connection: close\r\n\r\n");
      {
        gsize start = response->len;

        g_string_set_size (response, start + STALL_FIRST_CHUNK);
        memset (response->str + start, 'x', STALL_FIRST_CHUNK);
      }
      r->stalling = TRUE;
      f->stalled++;
    }
  else
    g_string_append (response,
                     "HTTP/1.1 404 Not Found\r\n"
                     "Content-Length: 0\r\n"
                     "Connection: close\r\n\r\n");

  r->response = g_string_free_to_bytes (g_steal_pointer (&response));
  g_output_stream_write_all_async (out, g_bytes_get_data (r->response, NULL),
                                   g_bytes_get_size (r->response),
                                   G_PRIORITY_DEFAULT, r->cancellable,
                                   write_done_cb, r);
}

static void
read_line_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Request *r = user_data;
  g_autofree char *line = NULL;

  line = g_data_input_stream_read_line_finish (r->in, result, NULL, NULL);
  if (line == NULL || r->stalling)
    {
      /* EOF, error, cancellation, or anything after a stalled response. */
      request_done (r);
      return;
    }
  g_strchomp (line);

  if (r->path == NULL)
    {
      g_auto(GStrv) words = g_strsplit (line, " ", 3);

      g_assert_cmpuint (g_strv_length (words), ==, 3);
      g_assert_cmpstr (words[0], ==, "GET");
      r->path = g_strdup (words[1]);
    }
  else if (*line == '\0')
    {
      /* The headers are all read: nothing is left unread when the
       * connection closes, so it ends with FIN, not RST. */
      respond (r);
      return;
    }
  read_line (r);
}

static void
read_line (Request *r)
{
  g_data_input_stream_read_line_async (r->in, G_PRIORITY_DEFAULT,
                                       r->cancellable, read_line_cb, r);
}

static gboolean
incoming_cb (GSocketService    *service,
             GSocketConnection *conn,
             GObject           *source,
             gpointer           user_data)
{
  Fixture *f = user_data;
  Request *r = g_new0 (Request, 1);

  r->f = f;
  r->conn = g_object_ref (conn);
  r->in = g_data_input_stream_new (
    g_io_stream_get_input_stream (G_IO_STREAM (conn)));
  r->cancellable = g_cancellable_new ();
  g_ptr_array_add (f->requests, r);
  read_line (r);
  return TRUE;
}

static void
write_script (const char *path,
              int         mode)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, "#!/bin/sh\nexit 0\n", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GByteArray) bytes = g_byte_array_sized_new (PAYLOAD_SIZE);
  guint i;

  f->tmp = g_dir_make_tmp ("test-ch-binary-XXXXXX", &error);
  g_assert_no_error (error);
  f->root = g_build_filename (f->tmp, "root", NULL);
  f->bin_dir = g_build_filename (f->root, "bin", NULL);
  f->empty_path = g_build_filename (f->tmp, "empty-path", NULL);
  g_assert_cmpint (g_mkdir (f->root, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (f->empty_path, 0755), ==, 0);

  g_unsetenv ("FLEETBOX_CH_BINARY");
  g_unsetenv ("FLEETBOX_CH_DOWNLOAD_URL");
  g_unsetenv ("FLEETBOX_CH_DOWNLOAD_SHA256");
  g_setenv ("PATH", f->empty_path, TRUE);

  /* Not a real binary, only bytes whose every position matters. */
  for (i = 0; i < PAYLOAD_SIZE; i++)
    {
      guint8 b = (guint8) ((i * 2654435761u) >> 13);
      g_byte_array_append (bytes, &b, 1);
    }
  f->payload = g_byte_array_free_to_bytes (g_steal_pointer (&bytes));
  f->payload_sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256,
                                                    f->payload);

  {
    g_autoptr(GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
    g_autoptr(GSocketAddress) bound = NULL;

    f->requests = g_ptr_array_new_with_free_func ((GDestroyNotify)
                                                  request_free);
    f->service = g_socket_service_new ();
    g_socket_listener_add_address (G_SOCKET_LISTENER (f->service), any,
                                   G_SOCKET_TYPE_STREAM,
                                   G_SOCKET_PROTOCOL_TCP, NULL, &bound,
                                   &error);
    g_assert_no_error (error);
    g_signal_connect (f->service, "incoming", G_CALLBACK (incoming_cb), f);
    g_socket_service_start (f->service);
    f->base_url = g_strdup_printf (
      "http://127.0.0.1:%u",
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  }
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_USEC;
  guint i;

  g_socket_service_stop (f->service);
  g_socket_listener_close (G_SOCKET_LISTENER (f->service));
  g_clear_object (&f->service);
  /* Each request has one operation pending; cancelled, it frees itself. */
  for (i = 0; i < f->requests->len; i++)
    g_cancellable_cancel (((Request *) f->requests->pdata[i])->cancellable);
  while (f->requests->len > 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_ptr_array_unref (f->requests);
  g_clear_object (&f->result);
  holder_test_remove_tree (f->tmp);
  g_bytes_unref (f->payload);
  g_free (f->payload_sha256);
  g_free (f->base_url);
  g_free (f->empty_path);
  g_free (f->bin_dir);
  g_free (f->root);
  g_free (f->tmp);
}

static void
store_result_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Fixture *f = user_data;

  g_assert_null (f->result);
  f->result = g_object_ref (result);
}

/* Iterates the main context until @f->result is there, within a deadline. */
static void
await_result (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_USEC;

  while (f->result == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static char *
download (Fixture      *f,
          const char   *url,
          const char   *sha256,
          GCancellable *cancellable,
          GError      **error)
{
  HolderChRelease release = { url, sha256 };
  g_autoptr(GAsyncResult) result = NULL;

  holder_ch_binary_download_async (f->root, &release, cancellable,
                                   store_result_cb, f);
  await_result (f);
  result = g_steal_pointer (&f->result);
  return holder_ch_binary_download_finish (result, error);
}

/* The names in <root>/bin/, sorted, joined by spaces ("" when missing). */
static char *
bin_listing (Fixture *f)
{
  g_autoptr(GDir) dir = g_dir_open (f->bin_dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (dir == NULL)
    return g_strdup ("");
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static char *
url_for (Fixture    *f,
         const char *path)
{
  return g_strconcat (f->base_url, path, NULL);
}

static void
test_find_env_wins (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = g_build_filename (f->tmp, "my-ch", NULL);
  g_autofree char *path_dir = g_build_filename (f->tmp, "path", NULL);
  g_autofree char *on_path = g_build_filename (path_dir, "cloud-hypervisor",
                                               NULL);
  g_autofree char *found = NULL;

  g_assert_cmpint (g_mkdir (path_dir, 0755), ==, 0);
  write_script (on_path, 0755);
  write_script (script, 0755);
  g_setenv ("PATH", path_dir, TRUE);
  g_setenv ("FLEETBOX_CH_BINARY", script, TRUE);

  found = holder_ch_binary_find (f->root, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, script);

  /* An empty variable counts as unset. */
  g_clear_pointer (&found, g_free);
  g_setenv ("FLEETBOX_CH_BINARY", "", TRUE);
  found = holder_ch_binary_find (f->root, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, on_path);
}

static void
test_find_env_not_executable (Fixture       *f,
                              gconstpointer  data)
{
  g_autofree char *script = g_build_filename (f->tmp, "my-ch", NULL);
  g_autofree char *missing = g_build_filename (f->tmp, "missing", NULL);
  g_autofree char *want = NULL;
  const char *bad[] = { script, missing, f->tmp };
  guint i;

  write_script (script, 0644);
  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *found = NULL;

      g_setenv ("FLEETBOX_CH_BINARY", bad[i], TRUE);
      found = holder_ch_binary_find (f->root, &error);
      g_assert_null (found);
      g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
      g_free (want);
      want = g_strdup_printf ("FLEETBOX_CH_BINARY=%s is not an executable "
                              "file", bad[i]);
      g_assert_cmpstr (error->message, ==, want);
    }
}

static void
test_find_path (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *path_dir = g_build_filename (f->tmp, "path", NULL);
  g_autofree char *on_path = g_build_filename (path_dir, "cloud-hypervisor",
                                               NULL);
  g_autofree char *cached = g_build_filename (f->bin_dir,
                                              "cloud-hypervisor-v52.0", NULL);
  g_autofree char *search = g_strconcat (f->empty_path, ":", path_dir, NULL);
  g_autofree char *found = NULL;

  g_assert_cmpint (g_mkdir (path_dir, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (f->bin_dir, 0755), ==, 0);
  write_script (on_path, 0755);
  write_script (cached, 0755);
  g_setenv ("PATH", search, TRUE);

  found = holder_ch_binary_find (f->root, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, on_path);
}

static void
test_find_cache (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cached = g_build_filename (f->bin_dir,
                                              "cloud-hypervisor-v52.0", NULL);
  g_autofree char *found = NULL;

  g_assert_cmpint (g_mkdir (f->bin_dir, 0755), ==, 0);

  /* A cached file that is not executable is not a binary to run. */
  write_script (cached, 0644);
  found = holder_ch_binary_find (f->root, &error);
  g_assert_no_error (error);
  g_assert_null (found);

  g_assert_cmpint (g_chmod (cached, 0755), ==, 0);
  found = holder_ch_binary_find (f->root, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, cached);
}

static void
test_find_nothing (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *found = NULL;

  found = holder_ch_binary_find (f->root, &error);
  g_assert_no_error (error);
  g_assert_null (found);
}

/* ----------------------------------------------- the cached binary, verified */

static int
verify (Fixture     *f,
        const char  *sha256,
        GError     **error)
{
  g_autofree char *url = url_for (f, "/unused");
  HolderChRelease release = { url, sha256 };
  g_autoptr(GAsyncResult) result = NULL;

  holder_ch_binary_open_verified_async (f->root, &release, NULL, store_result_cb, f);
  await_result (f);
  result = g_steal_pointer (&f->result);
  return holder_ch_binary_open_verified_finish (result, error);
}

static char *
cache_file (Fixture *f)
{
  return g_build_filename (f->bin_dir, "cloud-hypervisor-v52.0", NULL);
}

/* The copy that runs is sealed: neither the cache file nor the copy can
 * change what was checked. */
static void
test_verified_good (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cached = cache_file (f);
  g_autofree guint8 *copy = g_malloc (PAYLOAD_SIZE + 1);
  int fd, seals;

  g_assert_cmpint (g_mkdir (f->bin_dir, 0755), ==, 0);
  g_file_set_contents (cached, g_bytes_get_data (f->payload, NULL),
                       g_bytes_get_size (f->payload), &error);
  g_assert_no_error (error);

  fd = verify (f, f->payload_sha256, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (fcntl (fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
  seals = fcntl (fd, F_GET_SEALS);
  g_assert_cmpint (seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), ==,
                   F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  g_assert_cmpint (pwrite (fd, "x", 1, 0), ==, -1);
  g_assert_cmpint (errno, ==, EPERM);

  /* The owner of the store rewrites the cache afterwards: the copy stays. */
  g_file_set_contents (cached, "#!/bin/sh\nexit 0\n", -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pread (fd, copy, PAYLOAD_SIZE + 1, 0), ==, PAYLOAD_SIZE);
  g_assert_cmpmem (copy, PAYLOAD_SIZE, g_bytes_get_data (f->payload, NULL), PAYLOAD_SIZE);
  close (fd);
}

static void
test_verified_mismatch (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cached = cache_file (f);
  g_autofree char *want = NULL;
  g_autofree char *got = NULL;
  const char *pin = "1111111111111111111111111111111111111111111111111111111111111111";

  g_assert_cmpint (g_mkdir (f->bin_dir, 0755), ==, 0);
  write_script (cached, 0755);
  got = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "#!/bin/sh\nexit 0\n", -1);

  g_assert_cmpint (verify (f, pin, &error), ==, -1);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  want = g_strdup_printf ("cached cloud-hypervisor %s does not match its pinned SHA-256 "
                          "(got %s, want %s): not running it; remove it to download it "
                          "again, or install cloud-hypervisor or set FLEETBOX_CH_BINARY",
                          cached, got, pin);
  g_assert_cmpstr (error->message, ==, want);
}

/* A link at the cache's name is not followed, even to the right bytes. */
static void
test_verified_symlink (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cached = cache_file (f);
  g_autofree char *elsewhere = g_build_filename (f->tmp, "elsewhere", NULL);

  g_assert_cmpint (g_mkdir (f->bin_dir, 0755), ==, 0);
  g_file_set_contents (elsewhere, g_bytes_get_data (f->payload, NULL),
                       g_bytes_get_size (f->payload), &error);
  g_assert_no_error (error);
  g_assert_cmpint (symlink (elsewhere, cached), ==, 0);
  g_assert_cmpint (verify (f, f->payload_sha256, &error), ==, -1);
  g_assert_nonnull (strstr (error->message, "Too many levels of symbolic links"));
}

/* What holder-ch-vm does with the copy: exec /proc/self/fd/N. */
static void
test_verified_runs (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *cached = cache_file (f);
  g_autofree char *sha = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  const char *script = "#!/bin/sh\necho \"ran as $0\"\n";
  const char *argv[] = { "/proc/self/fd/3", NULL };
  int fd;

  g_assert_cmpint (g_mkdir (f->bin_dir, 0755), ==, 0);
  g_file_set_contents (cached, script, -1, &error);
  g_assert_no_error (error);
  sha = g_compute_checksum_for_string (G_CHECKSUM_SHA256, script, -1);
  fd = verify (f, sha, &error);
  g_assert_no_error (error);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_take_fd (launcher, fd, 3);
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_successful (proc));
  g_assert_cmpstr (out, ==, "ran as /proc/self/fd/3\n");
}

/* Root downloads into <root>/bin only when it is a folder of the store,
 * never through a link the store's owner planted. */
static void
test_download_bin_symlink (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = url_for (f, "/ch");
  g_autofree char *elsewhere = g_build_filename (f->tmp, "elsewhere", NULL);
  g_autofree char *path = NULL;
  g_autofree char *want = NULL;
  g_autoptr(GDir) dir = NULL;

  g_assert_cmpint (g_mkdir (elsewhere, 0755), ==, 0);
  g_assert_cmpint (symlink (elsewhere, f->bin_dir), ==, 0);
  path = download (f, url, f->payload_sha256, NULL, &error);
  g_assert_null (path);
  want = g_strdup_printf ("%s is a symbolic link: the helper never follows links inside the "
                          "storage root; replace it with a real folder (or remove it)", f->bin_dir);
  g_assert_cmpstr (error->message, ==, want);
  dir = g_dir_open (elsewhere, 0, NULL);
  g_assert_null (g_dir_read_name (dir));
}

static gboolean
is_sha256_hex (const char *s)
{
  gsize i;

  for (i = 0; s[i] != '\0'; i++)
    if (!g_ascii_isxdigit (s[i]) || g_ascii_isupper (s[i]))
      return FALSE;
  return i == 64;
}

/* The pinned release either carries a real SHA-256 or refuses to download
 * at all; it never fetches without a checksum. No download is attempted
 * here: without a checksum the refusal comes before any network use. */
static void
test_release_pinned (Fixture       *f,
                     gconstpointer  data)
{
  const HolderChRelease *release = holder_ch_release_for_host ();
  const char *base = "https://github.com/cloud-hypervisor/cloud-hypervisor/"
                     "releases/download/v52.0/";
  g_autofree char *want_url = NULL;

#if defined(__x86_64__)
  want_url = g_strconcat (base, "cloud-hypervisor-static", NULL);
#elif defined(__aarch64__)
  want_url = g_strconcat (base, "cloud-hypervisor-static-aarch64", NULL);
#else
  g_assert_null (release);
  return;
#endif
  g_assert_nonnull (release);
  g_assert_cmpstr (release->url, ==, want_url);

  if (!is_sha256_hex (release->sha256))
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *path = NULL;

      holder_ch_binary_download_async (f->root, release, NULL,
                                       store_result_cb, f);
      await_result (f);
      result = g_steal_pointer (&f->result);
      path = holder_ch_binary_download_finish (result, &error);
      g_assert_null (path);
      g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
      g_assert_cmpstr (error->message, ==,
                       "no verified checksum for cloud-hypervisor v52.0 on "
                       "this architecture; install cloud-hypervisor or set "
                       "FLEETBOX_CH_BINARY");
      g_assert_false (g_file_test (f->bin_dir, G_FILE_TEST_EXISTS));
    }
}

static void
test_release_override (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *url = url_for (f, "/ch");
  const HolderChRelease *release;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *installed = g_build_filename (f->bin_dir,
                                                 "cloud-hypervisor-v52.0",
                                                 NULL);
  g_autofree char *listing = NULL;

  g_setenv ("FLEETBOX_CH_DOWNLOAD_URL", url, TRUE);
  g_setenv ("FLEETBOX_CH_DOWNLOAD_SHA256", f->payload_sha256, TRUE);
  release = holder_ch_release_for_host ();
  g_assert_nonnull (release);
  g_assert_cmpstr (release->url, ==, url);
  g_assert_cmpstr (release->sha256, ==, f->payload_sha256);

  /* The same pair gives the same struct, so callers can keep it. */
  g_assert_true (holder_ch_release_for_host () == release);

  /* And it is what gets downloaded. */
  holder_ch_binary_download_async (f->root, release, NULL,
                                   store_result_cb, f);
  await_result (f);
  path = holder_ch_binary_download_finish (f->result, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, installed);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE));
  g_clear_pointer (&path, g_free);
  g_clear_object (&f->result);
  g_assert_cmpint (g_unlink (installed), ==, 0);

  /* Half an override is a mistake, not a wish for the pinned pair:
   * refused before any I/O. */
  g_unsetenv ("FLEETBOX_CH_DOWNLOAD_SHA256");
  release = holder_ch_release_for_host ();
  g_assert_nonnull (release);
  holder_ch_binary_download_async (f->root, release, NULL,
                                   store_result_cb, f);
  await_result (f);
  path = holder_ch_binary_download_finish (f->result, &error);
  g_assert_null (path);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==,
                   "FLEETBOX_CH_DOWNLOAD_URL and FLEETBOX_CH_DOWNLOAD_SHA256 "
                   "must be set together");
  listing = bin_listing (f);
  g_assert_cmpstr (listing, ==, "");
}

static void
test_download_ok (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = url_for (f, "/ch");
  g_autofree char *want = g_build_filename (f->bin_dir,
                                            "cloud-hypervisor-v52.0", NULL);
  /* Upper-case hex is the same checksum. */
  g_autofree char *sha_upper = g_ascii_strup (f->payload_sha256, -1);
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *listing = NULL;
  g_autofree char *found = NULL;
  gsize len;
  GStatBuf st;

  path = download (f, url, sha_upper, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, want);

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (contents, len, g_bytes_get_data (f->payload, NULL),
                   g_bytes_get_size (f->payload));

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0755);
  g_assert_cmpint (g_stat (f->bin_dir, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0755);

  listing = bin_listing (f);
  g_assert_cmpstr (listing, ==, "cloud-hypervisor-v52.0");

  /* The next lookup finds the download without fetching again. */
  found = holder_ch_binary_find (f->root, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, want);
}

static void
test_download_bad_checksum (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = url_for (f, "/ch");
  const char *wrong =
    "0000000000000000000000000000000000000000000000000000000000000000";
  g_autofree char *want = NULL;
  g_autofree char *path = NULL;
  g_autofree char *listing = NULL;

  path = download (f, url, wrong, NULL, &error);
  g_assert_null (path);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  want = g_strdup_printf ("checksum mismatch for %s: got %s, want %s",
                          url, f->payload_sha256, wrong);
  g_assert_cmpstr (error->message, ==, want);

  listing = bin_listing (f);
  g_assert_cmpstr (listing, ==, "");
}

static void
test_download_http_404 (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = url_for (f, "/missing");
  g_autofree char *want = NULL;
  g_autofree char *path = NULL;
  g_autofree char *listing = NULL;

  path = download (f, url, f->payload_sha256, NULL, &error);
  g_assert_null (path);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  want = g_strdup_printf ("download cloud-hypervisor v52.0 from %s: "
                          "HTTP 404 Not Found; install cloud-hypervisor or "
                          "set FLEETBOX_CH_BINARY", url);
  g_assert_cmpstr (error->message, ==, want);

  listing = bin_listing (f);
  g_assert_cmpstr (listing, ==, "");
}

/* A loopback port with nothing listening: bound, read, closed. */
static guint16
closed_port (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) sock = NULL;
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) any = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  guint16 port;

  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                       G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  any = g_inet_socket_address_new (loopback, 0);
  g_socket_bind (sock, any, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (sock, &error);
  g_assert_no_error (error);
  return port;
}

static void
test_download_offline (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/ch",
                                          closed_port ());
  g_autofree char *prefix = NULL;
  g_autofree char *path = NULL;
  g_autofree char *listing = NULL;

  path = download (f, url, f->payload_sha256, NULL, &error);
  g_assert_null (path);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_test_message ("offline: %s", error->message);
  prefix = g_strdup_printf ("download cloud-hypervisor v52.0 from %s: ", url);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_true (g_str_has_suffix (error->message,
                                   "; install cloud-hypervisor or set "
                                   "FLEETBOX_CH_BINARY"));
  /* The reason from the socket sits between the two. */
  g_assert_cmpuint (strlen (error->message), >,
                    strlen (prefix) + strlen ("; install cloud-hypervisor "
                                              "or set FLEETBOX_CH_BINARY"));

  listing = bin_listing (f);
  g_assert_cmpstr (listing, ==, "");
}

static void
test_download_cancel (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *url = url_for (f, "/stall");
  HolderChRelease release = { url, f->payload_sha256 };
  g_autofree char *path = NULL;
  g_autofree char *listing = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_USEC;

  holder_ch_binary_download_async (f->root, &release, cancellable,
                                   store_result_cb, f);

  /* Cancel while the temporary file exists and holds the first chunk. */
  for (;;)
    {
      g_autofree char *partial = NULL;

      g_clear_pointer (&listing, g_free);
      listing = bin_listing (f);
      if (g_str_has_prefix (listing, ".cloud-hypervisor-v52.0."))
        {
          GStatBuf st;

          partial = g_build_filename (f->bin_dir, listing, NULL);
          if (g_stat (partial, &st) == 0 && st.st_size >= STALL_FIRST_CHUNK)
            break;
        }
      g_assert_null (f->result);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  g_assert_cmpuint (f->stalled, ==, 1);

  g_cancellable_cancel (cancellable);
  await_result (f);
  path = holder_ch_binary_download_finish (f->result, &error);
  g_assert_null (path);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  g_clear_pointer (&listing, g_free);
  listing = bin_listing (f);
  g_assert_cmpstr (listing, ==, "");
}

int
main (int   argc,
      char *argv[])
{
  const char *proxy_vars[] = {
    "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
    "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", "ftp_proxy",
  };
  guint i;

  /* Whatever the environment says, requests go straight to loopback. */
  for (i = 0; i < G_N_ELEMENTS (proxy_vars); i++)
    g_unsetenv (proxy_vars[i]);
  g_setenv ("GIO_USE_PROXY_RESOLVER", "dummy", TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);

  g_test_init (&argc, &argv, NULL);

#define ADD(name, func) \
  g_test_add ("/ch-binary/" name, Fixture, NULL, \
              fixture_setup, func, fixture_teardown)
  ADD ("find/env-wins", test_find_env_wins);
  ADD ("find/env-not-executable", test_find_env_not_executable);
  ADD ("find/path", test_find_path);
  ADD ("find/cache", test_find_cache);
  ADD ("find/nothing", test_find_nothing);
  ADD ("release/pinned", test_release_pinned);
  ADD ("release/override", test_release_override);
  ADD ("download/ok", test_download_ok);
  ADD ("download/bad-checksum", test_download_bad_checksum);
  ADD ("download/http-404", test_download_http_404);
  ADD ("download/offline", test_download_offline);
  ADD ("download/cancel", test_download_cancel);
  ADD ("download/bin-symlink", test_download_bin_symlink);
  ADD ("verified/good", test_verified_good);
  ADD ("verified/mismatch", test_verified_mismatch);
  ADD ("verified/symlink", test_verified_symlink);
  ADD ("verified/runs", test_verified_runs);
#undef ADD

  return g_test_run ();
}
