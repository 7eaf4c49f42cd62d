/* SPDX-License-Identifier: MIT
 *
 * A pidfile that cannot be written, with the real fleetbox-helper and the
 * fake backend: the helper says so in one clear line (at launch) or one
 * error reply (a runtime add), and leaves no half state behind: no socket,
 * no pidfile, no temporary file, no other member disturbed.
 *
 * A read-only member folder is a chmod 0555 for an ordinary user; root
 * ignores modes, so as root this program works in a private mount
 * namespace of its own and bind-mounts the folder read-only. A full disk is
 * a small tmpfs, filled up, mounted (as root, in that namespace) as the
 * storage root.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "test-pidfile-faults"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <holder.h>
#include "holder-test-util.h"

/* Why root cannot use mounts here, or NULL when it can. */
static char *mount_skip_reason;

/* HOLDER_TEST_HELPER_WRAPPER (e.g. "valgrind -q --error-exitcode=1") runs
 * every helper under a wrapper; the bounds on its start and exit stretch. */
static guint time_scale = 1;

typedef struct {
  char  *dir;    /* the temporary folder */
  char  *root;   /* FLEETBOX_HOME, inside it */
  char **env;
  GPid   helper;
  GPtrArray *mounts;
} Sandbox;

/* -------------------------------------------------------------- mounts */

static char *
enter_private_mounts (void)
{
  if (geteuid () != 0)
    return g_strdup ("needs root to mount");
  if (unshare (CLONE_NEWNS) != 0)
    return g_strdup_printf ("cannot make a mount namespace: %s", g_strerror (errno));
  if (mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0)
    return g_strdup_printf ("cannot make mounts private: %s", g_strerror (errno));
  return NULL;
}

/* ------------------------------------------------------------- sandbox */

static Sandbox *
sandbox_new (void)
{
  Sandbox *sb = g_new0 (Sandbox, 1);
  g_autoptr(GError) error = NULL;

  sb->dir = g_dir_make_tmp ("holder-pidfile-faults-XXXXXX", &error);
  g_assert_no_error (error);
  sb->root = g_build_filename (sb->dir, "home", NULL);
  g_assert_cmpint (g_mkdir (sb->root, 0755), ==, 0);
  sb->env = g_get_environ ();
  sb->env = g_environ_unsetenv (sb->env, "FLEETBOX_PARENT_PID");
  sb->env = g_environ_unsetenv (sb->env, "FLEETBOX_FAKE_RECORD");
  sb->env = g_environ_unsetenv (sb->env, "FLEETBOX_FAKE_FAIL_CREATE");
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_HOME", sb->root, TRUE);
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_BACKEND", "fake", TRUE);
  sb->mounts = g_ptr_array_new_with_free_func (g_free);
  return sb;
}

static void
sandbox_free (Sandbox *sb)
{
  if (sb->helper != 0)
    {
      kill (sb->helper, SIGKILL);
      waitpid (sb->helper, NULL, 0);
    }
  /* Innermost first. */
  for (guint i = sb->mounts->len; i > 0; i--)
    if (umount2 (g_ptr_array_index (sb->mounts, i - 1), MNT_DETACH) != 0)
      g_warning ("umount %s: %s", (char *) g_ptr_array_index (sb->mounts, i - 1),
                 g_strerror (errno));
  holder_test_remove_tree (sb->dir);
  g_ptr_array_unref (sb->mounts);
  g_free (sb->dir);
  g_free (sb->root);
  g_strfreev (sb->env);
  g_free (sb);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Sandbox, sandbox_free)

/* <root>/clusters/<cluster>/<name>, created. */
static char *
member_dir (Sandbox    *sb,
            const char *name)
{
  char *dir = holder_store_member_dir (sb->root, name);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  return dir;
}

/* Nobody may write into @dir any more, root included. */
static void
make_read_only (Sandbox    *sb,
                const char *dir)
{
  if (geteuid () != 0)
    {
      g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
      return;
    }
  g_assert_null (mount_skip_reason);
  g_assert_cmpint (mount (dir, dir, "none", MS_BIND, NULL), ==, 0);
  g_ptr_array_add (sb->mounts, g_strdup (dir));
  g_assert_cmpint (mount ("none", dir, "none", MS_BIND | MS_REMOUNT | MS_RDONLY, NULL), ==, 0);
}

/* What open() in a read-only folder says to us. */
static const char *
read_only_reason (void)
{
  return g_strerror (geteuid () == 0 ? EROFS : EACCES);
}

/* Mounts a @size_kib tmpfs on @dir and fills it up. */
static void
mount_full_tmpfs (Sandbox    *sb,
                  const char *dir,
                  guint       size_kib)
{
  g_autofree char *options = g_strdup_printf ("size=%uk,mode=0755", size_kib);
  g_autofree char *filler = g_build_filename (dir, "filler", NULL);
  char block[4096];
  int fd;

  g_assert_cmpint (mount ("tmpfs", dir, "tmpfs", 0, options), ==, 0);
  g_ptr_array_add (sb->mounts, g_strdup (dir));

  memset (block, 'x', sizeof block);
  fd = open (filler, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  g_assert_cmpint (fd, >=, 0);
  for (;;)
    {
      ssize_t n = write (fd, block, sizeof block);

      if (n < 0)
        {
          g_assert_cmpint (errno, ==, ENOSPC);
          break;
        }
    }
  /* The last partial page too: not one byte more fits. */
  while (write (fd, block, 1) == 1)
    ;
  g_assert_cmpint (errno, ==, ENOSPC);
  close (fd);
}

static char *
socket_path (Sandbox    *sb,
             const char *name)
{
  g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
  g_autofree char *base = g_strdup_printf ("%.16s.sock", hex);

  return g_build_filename (sb->root, "run", base, NULL);
}

static char *
pidfile_path (Sandbox    *sb,
              const char *name)
{
  g_autofree char *dir = holder_store_member_dir (sb->root, name);

  return g_build_filename (dir, "pid", NULL);
}

/* Every file under @path whose name contains @needle, as paths. */
static void
find_files (const char *path,
            const char *needle,
            GPtrArray  *found)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, entry, NULL);

      if (strstr (entry, needle) != NULL)
        g_ptr_array_add (found, g_strdup (child));
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        find_files (child, needle, found);
    }
}

/* @name left nothing: no socket, no pidfile, and no temporary file
 * anywhere under the root. */
static void
assert_no_trace (Sandbox    *sb,
                 const char *name)
{
  g_autofree char *sock = socket_path (sb, name);
  g_autofree char *pidfile = pidfile_path (sb, name);
  g_autoptr(GPtrArray) temporaries = g_ptr_array_new_with_free_func (g_free);

  g_assert_false (g_file_test (sock, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (pidfile, G_FILE_TEST_EXISTS));
  find_files (sb->root, ".tmp-", temporaries);
  for (guint i = 0; i < temporaries->len; i++)
    g_test_message ("left behind: %s", (char *) g_ptr_array_index (temporaries, i));
  g_assert_cmpuint (temporaries->len, ==, 0);
}

/* ------------------------------------------------------------- helpers */

/* Drops the wrapper's own lines ("==pid== ..." from valgrind); its
 * findings still show in the exit status (--error-exitcode). */
static char *
strip_wrapper_lines (char *text)
{
  g_auto(GStrv) lines = NULL;
  GString *out;

  if (time_scale == 1)
    return text;
  lines = g_strsplit (text, "\n", -1);
  out = g_string_new (NULL);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "=="))
        continue;
      g_string_append (out, lines[i]);
      if (lines[i + 1] != NULL)
        g_string_append_c (out, '\n');
    }
  g_free (text);
  return g_string_free (out, FALSE);
}

/* [wrapper...] helper --fleetbox-runner @names, NULL-terminated. */
static GPtrArray *
helper_argv (const char *names)
{
  GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);
  const char *wrapper = g_getenv ("HOLDER_TEST_HELPER_WRAPPER");
  g_auto(GStrv) words = NULL;
  g_autoptr(GError) error = NULL;

  if (wrapper != NULL && wrapper[0] != '\0')
    {
      g_shell_parse_argv (wrapper, NULL, &words, &error);
      g_assert_no_error (error);
      for (guint i = 0; words[i] != NULL; i++)
        g_ptr_array_add (argv, g_strdup (words[i]));
    }
  g_ptr_array_add (argv, g_strdup (g_getenv ("HOLDER_TEST_HELPER")));
  g_ptr_array_add (argv, g_strdup ("--fleetbox-runner"));
  g_ptr_array_add (argv, g_strdup (names));
  g_ptr_array_add (argv, NULL);
  return argv;
}

/* Runs the helper for @names until it exits (within 30 s); returns its
 * wait status and its stderr. */
static int
run_helper_to_exit (Sandbox     *sb,
                    const char  *names,
                    char       **out_stderr)
{
  g_autoptr(GPtrArray) argv = helper_argv (names);
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) err = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) time_scale * 30 * G_USEC_PER_SEC;
  int err_fd = -1;
  int status = 0;
  GPid pid = 0;

  g_spawn_async_with_pipes (NULL, (char **) argv->pdata, sb->env,
                            G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                            NULL, NULL, &pid, NULL, NULL, &err_fd, &error);
  g_assert_no_error (error);
  sb->helper = pid;

  /* Read stderr to its end (the helper closes it as it exits). */
  for (;;)
    {
      struct pollfd pfd = { .fd = err_fd, .events = POLLIN };
      char buf[1024];
      ssize_t n;
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;

      g_assert_cmpint (left_ms, >, 0);
      g_assert_cmpint (poll (&pfd, 1, (int) left_ms), ==, 1);
      n = read (err_fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (err, buf, n);
    }
  close (err_fd);

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  sb->helper = 0;
  *out_stderr = strip_wrapper_lines (g_string_free (g_steal_pointer (&err), FALSE));
  return status;
}

static int
unix_connect (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd;

  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
    {
      close (fd);
      return -1;
    }
  return fd;
}

/* Starts a serving helper for @names, its stderr into <dir>/helper.err,
 * and waits until its first member's socket accepts. */
static void
spawn_helper (Sandbox    *sb,
              const char *names)
{
  g_autoptr(GPtrArray) argv = helper_argv (names);
  g_auto(GStrv) list = g_strsplit (names, ",", -1);
  g_autofree char *path = socket_path (sb, list[0]);
  g_autofree char *err_path = g_build_filename (sb->dir, "helper.err", NULL);
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + (gint64) time_scale * 10 * G_USEC_PER_SEC;
  int err_fd = open (err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

  g_assert_cmpint (err_fd, >=, 0);
  g_spawn_async_with_pipes_and_fds (NULL, (const char *const *) argv->pdata,
                                    (const char *const *) sb->env,
                                    G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                                    NULL, NULL, -1, -1, err_fd, NULL, NULL, 0,
                                    &sb->helper, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  close (err_fd);
  for (;;)
    {
      int fd = unix_connect (path);

      if (fd >= 0)
        {
          close (fd); /* a connection without a request is harmless */
          return;
        }
      g_assert_cmpint (waitpid (sb->helper, NULL, WNOHANG), ==, 0);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
}

/* What the helper wrote to stderr so far. */
static char *
helper_stderr (Sandbox *sb)
{
  g_autofree char *err_path = g_build_filename (sb->dir, "helper.err", NULL);
  char *contents = NULL;

  g_assert_true (g_file_get_contents (err_path, &contents, NULL, NULL));
  return strip_wrapper_lines (contents);
}

/* One request on @name's socket, the whole reply. */
static char *
request (Sandbox    *sb,
         const char *name,
         const char *line)
{
  g_autofree char *path = socket_path (sb, name);
  GString *reply = g_string_new (NULL);
  int fd = unix_connect (path);
  gsize len = strlen (line), done = 0;

  g_assert_cmpint (fd, >=, 0);
  while (done < len)
    {
      ssize_t n = send (fd, line + done, len - done, MSG_NOSIGNAL);

      g_assert_cmpint (n, >, 0);
      done += (gsize) n;
    }
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      char buf[1024];
      ssize_t n;

      g_assert_cmpint (poll (&pfd, 1, (int) time_scale * 30000), ==, 1);
      n = read (fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (reply, buf, n);
    }
  close (fd);
  return g_string_free (reply, FALSE);
}

static char *
boot_line (Sandbox    *sb,
           const char *name)
{
  return g_strdup_printf ("{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"%s\","
                          "\"disk_path\":\"%s/%s.raw\",\"seed_path\":\"%s/%s.seed\","
                          "\"cpus\":1,\"memory_bytes\":268435456}}\n",
                          name, sb->dir, name, sb->dir, name);
}

static void
assert_reply (Sandbox    *sb,
              const char *via,
              const char *line,
              const char *expected)
{
  g_autofree char *reply = request (sb, via, line);

  g_assert_cmpstr (reply, ==, expected);
}

static void
assert_status (Sandbox    *sb,
               const char *name,
               const char *state)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderStatus) status = holder_client_status (sb->root, name, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (status->state, ==, state);
  g_assert_cmpint (status->pid, ==, sb->helper);
}

#define SKIP_UNLESS(cond, reason) \
  G_STMT_START { \
    if (!(cond)) \
      { \
        g_test_skip (reason); \
        return; \
      } \
  } G_STMT_END

/* ---------------------------------------------------------------- tests */

/* The second member's folder is read-only: the helper exits 1 with one
 * line, and the first member, registered already, is undone too. */
static void
test_read_only_folder_at_launch (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autofree char *ro_dir = NULL;
  g_autofree char *err = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *pidfile = NULL;
  int status;

  SKIP_UNLESS (g_getenv ("HOLDER_TEST_HELPER") != NULL, "HOLDER_TEST_HELPER is not set");
  SKIP_UNLESS (geteuid () != 0 || mount_skip_reason == NULL, mount_skip_reason);
  sb = sandbox_new ();
  ro_dir = member_dir (sb, "ro-1");
  make_read_only (sb, ro_dir);

  status = run_helper_to_exit (sb, "good-1,ro-1", &err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  pidfile = pidfile_path (sb, "ro-1");
  expected = g_strdup_printf ("fleetbox-helper: register ro-1: write pidfile: "
                              "create a temporary file for %s: %s\n",
                              pidfile, read_only_reason ());
  g_assert_cmpstr (err, ==, expected);

  assert_no_trace (sb, "ro-1");
  assert_no_trace (sb, "good-1");
}

/* The storage root is a full disk. */
static void
test_full_disk_at_launch (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autofree char *err = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *pidfile = NULL;
  int status;

  SKIP_UNLESS (g_getenv ("HOLDER_TEST_HELPER") != NULL, "HOLDER_TEST_HELPER is not set");
  SKIP_UNLESS (mount_skip_reason == NULL, mount_skip_reason);
  sb = sandbox_new ();
  mount_full_tmpfs (sb, sb->root, 256);

  status = run_helper_to_exit (sb, "full-1", &err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  pidfile = pidfile_path (sb, "full-1");
  expected = g_strdup_printf ("fleetbox-helper: register full-1: write pidfile: write %s: %s\n",
                              pidfile, g_strerror (ENOSPC));
  g_assert_cmpstr (err, ==, expected);

  assert_no_trace (sb, "full-1");
}

/* A runtime add whose folder is read-only gets an error reply; the helper
 * serves its other members on, and adds another one fine. */
static void
test_read_only_folder_at_runtime (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autofree char *ro_dir = NULL;
  g_autofree char *pidfile = NULL;
  g_autofree char *line = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  SKIP_UNLESS (g_getenv ("HOLDER_TEST_HELPER") != NULL, "HOLDER_TEST_HELPER is not set");
  SKIP_UNLESS (geteuid () != 0 || mount_skip_reason == NULL, mount_skip_reason);
  sb = sandbox_new ();
  spawn_helper (sb, "srv-1");
  assert_reply (sb, "srv-1", "{\"cmd\":\"createnetwork\"}\n", "{}\n");
  for (guint i = 0; i < 3; i++)
    {
      const char *name = (const char *[]) { "srv-1", "ro-2", "late-3" }[i];
      g_autofree char *reserve = g_strdup_printf ("{\"cmd\":\"reserve\",\"name\":\"%s\"}\n", name);
      g_autofree char *reply = request (sb, "srv-1", reserve);

      g_assert_true (g_str_has_prefix (reply, "{\"reservation\":{\"mac\":"));
    }
  line = boot_line (sb, "srv-1");
  assert_reply (sb, "srv-1", line, "{}\n");
  g_clear_pointer (&line, g_free);

  ro_dir = member_dir (sb, "ro-2");
  make_read_only (sb, ro_dir);
  pidfile = pidfile_path (sb, "ro-2");
  expected = g_strdup_printf ("{\"error\":\"register ro-2: write pidfile: "
                              "create a temporary file for %s: %s\"}\n",
                              pidfile, read_only_reason ());
  line = boot_line (sb, "ro-2");
  assert_reply (sb, "srv-1", line, expected);
  g_clear_pointer (&line, g_free);
  assert_no_trace (sb, "ro-2");

  /* Nothing else moved: srv-1 runs, the helper adds late-3. */
  g_assert_cmpint (waitpid (sb->helper, NULL, WNOHANG), ==, 0);
  assert_status (sb, "srv-1", "running");
  /* The failed member's listener was shut properly: an active
   * GSocketService whose listener is closed under it spins, warning
   * "fail: Listener is already closed" in a loop. */
  err = helper_stderr (sb);
  g_assert_cmpstr (err, ==, "");
  assert_status (sb, "srv-1", "running");
  line = boot_line (sb, "late-3");
  assert_reply (sb, "srv-1", line, "{}\n");
  assert_status (sb, "late-3", "running");

  /* A retry after the folder is fixed would work; here the helper just
   * goes cleanly. */
  g_assert_cmpint (kill (sb->helper, SIGTERM), ==, 0);
  g_assert_cmpint (waitpid (sb->helper, &status, 0), ==, sb->helper);
  sb->helper = 0;
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  assert_no_trace (sb, "srv-1");
  assert_no_trace (sb, "late-3");
}

int
main (int    argc,
      char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  mount_skip_reason = enter_private_mounts ();
  if (g_getenv ("HOLDER_TEST_HELPER_WRAPPER") != NULL)
    time_scale = 20;

  g_test_add_func ("/pidfile-faults/read-only-folder-at-launch", test_read_only_folder_at_launch);
  g_test_add_func ("/pidfile-faults/full-disk-at-launch", test_full_disk_at_launch);
  g_test_add_func ("/pidfile-faults/read-only-folder-at-runtime", test_read_only_folder_at_runtime);

  ret = g_test_run ();
  g_free (mount_skip_reason);
  return ret;
}
