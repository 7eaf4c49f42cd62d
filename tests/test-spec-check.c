/* test-spec-check.c: boot-member's checks of a spec, before the backend is
 * called: each message on its own, then through an in-process server whose
 * backend (the fake without its NO_GUEST capability) opens files.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "holder.h"
#include "holder-server-private.h"
#include "holder-spec-check-private.h"
#include "holder-test-util.h"

#define GIB (G_GUINT64_CONSTANT (1) << 30)

static HolderMemberSpec *
sized_spec (gint64  cpus,
            guint64 memory)
{
  HolderMemberSpec *spec = holder_member_spec_new ("web-1");

  spec->cpus = cpus;
  spec->memory_bytes = memory;
  return spec;
}

static void
assert_sizing (gint64      cpus,
               guint64     memory,
               const char *expected)
{
  g_autoptr(HolderMemberSpec) spec = sized_spec (cpus, memory);
  g_autoptr(GError) error = NULL;
  gboolean ok = holder_spec_check_sizing (spec, GIB, &error);

  if (expected == NULL)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      return;
    }
  g_assert_false (ok);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_sizing (void)
{
  assert_sizing (1, 256 * 1024 * 1024, NULL);
  assert_sizing (1, GIB, NULL);
  assert_sizing (0, 256 * 1024 * 1024, "cpus is 0; give the guest at least 1 vCPU");
  assert_sizing (-3, 256 * 1024 * 1024, "cpus is -3; give the guest at least 1 vCPU");
  assert_sizing (1, 0, "memory_bytes is 0 (0 bytes); give the guest at least 64 MiB");
  assert_sizing (1, 1024 * 1024,
                 "memory_bytes is 1048576 (1.0 MiB); give the guest at least 64 MiB");
  assert_sizing (2, 2 * GIB,
                 "memory_bytes is 2147483648 (2.0 GiB), more than this host's 1.0 GiB of RAM; "
                 "give the guest less memory");
}

typedef struct {
  char *dir;
  char *file;
} Files;

static void
files_set_up (Files *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("holder-spec-XXXXXX", NULL);
  f->file = g_build_filename (f->dir, "disk.raw", NULL);
  g_assert_true (g_file_set_contents (f->file, "disk", -1, NULL));
}

static void
files_tear_down (Files *f, gconstpointer data)
{
  holder_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->file);
}

static void
assert_files (const HolderMemberSpec *spec,
              const char             *expected)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = holder_spec_check_files (spec, &error);

  if (expected == NULL)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      return;
    }
  g_assert_false (ok);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, expected);
}

static void
test_files (Files *f, gconstpointer data)
{
  g_autoptr(HolderMemberSpec) spec = holder_member_spec_new ("web-1");
  g_autofree char *missing = g_build_filename (f->dir, "nope", NULL);
  g_autofree char *expected = NULL;

  /* Nothing named, nothing checked. */
  assert_files (spec, NULL);

  g_free (spec->disk_path);
  spec->disk_path = g_strdup (f->file);
  spec->kernel_path = g_strdup (f->file);
  assert_files (spec, NULL);

  g_free (spec->kernel_path);
  spec->kernel_path = g_strdup (missing);
  expected = g_strdup_printf ("kernel_path %s: no such file; give the path of an existing "
                              "kernel image", missing);
  assert_files (spec, expected);
  g_clear_pointer (&spec->kernel_path, g_free);

  g_free (spec->seed_path);
  spec->seed_path = g_strdup (f->dir);
  g_free (expected);
  expected = g_strdup_printf ("seed_path %s: not a regular file (a folder); give the path of "
                              "the seed image file", f->dir);
  assert_files (spec, expected);
  g_free (spec->seed_path);
  spec->seed_path = g_strdup (f->file);

  spec->fixture_paths = g_new0 (char *, 3);
  spec->fixture_paths[0] = g_strdup (f->file);
  spec->fixture_paths[1] = g_strdup (missing);
  g_free (expected);
  expected = g_strdup_printf ("fixture_paths[1] %s: no such file; give the path of an existing "
                              "fixture image", missing);
  assert_files (spec, expected);
  g_free (spec->fixture_paths[1]);
  spec->fixture_paths[1] = g_strdup (f->file);

  spec->initramfs_path = g_strdup ("/dev/null");
  assert_files (spec, "initramfs_path /dev/null: not a regular file (a special file); give the "
                      "path of the initramfs file");
  g_clear_pointer (&spec->initramfs_path, g_free);

  spec->efi_path = g_build_filename (f->file, "below-a-file", NULL);
  g_free (expected);
  expected = g_strdup_printf ("efi_path %s: no such file; give the path of an existing EFI "
                              "variable store", spec->efi_path);
  assert_files (spec, expected);
  g_clear_pointer (&spec->efi_path, g_free);

  /* Unreadable: root reads everything, so only a user sees this one. */
  if (geteuid () != 0)
    {
      g_assert_no_errno (g_chmod (f->file, 0));
      g_free (expected);
      expected = g_strdup_printf ("disk_path %s: Permission denied; make it readable by uid %d "
                                  "(the helper's user)", f->file, (int) geteuid ());
      assert_files (spec, expected);
      g_assert_no_errno (g_chmod (f->file, 0644));
    }
  assert_files (spec, NULL);
}

/* ---- through a server -------------------------------------------------- */

typedef struct {
  char         *root;
  char         *record;
  char         *disk;
  HolderServer *server;
  HolderBackendClass checking; /* the fake, minus NO_GUEST */
} Fixture;

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fx->root = g_dir_make_tmp ("holder-spec-server-XXXXXX", NULL);
  g_assert_true (holder_store_ensure_root (fx->root, NULL));
  fx->record = g_build_filename (fx->root, "record.ndjson", NULL);
  fx->disk = g_build_filename (fx->root, "disk.raw", NULL);
  g_assert_true (g_file_set_contents (fx->disk, "", 0, NULL));
  g_setenv ("FLEETBOX_FAKE_RECORD", fx->record, TRUE);
  g_unsetenv ("FLEETBOX_FAKE_BOOT_DELAY");
  fx->checking = *holder_backend_lookup ("fake", &error);
  g_assert_no_error (error);
  fx->checking.caps &= ~HOLDER_BACKEND_CAP_NO_GUEST;
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  g_clear_pointer (&fx->server, holder_server_free);
  holder_test_remove_tree (fx->root);
  g_free (fx->root);
  g_free (fx->record);
  g_free (fx->disk);
}

static void
server_start (Fixture                  *fx,
              const HolderBackendClass *klass)
{
  const char *names[] = { "keep", NULL };
  HolderServerOptions options = { 0 };
  g_autoptr(GError) error = NULL;

  options.root = fx->root;
  options.backend_class = klass;
  options.names = names;
  fx->server = holder_server_new (&options, &error);
  g_assert_no_error (error);
  g_assert_true (holder_server_start (fx->server, &error));
  g_assert_no_error (error);
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* One request through the client half; the server runs on this thread's
 * default context, so the wait iterates it. */
static HolderReply *
send (Fixture *fx, HolderRequest *request, GError **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  holder_client_send_async (fx->root, "keep", request, 10000, NULL, on_sent, &result);
  while (result == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  return holder_client_send_finish (result, error);
}

static HolderReply *
boot (Fixture *fx, const char *name, const char *disk, GError **error)
{
  g_autoptr(HolderRequest) reserve = holder_request_new ("reserve");
  g_autoptr(HolderRequest) network = holder_request_new ("createnetwork");
  g_autoptr(HolderRequest) request = holder_request_new ("boot-member");
  g_autoptr(HolderReply) reply = NULL;

  reply = send (fx, network, NULL);
  g_assert_nonnull (reply);
  g_clear_pointer (&reply, holder_reply_free);
  reserve->name = g_strdup (name);
  reply = send (fx, reserve, NULL);
  g_assert_nonnull (reply);
  request->spec = holder_member_spec_new (name);
  g_free (request->spec->disk_path);
  request->spec->disk_path = g_strdup (disk);
  request->spec->cpus = 1;
  request->spec->memory_bytes = 128 * 1024 * 1024;
  return send (fx, request, error);
}

static char *
status_json (Fixture *fx, const char *name)
{
  g_autoptr(HolderRequest) request = holder_request_new ("status");
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GAsyncResult) result = NULL;

  holder_client_send_async (fx->root, name, request, 10000, NULL, on_sent, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  reply = holder_client_send_finish (result, NULL);
  g_assert_nonnull (reply);
  return g_strdup_printf ("%s %s", reply->status->state,
                          reply->status->error != NULL ? reply->status->error : "-");
}

static void
test_boot_refused (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReply) reply = NULL;
  g_autofree char *record = NULL;
  g_autofree char *status = NULL;

  server_start (fx, &fx->checking);
  reply = boot (fx, "web-1", "/nonexistent/web-1.raw", &error);
  g_assert_null (reply);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "create web-1: disk_path /nonexistent/web-1.raw: no such "
                                       "file; give the path of an existing disk image");
  /* The member failed as a create does, and the backend never saw it. */
  status = status_json (fx, "web-1");
  g_assert_cmpstr (status, ==, "error disk_path /nonexistent/web-1.raw: no such file; give the "
                               "path of an existing disk image");
  g_file_get_contents (fx->record, &record, NULL, NULL);
  g_assert_null (strstr (record != NULL ? record : "", "\"op\":\"create\""));

  /* With the file there, the same backend boots it. */
  g_clear_error (&error);
  reply = boot (fx, "web-1", fx->disk, &error);
  g_assert_no_error (error);
  g_assert_nonnull (reply);
  g_clear_pointer (&status, g_free);
  status = status_json (fx, "web-1");
  g_assert_cmpstr (status, ==, "running -");
}

static void
test_fake_not_checked (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GError) lookup_error = NULL;

  /* The fake opens nothing: its clients' made-up paths stay fine. */
  server_start (fx, holder_backend_lookup ("fake", &lookup_error));
  reply = boot (fx, "web-1", "/nonexistent/web-1.raw", &error);
  g_assert_no_error (error);
  g_assert_nonnull (reply);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/spec-check/sizing", test_sizing);
  g_test_add ("/spec-check/files", Files, NULL, files_set_up, test_files, files_tear_down);
  g_test_add ("/spec-check/boot-refused", Fixture, NULL, fixture_set_up, test_boot_refused,
              fixture_tear_down);
  g_test_add ("/spec-check/fake-not-checked", Fixture, NULL, fixture_set_up,
              test_fake_not_checked, fixture_tear_down);
  return g_test_run ();
}
