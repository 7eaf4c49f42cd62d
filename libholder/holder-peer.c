/* holder-peer.c: the access check on command and control connections.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"
#define _GNU_SOURCE

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "holder-peer-private.h"
#include "holder-platform-private.h"

typedef struct {
  uid_t    self;
  gboolean has_sudo_uid;
  uid_t    sudo_uid;
} AllowedUids;

/* Read once: the environment and our uid do not change under us. */
static const AllowedUids *
allowed_uids (void)
{
  static AllowedUids allowed;
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      const char *sudo_uid = g_getenv ("SUDO_UID");
      guint64 value = 0;

      allowed.self = geteuid ();
      if (allowed.self == 0 && sudo_uid != NULL &&
          g_ascii_string_to_unsigned (sudo_uid, 10, 0, G_MAXUINT32 - 1, &value, NULL))
        {
          allowed.has_sudo_uid = TRUE;
          allowed.sudo_uid = (uid_t) value;
        }
      g_once_init_leave (&initialized, 1);
    }
  return &allowed;
}

gboolean
holder_peer_is_allowed (int     fd,
                        gint64 *out_uid)
{
  const AllowedUids *allowed = allowed_uids ();
  g_autoptr(GError) error = NULL;
  HolderPeerCredentials peer;
  uid_t uid;

  *out_uid = -1;
  /* The peer's identity when it connected (SO_PEERCRED, LOCAL_PEERCRED or
   * GCredentials: see holder-platform-private.h). */
  if (!holder_platform_peer_credentials (fd, &peer, &error))
    {
      g_debug ("%s", error->message);
      return FALSE;
    }
  uid = peer.uid;
  *out_uid = uid;
  return uid == 0 || uid == allowed->self ||
         (allowed->has_sudo_uid && uid == allowed->sudo_uid);
}

/* ------------------------------------------------------------ the caps */

typedef struct {
  gint64 uid;
  guint  count;
} PeerCount;

/* A handful of uids at a time (the allowed ones, and at most
 * HOLDER_PEER_MAX_CONNECTIONS_REFUSED_TOTAL refused connections): a short
 * array searched in order costs less per connection than a hash table. */
struct _HolderPeerTable {
  GArray *counts;          /* PeerCount, count > 0 */
  guint   refused_total;
};

HolderPeerTable *
holder_peer_table_new (void)
{
  HolderPeerTable *table = g_new0 (HolderPeerTable, 1);

  table->counts = g_array_new (FALSE, FALSE, sizeof (PeerCount));
  return table;
}

void
holder_peer_table_free (HolderPeerTable *table)
{
  if (table == NULL)
    return;
  g_array_unref (table->counts);
  g_free (table);
}

static PeerCount *
peer_table_find (HolderPeerTable *table,
                 gint64           uid,
                 guint           *out_index)
{
  for (guint i = 0; i < table->counts->len; i++)
    {
      PeerCount *entry = &g_array_index (table->counts, PeerCount, i);

      if (entry->uid == uid)
        {
          *out_index = i;
          return entry;
        }
    }
  return NULL;
}

gboolean
holder_peer_table_admit (HolderPeerTable *table,
                         gint64           uid,
                         gboolean         allowed)
{
  guint index;
  PeerCount *entry = peer_table_find (table, uid, &index);
  guint count = entry != NULL ? entry->count : 0;

  if (allowed ? count >= HOLDER_PEER_MAX_CONNECTIONS_ALLOWED
              : (count >= HOLDER_PEER_MAX_CONNECTIONS_REFUSED ||
                 table->refused_total >= HOLDER_PEER_MAX_CONNECTIONS_REFUSED_TOTAL))
    return FALSE;

  if (entry != NULL)
    entry->count++;
  else
    {
      PeerCount new_entry = { uid, 1 };

      g_array_append_val (table->counts, new_entry);
    }
  if (!allowed)
    table->refused_total++;
  return TRUE;
}

void
holder_peer_table_release (HolderPeerTable *table,
                           gint64           uid,
                           gboolean         allowed)
{
  guint index;
  PeerCount *entry = peer_table_find (table, uid, &index);

  g_return_if_fail (entry != NULL && entry->count > 0);
  if (--entry->count == 0)
    g_array_remove_index_fast (table->counts, index);
  if (!allowed)
    table->refused_total--;
}
