/* test-ch-e2e.c: a real cluster through the real fleetbox-helper with the
 * cloud-hypervisor backend, the stand-in VMM (qemu under TCG) and the
 * busybox test guest, all inside a network namespace this test creates.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <holder.h>
#include "holder-test-guest.h"
#include "holder-test-util.h"

#define BOOT_TIMEOUT_MS (240 * 1000)

static char *skip_reason;
/* What meson test hands these tests. */
static const char *const needed_env[] = { "HOLDER_TEST_CH_STANDIN", "HOLDER_TEST_HELPER", NULL };

typedef struct {
  char  *root;
  char  *runtime; /* FLEETBOX_RUNTIME_DIR: the records, private to the test */
  char **envp;
  char  *names[4];
  char  *ips[3];
  char  *serial[3];
  char  *subnet;
  HolderHelper *helper;
} Fixture;

/* ---------------------------------------------------------------- fixture */

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  fx->root = g_dir_make_tmp ("holder-e2e-XXXXXX", NULL);
  fx->runtime = g_dir_make_tmp ("holder-e2e-run-XXXXXX", NULL);
  fx->envp = g_get_environ ();
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_HOME", fx->root, TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_RUNTIME_DIR", fx->runtime, TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_BACKEND", "cloud-hypervisor", TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_CH_BINARY", g_getenv ("HOLDER_TEST_CH_STANDIN"), TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_IP_WAIT_TIMEOUT", "200s", TRUE);
  for (guint i = 0; i < 3; i++)
    {
      fx->names[i] = g_strdup_printf ("e2e-%u", i + 1);
      fx->serial[i] = g_strdup_printf ("%s/%s.serial.log", fx->root, fx->names[i]);
    }
  g_setenv ("FLEETBOX_HOME", fx->root, TRUE);
  g_setenv ("FLEETBOX_RUNTIME_DIR", fx->runtime, TRUE);
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  if (fx->helper != NULL)
    {
      GPid pid = holder_helper_get_pid (fx->helper);
      if (!holder_test_pid_is_dead (pid))
        kill (pid, SIGKILL);
      g_clear_pointer (&fx->helper, holder_helper_free);
    }
  holder_test_remove_tree (fx->root);
  holder_test_remove_tree (fx->runtime);
  for (guint i = 0; i < 3; i++)
    {
      g_free (fx->names[i]);
      g_free (fx->ips[i]);
      g_free (fx->serial[i]);
    }
  g_free (fx->subnet);
  g_strfreev (fx->envp);
  g_free (fx->root);
  g_free (fx->runtime);
}

static HolderMemberSpec *
make_spec (Fixture *fx, guint i, gboolean with_peers)
{
  const char *peers[3] = { NULL, };
  guint n = 0;

  for (guint j = 0; with_peers && j < 3; j++)
    if (j != i)
      peers[n++] = fx->ips[j];
  return holder_test_guest_spec (fx->root, fx->names[i], fx->ips[i], peers, fx->serial[i]);
}

static void
spawn_and_network (Fixture *fx, guint members)
{
  g_autoptr(GError) error = NULL;
  const char *names[4] = { NULL, };

  for (guint i = 0; i < members; i++)
    names[i] = fx->names[i];
  fx->helper = holder_helper_spawn (g_getenv ("HOLDER_TEST_HELPER"), names,
                                    (const char *const *) fx->envp, HOLDER_SPAWN_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_true (holder_client_create_network (fx->root, fx->names[0], &fx->subnet, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (fx->subnet, ".0/24"));
  for (guint i = 0; i < members; i++)
    {
      g_autoptr(HolderReservation) reservation =
        holder_client_reserve (fx->root, fx->names[0], fx->names[i], NULL, &error);
      g_assert_no_error (error);
      g_assert_nonnull (reservation->ip);
      fx->ips[i] = g_strdup (reservation->ip);
    }
}

typedef struct {
  HolderReply *reply;
  GError      *error;
  gboolean     done;
} Boot;

static void
on_booted (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Boot *boot = user_data;
  boot->reply = holder_client_send_finish (result, &boot->error);
  boot->done = TRUE;
}

static void
boot_members (Fixture *fx, guint first, guint count, gboolean with_peers)
{
  Boot boots[3] = { { 0, }, };
  HolderRequest *requests[3] = { NULL, };
  gint64 t0 = g_get_monotonic_time ();

  for (guint i = first; i < first + count; i++)
    {
      requests[i] = holder_request_new ("boot-member");
      requests[i]->spec = make_spec (fx, i, with_peers);
      holder_client_send_async (fx->root, fx->names[0], requests[i], BOOT_TIMEOUT_MS, NULL,
                                on_booted, &boots[i]);
    }
  for (guint i = first; i < first + count; i++)
    {
      while (!boots[i].done)
        g_main_context_iteration (NULL, TRUE);
      g_assert_no_error (boots[i].error);
      holder_reply_free (boots[i].reply);
      holder_request_free (requests[i]);
    }
  g_test_message ("%u member(s) booted in %.1f s", count,
                  (g_get_monotonic_time () - t0) / (double) G_USEC_PER_SEC);
}

static void
assert_running (Fixture *fx, guint i)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderStatus) status = holder_client_status (fx->root, fx->names[i], &error);

  g_assert_no_error (error);
  g_assert_cmpstr (status->state, ==, "running");
  g_assert_true (status->running);
  g_assert_cmpstr (status->ip, ==, fx->ips[i]);
}

/* No link, table or record of ours is left in this namespace. */
static void
assert_host_clean (Fixture *fx)
{
  g_autofree char *links = NULL;
  g_autoptr(GDir) dir = g_dir_open (fx->runtime, 0, NULL);
  const char *entry;

  g_assert_true (g_spawn_command_line_sync ("ip -o link show", &links, NULL, NULL, NULL));
  g_assert_null (strstr (links, "fbx-"));
  g_assert_null (strstr (links, "fbt-"));
  /* Only the lock may stay: the namespace's folder goes with its last
   * record. */
  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    g_assert_cmpstr (entry, ==, ".lock");
}

/* Member @i's permanent neighbour entry: its reserved MAC on the bridge. */
static void
assert_neighbour (Fixture *fx, guint i)
{
  g_autofree char *mac = holder_mac_for_name (fx->names[i]);

  g_assert_true (holder_test_has_permanent_neighbour (fx->ips[i], mac, "fbx-"));
}

static void
assert_no_neighbour (Fixture *fx, guint i)
{
  g_autofree char *line = holder_test_neighbour_of (fx->ips[i]);

  g_assert_cmpstr (line, ==, "");
}

/* utime + stime of @pid in seconds (field 14 and 15 of /proc/<pid>/stat). */
static double
process_cpu_seconds (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  g_auto(GStrv) fields = NULL;
  const char *paren;

  g_assert_true (g_file_get_contents (path, &stat, NULL, NULL));
  paren = strrchr (stat, ')');
  g_assert_nonnull (paren);
  /* After the command: state is field 3, utime field 14, stime field 15. */
  fields = g_strsplit (paren + 2, " ", 0);
  g_assert_cmpuint (g_strv_length (fields), >, 13);
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) /
         sysconf (_SC_CLK_TCK);
}

/* ------------------------------------------------------------------ tests */

static void
test_cluster (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) procs = NULL;
  g_autofree char *reached2 = NULL;
  g_autofree char *reached3 = NULL;
  g_autofree char *reconcile = NULL;
  GPid helper_pid;
  gint64 t0;
  int status = 0;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }

  spawn_and_network (fx, 3);
  /* Reserved: the helper knows the guests' MACs, so the kernel need not
   * ask (no ARP wait for the probes of port 22). */
  for (guint i = 0; i < 3; i++)
    assert_neighbour (fx, i);
  boot_members (fx, 0, 3, TRUE);
  for (guint i = 0; i < 3; i++)
    {
      assert_running (fx, i);
      assert_neighbour (fx, i);
    }

  /* Member 1 reaches 2 and 3 across the bridge, as its serial log says. */
  reached2 = g_strdup_printf ("holder-guest: reached %s", fx->ips[1]);
  reached3 = g_strdup_printf ("holder-guest: reached %s", fx->ips[2]);
  holder_test_wait_for_file (fx->serial[0], reached2, 60);
  holder_test_wait_for_file (fx->serial[0], reached3, 60);

  /* Stop member 2: ACPI first, seen by its guest; the others run on. */
  g_assert_true (holder_client_stop (fx->root, fx->names[1], 30 * 1000, &error));
  g_assert_no_error (error);
  g_assert_true (holder_test_file_contains (fx->serial[1], "holder-guest: ACPI power button, powering off"));
  assert_running (fx, 0);
  assert_running (fx, 2);
  /* Its entry went with its VM; the others' stay. */
  assert_no_neighbour (fx, 1);
  assert_neighbour (fx, 0);
  assert_neighbour (fx, 2);

  /* Re-join with the same address and MAC. */
  {
    g_autoptr(HolderReservation) again =
      holder_client_reserve (fx->root, fx->names[0], fx->names[1], "10.0.0.9", &error);
    g_autofree char *mac = holder_mac_for_name (fx->names[1]);
    g_autofree char *up = g_strdup_printf ("holder-guest: up %s", fx->ips[1]);

    g_assert_no_error (error);
    g_assert_cmpstr (again->ip, ==, fx->ips[1]);
    g_assert_cmpstr (again->mac, ==, mac);
    g_assert_true (g_remove (fx->serial[1]) == 0);
    boot_members (fx, 1, 1, FALSE);
    assert_running (fx, 1);
    assert_neighbour (fx, 1);
    holder_test_wait_for_file (fx->serial[1], up, 60);
  }

  /* kill -9 the helper: every VMM and qemu goes within a second. */
  helper_pid = holder_helper_get_pid (fx->helper);
  procs = holder_test_descendants_of (helper_pid);
  g_assert_cmpuint (procs->len, >=, 6); /* 3 VMMs, 3 qemus */
  kill (helper_pid, SIGKILL);
  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < procs->len; i++)
    while (!holder_test_pid_is_dead (g_array_index (procs, GPid, i)))
      {
        g_assert_cmpint (g_get_monotonic_time () - t0, <, G_USEC_PER_SEC);
        g_usleep (1000); /* watching other processes die */
      }
  g_test_message ("%u VMM and qemu processes gone %.0f ms after SIGKILL", procs->len,
                  (g_get_monotonic_time () - t0) / 1000.0);

  /* Reconcile removes the bridge, taps, table and record. */
  {
    g_autofree char *argv0 = g_strdup (g_getenv ("HOLDER_TEST_HELPER"));
    const char *argv[] = { argv0, "--fleetbox-reconcile", NULL };
    g_assert_true (g_spawn_sync (NULL, (char **) argv, fx->envp, G_SPAWN_DEFAULT, NULL, NULL,
                                 NULL, &reconcile, &status, &error));
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  assert_host_clean (fx);
  /* The bridge took the entries with it. */
  for (guint i = 0; i < 3; i++)
    assert_no_neighbour (fx, i);
}

/* A guest whose stack is up but whose port 22 never opens: the wait ends
 * with the standard timeout, and all the while the probe costs the helper
 * little (it probes every few ms, but never spins). */
static void
test_port22_closed (Fixture *fx, gconstpointer data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(HolderRequest) request = NULL;
  g_autofree char *up = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *cmdline = NULL;
  Boot boot = { 0, };
  GPid helper_pid;
  double cpu0, cpu;
  gint64 t0, elapsed;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }

  /* Long enough for the guest to boot (seconds under TCG, more when the
   * machine is busy) and then 10 s of measuring. */
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_IP_WAIT_TIMEOUT", "60s", TRUE);
  spawn_and_network (fx, 1);
  helper_pid = holder_helper_get_pid (fx->helper);
  spec = make_spec (fx, 0, FALSE);
  cmdline = g_strconcat (spec->cmdline, " holder.port22=closed", NULL);
  g_free (spec->cmdline);
  spec->cmdline = g_steal_pointer (&cmdline);
  request = holder_request_new ("boot-member");
  request->spec = holder_member_spec_copy (spec);
  holder_client_send_async (fx->root, fx->names[0], request, BOOT_TIMEOUT_MS, NULL,
                            on_booted, &boot);

  /* From the moment its stack answers (RST), the probe is at its busiest. */
  up = g_strdup_printf ("holder-guest: up %s, port 22 closed", fx->ips[0]);
  while (!holder_test_file_contains (fx->serial[0], up))
    {
      g_assert_false (boot.done);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000); /* watching a file another process writes */
    }
  cpu0 = process_cpu_seconds (helper_pid);
  t0 = g_get_monotonic_time ();
  while (g_get_monotonic_time () - t0 < 10 * G_USEC_PER_SEC)
    {
      g_assert_false (boot.done);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000); /* letting time pass: the figure is the helper's */
    }
  cpu = process_cpu_seconds (helper_pid) - cpu0;
  elapsed = g_get_monotonic_time () - t0;
  g_test_message ("helper CPU over %.1f s of probing a guest with port 22 closed: "
                  "%.2f s (%.2f %% of one CPU)", elapsed / 1e6, cpu,
                  100.0 * cpu / (elapsed / 1e6));
  g_assert_cmpfloat (cpu / (elapsed / 1e6), <, 0.05);

  while (!boot.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_null (boot.reply);
  g_assert_nonnull (boot.error);
  /* The standard message: other parts may add what "up" means after it. */
  expected = g_strdup_printf ("wait for ip %s: timed out after 1m0s", fx->names[0]);
  g_test_message ("boot-member: %s", boot.error->message);
  g_assert_true (g_str_has_prefix (boot.error->message, expected));
  g_clear_error (&boot.error);
}

static void
test_sigterm_leaves_nothing (Fixture *fx, gconstpointer data)
{
  g_autoptr(GArray) procs = NULL;
  GPid helper_pid;
  int status = 0;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }

  spawn_and_network (fx, 1);
  boot_members (fx, 0, 1, FALSE);
  assert_running (fx, 0);

  helper_pid = holder_helper_get_pid (fx->helper);
  procs = holder_test_descendants_of (helper_pid);
  g_assert_cmpuint (procs->len, >=, 2);
  kill (helper_pid, SIGTERM);
  g_assert_true (holder_helper_close (fx->helper, 30 * 1000, &status, NULL));
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  for (guint i = 0; i < procs->len; i++)
    g_assert_true (holder_test_pid_is_dead (g_array_index (procs, GPid, i)));
  /* The guest was asked to power off, not killed. */
  g_assert_true (holder_test_file_contains (fx->serial[0], "holder-guest: ACPI power button, powering off"));
  assert_host_clean (fx);
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  skip_reason = holder_test_guest_enter_namespace (needed_env, HOLDER_TEST_GUEST_NS_SUBREAPER);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/ch-e2e/cluster", test_cluster);
  ADD ("/ch-e2e/sigterm-leaves-nothing", test_sigterm_leaves_nothing);
  ADD ("/ch-e2e/port22-closed", test_port22_closed);
#undef ADD

  ret = g_test_run ();
  g_free (skip_reason);
  return ret;
}
