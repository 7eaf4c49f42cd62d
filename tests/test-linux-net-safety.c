/* SPDX-License-Identifier: MIT
 *
 * What a root helper's network code must never be turned into: the
 * runtime folder it keeps its records in (refused when anyone else could
 * write it, never reached through a symbolic link), records and markers it
 * did not write (never acted on), records left in a user's store (only
 * pointed out), processes it may kill (only the ones on its own taps), and
 * a subnet someone else took meanwhile. Also the dry run of reconcile.
 *
 * Runs as root inside a network and mount namespace made at start-up
 * (holder-test-net.h: the first free subnet is 192.168.2.0/24). The
 * attacker is uid 65534 (fork + setresuid). The host's namespace is never
 * touched.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "test-linux-net-safety"

#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "holder-backend.h"
#include "holder-linux-net.h"
#include "holder-linux-net-host.h"
#include "holder-test-net.h"
#include "holder-test-util.h"

#define UPLINK   HOLDER_TEST_UPLINK
#define ATTACKER HOLDER_TEST_ATTACKER

static const char *skip_reason;

/* ---- fixtures ----------------------------------------------------------- */

static char *
boot_id (void)
{
  g_autofree char *contents = NULL;

  g_assert_true (g_file_get_contents ("/proc/sys/kernel/random/boot_id", &contents, NULL, NULL));
  return g_strdup (g_strstrip (contents));
}

/* ---- roots and the runtime folder --------------------------------------- */

typedef struct {
  char *dir;     /* root's, 0755 */
  char *store;   /* <dir>/store: the user's store, owned by the attacker */
  char *runtime; /* <dir>/runtime: FLEETBOX_RUNTIME_DIR, made by the library */
} Roots;

static Roots *
roots_new (void)
{
  g_autoptr(GError) error = NULL;
  Roots *r = g_new0 (Roots, 1);

  r->dir = g_dir_make_tmp ("test-linux-net-safety-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_cmpint (chmod (r->dir, 0755), ==, 0);
  r->store = g_build_filename (r->dir, "store", NULL);
  g_assert_cmpint (g_mkdir (r->store, 0755), ==, 0);
  g_assert_cmpint (chown (r->store, ATTACKER, ATTACKER), ==, 0);
  r->runtime = g_build_filename (r->dir, "runtime", NULL);
  g_setenv ("FLEETBOX_RUNTIME_DIR", r->runtime, TRUE);
  return r;
}

static void
roots_free (Roots *r)
{
  holder_test_remove_tree (r->dir);
  g_free (r->dir);
  g_free (r->store);
  g_free (r->runtime);
  g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Roots, roots_free)

static gboolean
report_has (HolderNetReport *report,
            const char      *kind,
            const char      *what)
{
  for (guint i = 0; i < report->kinds->len; i++)
    {
      if (strcmp (g_ptr_array_index (report->kinds, i), kind) == 0 &&
          strstr (g_ptr_array_index (report->whats, i), what) != NULL)
        return TRUE;
    }
  return FALSE;
}

static gboolean
report_warns (HolderNetReport *report,
              const char      *needle)
{
  for (guint i = 0; i < report->warnings->len; i++)
    {
      if (strstr (g_ptr_array_index (report->warnings, i), needle) != NULL)
        return TRUE;
    }
  return FALSE;
}

/* ---- forged records and markers ------------------------------------------ */

/* A record of a dead owner (pid 1 never has start time 1) that names
 * @bridge and @tap. */
static char *
forged_record (const char *bridge,
               const char *tap)
{
  g_autofree char *boot = boot_id ();

  return g_strdup_printf ("{\"bridge\":\"%s\",\"subnet\":\"192.168.2.0/24\","
                          "\"owner_pid\":1,\"owner_start_time\":1,\"owner_boot_id\":\"%s\","
                          "\"uplink\":\"" UPLINK "\",\"uplink_forwarding_original\":\"1\","
                          "\"taps\":[\"%s\"]}\n", bridge, boot, tap);
}

static char *
forged_marker (void)
{
  g_autofree char *boot = boot_id ();

  return g_strdup_printf ("{\"uplink\":\"" UPLINK "\",\"original\":\"1\",\"boot_id\":\"%s\"}\n",
                          boot);
}

/* ---- the runtime folder --------------------------------------------------- */

static void
assert_refused (const char *runtime,
                gint        code,
                const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderNetReport) report = holder_net_report_new ();
  HolderLinuxNet *net;

  g_setenv ("FLEETBOX_RUNTIME_DIR", runtime, TRUE);
  net = holder_linux_net_create (NULL, &error);
  g_assert_null (net);
  g_assert_nonnull (error);
  g_test_message ("%s: %s", runtime, error->message);
  g_assert_error (error, HOLDER_ERROR, code);
  g_assert_nonnull (strstr (error->message, expected));
  g_clear_error (&error);
  g_assert_false (holder_linux_net_reconcile (NULL, FALSE, NULL, report, &error));
  g_assert_error (error, HOLDER_ERROR, code);
  g_assert_nonnull (strstr (error->message, expected));
  g_assert_cmpuint (holder_test_net_count_links ("fbx-"), ==, 0);
}

static char *
make_dir (const char *parent,
          const char *name,
          int         mode,
          uid_t       owner)
{
  char *path = g_build_filename (parent, name, NULL);

  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_assert_cmpint (chmod (path, mode), ==, 0);
  g_assert_cmpint (chown (path, owner, owner), ==, 0);
  return path;
}

static gboolean
dir_is_empty (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);

  return dir != NULL && g_dir_read_name (dir) == NULL;
}

static void
test_runtime_made_private (void)
{
  g_autoptr(Roots) r = NULL;
  g_autofree char *mine = NULL;
  GStatBuf st;
  HolderLinuxNet *net;

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();
  net = holder_test_linux_net_create ();
  g_assert_cmpint (g_lstat (r->runtime, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpuint (st.st_uid, ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0700);
  mine = holder_test_net_netns_dir (r->runtime);
  g_assert_cmpint (g_lstat (mine, &st), ==, 0);
  g_assert_cmpuint (st.st_mode & 07777, ==, 0700);
  {
    g_autofree char *record = holder_test_net_record_path (r->runtime,
                                                           holder_linux_net_get_bridge (net));
    g_assert_cmpint (g_lstat (record, &st), ==, 0);
    g_assert_cmpuint (st.st_uid, ==, 0);
    g_assert_cmpuint (st.st_mode & 07777, ==, 0600);
  }
  /* Nothing of it in the user's store. */
  g_assert_true (dir_is_empty (r->store));

  holder_test_linux_net_close (net);
  /* The namespace folder goes with its last record. */
  g_assert_false (g_file_test (mine, G_FILE_TEST_EXISTS));
}

static void
test_runtime_refused (void)
{
  g_autoptr(Roots) r = NULL;
  g_autofree char *target = NULL;
  g_autofree char *link = NULL;
  g_autofree char *user_owned = NULL;
  g_autofree char *open_to_all = NULL;
  g_autofree char *group_writable = NULL;
  g_autofree char *user_parent = NULL;
  g_autofree char *wide_parent = NULL;
  g_autofree char *sticky_parent = NULL;
  g_autofree char *below = NULL;
  HolderLinuxNet *net;

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();

  /* A symbolic link, even to a folder root owns, is not followed. */
  target = make_dir (r->dir, "target", 0700, 0);
  link = g_build_filename (r->dir, "link", NULL);
  g_assert_cmpint (symlink (target, link), ==, 0);
  assert_refused (link, HOLDER_ERROR_PERMISSION_DENIED, "is a symbolic link");
  g_assert_true (dir_is_empty (target));
  below = g_build_filename (link, "rt", NULL);
  assert_refused (below, HOLDER_ERROR_PERMISSION_DENIED, "is a symbolic link");
  g_assert_true (dir_is_empty (target));
  g_clear_pointer (&below, g_free);

  /* A folder of the user's, or one others may write to. */
  user_owned = make_dir (r->dir, "user-owned", 0700, ATTACKER);
  assert_refused (user_owned, HOLDER_ERROR_PERMISSION_DENIED, "is owned by uid 65534, not root");
  g_assert_true (dir_is_empty (user_owned));
  open_to_all = make_dir (r->dir, "open", 0777, 0);
  assert_refused (open_to_all, HOLDER_ERROR_PERMISSION_DENIED, "chmod it 0700");
  group_writable = make_dir (r->dir, "group", 0770, 0);
  assert_refused (group_writable, HOLDER_ERROR_PERMISSION_DENIED, "chmod it 0700");

  /* A parent the user owns, or others may write to without the sticky
   * bit, lets them swap the folder. */
  user_parent = make_dir (r->dir, "user-parent", 0755, ATTACKER);
  below = g_build_filename (user_parent, "rt", NULL);
  assert_refused (below, HOLDER_ERROR_PERMISSION_DENIED, "owned by another user");
  g_assert_true (dir_is_empty (user_parent));
  g_clear_pointer (&below, g_free);
  wide_parent = make_dir (r->dir, "wide", 0777, 0);
  below = g_build_filename (wide_parent, "rt", NULL);
  assert_refused (below, HOLDER_ERROR_PERMISSION_DENIED, "writable by others and not sticky");
  g_clear_pointer (&below, g_free);

  assert_refused ("relative/rt", HOLDER_ERROR_INVALID_ARGUMENT, "must be an absolute path");

  /* A sticky parent (like /tmp) is fine. */
  sticky_parent = make_dir (r->dir, "sticky", 01777, 0);
  below = g_build_filename (sticky_parent, "rt", NULL);
  g_setenv ("FLEETBOX_RUNTIME_DIR", below, TRUE);
  net = holder_test_linux_net_create ();
  holder_test_linux_net_close (net);
}

static void
test_runtime_lock_symlink (void)
{
  g_autoptr(Roots) r = NULL;
  g_autofree char *lock = NULL;
  g_autofree char *planted = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderNetReport) report = holder_net_report_new ();

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();
  g_assert_cmpint (g_mkdir (r->runtime, 0700), ==, 0);
  lock = g_build_filename (r->runtime, ".lock", NULL);
  planted = g_build_filename (r->dir, "created-by-root", NULL);
  g_assert_cmpint (symlink (planted, lock), ==, 0);

  g_assert_null (holder_linux_net_create (NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "a symbolic link"));
  g_clear_error (&error);
  g_assert_false (holder_linux_net_reconcile (NULL, FALSE, NULL, report, &error));
  g_assert_nonnull (strstr (error->message, "a symbolic link"));
  g_assert_false (g_file_test (planted, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (holder_test_net_count_links ("fbx-"), ==, 0);
}

/* In a child with a mount namespace of its own and a fresh /run: the
 * default folder. */
static gboolean
default_runtime_in_child (gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ours = holder_test_net_netns_dir ("/");
  g_autofree char *name = g_path_get_basename (ours);
  g_autofree char *mine = g_build_filename ("/run/fleetbox", name, NULL);
  g_autofree char *record = NULL;
  HolderLinuxNet *net;
  struct stat st;

  if (unshare (CLONE_NEWNS) < 0 || mount ("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
      mount ("tmpfs", "/run", "tmpfs", 0, "mode=0755") < 0)
    return FALSE;
  g_unsetenv ("FLEETBOX_RUNTIME_DIR");

  net = holder_linux_net_create (NULL, &error);
  if (net == NULL)
    return FALSE;
  record = g_strdup_printf ("%s/%s.json", mine, holder_linux_net_get_bridge (net));
  if (lstat ("/run/fleetbox", &st) < 0 || !S_ISDIR (st.st_mode) || st.st_uid != 0 ||
      (st.st_mode & 07777) != 0700 || lstat (record, &st) < 0 || st.st_uid != 0)
    return FALSE;
  if (!holder_linux_net_close (net, NULL, &error))
    return FALSE;
  holder_linux_net_free (net);
  if (g_file_test (mine, G_FILE_TEST_EXISTS))
    return FALSE;

  /* A /run/fleetbox that a user made first is refused. */
  if (unlink ("/run/fleetbox/.lock") < 0 || rmdir ("/run/fleetbox") < 0 || mkdir ("/run/fleetbox", 0700) < 0 ||
      chown ("/run/fleetbox", ATTACKER, ATTACKER) < 0)
    return FALSE;
  net = holder_linux_net_create (NULL, &error);
  return net == NULL && strstr (error->message, "/run/fleetbox is owned by uid 65534") != NULL;
}

/* As a user: the default folder is refused with what to do; a folder of
 * their own works (for tests of the records without root). */
static gboolean
runtime_without_root (gconstpointer data)
{
  const char *own = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderNetReport) report = holder_net_report_new ();

  g_unsetenv ("FLEETBOX_RUNTIME_DIR");
  if (holder_linux_net_reconcile (NULL, FALSE, NULL, report, &error) ||
      strstr (error->message, "needs root; to run without root, set FLEETBOX_RUNTIME_DIR") == NULL)
    return FALSE;
  g_clear_error (&error);
  g_setenv ("FLEETBOX_RUNTIME_DIR", own, TRUE);
  return holder_linux_net_reconcile (NULL, FALSE, NULL, report, &error);
}

static void
test_runtime_default (void)
{
  g_autoptr(Roots) r = NULL;
  g_autofree char *sticky = NULL;
  g_autofree char *own = NULL;

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();
  g_assert_true (holder_test_check_in_child_as (0, default_runtime_in_child, NULL));
  g_assert_cmpuint (holder_test_net_count_links ("fbx-"), ==, 0);

  sticky = make_dir (r->dir, "sticky", 01777, 0);
  own = make_dir (sticky, "own", 0700, ATTACKER);
  g_assert_true (holder_test_check_in_child_as (ATTACKER, runtime_without_root, own));
}

/* ---- records and markers root did not write ----------------------------- */

static void
write_file (const char *path,
            const char *contents,
            int         mode,
            uid_t       owner)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (g_file_set_contents (path, contents, -1, &error));
  g_assert_no_error (error);
  g_assert_cmpint (chmod (path, mode), ==, 0);
  g_assert_cmpint (chown (path, owner, owner), ==, 0);
}

/* A live network with a tap and a "VMM" on it, and its record forged in
 * place to say that its owner is dead: as a file of another user, then as
 * a file others may write. Reconcile must leave all of it alone. */
static void
test_untrusted_record_ignored (void)
{
  g_autoptr(Roots) r = NULL;
  g_autofree char *tap = NULL;
  g_autofree char *bridge = NULL;
  g_autofree char *path = NULL;
  g_autofree char *original = NULL;
  g_autofree char *forged = NULL;
  g_autoptr(GError) error = NULL;
  const struct { int mode; uid_t owner; const char *why; } forgeries[] = {
    { 0644, ATTACKER, "owned by another user" },
    { 0666, 0, "writable by others" },
  };
  HolderLinuxNet *live;
  GPid vmm;

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();
  live = holder_test_linux_net_create ();
  bridge = g_strdup (holder_linux_net_get_bridge (live));
  tap = holder_linux_net_add_tap (live, &error);
  g_assert_no_error (error);
  vmm = holder_test_net_spawn_tap_user (tap, FALSE);
  path = holder_test_net_record_path (r->runtime, bridge);
  g_assert_true (g_file_get_contents (path, &original, NULL, NULL));
  forged = forged_record (bridge, tap);

  for (guint i = 0; i < G_N_ELEMENTS (forgeries); i++)
    {
      g_autoptr(HolderNetReport) report = NULL;

      write_file (path, forged, forgeries[i].mode, forgeries[i].owner);
      report = holder_test_linux_net_reconcile (NULL, FALSE);
      g_assert_true (report_warns (report, "untrusted network record ignored"));
      g_assert_true (report_warns (report, forgeries[i].why));
      g_assert_cmpuint (report->kinds->len, ==, 0);
      g_assert_true (holder_test_net_link_exists (bridge));
      g_assert_true (holder_test_net_link_exists (tap));
      g_assert_true (holder_test_net_table_exists (bridge));
      g_assert_true (holder_test_child_runs (vmm));
    }

  write_file (path, original, 0600, 0);
  holder_test_kill_and_reap (vmm);
  holder_test_linux_net_close (live);
}

/* What a user puts in <store>/networks/, the old home of the records, is
 * never read: a record naming a live cluster's bridge and tap, a marker
 * asking for forwarding on the uplink, a lock that is a symbolic link, and
 * a temporary file. */
typedef struct {
  const char *store;
  const char *record_name;
  const char *record;
  const char *marker;
  const char *planted;
} Forgery;

static gboolean
forge_store (gconstpointer data)
{
  const Forgery *f = data;
  g_autofree char *dir = g_build_filename (f->store, "networks", NULL);
  g_autofree char *record = g_build_filename (dir, f->record_name, NULL);
  g_autofree char *marker = g_build_filename (dir, "uplink-" UPLINK ".json", NULL);
  g_autofree char *lock = g_build_filename (dir, ".lock", NULL);
  g_autofree char *tmp = g_build_filename (dir, "fbx-00000000.json.tmp-abcdef", NULL);

  return g_mkdir (dir, 0755) == 0 &&
         g_file_set_contents (record, f->record, -1, NULL) &&
         g_file_set_contents (marker, f->marker, -1, NULL) &&
         g_file_set_contents (tmp, "x", -1, NULL) &&
         symlink (f->planted, lock) == 0;
}

static void
test_store_records_ignored (void)
{
  g_autoptr(Roots) r = NULL;
  g_autoptr(HolderNetReport) report = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *tap = NULL;
  g_autofree char *bridge = NULL;
  g_autofree char *record_name = NULL;
  g_autofree char *record = NULL;
  g_autofree char *marker = NULL;
  g_autofree char *planted = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *value = NULL;
  Forgery forgery;
  HolderLinuxNet *live;
  GPid vmm;

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();
  live = holder_test_linux_net_create ();
  bridge = g_strdup (holder_linux_net_get_bridge (live));
  tap = holder_linux_net_add_tap (live, &error);
  g_assert_no_error (error);
  vmm = holder_test_net_spawn_tap_user (tap, FALSE);

  record_name = g_strconcat (bridge, ".json", NULL);
  record = forged_record (bridge, tap);
  marker = forged_marker ();
  planted = g_build_filename (r->dir, "created-by-root", NULL);
  forgery = (Forgery) { r->store, record_name, record, marker, planted };
  g_assert_true (holder_test_check_in_child_as (ATTACKER, forge_store, &forgery));

  report = holder_test_linux_net_reconcile (r->store, FALSE);
  g_assert_true (report_warns (report, "ignoring network records in a user-writable store"));
  g_assert_cmpuint (report->kinds->len, ==, 0);
  g_assert_true (holder_test_net_link_exists (bridge));
  g_assert_true (holder_test_net_link_exists (tap));
  g_assert_true (holder_test_net_table_exists (bridge));
  g_assert_true (holder_test_child_runs (vmm));
  g_assert_false (g_file_test (planted, G_FILE_TEST_EXISTS));
  tmp = g_build_filename (r->store, "networks", "fbx-00000000.json.tmp-abcdef", NULL);
  g_assert_true (g_file_test (tmp, G_FILE_TEST_EXISTS));

  /* Nor when the store is all there is: the marker turns nothing on. */
  holder_test_kill_and_reap (vmm);
  holder_test_linux_net_close (live);
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
  g_clear_pointer (&value, g_free);
  g_clear_pointer (&report, holder_net_report_free);
  report = holder_test_linux_net_reconcile (r->store, FALSE);
  g_assert_true (report_warns (report, "ignoring network records in a user-writable store"));
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
  g_assert_false (g_file_test (planted, G_FILE_TEST_EXISTS));
}

/* A symbolic link as the store's networks/ folder is not followed: the
 * temporary files at its target stay. */
static gboolean
link_store_networks (gconstpointer data)
{
  const char *const *paths = data;
  g_autofree char *link = g_build_filename (paths[0], "networks", NULL);

  return symlink (paths[1], link) == 0;
}

static void
test_store_networks_symlink (void)
{
  g_autoptr(Roots) r = NULL;
  g_autoptr(HolderNetReport) report = NULL;
  g_autofree char *elsewhere = NULL;
  g_autofree char *victim = NULL;
  const char *paths[2];

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();
  elsewhere = make_dir (r->dir, "elsewhere", 0755, 0);
  victim = g_build_filename (elsewhere, "fbx-00000000.json.tmp-abcdef", NULL);
  write_file (victim, "keep me", 0644, 0);
  paths[0] = r->store;
  paths[1] = elsewhere;
  g_assert_true (holder_test_check_in_child_as (ATTACKER, link_store_networks, paths));

  report = holder_test_linux_net_reconcile (r->store, FALSE);
  g_assert_true (report_warns (report, "a symbolic link"));
  g_assert_true (g_file_test (victim, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (report->kinds->len, ==, 0);
}

/* A marker in the runtime folder that root did not write turns nothing
 * on. */
static void
test_untrusted_marker_ignored (void)
{
  g_autoptr(Roots) r = NULL;
  g_autoptr(HolderNetReport) report = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *marker = NULL;
  g_autofree char *forged = forged_marker ();
  g_autofree char *value = NULL;

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();
  holder_test_linux_net_close (holder_test_linux_net_create ());
  dir = holder_test_net_netns_dir (r->runtime);
  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  marker = g_build_filename (dir, "uplink-" UPLINK ".json", NULL);
  write_file (marker, forged, 0644, ATTACKER);

  report = holder_test_linux_net_reconcile (NULL, FALSE);
  g_assert_true (report_warns (report, "untrusted forwarding marker ignored"));
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
  g_assert_true (g_file_test (marker, G_FILE_TEST_EXISTS));
}

/* ---- what reconcile may kill ---------------------------------------------- */

static void
test_kills_only_its_tap_users (void)
{
  g_autoptr(Roots) r = NULL;
  g_autoptr(HolderNetReport) report = NULL;
  g_autofree char *tap = NULL;
  g_autofree char *bridge = NULL;
  g_autofree char *expected = NULL;
  int status = 0;
  GPid vmm;
  GPid elsewhere;
  GPid unrelated;

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();
  bridge = holder_test_linux_net_make_dead (&tap);
  vmm = holder_test_net_spawn_tap_user (tap, FALSE);
  /* A tap of the same name in another namespace is another tap. */
  elsewhere = holder_test_net_spawn_tap_user (tap, TRUE);
  /* A tap no record names. */
  unrelated = holder_test_net_spawn_tap_user ("fbt-0000beef", FALSE);

  report = holder_test_linux_net_reconcile (NULL, FALSE);
  g_assert_cmpuint (report->networks, ==, 1);
  g_assert_true (holder_test_wait_child (vmm, &status));
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  expected = g_strdup_printf ("%d (", (int) vmm);
  g_assert_true (report_has (report, "process", expected));
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf (") attached to %s", tap);
  g_assert_true (report_has (report, "process", expected));
  g_assert_true (holder_test_child_runs (elsewhere));
  g_assert_true (holder_test_child_runs (unrelated));
  g_assert_false (holder_test_net_link_exists (tap));
  g_assert_false (holder_test_net_link_exists (bridge));

  holder_test_kill_and_reap (elsewhere);
  holder_test_kill_and_reap (unrelated);
}

/* ---- dry run -------------------------------------------------------------- */

static void
test_dry_run (void)
{
  g_autoptr(Roots) r = NULL;
  g_autoptr(HolderNetReport) dry = NULL;
  g_autoptr(HolderNetReport) real = NULL;
  g_autofree char *tap = NULL;
  g_autofree char *bridge = NULL;
  g_autofree char *record = NULL;
  g_autofree char *value = NULL;
  g_autofree char *attached = NULL;
  int status = 0;
  GPid vmm;

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();
  /* Not even the runtime folder is made. */
  dry = holder_test_linux_net_reconcile (NULL, TRUE);
  g_assert_cmpuint (dry->kinds->len, ==, 0);
  g_assert_false (g_file_test (r->runtime, G_FILE_TEST_EXISTS));
  g_clear_pointer (&dry, holder_net_report_free);

  bridge = holder_test_linux_net_make_dead (&tap);
  vmm = holder_test_net_spawn_tap_user (tap, FALSE);
  record = holder_test_net_record_path (r->runtime, bridge);
  attached = g_strdup_printf (") attached to %s", tap);

  /* Everything is reported, nothing is touched. */
  dry = holder_test_linux_net_reconcile (NULL, TRUE);
  g_assert_true (report_has (dry, "process", attached));
  g_assert_true (report_has (dry, "link", tap));
  g_assert_true (report_has (dry, "table", bridge));
  g_assert_true (report_has (dry, "link", bridge));
  g_assert_true (report_has (dry, "record", record));
  g_assert_true (report_has (dry, "forwarding", UPLINK " back to 0"));
  g_assert_true (report_has (dry, "marker", "uplink-" UPLINK ".json"));
  g_assert_cmpuint (dry->kinds->len, ==, 7);
  g_assert_true (holder_test_child_runs (vmm));
  g_assert_true (holder_test_net_link_exists (tap));
  g_assert_true (holder_test_net_link_exists (bridge));
  g_assert_true (holder_test_net_table_exists (bridge));
  g_assert_true (g_file_test (record, G_FILE_TEST_EXISTS));
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "1");
  g_clear_pointer (&value, g_free);

  /* The real run does what the dry run said. */
  real = holder_test_linux_net_reconcile (NULL, FALSE);
  g_assert_cmpuint (real->kinds->len, ==, dry->kinds->len);
  for (guint i = 0; i < dry->kinds->len; i++)
    {
      g_assert_cmpstr (g_ptr_array_index (real->kinds, i), ==, g_ptr_array_index (dry->kinds, i));
      g_assert_cmpstr (g_ptr_array_index (real->whats, i), ==, g_ptr_array_index (dry->whats, i));
    }
  g_assert_true (holder_test_wait_child (vmm, &status));
  g_assert_false (holder_test_net_link_exists (tap));
  g_assert_false (holder_test_net_link_exists (bridge));
  g_assert_false (holder_test_net_table_exists (bridge));
  g_assert_false (g_file_test (record, G_FILE_TEST_EXISTS));
  g_assert_cmpstr ((value = holder_test_net_forwarding (UPLINK)), ==, "0");
}

/* ---- a subnet taken meanwhile --------------------------------------------- */

static guint hook_calls;

/* The moment between choice and check: someone outside holder puts the
 * same /24 on another link. */
static void
take_subnet_meanwhile (const char *bridge,
                       const char *subnet,
                       gpointer    user_data)
{
  if (hook_calls++ == 0)
    holder_test_net_ip ("addr add 192.168.2.200/24 dev busy0");
}

static void
test_subnet_taken_meanwhile (void)
{
  g_autoptr(Roots) r = NULL;
  g_autofree char *addrs = NULL;
  g_autofree char *record = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *dump = NULL;
  g_autoptr(GError) error = NULL;
  HolderLinuxNet *net;

  HOLDER_TEST_SKIP_IF (skip_reason);
  r = roots_new ();
  hook_calls = 0;
  holder_linux_net_set_address_hook (take_subnet_meanwhile, NULL);
  net = holder_test_linux_net_create ();
  holder_linux_net_set_address_hook (NULL, NULL);

  g_assert_cmpuint (hook_calls, ==, 2);
  g_assert_cmpstr (holder_linux_net_get_subnet (net), ==, "192.168.3.0/24");
  g_assert_cmpstr (holder_linux_net_get_gateway (net), ==, "192.168.3.1");
  addrs = holder_test_net_ip_output ("-o -4 addr show dev %s", holder_linux_net_get_bridge (net));
  g_assert_nonnull (strstr (addrs, "inet 192.168.3.1/24"));
  g_assert_null (strstr (addrs, "192.168.2."));
  record = holder_test_net_record_path (r->runtime, holder_linux_net_get_bridge (net));
  g_assert_true (g_file_get_contents (record, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "\"subnet\":\"192.168.3.0/24\""));
  dump = holder_net_table_dump (holder_linux_net_get_bridge (net), &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (dump, "192.168.3.0/24"));

  holder_test_linux_net_close (net);
  holder_test_net_ip ("addr del 192.168.2.200/24 dev busy0");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  skip_reason = holder_test_net_enter ();

  g_test_add_func ("/linux-net-safety/runtime/made-private", test_runtime_made_private);
  g_test_add_func ("/linux-net-safety/runtime/refused", test_runtime_refused);
  g_test_add_func ("/linux-net-safety/runtime/lock-symlink", test_runtime_lock_symlink);
  g_test_add_func ("/linux-net-safety/runtime/default", test_runtime_default);
  g_test_add_func ("/linux-net-safety/untrusted/record", test_untrusted_record_ignored);
  g_test_add_func ("/linux-net-safety/untrusted/marker", test_untrusted_marker_ignored);
  g_test_add_func ("/linux-net-safety/store/records-ignored", test_store_records_ignored);
  g_test_add_func ("/linux-net-safety/store/networks-symlink", test_store_networks_symlink);
  g_test_add_func ("/linux-net-safety/reconcile/kills-only-its-tap-users",
                   test_kills_only_its_tap_users);
  g_test_add_func ("/linux-net-safety/reconcile/dry-run", test_dry_run);
  g_test_add_func ("/linux-net-safety/create/subnet-taken-meanwhile",
                   test_subnet_taken_meanwhile);

  return g_test_run ();
}
