/* SPDX-License-Identifier: MIT
 *
 * The cluster network: the order of operations that keeps the write-ahead
 * records truthful (see holder-linux-net.h), subnet and address choice,
 * and reconcile. The kernel calls are in holder-linux-net-host.c, the
 * files in holder-linux-net-record.c.
 */
#define G_LOG_DOMAIN "holder-linux-net"

#include <errno.h>
#include <string.h>

#include "holder-backend.h"
#include "holder-ipam.h"
#include "holder-linux-net.h"
#include "holder-linux-net-host.h"
#include "holder-linux-net-record.h"

#define SUBNET_COUNT    256
#define NAME_ATTEMPTS   16

struct _HolderLinuxNet {
  char            *dir;      /* <root>/networks */
  HolderNetSock   *sock;
  HolderNetRecord *record;
  char            *gateway;
  guint            third_octet;
  gboolean         holds_subnet;
  gboolean         closed;
  HolderIpam      *ipam;     /* once the subnet is chosen */
};

/* The /24s this process has handed out and not closed yet: two networks of
 * one process never share a subnet, even before the first bridge has its
 * address. */
G_LOCK_DEFINE_STATIC (handed_out);
static gboolean handed_out[SUBNET_COUNT];

static char *
networks_dir (const char *root)
{
  return g_build_filename (root, "networks", NULL);
}

static char *
subnet_for (guint third_octet)
{
  return g_strdup_printf ("192.168.%u.0/24", third_octet);
}

static void
release_subnet (HolderLinuxNet *net)
{
  if (!net->holds_subnet)
    return;
  G_LOCK (handed_out);
  handed_out[net->third_octet] = FALSE;
  G_UNLOCK (handed_out);
  net->holds_subnet = FALSE;
}

void
holder_linux_net_free (HolderLinuxNet *net)
{
  if (net == NULL)
    return;
  /* A network that was never closed keeps its subnet: its bridge may
   * still be on the host. */
  g_free (net->dir);
  holder_net_sock_free (net->sock);
  holder_net_record_free (net->record);
  g_free (net->gateway);
  g_clear_pointer (&net->ipam, holder_ipam_free);
  g_free (net);
}

const char *
holder_linux_net_get_subnet (HolderLinuxNet *net)
{
  g_return_val_if_fail (net != NULL, NULL);
  return net->record->subnet;
}

const char *
holder_linux_net_get_bridge (HolderLinuxNet *net)
{
  g_return_val_if_fail (net != NULL, NULL);
  return net->record->bridge;
}

const char *
holder_linux_net_get_gateway (HolderLinuxNet *net)
{
  g_return_val_if_fail (net != NULL, NULL);
  return net->gateway;
}

/* ---- records of the folder ---------------------------------------------- */

typedef void (*RecordVisitor) (const char      *path,
                               HolderNetRecord *record,
                               GError          *load_error,
                               gpointer         user_data);

static gboolean
is_record_file (const char *base)
{
  return g_str_has_suffix (base, ".json") &&
         !g_str_has_prefix (base, HOLDER_NET_MARKER_PREFIX);
}

/* Calls @visit for every network record (a corrupt one with its error). */
static void
foreach_record (const char    *dir,
                RecordVisitor  visit,
                gpointer       user_data)
{
  g_autoptr(GDir) folder = g_dir_open (dir, 0, NULL);
  const char *base;

  if (folder == NULL)
    return;
  while ((base = g_dir_read_name (folder)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr(HolderNetRecord) record = NULL;
      g_autoptr(GError) local_error = NULL;

      if (!is_record_file (base))
        continue;
      path = g_build_filename (dir, base, NULL);
      record = holder_net_record_load (path, &local_error);
      visit (path, record, local_error, user_data);
    }
}

static void
collect_live_subnet (const char      *path,
                     HolderNetRecord *record,
                     GError          *load_error,
                     gpointer         user_data)
{
  if (record != NULL && holder_net_owner_is_alive (&record->owner))
    g_hash_table_add (user_data, g_strdup (record->subnet));
}

typedef struct {
  const char *uplink;
  const char *except_bridge;
  gboolean    used;
} UplinkUse;

static void
check_uplink_use (const char      *path,
                  HolderNetRecord *record,
                  GError          *load_error,
                  gpointer         user_data)
{
  UplinkUse *use = user_data;

  if (record == NULL || g_strcmp0 (record->uplink, use->uplink) != 0 ||
      g_strcmp0 (record->bridge, use->except_bridge) == 0)
    return;
  if (holder_net_owner_is_alive (&record->owner))
    use->used = TRUE;
}

/* Restores the uplink's original forwarding value and drops its marker,
 * unless a live network other than @except_bridge still uses it. A marker
 * from an earlier boot is only dropped: the reboot reset the value. Call
 * with the folder locked. */
static gboolean
uplink_release (const char *dir,
                const char *uplink,
                const char *except_bridge,
                GError    **error)
{
  UplinkUse use = { uplink, except_bridge, FALSE };
  g_autofree char *path = holder_net_marker_path (dir, uplink);
  g_autoptr(HolderNetMarker) marker = NULL;
  g_autofree char *boot_id = NULL;

  foreach_record (dir, check_uplink_use, &use);
  if (use.used)
    return TRUE;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  marker = holder_net_marker_load (path, error);
  if (marker == NULL)
    return FALSE;

  boot_id = holder_net_boot_id ();
  if (g_strcmp0 (marker->boot_id, boot_id) == 0)
    {
      g_autofree char *current = holder_net_forwarding_read (uplink, NULL);

      /* A vanished uplink took its value with it. */
      if (current != NULL &&
          !holder_net_forwarding_write (uplink, marker->original, error))
        return FALSE;
    }
  return holder_net_file_remove (path, error);
}

/* ---- create ------------------------------------------------------------- */

static gboolean
subnet_is_busy (guint       third_octet,
                GArray     *busy,
                GHashTable *live_subnets)
{
  HolderNetPrefix candidate = { (192u << 24) | (168u << 16) | (third_octet << 8), 24 };
  g_autofree char *subnet = subnet_for (third_octet);

  if (handed_out[third_octet] || g_hash_table_contains (live_subnets, subnet))
    return TRUE;
  for (guint i = 0; i < busy->len; i++)
    {
      if (holder_net_prefix_overlaps (&candidate, &g_array_index (busy, HolderNetPrefix, i)))
        return TRUE;
    }
  return FALSE;
}

/* Picks and holds the first free 192.168.X.0/24. Call with the folder
 * locked, so that two helpers cannot pick the same one. */
static gboolean
net_choose_subnet (HolderLinuxNet *net,
                   GError        **error)
{
  g_autoptr(GArray) busy = NULL;
  g_autoptr(GHashTable) live_subnets = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                              g_free, NULL);
  gboolean found = FALSE;

  busy = holder_net_list_busy_prefixes (net->sock, error);
  if (busy == NULL)
    return FALSE;
  foreach_record (net->dir, collect_live_subnet, live_subnets);

  G_LOCK (handed_out);
  for (guint x = 0; x < SUBNET_COUNT && !found; x++)
    {
      if (subnet_is_busy (x, busy, live_subnets))
        continue;
      handed_out[x] = TRUE;
      net->third_octet = x;
      net->holds_subnet = TRUE;
      found = TRUE;
    }
  G_UNLOCK (handed_out);

  if (!found)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "no free 192.168.X.0/24 subnet: every one overlaps "
                           "a host address or route or another cluster; "
                           "stop a cluster or free a range");
      return FALSE;
    }

  net->record->subnet = subnet_for (net->third_octet);
  net->gateway = g_strdup_printf ("192.168.%u.1", net->third_octet);
  net->ipam = holder_ipam_new ((192u << 24) | (168u << 16) | (net->third_octet << 8));
  return TRUE;
}

/* A random name that is neither a link nor a record yet. */
static char *
net_pick_name (HolderLinuxNet *net,
               const char     *prefix,
               GError        **error)
{
  for (guint attempt = 0; attempt < NAME_ATTEMPTS; attempt++)
    {
      g_autofree char *name = holder_net_random_name (prefix);
      g_autofree char *record_path = holder_net_record_path (net->dir, name);
      gboolean exists = TRUE;

      if (!holder_net_link_exists (net->sock, name, &exists, error))
        return NULL;
      if (!exists && !g_file_test (record_path, G_FILE_TEST_EXISTS) &&
          !holder_net_record_has_tap (net->record, name))
        return g_steal_pointer (&name);
    }
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
               "no unused %s<hex> interface name after %u attempts",
               prefix, NAME_ATTEMPTS);
  return NULL;
}

/* Writes the marker (first writer wins) before turning forwarding on. */
static gboolean
net_enable_uplink_forwarding (HolderLinuxNet *net,
                              GError        **error)
{
  const char *uplink = net->record->uplink;
  g_autofree char *path = holder_net_marker_path (net->dir, uplink);

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autoptr(HolderNetMarker) marker =
        holder_net_marker_new (uplink, net->record->uplink_forwarding_original,
                               net->record->owner.boot_id);

      if (!holder_net_marker_save (marker, net->dir, error))
        return FALSE;
    }
  if (!holder_net_forwarding_write (uplink, "1", error))
    return FALSE;
  return TRUE;
}

/* Everything create does after choosing the subnet, in write-ahead
 * order. Call with the folder locked. */
static gboolean
net_setup (HolderLinuxNet *net,
           gboolean       *out_recorded,
           GError        **error)
{
  HolderNetRecord *record = net->record;
  g_autofree char *gateway_cidr = NULL;

  if (!net_choose_subnet (net, error))
    return FALSE;
  record->bridge = net_pick_name (net, HOLDER_NET_BRIDGE_PREFIX, error);
  if (record->bridge == NULL || !holder_net_owner_init_self (&record->owner, error))
    return FALSE;

  record->uplink = holder_net_find_uplink (net->sock);
  if (record->uplink != NULL)
    {
      record->uplink_forwarding_original =
        holder_net_forwarding_read (record->uplink, error);
      if (record->uplink_forwarding_original == NULL)
        return FALSE;
    }

  if (!holder_net_record_save (record, net->dir, error))
    return FALSE;
  *out_recorded = TRUE;

  gateway_cidr = g_strdup_printf ("%s/24", net->gateway);
  if (!holder_net_bridge_create (net->sock, record->bridge, gateway_cidr, error) ||
      !holder_net_table_install (record->bridge, record->subnet, error) ||
      !holder_net_forwarding_write (record->bridge, "1", error))
    return FALSE;
  if (record->uplink != NULL && !net_enable_uplink_forwarding (net, error))
    return FALSE;

  g_debug ("network %s: %s, gateway %s, uplink %s", record->bridge,
           record->subnet, net->gateway,
           record->uplink != NULL ? record->uplink : "(none)");
  return TRUE;
}

static gboolean net_remove_host_state (HolderLinuxNet *net,
                                       GError        **error);
static gboolean net_forget_locked (HolderLinuxNet *net,
                                   GError        **error);

static HolderLinuxNet *
net_new (const char *root)
{
  HolderLinuxNet *net = g_new0 (HolderLinuxNet, 1);

  net->dir = networks_dir (root);
  net->record = holder_net_record_new ();
  return net;
}

HolderLinuxNet *
holder_linux_net_create (const char *root,
                         GError    **error)
{
  g_autoptr(HolderLinuxNet) net = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean recorded = FALSE;
  gboolean ok;
  int lock_fd;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!holder_net_has_net_admin ())
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                           "needs root (CAP_NET_ADMIN) to create bridges and taps");
      return NULL;
    }

  net = net_new (root);
  if (g_mkdir_with_parents (net->dir, 0700) < 0)
    {
      int saved_errno = errno;
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "create %s: %s", net->dir, g_strerror (saved_errno));
      return NULL;
    }
  net->sock = holder_net_sock_open (error);
  if (net->sock == NULL)
    return NULL;

  lock_fd = holder_net_lock (net->dir, error);
  if (lock_fd < 0)
    return NULL;

  ok = net_setup (net, &recorded, &local_error);
  if (!ok && recorded)
    {
      /* Undo: what exists is recorded, so reconcile can finish the job
       * if this cleanup cannot. */
      g_autoptr(GError) undo_error = NULL;

      if (!net_remove_host_state (net, &undo_error) ||
          !net_forget_locked (net, &undo_error))
        g_warning ("undo network %s: %s", net->record->bridge, undo_error->message);
    }
  holder_net_unlock (lock_fd);

  if (!ok)
    {
      release_subnet (net);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return g_steal_pointer (&net);
}

/* ---- reserve ------------------------------------------------------------ */

HolderIpam *
holder_linux_net_get_ipam (HolderLinuxNet *net)
{
  g_return_val_if_fail (net != NULL, NULL);
  return net->ipam;
}

/* ---- taps --------------------------------------------------------------- */

static gboolean
net_check_open (HolderLinuxNet *net,
                GError        **error)
{
  if (!net->closed)
    return TRUE;
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NETWORK_NOT_CREATED,
               "network %s is closed", net->record->bridge);
  return FALSE;
}

static void
record_drop_tap (HolderNetRecord *record,
                 const char      *tap)
{
  for (guint i = 0; i < record->taps->len; i++)
    {
      if (strcmp (g_ptr_array_index (record->taps, i), tap) == 0)
        {
          g_ptr_array_remove_index (record->taps, i);
          return;
        }
    }
}

char *
holder_linux_net_add_tap (HolderLinuxNet *net,
                          GError        **error)
{
  g_autofree char *tap = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (net != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!net_check_open (net, error))
    return NULL;
  tap = net_pick_name (net, HOLDER_NET_TAP_PREFIX, error);
  if (tap == NULL)
    return NULL;

  /* Recorded before it exists. */
  g_ptr_array_add (net->record->taps, g_strdup (tap));
  if (!holder_net_record_save (net->record, net->dir, &local_error))
    {
      record_drop_tap (net->record, tap);
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "add tap %s: ", tap);
      return NULL;
    }

  if (!holder_net_tap_create (net->sock, tap, net->record->bridge, &local_error))
    {
      g_autoptr(GError) undo_error = NULL;

      /* Leaves the record only once confirmed gone. */
      if (holder_net_link_delete (net->sock, tap, &undo_error))
        {
          record_drop_tap (net->record, tap);
          holder_net_record_save (net->record, net->dir, &undo_error);
        }
      if (undo_error != NULL)
        g_debug ("undo tap %s: %s", tap, undo_error->message);
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "add tap %s: ", tap);
      return NULL;
    }

  return g_steal_pointer (&tap);
}

gboolean
holder_linux_net_remove_tap (HolderLinuxNet *net,
                             const char     *tap,
                             GError        **error)
{
  g_return_val_if_fail (net != NULL, FALSE);
  g_return_val_if_fail (tap != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!holder_net_record_has_tap (net->record, tap))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "remove tap %s: not a tap of network %s", tap, net->record->bridge);
      return FALSE;
    }
  if (!holder_net_link_delete (net->sock, tap, error))
    {
      g_prefix_error (error, "remove tap %s: ", tap);
      return FALSE;
    }
  record_drop_tap (net->record, tap);
  if (!holder_net_record_save (net->record, net->dir, error))
    {
      g_prefix_error (error, "remove tap %s: ", tap);
      return FALSE;
    }
  return TRUE;
}

/* ---- neighbour entries ---------------------------------------------------- */

/* Only addresses of this network's subnet, never the gateway's. */
static gboolean
net_check_member_ip (HolderLinuxNet *net,
                     const char     *ip,
                     GError        **error)
{
  g_autofree char *prefix = g_strdup_printf ("192.168.%u.", net->third_octet);

  if (g_str_has_prefix (ip, prefix) && g_strcmp0 (ip, net->gateway) != 0)
    return TRUE;
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
               "%s is not a member address of %s", ip, net->record->subnet);
  return FALSE;
}

gboolean
holder_linux_net_add_neighbour (HolderLinuxNet *net,
                                const char     *ip,
                                const char     *mac,
                                GError        **error)
{
  g_return_val_if_fail (net != NULL, FALSE);
  g_return_val_if_fail (ip != NULL && mac != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!net_check_open (net, error) || !net_check_member_ip (net, ip, error))
    return FALSE;
  return holder_net_neigh_set (net->sock, net->record->bridge, ip, mac, error);
}

gboolean
holder_linux_net_remove_neighbour (HolderLinuxNet *net,
                                   const char     *ip,
                                   GError        **error)
{
  g_return_val_if_fail (net != NULL, FALSE);
  g_return_val_if_fail (ip != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (net->closed)
    return TRUE;
  if (!net_check_member_ip (net, ip, error))
    return FALSE;
  return holder_net_neigh_delete (net->sock, net->record->bridge, ip, error);
}

/* ---- close -------------------------------------------------------------- */

/* Deletes the taps, the table and the bridge of a record, each confirmed
 * gone; a tap leaves the record (on disk) as it goes. Keeps going after a
 * failure and reports the first one. */
static gboolean
record_remove_host_state (HolderNetRecord *record,
                          HolderNetSock   *sock,
                          const char      *dir,
                          gboolean         kill_users,
                          GError         **error)
{
  g_autoptr(GPtrArray) taps = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) first_error = NULL;
  gboolean dropped = FALSE;

  for (guint i = 0; i < record->taps->len; i++)
    g_ptr_array_add (taps, g_strdup (g_ptr_array_index (record->taps, i)));
  for (guint i = 0; i < taps->len; i++)
    {
      const char *tap = g_ptr_array_index (taps, i);
      g_autoptr(GError) local_error = NULL;

      if (kill_users)
        holder_net_kill_tap_users (tap);
      if (!holder_net_link_delete (sock, tap, &local_error))
        {
          if (first_error == NULL)
            first_error = g_steal_pointer (&local_error);
          continue;
        }
      record_drop_tap (record, tap);
      dropped = TRUE;
    }
  if (dropped && first_error != NULL)
    holder_net_record_save (record, dir, NULL);

  if (first_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&first_error));
      return FALSE;
    }
  return holder_net_table_delete (record->bridge, error) &&
         holder_net_link_delete (sock, record->bridge, error);
}

static gboolean
net_remove_host_state (HolderLinuxNet *net,
                       GError        **error)
{
  return record_remove_host_state (net->record, net->sock, net->dir, FALSE, error);
}

/* Gives the uplink back when no one else uses it, then deletes the
 * record. Call with the folder locked, once the host state is gone. */
static gboolean
net_forget_locked (HolderLinuxNet *net,
                   GError        **error)
{
  g_autofree char *path = holder_net_record_path (net->dir, net->record->bridge);

  if (net->record->uplink != NULL &&
      !uplink_release (net->dir, net->record->uplink, net->record->bridge, error))
    return FALSE;
  return holder_net_file_remove (path, error);
}

gboolean
holder_linux_net_close (HolderLinuxNet *net,
                        GError        **error)
{
  int lock_fd;
  gboolean ok;

  g_return_val_if_fail (net != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (net->closed)
    return TRUE;
  if (!net_remove_host_state (net, error))
    {
      g_prefix_error (error, "close network %s: ", net->record->bridge);
      return FALSE;
    }

  lock_fd = holder_net_lock (net->dir, error);
  if (lock_fd < 0)
    return FALSE;
  ok = net_forget_locked (net, error);
  holder_net_unlock (lock_fd);
  if (!ok)
    {
      g_prefix_error (error, "close network %s: ", net->record->bridge);
      return FALSE;
    }

  net->closed = TRUE;
  release_subnet (net);
  return TRUE;
}

/* ---- reconcile ---------------------------------------------------------- */

typedef struct {
  const char    *dir;
  HolderNetSock *sock;
  GPtrArray     *warnings;
  guint          reclaimed;
} Reconcile;

static void
reconcile_warn (Reconcile  *rc,
                const char *format,
                ...) G_GNUC_PRINTF (2, 3);

static void
reconcile_warn (Reconcile  *rc,
                const char *format,
                ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (rc->warnings, g_strdup_vprintf (format, args));
  va_end (args);
}

static void
reconcile_record (const char      *path,
                  HolderNetRecord *record,
                  GError          *load_error,
                  gpointer         user_data)
{
  Reconcile *rc = user_data;
  g_autoptr(GError) local_error = NULL;

  if (record == NULL)
    {
      reconcile_warn (rc, "corrupt network record skipped: %s", load_error->message);
      return;
    }
  if (holder_net_owner_is_alive (&record->owner))
    return;

  g_debug ("reclaiming network %s of dead owner %d", record->bridge,
           (int) record->owner.pid);
  if (!record_remove_host_state (record, rc->sock, rc->dir, TRUE, &local_error) ||
      !holder_net_file_remove (path, &local_error))
    {
      reconcile_warn (rc, "reclaim network %s: %s", record->bridge, local_error->message);
      return;
    }
  rc->reclaimed++;
}

/* Gives back every uplink that no live network uses any more. */
static void
reconcile_markers (Reconcile *rc)
{
  g_autoptr(GDir) folder = g_dir_open (rc->dir, 0, NULL);
  const char *base;

  while (folder != NULL && (base = g_dir_read_name (folder)) != NULL)
    {
      g_autofree char *path = NULL;
      g_autoptr(HolderNetMarker) marker = NULL;
      g_autoptr(GError) local_error = NULL;

      if (!g_str_has_prefix (base, HOLDER_NET_MARKER_PREFIX) ||
          !g_str_has_suffix (base, ".json"))
        continue;
      path = g_build_filename (rc->dir, base, NULL);
      marker = holder_net_marker_load (path, &local_error);
      if (marker == NULL)
        {
          reconcile_warn (rc, "corrupt forwarding marker skipped: %s", local_error->message);
          continue;
        }
      if (!uplink_release (rc->dir, marker->uplink, NULL, &local_error))
        reconcile_warn (rc, "restore forwarding of %s: %s", marker->uplink,
                        local_error->message);
    }
}

/* holder_file_replace's temporaries ("<file>.tmp-XXXXXX") left by a
 * writer that died mid-write. A live writer only writes a new file under
 * the lock we hold, and otherwise rewrites its own record: its
 * temporaries are kept. */
static void
reconcile_temporaries (Reconcile *rc)
{
  g_autoptr(GDir) folder = g_dir_open (rc->dir, 0, NULL);
  const char *base;

  while (folder != NULL && (base = g_dir_read_name (folder)) != NULL)
    {
      const char *suffix = strstr (base, ".tmp-");
      g_autofree char *target_base = NULL;
      g_autofree char *target = NULL;
      g_autofree char *path = NULL;
      g_autoptr(HolderNetRecord) owner_record = NULL;

      if (suffix == NULL)
        continue;
      target_base = g_strndup (base, (gsize) (suffix - base));
      target = g_build_filename (rc->dir, target_base, NULL);
      if (is_record_file (target_base))
        owner_record = holder_net_record_load (target, NULL);
      if (owner_record != NULL && holder_net_owner_is_alive (&owner_record->owner))
        continue;
      path = g_build_filename (rc->dir, base, NULL);
      holder_net_file_remove (path, NULL);
    }
}

gboolean
holder_linux_net_reconcile (const char   *root,
                            guint        *out_reclaimed,
                            char       ***out_warnings,
                            GError      **error)
{
  g_autofree char *dir = NULL;
  g_autoptr(HolderNetSock) sock = NULL;
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  Reconcile rc = { 0 };
  int lock_fd;

  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (out_reclaimed != NULL)
    *out_reclaimed = 0;
  if (out_warnings != NULL)
    *out_warnings = NULL;

  dir = networks_dir (root);
  if (g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      sock = holder_net_sock_open (error);
      if (sock == NULL)
        return FALSE;
      lock_fd = holder_net_lock (dir, error);
      if (lock_fd < 0)
        return FALSE;

      rc.dir = dir;
      rc.sock = sock;
      rc.warnings = warnings;
      foreach_record (dir, reconcile_record, &rc);
      reconcile_markers (&rc);
      reconcile_temporaries (&rc);
      holder_net_unlock (lock_fd);
    }

  if (out_reclaimed != NULL)
    *out_reclaimed = rc.reclaimed;
  if (out_warnings != NULL)
    {
      g_ptr_array_add (warnings, NULL);
      *out_warnings = (char **) g_ptr_array_steal (warnings, NULL);
    }
  return TRUE;
}
