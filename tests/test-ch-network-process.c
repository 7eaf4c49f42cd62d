/* SPDX-License-Identifier: MIT
 *
 * The real fleetbox-helper with FLEETBOX_BACKEND=cloud-hypervisor:
 * createnetwork and reserve over its socket, SIGTERM and SIGKILL, and
 * --fleetbox-reconcile. Everything runs in a network and mount namespace
 * this program makes at start-up (the host's namespace is never touched),
 * with a fake uplink (veth upl0, default route via 10.99.0.1), a busy
 * address (192.168.0.1/24) and a busy route (192.168.1.0/24), so the first
 * free subnet is 192.168.2.0/24. The helpers, as children, share it.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "test-ch-network-process"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <asm-generic/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "holder-backend.h"
#include "holder-linux-net-host.h"
#include "holder-test-util.h"

#define UPLINK  "upl0"
#define POLL_MS 10

static const char *skip_reason;

/* ---- namespace and host inspection -------------------------------------- */

static gboolean
run_ip (const char *args,
        GError    **error)
{
  g_autofree char *command = g_strconcat ("ip ", args, NULL);
  g_autofree char *err_out = NULL;
  int status = 0;

  if (!g_spawn_command_line_sync (command, NULL, &err_out, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, error))
    {
      g_prefix_error (error, "%s (%s): ", command, g_strstrip (err_out));
      return FALSE;
    }
  return TRUE;
}

static const char *
enter_private_namespace (void)
{
  static const char *const fixture[] = {
    "link set lo up",
    "link add " UPLINK " type veth peer name " UPLINK "-peer",
    "link set " UPLINK "-peer up",
    "link set " UPLINK " up",
    "addr add 10.99.0.2/24 dev " UPLINK,
    "route add default via 10.99.0.1 dev " UPLINK,
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
      g_snprintf (reason, sizeof reason, "cannot make mounts private: %s",
                  g_strerror (errno));
      return reason;
    }
  for (guint i = 0; fixture[i] != NULL; i++)
    {
      if (!run_ip (fixture[i], &error))
        {
          g_snprintf (reason, sizeof reason, "cannot build the test network: %s",
                      error->message);
          return reason;
        }
    }
  return NULL;
}

/* Names of the links starting with @prefix. */
static GStrv
links_with_prefix (const char *prefix)
{
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  g_auto(GStrv) lines = NULL;

  g_spawn_command_line_sync ("ip -o link show", &out, NULL, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], ": ", 3);

      if (g_strv_length (fields) >= 2 && g_str_has_prefix (fields[1], prefix))
        g_strv_builder_add (names, fields[1]);
    }
  return g_strv_builder_end (names);
}

static char *
addresses_of (const char *ifname)
{
  g_autofree char *command = g_strdup_printf ("ip -o -4 addr show dev %s", ifname);
  char *out = NULL;

  g_spawn_command_line_sync (command, &out, NULL, NULL, NULL);
  return out;
}

static char *
read_forwarding (const char *ifname)
{
  g_autofree char *path = g_strdup_printf ("/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return g_strdup (g_strstrip (contents));
}

static gboolean
table_exists (const char *bridge)
{
  g_autoptr(GError) error = NULL;
  gboolean exists = TRUE;

  holder_net_table_exists (bridge, &exists, &error);
  g_assert_no_error (error);
  return exists;
}

/* ---- sandbox and helpers ------------------------------------------------ */

typedef struct {
  char  *dir;
  char  *root;    /* the store: FLEETBOX_HOME */
  char  *runtime; /* the runtime folder: FLEETBOX_RUNTIME_DIR */
  char **env;
} Sandbox;

/* A store of its own in @runtime (NULL: a runtime folder of its own too). */
static Sandbox *
sandbox_new_sharing (const char *runtime)
{
  Sandbox *sb = g_new0 (Sandbox, 1);
  g_autoptr(GError) error = NULL;

  sb->dir = g_dir_make_tmp ("holder-ch-net-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_cmpint (chmod (sb->dir, 0755), ==, 0);
  sb->root = g_build_filename (sb->dir, "home", NULL);
  sb->runtime = runtime != NULL ? g_strdup (runtime) : g_build_filename (sb->dir, "runtime", NULL);
  sb->env = g_get_environ ();
  sb->env = g_environ_unsetenv (sb->env, "FLEETBOX_PARENT_PID");
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_HOME", sb->root, TRUE);
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_RUNTIME_DIR", sb->runtime, TRUE);
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_BACKEND", "cloud-hypervisor", TRUE);
  return sb;
}

static Sandbox *
sandbox_new (void)
{
  return sandbox_new_sharing (NULL);
}

static void
sandbox_free (Sandbox *sb)
{
  holder_test_remove_tree (sb->dir);
  g_free (sb->dir);
  g_free (sb->root);
  g_free (sb->runtime);
  g_strfreev (sb->env);
  g_free (sb);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Sandbox, sandbox_free)

static char *
sock_path (Sandbox    *sb,
           const char *name)
{
  g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
  g_autofree char *base = g_strdup_printf ("%.16s.sock", hex);

  return g_build_filename (sb->root, "run", base, NULL);
}

/* This network namespace's folder of the runtime folder, named after the
 * namespace cookie as the library names it. */
static char *
networks_dir (Sandbox *sb)
{
  g_autofree char *name = NULL;
  guint64 cookie = 0;
  socklen_t len = sizeof cookie;
  int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (getsockopt (fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len), ==, 0);
  close (fd);
  name = g_strdup_printf ("net-%" G_GUINT64_FORMAT, cookie);
  return g_build_filename (sb->runtime, name, NULL);
}

/* What the runtime folder holds besides its lock: the records and markers
 * of this namespace, and any other entry (an empty namespace folder
 * counts: close and reconcile tidy it away). */
static guint
count_network_files (Sandbox *sb)
{
  g_autofree char *dir = networks_dir (sb);
  g_autoptr(GDir) top = g_dir_open (sb->runtime, 0, NULL);
  g_autoptr(GDir) folder = g_dir_open (dir, 0, NULL);
  const char *base;
  guint n = 0;

  while (top != NULL && (base = g_dir_read_name (top)) != NULL)
    n += strcmp (base, ".lock") != 0 ? 1 : 0;
  while (folder != NULL && (base = g_dir_read_name (folder)) != NULL)
    n++;
  return n;
}

static GPid
spawn_helper (Sandbox    *sb,
              const char *const *args)
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

/* The wait status of @pid once it exits, or -1 after @timeout_ms. */
static int
wait_exit (GPid  pid,
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

static void
assert_exits_zero (GPid  pid,
                   guint timeout_ms)
{
  int status = wait_exit (pid, timeout_ms);

  g_assert_cmpint (status, !=, -1);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

static void
kill_helper (GPid pid)
{
  int status;

  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  status = wait_exit (pid, 10000);
  g_assert_true (WIFSIGNALED (status));
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

/* Waits until the member's socket accepts (the helper is serving). */
static void
wait_serving (Sandbox    *sb,
              const char *name)
{
  g_autofree char *path = sock_path (sb, name);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

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

/* One request over @name's socket, the whole reply. */
static char *
request (Sandbox    *sb,
         const char *name,
         const char *line)
{
  g_autofree char *path = sock_path (sb, name);
  g_autoptr(GString) reply = g_string_new (NULL);
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
  for (;;)
    {
      struct pollfd pfd = { .fd = fd, .events = POLLIN };
      char buf[1024];
      ssize_t n;

      g_assert_cmpint (poll (&pfd, 1, 30000), ==, 1);
      n = read (fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (reply, buf, n);
    }
  close (fd);
  return g_string_free (g_steal_pointer (&reply), FALSE);
}

static char *
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

static void
assert_reserve (Sandbox    *sb,
                const char *via,
                const char *name,
                const char *hint,
                const char *expected_ip)
{
  g_autofree char *line = hint != NULL
    ? g_strdup_printf ("{\"cmd\":\"reserve\",\"name\":\"%s\",\"ip_hint\":\"%s\"}\n", name, hint)
    : g_strdup_printf ("{\"cmd\":\"reserve\",\"name\":\"%s\"}\n", name);
  g_autofree char *mac = expected_mac (name);
  g_autofree char *expected = g_strdup_printf ("{\"reservation\":{\"ip\":\"%s\",\"mac\":\"%s\"}}\n",
                                               expected_ip, mac);
  g_autofree char *reply = request (sb, via, line);

  g_assert_cmpstr (reply, ==, expected);
}

/* Starts a helper serving @name and has it create its network, which
 * must get @subnet. Returns the helper's pid. */
static GPid
helper_with_network (Sandbox    *sb,
                     const char *name,
                     const char *subnet)
{
  const char *args[] = { "--fleetbox-runner", name, NULL };
  g_autofree char *expected = g_strdup_printf ("{\"subnet\":\"%s\"}\n", subnet);
  g_autofree char *reply = NULL;
  GPid pid = spawn_helper (sb, args);

  wait_serving (sb, name);
  reply = request (sb, name, "{\"cmd\":\"createnetwork\"}\n");
  g_assert_cmpstr (reply, ==, expected);
  return pid;
}

static void
reconcile_once (Sandbox *sb)
{
  const char *args[] = { "--fleetbox-reconcile", NULL };

  assert_exits_zero (spawn_helper (sb, args), 30000);
}

/* No bridge, tap, table, record or marker; the uplink as it was. */
static void
assert_nothing_left (Sandbox *sb)
{
  g_auto(GStrv) bridges = links_with_prefix ("fbx-");
  g_auto(GStrv) taps = links_with_prefix ("fbt-");
  g_autofree char *forwarding = read_forwarding (UPLINK);

  g_assert_cmpuint (g_strv_length (bridges), ==, 0);
  g_assert_cmpuint (g_strv_length (taps), ==, 0);
  g_assert_cmpuint (count_network_files (sb), ==, 0);
  g_assert_cmpstr (forwarding, ==, "0");
}

#define SKIP_UNLESS_READY() \
  G_STMT_START { \
    if (skip_reason != NULL) \
      { \
        g_test_skip (skip_reason); \
        return; \
      } \
  } G_STMT_END

/* ---- tests -------------------------------------------------------------- */

static void
test_createnetwork_reserve_sigterm (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_auto(GStrv) bridges = NULL;
  g_autofree char *addrs = NULL;
  g_autofree char *dump = NULL;
  g_autofree char *value = NULL;
  g_autofree char *record = NULL;
  g_autofree char *record_file = NULL;
  g_autofree char *owner = NULL;
  g_autofree char *reply = NULL;
  g_autoptr(GError) error = NULL;
  GPid pid;

  SKIP_UNLESS_READY ();
  sb = sandbox_new ();
  pid = helper_with_network (sb, "web-1", "192.168.2.0/24");

  /* Idempotent: the same subnet, no second bridge. */
  reply = request (sb, "web-1", "{\"cmd\":\"createnetwork\"}\n");
  g_assert_cmpstr (reply, ==, "{\"subnet\":\"192.168.2.0/24\"}\n");
  bridges = links_with_prefix ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);

  assert_reserve (sb, "web-1", "web-1", "192.168.2.9", "192.168.2.9");
  assert_reserve (sb, "web-1", "web-2", NULL, "192.168.2.2");
  assert_reserve (sb, "web-1", "web-3", "192.168.2.1", "192.168.2.3");
  assert_reserve (sb, "web-1", "web-4", "192.168.2.9", "192.168.2.4");
  /* Repeats return the first reservation. */
  assert_reserve (sb, "web-1", "web-2", "192.168.2.50", "192.168.2.2");

  addrs = addresses_of (bridges[0]);
  g_assert_nonnull (strstr (addrs, "inet 192.168.2.1/24"));
  dump = holder_net_table_dump (bridges[0], &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (dump, "ip saddr 192.168.2.0/24 oifname != "));
  g_assert_nonnull (strstr (dump, "masquerade"));
  g_assert_nonnull (strstr (dump, "ip daddr 192.168.2.0/24 iifname != "));
  g_assert_nonnull (strstr (dump, "ct state new drop"));
  g_assert_cmpstr ((value = read_forwarding (bridges[0])), ==, "1");
  g_clear_pointer (&value, g_free);
  g_assert_cmpstr ((value = read_forwarding (UPLINK)), ==, "1");
  g_clear_pointer (&value, g_free);

  {
    g_autofree char *dir = networks_dir (sb);
    record_file = g_strdup_printf ("%s/%s.json", dir, bridges[0]);
  }
  g_assert_true (g_file_get_contents (record_file, &record, NULL, NULL));
  owner = g_strdup_printf ("\"owner_pid\":%d,", (int) pid);
  g_assert_nonnull (strstr (record, owner));

  /* SIGTERM: the helper closes its network on the way out. */
  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  assert_exits_zero (pid, 30000);
  g_assert_false (table_exists (bridges[0]));
  assert_nothing_left (sb);
}

static void
test_sigkill_then_reconcile (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_auto(GStrv) bridges = NULL;
  g_autofree char *value = NULL;
  GPid pid;

  SKIP_UNLESS_READY ();
  sb = sandbox_new ();
  pid = helper_with_network (sb, "db-1", "192.168.2.0/24");
  bridges = links_with_prefix ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);

  kill_helper (pid);
  /* A SIGKILLed helper leaves everything behind... */
  g_assert_true (table_exists (bridges[0]));
  g_assert_cmpstr ((value = read_forwarding (UPLINK)), ==, "1");

  /* ...which reconcile takes away, and a second run finds nothing. */
  reconcile_once (sb);
  g_assert_false (table_exists (bridges[0]));
  assert_nothing_left (sb);
  reconcile_once (sb);
  assert_nothing_left (sb);
}

static void
test_reconcile_beside_live_owner (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_auto(GStrv) dead_bridges = NULL;
  g_auto(GStrv) bridges = NULL;
  g_autofree char *value = NULL;
  g_autofree char *addrs = NULL;
  GPid dead;
  GPid live;

  SKIP_UNLESS_READY ();
  sb = sandbox_new ();
  dead = helper_with_network (sb, "old-1", "192.168.2.0/24");
  dead_bridges = links_with_prefix ("fbx-");
  live = helper_with_network (sb, "new-1", "192.168.3.0/24");
  kill_helper (dead);

  reconcile_once (sb);
  reconcile_once (sb);

  /* Only the live helper's network is left, whole. */
  g_assert_false (table_exists (dead_bridges[0]));
  bridges = links_with_prefix ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);
  g_assert_cmpstr (bridges[0], !=, dead_bridges[0]);
  addrs = addresses_of (bridges[0]);
  g_assert_nonnull (strstr (addrs, "inet 192.168.3.1/24"));
  g_assert_true (table_exists (bridges[0]));
  g_assert_cmpuint (count_network_files (sb), ==, 3); /* folder, record, marker */
  g_assert_cmpstr ((value = read_forwarding (UPLINK)), ==, "1");
  assert_reserve (sb, "new-1", "new-1", NULL, "192.168.3.2");

  g_assert_cmpint (kill (live, SIGTERM), ==, 0);
  assert_exits_zero (live, 30000);
  assert_nothing_left (sb);
}

static void
test_startup_reconcile (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_auto(GStrv) bridges = NULL;
  const char *args[] = { "--fleetbox-runner", "late-1", NULL };
  GPid pid;

  SKIP_UNLESS_READY ();
  sb = sandbox_new ();
  kill_helper (helper_with_network (sb, "early-1", "192.168.2.0/24"));
  bridges = links_with_prefix ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);

  /* A new helper reclaims it before it serves. */
  pid = spawn_helper (sb, args);
  wait_serving (sb, "late-1");
  g_assert_false (table_exists (bridges[0]));
  assert_nothing_left (sb);

  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  assert_exits_zero (pid, 30000);
}

/* ---- the main loop while the network waits ------------------------------- */

/* One request whose reply is read later. */
static int
request_start (Sandbox    *sb,
               const char *name,
               const char *line)
{
  g_autofree char *path = sock_path (sb, name);
  int fd = unix_connect (path);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (send (fd, line, strlen (line), MSG_NOSIGNAL), ==, (ssize_t) strlen (line));
  return fd;
}

/* Whether the reply on @fd begins within @timeout_ms. */
static gboolean
reply_ready (int fd,
             int timeout_ms)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };

  return poll (&pfd, 1, timeout_ms) == 1;
}

static char *
request_finish (int fd)
{
  g_autoptr(GString) reply = g_string_new (NULL);

  for (;;)
    {
      char buf[1024];
      ssize_t n;

      g_assert_true (reply_ready (fd, 30000));
      n = read (fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (reply, buf, n);
    }
  close (fd);
  return g_string_free (g_steal_pointer (&reply), FALSE);
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Another process holds the host-wide lock: the helper's createnetwork
 * waits for it on a worker, and its main loop keeps answering. */
static void
test_status_while_lock_held (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autofree char *lock_path = NULL;
  g_autofree char *reply = NULL;
  const char *args[] = { "--fleetbox-runner", "lk-1", NULL };
  double ms[9];
  int lock_fd;
  int pending;
  GPid pid;

  SKIP_UNLESS_READY ();
  sb = sandbox_new ();
  pid = spawn_helper (sb, args);
  wait_serving (sb, "lk-1");

  /* Made by the helper's start-up reconcile. */
  lock_path = g_build_filename (sb->runtime, ".lock", NULL);
  lock_fd = open (lock_path, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (lock_fd, >=, 0);
  g_assert_cmpint (flock (lock_fd, LOCK_EX), ==, 0);

  pending = request_start (sb, "lk-1", "{\"cmd\":\"createnetwork\"}\n");
  g_assert_false (reply_ready (pending, 300));

  for (guint i = 0; i < G_N_ELEMENTS (ms); i++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autofree char *status = request (sb, "lk-1", "{\"cmd\":\"status\"}\n");

      ms[i] = (g_get_monotonic_time () - t0) / 1000.0;
      g_assert_true (g_str_has_prefix (status, "{\"status\":{\"name\":\"lk-1\""));
    }
  qsort (ms, G_N_ELEMENTS (ms), sizeof ms[0], compare_doubles);
  g_test_message ("status while createnetwork waits for the lock: min %.2f ms, "
                  "median %.2f ms, max %.2f ms", ms[0], ms[G_N_ELEMENTS (ms) / 2],
                  ms[G_N_ELEMENTS (ms) - 1]);
  g_assert_cmpfloat (ms[G_N_ELEMENTS (ms) / 2], <, 5.0);
  /* Still waiting: nothing was created behind the lock. */
  g_assert_false (reply_ready (pending, 0));
  {
    g_auto(GStrv) bridges = links_with_prefix ("fbx-");
    g_assert_cmpuint (g_strv_length (bridges), ==, 0);
  }

  close (lock_fd);
  reply = request_finish (pending);
  g_assert_cmpstr (reply, ==, "{\"subnet\":\"192.168.2.0/24\"}\n");

  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  assert_exits_zero (pid, 30000);
  assert_nothing_left (sb);
}

/* A helper whose createnetwork waits for the lock still ends on SIGTERM:
 * the wait is cancelled, nothing is created. */
static void
test_sigterm_while_lock_held (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autofree char *lock_path = NULL;
  g_autofree char *reply = NULL;
  const char *args[] = { "--fleetbox-runner", "lk-2", NULL };
  int lock_fd;
  int pending;
  GPid pid;

  SKIP_UNLESS_READY ();
  sb = sandbox_new ();
  pid = spawn_helper (sb, args);
  wait_serving (sb, "lk-2");
  lock_path = g_build_filename (sb->runtime, ".lock", NULL);
  lock_fd = open (lock_path, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (lock_fd, >=, 0);
  g_assert_cmpint (flock (lock_fd, LOCK_EX), ==, 0);
  pending = request_start (sb, "lk-2", "{\"cmd\":\"createnetwork\"}\n");
  g_assert_false (reply_ready (pending, 300));

  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  assert_exits_zero (pid, 10000);
  reply = request_finish (pending);
  g_test_message ("createnetwork: %s", reply);
  g_assert_true (g_str_has_prefix (reply, "{\"error\":\"create network: "));
  close (lock_fd);
  assert_nothing_left (sb);
}

/* ---- many helpers, many stores, one host --------------------------------- */

#define CONCURRENT 15

static void
test_concurrent_stores (void)
{
  g_autoptr(Sandbox) first = NULL;
  Sandbox *sbs[CONCURRENT];
  GPid pids[CONCURRENT];
  int pending[CONCURRENT];
  g_autoptr(GHashTable) subnets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *routes = NULL;
  g_auto(GStrv) bridges = NULL;

  SKIP_UNLESS_READY ();
  first = sandbox_new ();
  for (guint i = 0; i < CONCURRENT; i++)
    {
      g_autofree char *name = g_strdup_printf ("cc-%u", i);
      const char *args[] = { "--fleetbox-runner", name, NULL };

      sbs[i] = sandbox_new_sharing (first->runtime);
      pids[i] = spawn_helper (sbs[i], args);
    }
  for (guint i = 0; i < CONCURRENT; i++)
    {
      g_autofree char *name = g_strdup_printf ("cc-%u", i);
      wait_serving (sbs[i], name);
    }
  /* All at once. */
  for (guint i = 0; i < CONCURRENT; i++)
    {
      g_autofree char *name = g_strdup_printf ("cc-%u", i);
      pending[i] = request_start (sbs[i], name, "{\"cmd\":\"createnetwork\"}\n");
    }
  for (guint i = 0; i < CONCURRENT; i++)
    {
      g_autofree char *reply = request_finish (pending[i]);

      g_assert_true (g_str_has_prefix (reply, "{\"subnet\":\"192.168."));
      g_assert_false (g_hash_table_contains (subnets, reply));
      g_hash_table_add (subnets, g_steal_pointer (&reply));
    }
  g_assert_cmpuint (g_hash_table_size (subnets), ==, CONCURRENT);

  bridges = links_with_prefix ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, CONCURRENT);
  /* One route per subnet: no two bridges share a /24. */
  g_assert_true (g_spawn_command_line_sync ("ip -4 route show proto kernel", &routes, NULL,
                                            NULL, NULL));
  {
    g_auto(GStrv) lines = g_strsplit (routes, "\n", -1);
    g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; lines[i] != NULL; i++)
      {
        g_auto(GStrv) fields = g_strsplit (lines[i], " ", 2);

        if (!g_str_has_prefix (lines[i], "192.168."))
          continue;
        g_assert_false (g_hash_table_contains (seen, fields[0]));
        g_hash_table_add (seen, g_strdup (fields[0]));
      }
    g_assert_cmpuint (g_hash_table_size (seen), ==, CONCURRENT + 1); /* + busy0's */
  }

  for (guint i = 0; i < CONCURRENT; i++)
    g_assert_cmpint (kill (pids[i], SIGTERM), ==, 0);
  for (guint i = 0; i < CONCURRENT; i++)
    {
      assert_exits_zero (pids[i], 60000);
      sandbox_free (sbs[i]);
    }
  assert_nothing_left (first);
}

/* ---- a user's forged records --------------------------------------------- */

#define ATTACKER 65534

typedef struct {
  const char *store;
  const char *bridge;
} Forgery;

/* As the store's owner: a record in <store>/networks/ naming a live
 * cluster's bridge, with an owner that is dead, and a marker asking for
 * forwarding on the uplink. */
static gboolean
forge_records (const Forgery *f)
{
  g_autofree char *dir = g_build_filename (f->store, "networks", NULL);
  g_autofree char *base = g_strconcat (f->bridge, ".json", NULL);
  g_autofree char *record_path = g_build_filename (dir, base, NULL);
  g_autofree char *marker_path = g_build_filename (dir, "uplink-" UPLINK ".json", NULL);
  g_autofree char *boot = NULL;
  g_autofree char *record = NULL;
  g_autofree char *marker = NULL;

  if (!g_file_get_contents ("/proc/sys/kernel/random/boot_id", &boot, NULL, NULL))
    return FALSE;
  g_strstrip (boot);
  record = g_strdup_printf ("{\"bridge\":\"%s\",\"subnet\":\"192.168.2.0/24\",\"owner_pid\":1,"
                            "\"owner_start_time\":1,\"owner_boot_id\":\"%s\",\"uplink\":null,"
                            "\"uplink_forwarding_original\":null,\"taps\":[]}\n",
                            f->bridge, boot);
  marker = g_strdup_printf ("{\"uplink\":\"" UPLINK "\",\"original\":\"1\",\"boot_id\":\"%s\"}\n",
                            boot);
  return g_mkdir_with_parents (dir, 0755) == 0 &&
         g_file_set_contents (record_path, record, -1, NULL) &&
         g_file_set_contents (marker_path, marker, -1, NULL);
}

/* Runs @forge as uid ATTACKER in a child; TRUE when it succeeded. */
static gboolean
as_attacker (gboolean      (*forge) (const Forgery *f),
             const Forgery  *f)
{
  int status = 0;
  GPid pid = fork ();

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      if (setgroups (0, NULL) < 0 || setresgid (ATTACKER, ATTACKER, ATTACKER) < 0 ||
          setresuid (ATTACKER, ATTACKER, ATTACKER) < 0)
        _exit (2);
      _exit (forge (f) ? 0 : 1);
    }
  status = wait_exit (pid, 10000);
  return status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

/* Runs `--fleetbox-reconcile` in @sb and returns its stderr. */
static char *
reconcile_stderr (Sandbox *sb,
                  int     *out_status)
{
  const char *argv[] = { g_getenv ("HOLDER_TEST_HELPER"), "--fleetbox-reconcile", NULL };
  g_autoptr(GError) error = NULL;
  char *err = NULL;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, sb->env, G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, &err, out_status, &error));
  g_assert_no_error (error);
  return err;
}

static void
test_forged_store_records (void)
{
  g_autoptr(Sandbox) live_sb = NULL;
  g_autoptr(Sandbox) user_sb = NULL;
  g_auto(GStrv) bridges = NULL;
  g_autofree char *err = NULL;
  g_autofree char *value = NULL;
  Forgery forgery;
  int status = 0;
  GPid live;

  SKIP_UNLESS_READY ();
  live_sb = sandbox_new ();
  live = helper_with_network (live_sb, "live-1", "192.168.2.0/24");
  bridges = links_with_prefix ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);
  /* The uplink back off, so a marker that turned it on would show. */
  g_assert_cmpstr ((value = read_forwarding (UPLINK)), ==, "1");
  g_clear_pointer (&value, g_free);

  /* A store the user owns, sharing the host's runtime folder. */
  user_sb = sandbox_new_sharing (live_sb->runtime);
  g_assert_cmpint (g_mkdir (user_sb->root, 0755), ==, 0);
  g_assert_cmpint (chown (user_sb->root, ATTACKER, ATTACKER), ==, 0);
  user_sb->env = g_environ_setenv (user_sb->env, "SUDO_UID", "65534", TRUE);
  forgery = (Forgery) { user_sb->root, bridges[0] };
  g_assert_true (as_attacker (forge_records, &forgery));

  err = reconcile_stderr (user_sb, &status);
  g_test_message ("reconcile said: %s", err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "ignoring network records in a user-writable store"));
  g_assert_true (table_exists (bridges[0]));
  {
    g_auto(GStrv) after = links_with_prefix ("fbx-");
    g_assert_cmpuint (g_strv_length (after), ==, 1);
    g_assert_cmpstr (after[0], ==, bridges[0]);
  }
  assert_reserve (live_sb, "live-1", "live-1", NULL, "192.168.2.2");

  g_assert_cmpint (kill (live, SIGTERM), ==, 0);
  assert_exits_zero (live, 30000);
  assert_nothing_left (live_sb);
  /* With no network left, the forged marker still turns nothing on. */
  g_clear_pointer (&err, g_free);
  err = reconcile_stderr (user_sb, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpstr ((value = read_forwarding (UPLINK)), ==, "0");
}

/* ---- CAP_NET_ADMIN at start-up -------------------------------------------- */

static void
drop_net_admin (gpointer user_data)
{
  /* From the bounding set: exec as root then cannot get it back. */
  prctl (PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0);
}

static void
test_needs_net_admin (void)
{
  g_autoptr(Sandbox) sb = NULL;
  const char *runner[] = { g_getenv ("HOLDER_TEST_HELPER"), "--fleetbox-runner", "cap-1", NULL };
  const char *reconcile[] = { g_getenv ("HOLDER_TEST_HELPER"), "--fleetbox-reconcile", NULL };
  const char *const *argvs[] = { runner, reconcile };

  SKIP_UNLESS_READY ();
  sb = sandbox_new ();
  for (guint i = 0; i < G_N_ELEMENTS (argvs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *err = NULL;
      g_autofree char *sock = sock_path (sb, "cap-1");
      int status = 0;

      g_assert_true (g_spawn_sync (NULL, (char **) argvs[i], sb->env, G_SPAWN_STDOUT_TO_DEV_NULL,
                                   drop_net_admin, NULL, NULL, &err, &status, &error));
      g_assert_no_error (error);
      g_test_message ("%s: %s", argvs[i][1], err);
      g_assert_false (g_spawn_check_wait_status (status, NULL));
      g_assert_nonnull (strstr (err, "CAP_NET_ADMIN"));
      g_assert_nonnull (strstr (err, "run it as root or grant CAP_NET_ADMIN"));
      /* Refused before serving anything. */
      g_assert_false (g_file_test (sock, G_FILE_TEST_EXISTS));
    }
}

/* ---- the backend's reconcile, in this process ---------------------------- */

typedef struct {
  GPtrArray    *kinds;
  GPtrArray    *whats;
  GAsyncResult *result;
} Reclaimed;

static void
on_reclaimed (const char *kind,
              const char *what,
              gpointer    user_data)
{
  Reclaimed *rec = user_data;

  g_test_message ("reported %s %s", kind, what);
  g_ptr_array_add (rec->kinds, g_strdup (kind));
  g_ptr_array_add (rec->whats, g_strdup (what));
}

static void
on_backend_reconciled (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  Reclaimed *rec = user_data;

  rec->result = g_object_ref (result);
}

/* The cloud-hypervisor backend's reconcile (a dry run with @dry_run),
 * through the module as the helper loads it. Returns "kind what" lines. */
static GStrv
backend_reconcile (Sandbox  *sb,
                   gboolean  dry_run)
{
  g_autoptr(GError) error = NULL;
  const HolderBackendClass *klass = holder_backend_lookup ("cloud-hypervisor", &error);
  HolderBackendHost host = { 0 };
  Reclaimed rec = { 0 };
  g_autoptr(GStrvBuilder) lines = g_strv_builder_new ();
  HolderBackend *backend;

  g_assert_no_error (error);
  g_setenv ("FLEETBOX_RUNTIME_DIR", sb->runtime, TRUE);
  rec.kinds = g_ptr_array_new_with_free_func (g_free);
  rec.whats = g_ptr_array_new_with_free_func (g_free);
  host.storage_root = sb->root;
  host.reclaimed = on_reclaimed;
  host.user_data = &rec;
  backend = klass->new (klass, &host, &error);
  g_assert_no_error (error);
  klass->reconcile_async (backend, dry_run ? HOLDER_RECONCILE_FLAGS_DRY_RUN
                                           : HOLDER_RECONCILE_FLAGS_NONE,
                          NULL, on_backend_reconciled, &rec);
  while (rec.result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (klass->reconcile_finish (backend, rec.result, &error));
  g_assert_no_error (error);
  klass->free (backend);
  g_object_unref (rec.result);
  for (guint i = 0; i < rec.kinds->len; i++)
    {
      g_autofree char *line = g_strdup_printf ("%s %s", (char *) rec.kinds->pdata[i],
                                               (char *) rec.whats->pdata[i]);
      g_strv_builder_add (lines, line);
    }
  g_ptr_array_unref (rec.kinds);
  g_ptr_array_unref (rec.whats);
  return g_strv_builder_end (lines);
}

static gboolean
lines_have (GStrv       lines,
            const char *prefix)
{
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      return TRUE;
  return FALSE;
}

/* A dead helper's network: the dry run reports every piece and leaves
 * them all; the real run removes them and reports the same. */
static void
test_dry_run_dead_helper (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_auto(GStrv) bridges = NULL;
  g_auto(GStrv) dry = NULL;
  g_auto(GStrv) real = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *record = NULL;
  g_autofree char *link = NULL;
  g_autofree char *table = NULL;
  g_autofree char *value = NULL;

  SKIP_UNLESS_READY ();
  sb = sandbox_new ();
  kill_helper (helper_with_network (sb, "dry-1", "192.168.2.0/24"));
  bridges = links_with_prefix ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);
  dir = networks_dir (sb);
  record = g_strdup_printf ("record %s/%s.json", dir, bridges[0]);
  link = g_strdup_printf ("link %s", bridges[0]);
  table = g_strdup_printf ("table ip %s", bridges[0]);

  dry = backend_reconcile (sb, TRUE);
  g_assert_true (lines_have (dry, link));
  g_assert_true (lines_have (dry, table));
  g_assert_true (lines_have (dry, record));
  g_assert_true (lines_have (dry, "marker "));
  g_assert_true (lines_have (dry, "forwarding " UPLINK " back to 0"));
  g_assert_cmpuint (g_strv_length (dry), ==, 5);
  g_assert_true (table_exists (bridges[0]));
  {
    g_auto(GStrv) still = links_with_prefix ("fbx-");
    g_assert_cmpuint (g_strv_length (still), ==, 1);
  }
  g_assert_cmpuint (count_network_files (sb), ==, 3);
  g_assert_cmpstr ((value = read_forwarding (UPLINK)), ==, "1");

  real = backend_reconcile (sb, FALSE);
  g_assert_true (g_strv_equal ((const char *const *) dry, (const char *const *) real));
  g_assert_false (table_exists (bridges[0]));
  assert_nothing_left (sb);
}

/* ---- leftover VMM API sockets --------------------------------------------- */

/* A socket file at @path: listening (kept open, returned) or not (-1). */
static int
make_socket (const char *path,
             gboolean    listening)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  if (listening)
    {
      g_assert_cmpint (listen (fd, 4), ==, 0);
      return fd;
    }
  close (fd);
  return -1;
}

static void
test_api_socket_leftovers (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autofree char *run = NULL;
  g_autofree char *dead = NULL;
  g_autofree char *live = NULL;
  g_autofree char *other = NULL;
  g_autofree char *link = NULL;
  g_autofree char *target = NULL;
  g_auto(GStrv) dry = NULL;
  g_auto(GStrv) real = NULL;
  g_autofree char *expected = NULL;
  GStatBuf st;
  int listening;

  SKIP_UNLESS_READY ();
  sb = sandbox_new ();
  run = g_build_filename (sb->root, "run", NULL);
  g_assert_cmpint (g_mkdir_with_parents (run, 0755), ==, 0);
  dead = g_build_filename (run, "0123456789abcdef.fbt-0000dead.api", NULL);
  live = g_build_filename (run, "0123456789abcdef.fbt-0000a11e.api", NULL);
  other = g_build_filename (run, "0123456789abcdef.sock", NULL);
  link = g_build_filename (run, "fedcba9876543210.fbt-00001111.api", NULL);
  target = g_build_filename (sb->dir, "target.api", NULL);
  make_socket (dead, FALSE);
  listening = make_socket (live, TRUE);
  make_socket (other, FALSE);
  make_socket (target, FALSE);
  g_assert_cmpint (symlink (target, link), ==, 0);

  expected = g_strdup_printf ("file %s", dead);
  dry = backend_reconcile (sb, TRUE);
  g_assert_cmpuint (g_strv_length (dry), ==, 1);
  g_assert_cmpstr (dry[0], ==, expected);
  g_assert_cmpint (g_lstat (dead, &st), ==, 0);

  real = backend_reconcile (sb, FALSE);
  g_assert_cmpuint (g_strv_length (real), ==, 1);
  g_assert_cmpstr (real[0], ==, expected);
  g_assert_cmpint (g_lstat (dead, &st), <, 0);
  /* Something listens: a live VMM's. Not the pattern, or not a socket:
   * not ours. The link's target is never reached. */
  g_assert_cmpint (g_lstat (live, &st), ==, 0);
  g_assert_cmpint (g_lstat (other, &st), ==, 0);
  g_assert_cmpint (g_lstat (link, &st), ==, 0);
  g_assert_cmpint (g_lstat (target, &st), ==, 0);
  close (listening);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  skip_reason = enter_private_namespace ();
  if (skip_reason == NULL && g_getenv ("HOLDER_TEST_HELPER") == NULL)
    skip_reason = "HOLDER_TEST_HELPER is not set";

  g_test_add_func ("/ch-network/createnetwork-reserve-sigterm",
                   test_createnetwork_reserve_sigterm);
  g_test_add_func ("/ch-network/sigkill-then-reconcile", test_sigkill_then_reconcile);
  g_test_add_func ("/ch-network/reconcile-beside-live-owner",
                   test_reconcile_beside_live_owner);
  g_test_add_func ("/ch-network/startup-reconcile", test_startup_reconcile);
  g_test_add_func ("/ch-network/status-while-lock-held", test_status_while_lock_held);
  g_test_add_func ("/ch-network/sigterm-while-lock-held", test_sigterm_while_lock_held);
  g_test_add_func ("/ch-network/concurrent-stores", test_concurrent_stores);
  g_test_add_func ("/ch-network/forged-store-records", test_forged_store_records);
  g_test_add_func ("/ch-network/needs-net-admin", test_needs_net_admin);
  g_test_add_func ("/ch-network/dry-run-dead-helper", test_dry_run_dead_helper);
  g_test_add_func ("/ch-network/api-socket-leftovers", test_api_socket_leftovers);

  return g_test_run ();
}
