/* SPDX-License-Identifier: MIT
 *
 * bench-boot-overhead: the helper's own time in a boot with the
 * cloud-hypervisor backend, step by step, next to the guest's own time.
 *
 * The VMM is the stand-in (tests/ch-standin, qemu under TCG) booting the
 * busybox test guest (tests/guest). Everything runs inside a network and
 * mount namespace this program creates, so it needs root; without it, or
 * without the stand-in, the guest or qemu, it prints why and exits 0.
 *
 * Clocks: everything is CLOCK_MONOTONIC (g_get_monotonic_time()).
 * - The helper runs with G_MESSAGES_DEBUG=holder-boot-trace: it prints
 *   one line per step of a boot (holder_boot_trace() in holder-backend.h:
 *   request parsed, tap ready, VMM spawned, API answered, VM started,
 *   port 22 noticed, reply written) into a file this program reads.
 * - The guest is up when its console says "holder-guest: up <ip>", which
 *   its /init prints the moment port 22 listens; a thread per boot reads
 *   the serial log on every inotify event.
 * - request and reply are taken here around boot-member.
 * The guest's own time runs from the VMM's spawn to that console line;
 * the helper's overhead is everything else of request-to-reply:
 *   (VMM spawned - request sent) + max (0, reply received - guest up).
 *
 * First BOOTS (10) boots one after another, each stopped before the next;
 * then ROUNDS (3) rounds of 3 boots at once, to show that concurrent boots
 * cost each other nothing on the helper's side (the guests, under TCG,
 * share 2 CPUs and take longer: that is their own time). It prints p50 and
 * max of each step and the helper's CPU time during the concurrent rounds.
 *
 *   bench-boot-overhead [--build-dir DIR] [BOOTS [ROUNDS]]
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-bench"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "bench-common.h"

#define DEFAULT_BOOTS     10
#define DEFAULT_ROUNDS    3
#define CONCURRENT        3
#define BOOT_TIMEOUT_MS   (300 * 1000)
#define STOP_TIMEOUT_MS   (60 * 1000)
#define UP_GRACE_US       (2 * G_USEC_PER_SEC)

/* The helper's steps, in the order of a boot (holder_boot_trace()). */
static const char *const steps[] = {
  "request", "tap", "vmm-spawned", "api-answered", "vm-started", "port22", "reply",
};
enum { STEP_REQUEST, STEP_TAP, STEP_SPAWNED, STEP_API, STEP_STARTED, STEP_PORT22,
       STEP_REPLY, N_STEPS };

typedef struct {
  char             *name;
  char             *ip;
  HolderMemberSpec *spec;
  const char       *root;
  char             *serial_base;
  /* the serial watch */
  GThread          *watch;
  gint              stop;
  gint64            up;              /* console line seen, 0 if not */
  /* the boot */
  gint64            t_request;
  gint64            t_reply;
  GError           *error;
  gint64            step[N_STEPS];   /* from the trace, 0 if missing */
} Boot;

/* ---- the guest's console -------------------------------------------------- */

/* Reads the serial log whenever the folder says it changed, until the
 * "up" line or the stop flag. */
static gpointer
watch_thread (gpointer data)
{
  Boot *b = data;
  g_autofree char *path = g_build_filename (b->root, b->serial_base, NULL);
  g_autofree char *needle = g_strdup_printf ("holder-guest: up %s", b->ip);
  g_autoptr(GString) tail = g_string_new (NULL);
  int in = inotify_init1 (IN_CLOEXEC | IN_NONBLOCK);
  int fd = -1;

  if (in < 0 || inotify_add_watch (in, b->root, IN_MODIFY | IN_CREATE) < 0)
    bench_die ("inotify on %s: %s", b->root, g_strerror (errno));
  while (b->up == 0 && !g_atomic_int_get (&b->stop))
    {
      struct pollfd pfd = { .fd = in, .events = POLLIN };
      char events[4096];
      char chunk[65536];
      gssize n;

      /* Read first, then wait: a write between the two wakes the poll. */
      if (fd < 0)
        fd = open (path, O_RDONLY | O_CLOEXEC);
      while (fd >= 0 && (n = read (fd, chunk, sizeof chunk)) > 0)
        {
          g_string_append_len (tail, chunk, n);
          if (memmem (tail->str, tail->len, needle, strlen (needle)) != NULL)
            {
              b->up = g_get_monotonic_time ();
              break;
            }
          /* Keep only what a line split across reads needs. */
          if (tail->len > 256)
            g_string_erase (tail, 0, tail->len - 256);
        }
      if (b->up != 0)
        break;
      poll (&pfd, 1, 100);
      while (read (in, events, sizeof events) > 0)
        ;
    }
  if (fd >= 0)
    close (fd);
  close (in);
  return NULL;
}

/* ---- the trace -------------------------------------------------------------- */

/* Fills b->step from the helper's trace lines ("... boot-trace <usec>
 * <member> <step>"); the last line of a step wins. */
static void
read_trace (const char *trace_path,
            Boot       *b)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (trace_path, &text, NULL, NULL))
    return;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *p = strstr (lines[i], "boot-trace ");
      g_auto(GStrv) f = NULL;

      if (p == NULL)
        continue;
      f = g_strsplit (p + strlen ("boot-trace "), " ", 4);
      if (g_strv_length (f) < 3 || !g_str_equal (f[1], b->name))
        continue;
      for (guint s = 0; s < N_STEPS; s++)
        if (g_str_equal (g_strstrip (f[2]), steps[s]))
          b->step[s] = g_ascii_strtoll (f[0], NULL, 10);
    }
}

/* ---- one boot ------------------------------------------------------------------ */

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

static HolderMemberSpec *
make_spec (const char *root, const char *name, const char *ip,
           const char *kernel, const char *initramfs, char **serial_base)
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
  *serial_base = g_strdup_printf ("%s.serial.log", name);
  spec->serial_log_path = g_build_filename (root, *serial_base, NULL);
  spec->kernel_path = g_strdup (kernel);
  spec->initramfs_path = g_strdup (initramfs);
  spec->cmdline = g_strdup_printf ("console=ttyS0 panic=-1 holder.ip=%s/24", ip);
  return spec;
}

/* The boot-member request, on this thread; its own thread when concurrent. */
static gpointer
boot_thread (gpointer data)
{
  Boot *b = data;

  b->t_request = g_get_monotonic_time ();
  holder_client_boot_member (b->root, "ctl", b->spec, BOOT_TIMEOUT_MS, &b->error);
  b->t_reply = g_get_monotonic_time ();
  return NULL;
}

static void
boot_prepare (Boot *b, const char *root, const char *name,
              const char *kernel, const char *initramfs)
{
  g_autoptr(HolderReservation) reservation = NULL;
  g_autoptr(GError) error = NULL;

  b->name = g_strdup (name);
  b->root = root;
  reservation = holder_client_reserve (root, "ctl", name, NULL, &error);
  if (reservation == NULL || reservation->ip == NULL)
    bench_die ("reserve %s: %s", name, error != NULL ? error->message : "no IP");
  b->ip = g_strdup (reservation->ip);
  b->spec = make_spec (root, name, b->ip, kernel, initramfs, &b->serial_base);
  b->watch = g_thread_new ("watch", watch_thread, b);
}

/* After the reply: the console line (it may trail the listener a little),
 * the trace, a check that port 22 answers, then the stop. */
static void
boot_complete (Boot *b, const char *trace_path)
{
  g_autoptr(GError) error = NULL;

  if (b->error != NULL)
    bench_die ("boot-member %s: %s", b->name, b->error->message);
  for (gint64 deadline = g_get_monotonic_time () + UP_GRACE_US;
       b->up == 0 && g_get_monotonic_time () < deadline;)
    g_usleep (1000);
  g_atomic_int_set (&b->stop, 1);
  g_thread_join (b->watch);
  if (b->up == 0)
    bench_die ("boot %s: its console never said it was up", b->name);
  if (!port22_answers (b->ip))
    bench_die ("boot %s: the guest does not answer on %s:22", b->name, b->ip);
  read_trace (trace_path, b);
  for (guint s = 0; s < N_STEPS; s++)
    if (b->step[s] == 0)
      bench_die ("boot %s: no trace of step %s (is holder_boot_trace() called?)",
                 b->name, steps[s]);
  if (!holder_client_stop (b->root, b->name, STOP_TIMEOUT_MS, &error))
    bench_die ("stop %s: %s", b->name, error->message);
}

static void
boot_clear (Boot *b)
{
  g_free (b->name);
  g_free (b->ip);
  g_free (b->serial_base);
  holder_member_spec_free (b->spec);
  g_clear_error (&b->error);
}

/* ---- figures ------------------------------------------------------------------- */

/* What one boot's table row and the summaries show, in µs. */
enum {
  F_TO_REQUEST,   /* request sent -> parsed */
  F_TAP,          /* parsed -> tap ready */
  F_SPAWN,        /* tap -> VMM spawned */
  F_REQ_SPAWN,    /* request sent -> VMM spawned */
  F_API,          /* spawned -> API answered */
  F_STARTED,      /* API answered -> VM started */
  F_GUEST,        /* spawned -> console up: the guest's own time */
  F_NOTICE,       /* console up -> port 22 noticed (negative: noticed first) */
  F_REPLY,        /* port 22 noticed -> reply written */
  F_CLIENT,       /* reply written -> reply received */
  F_TOTAL,        /* request sent -> reply received */
  F_OVERHEAD,     /* the helper's own share of it */
  N_FIGURES
};

static const char *const figure_names[] = {
  "request sent -> parsed",
  "parsed -> tap ready",
  "tap ready -> VMM spawned",
  "request sent -> VMM spawned",
  "VMM spawned -> API answered",
  "API answered -> VM started",
  "guest: VMM spawned -> up",
  "guest up -> port 22 noticed",
  "port 22 noticed -> reply written",
  "reply written -> received",
  "request -> reply",
  "helper overhead",
};

static void
boot_figures (const Boot *b, gint64 *f)
{
  const gint64 *s = b->step;

  f[F_TO_REQUEST] = s[STEP_REQUEST] - b->t_request;
  f[F_TAP] = s[STEP_TAP] - s[STEP_REQUEST];
  f[F_SPAWN] = s[STEP_SPAWNED] - s[STEP_TAP];
  f[F_REQ_SPAWN] = s[STEP_SPAWNED] - b->t_request;
  f[F_API] = s[STEP_API] - s[STEP_SPAWNED];
  f[F_STARTED] = s[STEP_STARTED] - s[STEP_API];
  f[F_GUEST] = b->up - s[STEP_SPAWNED];
  f[F_NOTICE] = s[STEP_PORT22] - b->up;
  f[F_REPLY] = s[STEP_REPLY] - s[STEP_PORT22];
  f[F_CLIENT] = b->t_reply - s[STEP_REPLY];
  f[F_TOTAL] = b->t_reply - b->t_request;
  f[F_OVERHEAD] = f[F_REQ_SPAWN] + MAX (0, b->t_reply - b->up);
}

static void
print_row (const Boot *b, const gint64 *f)
{
  printf ("  %-8s %9.1f %9.1f %9.0f %9.1f %9.1f %9.1f\n", b->name,
          f[F_REQ_SPAWN] / 1e3, f[F_API] / 1e3, f[F_GUEST] / 1e3, f[F_NOTICE] / 1e3,
          f[F_REPLY] / 1e3, f[F_OVERHEAD] / 1e3);
}

static void
print_header (void)
{
  printf ("  %-8s %9s %9s %9s %9s %9s %9s\n", "member", "req to", "spawn to", "spawn to",
          "guest up", "port 22", "helper");
  printf ("  %-8s %9s %9s %9s %9s %9s %9s\n", "", "spawn", "API", "guest up",
          "to port 22", "to reply", "overhead");
  printf ("  %-8s %9s %9s %9s %9s %9s %9s\n", "", "(ms)", "(ms)", "(ms)", "(ms)", "(ms)", "(ms)");
}

/* p50 and max of each figure over @n boots (@figures: n rows). */
static void
print_summary (const char *title, const char *key, gint64 (*figures)[N_FIGURES], guint n)
{
  g_autofree gint64 *column = g_new (gint64, n);

  printf ("  %s, %u boots:                       p50        max\n", title, n);
  for (guint k = 0; k < N_FIGURES; k++)
    {
      for (guint i = 0; i < n; i++)
        column[i] = figures[i][k];
      bench_sort (column, n);
      printf ("    %-34s %9.1f ms %9.1f ms\n", figure_names[k],
              bench_percentile (column, n, 50) / 1e3, column[n - 1] / 1e3);
      if (k == F_OVERHEAD || k == F_REQ_SPAWN || k == F_NOTICE)
        {
          g_autofree char *p50 = g_strdup_printf ("%s_%s_p50", key,
                                                  k == F_OVERHEAD ? "overhead"
                                                  : k == F_REQ_SPAWN ? "spawn" : "notice");
          g_autofree char *max = g_strdup_printf ("%s_%s_max", key,
                                                  k == F_OVERHEAD ? "overhead"
                                                  : k == F_REQ_SPAWN ? "spawn" : "notice");
          bench_result (p50, bench_percentile (column, n, 50) / 1e3, "ms");
          bench_result (max, column[n - 1] / 1e3, "ms");
        }
    }
}

/* Against issue 13's targets: overhead p50 <= 10 ms and max <= 50 ms, the
 * VMM spawned within 5 ms of the request. */
static void
print_targets (const char *title, gint64 (*figures)[N_FIGURES], guint n)
{
  g_autofree gint64 *overhead = g_new (gint64, n);
  gint64 spawn_max = 0;

  for (guint i = 0; i < n; i++)
    {
      overhead[i] = figures[i][F_OVERHEAD];
      spawn_max = MAX (spawn_max, figures[i][F_REQ_SPAWN]);
    }
  bench_sort (overhead, n);
  printf ("  targets (%s): overhead p50 %.1f ms (<= 10: %s), max %.1f ms (<= 50: %s), "
          "VMM spawned within %.1f ms of the request (<= 5: %s)\n", title,
          bench_percentile (overhead, n, 50) / 1e3,
          bench_percentile (overhead, n, 50) <= 10000 ? "met" : "MISSED",
          overhead[n - 1] / 1e3, overhead[n - 1] <= 50000 ? "met" : "MISSED",
          spawn_max / 1e3, spawn_max <= 5000 ? "met" : "MISSED");
}

/* ---- set-up ---------------------------------------------------------------------- */

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

/* The helper, with its standard output and error (where GLib prints the
 * trace) going to @trace_path. */
static HolderHelper *
spawn_traced_helper (const char *helper_path, char **env, const char *trace_path)
{
  const char *names[] = { "ctl", NULL };
  int saved_out, saved_err, fd;
  HolderHelper *helper;

  fflush (stdout);
  fflush (stderr);
  fd = open (trace_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  saved_out = dup (STDOUT_FILENO);
  saved_err = dup (STDERR_FILENO);
  if (fd < 0 || saved_out < 0 || saved_err < 0 ||
      dup2 (fd, STDOUT_FILENO) < 0 || dup2 (fd, STDERR_FILENO) < 0)
    bench_die ("redirect the helper's output to %s: %s", trace_path, g_strerror (errno));
  helper = bench_spawn_bound (helper_path, names, (const char *const *) env);
  dup2 (saved_out, STDOUT_FILENO);
  dup2 (saved_err, STDERR_FILENO);
  close (saved_out);
  close (saved_err);
  close (fd);
  return helper;
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
  g_autofree char *trace_path = NULL;
  g_autofree char *subnet = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) env = NULL;
  guint boots = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : DEFAULT_BOOTS;
  guint rounds = argc > 2 ? (guint) g_ascii_strtoull (argv[2], NULL, 10) : DEFAULT_ROUNDS;
  gint64 (*sequential)[N_FIGURES] = NULL;
  gint64 (*concurrent)[N_FIGURES] = NULL;
  gint64 cpu_ns = 0, wall_us = 0;
  HolderHelper *helper;
  GPid pid;

  g_set_prgname ("bench-boot-overhead");
  signal (SIGPIPE, SIG_IGN);
  if (boots == 0)
    bench_die ("usage: bench-boot-overhead [--build-dir DIR] [BOOTS [ROUNDS]]");
  reason = skip_reason (build, &standin, &kernel, &initramfs);
  if (reason != NULL)
    {
      printf ("bench-boot-overhead: skipped: %s\n", reason);
      return 0;
    }
  /* Orphaned VMMs come to us rather than to the host's init. */
  prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  root = bench_make_root ();
  trace_path = g_build_filename (root, "helper-trace.log", NULL);
  env = bench_environ (root, "cloud-hypervisor");
  env = g_environ_setenv (env, "FLEETBOX_CH_BINARY", standin, TRUE);
  env = g_environ_setenv (env, "FLEETBOX_IP_WAIT_TIMEOUT", "200s", TRUE);
  /* BENCH_DEBUG="holder-guest-wait ..." adds domains to the helper's log. */
  {
    g_autofree char *domains = g_strjoin (" ", HOLDER_BOOT_TRACE_DOMAIN,
                                          g_getenv ("BENCH_DEBUG"), NULL);
    env = g_environ_setenv (env, "G_MESSAGES_DEBUG", domains, TRUE);
  }
  helper = spawn_traced_helper (helper_path, env, trace_path);
  pid = holder_helper_get_pid (helper);
  if (!holder_client_create_network (root, "ctl", &subnet, &error))
    bench_die ("createnetwork: %s", error->message);

  printf ("bench-boot-overhead: %u boots one after another, then %u rounds of %u at once "
          "(stand-in VMM, qemu TCG, subnet %s)\n", boots, rounds, CONCURRENT, subnet);
  print_header ();
  sequential = g_malloc0_n (boots, sizeof *sequential);
  for (guint i = 0; i < boots; i++)
    {
      g_autofree char *name = g_strdup_printf ("seq-%u", i + 1);
      Boot b = { 0 };

      boot_prepare (&b, root, name, kernel, initramfs);
      boot_thread (&b);
      boot_complete (&b, trace_path);
      boot_figures (&b, sequential[i]);
      print_row (&b, sequential[i]);
      boot_clear (&b);
    }

  if (rounds > 0)
    {
      concurrent = g_malloc0_n (rounds * CONCURRENT, sizeof *concurrent);
      printf ("  -- %u at once --\n", CONCURRENT);
    }
  for (guint r = 0; r < rounds; r++)
    {
      Boot b[CONCURRENT] = { { 0 } };
      GThread *threads[CONCURRENT];
      gint64 cpu0, t0;

      for (guint i = 0; i < CONCURRENT; i++)
        {
          g_autofree char *name = g_strdup_printf ("con-%u-%u", r + 1, i + 1);
          boot_prepare (&b[i], root, name, kernel, initramfs);
        }
      cpu0 = bench_proc_cpu_ns (pid);
      t0 = g_get_monotonic_time ();
      for (guint i = 0; i < CONCURRENT; i++)
        threads[i] = g_thread_new ("boot", boot_thread, &b[i]);
      for (guint i = 0; i < CONCURRENT; i++)
        g_thread_join (threads[i]);
      cpu_ns += bench_proc_cpu_ns (pid) - cpu0;
      wall_us += g_get_monotonic_time () - t0;
      for (guint i = 0; i < CONCURRENT; i++)
        {
          gint64 *f = concurrent[r * CONCURRENT + i];

          boot_complete (&b[i], trace_path);
          boot_figures (&b[i], f);
          print_row (&b[i], f);
          boot_clear (&b[i]);
        }
    }

  printf ("\n");
  print_summary ("one after another", "boot_seq", sequential, boots);
  if (rounds > 0)
    {
      print_summary ("3 at once", "boot_con", concurrent, rounds * CONCURRENT);
      printf ("  helper CPU while 3 guests boot: %.0f ms over %.1f s (%.2f %% of one CPU; "
              "clock-tick resolution)\n", cpu_ns / 1e6, wall_us / 1e6,
              100.0 * cpu_ns / 1e3 / (double) wall_us);
      bench_result ("boot_con_helper_cpu", 100.0 * cpu_ns / 1e3 / (double) wall_us, "%");
    }
  printf ("\n");
  print_targets ("one after another", sequential, boots);
  if (rounds > 0)
    print_targets ("3 at once", concurrent, rounds * CONCURRENT);

  if (!holder_helper_close (helper, 60000, NULL, &error))
    fprintf (stderr, "bench-boot-overhead: close: %s\n", error->message);
  holder_helper_free (helper);
  {
    /* Anything the helper warned about while we measured. */
    g_autofree char *text = NULL;

    if (g_file_get_contents (trace_path, &text, NULL, NULL))
      {
        g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

        for (guint i = 0; lines[i] != NULL; i++)
          if (strstr (lines[i], "WARNING") != NULL || strstr (lines[i], "CRITICAL") != NULL)
            printf ("  helper: %s\n", lines[i]);
      }
  }
  g_free (sequential);
  g_free (concurrent);
  /* BENCH_KEEP=1 keeps the folder: serial logs, the helper's log. */
  if (g_getenv ("BENCH_KEEP") != NULL)
    printf ("kept %s\n", root);
  else
    bench_remove_tree (root);
  return 0;
}
