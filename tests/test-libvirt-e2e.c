/* test-libvirt-e2e.c: a real cluster through the real fleetbox-helper with
 * the libvirt backend, against a private libvirtd that this test starts in
 * network, mount and pid namespaces of its own, with TCG guests (the busybox
 * test guest of tests/guest).
 *
 * The harness: main() re-executes this program inside
 * unshare(NET|NS|PID); the first process of the new pid namespace only
 * reaps (without a reaping pid 1 every QEMU stop hangs for ~40 s), its
 * child mounts tmpfs over libvirt's compiled-in state folders (and
 * /run/lock, where it locks console ptys) and a private
 * copy of /etc/libvirt, starts virtlogd and libvirtd (which also listens
 * on qemu+tcp://127.0.0.1, auth none, for the remote-transport test), and
 * runs the tests. When it ends, pid 1 exits and the kernel kills everything
 * left in the namespace: nothing of libvirt ever runs on the host.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <holder.h>
#include "holder-test-guest.h"
#include "holder-test-util.h"

#define BOOT_TIMEOUT_MS (240 * 1000)
#define INSIDE_ENV      "HOLDER_TEST_LIBVIRT_INSIDE"  /* = the state folder */
#define TCP_PORT        "16509"

static char *skip_reason;
/* The private libvirtd's sockets, confs and logs, and every fixture's root:
 * pid 1 removes it all, however the tests end. */
static const char *state_dir;
static char *local_uri;

typedef struct {
  char  *root;
  char **envp;
  char  *names[3];
  char  *ips[3];
  char  *serial[3];
  char  *subnet;
  HolderHelper *helper;
} Fixture;

/* ------------------------------------------------------------- commands */

static gboolean
run_argv (const char *const *argv, char **out, GError **error)
{
  g_autofree char *err = NULL;
  int status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out, &err,
                     &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", argv[0],
                   err != NULL ? g_strchomp (err) : "");
      return FALSE;
    }
  return TRUE;
}

/* `virsh <what> --all --name` on the private daemon: the names, one a line. */
static char *
virsh_names (const char *what)
{
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  const char *argv[] = { "virsh", "-q", "-c", local_uri, what, "--all", "--name", NULL };

  g_assert_true (run_argv (argv, &out, &error));
  g_assert_no_error (error);
  return out;
}

static gboolean
holder_domains_exist (void)
{
  g_autofree char *names = virsh_names ("list");
  return strstr (names, "holder-") != NULL;
}

static gboolean
holder_networks_exist (void)
{
  g_autofree char *names = virsh_names ("net-list");
  return strstr (names, "holder-") != NULL;
}

/* ------------------------------------------------------- the namespaces */

/* Before the namespaces: what the test needs from the host. */
static char *
host_skip_reason (void)
{
  static const char *const needed_env[] = { "HOLDER_TEST_HELPER", NULL };
  static const char *const programs[] = { "libvirtd", "virtlogd", "virsh",
                                          "qemu-system-x86_64", "ip", "iptables" };

  if (geteuid () != 0)
    return g_strdup ("needs root (namespaces, a private libvirtd)");
  for (guint i = 0; i < G_N_ELEMENTS (programs); i++)
    {
      g_autofree char *path = g_find_program_in_path (programs[i]);
      if (path == NULL)
        return g_strdup_printf ("%s not installed (Debian: libvirt-daemon-system "
                                "libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 "
                                "iptables)", programs[i]);
    }
  if (!g_file_test ("/etc/libvirt/libvirtd.conf", G_FILE_TEST_EXISTS))
    return g_strdup ("/etc/libvirt/libvirtd.conf missing (Debian: libvirt-daemon-system)");
  return holder_test_guest_skip_reason (needed_env);
}

/* pid 1 of the new pid namespace: reap every process until the test ends,
 * then kill the rest (libvirtd, QEMUs), remove the state folder and leave
 * with the test's status. */
static int G_GNUC_NORETURN
reaper (GPid        test_pid,
        const char *dir)
{
  int test_status = 1;

  for (;;)
    {
      int status = 0;
      pid_t pid = waitpid (-1, &status, 0);

      if (pid < 0 && errno == EINTR)
        continue;
      if (pid < 0)
        break;
      if (pid == test_pid)
        {
          test_status = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
          break;
        }
    }
  kill (-1, SIGKILL);
  while (waitpid (-1, NULL, 0) > 0 || errno == EINTR)
    ;
  holder_test_remove_tree (dir);
  _exit (test_status);
}

/* Runs the whole program again inside fresh namespaces; returns its exit
 * status, or -1 (with @reason) when they cannot be made. */
/* What the intermediate child exits with when unshare() is refused. */
#define UNSHARE_REFUSED 77

/* Runs the whole program again inside fresh namespaces; returns its exit
 * status, or -1 (with @reason) when they cannot be made. The namespaces
 * are made in a child: this process keeps its own pid namespace, where it
 * can still fork (LeakSanitizer forks at exit, and a pid namespace whose
 * init is gone refuses new processes). */
static int
run_inside_namespaces (char **argv, char **reason)
{
  pid_t child;
  int status = 0;

  child = fork ();
  if (child < 0)
    {
      *reason = g_strdup_printf ("fork: %s", g_strerror (errno));
      return -1;
    }
  if (child == 0)
    {
      pid_t init;
      int init_status = 0;

      prctl (PR_SET_PDEATHSIG, SIGKILL);
      if (unshare (CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID) != 0)
        {
          g_printerr ("unshare(NET|NS|PID): %s\n", g_strerror (errno));
          _exit (UNSHARE_REFUSED);
        }
      init = fork ();
      if (init < 0)
        _exit (1);
      if (init == 0)
        {
          g_autofree char *dir = NULL;
          pid_t test;

          /* pid 1: dies with the test runner's process, taking the namespace. */
          prctl (PR_SET_PDEATHSIG, SIGKILL);
          if (mount ("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
              mount ("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            {
              g_printerr ("mount: %s\n", g_strerror (errno));
              _exit (1);
            }
          dir = g_dir_make_tmp ("holder-libvirtd-XXXXXX", NULL);
          if (dir == NULL)
            _exit (1);
          test = fork ();
          if (test == 0)
            {
              g_setenv (INSIDE_ENV, dir, TRUE);
              execv ("/proc/self/exe", argv);
              g_printerr ("exec /proc/self/exe: %s\n", g_strerror (errno));
              _exit (1);
            }
          reaper (test, dir);
        }
      while (waitpid (init, &init_status, 0) < 0 && errno == EINTR)
        ;
      _exit (WIFEXITED (init_status) ? WEXITSTATUS (init_status) : 1);
    }
  while (waitpid (child, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED (status) && WEXITSTATUS (status) == UNSHARE_REFUSED)
    {
      *reason = g_strdup ("unshare(NET|NS|PID) was refused");
      return -1;
    }
  return WIFEXITED (status) ? WEXITSTATUS (status) : 1;
}

static char *
write_file (const char *dir, const char *name, const char *contents)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents (path, contents, -1, &error))
    return g_strdup (error->message);
  return NULL;
}

static gboolean
wait_for_file (const char *path, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;

  while (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_usleep (20 * 1000); /* a daemon starting in another process */
    }
  return TRUE;
}

/* Inside the namespaces: the private libvirtd (the verified recipe of
 * shared/spec/libvirt-backend.md). */
static char *
start_private_libvirtd (void)
{
  /* libvirt's state. /run is ours as a whole: libvirt keeps sockets and
   * pid files in /run/libvirt, and locks the consoles' ptys in /run/lock
   * (LCK.._pts_N files naming pids of this namespace). */
  static const char *const state_dirs[] = { "/run", "/run/libvirt", "/run/lock",
                                            "/var/lib/libvirt", "/var/cache/libvirt",
                                            "/var/log/libvirt" };
  g_autoptr(GError) error = NULL;
  g_autofree char *etc = NULL;
  g_autofree char *copy = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *qemu_conf = NULL;
  g_autofree char *qemu_conf_path = NULL;
  g_autofree char *libvirtd = NULL;
  g_autofree char *virtlogd = NULL;
  g_autofree char *socket = NULL;
  char *reason;

  state_dir = g_getenv (INSIDE_ENV);
  for (guint i = 0; i < G_N_ELEMENTS (state_dirs); i++)
    if ((!g_file_test (state_dirs[i], G_FILE_TEST_IS_DIR) && g_mkdir (state_dirs[i], 0755) != 0) ||
        mount ("tmpfs", state_dirs[i], "tmpfs", 0, "mode=0755") != 0)
      return g_strdup_printf ("tmpfs on %s: %s", state_dirs[i], g_strerror (errno));
  /* The package makes this one, and the network driver expects it. */
  if (g_mkdir ("/var/lib/libvirt/dnsmasq", 0755) != 0)
    return g_strdup_printf ("mkdir /var/lib/libvirt/dnsmasq: %s", g_strerror (errno));
  /* Our own sysfs, so that libvirt sees this namespace's bridges. */
  if (mount ("sysfs", "/sys", "sysfs", 0, NULL) != 0)
    return g_strdup_printf ("mount sysfs: %s", g_strerror (errno));

  etc = g_build_filename (state_dir, "etc", NULL);
  copy = g_strdup_printf ("cp -a /etc/libvirt %s", etc);
  if (!holder_test_run_command (copy, &error))
    return g_strdup (error->message);
  /* The distribution's default network is none of our business. */
  g_autofree char *default_net = g_build_filename (etc, "qemu", "networks", "default.xml", NULL);
  g_remove (default_net);
  if (mount (etc, "/etc/libvirt", NULL, MS_BIND, NULL) != 0)
    return g_strdup_printf ("bind %s on /etc/libvirt: %s", etc, g_strerror (errno));

  conf = g_strdup_printf ("unix_sock_dir = \"%s\"\n"
                          "auth_unix_rw = \"none\"\n"
                          "auth_unix_ro = \"none\"\n"
                          "listen_tls = 0\n"
                          "listen_tcp = 1\n"
                          "listen_addr = \"127.0.0.1\"\n"
                          "tcp_port = \"" TCP_PORT "\"\n"
                          "auth_tcp = \"none\"\n"
                          "log_outputs = \"3:file:%s/libvirtd.log\"\n",
                          state_dir, state_dir);
  if ((reason = write_file ("/etc/libvirt", "libvirtd.conf", conf)) != NULL)
    return reason;
  /* Root-owned test images, no cgroups (sysfs is our own), no confinement. */
  qemu_conf_path = g_build_filename ("/etc/libvirt", "qemu.conf", NULL);
  {
    g_autofree char *packaged = NULL;

    g_file_get_contents (qemu_conf_path, &packaged, NULL, NULL);
    qemu_conf = g_strconcat (packaged != NULL ? packaged : "",
                             "\nuser = \"root\"\ngroup = \"root\"\ndynamic_ownership = 0\n"
                             "cgroup_controllers = [ ]\nsecurity_driver = \"none\"\n", NULL);
  }
  if ((reason = write_file ("/etc/libvirt", "qemu.conf", qemu_conf)) != NULL)
    return reason;

  if (!holder_test_run_command ("ip link set lo up", &error))
    return g_strdup (error->message);
  virtlogd = g_strdup_printf ("virtlogd -d -p %s/virtlogd.pid", state_dir);
  libvirtd = g_strdup_printf ("libvirtd -d --listen -f /etc/libvirt/libvirtd.conf -p %s/libvirtd.pid",
                              state_dir);
  if (!holder_test_run_command (virtlogd, &error) || !holder_test_run_command (libvirtd, &error))
    return g_strdup (error->message);
  socket = g_build_filename (state_dir, "libvirt-sock", NULL);
  if (!wait_for_file (socket, 30 * 1000))
    return g_strdup_printf ("libvirtd made no socket %s (see %s/libvirtd.log)", socket, state_dir);
  local_uri = g_strdup_printf ("qemu:///system?socket=%s", socket);
  return NULL;
}

/* ----------------------------------------------------------- processes */

/* The live QEMU processes (this pid namespace has no others). */
static guint
count_qemus (void)
{
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *entry;
  guint count = 0;

  while ((entry = g_dir_read_name (proc)) != NULL)
    {
      g_autofree char *comm_path = g_strdup_printf ("/proc/%s/comm", entry);
      g_autofree char *comm = NULL;

      if (atoi (entry) > 0 && g_file_get_contents (comm_path, &comm, NULL, NULL) &&
          g_str_has_prefix (comm, "qemu-system") && !holder_test_pid_is_dead (atoi (entry)))
        count++;
    }
  return count;
}

/* ---------------------------------------------------------------- fixture */

static void
fixture_set_up_with_uri (Fixture *fx, const char *uri)
{
  fx->root = g_build_filename (state_dir != NULL ? state_dir : g_get_tmp_dir (),
                               "holder-lv-e2e-XXXXXX", NULL);
  g_assert_nonnull (g_mkdtemp (fx->root));
  fx->envp = g_get_environ ();
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_HOME", fx->root, TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_BACKEND", "libvirt", TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_LIBVIRT_URI", uri, TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_LIBVIRT_VIRT_TYPE", "qemu", TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_IP_WAIT_TIMEOUT", "200s", TRUE);
  fx->envp = g_environ_unsetenv (fx->envp, INSIDE_ENV);
  for (guint i = 0; i < 3; i++)
    {
      fx->names[i] = g_strdup_printf ("lv-%u", i + 1);
      fx->serial[i] = g_strdup_printf ("%s/%s.serial.log", fx->root, fx->names[i]);
    }
}

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  fixture_set_up_with_uri (fx, local_uri != NULL ? local_uri : "");
}

static void
fixture_set_up_remote (Fixture *fx, gconstpointer data)
{
  fixture_set_up_with_uri (fx, "qemu+tcp://127.0.0.1:" TCP_PORT "/system");
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
  /* Whatever a failed test left must not leak into the next one. */
  if (skip_reason == NULL)
    {
      const char *argv[] = { g_getenv ("HOLDER_TEST_HELPER"), "--fleetbox-reconcile", NULL };
      g_spawn_sync (NULL, (char **) argv, fx->envp, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL,
                    NULL, NULL);
    }
  holder_test_remove_tree (fx->root);
  for (guint i = 0; i < 3; i++)
    {
      g_free (fx->names[i]);
      g_free (fx->ips[i]);
      g_free (fx->serial[i]);
    }
  g_free (fx->subnet);
  g_strfreev (fx->envp);
  g_free (fx->root);
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
  g_assert_true (holder_networks_exist ());
  for (guint i = 0; i < members; i++)
    {
      g_autoptr(HolderReservation) reservation =
        holder_client_reserve (fx->root, fx->names[0], fx->names[i], NULL, &error);
      g_autofree char *mac = holder_mac_for_name (fx->names[i]);

      g_assert_no_error (error);
      g_assert_nonnull (reservation->ip);
      g_assert_cmpstr (reservation->mac, ==, mac);
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

/* Boots members concurrently; meanwhile `status` must keep answering fast,
 * which it cannot if a libvirt RPC blocks the helper's main loop. */
static void
boot_members (Fixture *fx, guint first, guint count, gboolean with_peers)
{
  Boot boots[3] = { { 0, }, };
  HolderRequest *requests[3] = { NULL, };
  gint64 t0 = g_get_monotonic_time ();
  gint64 slowest_status = 0;
  guint statuses = 0;

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
        {
          if (!g_main_context_iteration (NULL, FALSE))
            {
              g_autoptr(GError) error = NULL;
              g_autoptr(HolderStatus) status = NULL;
              gint64 s0 = g_get_monotonic_time ();

              status = holder_client_status (fx->root, fx->names[first], &error);
              g_assert_no_error (error);
              slowest_status = MAX (slowest_status, g_get_monotonic_time () - s0);
              statuses++;
              g_usleep (50 * 1000); /* pacing the status probe */
            }
        }
      g_assert_no_error (boots[i].error);
      g_assert_null (boots[i].reply->error);
      holder_reply_free (boots[i].reply);
      holder_request_free (requests[i]);
    }
  g_test_message ("%u member(s) booted in %.1f s; %u status calls meanwhile, slowest %.0f ms",
                  count, (g_get_monotonic_time () - t0) / (double) G_USEC_PER_SEC, statuses,
                  slowest_status / 1000.0);
  /* A helper under valgrind answers slower, but answers. */
  g_assert_cmpint (slowest_status, <, (g_getenv ("HOLDER_TEST_HELPER_UNDER_VALGRIND") ? 10 : 1)
                                      * G_USEC_PER_SEC);
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

/* No domain, network or bridge of ours is left in the private libvirtd. */
static void
assert_libvirt_clean (void)
{
  g_autofree char *links = NULL;

  g_assert_false (holder_domains_exist ());
  g_assert_false (holder_networks_exist ());
  g_assert_cmpuint (count_qemus (), ==, 0);
  g_assert_true (g_spawn_command_line_sync ("ip -o link show", &links, NULL, NULL, NULL));
  g_assert_null (strstr (links, "hbr-"));
}

static void
run_reconcile (Fixture *fx)
{
  g_autoptr(GError) error = NULL;
  const char *argv[] = { g_getenv ("HOLDER_TEST_HELPER"), "--fleetbox-reconcile", NULL };
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, fx->envp, G_SPAWN_DEFAULT, NULL, NULL,
                               NULL, NULL, &status, &error));
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

/* Member @i's permanent neighbour entry on the network's bridge (libvirtd
 * runs in this namespace, so the helper installs them). */
static void
assert_neighbour (Fixture *fx, guint i)
{
  g_autofree char *mac = holder_mac_for_name (fx->names[i]);

  g_assert_true (holder_test_has_permanent_neighbour (fx->ips[i], mac, "hbr-"));
}

static void
assert_no_neighbour (Fixture *fx, guint i)
{
  g_autofree char *line = holder_test_neighbour_of (fx->ips[i]);

  g_assert_cmpstr (line, ==, "");
}

/* The backend's reconcile in this process, through the module as the
 * helper loads it, a dry run with @dry_run. Returns "kind what" lines. */
typedef struct {
  GPtrArray    *lines;
  GAsyncResult *result;
} Reclaimed;

static void
on_reclaimed (const char *kind, const char *what, gpointer user_data)
{
  Reclaimed *rec = user_data;

  g_test_message ("reported %s %s", kind, what);
  g_ptr_array_add (rec->lines, g_strdup_printf ("%s %s", kind, what));
}

static void
on_backend_reconciled (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Reclaimed *rec = user_data;

  rec->result = g_object_ref (result);
}

static GStrv
backend_reconcile (Fixture *fx, gboolean dry_run)
{
  g_autoptr(GError) error = NULL;
  const HolderBackendClass *klass = holder_backend_lookup ("libvirt", &error);
  HolderBackendHost host = { 0 };
  Reclaimed rec = { g_ptr_array_new (), NULL };
  HolderBackend *backend;

  g_assert_no_error (error);
  g_setenv ("FLEETBOX_LIBVIRT_URI", local_uri, TRUE);
  g_setenv ("FLEETBOX_LIBVIRT_VIRT_TYPE", "qemu", TRUE);
  host.storage_root = fx->root;
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
  g_ptr_array_add (rec.lines, NULL);
  return (GStrv) g_ptr_array_free (rec.lines, FALSE);
}

/* ------------------------------------------------------------------ tests */

static void
test_cluster (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *reached2 = NULL;
  g_autofree char *reached3 = NULL;
  g_autofree char *domains = NULL;
  GPid helper_pid;
  gint64 t0;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }

  spawn_and_network (fx, 3);
  for (guint i = 0; i < 3; i++)
    assert_neighbour (fx, i);
  boot_members (fx, 0, 3, TRUE);
  for (guint i = 0; i < 3; i++)
    {
      assert_running (fx, i);
      assert_neighbour (fx, i);
    }
  domains = virsh_names ("list");
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *suffix = g_strdup_printf ("-%s\n", fx->names[i]);
      g_assert_nonnull (strstr (domains, suffix));
    }

  /* Member 1 reaches 2 and 3 across the libvirt network. */
  reached2 = g_strdup_printf ("holder-guest: reached %s", fx->ips[1]);
  reached3 = g_strdup_printf ("holder-guest: reached %s", fx->ips[2]);
  holder_test_wait_for_file (fx->serial[0], reached2, 60);
  holder_test_wait_for_file (fx->serial[0], reached3, 60);

  /* Stop member 2: the power button first, seen by its guest. */
  g_assert_true (holder_client_stop (fx->root, fx->names[1], 30 * 1000, &error));
  g_assert_no_error (error);
  holder_test_wait_for_file (fx->serial[1], "holder-guest: ACPI power button, powering off", 5);
  assert_running (fx, 0);
  assert_running (fx, 2);
  g_assert_cmpuint (count_qemus (), ==, 2);
  assert_no_neighbour (fx, 1);
  assert_neighbour (fx, 0);

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

  /* kill -9 the helper: AUTODESTROY ends every domain within a second. */
  g_assert_cmpuint (count_qemus (), ==, 3);
  helper_pid = holder_helper_get_pid (fx->helper);
  kill (helper_pid, SIGKILL);
  t0 = g_get_monotonic_time ();
  while (count_qemus () > 0 || holder_domains_exist ())
    {
      g_assert_cmpint (g_get_monotonic_time () - t0, <, G_USEC_PER_SEC);
      g_usleep (10 * 1000); /* watching libvirtd tear down */
    }
  g_test_message ("every domain gone %.0f ms after SIGKILL",
                  (g_get_monotonic_time () - t0) / 1000.0);

  /* The network outlives its creator. A dry run names it and leaves it;
   * reconcile removes it and says so. */
  g_assert_true (holder_networks_exist ());
  {
    g_auto(GStrv) dry = backend_reconcile (fx, TRUE);
    g_auto(GStrv) real = NULL;

    g_assert_cmpuint (g_strv_length (dry), ==, 1);
    g_assert_true (g_str_has_prefix (dry[0], "network holder-"));
    g_assert_true (holder_networks_exist ());
    real = backend_reconcile (fx, FALSE);
    g_assert_true (g_strv_equal ((const char *const *) dry, (const char *const *) real));
  }
  assert_libvirt_clean ();
  /* The bridge took the entries with it. */
  for (guint i = 0; i < 3; i++)
    assert_no_neighbour (fx, i);
  run_reconcile (fx);
}

static void
test_sigterm_leaves_nothing (Fixture *fx, gconstpointer data)
{
  int status = 0;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }

  spawn_and_network (fx, 1);
  boot_members (fx, 0, 1, FALSE);
  assert_running (fx, 0);
  g_assert_cmpuint (count_qemus (), ==, 1);

  kill (holder_helper_get_pid (fx->helper), SIGTERM);
  g_assert_true (holder_helper_close (fx->helper, 30 * 1000, &status, NULL));
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  /* The guest was asked to power off, not killed. */
  g_assert_true (holder_test_file_contains (fx->serial[0], "holder-guest: ACPI power button, powering off"));
  assert_libvirt_clean ();
}

/* A domain that ends behind the helper's back puts its member in error,
 * with libvirt's reason; the other member runs on, and it can re-join. */
static void
test_domain_dies (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderStatus) status = NULL;
  g_autofree char *domains = NULL;
  g_autofree char *suffix = NULL;
  g_auto(GStrv) names = NULL;
  const char *victim = NULL;
  gint64 deadline;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }

  spawn_and_network (fx, 2);
  boot_members (fx, 0, 2, FALSE);
  assert_running (fx, 1);

  domains = virsh_names ("list");
  names = g_strsplit (g_strstrip (domains), "\n", -1);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  suffix = g_strdup_printf ("-%s", fx->names[1]);
  for (guint i = 0; names[i] != NULL; i++)
    if (g_str_has_suffix (names[i], suffix))
      victim = names[i];
  g_assert_nonnull (victim);
  {
    const char *argv[] = { "virsh", "-q", "-c", local_uri, "destroy", victim, NULL };
    g_assert_true (run_argv (argv, NULL, &error));
    g_assert_no_error (error);
  }

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;)
    {
      g_clear_pointer (&status, holder_status_free);
      status = holder_client_status (fx->root, fx->names[1], &error);
      g_assert_no_error (error);
      if (g_strcmp0 (status->state, "error") == 0)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (50 * 1000); /* the lifecycle event travels through the helper */
    }
  g_assert_false (status->running);
  g_assert_nonnull (status->error);
  g_test_message ("error: %s", status->error);
  g_assert_nonnull (strstr (status->error, "destroyed"));
  g_assert_nonnull (strstr (status->error, victim));
  assert_running (fx, 0);
  g_assert_cmpuint (count_qemus (), ==, 1);

  /* It re-joins with the same address. */
  boot_members (fx, 1, 1, FALSE);
  assert_running (fx, 1);
  g_assert_cmpuint (count_qemus (), ==, 2);
}

/* The same helper over qemu+tcp: the remote driver, its keepalives and
 * AUTODESTROY on a network connection. */
static void
test_remote_transport (Fixture *fx, gconstpointer data)
{
  g_autofree char *up = NULL;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }

  spawn_and_network (fx, 2);
  boot_members (fx, 0, 2, FALSE);
  assert_running (fx, 0);
  assert_running (fx, 1);
  g_assert_cmpuint (count_qemus (), ==, 2);
  /* The console streams over the remote connection into the helper's log. */
  up = g_strdup_printf ("holder-guest: up %s", fx->ips[1]);
  holder_test_wait_for_file (fx->serial[1], up, 30);

  /* A dropped connection takes the domains with it. */
  kill (holder_helper_get_pid (fx->helper), SIGKILL);
  {
    gint64 t0 = g_get_monotonic_time ();
    while (count_qemus () > 0 || holder_domains_exist ())
      {
        g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
        g_usleep (10 * 1000); /* watching libvirtd tear down */
      }
  }
  run_reconcile (fx);
  assert_libvirt_clean ();
}

/* A root helper working for an unprivileged user (SUDO_UID=4242): a disk
 * that only root may open is refused before any domain exists, and with no
 * serial_log_path the console goes to serial.log in the member's folder,
 * the user's. */
#define USER_UID 4242
static void
test_as_user (Fixture *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderRequest) refused = holder_request_new ("boot-member");
  g_autoptr(HolderRequest) request = holder_request_new ("boot-member");
  g_autoptr(HolderReply) reply = NULL;
  g_autofree char *secret = g_build_filename (fx->root, "secret.raw", NULL);
  g_autofree char *message = NULL;
  g_autofree char *member_dir = NULL;
  g_autofree char *log = NULL;
  g_autofree char *up = NULL;
  HolderMemberSpec *spec;
  struct stat st;

  if (skip_reason != NULL)
    {
      g_test_skip (skip_reason);
      return;
    }
  /* The store is the user's, in folders the user may traverse. */
  g_assert_cmpint (chmod (state_dir, 0711), ==, 0);
  g_assert_cmpint (chmod (fx->root, 0755), ==, 0);
  g_assert_cmpint (chown (fx->root, USER_UID, USER_UID), ==, 0);
  g_assert_true (g_file_set_contents (secret, "secret", -1, NULL));
  g_assert_cmpint (chmod (secret, 0600), ==, 0);
  fx->envp = g_environ_setenv (fx->envp, "SUDO_UID", G_STRINGIFY (USER_UID), TRUE);
  fx->envp = g_environ_setenv (fx->envp, "SUDO_GID", G_STRINGIFY (USER_UID), TRUE);
  /* lv-2 never boots: it keeps the helper up after lv-1's refusal. */
  spawn_and_network (fx, 2);

  spec = holder_test_guest_spec (fx->root, fx->names[0], fx->ips[0], NULL, NULL);
  g_assert_cmpint (chown (spec->disk_path, USER_UID, USER_UID), ==, 0);
  g_assert_cmpint (chown (spec->seed_path, USER_UID, USER_UID), ==, 0);
  request->spec = holder_member_spec_copy (spec);
  g_free (spec->disk_path);
  spec->disk_path = g_strdup (secret);
  refused->spec = spec;
  reply = holder_client_send (fx->root, fx->names[0], refused, BOOT_TIMEOUT_MS, &error);
  g_assert_null (reply);
  message = g_strdup_printf ("create %s: cannot open disk %s for reading and writing as uid %u: "
                             "Permission denied", fx->names[0], secret, USER_UID);
  g_assert_cmpstr (error->message, ==, message);
  g_clear_error (&error);
  g_assert_false (holder_domains_exist ());

  reply = holder_client_send (fx->root, fx->names[0], request, BOOT_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  member_dir = holder_store_member_dir (fx->root, fx->names[0]);
  log = g_build_filename (member_dir, "serial.log", NULL);
  up = g_strdup_printf ("holder-guest: up %s", fx->ips[0]);
  holder_test_wait_for_file (log, up, 60);
  g_assert_cmpint (lstat (log, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_uid, ==, USER_UID);
  g_assert_cmpint (st.st_mode & 07777, ==, 0644);

  g_assert_true (holder_client_stop (fx->root, fx->names[0], 30 * 1000, &error));
  g_assert_no_error (error);
  holder_test_wait_for_file (log, "holder-guest: ACPI power button, powering off", 5);
}

int
main (int argc, char **argv)
{
  int ret;

  if (g_getenv (INSIDE_ENV) == NULL)
    {
      skip_reason = host_skip_reason ();
      if (skip_reason == NULL)
        {
          ret = run_inside_namespaces (argv, &skip_reason);
          if (ret >= 0)
            return ret;
        }
    }
  else
    skip_reason = start_private_libvirtd ();

  g_test_init (&argc, &argv, NULL);

#define ADD(path, setup, fn) g_test_add (path, Fixture, NULL, setup, fn, fixture_tear_down)
  ADD ("/libvirt-e2e/cluster", fixture_set_up, test_cluster);
  ADD ("/libvirt-e2e/sigterm-leaves-nothing", fixture_set_up, test_sigterm_leaves_nothing);
  ADD ("/libvirt-e2e/domain-dies", fixture_set_up, test_domain_dies);
  ADD ("/libvirt-e2e/remote-transport", fixture_set_up_remote, test_remote_transport);
  ADD ("/libvirt-e2e/as-user", fixture_set_up, test_as_user);
#undef ADD

  ret = g_test_run ();
  g_free (local_uri);
  g_free (skip_reason);
  return ret;
}
