/* test-store-info.c: what helpers record in member folders for tools
 * (backend, console), and the store's prune (interim implementation:
 * pidfiles and sockets).
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

typedef struct {
  GPtrArray *kinds;
  GPtrArray *whats;
} Reports;

static void
on_report (const char *kind, const char *what, gpointer user_data)
{
  Reports *r = user_data;

  g_ptr_array_add (r->kinds, g_strdup (kind));
  g_ptr_array_add (r->whats, g_strdup (what));
}

static int
listen_on (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, path);
  g_assert_no_errno (bind (fd, (struct sockaddr *) &addr, sizeof addr));
  g_assert_no_errno (listen (fd, 1));
  return fd;
}

static void
dead_socket (const char *path)
{
  close (listen_on (path));
}

static void
write_pid (Fixture *fx, const char *name, GPid pid)
{
  g_autofree char *path = holder_store_pidfile_path (fx->root, name);
  g_autofree char *text = g_strdup_printf ("%d", (int) pid);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static GPid
dead_pid (void)
{
  GPid pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (0);
  g_assert_cmpint (waitpid (pid, NULL, 0), ==, pid);
  return pid;
}

static void
test_prune (Fixture *fx, gconstpointer data)
{
  g_autofree char *live_dir = make_member (fx, "live-1");
  g_autofree char *dead_dir = make_member (fx, "dead-1");
  g_autofree char *stray_dir = g_build_filename (fx->root, "clusters", "dead", "notes", NULL);
  g_autofree char *stray_pid = g_build_filename (stray_dir, "pid", NULL);
  g_autofree char *live_sock = holder_store_socket_path (fx->root, "live-1");
  g_autofree char *dead_sock = holder_store_socket_path (fx->root, "dead-1");
  g_autofree char *listening = g_build_filename (fx->root, "run", "0123456789abcdef.sock", NULL);
  g_autofree char *orphan = g_build_filename (fx->root, "run", "fedcba9876543210.ctl", NULL);
  g_autofree char *dead_pidfile = holder_store_pidfile_path (fx->root, "dead-1");
  g_autofree char *live_pidfile = holder_store_pidfile_path (fx->root, "live-1");
  Reports reports = { g_ptr_array_new_with_free_func (g_free), g_ptr_array_new_with_free_func (g_free) };
  g_autoptr(GError) error = NULL;
  int listener;

  /* live-1: served by this process, its socket answering; dead-1: a dead
   * pid, a socket nobody listens on; a stray folder that is no member;
   * a socket somebody listens on; a control socket nobody does. */
  write_pid (fx, "live-1", getpid ());
  listener = listen_on (live_sock);
  write_pid (fx, "dead-1", dead_pid ());
  dead_socket (dead_sock);
  g_assert_no_errno (g_mkdir_with_parents (stray_dir, 0755));
  g_assert_true (g_file_set_contents (stray_pid, "1", -1, NULL));
  {
    int other = listen_on (listening);

    dead_socket (orphan);
    g_assert_true (holder_store_member_is_served (fx->root, "live-1", NULL));
    g_assert_false (holder_store_member_is_served (fx->root, "dead-1", NULL));

    /* A dry run reports and removes nothing. */
    g_assert_true (holder_store_prune (fx->root, TRUE, on_report, &reports, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (reports.whats->len, ==, 3);
    for (guint i = 0; i < reports.kinds->len; i++)
      g_assert_cmpstr (g_ptr_array_index (reports.kinds, i), ==, "file");
    g_assert_true (g_ptr_array_find_with_equal_func (reports.whats, dead_pidfile, g_str_equal, NULL));
    g_assert_true (g_ptr_array_find_with_equal_func (reports.whats, dead_sock, g_str_equal, NULL));
    g_assert_true (g_ptr_array_find_with_equal_func (reports.whats, orphan, g_str_equal, NULL));
    g_assert_true (g_file_test (dead_pidfile, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (dead_sock, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (orphan, G_FILE_TEST_EXISTS));

    g_ptr_array_set_size (reports.kinds, 0);
    g_ptr_array_set_size (reports.whats, 0);
    g_assert_true (holder_store_prune (fx->root, FALSE, on_report, &reports, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (reports.whats->len, ==, 3);
    g_assert_false (g_file_test (dead_pidfile, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (dead_sock, G_FILE_TEST_EXISTS));
    g_assert_false (g_file_test (orphan, G_FILE_TEST_EXISTS));
    /* What is alive, and what is not a member, stays. */
    g_assert_true (g_file_test (live_pidfile, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (live_sock, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (listening, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (stray_pid, G_FILE_TEST_EXISTS));
    close (other);
  }
  close (listener);
  g_ptr_array_unref (reports.kinds);
  g_ptr_array_unref (reports.whats);

  /* A store that does not exist has nothing to prune. */
  g_assert_true (holder_store_prune ("/nonexistent/holder-root", FALSE, NULL, NULL, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/store-info/backend", test_backend);
  ADD ("/store-info/console", test_console);
  ADD ("/store-info/symlinked-folder", test_symlinked_folder);
  ADD ("/store-prune/pidfiles-and-sockets", test_prune);
#undef ADD
  return g_test_run ();
}
