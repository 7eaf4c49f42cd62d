/* holder-test-net.c: see holder-test-net.h.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-test"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <asm-generic/socket.h>

#include <glib/gstdio.h>

#include "holder-test-net.h"
#include "holder-test-util.h"

#define POLL_MS 10

/* ---- the namespace ------------------------------------------------------- */

static gboolean
run_ip (const char *args,
        char      **out,
        GError    **error)
{
  g_autofree char *command = g_strconcat ("ip ", args, NULL);
  g_autofree char *err_out = NULL;
  int status = 0;

  if (!g_spawn_command_line_sync (command, out, &err_out, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s (%s): ", command, g_strstrip (err_out));
      return FALSE;
    }
  return TRUE;
}

const char *
holder_test_net_enter (void)
{
  static const char *const fixture[] = {
    "link set lo up",
    "link add " HOLDER_TEST_UPLINK " type veth peer name " HOLDER_TEST_UPLINK "-peer",
    "link set " HOLDER_TEST_UPLINK "-peer up",
    "link set " HOLDER_TEST_UPLINK " up",
    "addr add 10.99.0.2/24 dev " HOLDER_TEST_UPLINK,
    "route add default via 10.99.0.1 dev " HOLDER_TEST_UPLINK,
    "link add busy0 type veth peer name busy0-peer",
    "link set busy0 up",
    "addr add 192.168.0.1/24 dev busy0",
    "route add 192.168.1.0/24 via 10.99.0.1",
    NULL,
  };
  static char reason[256];
  g_autoptr(GError) error = NULL;

  if (geteuid () != 0)
    return "needs root to create a network namespace";
  if (unshare (CLONE_NEWNET | CLONE_NEWNS) < 0)
    {
      g_snprintf (reason, sizeof reason, "cannot create a network namespace: %s",
                  g_strerror (errno));
      return reason;
    }
  if (mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
    {
      g_snprintf (reason, sizeof reason, "cannot make mounts private: %s", g_strerror (errno));
      return reason;
    }
  for (guint i = 0; fixture[i] != NULL; i++)
    {
      if (!run_ip (fixture[i], NULL, &error))
        {
          g_snprintf (reason, sizeof reason, "cannot build the test network: %s",
                      error->message);
          return reason;
        }
    }
  return NULL;
}

void
holder_test_net_ip (const char *format,
                    ...)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *args = NULL;
  va_list ap;

  va_start (ap, format);
  args = g_strdup_vprintf (format, ap);
  va_end (ap);
  run_ip (args, NULL, &error);
  g_assert_no_error (error);
}

char *
holder_test_net_ip_output (const char *format,
                           ...)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *args = NULL;
  char *out = NULL;
  va_list ap;

  va_start (ap, format);
  args = g_strdup_vprintf (format, ap);
  va_end (ap);
  run_ip (args, &out, &error);
  g_assert_no_error (error);
  return out;
}

GStrv
holder_test_net_links (const char *prefix)
{
  g_autofree char *out = holder_test_net_ip_output ("-o link show");
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();

  for (guint i = 0; lines[i] != NULL; i++)
    {
      /* "7: fbx-1a2b3c4d: <...>" or "8: veth0@if3: <...>" */
      g_auto(GStrv) fields = g_strsplit (lines[i], ": ", 3);
      char *at;

      if (g_strv_length (fields) < 2)
        continue;
      at = strchr (fields[1], '@');
      if (at != NULL)
        *at = '\0';
      if (g_str_has_prefix (fields[1], prefix))
        g_strv_builder_add (names, fields[1]);
    }
  return g_strv_builder_end (names);
}

guint
holder_test_net_count_links (const char *prefix)
{
  g_auto(GStrv) links = holder_test_net_links (prefix);

  return g_strv_length (links);
}

gboolean
holder_test_net_link_exists (const char *name)
{
  g_auto(GStrv) links = holder_test_net_links (name);

  return g_strv_contains ((const char *const *) links, name);
}

char *
holder_test_net_forwarding (const char *ifname)
{
  g_autofree char *path = g_strdup_printf ("/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return g_strdup (g_strstrip (contents));
}

gboolean
holder_test_net_table_exists (const char *bridge)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *wanted = g_strdup_printf ("table ip %s", bridge);
  g_auto(GStrv) lines = NULL;
  int status = 0;

  g_assert_true (g_spawn_command_line_sync ("nft list tables ip", &out, &err, &status, NULL));
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("nft list tables ip: %s", err);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strcmp (g_strstrip (lines[i]), wanted) == 0)
      return TRUE;
  return FALSE;
}

/* ---- the runtime folder -------------------------------------------------- */

char *
holder_test_net_netns_dir (const char *runtime)
{
  g_autofree char *name = NULL;
  guint64 cookie = 0;
  socklen_t len = sizeof cookie;
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len), ==, 0);
  close (fd);
  name = g_strdup_printf ("net-%" G_GUINT64_FORMAT, cookie);
  return g_build_filename (runtime, name, NULL);
}

char *
holder_test_net_record_path (const char *runtime,
                             const char *bridge)
{
  g_autofree char *dir = holder_test_net_netns_dir (runtime);
  g_autofree char *base = g_strconcat (bridge, ".json", NULL);

  return g_build_filename (dir, base, NULL);
}

guint
holder_test_net_count_state (const char *runtime)
{
  g_autofree char *mine = holder_test_net_netns_dir (runtime);
  g_autoptr(GDir) top = g_dir_open (runtime, 0, NULL);
  g_autoptr(GDir) folder = g_dir_open (mine, 0, NULL);
  const char *base;
  guint n = 0;

  while (top != NULL && (base = g_dir_read_name (top)) != NULL)
    if (strcmp (base, ".lock") != 0)
      {
        g_test_message ("in the runtime folder: %s", base);
        n++;
      }
  while (folder != NULL && (base = g_dir_read_name (folder)) != NULL)
    {
      g_test_message ("in the namespace folder: %s", base);
      n++;
    }
  return n;
}

/* ---- children ------------------------------------------------------------- */

gboolean
holder_test_wait_child (GPid pid,
                        int *out_status)
{
  while (waitpid (pid, out_status, 0) < 0)
    {
      if (errno != EINTR)
        return FALSE;
    }
  return TRUE;
}

char *
holder_test_read_line (int fd)
{
  GString *line = g_string_new (NULL);
  char c;

  while (read (fd, &c, 1) == 1 && c != '\n')
    g_string_append_c (line, c);
  return g_string_free (line, FALSE);
}

gboolean
holder_test_check_in_child_as (uid_t          uid,
                               gboolean     (*check) (gconstpointer data),
                               gconstpointer  data)
{
  int answer[2];
  int status = 0;
  char byte = '0';
  GPid pid;

  g_assert_cmpint (pipe2 (answer, O_CLOEXEC), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      if (uid != 0 && (setgroups (0, NULL) < 0 || setresgid (uid, uid, uid) < 0 ||
                       setresuid (uid, uid, uid) < 0))
        _exit (90);
      byte = check (data) ? '1' : '0';
      _exit (write (answer[1], &byte, 1) == 1 ? 0 : 1);
    }
  close (answer[1]);
  if (read (answer[0], &byte, 1) != 1)
    byte = '0';
  close (answer[0]);
  g_assert_true (holder_test_wait_child (pid, &status));
  return byte == '1';
}

GPid
holder_test_net_spawn_tap_user (const char *tap,
                                gboolean    own_netns)
{
  int ready[2];
  char byte = 0;
  GPid pid;

  g_assert_cmpint (pipe2 (ready, O_CLOEXEC), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      struct ifreq ifr = { 0 };
      int fd;

      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (own_netns && unshare (CLONE_NEWNET) < 0)
        _exit (5);
      fd = open ("/dev/net/tun", O_RDWR | O_CLOEXEC);
      ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
      g_strlcpy (ifr.ifr_name, tap, sizeof ifr.ifr_name);
      if (fd < 0 || ioctl (fd, TUNSETIFF, &ifr) < 0)
        _exit (6);
      if (write (ready[1], "r", 1) != 1)
        _exit (7);
      for (;;)
        pause ();
    }
  close (ready[1]);
  g_assert_cmpint (read (ready[0], &byte, 1), ==, 1);
  close (ready[0]);
  return pid;
}

gboolean
holder_test_child_runs (GPid pid)
{
  int status;

  return waitpid (pid, &status, WNOHANG) == 0 && !holder_test_pid_is_dead (pid);
}

void
holder_test_kill_and_reap (GPid pid)
{
  int status;

  kill (pid, SIGKILL);
  holder_test_wait_child (pid, &status);
}

/* ---- the Linux network module, in this process ---------------------------- */

HolderLinuxNet *
holder_test_linux_net_create (void)
{
  g_autoptr(GError) error = NULL;
  HolderLinuxNet *net = holder_linux_net_create (NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (net);
  return net;
}

void
holder_test_linux_net_close (HolderLinuxNet *net)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (holder_linux_net_close (net, NULL, &error));
  g_assert_no_error (error);
  holder_linux_net_free (net);
}

HolderNetReport *
holder_test_linux_net_reconcile (const char *store,
                                 gboolean    dry_run)
{
  g_autoptr(GError) error = NULL;
  HolderNetReport *report = holder_net_report_new ();

  g_assert_true (holder_linux_net_reconcile (store, dry_run, NULL, report, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < report->kinds->len; i++)
    g_test_message ("%s %s %s", dry_run ? "would reclaim" : "reclaimed",
                    (const char *) g_ptr_array_index (report->kinds, i),
                    (const char *) g_ptr_array_index (report->whats, i));
  for (guint i = 0; i < report->warnings->len; i++)
    g_test_message ("warning: %s", (const char *) g_ptr_array_index (report->warnings, i));
  return report;
}

char *
holder_test_linux_net_make_dead (char **out_tap)
{
  g_autofree char *tap = NULL;
  int lines[2];
  int status = 0;
  char *bridge;
  GPid pid;

  g_assert_cmpint (pipe2 (lines, O_CLOEXEC), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      HolderLinuxNet *net = holder_linux_net_create (NULL, NULL);
      char *child_tap = net != NULL ? holder_linux_net_add_tap (net, NULL) : NULL;
      char *line;

      if (child_tap == NULL)
        _exit (3);
      line = g_strdup_printf ("%s\n%s\n", holder_linux_net_get_bridge (net), child_tap);
      _exit (write (lines[1], line, strlen (line)) > 0 ? 0 : 4);
    }
  close (lines[1]);
  bridge = holder_test_read_line (lines[0]);
  tap = holder_test_read_line (lines[0]);
  close (lines[0]);
  g_assert_true (holder_test_wait_child (pid, &status));
  g_assert_true (g_str_has_prefix (bridge, "fbx-"));
  g_assert_true (g_str_has_prefix (tap, "fbt-"));
  if (out_tap != NULL)
    *out_tap = g_steal_pointer (&tap);
  return bridge;
}

/* ---- the helper in a sandbox ---------------------------------------------- */

HolderTestSandbox *
holder_test_sandbox_new (const char *runtime)
{
  HolderTestSandbox *sb = g_new0 (HolderTestSandbox, 1);
  g_autoptr(GError) error = NULL;

  sb->dir = g_dir_make_tmp ("holder-test-net-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (sb->dir, 0755), ==, 0);
  sb->root = g_build_filename (sb->dir, "home", NULL);
  sb->runtime = runtime != NULL ? g_strdup (runtime) : g_build_filename (sb->dir, "runtime", NULL);
  sb->env = g_get_environ ();
  /* A test that fails takes its helpers with it: otherwise they hold the
   * test's stderr and meson waits for its timeout. */
  {
    g_autofree char *test_pid = g_strdup_printf ("%d", (int) getpid ());

    sb->env = g_environ_setenv (sb->env, "FLEETBOX_PARENT_PID", test_pid, TRUE);
  }
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_HOME", sb->root, TRUE);
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_RUNTIME_DIR", sb->runtime, TRUE);
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_BACKEND", "cloud-hypervisor", TRUE);
  return sb;
}

void
holder_test_sandbox_free (HolderTestSandbox *sb)
{
  if (sb == NULL)
    return;
  holder_test_remove_tree (sb->dir);
  g_free (sb->dir);
  g_free (sb->root);
  g_free (sb->runtime);
  g_strfreev (sb->env);
  g_free (sb);
}

char *
holder_test_sandbox_sock_path (HolderTestSandbox *sb,
                               const char        *name)
{
  g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
  g_autofree char *base = g_strdup_printf ("%.16s.sock", hex);

  return g_build_filename (sb->root, "run", base, NULL);
}

GPid
holder_test_sandbox_spawn (HolderTestSandbox  *sb,
                           const char *const  *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GPid pid = 0;

  g_ptr_array_add (argv, (gpointer) g_getenv ("HOLDER_TEST_HELPER"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_async (NULL, (char **) argv->pdata, sb->env,
                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                 NULL, NULL, &pid, &error);
  g_assert_no_error (error);
  return pid;
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

void
holder_test_sandbox_wait_serving (HolderTestSandbox *sb,
                                  const char        *name)
{
  g_autofree char *path = holder_test_sandbox_sock_path (sb, name);
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  for (;;)
    {
      int fd = unix_connect (path);

      if (fd >= 0)
        {
          /* Closing without a request is harmless to the helper. */
          close (fd);
          return;
        }
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (POLL_MS * 1000);
    }
}

int
holder_test_sandbox_request_start (HolderTestSandbox *sb,
                                   const char        *name,
                                   const char        *line)
{
  g_autofree char *path = holder_test_sandbox_sock_path (sb, name);
  int fd = unix_connect (path);
  gsize len = strlen (line);
  gsize done = 0;

  g_assert_cmpint (fd, >=, 0);
  while (done < len)
    {
      ssize_t n = send (fd, line + done, len - done, MSG_NOSIGNAL);

      g_assert_cmpint (n, >, 0);
      done += (gsize) n;
    }
  return fd;
}

gboolean
holder_test_reply_ready (int fd,
                         int timeout_ms)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };

  return poll (&pfd, 1, timeout_ms) == 1;
}

char *
holder_test_request_finish (int fd)
{
  g_autoptr(GString) reply = g_string_new (NULL);

  for (;;)
    {
      char buf[1024];
      ssize_t n;

      g_assert_true (holder_test_reply_ready (fd, 30000));
      n = read (fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (reply, buf, n);
    }
  close (fd);
  return g_string_free (g_steal_pointer (&reply), FALSE);
}

char *
holder_test_sandbox_request (HolderTestSandbox *sb,
                             const char        *name,
                             const char        *line)
{
  return holder_test_request_finish (holder_test_sandbox_request_start (sb, name, line));
}

int
holder_test_wait_exit (GPid  pid,
                       guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  int status;

  do
    {
      pid_t r = waitpid (pid, &status, WNOHANG);

      if (r == pid)
        return status;
      g_assert_cmpint (r, ==, 0);
      g_usleep (POLL_MS * 1000);
    }
  while (g_get_monotonic_time () < deadline);
  return -1;
}

void
holder_test_assert_exits_zero (GPid  pid,
                               guint timeout_ms)
{
  int status = holder_test_wait_exit (pid, timeout_ms);

  g_assert_cmpint (status, !=, -1);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

void
holder_test_kill_helper (GPid pid)
{
  int status;

  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  status = holder_test_wait_exit (pid, 10000);
  g_assert_true (WIFSIGNALED (status));
}

GPid
holder_test_sandbox_helper_with_network (HolderTestSandbox *sb,
                                         const char        *name,
                                         const char        *subnet)
{
  const char *args[] = { "--fleetbox-runner", name, NULL };
  g_autofree char *expected = g_strdup_printf ("{\"subnet\":\"%s\"}\n", subnet);
  g_autofree char *reply = NULL;
  GPid pid = holder_test_sandbox_spawn (sb, args);

  holder_test_sandbox_wait_serving (sb, name);
  reply = holder_test_sandbox_request (sb, name, "{\"cmd\":\"createnetwork\"}\n");
  g_assert_cmpstr (reply, ==, expected);
  return pid;
}

void
holder_test_sandbox_assert_nothing_left (HolderTestSandbox *sb)
{
  g_auto(GStrv) bridges = holder_test_net_links ("fbx-");
  g_auto(GStrv) taps = holder_test_net_links ("fbt-");
  g_autofree char *forwarding = holder_test_net_forwarding (HOLDER_TEST_UPLINK);

  g_assert_cmpuint (g_strv_length (bridges), ==, 0);
  g_assert_cmpuint (g_strv_length (taps), ==, 0);
  g_assert_cmpuint (holder_test_net_count_state (sb->runtime), ==, 0);
  g_assert_cmpstr (forwarding, ==, "0");
}
