/* SPDX-License-Identifier: MIT
 *
 * Reconcile: what dead helpers left of their networks, found through the
 * records root wrote in the runtime folder, and only there. See
 * holder-linux-net.h and docs/linux-network.md, "Reconcile".
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-linux-net"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holder-backend.h"
#include "holder-linux-net-private.h"

/* ---- records a helper of an older version left in the store --------------- */

/* Before the runtime folder, records and markers lived in
 * <root>/networks/, which the user owns: anything there may be forged, so
 * it is never read, only pointed out. A symbolic link is not followed. */
static void
warn_store_records (const char      *storage_root,
                    HolderNetReport *report)
{
  g_autofree char *path = g_build_filename (storage_root, "networks", NULL);
  struct stat st;
  DIR *listing;
  struct dirent *entry;
  guint files = 0;
  int root_fd;
  int fd;

  root_fd = open (storage_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return;
  if (fstatat (root_fd, "networks", &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      close (root_fd);
      return;
    }
  if (!S_ISDIR (st.st_mode))
    {
      close (root_fd);
      holder_net_report_warn (report, "ignoring network records in a user-writable store: "
                              "%s is not a folder (%s); it is neither read nor followed",
                              path, S_ISLNK (st.st_mode) ? "a symbolic link" : "a file");
      return;
    }
  fd = openat (root_fd, "networks", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  close (root_fd);
  if (fd < 0 || (listing = fdopendir (fd)) == NULL)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  while ((entry = readdir (listing)) != NULL)
    files += g_str_has_suffix (entry->d_name, ".json") ? 1 : 0;
  closedir (listing);
  if (files > 0)
    holder_net_report_warn (report, "ignoring network records in a user-writable store: "
                            "%s holds %u record(s) or marker(s), which are never read; "
                            "network state lives in the runtime folder now (remove "
                            "that folder once no older helper runs)", path, files);
}

/* ---- reclaiming ------------------------------------------------------------ */

typedef struct {
  HolderNetDir    *dir;
  HolderNetSock   *sock;
  gboolean         dry_run;
  HolderNetReport *report;
} Reconcile;

static void
reconcile_record (const char      *name,
                  HolderNetRecord *record,
                  GError          *load_error,
                  gpointer         user_data)
{
  Reconcile *rc = user_data;
  g_autoptr(GError) local_error = NULL;

  if (record == NULL)
    {
      if (g_error_matches (load_error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED))
        holder_net_report_warn (rc->report, "untrusted network record ignored: %s",
                                load_error->message);
      else
        holder_net_report_warn (rc->report, "corrupt network record skipped: %s",
                                load_error->message);
      return;
    }
  if (holder_net_owner_is_alive (&record->owner))
    return;

  g_debug ("%s network %s of dead owner %d", rc->dry_run ? "would reclaim" : "reclaiming",
           record->bridge, (int) record->owner.pid);
  if (!holder_net_record_take_down (record, rc->sock, rc->dir, TRUE, rc->dry_run,
                                    rc->report, &local_error) ||
      (!rc->dry_run && !holder_net_dir_remove (rc->dir, name, &local_error)))
    {
      holder_net_report_warn (rc->report, "reclaim network %s: %s", record->bridge,
                              local_error->message);
      return;
    }
  holder_net_report_reclaimed (rc->report, "record", "%s/%s", rc->dir->path, name);
  rc->report->networks++;
}

/* Gives back every uplink that no live network uses any more. In a dry
 * run the records of dead owners are still there, but they count as
 * unused all the same. */
static void
reconcile_markers (Reconcile *rc,
                   GPtrArray *names)
{
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autoptr(HolderNetMarker) marker = NULL;
      g_autoptr(GError) local_error = NULL;

      if (!holder_net_name_is_marker (name))
        continue;
      marker = holder_net_marker_load (rc->dir, name, &local_error);
      if (marker == NULL)
        {
          if (g_error_matches (local_error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED))
            holder_net_report_warn (rc->report, "untrusted forwarding marker ignored: %s",
                                    local_error->message);
          else
            holder_net_report_warn (rc->report, "corrupt forwarding marker skipped: %s",
                                    local_error->message);
          continue;
        }
      if (!holder_net_uplink_release (rc->dir, marker->uplink, NULL, rc->dry_run,
                                      rc->report, &local_error))
        holder_net_report_warn (rc->report, "restore forwarding of %s: %s", marker->uplink,
                                local_error->message);
    }
}

/* holder_file_replace_at's temporaries ("<file>.tmp-XXXXXX") left by a
 * writer that died mid-write. A live writer only writes a new file under
 * the lock we hold, and otherwise rewrites its own record: its
 * temporaries are kept. Anything else in the folder is pointed out. */
static void
reconcile_other_files (Reconcile *rc,
                       GPtrArray *names)
{
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      const char *suffix = strstr (name, ".tmp-");
      g_autofree char *target = NULL;
      g_autoptr(HolderNetRecord) owner_record = NULL;
      g_autoptr(GError) local_error = NULL;

      if (holder_net_name_is_record (name) || holder_net_name_is_marker (name))
        continue;
      if (suffix == NULL)
        {
          holder_net_report_warn (rc->report, "unknown file ignored: %s/%s", rc->dir->path,
                                  name);
          continue;
        }
      target = g_strndup (name, (gsize) (suffix - name));
      if (holder_net_name_is_record (target))
        owner_record = holder_net_record_load (rc->dir, target, NULL);
      if (owner_record != NULL && holder_net_owner_is_alive (&owner_record->owner))
        continue;
      if (!rc->dry_run && !holder_net_dir_remove (rc->dir, name, &local_error))
        {
          holder_net_report_warn (rc->report, "%s", local_error->message);
          continue;
        }
      holder_net_report_reclaimed (rc->report, "file", "%s/%s", rc->dir->path, name);
    }
}

gboolean
holder_linux_net_reconcile (const char      *storage_root,
                            gboolean         dry_run,
                            GCancellable    *cancellable,
                            HolderNetReport *report,
                            GError         **error)
{
  g_autoptr(HolderNetDir) dir = NULL;
  g_autoptr(HolderNetSock) sock = NULL;
  g_autoptr(GPtrArray) names = NULL;
  Reconcile rc = { 0 };
  int lock_fd;

  g_return_val_if_fail (report != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (storage_root != NULL)
    warn_store_records (storage_root, report);

  /* A dry run makes nothing, not even the runtime folder: without it
   * there is nothing to reclaim. */
  if (dry_run)
    {
      g_autofree char *runtime = holder_net_runtime_path ();
      struct stat st;

      if (lstat (runtime, &st) < 0 && errno == ENOENT)
        return TRUE;
    }
  dir = holder_net_dir_open (error);
  if (dir == NULL)
    return FALSE;
  sock = holder_net_sock_open (error);
  if (sock == NULL)
    return FALSE;
  lock_fd = holder_net_dir_lock (dir, cancellable, error);
  if (lock_fd < 0)
    return FALSE;

  rc.dir = dir;
  rc.sock = sock;
  rc.dry_run = dry_run;
  rc.report = report;
  /* Another helper of this namespace may have made the folder since it
   * was opened, or tidied it away. */
  if (!holder_net_dir_refresh (dir, error))
    {
      holder_net_dir_unlock (lock_fd);
      return FALSE;
    }
  names = holder_net_dir_list (dir);
  holder_net_foreach_record (dir, reconcile_record, &rc);
  reconcile_markers (&rc, names);
  reconcile_other_files (&rc, names);
  if (!dry_run)
    holder_net_dir_tidy (dir, TRUE);
  holder_net_dir_unlock (lock_fd);
  return TRUE;
}
