/* SPDX-License-Identifier: MIT
 *
 * The address plan of a vmnet shared network (see holder-vz-net.h).
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gio/gio.h>

#include "holder-backend.h"
#include "holder-vz-net.h"

#define NET_192_168     0xc0a80000u /* 192.168.0.0 */
#define MASK_16         0xffff0000u

gboolean
holder_vz_subnet_set_contains (const HolderVzSubnetSet *set,
                               guint8                   octet)
{
  return (set->bits[octet / 32] & (1u << (octet % 32))) != 0;
}

void
holder_vz_subnet_set_add (HolderVzSubnetSet *set,
                          guint8             octet)
{
  set->bits[octet / 32] |= 1u << (octet % 32);
}

static guint32
mask_of (guint length)
{
  return length == 0 ? 0 : 0xffffffffu << (32 - MIN (length, 32));
}

static guint
length_of (guint32 mask)
{
  guint length = 0;

  /* Counts the leading ones; a non-contiguous mask ends at its first hole. */
  while (length < 32 && (mask & (0x80000000u >> length)) != 0)
    length++;
  return length;
}

GArray *
holder_vz_host_ipv4_prefixes (GError **error)
{
  g_autoptr(GArray) prefixes = g_array_new (FALSE, FALSE, sizeof (HolderVzIpv4Prefix));
  struct ifaddrs *list = NULL;

  if (getifaddrs (&list) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "list the host's interfaces: %s", g_strerror (saved));
      return NULL;
    }
  for (struct ifaddrs *ifa = list; ifa != NULL; ifa = ifa->ifa_next)
    {
      HolderVzIpv4Prefix prefix;
      guint32 address;
      guint32 mask;

      if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != AF_INET ||
          ifa->ifa_netmask == NULL)
        continue;
      address = ntohl (((const struct sockaddr_in *) ifa->ifa_addr)->sin_addr.s_addr);
      mask = ntohl (((const struct sockaddr_in *) ifa->ifa_netmask)->sin_addr.s_addr);
      prefix.length = (guint8) length_of (mask);
      prefix.network = address & mask_of (prefix.length);
      g_array_append_val (prefixes, prefix);
    }
  freeifaddrs (list);
  return g_steal_pointer (&prefixes);
}

/* Only prefixes inside 192.168.0.0/16 count: a host route covering far
 * more (a /8 VPN) would otherwise rule out every candidate. */
static gboolean
candidate_overlaps (guint32                   candidate,
                    const HolderVzIpv4Prefix *occupied,
                    gsize                     n_occupied)
{
  for (gsize i = 0; i < n_occupied; i++)
    {
      guint32 mask;

      if (occupied[i].length < 16 || (occupied[i].network & MASK_16) != NET_192_168)
        continue;
      /* Two prefixes overlap when they agree on the shorter one's bits. */
      mask = mask_of (MIN (occupied[i].length, 24));
      if ((occupied[i].network & mask) == (candidate & mask))
        return TRUE;
    }
  return FALSE;
}

gboolean
holder_vz_pick_subnet (const HolderVzIpv4Prefix *occupied,
                       gsize                     n_occupied,
                       HolderVzSubnetSet        *handed_out,
                       guint8                    start_octet,
                       guint8                   *out_octet,
                       GError                  **error)
{
  g_return_val_if_fail (occupied != NULL || n_occupied == 0, FALSE);
  g_return_val_if_fail (handed_out != NULL, FALSE);
  g_return_val_if_fail (out_octet != NULL, FALSE);

  for (guint i = 0; i < 256; i++)
    {
      guint8 octet = (guint8) ((start_octet + i) % 256);

      if (holder_vz_subnet_set_contains (handed_out, octet) ||
          candidate_overlaps (NET_192_168 | ((guint32) octet << 8), occupied, n_occupied))
        continue;
      holder_vz_subnet_set_add (handed_out, octet);
      *out_octet = octet;
      return TRUE;
    }
  g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                       "no free /24 subnet available in 192.168.0.0/16");
  return FALSE;
}

static HolderVzSubnetSet process_handed_out;
G_LOCK_DEFINE_STATIC (process_handed_out);

gboolean
holder_vz_pick_subnet_for_process (guint8  *out_octet,
                                   GError **error)
{
  g_autoptr(GArray) occupied = holder_vz_host_ipv4_prefixes (error);
  gboolean ok;

  if (occupied == NULL)
    return FALSE;
  G_LOCK (process_handed_out);
  ok = holder_vz_pick_subnet ((const HolderVzIpv4Prefix *) (gpointer) occupied->data,
                              occupied->len, &process_handed_out,
                              (guint8) g_random_int_range (0, 256), out_octet, error);
  G_UNLOCK (process_handed_out);
  return ok;
}

void
holder_vz_vmnet_subnet_args (guint8   octet,
                             guint32 *out_addr_be,
                             guint32 *out_mask_be)
{
  *out_addr_be = htonl (NET_192_168 | ((guint32) octet << 8) | 1u);
  *out_mask_be = htonl (0xffffff00u);
}

char *
holder_vz_subnet_to_string (guint8 octet)
{
  return g_strdup_printf ("192.168.%u.0/24", (guint) octet);
}

const char *
holder_vz_vmnet_status_text (int status)
{
  /* vmnet_return_t, vmnet.h. */
  switch (status)
    {
    case 1000: return "VMNET_SUCCESS: success";
    case 1001: return "VMNET_FAILURE: general failure (a subnet leaked by a helper "
                      "that was killed stays reserved until the Mac sleeps and wakes "
                      "or reboots)";
    case 1002: return "VMNET_MEM_FAILURE: out of memory";
    case 1003: return "VMNET_INVALID_ARGUMENT: invalid argument";
    case 1004: return "VMNET_SETUP_INCOMPLETE: interface setup is not complete";
    case 1005: return "VMNET_INVALID_ACCESS: permission denied";
    case 1006: return "VMNET_PACKET_TOO_BIG: packet size larger than the MTU";
    case 1007: return "VMNET_BUFFER_EXHAUSTED: buffers exhausted in the kernel";
    case 1008: return "VMNET_TOO_MANY_PACKETS: too many packets for one call";
    case 1009: return "VMNET_SHARING_SERVICE_BUSY: the sharing service is busy "
                      "(Internet Sharing may be using the subnet)";
    case 1010: return "VMNET_NOT_AUTHORIZED: not authorized";
    default:   return "unknown vmnet status";
    }
}
