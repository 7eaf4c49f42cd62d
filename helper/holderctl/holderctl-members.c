/* holderctl-members.c: the members of a store, and what is known of each:
 * the helper's own status when a live helper answers, else what the store
 * says, and whether what is left there is live or stale.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <glib/gstdio.h>

#include "holderctl.h"

/* A member whose helper is alive but whose socket is missing is being
 * retired (stopped during the listing) or registered: look again this many
 * times, this far apart, before calling it stale. */
#define SETTLE_ATTEMPTS 3
#define SETTLE_INTERVAL_US (50 * 1000)

void
holderctl_member_free (HolderctlMember *member)
{
  if (member == NULL)
    return;
  g_free (member->name);
  g_free (member->cluster);
  g_free (member->state);
  g_free (member->ip);
  g_free (member->error);
  g_free (member->backend);
  g_free (member->stale_reason);
  g_free (member->console);
  g_free (member);
}

const char *
holderctl_liveness_to_string (HolderctlLiveness liveness)
{
  switch (liveness)
    {
    case HOLDERCTL_LIVENESS_LIVE:
      return "live";
    case HOLDERCTL_LIVENESS_STALE:
      return "stale";
    case HOLDERCTL_LIVENESS_NONE:
    default:
      return "none";
    }
}

gint
holderctl_compare_names (gconstpointer a,
                         gconstpointer b)
{
  const char *name_a = *(const char *const *) a;
  const char *name_b = *(const char *const *) b;
  g_autofree char *cluster_a = holder_store_cluster_name (name_a);
  g_autofree char *cluster_b = holder_store_cluster_name (name_b);
  g_autofree char *key_a = NULL;
  g_autofree char *key_b = NULL;
  int by_cluster = g_strcmp0 (cluster_a, cluster_b);

  if (by_cluster != 0)
    return by_cluster;
  /* The file-name collation orders digits by value: web-2 < web-10. */
  key_a = g_utf8_collate_key_for_filename (name_a, -1);
  key_b = g_utf8_collate_key_for_filename (name_b, -1);
  return strcmp (key_a, key_b);
}

gboolean
holderctl_member_exists (const char *root,
                         const char *name)
{
  g_autofree char *dir = NULL;

  if (!holder_name_validate (name, NULL))
    return FALSE;
  dir = holder_store_member_dir (root, name);
  return g_file_test (dir, G_FILE_TEST_IS_DIR);
}

gboolean
holderctl_cluster_exists (const char *root,
                          const char *cluster)
{
  g_autofree char *dir = NULL;

  if (!holder_name_validate (cluster, NULL))
    return FALSE;
  dir = g_build_filename (root, "clusters", cluster, NULL);
  return g_file_test (dir, G_FILE_TEST_IS_DIR);
}

/* A folder of clusters/<cluster>/ is a member when its name is valid and
 * belongs in that cluster; anything else there is not the helper's. */
static void
collect_cluster (const char *root,
                 const char *cluster,
                 GPtrArray  *names)
{
  g_autofree char *dir_path = g_build_filename (root, "clusters", cluster, NULL);
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  const char *entry;

  while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, entry, NULL);
      g_autofree char *its_cluster = NULL;
      struct stat st;

      if (!holder_name_validate (entry, NULL) || lstat (path, &st) != 0 || !S_ISDIR (st.st_mode))
        continue;
      its_cluster = holder_store_cluster_name (entry);
      if (g_str_equal (its_cluster, cluster))
        g_ptr_array_add (names, g_strdup (entry));
    }
}

GPtrArray *
holderctl_member_names (const char *root,
                        const char *cluster)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *clusters_path = g_build_filename (root, "clusters", NULL);
  g_autoptr(GDir) dir = NULL;
  const char *entry;

  if (cluster != NULL)
    {
      if (holder_name_validate (cluster, NULL))
        collect_cluster (root, cluster, names);
    }
  else
    {
      dir = g_dir_open (clusters_path, 0, NULL);
      while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL)
        if (holder_name_validate (entry, NULL))
          collect_cluster (root, entry, names);
    }
  g_ptr_array_sort (names, holderctl_compare_names);
  return names;
}

static gboolean
path_exists (const char *path)
{
  struct stat st;

  return lstat (path, &st) == 0;
}

HolderctlMember *
holderctl_member_probe (const char *root,
                        const char *name)
{
  HolderctlMember *member = g_new0 (HolderctlMember, 1);
  g_autofree char *socket_path = holder_store_socket_path (root, name);
  g_autofree char *pidfile = holder_store_pidfile_path (root, name);
  g_autoptr(HolderStatus) status = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) pid_error = NULL;
  gboolean answered = FALSE;
  gboolean served = FALSE;
  GPid served_pid = 0;
  GPid file_pid = 0;
  gboolean have_pidfile;
  struct stat st;

  member->name = g_strdup (name);
  member->cluster = holder_store_cluster_name (name);
  member->backend = holder_store_read_member_backend (root, name);
  member->console = holder_store_member_console_path (root, name);

  for (guint attempt = 0; attempt < SETTLE_ATTEMPTS; attempt++)
    {
      served = holder_store_member_is_served (root, name, &served_pid);
      if (!served)
        break;
      if (path_exists (socket_path))
        {
          g_clear_pointer (&status, holder_status_free);
          g_clear_error (&error);
          status = holder_client_status (root, name, &error);
          /* The store's own answer has no pid: only a helper sets one. */
          answered = status != NULL && status->pid != 0;
          break;
        }
      g_usleep (SETTLE_INTERVAL_US);
    }

  have_pidfile = holder_store_read_pidfile (root, name, &file_pid, &pid_error);
  if (g_stat (pidfile, &st) == 0)
    member->registered = st.st_mtime;

  if (answered)
    {
      /* A member its helper reports stopped is being retired: it is gone
       * as far as anyone can use it, not stale. */
      member->liveness = g_strcmp0 (status->state, "stopped") == 0 ? HOLDERCTL_LIVENESS_NONE
                                                                  : HOLDERCTL_LIVENESS_LIVE;
      member->state = g_strdup (status->state);
      member->running = status->running;
      member->ip = g_strdup (status->ip);
      member->error = g_strdup (status->error);
      member->pid = (GPid) status->pid;
      return member;
    }

  member->ip = g_strdup ("");
  member->pid = have_pidfile ? file_pid : 0;
  served = holder_store_member_is_served (root, name, &served_pid);
  if (served && g_error_matches (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED))
    {
      /* Alive and answering, but not to us: another user's helper. */
      member->state = g_strdup ("unknown");
      member->liveness = HOLDERCTL_LIVENESS_LIVE;
      member->pid = served_pid;
      member->error = g_strdup_printf ("%s (run holderctl as that helper's user, or with sudo)",
                                       error->message);
      return member;
    }
  if (served)
    {
      /* Alive, but it does not answer for this member. */
      member->state = g_strdup ("unknown");
      member->liveness = HOLDERCTL_LIVENESS_STALE;
      member->pid = served_pid;
      member->stale_reason = g_strdup_printf ("helper %d does not answer on %s%s%s",
                                              (int) served_pid, socket_path,
                                              error != NULL ? ": " : "",
                                              error != NULL ? error->message : "");
      return member;
    }

  /* No live helper: the member is stopped, cleanly or not. */
  member->state = g_strdup ("stopped");
  member->registered = 0;
  if (have_pidfile)
    {
      member->liveness = HOLDERCTL_LIVENESS_STALE;
      member->stale_reason = g_strdup_printf ("its helper %d is gone; holderctl prune removes "
                                              "what it left", (int) file_pid);
    }
  else if (!g_error_matches (pid_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      member->liveness = HOLDERCTL_LIVENESS_STALE;
      member->stale_reason = g_strdup_printf ("%s", pid_error->message);
    }
  else if (path_exists (socket_path))
    {
      member->liveness = HOLDERCTL_LIVENESS_STALE;
      member->stale_reason = g_strdup_printf ("no helper serves %s; holderctl prune removes it",
                                              socket_path);
    }
  else
    member->liveness = HOLDERCTL_LIVENESS_NONE;
  return member;
}

static void
add_string_or_null (JsonBuilder *builder,
                    const char  *key,
                    const char  *value)
{
  json_builder_set_member_name (builder, key);
  if (value != NULL)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

JsonNode *
holderctl_member_to_json (const HolderctlMember *member)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, member->name);
  json_builder_set_member_name (builder, "cluster");
  json_builder_add_string_value (builder, member->cluster);
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, member->state);
  json_builder_set_member_name (builder, "running");
  json_builder_add_boolean_value (builder, member->running);
  json_builder_set_member_name (builder, "ip");
  json_builder_add_string_value (builder, member->ip);
  add_string_or_null (builder, "error", member->error);
  json_builder_set_member_name (builder, "pid");
  if (member->pid > 0)
    json_builder_add_int_value (builder, member->pid);
  else
    json_builder_add_null_value (builder);
  add_string_or_null (builder, "backend", member->backend);
  json_builder_set_member_name (builder, "uptime_seconds");
  if (member->liveness == HOLDERCTL_LIVENESS_LIVE && member->registered > 0)
    json_builder_add_int_value (builder, MAX (0, (gint64) time (NULL) - member->registered));
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "liveness");
  json_builder_add_string_value (builder, holderctl_liveness_to_string (member->liveness));
  add_string_or_null (builder, "stale_reason", member->stale_reason);
  json_builder_set_member_name (builder, "console_log");
  json_builder_add_string_value (builder, member->console);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}
