/* holder-runner.c: the helper process's entry points.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-runner"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "holder-backend.h"
#include "holder-error.h"
#include "holder-runner.h"
#include "holder-server-private.h"
#include "holder-store-claim-private.h"
#include "holder-store-fs-private.h"
#include "holder-store.h"
#include "holder-util-private.h"
#include "holder-version.h"

static gboolean
argv_contains (int          argc,
               char *const *argv,
               const char  *flag)
{
  for (int i = 0; i < argc && argv[i] != NULL; i++)
    if (g_str_equal (argv[i], flag))
      return TRUE;
  return FALSE;
}

gboolean
holder_is_runner (int          argc,
                  char *const *argv)
{
  g_return_val_if_fail (argv != NULL || argc == 0, FALSE);
  return argv_contains (argc, argv, HOLDER_RUNNER_FLAG);
}

gboolean
holder_is_reconcile (int          argc,
                     char *const *argv)
{
  g_return_val_if_fail (argv != NULL || argc == 0, FALSE);
  return argv_contains (argc, argv, HOLDER_RECONCILE_FLAG);
}

char **
holder_get_runner_vm_names (int          argc,
                            char *const *argv)
{
  g_autoptr(GPtrArray) names = NULL;
  g_auto(GStrv) pieces = NULL;

  g_return_val_if_fail (argv != NULL || argc == 0, NULL);

  for (int i = 0; i + 1 < argc && argv[i] != NULL; i++)
    {
      if (!g_str_equal (argv[i], HOLDER_RUNNER_FLAG))
        continue;
      pieces = g_strsplit (argv[i + 1], ",", -1);
      break;
    }
  if (pieces == NULL)
    return NULL;

  names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; pieces[i] != NULL; i++)
    {
      gboolean seen = FALSE;

      if (pieces[i][0] == '\0')
        continue;
      for (guint j = 0; j < names->len && !seen; j++)
        seen = g_str_equal (g_ptr_array_index (names, j), pieces[i]);
      if (!seen)
        g_ptr_array_add (names, g_strdup (pieces[i]));
    }
  if (names->len == 0)
    return NULL;
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

static gboolean
on_terminate_signal (gpointer user_data)
{
  HolderServer *server = user_data;

  holder_server_shutdown (server, "signal received");
  return G_SOURCE_CONTINUE;
}

/* SIGTERM and SIGINT end the run. g_unix_signal_add() would start GLib's
 * worker thread ("gmain": a thread with its 8 MiB stack and its own malloc
 * arena, for the whole life of the helper, and one more thread hop per
 * signal). A handler that writes a byte to a pipe watched by the main
 * context does the same on this thread. One run per process uses it; a
 * second concurrent holder_run() falls back to g_unix_signal_add(). */
typedef struct {
  int              fds[2];
  GSource         *source;
  guint            glib_ids[2];
  struct sigaction old_term;
  struct sigaction old_int;
} TerminateWatch;

static volatile sig_atomic_t terminate_write_fd = -1;

static void
on_terminate_signal_raw (int signo)
{
  int saved_errno = errno;
  int fd = terminate_write_fd;
  char byte = (char) signo;

  if (fd >= 0)
    (void) !write (fd, &byte, 1);
  errno = saved_errno;
}

static gboolean
on_terminate_readable (int          fd,
                       GIOCondition condition,
                       gpointer     user_data)
{
  char buf[16];

  while (read (fd, buf, sizeof buf) > 0)
    ;
  return on_terminate_signal (user_data);
}

static void
terminate_watch_start (TerminateWatch *watch,
                       HolderServer   *server)
{
  struct sigaction sa;

  watch->fds[0] = watch->fds[1] = -1;
  if (terminate_write_fd < 0 && g_unix_open_pipe (watch->fds, FD_CLOEXEC, NULL) &&
      g_unix_set_fd_nonblocking (watch->fds[0], TRUE, NULL) &&
      g_unix_set_fd_nonblocking (watch->fds[1], TRUE, NULL))
    {
      watch->source = g_unix_fd_source_new (watch->fds[0], G_IO_IN);
      g_source_set_callback (watch->source, G_SOURCE_FUNC (on_terminate_readable), server, NULL);
      g_source_attach (watch->source, g_main_context_get_thread_default ());
      terminate_write_fd = watch->fds[1];

      memset (&sa, 0, sizeof sa);
      sa.sa_handler = on_terminate_signal_raw;
      sigemptyset (&sa.sa_mask);
      sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
      sigaction (SIGTERM, &sa, &watch->old_term);
      sigaction (SIGINT, &sa, &watch->old_int);
      return;
    }

  if (watch->fds[0] >= 0)
    {
      close (watch->fds[0]);
      close (watch->fds[1]);
      watch->fds[0] = watch->fds[1] = -1;
    }
  watch->glib_ids[0] = g_unix_signal_add (SIGTERM, on_terminate_signal, server);
  watch->glib_ids[1] = g_unix_signal_add (SIGINT, on_terminate_signal, server);
}

static void
terminate_watch_stop (TerminateWatch *watch)
{
  if (watch->source != NULL)
    {
      sigaction (SIGTERM, &watch->old_term, NULL);
      sigaction (SIGINT, &watch->old_int, NULL);
      terminate_write_fd = -1;
      g_source_destroy (watch->source);
      g_clear_pointer (&watch->source, g_source_unref);
      close (watch->fds[0]);
      close (watch->fds[1]);
      return;
    }
  g_source_remove (watch->glib_ids[0]);
  g_source_remove (watch->glib_ids[1]);
}

/* FLEETBOX_PARENT_PID: unset means detached. A value that is not a
 * positive number keeps the control socket but disables the parent watch. */
static gboolean
parse_parent_pid (GPid *out_pid)
{
  const char *value = g_getenv (HOLDER_PARENT_PID_ENV);
  gint64 pid = 0;

  *out_pid = 0;
  if (value == NULL || value[0] == '\0')
    return FALSE;
  if (g_ascii_string_to_signed (value, 10, 1, G_MAXINT, &pid, NULL))
    *out_pid = (GPid) pid;
  else
    g_debug ("%s=%s is not a pid: no parent watch", HOLDER_PARENT_PID_ENV, value);
  return TRUE;
}


gboolean
holder_run (const HolderBackendClass *backend,
            const char *const        *names,
            GError                  **error)
{
  g_autofree char *root = NULL;
  g_autoptr(HolderServer) server = NULL;
  HolderServerOptions options = { 0 };
  TerminateWatch terminate = { 0 };

  g_return_val_if_fail (backend != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (names == NULL || names[0] == NULL)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                           "no VM names provided");
      return FALSE;
    }

  /* A client that vanished mid-reply must not kill us with SIGPIPE. */
  signal (SIGPIPE, SIG_IGN);

  /* The server opens (and makes, and checks) the root itself. */
  root = holder_store_resolve_root (error);
  if (root == NULL)
    return FALSE;

  options.root = root;
  options.backend_class = backend;
  options.names = names;
  options.bound = parse_parent_pid (&options.parent_pid);

  server = holder_server_new (&options, error);
  if (server == NULL)
    return FALSE;

  /* Installed before start-up so that a signal during it is not lost. */
  terminate_watch_start (&terminate, server);

  if (!holder_server_start (server, error))
    {
      terminate_watch_stop (&terminate);
      return FALSE;
    }
  holder_server_run_until_finished (server);

  terminate_watch_stop (&terminate);
  return TRUE;
}

static void
on_reclaimed (const char *kind,
              const char *what,
              gpointer    user_data)
{
  g_info ("reconcile: removed %s %s", kind, what);
}

gboolean
holder_run_reconcile (const HolderBackendClass *backend,
                      GError                  **error)
{
  g_autofree char *root = NULL;
  g_autoptr(HolderStoreDir) store = NULL;

  g_return_val_if_fail (backend != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  root = holder_store_resolve_root (error);
  if (root == NULL)
    return FALSE;
  store = holder_store_dir_open (root, HOLDER_STORE_DIR_CREATE, error);
  if (store == NULL)
    return FALSE;
  /* The store's leftovers first (sockets, pidfiles, locks of dead
   * helpers), then the backend's host state. */
  if (!holder_store_dir_prune (store, FALSE, on_reclaimed, NULL, error))
    return FALSE;
  return holder_backend_reconcile (backend, root, HOLDER_RECONCILE_FLAGS_NONE,
                                   on_reclaimed, NULL, error);
}

/* Every variable the helper and its backends read: --help lists them all
 * (tests/test-helper-cli.c checks the source tree against this text). */
static const char environment_help[] =
  "  FLEETBOX_BACKEND_DIR        folders of backend modules, ':'-separated\n"
  "                              (default: the build tree's, then the installed ones)\n"
  "  FLEETBOX_HOME               storage root, when set and non-empty\n"
  "  HOME, SUDO_USER             otherwise $HOME/.fleetbox, or as root under sudo,\n"
  "                              SUDO_USER's ~/.fleetbox\n"
  "  SUDO_UID, SUDO_GID          under sudo, the user who may command this helper too,\n"
  "                              and who owns what the helper makes in the store\n"
  "  HOLDER_PLATFORM             generic: the portable POSIX paths instead of the\n"
  "                              platform's own (pidfd, SO_PEERCRED); for tests\n"
  "  FLEETBOX_PARENT_PID         bound mode: die with this client process\n"
  "  FLEETBOX_IP_WAIT_TIMEOUT    bound on a boot's wait for the guest (default 5m)\n"
  "  FLEETBOX_VERBOSE            1: the debug log on stderr, as --verbose\n"
  "  G_MESSAGES_DEBUG            GLib's: debug log of these log domains (\"all\")\n"
  "\n"
  "  cloud-hypervisor backend:\n"
  "  FLEETBOX_RUNTIME_DIR        the root-owned folder of the network records and the\n"
  "                              host-wide subnet lock (default /run/fleetbox)\n"
  "  FLEETBOX_CH_BINARY          the cloud-hypervisor binary (default: PATH, then a\n"
  "                              download of the pinned release into <root>/bin)\n"
  "  FLEETBOX_CH_DOWNLOAD_URL    a mirror of the pinned release, with its\n"
  "  FLEETBOX_CH_DOWNLOAD_SHA256   SHA-256 (both or neither)\n"
  "\n"
  "  libvirt backend:\n"
  "  FLEETBOX_LIBVIRT_URI        the libvirt URI (default qemu:///system)\n"
  "  FLEETBOX_LIBVIRT_VIRT_TYPE  kvm or qemu (default: kvm when the host offers it)\n"
  "\n"
  "  fake backend (tests; durations in Go syntax such as 250ms, 5s):\n"
  "  FLEETBOX_FAKE_RECORD        append one JSON line per backend call to this file\n"
  "  FLEETBOX_FAKE_FAIL_CREATE   fail the create of this member\n"
  "  FLEETBOX_FAKE_FAIL_START    fail the start of this member\n"
  "  FLEETBOX_FAKE_FAIL_IP       fail the IP wait of this member\n"
  "  FLEETBOX_FAKE_BOOT_DELAY    the IP wait takes this long\n"
  "  FLEETBOX_FAKE_STOP_DELAY    a stop takes this long\n"
  "  FLEETBOX_FAKE_EXIT_AFTER    a VM exits on its own this long after it is up\n"
  "  FLEETBOX_FAKE_RECLAIM       reconcile reports each \"<kind> <what>\" line of this\n"
  "                              file as reclaimed, then removes it (not in a dry run)\n";

static void
print_synopsis (FILE       *out,
                const char *prgname)
{
  fprintf (out,
           "Usage:\n"
           "  %s [--verbose] --fleetbox-runner NAME1,NAME2,...   serve these members\n"
           "  %s [--verbose] --fleetbox-reconcile                reclaim host state of dead helpers\n"
           "  %s --list-backends | --help | --version\n",
           prgname, prgname, prgname);
}

static void
print_usage (const char *prgname)
{
  g_auto(GStrv) names = holder_backend_list_names ();
  g_autofree char *backends = g_strjoinv (", ", names);

  print_synopsis (stdout, prgname);
  printf ("\n"
          "Holds a cluster of VMs for a client speaking holder protocol %s.\n"
          "\n"
          "Options:\n"
          "  --fleetbox-runner NAMES  serve these members (comma-separated; the first is\n"
          "                           the primary) until the last one stops\n"
          "  --fleetbox-reconcile     reclaim what dead helpers left, then exit\n"
          "  --list-backends          list the backends available here, their modules,\n"
          "                           and whether each loads on this host\n"
          "  -v, --verbose            the debug log on stderr (also FLEETBOX_VERBOSE=1)\n"
          "  -h, --help               show this help\n"
          "  --version                show the version\n"
          "\n"
          "Exit status: 0 after a clean shutdown, 1 when the helper could not start or\n"
          "serve, 2 on a command-line error.\n"
          "\n",
          HOLDER_PROTOCOL_VERSION);
  printf ("Environment:\n"
          "  FLEETBOX_BACKEND            backend (%s); unset: the platform's real one\n",
          backends);
  fputs (environment_help, stdout);
  printf ("\nSee fleetbox-helper(1) and docs/protocol.md.\n");
}

/* One line per backend: name, module (or "built in"), whether it loads. */
static int
list_backends (void)
{
  g_autoptr(GPtrArray) backends = holder_backend_list ();
  g_auto(GStrv) search_path = holder_backend_get_search_path ();
  g_autofree char *where = g_strjoinv (", ", search_path);
  const char *platform_default = holder_backend_get_platform_default ();
  int name_width = 4;

  for (guint i = 0; i < backends->len; i++)
    {
      HolderBackendInfo *info = g_ptr_array_index (backends, i);
      name_width = MAX (name_width, (int) strlen (info->name));
    }
  for (guint i = 0; i < backends->len; i++)
    {
      HolderBackendInfo *info = g_ptr_array_index (backends, i);

      printf ("%-*s  %s  %s%s%s\n", name_width, info->name,
              info->path != NULL ? info->path : "(built in)",
              info->loads ? "loads" : "does not load: ",
              info->loads ? "" : info->error,
              g_strcmp0 (info->name, platform_default) == 0 ? " (default)" : "");
    }
  printf ("modules are looked for in: %s\n", where);
  return 0;
}

/* The command line. Flags are matched exactly anywhere in argv, and the
 * runner's value is the argument right after it (docs/protocol.md,
 * section 1); anything else is a usage error. */
typedef struct {
  gboolean help;
  gboolean version;
  gboolean list_backends;
  gboolean verbose;
  gboolean reconcile;
} HelperArgs;

static gboolean
parse_args (int          argc,
            char       **argv,
            HelperArgs  *args,
            char       **out_problem)
{
  for (int i = 1; i < argc && argv[i] != NULL; i++)
    {
      const char *arg = argv[i];

      if (g_str_equal (arg, HOLDER_RUNNER_FLAG))
        i++; /* its value, whatever it looks like */
      else if (g_str_equal (arg, HOLDER_RECONCILE_FLAG))
        args->reconcile = TRUE;
      else if (g_str_equal (arg, "--help") || g_str_equal (arg, "-h"))
        args->help = TRUE;
      else if (g_str_equal (arg, "--version"))
        args->version = TRUE;
      else if (g_str_equal (arg, "--list-backends"))
        args->list_backends = TRUE;
      else if (g_str_equal (arg, "--verbose") || g_str_equal (arg, "-v"))
        args->verbose = TRUE;
      else
        {
          g_autoptr(GString) quoted = g_string_new (NULL);

          holder_append_go_quoted (quoted, arg);
          *out_problem = g_strdup_printf (arg[0] == '-' ? "unknown option %s"
                                                        : "unexpected argument %s",
                                          quoted->str);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
verbose_from_env (void)
{
  const char *value = g_getenv ("FLEETBOX_VERBOSE");

  return value != NULL && value[0] != '\0' && !g_str_equal (value, "0");
}

int
holder_helper_main (const char *prgname,
                    int         argc,
                    char      **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *problem = NULL;
  HelperArgs args = { 0 };
  const HolderBackendClass *backend;
  gboolean ok;

  g_return_val_if_fail (prgname != NULL, 1);

  if (!parse_args (argc, argv, &args, &problem))
    {
      fprintf (stderr, "%s: %s\n", prgname, problem);
      print_synopsis (stderr, prgname);
      fprintf (stderr, "Run %s --help for the options and the environment.\n", prgname);
      return 2;
    }

  /* The helper's log goes to stderr, which a detached helper's spawner
   * sends to <root>/runner-<primary>.log. */
  g_log_writer_default_set_use_stderr (TRUE);
  if (args.verbose || verbose_from_env ())
    g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);

  if (args.help)
    {
      print_usage (prgname);
      return 0;
    }
  if (args.version)
    {
      printf ("%s %s (holder protocol %s)\n", prgname, HOLDER_VERSION, HOLDER_PROTOCOL_VERSION);
      return 0;
    }

  if (args.list_backends)
    return list_backends ();

  if (args.reconcile)
    {
      backend = holder_backend_select_from_env (&error);
      ok = backend != NULL && holder_run_reconcile (backend, &error);
    }
  else
    {
      g_auto(GStrv) names = holder_get_runner_vm_names (argc, argv);

      if (names == NULL)
        {
          g_set_error_literal (&error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                               "no VM names provided");
          ok = FALSE;
        }
      else
        {
          backend = holder_backend_select_from_env (&error);
          ok = backend != NULL && holder_run (backend, (const char *const *) names, &error);
        }
    }

  if (!ok)
    {
      /* One line: clients show it as the reason the helper failed. */
      g_autofree char *line = g_strdelimit (g_strdup (error->message), "\r\n", ' ');
      fprintf (stderr, "%s: %s\n", prgname, line);
      return 1;
    }
  return 0;
}

void
holder_main_hook (int    argc,
                  char **argv)
{
  g_autofree char *prgname = NULL;

  if (!holder_is_runner (argc, argv) && !holder_is_reconcile (argc, argv))
    return;

  prgname = g_path_get_basename (argc > 0 && argv[0] != NULL ? argv[0] : "fleetbox-helper");
  exit (holder_helper_main (prgname, argc, argv));
}
