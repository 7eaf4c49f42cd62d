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
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <asm-generic/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

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

static Sandbox *
sandbox_new (void)
{
  Sandbox *sb = g_new0 (Sandbox, 1);
  g_autoptr(GError) error = NULL;

  sb->dir = g_dir_make_tmp ("holder-ch-net-XXXXXX", &error);
  g_assert_no_error (error);
  sb->root = g_build_filename (sb->dir, "home", NULL);
  sb->runtime = g_build_filename (sb->dir, "runtime", NULL);
  sb->env = g_get_environ ();
  sb->env = g_environ_unsetenv (sb->env, "FLEETBOX_PARENT_PID");
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_HOME", sb->root, TRUE);
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_RUNTIME_DIR", sb->runtime, TRUE);
  sb->env = g_environ_setenv (sb->env, "FLEETBOX_BACKEND", "cloud-hypervisor", TRUE);
  return sb;
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

  return g_test_run ();
}
