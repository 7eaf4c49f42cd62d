/* cmd-up.c: `holderctl up -f cluster.json`: starts a detached helper for
 * the described members, creates the network, reserves each member's
 * address and boots them all at once, showing each member's progress
 * (state, IP, elapsed time) while the boots run.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include <string.h>
#include <unistd.h>

#include "holderctl.h"

/* How often the members' states are read while they boot. */
#define PROGRESS_INTERVAL_MS 200
/* Above the helper's own IP wait: create and start come first. */
#define BOOT_MARGIN_MS (60 * 1000)
#define DEFAULT_IP_WAIT_MS (5 * 60 * 1000)

typedef struct _Up Up;

typedef struct {
  Up            *up;
  HolderctlClusterMember *member;
  HolderRequest *request;
  gboolean       done;
  GError        *error;
  gint64         finished_at;
  char          *state;
  char          *ip;
} Boot;

struct _Up {
  HolderctlContext *ctx;
  const char       *root;
  GMainLoop        *loop;
  Boot             *boots;
  guint             n_boots;
  guint             pending;
  gint64            started_at;
  gboolean          drawn;
  int               name_width;
};

/* HOLDER_HELPER, else fleetbox-helper next to this program (installed
 * together, or the build tree's helper/), else the installed one. */
static char *
find_helper (const char *option)
{
  const char *env = g_getenv ("HOLDER_HELPER");
  g_autofree char *self = NULL;
  g_autofree char *dir = NULL;
  const char *candidates[3];

  if (option != NULL)
    return g_strdup (option);
  if (env != NULL && env[0] != '\0')
    return g_strdup (env);
  self = g_file_read_link ("/proc/self/exe", NULL);
  if (self != NULL)
    {
      g_autofree char *sibling = NULL;
      g_autofree char *parent = NULL;

      dir = g_path_get_dirname (self);
      sibling = g_build_filename (dir, "fleetbox-helper", NULL);
      parent = g_build_filename (dir, "..", "fleetbox-helper", NULL);
      candidates[0] = sibling;
      candidates[1] = parent;
      candidates[2] = HOLDERCTL_INSTALLED_HELPER;
      for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
        if (g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE) &&
            !g_file_test (candidates[i], G_FILE_TEST_IS_DIR))
          return g_canonicalize_filename (candidates[i], NULL);
    }
  return g_strdup (HOLDERCTL_INSTALLED_HELPER);
}

static guint
boot_timeout_ms (const char *option)
{
  const char *env = g_getenv ("FLEETBOX_IP_WAIT_TIMEOUT");
  gint64 usec = 0;

  if (option != NULL && holder_duration_parse (option, &usec) && usec > 0)
    return (guint) MIN (usec / 1000, (gint64) G_MAXUINT);
  if (env != NULL && holder_duration_parse (env, &usec) && usec > 0)
    return (guint) MIN (usec / 1000 + BOOT_MARGIN_MS, (gint64) G_MAXUINT);
  return DEFAULT_IP_WAIT_MS + BOOT_MARGIN_MS;
}

static char *
progress_line (Up   *up,
               Boot *boot)
{
  HolderctlContext *ctx = up->ctx;
  const char *state = boot->state != NULL ? boot->state : "starting";
  gint64 end = boot->done ? boot->finished_at : g_get_monotonic_time ();
  g_autofree char *painted = NULL;
  g_autofree char *padded = g_strdup_printf ("%-11s", state);

  if (boot->done && boot->error != NULL)
    {
      g_free (padded);
      padded = g_strdup_printf ("%-11s", "failed");
      painted = holderctl_paint (ctx, HOLDERCTL_COLOR_RED, padded);
    }
  else
    painted = holderctl_paint (ctx, holderctl_state_color (state), padded);
  return g_strdup_printf ("%-*s  %s  %-15s  %6.1fs", up->name_width, boot->member->spec->name,
                          painted, boot->ip != NULL && boot->ip[0] != '\0' ? boot->ip : "-",
                          (end - up->started_at) / (double) G_USEC_PER_SEC);
}

/* On a terminal, one line per member, redrawn in place; elsewhere, one
 * line per change. */
static void
show_progress (Up       *up,
               gboolean  changed_only,
               Boot     *changed)
{
  if (up->ctx->json)
    return;
  if (!up->ctx->tty)
    {
      if (changed != NULL)
        {
          g_autofree char *line = progress_line (up, changed);

          printf ("%s\n", line);
          fflush (stdout);
        }
      return;
    }
  if (changed_only && changed == NULL)
    return;
  if (up->drawn)
    printf ("\033[%uA", up->n_boots);
  for (guint i = 0; i < up->n_boots; i++)
    {
      g_autofree char *line = progress_line (up, &up->boots[i]);

      printf ("\r\033[2K%s\n", line);
    }
  up->drawn = TRUE;
  fflush (stdout);
}

/* Reads @boot's state from its helper; TRUE when it changed. */
static gboolean
boot_refresh (Up   *up,
              Boot *boot)
{
  g_autoptr(HolderStatus) status = holder_client_status (up->root, boot->member->spec->name, NULL);
  gboolean changed;

  if (status == NULL)
    return FALSE;
  changed = g_strcmp0 (boot->state, status->state) != 0 || g_strcmp0 (boot->ip, status->ip) != 0;
  g_free (boot->state);
  boot->state = g_strdup (status->state);
  g_free (boot->ip);
  boot->ip = g_strdup (status->ip);
  return changed;
}

static gboolean
on_tick (gpointer user_data)
{
  Up *up = user_data;

  for (guint i = 0; i < up->n_boots; i++)
    if (!up->boots[i].done && boot_refresh (up, &up->boots[i]))
      show_progress (up, TRUE, &up->boots[i]);
  /* The elapsed times move on. */
  show_progress (up, FALSE, NULL);
  return G_SOURCE_CONTINUE;
}

static void
on_booted (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Boot *boot = user_data;
  Up *up = boot->up;
  HolderReply *reply = holder_client_send_finish (result, &boot->error);

  holder_reply_free (reply);
  boot->done = TRUE;
  boot->finished_at = g_get_monotonic_time ();
  boot_refresh (up, boot);
  show_progress (up, FALSE, boot);
  if (--up->pending == 0)
    g_main_loop_quit (up->loop);
}

static int
print_result (Up *up)
{
  int status = HOLDERCTL_EXIT_OK;
  guint up_count = 0;

  if (up->ctx->json)
    {
      g_autoptr(JsonArray) array = json_array_new ();
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_ARRAY);

      for (guint i = 0; i < up->n_boots; i++)
        {
          g_autoptr(HolderctlMember) m = holderctl_member_probe (up->root,
                                                                 up->boots[i].member->spec->name);

          json_array_add_element (array, holderctl_member_to_json (m));
        }
      json_node_set_array (node, array);
      holderctl_print_json (node);
    }
  for (guint i = 0; i < up->n_boots; i++)
    if (up->boots[i].error != NULL)
      status = holderctl_fail (HOLDERCTL_EXIT_FAILURE, "%s", up->boots[i].error->message);
    else
      up_count++;
  if (status != HOLDERCTL_EXIT_OK && up_count > 0 && !up->ctx->json)
    fprintf (stderr, "holderctl: the members that came up keep running: holderctl ls shows "
             "them, holderctl down stops them\n");
  return status;
}

/* createnetwork and a reservation per member, on the primary. */
static gboolean
prepare (Up                *up,
         HolderctlCluster  *cluster,
         const char        *primary,
         GError           **error)
{
  g_autofree char *subnet = NULL;

  if (!holder_client_create_network (up->root, primary, &subnet, error))
    return FALSE;
  if (!up->ctx->json)
    printf ("network: %s\n", subnet[0] != '\0' ? subnet : "addresses by DHCP");
  for (guint i = 0; i < cluster->members->len; i++)
    {
      HolderctlClusterMember *member = g_ptr_array_index (cluster->members, i);
      g_autoptr(HolderReservation) reservation =
        holder_client_reserve (up->root, primary, member->spec->name, member->ip_hint, error);

      if (reservation == NULL)
        return FALSE;
      if (!up->ctx->json)
        printf ("reserved %s: %s, mac %s\n", member->spec->name,
                reservation->ip != NULL ? reservation->ip : "address by DHCP", reservation->mac);
    }
  return TRUE;
}

int
holderctl_cmd_up (HolderctlContext *ctx,
                  int               argc,
                  char            **argv)
{
  g_autofree char *file = NULL;
  g_autofree char *timeout = NULL;
  g_autofree char *helper_option = NULL;
  GOptionEntry entries[] = {
    { "file", 'f', 0, G_OPTION_ARG_FILENAME, &file, "The cluster description (JSON)", "FILE" },
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &timeout,
      "Bound on each boot (default: FLEETBOX_IP_WAIT_TIMEOUT, 5m, plus a minute)", "DURATION" },
    { "helper", 0, 0, G_OPTION_ARG_FILENAME, &helper_option,
      "The fleetbox-helper to run (default: HOLDER_HELPER, else the one installed with holderctl)",
      "PATH" },
    { NULL },
  };
  g_autoptr(HolderctlCluster) cluster = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(HolderHelper) helper = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) env = NULL;
  g_autofree char *helper_path = NULL;
  Up up = { 0 };
  guint tick;
  guint timeout_ms;
  int status;

  if (!holderctl_parse_options (ctx, &argc, &argv, "up -f FILE",
                                "Boot the cluster FILE describes through a detached helper: "
                                "create its network,\nreserve and boot every member, showing "
                                "their progress. The helper keeps\nthem running after holderctl "
                                "exits; holderctl down stops them.", entries))
    return HOLDERCTL_EXIT_USAGE;
  if (argc > 1)
    return holderctl_usage_error ("up", "unexpected argument \"%s\"", argv[1]);
  if (file == NULL)
    return holderctl_usage_error ("up", "give the cluster description with -f FILE");
  if (timeout != NULL && !holder_duration_parse (timeout, &(gint64) { 0 }))
    return holderctl_usage_error ("up", "--timeout %s is not a duration such as 10m", timeout);

  cluster = holderctl_cluster_load (file, &error);
  if (cluster == NULL)
    return holderctl_fail (HOLDERCTL_EXIT_FAILURE, "%s", error->message);

  for (guint i = 0; i < cluster->members->len; i++)
    {
      HolderctlClusterMember *member = g_ptr_array_index (cluster->members, i);
      GPid pid = 0;

      if (holder_store_member_is_served (ctx->root, member->spec->name, &pid))
        return holderctl_fail (HOLDERCTL_EXIT_FAILURE, "%s is already running (helper %d): "
                               "holderctl stop %s first", member->spec->name, (int) pid,
                               member->spec->name);
      g_ptr_array_add (names, member->spec->name);
      up.name_width = MAX (up.name_width, (int) strlen (member->spec->name));
    }
  g_ptr_array_add (names, NULL);

  env = g_get_environ ();
  env = g_environ_setenv (env, "FLEETBOX_HOME", ctx->root, TRUE);
  if (cluster->backend != NULL)
    env = g_environ_setenv (env, "FLEETBOX_BACKEND", cluster->backend, TRUE);
  helper_path = find_helper (helper_option);
  helper = holder_helper_spawn (helper_path, (const char *const *) names->pdata,
                                (const char *const *) env, HOLDER_SPAWN_FLAGS_DETACHED, &error);
  if (helper == NULL)
    return holderctl_fail (HOLDERCTL_EXIT_FAILURE, "start %s: %s", helper_path, error->message);
  if (!ctx->json)
    printf ("helper %d serves %u member(s) (backend %s, root %s)\n",
            (int) holder_helper_get_pid (helper), cluster->members->len,
            g_environ_getenv (env, "FLEETBOX_BACKEND") != NULL
            ? g_environ_getenv (env, "FLEETBOX_BACKEND") : "the platform's default",
            ctx->root);

  up.ctx = ctx;
  up.root = ctx->root;
  if (!prepare (&up, cluster, names->pdata[0], &error))
    return holderctl_fail (HOLDERCTL_EXIT_FAILURE, "%s (the helper stays up: holderctl stop "
                           "--all, or holderctl down, ends it)", error->message);

  timeout_ms = boot_timeout_ms (timeout);
  up.loop = g_main_loop_new (NULL, FALSE);
  up.n_boots = cluster->members->len;
  up.boots = g_new0 (Boot, up.n_boots);
  up.pending = up.n_boots;
  up.started_at = g_get_monotonic_time ();
  for (guint i = 0; i < up.n_boots; i++)
    {
      Boot *boot = &up.boots[i];

      boot->up = &up;
      boot->member = g_ptr_array_index (cluster->members, i);
      boot->request = holder_request_new ("boot-member");
      boot->request->spec = holder_member_spec_copy (boot->member->spec);
      holder_client_send_async (up.root, names->pdata[0], boot->request, timeout_ms, NULL,
                                on_booted, boot);
    }
  show_progress (&up, FALSE, NULL);
  tick = g_timeout_add (PROGRESS_INTERVAL_MS, on_tick, &up);
  g_main_loop_run (up.loop);
  g_source_remove (tick);

  status = print_result (&up);
  for (guint i = 0; i < up.n_boots; i++)
    {
      g_clear_error (&up.boots[i].error);
      holder_request_free (up.boots[i].request);
      g_free (up.boots[i].state);
      g_free (up.boots[i].ip);
    }
  g_free (up.boots);
  g_main_loop_unref (up.loop);
  return status;
}
