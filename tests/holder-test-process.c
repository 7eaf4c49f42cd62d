/* holder-test-process.c: see holder-test-process.h.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-test-process"

#include "holder-test-process.h"
#include "holder-test-util.h"

#include <grp.h>

/* HOLDER_TEST_HELPER_WRAPPER (e.g. "valgrind -q --error-exitcode=1") runs
 * every helper under a wrapper; timing bounds stretch accordingly, and
 * also when this test itself runs under valgrind. */
gboolean wrapped;
gboolean self_slow;

guint
scaled (guint ms)
{
  return wrapped ? ms * 20 : self_slow ? ms * 10 : ms;
}


/* Polls @condition every POLL_MS until it holds or @timeout_ms passed. */
gboolean
wait_until (ConditionFunc condition,
            gpointer      data,
            guint         timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      if (condition (data))
        return TRUE;
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      g_usleep (POLL_MS * 1000);
    }
}

double
ms_since (gint64 start_usec)
{
  return (g_get_monotonic_time () - start_usec) / 1000.0;
}

/* ---- helpers that must not outlive the test ----------------------------
 * A failed assertion aborts, and meson's timeout sends SIGTERM: either way
 * every helper still tracked gets SIGKILL first. */

#define MAX_TRACKED 64
static volatile sig_atomic_t tracked[MAX_TRACKED];

void
track_pid (GPid pid)
{
  for (guint i = 0; i < MAX_TRACKED; i++)
    if (tracked[i] == 0)
      {
        tracked[i] = pid;
        return;
      }
  g_assert_not_reached ();
}

void
untrack_pid (GPid pid)
{
  for (guint i = 0; i < MAX_TRACKED; i++)
    if (tracked[i] == pid)
      tracked[i] = 0;
}

void
on_fatal_signal (int sig)
{
  for (guint i = 0; i < MAX_TRACKED; i++)
    if (tracked[i] > 0)
      kill (tracked[i], SIGKILL);
  signal (sig, SIG_DFL);
  raise (sig);
}

void
process_test_init (void)
{
  const char *wrapper = g_getenv ("HOLDER_TEST_HELPER_WRAPPER");
  const char *preload = g_getenv ("LD_PRELOAD");

  wrapped = wrapper != NULL && wrapper[0] != '\0';
  self_slow = preload != NULL && strstr (preload, "vgpreload") != NULL;
  /* PID 1 here does not reap orphans: helpers whose parent dies come to
   * us, and we reap them. */
  g_assert_no_errno (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
  signal (SIGPIPE, SIG_IGN);
  signal (SIGABRT, on_fatal_signal);
  signal (SIGTERM, on_fatal_signal);
  signal (SIGSEGV, on_fatal_signal);
  /* g_error() ends with a breakpoint trap, not an abort. */
  signal (SIGTRAP, on_fatal_signal);
  signal (SIGBUS, on_fatal_signal);
  signal (SIGINT, on_fatal_signal);
}

/* Dead: no such process, or a zombie. */
gboolean
pid_gone (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *contents = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return TRUE;
  paren = strrchr (contents, ')');
  g_assert_nonnull (paren);
  return paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

gboolean
pid_gone_cb (gpointer data)
{
  return pid_gone (GPOINTER_TO_INT (data));
}

void
kill_and_wait_gone (GPid pid)
{
  if (pid <= 0)
    return;
  if (!pid_gone (pid))
    kill (pid, SIGKILL);
  g_assert_true (wait_until (pid_gone_cb, GINT_TO_POINTER (pid), 10000));
  untrack_pid (pid);
}

/* ---- paths, computed independently of the library --------------------- */

char *
sha256_hex16 (const char *s)
{
  g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, s, -1);

  return g_strndup (hex, 16);
}

/* The name minus one trailing "-<digits>", unless nothing would be left. */
char *
cluster_of (const char *name)
{
  const char *dash = strrchr (name, '-');
  const char *p;

  if (dash == NULL || dash == name || dash[1] == '\0')
    return g_strdup (name);
  for (p = dash + 1; *p != '\0'; p++)
    if (!g_ascii_isdigit (*p))
      return g_strdup (name);
  return g_strndup (name, dash - name);
}

char *
expected_mac (const char *name)
{
  g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *input = g_strdup_printf ("fleetbox:%s", name);
  guint8 digest[32];
  gsize len = sizeof digest;

  g_checksum_update (sum, (const guchar *) input, -1);
  g_checksum_get_digest (sum, digest, &len);
  digest[0] = (digest[0] & 0xfe) | 0x02;
  return g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x", digest[0], digest[1],
                          digest[2], digest[3], digest[4], digest[5]);
}

/* ---- a sandbox: a temporary folder holding the storage root ------------ */


static const char *const inherited_knobs[] = {
  "FLEETBOX_PARENT_PID", "FLEETBOX_FAKE_FAIL_CREATE", "FLEETBOX_FAKE_FAIL_START",
  "FLEETBOX_FAKE_FAIL_IP", "FLEETBOX_FAKE_BOOT_DELAY", "FLEETBOX_FAKE_STOP_DELAY",
  "FLEETBOX_FAKE_EXIT_AFTER", "FLEETBOX_IP_WAIT_TIMEOUT", NULL,
};

void
sandbox_setenv (Sandbox    *sb,
                const char *key,
                const char *value)
{
  if (value == NULL)
    sb->env = g_environ_unsetenv (sb->env, key);
  else
    sb->env = g_environ_setenv (sb->env, key, value, TRUE);
}

Sandbox *
sandbox_new (void)
{
  Sandbox *sb = g_new0 (Sandbox, 1);
  g_autoptr(GError) error = NULL;
  const char *helper = g_getenv ("HOLDER_TEST_HELPER");
  const char *wrapper = g_getenv ("HOLDER_TEST_HELPER_WRAPPER");

  g_assert_nonnull (helper);
  sb->dir = g_dir_make_tmp ("holder-proc-XXXXXX", &error);
  g_assert_no_error (error);
  sb->root = g_build_filename (sb->dir, "home", NULL);
  sb->record = g_build_filename (sb->dir, "record.ndjson", NULL);

  if (wrapper != NULL && wrapper[0] != '\0')
    {
      /* exec keeps the pid: the pidfile, getppid() and our waits still
       * name the helper itself. */
      g_autofree char *quoted = g_shell_quote (helper);
      g_autofree char *script = g_strdup_printf ("#!/bin/sh\nexec %s %s \"$@\"\n",
                                                 wrapper, quoted);

      sb->program = g_build_filename (sb->dir, "helper.sh", NULL);
      g_file_set_contents (sb->program, script, -1, &error);
      g_assert_no_error (error);
      g_assert_no_errno (g_chmod (sb->program, 0755));
    }
  else
    sb->program = g_strdup (helper);

  sb->env = g_get_environ ();
  for (guint i = 0; inherited_knobs[i] != NULL; i++)
    sandbox_setenv (sb, inherited_knobs[i], NULL);
  sandbox_setenv (sb, "FLEETBOX_HOME", sb->root);
  sandbox_setenv (sb, "FLEETBOX_BACKEND", "fake");
  sandbox_setenv (sb, "FLEETBOX_FAKE_RECORD", sb->record);
  return sb;
}

void
sandbox_free (Sandbox *sb)
{
  holder_test_remove_tree (sb->dir);
  g_free (sb->dir);
  g_free (sb->root);
  g_free (sb->record);
  g_free (sb->program);
  g_strfreev (sb->env);
  g_free (sb);
}


char *
sock_path (Sandbox    *sb,
           const char *name)
{
  g_autofree char *h = sha256_hex16 (name);
  g_autofree char *file = g_strdup_printf ("%s.sock", h);

  return g_build_filename (sb->root, "run", file, NULL);
}

char *
ctl_path (Sandbox    *sb,
          const char *primary)
{
  g_autofree char *h = sha256_hex16 (primary);
  g_autofree char *file = g_strdup_printf ("%s.ctl", h);

  return g_build_filename (sb->root, "run", file, NULL);
}

char *
member_dir (Sandbox    *sb,
            const char *name)
{
  g_autofree char *cluster = cluster_of (name);

  return g_build_filename (sb->root, "clusters", cluster, name, NULL);
}

char *
pidfile_path (Sandbox    *sb,
              const char *name)
{
  g_autofree char *dir = member_dir (sb, name);

  return g_build_filename (dir, "pid", NULL);
}

/* The pidfile's pid, read strictly (digits only, no newline); 0 if absent
 * or malformed. */
GPid
read_pidfile (Sandbox    *sb,
              const char *name)
{
  g_autofree char *path = pidfile_path (sb, name);
  g_autofree char *contents = NULL;
  guint64 pid = 0;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  if (!g_ascii_string_to_unsigned (contents, 10, 1, G_MAXINT, &pid, NULL))
    return 0;
  return (GPid) pid;
}

gboolean
path_exists (const char *path)
{
  struct stat st;

  return lstat (path, &st) == 0;
}

gboolean
is_socket (const char *path)
{
  struct stat st;

  return lstat (path, &st) == 0 && S_ISSOCK (st.st_mode);
}

/* Nothing of the helper's is left: no socket or pidfile of @names, and no
 * control socket (nor any other socket) under run/. */
void
assert_no_helper_files (Sandbox           *sb,
                        const char *const *names)
{
  g_autofree char *run = g_build_filename (sb->root, "run", NULL);
  GDir *dir;
  const char *entry;

  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *sock = sock_path (sb, names[i]);
      g_autofree char *pid = pidfile_path (sb, names[i]);

      g_assert_false (path_exists (sock));
      g_assert_false (path_exists (pid));
    }
  dir = g_dir_open (run, 0, NULL);
  if (dir == NULL)
    return;
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *msg = g_strdup_printf ("left behind: run/%s", entry);

      g_assert_cmpstr (msg, ==, "nothing left in run/");
    }
  g_dir_close (dir);
}

/* ---- raw socket I/O ----------------------------------------------------- */

int
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

gboolean
write_all (int         fd,
           const void *data,
           gsize       len)
{
  const char *p = data;

  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= n;
    }
  return TRUE;
}

/* One read of at most @max bytes, waiting up to @timeout_ms. Returns the
 * byte count, 0 on EOF, -1 on error, -2 on timeout. */
gssize
read_once (int    fd,
           char  *buf,
           gsize  max,
           guint  timeout_ms)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  int r;

  do
    r = poll (&pfd, 1, (int) timeout_ms);
  while (r < 0 && errno == EINTR);
  if (r == 0)
    return -2;
  return read (fd, buf, max);
}

/* Everything until EOF (a reset after data counts as EOF: the server
 * closed with our unread bytes). NULL on timeout. */
char *
read_to_eof (int    fd,
             guint  timeout_ms,
             gsize *out_len)
{
  g_autoptr(GString) out = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      char buf[4096];
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      gssize n;

      if (left <= 0)
        return NULL;
      n = read_once (fd, buf, sizeof buf, (guint) left);
      if (n == -2 || (n < 0 && errno == EINTR))
        continue;
      if (n <= 0)
        break;
      g_string_append_len (out, buf, n);
    }
  if (out_len != NULL)
    *out_len = out->len;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* One request, its whole reply. NULL when the socket does not accept or
 * no EOF came within @timeout_ms. */
char *
roundtrip (const char *path,
           const char *request,
           guint       timeout_ms)
{
  int fd = unix_connect (path);
  char *reply;

  if (fd < 0)
    return NULL;
  if (!write_all (fd, request, strlen (request)))
    {
      close (fd);
      return NULL;
    }
  reply = read_to_eof (fd, timeout_ms, NULL);
  close (fd);
  return reply;
}

char *
member_request (Sandbox    *sb,
                const char *name,
                const char *request)
{
  g_autofree char *path = sock_path (sb, name);

  return roundtrip (path, request, scaled (10000));
}

char *
status_of (Sandbox    *sb,
           const char *name)
{
  return member_request (sb, name, "{\"cmd\":\"status\"}\n");
}

char *
expected_status (const char *name,
                 GPid        pid,
                 gboolean    running,
                 const char *ip,
                 const char *state,
                 const char *error_json)
{
  g_autofree char *error_part = error_json != NULL
    ? g_strdup_printf (",\"error\":\"%s\"", error_json) : g_strdup ("");

  return g_strdup_printf ("{\"status\":{\"name\":\"%s\",\"pid\":%d,\"running\":%s,"
                          "\"ip\":\"%s\",\"state\":\"%s\"%s}}\n",
                          name, (int) pid, running ? "true" : "false", ip, state,
                          error_part);
}

/* The status, byte for byte; the pid in it must be the pidfile's. */
void
assert_status (Sandbox    *sb,
               const char *name,
               GPid        pid,
               gboolean    running,
               const char *ip,
               const char *state,
               const char *error_json)
{
  g_autofree char *reply = status_of (sb, name);
  g_autofree char *expected = expected_status (name, pid, running, ip, state, error_json);

  g_assert_cmpint (read_pidfile (sb, name), ==, pid);
  g_assert_cmpstr (reply, ==, expected);
}

/* ---- spawning ----------------------------------------------------------- */

/* The helper as a direct child (program + @args), stdout silenced. */
GSubprocess *
spawn_helper (Sandbox           *sb,
              const char *const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_ptr_array_add (argv, sb->program);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_environ (launcher, sb->env);
  process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  track_pid (atoi (g_subprocess_get_identifier (process)));
  return process;
}

GPid
subprocess_pid (GSubprocess *process)
{
  const char *id = g_subprocess_get_identifier (process);

  return id != NULL ? atoi (id) : 0;
}

gboolean
subprocess_reaped (gpointer data)
{
  return g_subprocess_get_identifier (data) == NULL;
}

/* Waits for @process to exit within @timeout_ms and returns its exit
 * code (failing if it was killed by a signal). */
int
wait_exit (GSubprocess *process,
           GPid         pid,
           guint        timeout_ms)
{
  g_autoptr(GError) error = NULL;

  if (!wait_until (subprocess_reaped, process, timeout_ms))
    g_error ("helper %d did not exit within %u ms", (int) pid, timeout_ms);
  /* Synchronises with the reaper thread; returns at once. */
  g_subprocess_wait (process, NULL, &error);
  g_assert_no_error (error);
  untrack_pid (pid);
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

typedef struct {
  Sandbox           *sb;
  const char *const *names;
  GPid               pid;
  gboolean           bound;
  GSubprocess       *process; /* nullable: gives up early if it exits */
} ReadyData;

gboolean
ready_cb (gpointer data)
{
  ReadyData *r = data;

  if (r->process != NULL && g_subprocess_get_identifier (r->process) == NULL)
    return TRUE;
  for (guint i = 0; r->names[i] != NULL; i++)
    {
      g_autofree char *sock = sock_path (r->sb, r->names[i]);

      if (read_pidfile (r->sb, r->names[i]) != r->pid || !is_socket (sock))
        return FALSE;
    }
  if (r->bound)
    {
      g_autofree char *ctl = ctl_path (r->sb, r->names[0]);

      return is_socket (ctl);
    }
  return TRUE;
}

/* Every member registered (pidfile naming @pid, socket there) and, bound,
 * the control socket listening. */
void
wait_ready (Sandbox           *sb,
            GSubprocess       *process,
            GPid               pid,
            const char *const *names,
            gboolean           bound)
{
  ReadyData r = { sb, names, pid, bound, process };

  g_assert_true (wait_until (ready_cb, &r, scaled (10000)));
  if (process != NULL)
    g_assert_nonnull (g_subprocess_get_identifier (process));
}

char *
boot_request (const char *name)
{
  return g_strdup_printf ("{\"cmd\":\"boot-member\",\"spec\":{\"name\":\"%s\","
                          "\"disk_path\":\"/nonexistent/%s.qcow2\","
                          "\"seed_path\":\"/nonexistent/%s-seed.iso\","
                          "\"cpus\":1,\"memory_bytes\":536870912}}\n",
                          name, name, name);
}

char *
reserve_request (const char *name)
{
  return g_strdup_printf ("{\"cmd\":\"reserve\",\"name\":\"%s\"}\n", name);
}

char **
read_record (Sandbox *sb)
{
  g_autofree char *contents = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) split = NULL;

  if (!g_file_get_contents (sb->record, &contents, NULL, NULL))
    contents = g_strdup ("");
  if (contents[0] != '\0')
    g_assert_true (g_str_has_suffix (contents, "\n"));
  split = g_strsplit (contents, "\n", -1);
  for (guint i = 0; split[i] != NULL; i++)
    if (split[i][0] != '\0')
      g_ptr_array_add (lines, g_strdup (split[i]));
  g_ptr_array_add (lines, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&lines), FALSE);
}

guint
record_count (Sandbox    *sb,
              const char *line)
{
  g_auto(GStrv) lines = read_record (sb);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_equal (lines[i], line))
      n++;
  return n;
}


/* ---- acting as other users -------------------------------------------- */

void
sandbox_own_by (Sandbox *sb,
                uid_t    uid)
{
  g_autofree char *id = g_strdup_printf ("%u", (guint) uid);

  g_assert_no_errno (chown (sb->dir, uid, uid));
  g_assert_no_errno (chmod (sb->dir, 0755));
  sandbox_setenv (sb, "SUDO_UID", id);
  sandbox_setenv (sb, "SUDO_GID", id);
}

pid_t
fork_as (uid_t uid)
{
  pid_t pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      if (setgroups (0, NULL) != 0 || setresgid (uid, uid, uid) != 0 ||
          setresuid (uid, uid, uid) != 0)
        _exit (125);
      prctl (PR_SET_PDEATHSIG, SIGKILL);
    }
  return pid;
}

void
child_exit_ok (void)
{
  execl ("/bin/true", "true", (char *) NULL);
  _exit (0);
}

int
wait_child (pid_t pid)
{
  int status = 0;

  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

GSubprocess *
spawn_helper_piped (Sandbox    *sb,
                    const char *names_csv)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_set_environ (launcher, sb->env);
  process = g_subprocess_launcher_spawn (launcher, &error, sb->program, "--fleetbox-runner",
                                         names_csv, NULL);
  g_assert_no_error (error);
  track_pid (subprocess_pid (process));
  return process;
}

int
run_helper_to_exit (Sandbox     *sb,
                    const char  *names_csv,
                    guint        timeout_ms,
                    char       **out_stderr)
{
  g_autoptr(GSubprocess) process = spawn_helper_piped (sb, names_csv);
  GPid pid = subprocess_pid (process);
  GInputStream *err = g_subprocess_get_stderr_pipe (process);
  g_autoptr(GString) text = g_string_new (NULL);
  int status;

  status = wait_exit (process, pid, timeout_ms);
  /* It has exited: its stderr is complete, and small. */
  for (;;)
    {
      char buf[4096];
      gssize n = g_input_stream_read (err, buf, sizeof buf, NULL, NULL);

      if (n <= 0)
        break;
      g_string_append_len (text, buf, n);
    }
  *out_stderr = without_wrapper_lines (text->str);
  return status;
}

char *
without_wrapper_lines (const char *text)
{
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GString *out = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "=="))
        continue;
      g_string_append (out, lines[i]);
      if (lines[i + 1] != NULL)
        g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

char *
file_fingerprint (const char *path)
{
  g_autofree char *contents = NULL;
  struct stat st;

  if (lstat (path, &st) != 0)
    return g_strdup_printf ("%s: %s", path, g_strerror (errno));
  if (S_ISREG (st.st_mode))
    g_file_get_contents (path, &contents, NULL, NULL);
  return g_strdup_printf ("%s: mode %06o uid %u gid %u ino %lu: %s", path, (guint) st.st_mode,
                          (guint) st.st_uid, (guint) st.st_gid, (gulong) st.st_ino,
                          contents != NULL ? contents : "");
}

gboolean
unix_socket_bound_under (const char *needle)
{
  g_autofree char *table = NULL;

  g_assert_true (g_file_get_contents ("/proc/net/unix", &table, NULL, NULL));
  return strstr (table, needle) != NULL;
}
