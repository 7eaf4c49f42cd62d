/* cmd-stop.c: `holderctl stop` and `holderctl down`: a graceful stop of
 * each member through the protocol (holder_client_stop()), all at once,
 * then a wait until each is retired; each outcome is printed as it comes.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include "holderctl.h"

#define DEFAULT_TIMEOUT "30s"
/* After the pidfile went, how often to look for the member's lock. */
#define RETIRE_POLL_US (10 * 1000)

typedef enum {
  OUTCOME_STOPPED,
  OUTCOME_NOT_RUNNING,
  OUTCOME_FAILED,
} Outcome;

static const char *const outcome_names[] = { "stopped", "not-running", "failed" };

typedef struct {
  const char   *root;
  char         *name;
  guint         timeout_ms;
  GAsyncQueue  *done;
  Outcome       outcome;
  char         *error;
  gint64        elapsed_us;
} StopJob;

static void
stop_job_free (StopJob *job)
{
  g_free (job->name);
  g_free (job->error);
  g_async_queue_unref (job->done);
  g_free (job);
}

/* Blocking: holder_client_stop() sends stop, then waits for the pidfile to
 * go; retired means the helper no longer serves the member at all. */
/* A helper that refuses us (another user's) would let the wait for the
 * member's retirement run out for nothing: ask it something first. */
static gboolean
may_command (StopJob *job)
{
  g_autoptr(HolderStatus) status = NULL;
  g_autoptr(GError) error = NULL;

  status = holder_client_status (job->root, job->name, &error);
  if (status != NULL || !g_error_matches (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED))
    return TRUE;
  job->error = g_strdup_printf ("%s (run holderctl as that helper's user, or with sudo)",
                                error->message);
  return FALSE;
}

static gpointer
stop_thread (gpointer data)
{
  StopJob *job = data;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + (gint64) job->timeout_ms * 1000;

  if (!holder_store_member_is_served (job->root, job->name, NULL))
    job->outcome = OUTCOME_NOT_RUNNING;
  else if (!may_command (job))
    job->outcome = OUTCOME_FAILED;
  else if (!holder_client_stop (job->root, job->name, job->timeout_ms, &error))
    {
      job->outcome = OUTCOME_FAILED;
      job->error = g_strdup (error->message);
    }
  else
    {
      job->outcome = OUTCOME_STOPPED;
      while (holder_store_member_is_served (job->root, job->name, NULL))
        {
          if (g_get_monotonic_time () >= deadline)
            {
              job->outcome = OUTCOME_FAILED;
              job->error = g_strdup_printf ("still served after %u ms", job->timeout_ms);
              break;
            }
          g_usleep (RETIRE_POLL_US);
        }
    }
  job->elapsed_us = g_get_monotonic_time () - start;
  g_async_queue_push (job->done, job);
  return NULL;
}

static void
print_outcome (HolderctlContext *ctx,
               const StopJob    *job)
{
  g_autofree char *name = holderctl_paint (ctx, HOLDERCTL_COLOR_BOLD, job->name);
  g_autofree char *what = NULL;

  switch (job->outcome)
    {
    case OUTCOME_STOPPED:
      what = holderctl_paint (ctx, HOLDERCTL_COLOR_GREEN, "stopped");
      printf ("%s: %s in %.1fs\n", name, what, job->elapsed_us / (double) G_USEC_PER_SEC);
      break;
    case OUTCOME_NOT_RUNNING:
      what = holderctl_paint (ctx, HOLDERCTL_COLOR_DIM, "not running");
      printf ("%s: %s\n", name, what);
      break;
    case OUTCOME_FAILED:
    default:
      what = holderctl_paint (ctx, HOLDERCTL_COLOR_RED, "failed");
      printf ("%s: %s: %s\n", name, what, job->error);
      break;
    }
  fflush (stdout);
}

static JsonNode *
outcome_to_json (const StopJob *job)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *cluster = holder_store_cluster_name (job->name);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, job->name);
  json_builder_set_member_name (builder, "cluster");
  json_builder_add_string_value (builder, cluster);
  json_builder_set_member_name (builder, "outcome");
  json_builder_add_string_value (builder, outcome_names[job->outcome]);
  json_builder_set_member_name (builder, "error");
  if (job->error != NULL)
    json_builder_add_string_value (builder, job->error);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "seconds");
  json_builder_add_double_value (builder, job->elapsed_us / (double) G_USEC_PER_SEC);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

int
holderctl_stop_members (HolderctlContext *ctx,
                        GPtrArray        *names,
                        guint             timeout_ms)
{
  g_autoptr(GAsyncQueue) done = g_async_queue_new ();
  g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) stop_job_free);
  g_autoptr(JsonArray) array = json_array_new ();
  gboolean failed = FALSE;

  for (guint i = 0; i < names->len; i++)
    {
      StopJob *job = g_new0 (StopJob, 1);

      job->root = ctx->root;
      job->name = g_strdup (g_ptr_array_index (names, i));
      job->timeout_ms = timeout_ms;
      job->done = g_async_queue_ref (done);
      g_ptr_array_add (jobs, job);
      /* One thread each: every stop waits on its own helper. */
      g_thread_unref (g_thread_new ("holderctl-stop", stop_thread, job));
    }

  for (guint i = 0; i < jobs->len; i++)
    {
      StopJob *job = g_async_queue_pop (done);

      failed |= job->outcome == OUTCOME_FAILED;
      if (ctx->json)
        json_array_add_element (array, outcome_to_json (job));
      else
        print_outcome (ctx, job);
    }

  if (ctx->json)
    {
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_ARRAY);

      json_node_set_array (node, array);
      holderctl_print_json (node);
    }
  return failed ? HOLDERCTL_EXIT_FAILURE : HOLDERCTL_EXIT_OK;
}

static gboolean
parse_timeout (const char *text,
               guint      *out_ms)
{
  gint64 usec = 0;

  if (!holder_duration_parse (text, &usec) || usec <= 0)
    return FALSE;
  *out_ms = (guint) CLAMP (usec / 1000, 1, (gint64) G_MAXUINT);
  return TRUE;
}

/* The served members of @cluster (NULL: of the whole store). */
static GPtrArray *
served_members (const char *root,
                const char *cluster)
{
  g_autoptr(GPtrArray) all = holderctl_member_names (root, cluster);
  GPtrArray *served = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < all->len; i++)
    if (holder_store_member_is_served (root, g_ptr_array_index (all, i), NULL))
      g_ptr_array_add (served, g_strdup (g_ptr_array_index (all, i)));
  return served;
}

static int
stop_cluster (HolderctlContext *ctx,
              const char       *cluster,
              guint             timeout_ms)
{
  g_autoptr(GPtrArray) names = NULL;

  if (!holderctl_cluster_exists (ctx->root, cluster))
    return holderctl_fail (HOLDERCTL_EXIT_ABSENT, "no cluster \"%s\" in %s (holderctl ls "
                           "lists them)", cluster, ctx->root);
  names = served_members (ctx->root, cluster);
  if (names->len == 0 && !ctx->json)
    {
      printf ("Nothing to stop: no member of cluster %s is running.\n", cluster);
      return HOLDERCTL_EXIT_OK;
    }
  return holderctl_stop_members (ctx, names, timeout_ms);
}

int
holderctl_cmd_stop (HolderctlContext *ctx,
                    int               argc,
                    char            **argv)
{
  g_autofree char *cluster = NULL;
  g_autofree char *timeout = NULL;
  gboolean all = FALSE;
  GOptionEntry entries[] = {
    { "cluster", 'c', 0, G_OPTION_ARG_STRING, &cluster, "Stop every running member of this cluster", "CLUSTER" },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Stop every running member of the store", NULL },
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &timeout,
      "How long to wait for each member to be retired (Go syntax: 30s, 2m; default 30s)", "DURATION" },
    { NULL },
  };
  g_autoptr(GPtrArray) names = NULL;
  guint timeout_ms = 0;
  int absent = HOLDERCTL_EXIT_OK;
  int status;

  if (!holderctl_parse_options (ctx, &argc, &argv,
                                "stop MEMBER... | --cluster CLUSTER | --all",
                                "Stop members gracefully through their helper and wait until "
                                "each is retired.\nExits 1 if any stop failed, 3 if a named "
                                "member does not exist.", entries))
    return HOLDERCTL_EXIT_USAGE;
  if (!parse_timeout (timeout != NULL ? timeout : DEFAULT_TIMEOUT, &timeout_ms))
    return holderctl_usage_error ("stop", "--timeout %s is not a positive duration such as 30s",
                                  timeout);
  if ((argc > 1) + (cluster != NULL) + all != 1)
    return holderctl_usage_error ("stop", "name members, or give --cluster or --all (one of them)");

  if (cluster != NULL)
    return stop_cluster (ctx, cluster, timeout_ms);
  if (all)
    {
      names = served_members (ctx->root, NULL);
      if (names->len == 0 && !ctx->json)
        {
          printf ("Nothing to stop: no member is running.\n");
          return HOLDERCTL_EXIT_OK;
        }
      return holderctl_stop_members (ctx, names, timeout_ms);
    }

  names = g_ptr_array_new_with_free_func (g_free);
  for (int i = 1; i < argc; i++)
    {
      if (!holderctl_member_exists (ctx->root, argv[i]))
        absent = holderctl_fail (HOLDERCTL_EXIT_ABSENT, "no member \"%s\" in %s (holderctl ls "
                                 "lists them)", argv[i], ctx->root);
      else if (!g_ptr_array_find_with_equal_func (names, argv[i], g_str_equal, NULL))
        g_ptr_array_add (names, g_strdup (argv[i]));
    }
  status = holderctl_stop_members (ctx, names, timeout_ms);
  return status != HOLDERCTL_EXIT_OK ? status : absent;
}

int
holderctl_cmd_down (HolderctlContext *ctx,
                    int               argc,
                    char            **argv)
{
  g_autofree char *timeout = NULL;
  GOptionEntry entries[] = {
    { "timeout", 't', 0, G_OPTION_ARG_STRING, &timeout,
      "How long to wait for each member to be retired (default 30s)", "DURATION" },
    { NULL },
  };
  guint timeout_ms = 0;

  if (!holderctl_parse_options (ctx, &argc, &argv, "down CLUSTER",
                                "Stop every running member of a cluster: holderctl stop "
                                "--cluster CLUSTER.", entries))
    return HOLDERCTL_EXIT_USAGE;
  if (!parse_timeout (timeout != NULL ? timeout : DEFAULT_TIMEOUT, &timeout_ms))
    return holderctl_usage_error ("down", "--timeout %s is not a positive duration such as 30s",
                                  timeout);
  if (argc != 2)
    return holderctl_usage_error ("down", "name one cluster");
  return stop_cluster (ctx, argv[1], timeout_ms);
}
