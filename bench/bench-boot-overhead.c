/* SPDX-License-Identifier: MIT
 *
 * bench-boot-overhead: the helper's own overhead per boot with the
 * cloud-hypervisor backend: the boot-member request-to-reply time minus
 * the VMM's own time from its spawn to the guest answering on port 22.
 *
 * The VMM is the stand-in (tests/ch-standin, qemu under TCG) booting the
 * busybox test guest (tests/guest). Everything runs inside a network and
 * mount namespace this program creates, so it needs root; without it, or
 * without the stand-in, the guest or qemu, it prints why and exits 0.
 *
 * The VMM's spawn time is its start time from /proc/<pid>/stat (clock
 * ticks since boot, 10 ms here); "answers on port 22" is the moment the
 * guest's console says so (its /init prints "holder-guest: up <ip>" right
 * after starting the listener), read from the serial log every 1 ms.
 * Boots run one after another so that they do not share the CPUs.
 *
 *   bench-boot-overhead [--build-dir DIR] [BOOTS]     (default 3)
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-bench"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "bench-common.h"

#define DEFAULT_BOOTS 3
#define BOOT_TIMEOUT_MS (300 * 1000)
#define SERIAL_POLL_US 1000

static gint64
boottime_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_BOOTTIME, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

typedef struct {
  GPid        helper;
  const char *ip;
  const char *vmm_comm;
  const char *serial_path;
  GHashTable *seen;          /* VMM pids of earlier boots */
  gint        stop;
  GPid        vmm;
  gint64      vmm_start_ns;  /* CLOCK_BOOTTIME */
  gint64      port22_ns;     /* CLOCK_BOOTTIME */
} Watch;

/* Start time of @pid in CLOCK_BOOTTIME ns (field 22 of /proc/<pid>/stat). */
static gint64
process_start_ns (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  g_auto(GStrv) fields = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &stat, NULL, NULL) || (paren = strrchr (stat, ')')) == NULL)
    return -1;
  /* Fields after the command: state is field 3, starttime field 22. */
  fields = g_strsplit (paren + 2, " ", 0);
  if (g_strv_length (fields) < 20)
    return -1;
  return g_ascii_strtoll (fields[19], NULL, 10) * (G_GINT64_CONSTANT (1000000000) / sysconf (_SC_CLK_TCK));
}

/* A child of the helper running the VMM that no earlier boot used. */
static GPid
find_new_vmm (Watch *w)
{
  g_autofree char *task_dir = g_strdup_printf ("/proc/%d/task", (int) w->helper);
  g_autoptr(GDir) dir = g_dir_open (task_dir, 0, NULL);
  const char *tid;

  while (dir != NULL && (tid = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s/children", task_dir, tid);
      g_autofree char *children = NULL;
      g_auto(GStrv) pids = NULL;

      if (!g_file_get_contents (path, &children, NULL, NULL))
        continue;
      pids = g_strsplit (g_strstrip (children), " ", 0);
      for (guint i = 0; pids[i] != NULL; i++)
        {
          GPid pid = (GPid) atoi (pids[i]);
          g_autofree char *comm_path = g_strdup_printf ("/proc/%d/comm", (int) pid);
          g_autofree char *comm = NULL;

          if (pid <= 0 || g_hash_table_contains (w->seen, GINT_TO_POINTER (pid)))
            continue;
          if (g_file_get_contents (comm_path, &comm, NULL, NULL) &&
              g_str_equal (g_strstrip (comm), w->vmm_comm))
            return pid;
        }
    }
  return 0;
}

/* The time the guest's /init prints "holder-guest: up <ip>" on the serial
 * console, right after it starts its port 22 listener (tests/guest/init).
 * Watching the serial log costs the guest and the helper nothing, where
 * probing port 22 ourselves would add ARP and SYN traffic to theirs. */
static gint64
await_guest_up (const char *serial_path,
                const char *ip,
                gint       *stop)
{
  g_autofree char *needle = g_strdup_printf ("holder-guest: up %s", ip);
  GString *tail = g_string_new (NULL);
  gint64 up = 0;
  int fd = -1;

  while (up == 0 && !g_atomic_int_get (stop))
    {
      char chunk[65536];
      gssize n;

      if (fd < 0 && (fd = open (serial_path, O_RDONLY | O_CLOEXEC)) < 0)
        {
          g_usleep (SERIAL_POLL_US);
          continue;
        }
      n = read (fd, chunk, sizeof chunk);
      if (n <= 0)
        {
          g_usleep (SERIAL_POLL_US);
          continue;
        }
      g_string_append_len (tail, chunk, n);
      if (memmem (tail->str, tail->len, needle, strlen (needle)) != NULL)
        up = boottime_ns ();
      /* Keep only what a marker split across reads needs. */
      if (tail->len > 256)
        g_string_erase (tail, 0, tail->len - 256);
    }
  if (fd >= 0)
    close (fd);
  g_string_free (tail, TRUE);
  return up;
}

static gboolean
port22_answers (const char *ip)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (22) };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct timeval tv = { .tv_sec = 2 };
  gboolean ok;

  inet_pton (AF_INET, ip, &addr.sin_addr);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ok = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
  close (fd);
  return ok;
}

static gpointer
watch_thread (gpointer data)
{
  Watch *w = data;

  while (!g_atomic_int_get (&w->stop) && w->vmm == 0)
    {
      w->vmm = find_new_vmm (w);
      if (w->vmm == 0)
        g_usleep (1000);
    }
  if (w->vmm != 0)
    w->vmm_start_ns = process_start_ns (w->vmm);
  w->port22_ns = await_guest_up (w->serial_path, w->ip, &w->stop);
  return NULL;
}

static gboolean
run_command (const char *command_line)
{
  int status = 0;

  return g_spawn_command_line_sync (command_line, NULL, NULL, &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

/* NULL when the benchmark can run here, else why not. */
static char *
skip_reason (const char *build, char **standin, char **kernel, char **initramfs)
{
  g_autofree char *qemu = g_find_program_in_path ("qemu-system-x86_64");
  GStatBuf st;

  *standin = g_build_filename (build, "tests", "ch-standin", "ch-standin", NULL);
  *kernel = g_build_filename (build, "tests", "guest", "vmlinux", NULL);
  *initramfs = g_build_filename (build, "tests", "guest", "initramfs.cpio.gz", NULL);
  if (geteuid () != 0)
    return g_strdup ("needs root (network namespace, bridge, taps)");
  if (!g_file_test (*standin, G_FILE_TEST_IS_EXECUTABLE))
    return g_strdup_printf ("%s is missing (configure with -Dbackends=fake,cloud-hypervisor)", *standin);
  if (g_stat (*kernel, &st) != 0 || st.st_size == 0 || g_stat (*initramfs, &st) != 0 || st.st_size == 0)
    return g_strdup_printf ("the test guest was not built (see %s/tests/guest/guest-status)", build);
  if (qemu == NULL)
    return g_strdup ("qemu-system-x86_64 not installed (Debian: qemu-system-x86)");
  if (!g_file_test ("/dev/net/tun", G_FILE_TEST_EXISTS))
    return g_strdup ("/dev/net/tun missing");
  if (unshare (CLONE_NEWNET | CLONE_NEWNS) != 0)
    return g_strdup_printf ("unshare: %s", g_strerror (errno));
  if (mount ("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    return g_strdup_printf ("make mounts private: %s", g_strerror (errno));
  /* /sys must show this namespace's interfaces. */
  if (mount ("sysfs", "/sys", "sysfs", 0, NULL) != 0)
    g_debug ("mount sysfs: %s", g_strerror (errno));
  if (!run_command ("ip link set lo up"))
    return g_strdup ("ip link set lo up failed in the new namespace");
  return NULL;
}

static HolderMemberSpec *
make_spec (const char *root, const char *name, const char *ip,
           const char *kernel, const char *initramfs)
{
  HolderMemberSpec *spec = holder_member_spec_new (name);

  g_free (spec->disk_path);
  spec->disk_path = g_strdup_printf ("%s/%s.disk", root, name);
  g_free (spec->seed_path);
  spec->seed_path = g_strdup_printf ("%s/%s.seed", root, name);
  if (!g_file_set_contents (spec->disk_path, "", 0, NULL) ||
      truncate (spec->disk_path, 1024 * 1024) != 0 ||
      !g_file_set_contents (spec->seed_path, "", 0, NULL) ||
      truncate (spec->seed_path, 64 * 1024) != 0)
    bench_die ("cannot create the disks of %s", name);
  spec->cpus = 1;
  spec->memory_bytes = 256 * 1024 * 1024;
  spec->serial_log_path = g_strdup_printf ("%s/%s.serial.log", root, name);
  spec->kernel_path = g_strdup (kernel);
  spec->initramfs_path = g_strdup (initramfs);
  spec->cmdline = g_strdup_printf ("console=ttyS0 panic=-1 holder.ip=%s/24", ip);
  return spec;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *build = bench_build_dir (&argc, &argv);
  g_autofree char *helper_path = bench_helper_path (build);
  g_autofree char *standin = NULL, *kernel = NULL, *initramfs = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *root = NULL;
  g_autofree char *subnet = NULL;
  g_autofree gint64 *overheads = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) env = NULL;
  g_auto(GStrv) names = NULL;
  guint boots = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_BOOTS;
  HolderHelper *helper;
  double sum = 0;
  GPid pid;

  g_set_prgname ("bench-boot-overhead");
  signal (SIGPIPE, SIG_IGN);
  if (boots == 0)
    bench_die ("usage: bench-boot-overhead [--build-dir DIR] [BOOTS]");
  reason = skip_reason (build, &standin, &kernel, &initramfs);
  if (reason != NULL)
    {
      printf ("bench-boot-overhead: skipped: %s\n", reason);
      return 0;
    }
  /* Orphaned VMMs come to us rather than to the host's init. */
  prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  root = bench_make_root ();
  env = bench_environ (root, "cloud-hypervisor");
  env = g_environ_setenv (env, "FLEETBOX_CH_BINARY", standin, TRUE);
  env = g_environ_setenv (env, "FLEETBOX_IP_WAIT_TIMEOUT", "200s", TRUE);
  names = bench_names ("boot", boots);
  helper = bench_spawn_bound (helper_path, (const char *const *) names, (const char *const *) env);
  pid = holder_helper_get_pid (helper);
  if (!holder_client_create_network (root, names[0], &subnet, &error))
    bench_die ("createnetwork: %s", error->message);

  printf ("bench-boot-overhead: %u boots, one after another (stand-in VMM, qemu TCG, subnet %s)\n",
          boots, subnet);
  printf ("  %-8s %10s %12s %14s %12s\n", "member", "request", "VMM spawn", "VMM spawn to", "helper");
  printf ("  %-8s %10s %12s %14s %12s\n", "", "to reply", "after req.", "guest up", "overhead");
  overheads = g_new (gint64, boots);
  for (guint i = 0; i < boots; i++)
    {
      g_autoptr(HolderReservation) reservation = NULL;
      g_autoptr(HolderMemberSpec) spec = NULL;
      Watch w = { 0 };
      GThread *thread;
      gint64 t_req, t_reply;

      reservation = holder_client_reserve (root, names[0], names[i], NULL, &error);
      if (reservation == NULL || reservation->ip == NULL)
        bench_die ("reserve %s: %s", names[i], error != NULL ? error->message : "no IP");
      spec = make_spec (root, names[i], reservation->ip, kernel, initramfs);

      w.helper = pid;
      w.ip = reservation->ip;
      w.vmm_comm = "ch-standin";
      w.serial_path = spec->serial_log_path;
      w.seen = seen;
      thread = g_thread_new ("watch", watch_thread, &w);
      t_req = boottime_ns ();
      if (!holder_client_boot_member (root, names[0], spec, BOOT_TIMEOUT_MS, &error))
        bench_die ("boot-member %s: %s", names[i], error->message);
      t_reply = boottime_ns ();
      /* The console line may trail the listener by a few ms. */
      for (gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
           w.port22_ns == 0 && g_get_monotonic_time () < deadline;)
        g_usleep (1000);
      g_atomic_int_set (&w.stop, 1);
      g_thread_join (thread);
      if (w.vmm == 0 || w.vmm_start_ns <= 0 || w.port22_ns == 0)
        bench_die ("boot %s: did not see the VMM (%d) or its guest come up", names[i], (int) w.vmm);
      if (!port22_answers (reservation->ip))
        bench_die ("boot %s: the guest does not answer on %s:22", names[i], reservation->ip);
      g_hash_table_add (seen, GINT_TO_POINTER (w.vmm));

      overheads[i] = (t_reply - t_req) - (MIN (w.port22_ns, t_reply) - w.vmm_start_ns);
      sum += overheads[i];
      printf ("  %-8s %8.0f ms %9.0f ms %11.0f ms %9.0f ms\n", names[i],
              (t_reply - t_req) / 1e6, (w.vmm_start_ns - t_req) / 1e6,
              (MIN (w.port22_ns, t_reply) - w.vmm_start_ns) / 1e6, overheads[i] / 1e6);
    }
  bench_sort (overheads, boots);
  printf ("  helper overhead per boot: mean %.0f ms, median %.0f ms, max %.0f ms\n",
          sum / boots / 1e6, bench_percentile (overheads, boots, 50) / 1e6,
          overheads[boots - 1] / 1e6);
  bench_result ("boot_overhead_mean", sum / boots / 1e6, "ms");
  bench_result ("boot_overhead_p50", bench_percentile (overheads, boots, 50) / 1e6, "ms");

  if (!holder_helper_close (helper, 60000, NULL, &error))
    fprintf (stderr, "bench-boot-overhead: close: %s\n", error->message);
  holder_helper_free (helper);
  bench_remove_tree (root);
  return 0;
}
