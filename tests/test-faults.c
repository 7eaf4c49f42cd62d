/* SPDX-License-Identifier: MIT
 *
 * Faults, with the real fleetbox-helper, the cloud-hypervisor backend, the
 * stand-in VMM (qemu under TCG) and the busybox test guest:
 *  - the helper SIGKILLed during boot-member, during stop and during
 *    createnetwork: its VMMs die with it, --fleetbox-reconcile leaves the
 *    namespace clean (no link, no nft table, no record, forwarding as it
 *    was) and a new helper for the same names starts over the stale
 *    sockets and pidfiles and boots;
 *  - a VMM that dies on its own: its member turns `error` with the reason,
 *    its tap goes, the helper serves on and the member can boot again.
 *
 * Everything runs in a network and mount namespace this program makes at
 * start-up, with a fake uplink (veth upl0, default route via 10.99.0.1) so
 * that the uplink's forwarding is switched on and must be given back.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "test-faults"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <holder.h>
#include "holder-test-guest.h"
#include "holder-test-util.h"

#define UPLINK          "upl0"
#define BOOT_TIMEOUT_MS (240 * 1000)
#define POLL_US         1000

static char *skip_reason;

typedef struct {
  char  *root;
  char  *runtime; /* FLEETBOX_RUNTIME_DIR: the records, private to the test */
  char **envp;
  char  *names[2];
  char  *ips[2];
  char  *serial[2];
  GPid   helper;
} Fixture;

/* ---------------------------------------------------------- namespace */

/* Bridges, taps, guests, nft tables: all in a namespace of our own. */
static char *
setup_namespace (void)
{
  static const char *const needed_env[] = { "HOLDER_TEST_CH_STANDIN", "HOLDER_TEST_HELPER", NULL };
  static const char *const fixture[] = {
    "ip link add " UPLINK " type veth peer name " UPLINK "-peer",
    "ip link set " UPLINK "-peer up",
    "ip link set " UPLINK " up",
    "ip addr add 10.99.0.2/24 dev " UPLINK,
    "ip route add default via 10.99.0.1 dev " UPLINK,
    NULL,
  };
  g_autofree char *nft = g_find_program_in_path ("nft");
  g_autoptr(GError) error = NULL;
  char *reason;

  if (geteuid () == 0 && nft == NULL)
    return g_strdup ("nft not installed (Debian: nftables); it reads the tables back");
  /* Orphaned VMMs and qemus come to us, so that we can see them die; taps
   * are watched in this namespace's /sys/class/net. */
  reason = holder_test_guest_enter_namespace (needed_env, HOLDER_TEST_GUEST_NS_SUBREAPER |
                                                          HOLDER_TEST_GUEST_NS_NEED_SYSFS);
  if (reason != NULL)
    return reason;
  for (guint i = 0; fixture[i] != NULL; i++)
    if (!holder_test_run_command (fixture[i], &error))
      return g_strdup_printf ("cannot build the test network: %s", error->message);
  return NULL;
}

/* ----------------------------------------------------------- processes */

/* The command line of @pid, arguments joined by spaces ("" if gone). */
static char *
cmdline_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", (int) pid);
  char *contents = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return g_strdup ("");
  for (gsize i = 0; i + 1 < len; i++)
    if (contents[i] == '\0')
      contents[i] = ' ';
  return contents;
}

/* The live processes whose command line contains @needle and, when
 * @ancestor is not 0, that descend from it. */
static GArray *
processes_matching (GPid        ancestor,
                    const char *needle)
{
  GArray *found = g_array_new (FALSE, FALSE, sizeof (GPid));
  g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *entry;

  while ((entry = g_dir_read_name (proc)) != NULL)
    {
      GPid pid = (GPid) atoi (entry), p = pid;
      g_autofree char *cmdline = NULL;
      gboolean descends = ancestor == 0;

      if (pid <= 0 || pid == getpid () || holder_test_pid_is_dead (pid))
        continue;
      for (int depth = 0; !descends && depth < 8 && p > 1; depth++)
        descends = (p = holder_test_parent_of (p)) == ancestor;
      cmdline = cmdline_of (pid);
      if (descends && (needle == NULL || strstr (cmdline, needle) != NULL))
        g_array_append_val (found, pid);
    }
  return found;
}

/* What only the VMM of member @name has on its command line: its API
 * socket, <root>/run/<hash(name)>.<tap>.api. (Its files come as
 * /proc/self/fd/N and name no path of the member.) */
static char *
vmm_needle (const char *name)
{
  g_autofree char *hash = holder_store_socket_hash (name);

  return g_strdup_printf ("/run/%s.", hash);
}

/* The VMM (the stand-in, a child of the helper) of member @name, or 0. */
static GPid
vmm_of (GPid        helper,
        const char *name)
{
  g_autofree char *needle = vmm_needle (name);
  g_autoptr(GArray) procs = processes_matching (helper, needle);
  const char *standin = g_getenv ("HOLDER_TEST_CH_STANDIN");

  for (guint i = 0; i < procs->len; i++)
    {
      GPid pid = g_array_index (procs, GPid, i);
      g_autofree char *cmdline = cmdline_of (pid);

      if (holder_test_parent_of (pid) == helper && g_str_has_prefix (cmdline, standin))
        return pid;
    }
  return 0;
}

static gboolean
qemu_runs_under (GPid vmm)
{
  g_autoptr(GArray) procs = processes_matching (vmm, "qemu-system");

  return procs->len > 0;
}

/* Every process in @procs is dead within @timeout_ms. */
static void
assert_all_die (GArray *procs,
                guint   timeout_ms)
{
  gint64 t0 = g_get_monotonic_time ();

  for (guint i = 0; i < procs->len; i++)
    while (!holder_test_pid_is_dead (g_array_index (procs, GPid, i)))
      {
        g_assert_cmpint (g_get_monotonic_time () - t0, <, (gint64) timeout_ms * 1000);
        g_usleep (POLL_US); /* watching other processes die */
      }
  g_test_message ("%u VMM/qemu process(es) gone %.0f ms after the helper",
                  procs->len, (g_get_monotonic_time () - t0) / 1000.0);
}

/* The wait status of our child @pid once it exits; fails after @timeout_ms. */
static int
wait_exit (GPid  pid,
           guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  int status = 0;

  for (;;)
    {
      pid_t r = waitpid (pid, &status, WNOHANG);

      if (r == pid)
        return status;
      g_assert_cmpint (r, ==, 0);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
}

static void
kill_helper (Fixture *fx)
{
  int status;

  g_assert_cmpint (kill (fx->helper, SIGKILL), ==, 0);
  status = wait_exit (fx->helper, 10000);
  g_assert_true (WIFSIGNALED (status));
  g_assert_cmpint (WTERMSIG (status), ==, SIGKILL);
}

/* ------------------------------------------------------- host inspection */

/* Cheaper than `ip link`: for the polls that must not lag. */
static gboolean
sysfs_has_link (const char *prefix)
{
  g_autoptr(GDir) dir = g_dir_open ("/sys/class/net", 0, NULL);
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (entry, prefix))
      return TRUE;
  return FALSE;
}

static guint
count_links (const char *prefix)
{
  g_autofree char *links = NULL;
  g_auto(GStrv) lines = NULL;
  guint n = 0;

  g_assert_true (g_spawn_command_line_sync ("ip -o link show", &links, NULL, NULL, NULL));
  lines = g_strsplit (links, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (lines[i], ": ", 3);

      if (g_strv_length (fields) >= 2 && g_str_has_prefix (fields[1], prefix))
        n++;
    }
  return n;
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

/* `nft list tables` of this namespace, stripped. */
static char *
nft_tables (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_assert_true (g_spawn_command_line_sync ("nft list tables", &out, &err, &status, NULL));
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("nft list tables: %s", err);
  return g_strdup (g_strstrip (out));
}

/* The records and markers in the runtime folder (each namespace's folder
 * holds them; the lock stays); @say lists them. */
static guint
count_network_records (Fixture  *fx,
                       gboolean  say)
{
  g_autoptr(GDir) top = g_dir_open (fx->runtime, 0, NULL);
  const char *entry;
  guint n = 0;

  while (top != NULL && (entry = g_dir_read_name (top)) != NULL)
    {
      g_autofree char *path = g_build_filename (fx->runtime, entry, NULL);
      g_autoptr(GDir) folder = NULL;
      const char *file;

      if (strcmp (entry, ".lock") == 0)
        continue;
      folder = g_dir_open (path, 0, NULL);
      while (folder != NULL && (file = g_dir_read_name (folder)) != NULL)
        {
          if (say)
            g_test_message ("left in %s: %s", entry, file);
          n++;
        }
    }
  return n;
}

/* The network is up: a bridge, its table, forwarding on the uplink. */
static void
assert_network_present (Fixture *fx)
{
  g_autofree char *tables = nft_tables ();
  g_autofree char *forwarding = read_forwarding (UPLINK);

  g_assert_cmpuint (count_links ("fbx-"), ==, 1);
  g_assert_true (g_str_has_prefix (tables, "table ip fbx-"));
  g_assert_cmpstr (forwarding, ==, "1");
  g_assert_cmpuint (count_network_records (fx, FALSE), >=, 1);
}

/* The VMM API sockets in <root>/run/; @say lists them. */
static guint
count_api_sockets (Fixture  *fx,
                   gboolean  say)
{
  g_autofree char *run = g_build_filename (fx->root, "run", NULL);
  g_autoptr(GDir) folder = g_dir_open (run, 0, NULL);
  const char *entry;
  guint n = 0;

  while (folder != NULL && (entry = g_dir_read_name (folder)) != NULL)
    if (g_str_has_suffix (entry, ".api"))
      {
        if (say)
          g_test_message ("left in run/: %s", entry);
        n++;
      }
  return n;
}

/* Nothing of ours is left: no link, table, record, VMM API socket, VMM or
 * qemu, and the uplink's forwarding as it was. */
static void
assert_host_clean (Fixture *fx)
{
  g_autofree char *tables = nft_tables ();
  g_autofree char *forwarding = read_forwarding (UPLINK);
  g_autoptr(GArray) leftovers = processes_matching (0, fx->root);
  /* A qemu names no path of the store (its files are descriptors); an
   * orphan comes to this process, the subreaper. */
  g_autoptr(GArray) orphans = processes_matching (getpid (), "qemu-system");

  g_assert_cmpuint (count_api_sockets (fx, TRUE), ==, 0);
  g_assert_cmpuint (count_links ("fbx-"), ==, 0);
  g_assert_cmpuint (count_links ("fbt-"), ==, 0);
  g_assert_cmpstr (tables, ==, "");
  g_assert_cmpuint (count_network_records (fx, TRUE), ==, 0);
  g_assert_cmpstr (forwarding, ==, "0");
  for (guint i = 0; i < leftovers->len; i++)
    {
      g_autofree char *cmdline = cmdline_of (g_array_index (leftovers, GPid, i));
      g_test_message ("still alive: %d %s", (int) g_array_index (leftovers, GPid, i), cmdline);
    }
  g_assert_cmpuint (leftovers->len, ==, 0);
  g_assert_cmpuint (orphans->len, ==, 0);
}

/* ---------------------------------------------------------------- fixture */

static void
fixture_set_up (Fixture       *fx,
                gconstpointer  data)
{
  fx->root = g_dir_make_tmp ("holder-faults-XXXXXX", NULL);
  g_assert_nonnull (fx->root);
  fx->runtime = g_dir_make_tmp ("holder-faults-run-XXXXXX", NULL);
  g_assert_nonnull (fx->runtime);
  fx->envp = g_get_environ ();
  fx->envp = g_environ_unsetenv (fx->envp, "FLEETBOX_PARENT_PID");
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_HOME", fx->root, TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_RUNTIME_DIR", fx->runtime, TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_BACKEND", "cloud-hypervisor", TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_CH_BINARY",
                               g_getenv ("HOLDER_TEST_CH_STANDIN"), TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_IP_WAIT_TIMEOUT", "200s", TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (fx->names); i++)
    {
      fx->names[i] = g_strdup_printf ("flt-%u", i + 1);
      fx->serial[i] = g_strdup_printf ("%s/%s.serial.log", fx->root, fx->names[i]);
    }
}

static void
fixture_tear_down (Fixture       *fx,
                   gconstpointer  data)
{
  if (fx->helper != 0)
    {
      if (!holder_test_pid_is_dead (fx->helper))
        kill (fx->helper, SIGKILL);
      waitpid (fx->helper, NULL, 0);
    }
  if (skip_reason == NULL)
    {
      /* Whatever a failed case left must not leak into the next one. */
      const char *argv[] = { g_getenv ("HOLDER_TEST_HELPER"), "--fleetbox-reconcile", NULL };
      g_spawn_sync (NULL, (char **) argv, fx->envp, G_SPAWN_DEFAULT, NULL, NULL,
                    NULL, NULL, NULL, NULL);
    }
  holder_test_remove_tree (fx->root);
  holder_test_remove_tree (fx->runtime);
  for (guint i = 0; i < G_N_ELEMENTS (fx->names); i++)
    {
      g_free (fx->names[i]);
      g_free (fx->ips[i]);
      g_free (fx->serial[i]);
    }
  g_strfreev (fx->envp);
  g_free (fx->root);
  g_free (fx->runtime);
}

/* ----------------------------------------------------------- the helper */

static char *
socket_path (Fixture    *fx,
             const char *name)
{
  g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, name, -1);
  g_autofree char *base = g_strdup_printf ("%.16s.sock", hex);

  return g_build_filename (fx->root, "run", base, NULL);
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

/* Sends @line on @name's socket; returns the connection, reply unread. */
static int
send_line (Fixture    *fx,
           const char *name,
           const char *line)
{
  g_autofree char *path = socket_path (fx, name);
  int fd = unix_connect (path);
  gsize len = strlen (line), done = 0;

  g_assert_cmpint (fd, >=, 0);
  while (done < len)
    {
      ssize_t n = send (fd, line + done, len - done, MSG_NOSIGNAL);

      g_assert_cmpint (n, >, 0);
      done += (gsize) n;
    }
  return fd;
}

/* The whole reply on @fd, which is closed. */
static char *
read_reply (int fd)
{
  GString *reply = g_string_new (NULL);

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
  return g_string_free (reply, FALSE);
}

static char *
request (Fixture    *fx,
         const char *name,
         const char *line)
{
  return read_reply (send_line (fx, name, line));
}

/* The pid the member's pidfile names, or 0 without one. */
static GPid
pidfile_pid (Fixture    *fx,
             const char *name)
{
  GPid pid = 0;

  if (!holder_store_read_pidfile (fx->root, name, &pid, NULL))
    return 0;
  return pid;
}

/* Starts a helper for the first @members names and waits until the
 * primary's socket accepts connections from it (not a stale socket). */
static void
spawn_helper (Fixture *fx,
              guint    members)
{
  g_autofree char *names = NULL;
  g_autofree char *path = socket_path (fx, fx->names[0]);
  const char *argv[] = { g_getenv ("HOLDER_TEST_HELPER"), "--fleetbox-runner", NULL, NULL };
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  names = members > 1 ? g_strdup_printf ("%s,%s", fx->names[0], fx->names[1])
                      : g_strdup (fx->names[0]);
  argv[2] = names;
  g_spawn_async (NULL, (char **) argv, fx->envp,
                 G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
                 NULL, NULL, &fx->helper, &error);
  g_assert_no_error (error);

  for (;;)
    {
      int fd;

      g_assert_false (holder_test_pid_is_dead (fx->helper));
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (pidfile_pid (fx, fx->names[members - 1]) == fx->helper &&
          (fd = unix_connect (path)) >= 0)
        {
          close (fd); /* a connection without a request is harmless */
          return;
        }
      g_usleep (10 * 1000);
    }
}

static void
create_network_and_reserve (Fixture *fx,
                            guint    members)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *subnet = NULL;

  g_assert_true (holder_client_create_network (fx->root, fx->names[0], &subnet, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (subnet, ".0/24"));
  for (guint i = 0; i < members; i++)
    {
      g_autoptr(HolderReservation) reservation =
        holder_client_reserve (fx->root, fx->names[0], fx->names[i], NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (reservation->ip);
      g_free (fx->ips[i]);
      fx->ips[i] = g_strdup (reservation->ip);
    }
}

static HolderMemberSpec *
make_spec (Fixture *fx,
           guint    i)
{
  return holder_test_guest_spec (fx->root, fx->names[i], fx->ips[i], NULL, fx->serial[i]);
}

typedef struct {
  HolderRequest *request;
  HolderReply   *reply;
  GError        *error;
  gboolean       done;
} Boot;

static void
on_booted (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Boot *boot = user_data;

  boot->reply = holder_client_send_finish (result, &boot->error);
  boot->done = TRUE;
}

static void
boot_start (Fixture *fx,
            guint    i,
            Boot    *boot)
{
  memset (boot, 0, sizeof *boot);
  boot->request = holder_request_new ("boot-member");
  boot->request->spec = make_spec (fx, i);
  holder_client_send_async (fx->root, fx->names[0], boot->request, BOOT_TIMEOUT_MS, NULL,
                            on_booted, boot);
}

static void
boot_finish (Boot *boot)
{
  while (!boot->done)
    g_main_context_iteration (NULL, TRUE);
  g_clear_pointer (&boot->request, holder_request_free);
  g_clear_pointer (&boot->reply, holder_reply_free);
}

static void
assert_running (Fixture *fx,
                guint    i)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderStatus) status = holder_client_status (fx->root, fx->names[i], &error);

  g_assert_no_error (error);
  g_assert_cmpstr (status->state, ==, "running");
  g_assert_true (status->running);
  g_assert_cmpstr (status->ip, ==, fx->ips[i]);
  g_assert_cmpint (status->pid, ==, fx->helper);
}

static void
boot_member (Fixture *fx,
             guint    i)
{
  Boot boot;
  gint64 t0 = g_get_monotonic_time ();

  boot_start (fx, i, &boot);
  boot_finish (&boot);
  g_assert_no_error (boot.error);
  g_test_message ("%s booted in %.1f s", fx->names[i],
                  (g_get_monotonic_time () - t0) / (double) G_USEC_PER_SEC);
  assert_running (fx, i);
}

static void
reconcile (Fixture *fx)
{
  const char *argv[] = { g_getenv ("HOLDER_TEST_HELPER"), "--fleetbox-reconcile", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, fx->envp, G_SPAWN_STDOUT_TO_DEV_NULL,
                               NULL, NULL, NULL, &err, &status, &error));
  g_assert_no_error (error);
  if (err[0] != '\0')
    g_test_message ("reconcile said: %s", err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* After a SIGKILL: reconcile cleans up the host and the store (nothing of
 * the dead helper @dead stays: no pidfile, no socket), then a new helper
 * for the same names boots @name. */
static void
recover_and_boot (Fixture *fx,
                  GPid     dead)
{
  g_autofree char *path = socket_path (fx, fx->names[0]);

  reconcile (fx);
  assert_host_clean (fx);
  g_assert_cmpint (pidfile_pid (fx, fx->names[0]), ==, 0);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_false (holder_store_member_is_served (fx->root, fx->names[0], NULL));
  g_test_message ("nothing of helper %d is left", (int) dead);
  reconcile (fx); /* idempotent */
  assert_host_clean (fx);

  spawn_helper (fx, 1);
  g_assert_cmpint (pidfile_pid (fx, fx->names[0]), ==, fx->helper);
  create_network_and_reserve (fx, 1);
  boot_member (fx, 0);

  /* And it goes as cleanly as ever. */
  g_assert_cmpint (kill (fx->helper, SIGTERM), ==, 0);
  {
    int status = wait_exit (fx->helper, 60000);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  }
  fx->helper = 0;
  g_assert_cmpint (pidfile_pid (fx, fx->names[0]), ==, 0);
  assert_host_clean (fx);
}

#define SKIP_UNLESS_READY() \
  G_STMT_START { \
    if (skip_reason != NULL) \
      { \
        g_test_skip (skip_reason); \
        return; \
      } \
  } G_STMT_END

/* ------------------------------------------------------------------ tests */

/* @data: "tap" kills as soon as the member's tap exists (the VMM may not
 * be there yet), "qemu" once the VMM runs its guest. */
static void
test_sigkill_during_boot (Fixture       *fx,
                          gconstpointer  data)
{
  const char *when = data;
  g_autoptr(GArray) procs = NULL;
  gint64 deadline;
  Boot boot;
  GPid dead;

  SKIP_UNLESS_READY ();
  spawn_helper (fx, 1);
  create_network_and_reserve (fx, 1);
  assert_network_present (fx);

  boot_start (fx, 0, &boot);
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  for (;;)
    {
      GPid vmm;

      g_main_context_iteration (NULL, FALSE);
      g_assert_false (boot.done); /* the guest takes seconds to answer */
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      if (g_str_equal (when, "tap") && sysfs_has_link ("fbt-"))
        break;
      if (g_str_equal (when, "qemu") && (vmm = vmm_of (fx->helper, fx->names[0])) != 0 &&
          qemu_runs_under (vmm))
        break;
      g_usleep (POLL_US);
    }
  procs = processes_matching (fx->helper, NULL);
  g_test_message ("killing the helper with %u descendant(s)", procs->len);
  if (g_str_equal (when, "qemu"))
    g_assert_cmpuint (procs->len, >=, 2);
  dead = fx->helper;
  kill_helper (fx);
  fx->helper = 0;

  /* The boot fails (the connection closes without a reply). */
  boot_finish (&boot);
  g_assert_nonnull (boot.error);
  g_test_message ("the client saw: %s", boot.error->message);
  g_clear_error (&boot.error);

  /* PDEATHSIG: the VMM and qemu die with the helper. Those not forked yet
   * never start: the orphans' getppid() check. */
  assert_all_die (procs, 2000);

  recover_and_boot (fx, dead);
}

static void
test_sigkill_during_stop (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GArray) procs = NULL;
  g_autofree char *reply = NULL;
  GPid vmm, dead;
  gboolean vmm_alive;

  SKIP_UNLESS_READY ();
  spawn_helper (fx, 1);
  create_network_and_reserve (fx, 1);
  boot_member (fx, 0);
  assert_network_present (fx);
  vmm = vmm_of (fx->helper, fx->names[0]);
  g_assert_cmpint (vmm, !=, 0);
  procs = processes_matching (fx->helper, NULL);
  g_assert_cmpuint (procs->len, >=, 2);

  /* `{}` comes before the teardown starts: kill right then. */
  reply = request (fx, fx->names[0], "{\"cmd\":\"stop\"}\n");
  g_assert_cmpstr (reply, ==, "{}\n");
  vmm_alive = !holder_test_pid_is_dead (vmm);
  dead = fx->helper;
  kill_helper (fx);
  fx->helper = 0;
  g_test_message ("the VMM was %s when the helper died",
                  vmm_alive ? "still shutting down" : "already gone");

  assert_all_die (procs, 2000);
  recover_and_boot (fx, dead);
}

/* The reply is waiting on @fd. */
static gboolean
reply_ready (int fd)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };

  return poll (&pfd, 1, 0) == 1;
}

static void
test_sigkill_during_createnetwork (Fixture       *fx,
                                   gconstpointer  data)
{
  g_autofree char *reply = NULL;
  guint before_reply = 0, with_bridge = 0;
  gint64 t0, took_us;
  GPid dead = 0;
  int fd;

  SKIP_UNLESS_READY ();

  /* How long a createnetwork takes here: half the faults land inside it. */
  spawn_helper (fx, 1);
  t0 = g_get_monotonic_time ();
  reply = request (fx, fx->names[0], "{\"cmd\":\"createnetwork\"}\n");
  took_us = g_get_monotonic_time () - t0;
  g_assert_true (g_str_has_prefix (reply, "{\"subnet\":\"192.168."));
  g_test_message ("createnetwork takes %.1f ms", took_us / 1000.0);
  kill_helper (fx);
  fx->helper = 0;
  reconcile (fx);
  assert_host_clean (fx);

  for (guint round = 0; round < 10; round++)
    {
      gint64 bound = round % 2 == 0 ? 20 * 1000 : MAX (took_us, 1000);
      guint delay_us = (guint) g_random_int_range (0, (gint32) bound + 1);
      gboolean replied, bridge;

      spawn_helper (fx, 1);
      fd = send_line (fx, fx->names[0], "{\"cmd\":\"createnetwork\"}\n");
      g_usleep (delay_us); /* the fault lands somewhere in the creation */
      replied = reply_ready (fd);
      bridge = sysfs_has_link ("fbx-");
      dead = fx->helper;
      kill_helper (fx);
      fx->helper = 0;
      close (fd);
      before_reply += replied ? 0 : 1;
      with_bridge += bridge ? 1 : 0;
      g_test_message ("round %u: killed %u us after createnetwork (%s, %s)", round, delay_us,
                      replied ? "replied" : "no reply yet", bridge ? "bridge" : "no bridge");

      reconcile (fx);
      assert_host_clean (fx);
    }
  g_test_message ("of 10 faults, %u came before the reply and %u found a bridge",
                  before_reply, with_bridge);

  recover_and_boot (fx, dead);
}

static void
test_vmm_dies_on_its_own (Fixture       *fx,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderStatus) status = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *reply = NULL;
  g_autoptr(GArray) qemus = NULL;
  gint64 deadline;
  Boot boots[2];
  GPid vmm;

  SKIP_UNLESS_READY ();
  spawn_helper (fx, 2);
  create_network_and_reserve (fx, 2);
  boot_start (fx, 0, &boots[0]);
  boot_start (fx, 1, &boots[1]);
  for (guint i = 0; i < 2; i++)
    {
      boot_finish (&boots[i]);
      g_assert_no_error (boots[i].error);
      assert_running (fx, i);
    }
  g_assert_cmpuint (count_links ("fbt-"), ==, 2);

  vmm = vmm_of (fx->helper, fx->names[1]);
  g_assert_cmpint (vmm, !=, 0);
  qemus = processes_matching (vmm, "qemu-system");
  g_assert_cmpuint (qemus->len, ==, 1);
  g_assert_cmpint (kill (vmm, SIGKILL), ==, 0);

  /* The member turns `error`, with the reason, and gives its tap back. */
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  for (;;)
    {
      g_clear_pointer (&status, holder_status_free);
      status = holder_client_status (fx->root, fx->names[1], &error);
      g_assert_no_error (error);
      if (g_str_equal (status->state, "error") && count_links ("fbt-") == 1)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  expected = g_strdup_printf ("{\"status\":{\"name\":\"%s\",\"pid\":%d,\"running\":false,"
                              "\"ip\":\"\",\"state\":\"error\","
                              "\"error\":\"cloud-hypervisor was killed by signal 9\"}}\n",
                              fx->names[1], (int) fx->helper);
  reply = request (fx, fx->names[1], "{\"cmd\":\"status\"}\n");
  g_assert_cmpstr (reply, ==, expected);

  /* Its qemu went with it; the other member and the helper serve on. */
  assert_all_die (qemus, 2000);
  g_assert_false (holder_test_pid_is_dead (fx->helper));
  assert_running (fx, 0);
  g_assert_cmpint (pidfile_pid (fx, fx->names[1]), ==, fx->helper);

  /* It re-joins: the same address, a new VMM, a new tap. */
  boot_member (fx, 1);
  g_assert_cmpuint (count_links ("fbt-"), ==, 2);
  g_assert_cmpint (vmm_of (fx->helper, fx->names[1]), !=, 0);
  g_assert_cmpint (vmm_of (fx->helper, fx->names[1]), !=, vmm);

  g_assert_cmpint (kill (fx->helper, SIGTERM), ==, 0);
  {
    int exit_status = wait_exit (fx->helper, 60000);
    g_assert_true (WIFEXITED (exit_status));
    g_assert_cmpint (WEXITSTATUS (exit_status), ==, 0);
  }
  fx->helper = 0;
  assert_host_clean (fx);
}

int
main (int    argc,
      char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  skip_reason = setup_namespace ();

#define ADD(path, data, fn) \
  g_test_add (path, Fixture, data, fixture_set_up, fn, fixture_tear_down)
  ADD ("/faults/sigkill-during-boot/tap", "tap", test_sigkill_during_boot);
  ADD ("/faults/sigkill-during-boot/qemu", "qemu", test_sigkill_during_boot);
  ADD ("/faults/sigkill-during-stop", NULL, test_sigkill_during_stop);
  ADD ("/faults/sigkill-during-createnetwork", NULL, test_sigkill_during_createnetwork);
  ADD ("/faults/vmm-dies-on-its-own", NULL, test_vmm_dies_on_its_own);
#undef ADD

  ret = g_test_run ();
  g_free (skip_reason);
  return ret;
}
