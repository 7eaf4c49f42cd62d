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
  uid_t uid;

  *out_uid = -1;
#if defined(SO_PEERCRED)
  {
    /* Linux: the peer's identity when it connected, in one call. */
    struct ucred credentials;
    socklen_t len = sizeof credentials;

    if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &credentials, &len) != 0)
      {
        g_debug ("SO_PEERCRED: %s", g_strerror (errno));
        return FALSE;
      }
    uid = credentials.uid;
  }
#else
  {
    gid_t gid;

    if (getpeereid (fd, &uid, &gid) != 0)
      {
        g_debug ("getpeereid: %s", g_strerror (errno));
        return FALSE;
      }
  }
#endif
  *out_uid = uid;
  return uid == 0 || uid == allowed->self ||
         (allowed->has_sudo_uid && uid == allowed->sudo_uid);
}
