/* holderctl.c: main(): the global options and the command table.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "holderctl.h"

typedef struct {
  const char           *name;
  const char           *alias;
  HolderctlCommandFunc  func;
  const char           *summary;  /* NULL: hidden */
} Command;

static const Command commands[] = {
  { "ls",         "list", holderctl_cmd_ls,       "list the members of the store: state, IP, helper, backend, uptime" },
  { "status",     NULL,   holderctl_cmd_status,   "the full status of members" },
  { "up",         NULL,   holderctl_cmd_up,       "boot a cluster described in a JSON file, detached" },
  { "stop",       NULL,   holderctl_cmd_stop,     "stop members, a cluster or everything, and wait until they are retired" },
  { "down",       NULL,   holderctl_cmd_down,     "stop a cluster (stop --cluster)" },
  { "logs",       NULL,   holderctl_cmd_logs,     "a member's serial console; -f follows it until the member stops" },
  { "prune",      NULL,   holderctl_cmd_prune,    "reclaim what dead helpers left: host state of every backend, stale sockets and pidfiles" },
  { "doctor",     NULL,   holderctl_cmd_doctor,   "check this host for each backend, with the fix for each failure" },
  { "__complete", NULL,   holderctl_cmd_complete, NULL },
};

/* The global options: before the command, or among its own. */
static char *opt_root;
static gboolean opt_json;
static gboolean opt_no_color;

static GOptionEntry global_entries[] = {
  { "root", 0, 0, G_OPTION_ARG_FILENAME, &opt_root,
    "The storage root (default: FLEETBOX_HOME, else ~/.fleetbox; SUDO_USER's under sudo)", "DIR" },
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json, "Print JSON (see holderctl(1) for the schema)", NULL },
  { "no-color", 0, 0, G_OPTION_ARG_NONE, &opt_no_color, "Never colour the output", NULL },
  { NULL },
};

int
holderctl_fail (int         code,
                const char *format,
                ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fflush (stdout);
  fprintf (stderr, "holderctl: %s\n", message);
  return code;
}

int
holderctl_usage_error (const char *command,
                       const char *format,
                       ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "holderctl%s%s: %s\nRun 'holderctl%s%s --help' for its usage.\n",
           command != NULL ? " " : "", command != NULL ? command : "", message,
           command != NULL ? " " : "", command != NULL ? command : "");
  return HOLDERCTL_EXIT_USAGE;
}

/* NO_COLOR (https://no-color.org): present and not empty turns colour off. */
static gboolean
want_color (void)
{
  const char *no_color = g_getenv ("NO_COLOR");
  const char *term = g_getenv ("TERM");

  if (opt_no_color || (no_color != NULL && no_color[0] != '\0'))
    return FALSE;
  if (term != NULL && g_str_equal (term, "dumb"))
    return FALSE;
  return isatty (STDOUT_FILENO);
}

static gboolean
context_resolve (HolderctlContext  *ctx,
                 GError           **error)
{
  g_free (ctx->root);
  ctx->root = opt_root != NULL ? g_canonicalize_filename (opt_root, NULL)
                               : holder_store_resolve_root (error);
  ctx->json = opt_json;
  ctx->tty = isatty (STDOUT_FILENO);
  ctx->color = want_color ();
  return ctx->root != NULL;
}

gboolean
holderctl_parse_options (HolderctlContext *ctx,
                         int              *argc,
                         char           ***argv,
                         const char       *synopsis,
                         const char       *summary,
                         GOptionEntry     *entries)
{
  g_autoptr(GOptionContext) context = g_option_context_new (synopsis);
  g_autoptr(GError) error = NULL;

  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  /* The global options are accepted, and shown, among the command's. */
  g_option_context_add_main_entries (context, global_entries, NULL);
  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context, "See holderctl(1) for the exit codes and the JSON schema.");

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      holderctl_usage_error ((*argv)[0], "%s", error->message);
      return FALSE;
    }
  if (!context_resolve (ctx, &error))
    {
      holderctl_fail (HOLDERCTL_EXIT_FAILURE, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

static void
print_help (FILE *out)
{
  fprintf (out,
           "Usage: holderctl [--root DIR] [--json] [--no-color] COMMAND [ARGS...]\n"
           "\n"
           "See, start, stop, log and clean up the clusters this machine holds.\n"
           "\n"
           "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (commands[i].summary != NULL)
      fprintf (out, "  %-8s %s%s%s%s\n", commands[i].name, commands[i].summary,
               commands[i].alias != NULL ? " (also: " : "",
               commands[i].alias != NULL ? commands[i].alias : "",
               commands[i].alias != NULL ? ")" : "");
  fprintf (out,
           "\n"
           "Global options (before or after the command):\n"
           "  --root DIR   the storage root (default: FLEETBOX_HOME, else ~/.fleetbox;\n"
           "               as root under sudo, SUDO_USER's)\n"
           "  --json       print JSON: one object per member (see holderctl(1))\n"
           "  --no-color   never colour the output (also: NO_COLOR)\n"
           "\n"
           "Exit status: 0 ok, 1 failure, 2 usage error, 3 a named member or cluster\n"
           "does not exist (doctor: the default backend cannot boot here).\n"
           "Run 'holderctl COMMAND --help' for a command's options; see holderctl(1).\n");
}

static const Command *
find_command (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, name) ||
        (commands[i].alias != NULL && g_str_equal (commands[i].alias, name)))
      return &commands[i];
  return NULL;
}

int
main (int    argc,
      char **argv)
{
  HolderctlContext ctx = { 0 };
  const Command *command;
  int first = 1;
  int status;

  setlocale (LC_ALL, "");
  /* GOption's help then reads "holderctl [OPTION…] ls ...". */
  g_set_prgname ("holderctl");
  /* A pipe closed by `head` ends us quietly, as it would any filter. */
  signal (SIGPIPE, SIG_DFL);

  /* Global options before the command. */
  for (; first < argc && argv[first][0] == '-'; first++)
    {
      const char *arg = argv[first];

      if (g_str_equal (arg, "--help") || g_str_equal (arg, "-h"))
        {
          print_help (stdout);
          return HOLDERCTL_EXIT_OK;
        }
      else if (g_str_equal (arg, "--version"))
        {
          printf ("holderctl %s (holder protocol %s)\n", HOLDER_VERSION, HOLDER_PROTOCOL_VERSION);
          return HOLDERCTL_EXIT_OK;
        }
      else if (g_str_equal (arg, "--json"))
        opt_json = TRUE;
      else if (g_str_equal (arg, "--no-color"))
        opt_no_color = TRUE;
      else if (g_str_equal (arg, "--root") && first + 1 < argc)
        {
          g_free (opt_root);
          opt_root = g_strdup (argv[++first]);
        }
      else if (g_str_has_prefix (arg, "--root="))
        {
          g_free (opt_root);
          opt_root = g_strdup (arg + strlen ("--root="));
        }
      else
        return holderctl_usage_error (NULL, "unknown option \"%s\"", arg);
    }
  if (first >= argc)
    {
      print_help (stderr);
      return HOLDERCTL_EXIT_USAGE;
    }

  command = find_command (argv[first]);
  if (command == NULL)
    return holderctl_usage_error (NULL, "unknown command \"%s\"", argv[first]);

  status = command->func (&ctx, argc - first, argv + first);
  g_free (ctx.root);
  g_free (opt_root);
  return status;
}
