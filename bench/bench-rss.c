/* SPDX-License-Identifier: MIT
 *
 * bench-rss: the helper's memory (VmRSS, and VmHWM, the peak) idle with one
 * member; with 64 members after createnetwork, reserve and boot-member
 * (fake) of every one; and after 20 clients each sent a 10 MiB line (no
 * newline) at once. The request limit is 1 MiB (HOLDER_CODEC_MAX_LINE), so
 * the helper must neither buffer nor keep the excess.
 *
 *   bench-rss [--build-dir DIR]
 */
#define G_LOG_DOMAIN "holder-bench"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench-common.h"

#define MEMBERS 64
#define FLOODERS 20
#define FLOOD_BYTES (10 * 1024 * 1024)

typedef struct {
  const char *path;
  gboolean    refused;   /* got "request too long" or a closed connection */
} Flooder;

static gpointer
flood_thread (gpointer data)
{
  Flooder *f = data;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  g_autofree char *chunk = g_malloc (64 * 1024);
  char reply[4096];
  gsize sent = 0, got = 0;
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  memset (chunk, 'x', 64 * 1024);
  g_strlcpy (addr.sun_path, f->path, sizeof addr.sun_path);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0)
    bench_die ("connect %s: %s", f->path, g_strerror (errno));
  while (sent < FLOOD_BYTES)
    {
      gssize n = write (fd, chunk, MIN (64 * 1024, FLOOD_BYTES - sent));

      if (n < 0)
        break;   /* EPIPE/ECONNRESET: the helper gave up on us */
      sent += n;
    }
  shutdown (fd, SHUT_WR);
  for (;;)
    {
      gssize n = read (fd, reply + got, sizeof reply - 1 - got);

      if (n <= 0)
        break;
      got += n;
    }
  reply[got] = '\0';
  close (fd);
  f->refused = got == 0 || g_str_has_prefix (reply, "{\"error\":\"request too long");
  return NULL;
}

static void
report (const char *stage,
        const char *key,
        GPid        pid)
{
  gint64 rss = bench_proc_status_kib (pid, "VmRSS");
  gint64 hwm = bench_proc_status_kib (pid, "VmHWM");
  g_autofree char *rss_key = g_strdup_printf ("rss_%s", key);
  g_autofree char *hwm_key = g_strdup_printf ("hwm_%s", key);

  gint64 anon = bench_proc_status_kib (pid, "RssAnon");
  gint64 file = bench_proc_status_kib (pid, "RssFile");
  g_autofree char *anon_key = g_strdup_printf ("rss_anon_%s", key);

  /* RssFile is mostly the shared libraries' pages; RssAnon is the
   * helper's own heap and stacks. */
  gint64 pss = bench_proc_pss_kib (pid);
  g_autofree char *pss_key = g_strdup_printf ("pss_%s", key);

  printf ("  %-26s VmRSS %5.1f MiB (anon %4.1f, file %4.1f)   Pss %5.1f MiB   VmHWM %5.1f MiB\n",
          stage, rss / 1024.0, anon / 1024.0, file / 1024.0, pss / 1024.0, hwm / 1024.0);
  bench_result (pss_key, pss / 1024.0, "MiB");
  bench_result (anon_key, anon / 1024.0, "MiB");
  bench_result (rss_key, rss / 1024.0, "MiB");
  bench_result (hwm_key, hwm / 1024.0, "MiB");
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *build = bench_build_dir (&argc, &argv);
  g_autofree char *helper_path = bench_helper_path (build);
  g_autofree char *root = bench_make_root ();
  g_auto(GStrv) env = bench_environ (root, "fake");
  g_auto(GStrv) names = bench_names ("rss", MEMBERS);
  const char *solo[] = { "idle", NULL };
  Flooder flooders[FLOODERS];
  GThread *threads[FLOODERS];
  HolderHelper *helper;
  GPid pid;
  guint refused = 0;

  g_set_prgname ("bench-rss");
  signal (SIGPIPE, SIG_IGN);
  printf ("bench-rss: the helper's memory (fake backend)\n");

  helper = bench_spawn_bound (helper_path, solo, (const char *const *) env);
  pid = holder_helper_get_pid (helper);
  g_free (bench_checked_status (root, "idle", pid, "starting"));
  report ("idle, 1 member", "idle", pid);
  holder_helper_close (helper, 10000, NULL, NULL);
  holder_helper_free (helper);

  helper = bench_spawn_bound (helper_path, (const char *const *) names, (const char *const *) env);
  pid = holder_helper_get_pid (helper);
  bench_fake_boot_all (root, (const char *const *) names);
  for (guint i = 0; i < MEMBERS; i++)
    g_free (bench_checked_status (root, names[i], pid, "running"));
  report ("64 members booted", "64", pid);

  for (guint i = 0; i < FLOODERS; i++)
    {
      flooders[i].path = holder_store_socket_path (root, names[i % MEMBERS]);
      threads[i] = g_thread_new ("flood", flood_thread, &flooders[i]);
    }
  for (guint i = 0; i < FLOODERS; i++)
    {
      g_thread_join (threads[i]);
      refused += flooders[i].refused;
      g_free ((char *) flooders[i].path);
    }
  /* Still serving, and every member untouched. */
  for (guint i = 0; i < MEMBERS; i++)
    g_free (bench_checked_status (root, names[i], pid, "running"));
  report ("after 20 x 10 MiB lines", "flood", pid);
  printf ("  %u of %u flooders refused (\"request too long\" or closed)\n", refused, FLOODERS);

  holder_helper_close (helper, 30000, NULL, NULL);
  holder_helper_free (helper);
  bench_remove_tree (root);
  return refused == FLOODERS ? 0 : 1;
}
