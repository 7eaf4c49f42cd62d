/* SPDX-License-Identifier: MIT
 *
 * Address reservation in one /24 (see holder-ipam.h).
 */
#define G_LOG_DOMAIN "holder-ipam"

#include <arpa/inet.h>

#include "holder-backend.h"
#include "holder-ipam.h"

#define FIRST_HOST 2
#define LAST_HOST  254

struct _HolderIpam {
  guint32     base;        /* host byte order, last byte 0 */
  GHashTable *by_name;     /* name -> "A.B.C.D" */
  gboolean    taken[256];  /* by host part */
};

HolderIpam *
holder_ipam_new (guint32 subnet_base)
{
  HolderIpam *ipam = g_new0 (HolderIpam, 1);

  ipam->base = subnet_base & 0xffffff00u;
  ipam->by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return ipam;
}

void
holder_ipam_free (HolderIpam *ipam)
{
  if (ipam == NULL)
    return;
  g_hash_table_unref (ipam->by_name);
  g_free (ipam);
}

/* The host part (2..254) of @ip_hint when it is a usable address of the
 * subnet, else 0. */
static guint
hint_host_part (HolderIpam *ipam,
                const char *ip_hint)
{
  struct in_addr addr;
  guint32 host;

  if (ip_hint == NULL || inet_pton (AF_INET, ip_hint, &addr) != 1)
    return 0;
  host = ntohl (addr.s_addr);
  if ((host & 0xffffff00u) != ipam->base)
    return 0;
  host &= 0xff;
  return (host >= FIRST_HOST && host <= LAST_HOST) ? host : 0;
}

char *
holder_ipam_reserve (HolderIpam  *ipam,
                     const char  *name,
                     const char  *ip_hint,
                     GError     **error)
{
  const char *existing;
  guint host;
  char *ip;

  g_return_val_if_fail (ipam != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  existing = g_hash_table_lookup (ipam->by_name, name);
  if (existing != NULL)
    return g_strdup (existing);

  host = hint_host_part (ipam, ip_hint);
  if (host == 0 || ipam->taken[host])
    {
      for (host = FIRST_HOST; host <= LAST_HOST && ipam->taken[host]; host++)
        ;
      if (host > LAST_HOST)
        {
          g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "no free IP in subnet");
          return NULL;
        }
    }

  ipam->taken[host] = TRUE;
  ip = g_strdup_printf ("%u.%u.%u.%u", ipam->base >> 24, (ipam->base >> 16) & 0xff,
                        (ipam->base >> 8) & 0xff, host);
  g_hash_table_insert (ipam->by_name, g_strdup (name), g_strdup (ip));
  return ip;
}

const char *
holder_ipam_lookup (HolderIpam *ipam,
                    const char *name)
{
  g_return_val_if_fail (ipam != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  return g_hash_table_lookup (ipam->by_name, name);
}

HolderReservation *
holder_ipam_reserve_member (HolderIpam  *ipam,
                            const char  *name,
                            const char  *ip_hint,
                            GError     **error)
{
  g_autofree char *ip = NULL;
  g_autofree char *mac = NULL;

  g_return_val_if_fail (name != NULL, NULL);

  if (ipam == NULL)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_NETWORK_NOT_CREATED,
                           "network not created");
      return NULL;
    }
  ip = holder_ipam_reserve (ipam, name, ip_hint, error);
  if (ip == NULL)
    return NULL;
  mac = holder_mac_for_name (name);
  return holder_reservation_new (ip, mac);
}

void
holder_ipam_reserve_async (HolderIpam             *ipam,
                           const char             *name,
                           const char             *ip_hint,
                           HolderIpamReservedFunc  reserved,
                           gpointer                reserved_data,
                           GCancellable           *cancellable,
                           GAsyncReadyCallback     callback,
                           gpointer                user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  HolderReservation *reservation;
  GError *error = NULL;

  g_task_set_name (task, "holder_ipam_reserve_async");
  reservation = holder_ipam_reserve_member (ipam, name, ip_hint, &error);
  if (reservation == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (reserved != NULL)
    reserved (name, reservation, reserved_data);
  g_task_return_pointer (task, reservation, (GDestroyNotify) holder_reservation_free);
}
