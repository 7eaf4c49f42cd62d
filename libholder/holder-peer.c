/* holder-peer.c: the access check on command and control connections.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-server"

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
holder_peer_is_allowed (GSocketConnection *connection,
                        gint64            *out_uid)
{
  const AllowedUids *allowed = allowed_uids ();
  g_autoptr(GCredentials) credentials = NULL;
  g_autoptr(GError) error = NULL;
  uid_t uid;

  *out_uid = -1;
  /* SO_PEERCRED on Linux: the peer's identity when it connected. */
  credentials = g_socket_get_credentials (g_socket_connection_get_socket (connection), &error);
  if (credentials == NULL)
    {
      g_debug ("peer credentials: %s", error->message);
      return FALSE;
    }
  uid = g_credentials_get_unix_user (credentials, &error);
  if (uid == (uid_t) -1)
    {
      g_debug ("peer uid: %s", error->message);
      return FALSE;
    }
  *out_uid = uid;
  return uid == 0 || uid == allowed->self ||
         (allowed->has_sudo_uid && uid == allowed->sudo_uid);
}
