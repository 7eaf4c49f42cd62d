/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "holder-bench"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "bench-common.h"

void
bench_die (const char *format, ...)
{
  va_list args;

  va_start (args, format);
  fprintf (stderr, "%s: ", g_get_prgname () != NULL ? g_get_prgname () : "bench");
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  exit (1);
}

char *
bench_build_dir (int    *argc,
                 char ***argv)
{
  g_autofree char *exe = NULL;
  g_autofree char *dir = NULL;

  for (int i = 1; i < *argc; i++)
    if (g_str_equal ((*argv)[i], "--build-dir") && i + 1 < *argc)
      {
        char *found = g_canonicalize_filename ((*argv)[i + 1], NULL);

        for (int j = i; j + 2 <= *argc; j++)
          (*argv)[j] = (*argv)[j + 2];
        *argc -= 2;
        return found;
      }
  exe = g_file_read_link ("/proc/self/exe", NULL);
  if (exe == NULL)
    bench_die ("cannot find my own executable; pass --build-dir");
  dir = g_path_get_dirname (exe);
  return g_path_get_dirname (dir);
}

char *
bench_helper_path (const char *build_dir)
{
  char *path = g_build_filename (build_dir, "helper", "fleetbox-helper", NULL);

  if (!g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
    bench_die ("%s is missing: build it first (ninja -C %s)", path, build_dir);
  return path;
}

char *
bench_make_root (void)
{
  g_autoptr(GError) error = NULL;
  char *root = g_dir_make_tmp ("holder-bench-XXXXXX", &error);

  if (root == NULL)
    bench_die ("temporary folder: %s", error->message);
  return root;
}

void
bench_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *entry;

  if (dir == NULL)
    {
      g_remove (path);
      return;
    }
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, entry, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        bench_remove_tree (child);
      else
        g_remove (child);
    }
  g_rmdir (path);
}

char **
bench_environ (const char *root,
               const char *backend)
{
  char **env = g_get_environ ();

  env = g_environ_setenv (env, "FLEETBOX_HOME", root, TRUE);
  env = g_environ_setenv (env, "FLEETBOX_BACKEND", backend, TRUE);
  env = g_environ_unsetenv (env, "FLEETBOX_PARENT_PID");
  return env;
}

char **
bench_names (const char *prefix,
             guint       n)
{
  char **names = g_new0 (char *, n + 1);

  for (guint i = 0; i < n; i++)
    names[i] = g_strdup_printf ("%s-%u", prefix, i + 1);
  return names;
}

gint64
bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

gssize
bench_status_round_trip (const char *socket_path,
                         char       *buf,
                         gsize       size)
{
  static const char request[] = "{\"cmd\":\"status\"}\n";
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  gsize got = 0;
  int fd;

  g_strlcpy (addr.sun_path, socket_path, sizeof addr.sun_path);
  fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0 ||
      write (fd, request, sizeof request - 1) != (gssize) (sizeof request - 1))
    {
      int saved = errno;
      close (fd);
      return -saved;
    }
  for (;;)
    {
      gssize n = read (fd, buf + got, size - 1 - got);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;
          close (fd);
          return -saved;
        }
      if (n == 0 || got + n >= size - 1)
        {
          got += n;
          break;
        }
      got += n;
    }
  close (fd);
  buf[got] = '\0';
  return (gssize) got;
}

static int
compare_gint64 (const void *a,
                const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

void
bench_sort (gint64 *samples,
            gsize   n)
{
  qsort (samples, n, sizeof *samples, compare_gint64);
}

gint64
bench_percentile (const gint64 *sorted,
                  gsize         n,
                  double        p)
{
  gsize rank;

  if (n == 0)
    return 0;
  /* Nearest rank: the smallest sample with at least p% at or below it. */
  rank = (gsize) (p / 100.0 * n + 0.999999);
  rank = CLAMP (rank, 1, n);
  return sorted[rank - 1];
}

gint64
bench_proc_status_kib (GPid        pid,
                       const char *field)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *contents = NULL;
  g_autofree char *needle = g_strdup_printf ("\n%s:", field);
  const char *line;

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return -1;
  line = strstr (contents, needle);
  if (line == NULL)
    return -1;
  return g_ascii_strtoll (line + strlen (needle), NULL, 10);
}

gint64
bench_proc_pss_kib (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/smaps_rollup", (int) pid);
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  line = strstr (text, "\nPss:");
  if (line == NULL)
    return -1;
  return g_ascii_strtoll (line + 5, NULL, 10);
}

gint64
bench_proc_cpu_ns (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *contents = NULL;
  g_auto(GStrv) fields = NULL;
  const char *paren;

  if (!g_file_get_contents (path, &contents, NULL, NULL) ||
      (paren = strrchr (contents, ')')) == NULL)
    return -1;
  /* After "pid (comm) ": state is field 3, utime 14, stime 15. */
  fields = g_strsplit (paren + 2, " ", 0);
  if (g_strv_length (fields) < 13)
    return -1;
  return (gint64) (g_ascii_strtoull (fields[11], NULL, 10) + g_ascii_strtoull (fields[12], NULL, 10)) *
         (G_GINT64_CONSTANT (1000000000) / sysconf (_SC_CLK_TCK));
}

HolderHelper *
bench_spawn_bound (const char        *helper_path,
                   const char *const *names,
                   const char *const *envp)
{
  g_autoptr(GError) error = NULL;
  HolderHelper *helper = holder_helper_spawn (helper_path, names, envp,
                                              HOLDER_SPAWN_FLAGS_NONE, &error);

  if (helper == NULL)
    bench_die ("spawn %s: %s", helper_path, error->message);
  return helper;
}

void
bench_fake_boot_all (const char        *root,
                     const char *const *names)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *subnet = NULL;

  if (!holder_client_create_network (root, names[0], &subnet, &error))
    bench_die ("createnetwork: %s", error->message);
  for (gsize i = 0; names[i] != NULL; i++)
    {
      g_autoptr(HolderReservation) reservation = NULL;
      g_autoptr(HolderMemberSpec) spec = holder_member_spec_new (names[i]);

      reservation = holder_client_reserve (root, names[0], names[i], NULL, &error);
      if (reservation == NULL)
        bench_die ("reserve %s: %s", names[i], error->message);
      g_free (spec->disk_path);
      spec->disk_path = g_strdup_printf ("%s/%s.disk", root, names[i]);
      g_free (spec->seed_path);
      spec->seed_path = g_strdup_printf ("%s/%s.seed", root, names[i]);
      spec->cpus = 1;
      spec->memory_bytes = 256 * 1024 * 1024;
      if (!holder_client_boot_member (root, names[0], spec, 0, &error))
        bench_die ("boot-member %s: %s", names[i], error->message);
    }
}

char *
bench_checked_status (const char *root,
                      const char *name,
                      GPid        pid,
                      const char *expected_state)
{
  g_autofree char *path = holder_store_socket_path (root, name);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  char buf[4096];
  gssize n = bench_status_round_trip (path, buf, sizeof buf);
  JsonObject *reply, *status;

  if (n < 0)
    bench_die ("status %s: %s", name, g_strerror ((int) -n));
  if (n == 0 || buf[n - 1] != '\n' || memchr (buf, '\n', n - 1) != NULL)
    bench_die ("status %s: not one line: %s", name, buf);
  if (!json_parser_load_from_data (parser, buf, n, &error))
    bench_die ("status %s: %s: %s", name, error->message, buf);
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    bench_die ("status %s: not an object: %s", name, buf);
  reply = json_node_get_object (json_parser_get_root (parser));
  if (json_object_get_size (reply) != 1 || !json_object_has_member (reply, "status"))
    bench_die ("status %s: not a status reply: %s", name, buf);
  status = json_object_get_object_member (reply, "status");
  if (status == NULL ||
      g_strcmp0 (json_object_get_string_member_with_default (status, "name", ""), name) != 0 ||
      json_object_get_int_member_with_default (status, "pid", 0) != pid ||
      !json_object_has_member (status, "running") ||
      !json_object_has_member (status, "ip") ||
      g_strcmp0 (json_object_get_string_member_with_default (status, "state", ""),
                 expected_state) != 0)
    bench_die ("status %s: unexpected fields: %s", name, buf);
  return g_strndup (buf, n);
}

void
bench_result (const char *key,
              double      value,
              const char *unit)
{
  printf ("RESULT %s %.3f %s\n", key, value, unit);
  fflush (stdout);
}
