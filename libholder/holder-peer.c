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
