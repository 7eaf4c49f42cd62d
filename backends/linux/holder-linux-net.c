/* SPDX-License-Identifier: MIT
 *
 * The cluster network: the order of operations that keeps the write-ahead
 * records truthful (see holder-linux-net.h), subnet and address choice,
 * taps and close. Reconcile is in holder-linux-net-reconcile.c, the kernel
 * calls in holder-linux-net-host.c, the files in holder-linux-net-record.c
 * and holder-linux-net-dir.c.
 */
#define G_LOG_DOMAIN "holder-linux-net"

#include <errno.h>
#include <string.h>

#include "holder-backend.h"
#include "holder-ipam.h"
#include "holder-linux-net-private.h"

#define SUBNET_COUNT     256
#define NAME_ATTEMPTS    16
/* How often a subnet may turn out taken by someone outside holder (who
 * does not take our lock) before create gives up. */
#define SUBNET_ATTEMPTS  8

struct _HolderLinuxNet {
  HolderNetDir    *dir;      /* the namespace's folder of the runtime folder */
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

static HolderLinuxNetHook address_hook;
static gpointer address_hook_data;

void
holder_linux_net_set_address_hook (HolderLinuxNetHook hook,
                                   gpointer           user_data)
{
  address_hook = hook;
  address_hook_data = user_data;
}

static char *
subnet_for (guint third_octet)
{
  return g_strdup_printf ("192.168.%u.0/24", third_octet);
}

static guint32
subnet_base (guint third_octet)
{
  return (192u << 24) | (168u << 16) | (third_octet << 8);
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
  holder_net_dir_free (net->dir);
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

HolderIpam *
holder_linux_net_get_ipam (HolderLinuxNet *net)
{
  g_return_val_if_fail (net != NULL, NULL);
  return net->ipam;
}

/* ---- records of the folder ---------------------------------------------- */

void
holder_net_foreach_record (HolderNetDir           *dir,
                           HolderNetRecordVisitor  visit,
                           gpointer                user_data)
{
  g_autoptr(GPtrArray) names = holder_net_dir_list (dir);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autoptr(HolderNetRecord) record = NULL;
      g_autoptr(GError) local_error = NULL;

      if (!holder_net_name_is_record (name))
        continue;
      record = holder_net_record_load (dir, name, &local_error);
      visit (name, record, local_error, user_data);
    }
}

static void
collect_live_subnet (const char      *name,
                     HolderNetRecord *record,
                     GError          *load_error,
                     gpointer         user_data)
{
  if (record != NULL && holder_net_owner_is_alive (&record->owner))
    g_hash_table_add (user_data, g_strdup (record->subnet));
}

static void
collect_live_taps (const char      *name,
                   HolderNetRecord *record,
                   GError          *load_error,
                   gpointer         user_data)
{
  if (record == NULL || !holder_net_owner_is_alive (&record->owner))
    return;
  for (guint i = 0; i < record->taps->len; i++)
    g_hash_table_add (user_data, g_strdup (g_ptr_array_index (record->taps, i)));
}

GHashTable *
holder_linux_net_live_taps (GError **error)
{
  g_autoptr(HolderNetDir) dir = holder_net_dir_open (error);
  GHashTable *taps;

  if (dir == NULL)
    return NULL;
  taps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  holder_net_foreach_record (dir, collect_live_taps, taps);
  return taps;
}

typedef struct {
  const char *uplink;
  const char *except_bridge;
  gboolean    used;
} UplinkUse;

static void
check_uplink_use (const char      *name,
                  HolderNetRecord *record,
                  GError          *load_error,
                  gpointer         user_data)
{
  UplinkUse *use = user_data;

  /* A record that cannot be believed may be a live network's: its uplink
   * keeps forwarding, the safe side, until the record is put right. */
  if (record == NULL)
    {
      use->used = TRUE;
      return;
    }
  if (g_strcmp0 (record->uplink, use->uplink) != 0 ||
      g_strcmp0 (record->bridge, use->except_bridge) == 0)
    return;
  if (holder_net_owner_is_alive (&record->owner))
    use->used = TRUE;
}

gboolean
holder_net_uplink_release (HolderNetDir    *dir,
                           const char      *uplink,
                           const char      *except_bridge,
                           gboolean         dry_run,
                           HolderNetReport *report,
                           GError         **error)
{
  UplinkUse use = { uplink, except_bridge, FALSE };
  g_autofree char *name = holder_net_marker_name (uplink);
  g_autoptr(HolderNetMarker) marker = NULL;
  g_autofree char *boot_id = NULL;

  holder_net_foreach_record (dir, check_uplink_use, &use);
  if (use.used || !holder_net_dir_has (dir, name))
    return TRUE;
  /* Only a marker root wrote (the load checks it) names an interface
   * whose forwarding may be written. */
  marker = holder_net_marker_load (dir, name, error);
  if (marker == NULL)
    return FALSE;

  boot_id = holder_net_boot_id ();
  if (g_strcmp0 (marker->boot_id, boot_id) == 0)
    {
      /* A vanished uplink took its value with it: nothing is written for
       * an interface that does not exist. */
      g_autofree char *current = holder_net_forwarding_read (uplink, NULL);

      if (current != NULL && strcmp (current, marker->original) != 0)
        {
          if (report != NULL)
            holder_net_report_reclaimed (report, "forwarding", "%s back to %s",
                                         uplink, marker->original);
          if (!dry_run && !holder_net_forwarding_write (uplink, marker->original, error))
            return FALSE;
        }
    }
  if (report != NULL)
    holder_net_report_reclaimed (report, "marker", "%s/%s", dir->path, name);
  return dry_run || holder_net_dir_remove (dir, name, error);
}

/* ---- create ------------------------------------------------------------- */

static gboolean
subnet_is_busy (guint       third_octet,
                GArray     *busy,
                GHashTable *live_subnets,
                gboolean   *refused)
{
  HolderNetPrefix candidate = { subnet_base (third_octet), 24 };
  g_autofree char *subnet = subnet_for (third_octet);

  if (refused[third_octet] || handed_out[third_octet] ||
      g_hash_table_contains (live_subnets, subnet))
    return TRUE;
  for (guint i = 0; i < busy->len; i++)
    {
      if (holder_net_prefix_overlaps (&candidate, &g_array_index (busy, HolderNetPrefix, i)))
        return TRUE;
    }
  return FALSE;
}

static void
net_set_subnet (HolderLinuxNet *net,
                guint           third_octet)
{
  net->third_octet = third_octet;
  net->holds_subnet = TRUE;
  g_free (net->record->subnet);
  net->record->subnet = subnet_for (third_octet);
  g_free (net->gateway);
  net->gateway = g_strdup_printf ("192.168.%u.1", third_octet);
  g_clear_pointer (&net->ipam, holder_ipam_free);
  net->ipam = holder_ipam_new (subnet_base (third_octet));
}

/* Picks and holds the first free 192.168.X.0/24 that is not in @refused.
 * Call with the lock held, so that no other helper picks it meanwhile. */
static gboolean
net_choose_subnet (HolderLinuxNet *net,
                   HolderNetSock  *sock,
                   gboolean       *refused,
                   GError        **error)
{
  g_autoptr(GArray) busy = NULL;
  g_autoptr(GHashTable) live_subnets = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                              g_free, NULL);
  gboolean found = FALSE;
  guint chosen = 0;

  busy = holder_net_list_busy_prefixes (sock, 0, error);
  if (busy == NULL)
    return FALSE;
  holder_net_foreach_record (net->dir, collect_live_subnet, live_subnets);

  G_LOCK (handed_out);
  for (guint x = 0; x < SUBNET_COUNT && !found; x++)
    {
      if (subnet_is_busy (x, busy, live_subnets, refused))
        continue;
      handed_out[x] = TRUE;
      chosen = x;
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
  net_set_subnet (net, chosen);
  return TRUE;
}

/* Whether an address or route of another link overlaps our /24 now. */
static gboolean
net_subnet_taken_meanwhile (HolderLinuxNet *net,
                            HolderNetSock  *sock,
                            gboolean       *out_taken,
                            GError        **error)
{
  HolderNetPrefix ours = { subnet_base (net->third_octet), 24 };
  g_autoptr(GArray) busy = NULL;
  int ifindex = 0;

  if (!holder_net_link_ifindex (sock, net->record->bridge, &ifindex, error))
    return FALSE;
  busy = holder_net_list_busy_prefixes (sock, ifindex, error);
  if (busy == NULL)
    return FALSE;
  *out_taken = FALSE;
  for (guint i = 0; i < busy->len; i++)
    {
      if (holder_net_prefix_overlaps (&ours, &g_array_index (busy, HolderNetPrefix, i)))
        *out_taken = TRUE;
    }
  return TRUE;
}

/* Gives the bridge its address, then checks the choice against what the
 * host has now: the lock keeps other helpers out, but not other software
 * (libvirt, docker, an administrator). A /24 that appeared meanwhile makes
 * us take our address back and choose again. */
static gboolean
net_address_bridge (HolderLinuxNet *net,
                    HolderNetSock  *sock,
                    gboolean       *refused,
                    GError        **error)
{
  for (guint attempt = 0; attempt < SUBNET_ATTEMPTS; attempt++)
    {
      g_autofree char *cidr = g_strdup_printf ("%s/24", net->gateway);
      gboolean taken = FALSE;

      if (!holder_net_address_add (sock, net->record->bridge, cidr, error))
        return FALSE;
      if (address_hook != NULL)
        address_hook (net->record->bridge, net->record->subnet, address_hook_data);
      if (!net_subnet_taken_meanwhile (net, sock, &taken, error))
        return FALSE;
      if (!taken)
        return TRUE;

      g_debug ("subnet %s was taken meanwhile; choosing again", net->record->subnet);
      if (!holder_net_address_delete (sock, net->record->bridge, cidr, error))
        return FALSE;
      refused[net->third_octet] = TRUE;
      release_subnet (net);
      if (!net_choose_subnet (net, sock, refused, error) ||
          !holder_net_record_save (net->record, net->dir, error))
        return FALSE;
    }
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
               "no stable 192.168.X.0/24 subnet: %u in a row were taken by "
               "another program while this one was being set up; try again",
               SUBNET_ATTEMPTS);
  return FALSE;
}

/* A random name that is neither a link nor a record yet. */
static char *
net_pick_name (HolderLinuxNet *net,
               HolderNetSock  *sock,
               const char     *prefix,
               GError        **error)
{
  for (guint attempt = 0; attempt < NAME_ATTEMPTS; attempt++)
    {
      g_autofree char *name = holder_net_random_name (prefix);
      g_autofree char *record_name = holder_net_record_name (name);
      gboolean exists = TRUE;

      if (!holder_net_link_exists (sock, name, &exists, error))
        return NULL;
      if (!exists && !holder_net_dir_has (net->dir, record_name) &&
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
  g_autofree char *name = holder_net_marker_name (uplink);

  if (!holder_net_dir_has (net->dir, name))
    {
      g_autoptr(HolderNetMarker) marker =
        holder_net_marker_new (uplink, net->record->uplink_forwarding_original,
                               net->record->owner.boot_id);

      if (!holder_net_marker_save (marker, net->dir, error))
        return FALSE;
    }
  return holder_net_forwarding_write (uplink, "1", error);
}

/* Everything create does, in write-ahead order. Call with the lock held. */
static gboolean
net_setup (HolderLinuxNet *net,
           HolderNetSock  *sock,
           gboolean       *out_recorded,
           GError        **error)
{
  HolderNetRecord *record = net->record;
  gboolean refused[SUBNET_COUNT] = { FALSE };

  if (!net_choose_subnet (net, sock, refused, error))
    return FALSE;
  record->bridge = net_pick_name (net, sock, HOLDER_NET_BRIDGE_PREFIX, error);
  if (record->bridge == NULL || !holder_net_owner_init_self (&record->owner, error))
    return FALSE;

  record->uplink = holder_net_find_uplink (sock);
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

  if (!holder_net_bridge_create (sock, record->bridge, error) ||
      !net_address_bridge (net, sock, refused, error) ||
      !holder_net_table_install (record->bridge, record->subnet, error) ||
      !holder_net_forwarding_write (record->bridge, "1", error))
    return FALSE;
  if (record->uplink != NULL && !net_enable_uplink_forwarding (net, error))
    return FALSE;

  g_debug ("network %s: %s, gateway %s, uplink %s, records in %s", record->bridge,
           record->subnet, net->gateway,
           record->uplink != NULL ? record->uplink : "(none)", net->dir->path);
  return TRUE;
}

static gboolean net_forget_locked (HolderLinuxNet *net,
                                   GError        **error);

HolderLinuxNet *
holder_linux_net_create (GCancellable  *cancellable,
                         GError       **error)
{
  g_autoptr(HolderLinuxNet) net = NULL;
  g_autoptr(HolderNetSock) sock = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean recorded = FALSE;
  gboolean ok;
  int lock_fd;

  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!holder_net_has_net_admin ())
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_PERMISSION_DENIED,
                           "needs root (CAP_NET_ADMIN) to create bridges and taps");
      return NULL;
    }

  net = g_new0 (HolderLinuxNet, 1);
  net->record = holder_net_record_new ();
  net->dir = holder_net_dir_open (error);
  if (net->dir == NULL)
    return NULL;
  sock = holder_net_sock_open (error);
  if (sock == NULL)
    return NULL;

  lock_fd = holder_net_dir_lock (net->dir, cancellable, error);
  if (lock_fd < 0)
    return NULL;

  ok = holder_net_dir_ensure (net->dir, &local_error) &&
       net_setup (net, sock, &recorded, &local_error);
  if (!ok && recorded)
    {
      /* Undo: what exists is recorded, so reconcile can finish the job
       * if this cleanup cannot. */
      g_autoptr(GError) undo_error = NULL;

      if (!holder_net_record_take_down (net->record, sock, net->dir, FALSE, FALSE, NULL,
                                        &undo_error) ||
          !net_forget_locked (net, &undo_error))
        g_warning ("undo network %s: %s", net->record->bridge, undo_error->message);
    }
  else if (!ok)
    holder_net_dir_tidy (net->dir, FALSE);
  holder_net_dir_unlock (lock_fd);

  if (!ok)
    {
      release_subnet (net);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return g_steal_pointer (&net);
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
  g_autoptr(HolderNetSock) sock = NULL;
  g_autofree char *tap = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (net != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!net_check_open (net, error))
    return NULL;
  sock = holder_net_sock_open (error);
  if (sock == NULL)
    return NULL;
  tap = net_pick_name (net, sock, HOLDER_NET_TAP_PREFIX, error);
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

  if (!holder_net_tap_create (sock, tap, net->record->bridge, &local_error))
    {
      g_autoptr(GError) undo_error = NULL;

      /* Leaves the record only once confirmed gone. */
      if (holder_net_link_delete (sock, tap, &undo_error))
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
holder_linux_net_delete_tap_link (const char  *tap,
                                  GError     **error)
{
  g_autoptr(HolderNetSock) sock = NULL;

  g_return_val_if_fail (tap != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!holder_net_name_is_valid (tap, HOLDER_NET_TAP_PREFIX))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "remove tap %s: not a tap name", tap);
      return FALSE;
    }
  sock = holder_net_sock_open (error);
  if (sock == NULL || !holder_net_link_delete (sock, tap, error))
    {
      g_prefix_error (error, "remove tap %s: ", tap);
      return FALSE;
    }
  return TRUE;
}

gboolean
holder_linux_net_forget_tap (HolderLinuxNet *net,
                             const char     *tap,
                             GError        **error)
{
  g_return_val_if_fail (net != NULL, FALSE);
  g_return_val_if_fail (tap != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Gone already (the close took it): nothing to forget. */
  if (net->closed || !holder_net_record_has_tap (net->record, tap))
    return TRUE;
  record_drop_tap (net->record, tap);
  if (!holder_net_record_save (net->record, net->dir, error))
    {
      g_prefix_error (error, "remove tap %s: ", tap);
      return FALSE;
    }
  return TRUE;
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
  return holder_linux_net_delete_tap_link (tap, error) &&
         holder_linux_net_forget_tap (net, tap, error);
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

  g_autoptr(HolderNetSock) sock = NULL;

  if (!net_check_open (net, error) || !net_check_member_ip (net, ip, error))
    return FALSE;
  sock = holder_net_sock_open (error);
  return sock != NULL && holder_net_neigh_set (sock, net->record->bridge, ip, mac, error);
}

gboolean
holder_linux_net_remove_neighbour (HolderLinuxNet *net,
                                   const char     *ip,
                                   GError        **error)
{
  g_return_val_if_fail (net != NULL, FALSE);
  g_return_val_if_fail (ip != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autoptr(HolderNetSock) sock = NULL;

  if (net->closed)
    return TRUE;
  if (!net_check_member_ip (net, ip, error))
    return FALSE;
  sock = holder_net_sock_open (error);
  return sock != NULL && holder_net_neigh_delete (sock, net->record->bridge, ip, error);
}

/* ---- close -------------------------------------------------------------- */

/* Deletes the link @name (a tap or the bridge), reporting it if it was
 * there. */
static gboolean
take_down_link (HolderNetSock   *sock,
                const char      *name,
                gboolean         dry_run,
                HolderNetReport *report,
                GError         **error)
{
  gboolean exists = TRUE;

  if (report != NULL && !holder_net_link_exists (sock, name, &exists, error))
    return FALSE;
  if (!dry_run && !holder_net_link_delete (sock, name, error))
    return FALSE;
  if (report != NULL && exists)
    holder_net_report_reclaimed (report, "link", "%s", name);
  return TRUE;
}

/* Kills what holds @tap (an orphaned VMM), reporting each process. */
static void
take_down_tap_users (const char      *tap,
                     gboolean         dry_run,
                     HolderNetReport *report)
{
  g_autoptr(GArray) users = holder_net_tap_users (tap);
  g_autoptr(GArray) killed = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  if (users->len == 0)
    return;
  for (guint i = 0; i < users->len; i++)
    g_ptr_array_add (names, holder_net_process_describe (g_array_index (users, GPid, i)));
  if (dry_run)
    {
      for (guint i = 0; i < names->len; i++)
        holder_net_report_reclaimed (report, "process", "%s attached to %s",
                                     (const char *) g_ptr_array_index (names, i), tap);
      return;
    }
  killed = holder_net_kill_tap_users (tap, users);
  for (guint i = 0; i < users->len; i++)
    {
      GPid pid = g_array_index (users, GPid, i);

      for (guint k = 0; k < killed->len; k++)
        {
          if (g_array_index (killed, GPid, k) == pid && report != NULL)
            holder_net_report_reclaimed (report, "process", "%s attached to %s",
                                         (const char *) g_ptr_array_index (names, i), tap);
        }
    }
}

gboolean
holder_net_record_take_down (HolderNetRecord *record,
                             HolderNetSock   *sock,
                             HolderNetDir    *dir,
                             gboolean         kill_users,
                             gboolean         dry_run,
                             HolderNetReport *report,
                             GError         **error)
{
  g_autoptr(GPtrArray) taps = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) first_error = NULL;
  gboolean dropped = FALSE;
  gboolean table_exists = TRUE;

  for (guint i = 0; i < record->taps->len; i++)
    g_ptr_array_add (taps, g_strdup (g_ptr_array_index (record->taps, i)));
  for (guint i = 0; i < taps->len; i++)
    {
      const char *tap = g_ptr_array_index (taps, i);
      g_autoptr(GError) local_error = NULL;

      if (kill_users)
        take_down_tap_users (tap, dry_run, report);
      if (!take_down_link (sock, tap, dry_run, report, &local_error))
        {
          if (first_error == NULL)
            first_error = g_steal_pointer (&local_error);
          continue;
        }
      if (!dry_run)
        {
          record_drop_tap (record, tap);
          dropped = TRUE;
        }
    }
  if (dropped && first_error != NULL)
    holder_net_record_save (record, dir, NULL);

  if (first_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&first_error));
      return FALSE;
    }
  if (report != NULL && !holder_net_table_exists (record->bridge, &table_exists, error))
    return FALSE;
  if (!dry_run && !holder_net_table_delete (record->bridge, error))
    return FALSE;
  if (report != NULL && table_exists)
    holder_net_report_reclaimed (report, "table", "ip %s", record->bridge);
  return take_down_link (sock, record->bridge, dry_run, report, error);
}

/* Gives the uplink back when no one else uses it, then deletes the
 * record. Call with the lock held, once the host state is gone. */
static gboolean
net_forget_locked (HolderLinuxNet *net,
                   GError        **error)
{
  g_autofree char *name = holder_net_record_name (net->record->bridge);

  if (net->record->uplink != NULL &&
      !holder_net_uplink_release (net->dir, net->record->uplink, net->record->bridge,
                                  FALSE, NULL, error))
    return FALSE;
  if (!holder_net_dir_remove (net->dir, name, error))
    return FALSE;
  holder_net_dir_tidy (net->dir, FALSE);
  return TRUE;
}

gboolean
holder_linux_net_close (HolderLinuxNet *net,
                        GCancellable   *cancellable,
                        GError        **error)
{
  g_autoptr(HolderNetSock) sock = NULL;
  int lock_fd;
  gboolean ok;

  g_return_val_if_fail (net != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (net->closed)
    return TRUE;
  sock = holder_net_sock_open (error);
  if (sock == NULL ||
      !holder_net_record_take_down (net->record, sock, net->dir, FALSE, FALSE, NULL, error))
    {
      g_prefix_error (error, "close network %s: ", net->record->bridge);
      return FALSE;
    }

  lock_fd = holder_net_dir_lock (net->dir, cancellable, error);
  if (lock_fd < 0)
    {
      g_prefix_error (error, "close network %s: ", net->record->bridge);
      return FALSE;
    }
  ok = net_forget_locked (net, error);
  holder_net_dir_unlock (lock_fd);
  if (!ok)
    {
      g_prefix_error (error, "close network %s: ", net->record->bridge);
      return FALSE;
    }

  net->closed = TRUE;
  release_subnet (net);
  return TRUE;
}
