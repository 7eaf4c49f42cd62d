/* test-spawn.c: a child started without waiting for its exec
 * (holder-spawn.h), as the cloud-hypervisor backend starts its VMM.
 *
 * - The passed descriptors arrive at their numbers, stdin and stdout are
 *   /dev/null, stderr is the pipe; a descriptor of the parent's that was
 *   not passed (even one without FD_CLOEXEC) does not cross.
 * - An exec that fails is told by the child's exit (127) and the report
 *   descriptor: the errno's text; one that runs reports nothing.
 * - The child starts with no signal blocked and SIGPIPE at its default,
 *   whatever the spawner blocks or ignores, and the spawner's own signal
 *   state is as it was.
 * - The running child dies with the thread that spawned it
 *   (PR_SET_PDEATHSIG).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "test-spawn"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "holder-backend.h"
#include "holder-spawn.h"

/* Not passed, and not close-on-exec: only the spawn's own closing keeps
 * it from the child. */
#define STRAY_FD 57

typedef struct {
  GMainLoop *loop;
  int        wait_status;
} Exit;

static void
on_child_exit (GPid     pid,
         int      wait_status,
         gpointer user_data)
{
  Exit *done = user_data;

  done->wait_status = wait_status;
  g_main_loop_quit (done->loop);
}

/* The child's wait status, reaped on a main loop as the backend reaps. */
static int
wait_child (GPid pid)
{
  Exit done = { g_main_loop_new (NULL, FALSE), -1 };

  g_child_watch_add (pid, on_child_exit, &done);
  g_main_loop_run (done.loop);
  g_main_loop_unref (done.loop);
  return done.wait_status;
}

static char *
read_all (int fd)
{
  GString *text = g_string_new (NULL);
  char chunk[256];
  ssize_t n;

  while ((n = read (fd, chunk, sizeof chunk)) > 0)
    g_string_append_len (text, chunk, n);
  g_assert_cmpint (n, ==, 0);
  return g_string_free (text, FALSE);
}

static void
test_descriptors (void)
{
  /* The shell lists its own descriptors, and reads the two passed ones. */
  const char *script =
    "for fd in 0 1 2 3 4 " G_STRINGIFY (STRAY_FD) "; do"
    "  [ -e /proc/$$/fd/$fd ] && echo \"$fd $(readlink /proc/$$/fd/$fd)\" >&2;"
    "done;"
    "read -r a <&3; read -r b <&4; echo \"3:$a 4:$b\" >&2";
  const char *argv[] = { "/bin/sh", "-c", script, NULL };
  int first[2], second[2];
  int fds[2];
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  HolderSpawn spawn;
  int status;

  g_assert_no_errno (pipe (first));
  g_assert_no_errno (pipe (second));
  g_assert_cmpint (dup2 (first[0], STRAY_FD), ==, STRAY_FD);
  g_assert_cmpint (write (first[1], "one\n", 4), ==, 4);
  g_assert_cmpint (write (second[1], "two\n", 4), ==, 4);
  close (first[1]);
  close (second[1]);
  fds[0] = first[0];
  fds[1] = second[0];

  g_assert_true (holder_spawn_start (argv, fds, 2, 3, &spawn, &error));
  g_assert_no_error (error);
  g_assert_cmpint (spawn.pid, >, 0);
  /* The parent's read end of stderr is not inherited by later children. */
  g_assert_cmpint (fcntl (spawn.stderr_fd, F_GETFD), ==, FD_CLOEXEC);
  g_assert_cmpint (fcntl (spawn.report_fd, F_GETFD), ==, FD_CLOEXEC);

  output = read_all (spawn.stderr_fd);
  status = wait_child (spawn.pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_null (holder_spawn_exec_error (spawn.report_fd));

  g_test_message ("the child said:\n%s", output);
  g_assert_true (g_str_has_prefix (output, "0 /dev/null\n1 /dev/null\n2 pipe:["));
  g_assert_nonnull (strstr (output, "\n3 pipe:["));
  g_assert_nonnull (strstr (output, "\n4 pipe:["));
  g_assert_null (strstr (output, "\n" G_STRINGIFY (STRAY_FD) " "));
  g_assert_true (g_str_has_suffix (output, "3:one 4:two\n"));

  close (spawn.stderr_fd);
  close (spawn.report_fd);
  close (first[0]);
  close (second[0]);
  close (STRAY_FD);
}

static void
test_exec_fails (void)
{
  g_autofree char *dir = g_dir_make_tmp ("test-spawn-XXXXXX", NULL);
  g_autofree char *not_executable = g_build_filename (dir, "plain-file", NULL);
  const char *missing[] = { "/nonexistent/cloud-hypervisor", NULL };
  const char *plain[] = { not_executable, NULL };
  const struct {
    const char *const *argv;
    const char        *message;
  } cases[] = {
    { missing, "No such file or directory" },
    { plain, "Permission denied" },
  };

  g_assert_true (g_file_set_contents (not_executable, "not a program", -1, NULL));
  g_assert_no_errno (chmod (not_executable, 0644));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *why = NULL;
      g_autofree char *output = NULL;
      HolderSpawn spawn;
      int status;

      g_assert_true (holder_spawn_start (cases[i].argv, NULL, 0, 3, &spawn, &error));
      g_assert_no_error (error);
      status = wait_child (spawn.pid);
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 127);
      why = holder_spawn_exec_error (spawn.report_fd);
      g_assert_cmpstr (why, ==, cases[i].message);
      output = read_all (spawn.stderr_fd);
      g_assert_cmpstr (output, ==, "");
      close (spawn.stderr_fd);
      close (spawn.report_fd);
    }
  g_assert_no_errno (unlink (not_executable));
  g_assert_no_errno (rmdir (dir));
}

/* A program exiting 127 by itself is not an exec failure. */
static void
test_exit_127_ran (void)
{
  const char *argv[] = { "/bin/sh", "-c", "exit 127", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *why = NULL;
  HolderSpawn spawn;
  int status;

  g_assert_true (holder_spawn_start (argv, NULL, 0, 3, &spawn, &error));
  g_assert_no_error (error);
  status = wait_child (spawn.pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 127);
  why = holder_spawn_exec_error (spawn.report_fd);
  g_assert_null (why);
  close (spawn.stderr_fd);
  close (spawn.report_fd);
}

static void
test_bad_descriptor (void)
{
  const char *argv[] = { "/bin/true", NULL };
  const int fds[] = { 0, -1 };
  g_autoptr(GError) error = NULL;
  HolderSpawn spawn;

  g_assert_false (holder_spawn_start (argv, fds, 2, 3, &spawn, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "no descriptor to pass as 4");
}

static void
on_usr1 (int sig)
{
}

/* The "SigBlk:" or "SigIgn:" mask of /proc/<pid>/status in @status. */
static guint64
status_mask (const char *status,
             const char *field)
{
  const char *line = strstr (status, field);

  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen (field), NULL, 16);
}

static void
test_signals (void)
{
  const char *argv[] = { "/bin/sh", "-c", "cat /proc/$$/status >&2", NULL };
  struct sigaction handler = { .sa_handler = on_usr1 }, ignore = { .sa_handler = SIG_IGN };
  struct sigaction old_usr1, old_pipe, now;
  sigset_t usr2, old_mask, mask_now;
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  HolderSpawn spawn;
  guint64 pipe_bit = G_GUINT64_CONSTANT (1) << (SIGPIPE - 1);

  g_assert_no_errno (sigaction (SIGUSR1, &handler, &old_usr1));
  g_assert_no_errno (sigaction (SIGPIPE, &ignore, &old_pipe));
  sigemptyset (&usr2);
  sigaddset (&usr2, SIGUSR2);
  g_assert_cmpint (pthread_sigmask (SIG_BLOCK, &usr2, &old_mask), ==, 0);

  g_assert_true (holder_spawn_start (argv, NULL, 0, 3, &spawn, &error));
  g_assert_no_error (error);
  output = read_all (spawn.stderr_fd);
  g_assert_true (WIFEXITED (wait_child (spawn.pid)));
  g_assert_cmpuint (status_mask (output, "\nSigBlk:"), ==, 0);
  g_assert_cmpuint (status_mask (output, "\nSigIgn:") & pipe_bit, ==, 0);

  /* The spawner's state is its own again. */
  g_assert_cmpint (pthread_sigmask (SIG_SETMASK, NULL, &mask_now), ==, 0);
  g_assert_true (sigismember (&mask_now, SIGUSR2));
  g_assert_no_errno (sigaction (SIGPIPE, NULL, &now));
  g_assert_true (now.sa_handler == SIG_IGN);
  g_assert_no_errno (sigaction (SIGUSR1, NULL, &now));
  g_assert_true (now.sa_handler == on_usr1);

  g_assert_cmpint (pthread_sigmask (SIG_SETMASK, &old_mask, NULL), ==, 0);
  g_assert_no_errno (sigaction (SIGUSR1, &old_usr1, NULL));
  g_assert_no_errno (sigaction (SIGPIPE, &old_pipe, NULL));
  close (spawn.stderr_fd);
  close (spawn.report_fd);
}

/* The spawning thread ends once its child runs: the child is killed. (A
 * thread that ends before the child's prctl() would not be noticed; the
 * backend spawns from the main thread, whose end is the process's, which
 * the child's getppid() check covers.) */
static gpointer
spawn_and_return (gpointer data)
{
  const char *argv[] = { "/bin/sleep", "600", NULL };
  HolderSpawn *spawn = data;
  struct pollfd report = { 0 };

  g_assert_true (holder_spawn_start (argv, NULL, 0, 3, spawn, NULL));
  /* The exec closes the report pipe's last write end. */
  report.fd = spawn->report_fd;
  report.events = POLLIN;
  g_assert_cmpint (poll (&report, 1, -1), ==, 1);
  g_assert_cmpint (report.revents & POLLHUP, !=, 0);
  return NULL;
}

static void
test_dies_with_spawner (void)
{
  HolderSpawn spawn = { 0 };
  int status;

  g_thread_join (g_thread_new ("spawner", spawn_and_return, &spawn));
  status = wait_child (spawn.pid);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
  close (spawn.stderr_fd);
  close (spawn.report_fd);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/spawn/descriptors", test_descriptors);
  g_test_add_func ("/spawn/exec-fails", test_exec_fails);
  g_test_add_func ("/spawn/exit-127-ran", test_exit_127_ran);
  g_test_add_func ("/spawn/bad-descriptor", test_bad_descriptor);
  g_test_add_func ("/spawn/signals", test_signals);
  g_test_add_func ("/spawn/dies-with-spawner", test_dies_with_spawner);
  return g_test_run ();
}
