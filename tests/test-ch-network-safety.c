/* SPDX-License-Identifier: MIT
 *
 * The real fleetbox-helper with FLEETBOX_BACKEND=cloud-hypervisor, against
 * what used to go wrong between helpers and users on one host: the main
 * loop while another process holds the host-wide lock, helpers with
 * different stores creating their networks at once, a user's forged
 * records in their store, a helper without CAP_NET_ADMIN, and the
 * backend's reconcile (its dry run, leftover VMM API sockets).
 *
 * Everything runs in a network and mount namespace this program makes at
 * start-up (holder-test-net.h: the first free subnet is 192.168.2.0/24),
 * and every sandbox has a runtime folder of its own unless it shares one
 * on purpose. The host's namespace is never touched.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "test-ch-network-safety"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "holder-backend.h"
#include "holder-test-net.h"
#include "holder-test-util.h"

#define UPLINK   HOLDER_TEST_UPLINK
#define ATTACKER HOLDER_TEST_ATTACKER

static const char *skip_reason;

/* ---- the host-wide lock --------------------------------------------------- */

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
  g_autoptr(HolderTestSandbox) sb = NULL;
  g_autofree char *lock_path = NULL;
  g_autofree char *reply = NULL;
  const char *args[] = { "--fleetbox-runner", "lk-1", NULL };
  double ms[9];
  int lock_fd;
  int pending;
  GPid pid;

  HOLDER_TEST_SKIP_IF (skip_reason);
  sb = holder_test_sandbox_new (NULL);
  pid = holder_test_sandbox_spawn (sb, args);
  holder_test_sandbox_wait_serving (sb, "lk-1");

  /* Made by the helper's start-up reconcile. */
  lock_path = g_build_filename (sb->runtime, ".lock", NULL);
  lock_fd = open (lock_path, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (lock_fd, >=, 0);
  g_assert_cmpint (flock (lock_fd, LOCK_EX), ==, 0);

  pending = holder_test_sandbox_request_start (sb, "lk-1", "{\"cmd\":\"createnetwork\"}\n");
  g_assert_false (holder_test_reply_ready (pending, 300));

  for (guint i = 0; i < G_N_ELEMENTS (ms); i++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autofree char *status = holder_test_sandbox_request (sb, "lk-1", "{\"cmd\":\"status\"}\n");

      ms[i] = (g_get_monotonic_time () - t0) / 1000.0;
      g_assert_true (g_str_has_prefix (status, "{\"status\":{\"name\":\"lk-1\""));
    }
  qsort (ms, G_N_ELEMENTS (ms), sizeof ms[0], compare_doubles);
  g_test_message ("status while createnetwork waits for the lock: min %.2f ms, "
                  "median %.2f ms, max %.2f ms", ms[0], ms[G_N_ELEMENTS (ms) / 2],
                  ms[G_N_ELEMENTS (ms) - 1]);
  g_assert_cmpfloat (ms[G_N_ELEMENTS (ms) / 2], <, 5.0);
  /* Still waiting: nothing was created behind the lock. */
  g_assert_false (holder_test_reply_ready (pending, 0));
  {
    g_auto(GStrv) bridges = holder_test_net_links ("fbx-");
    g_assert_cmpuint (g_strv_length (bridges), ==, 0);
  }

  close (lock_fd);
  reply = holder_test_request_finish (pending);
  g_assert_cmpstr (reply, ==, "{\"subnet\":\"192.168.2.0/24\"}\n");

  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  holder_test_assert_exits_zero (pid, 30000);
  holder_test_sandbox_assert_nothing_left (sb);
}

/* A helper whose createnetwork waits for the lock still ends on SIGTERM:
 * the wait is cancelled, nothing is created. */
static void
test_sigterm_while_lock_held (void)
{
  g_autoptr(HolderTestSandbox) sb = NULL;
  g_autofree char *lock_path = NULL;
  g_autofree char *reply = NULL;
  const char *args[] = { "--fleetbox-runner", "lk-2", NULL };
  int lock_fd;
  int pending;
  GPid pid;

  HOLDER_TEST_SKIP_IF (skip_reason);
  sb = holder_test_sandbox_new (NULL);
  pid = holder_test_sandbox_spawn (sb, args);
  holder_test_sandbox_wait_serving (sb, "lk-2");
  lock_path = g_build_filename (sb->runtime, ".lock", NULL);
  lock_fd = open (lock_path, O_RDWR | O_CLOEXEC);
  g_assert_cmpint (lock_fd, >=, 0);
  g_assert_cmpint (flock (lock_fd, LOCK_EX), ==, 0);
  pending = holder_test_sandbox_request_start (sb, "lk-2", "{\"cmd\":\"createnetwork\"}\n");
  g_assert_false (holder_test_reply_ready (pending, 300));

  g_assert_cmpint (kill (pid, SIGTERM), ==, 0);
  holder_test_assert_exits_zero (pid, 10000);
  reply = holder_test_request_finish (pending);
  g_test_message ("createnetwork: %s", reply);
  g_assert_true (g_str_has_prefix (reply, "{\"error\":\"create network: "));
  close (lock_fd);
  holder_test_sandbox_assert_nothing_left (sb);
}

/* ---- many helpers, many stores, one host --------------------------------- */

#define CONCURRENT 15

static void
test_concurrent_stores (void)
{
  g_autoptr(HolderTestSandbox) first = NULL;
  HolderTestSandbox *sbs[CONCURRENT];
  GPid pids[CONCURRENT];
  int pending[CONCURRENT];
  g_autoptr(GHashTable) subnets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *routes = NULL;
  g_auto(GStrv) bridges = NULL;

  HOLDER_TEST_SKIP_IF (skip_reason);
  first = holder_test_sandbox_new (NULL);
  for (guint i = 0; i < CONCURRENT; i++)
    {
      g_autofree char *name = g_strdup_printf ("cc-%u", i);
      const char *args[] = { "--fleetbox-runner", name, NULL };

      sbs[i] = holder_test_sandbox_new (first->runtime);
      pids[i] = holder_test_sandbox_spawn (sbs[i], args);
    }
  for (guint i = 0; i < CONCURRENT; i++)
    {
      g_autofree char *name = g_strdup_printf ("cc-%u", i);
      holder_test_sandbox_wait_serving (sbs[i], name);
    }
  /* All at once. */
  for (guint i = 0; i < CONCURRENT; i++)
    {
      g_autofree char *name = g_strdup_printf ("cc-%u", i);
      pending[i] = holder_test_sandbox_request_start (sbs[i], name, "{\"cmd\":\"createnetwork\"}\n");
    }
  for (guint i = 0; i < CONCURRENT; i++)
    {
      g_autofree char *reply = holder_test_request_finish (pending[i]);

      g_assert_true (g_str_has_prefix (reply, "{\"subnet\":\"192.168."));
      g_assert_false (g_hash_table_contains (subnets, reply));
      g_hash_table_add (subnets, g_steal_pointer (&reply));
    }
  g_assert_cmpuint (g_hash_table_size (subnets), ==, CONCURRENT);

  bridges = holder_test_net_links ("fbx-");
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
      holder_test_assert_exits_zero (pids[i], 60000);
      holder_test_sandbox_free (sbs[i]);
    }
  holder_test_sandbox_assert_nothing_left (first);
}

/* ---- a user's forged records --------------------------------------------- */


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
  status = holder_test_wait_exit (pid, 10000);
  return status != -1 && WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

/* Runs `--fleetbox-reconcile` in @sb and returns its stderr. */
static char *
reconcile_stderr (HolderTestSandbox *sb,
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
  g_autoptr(HolderTestSandbox) live_sb = NULL;
  g_autoptr(HolderTestSandbox) user_sb = NULL;
  g_auto(GStrv) bridges = NULL;
  g_autofree char *err = NULL;
  g_autofree char *value = NULL;
  Forgery forgery;
  int status = 0;
  GPid live;

  HOLDER_TEST_SKIP_IF (skip_reason);
  live_sb = holder_test_sandbox_new (NULL);
  live = holder_test_sandbox_helper_with_network (live_sb, "live-1", "192.168.2.0/24");
  bridges = holder_test_net_links ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);
  /* The uplink back off, so a marker that turned it on would show. */
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");
  g_clear_pointer (&value, g_free);

  /* A store the user owns, sharing the host's runtime folder. */
  user_sb = holder_test_sandbox_new (live_sb->runtime);
  g_assert_cmpint (g_mkdir (user_sb->root, 0755), ==, 0);
  g_assert_cmpint (chown (user_sb->root, ATTACKER, ATTACKER), ==, 0);
  user_sb->env = g_environ_setenv (user_sb->env, "SUDO_UID", "65534", TRUE);
  forgery = (Forgery) { user_sb->root, bridges[0] };
  g_assert_true (as_attacker (forge_records, &forgery));

  err = reconcile_stderr (user_sb, &status);
  g_test_message ("reconcile said: %s", err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "ignoring network records in a user-writable store"));
  g_assert_true (holder_test_net_table_exists (bridges[0]));
  {
    g_auto(GStrv) after = holder_test_net_links ("fbx-");
    g_assert_cmpuint (g_strv_length (after), ==, 1);
    g_assert_cmpstr (after[0], ==, bridges[0]);
  }
  {
    g_autofree char *reply = holder_test_sandbox_request (live_sb, "live-1",
                                                         "{\"cmd\":\"reserve\",\"name\":\"live-1\"}\n");
    g_assert_true (g_str_has_prefix (reply, "{\"reservation\":{\"ip\":\"192.168.2.2\""));
  }

  g_assert_cmpint (kill (live, SIGTERM), ==, 0);
  holder_test_assert_exits_zero (live, 30000);
  holder_test_sandbox_assert_nothing_left (live_sb);
  /* With no network left, the forged marker still turns nothing on. */
  g_clear_pointer (&err, g_free);
  err = reconcile_stderr (user_sb, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
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
  g_autoptr(HolderTestSandbox) sb = NULL;
  const char *runner[] = { g_getenv ("HOLDER_TEST_HELPER"), "--fleetbox-runner", "cap-1", NULL };
  const char *reconcile[] = { g_getenv ("HOLDER_TEST_HELPER"), "--fleetbox-reconcile", NULL };
  const char *const *argvs[] = { runner, reconcile };

  HOLDER_TEST_SKIP_IF (skip_reason);
  sb = holder_test_sandbox_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (argvs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *err = NULL;
      g_autofree char *sock = holder_test_sandbox_sock_path (sb, "cap-1");
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
backend_reconcile (HolderTestSandbox *sb,
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
  g_autoptr(HolderTestSandbox) sb = NULL;
  g_auto(GStrv) bridges = NULL;
  g_auto(GStrv) dry = NULL;
  g_auto(GStrv) real = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *record = NULL;
  g_autofree char *link = NULL;
  g_autofree char *table = NULL;
  g_autofree char *value = NULL;

  HOLDER_TEST_SKIP_IF (skip_reason);
  sb = holder_test_sandbox_new (NULL);
  holder_test_kill_helper (holder_test_sandbox_helper_with_network (sb, "dry-1",
                                                                    "192.168.2.0/24"));
  bridges = holder_test_net_links ("fbx-");
  g_assert_cmpuint (g_strv_length (bridges), ==, 1);
  dir = holder_test_net_netns_dir (sb->runtime);
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
  g_assert_true (holder_test_net_table_exists (bridges[0]));
  {
    g_auto(GStrv) still = holder_test_net_links ("fbx-");
    g_assert_cmpuint (g_strv_length (still), ==, 1);
  }
  g_assert_cmpuint (holder_test_net_count_state (sb->runtime), ==, 3);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");

  real = backend_reconcile (sb, FALSE);
  g_assert_true (g_strv_equal ((const char *const *) dry, (const char *const *) real));
  g_assert_false (holder_test_net_table_exists (bridges[0]));
  holder_test_sandbox_assert_nothing_left (sb);
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
  g_autoptr(HolderTestSandbox) sb = NULL;
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

  HOLDER_TEST_SKIP_IF (skip_reason);
  sb = holder_test_sandbox_new (NULL);
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

  skip_reason = holder_test_net_enter ();
  if (skip_reason == NULL && g_getenv ("HOLDER_TEST_HELPER") == NULL)
    skip_reason = "HOLDER_TEST_HELPER is not set";

  g_test_add_func ("/ch-network-safety/status-while-lock-held", test_status_while_lock_held);
  g_test_add_func ("/ch-network-safety/sigterm-while-lock-held", test_sigterm_while_lock_held);
  g_test_add_func ("/ch-network-safety/concurrent-stores", test_concurrent_stores);
  g_test_add_func ("/ch-network-safety/forged-store-records", test_forged_store_records);
  g_test_add_func ("/ch-network-safety/needs-net-admin", test_needs_net_admin);
  g_test_add_func ("/ch-network-safety/dry-run-dead-helper", test_dry_run_dead_helper);
  g_test_add_func ("/ch-network-safety/api-socket-leftovers", test_api_socket_leftovers);

  return g_test_run ();
}
