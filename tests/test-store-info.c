/* test-store-info.c: what helpers record in member folders for tools
 * (backend, console). The store's prune is tested with the member locks
 * (test-member-lock.c).
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "holder.h"
#include "holder-store-private.h"
#include "holder-test-util.h"

typedef struct {
  char *root;
} Fixture;

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  fx->root = g_dir_make_tmp ("holder-store-info-XXXXXX", NULL);
  g_assert_true (holder_store_ensure_root (fx->root, NULL));
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  holder_test_remove_tree (fx->root);
  g_free (fx->root);
}

static char *
make_member (Fixture *fx, const char *name)
{
  char *dir = holder_store_member_dir (fx->root, name);

  g_assert_no_errno (g_mkdir_with_parents (dir, 0755));
  return dir;
}

static void
test_backend (Fixture *fx, gconstpointer data)
{
  g_autofree char *dir = make_member (fx, "web-1");
  g_autofree char *backend = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_null (holder_store_read_member_backend (fx->root, "web-1"));
  g_assert_true (holder_store_record_member_info (fx->root, "web-1", HOLDER_STORE_INFO_BACKEND,
                                                  "cloud-hypervisor", &error));
  g_assert_no_error (error);
  backend = holder_store_read_member_backend (fx->root, "web-1");
  g_assert_cmpstr (backend, ==, "cloud-hypervisor");
  /* No folder, no record. */
  g_assert_false (holder_store_record_member_info (fx->root, "db-1", HOLDER_STORE_INFO_BACKEND,
                                                   "fake", &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_null (holder_store_read_member_backend (fx->root, "db-1"));
}

static void
test_console (Fixture *fx, gconstpointer data)
{
  g_autofree char *dir = make_member (fx, "web-1");
  g_autofree char *default_path = g_build_filename (dir, "serial.log", NULL);
  g_autofree char *path = NULL;

  path = holder_store_member_console_path (fx->root, "web-1");
  g_assert_cmpstr (path, ==, default_path);
  g_clear_pointer (&path, g_free);

  g_assert_true (holder_store_record_member_info (fx->root, "web-1", HOLDER_STORE_INFO_CONSOLE,
                                                  "/var/log/web-1.console", NULL));
  path = holder_store_member_console_path (fx->root, "web-1");
  g_assert_cmpstr (path, ==, "/var/log/web-1.console");
  g_clear_pointer (&path, g_free);

  /* A boot without a serial_log_path removes the record. */
  g_assert_true (holder_store_record_member_info (fx->root, "web-1", HOLDER_STORE_INFO_CONSOLE,
                                                  NULL, NULL));
  path = holder_store_member_console_path (fx->root, "web-1");
  g_assert_cmpstr (path, ==, default_path);
  g_clear_pointer (&path, g_free);

  /* A relative path in the record is not trusted. */
  g_assert_true (holder_store_record_member_info (fx->root, "web-1", HOLDER_STORE_INFO_CONSOLE,
                                                  "relative.log", NULL));
  path = holder_store_member_console_path (fx->root, "web-1");
  g_assert_cmpstr (path, ==, default_path);
}

/* A member folder replaced by a symbolic link is not followed, to read or
 * to write: a helper running as root must not write where a link points. */
static void
test_symlinked_folder (Fixture *fx, gconstpointer data)
{
  g_autofree char *elsewhere = g_build_filename (fx->root, "elsewhere", NULL);
  g_autofree char *cluster = g_build_filename (fx->root, "clusters", "web", NULL);
  g_autofree char *link = g_build_filename (cluster, "web-1", NULL);
  g_autofree char *planted = g_build_filename (elsewhere, "backend", NULL);
  g_autofree char *written = g_build_filename (elsewhere, "console", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_no_errno (g_mkdir_with_parents (elsewhere, 0755));
  g_assert_no_errno (g_mkdir_with_parents (cluster, 0755));
  g_assert_true (g_file_set_contents (planted, "planted", -1, NULL));
  g_assert_no_errno (symlink (elsewhere, link));

  g_assert_false (holder_store_record_member_info (fx->root, "web-1", HOLDER_STORE_INFO_CONSOLE,
                                                   "/x", &error));
  g_assert_nonnull (error);
  g_assert_null (holder_store_read_member_backend (fx->root, "web-1"));
  g_assert_false (g_file_test (written, G_FILE_TEST_EXISTS));
}

/* ---- prune ----------------------------------------------------------------- */


int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/store-info/backend", test_backend);
  ADD ("/store-info/console", test_console);
  ADD ("/store-info/symlinked-folder", test_symlinked_folder);
#undef ADD
  return g_test_run ();
}
