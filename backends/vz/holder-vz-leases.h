/* SPDX-License-Identifier: MIT
 *
 * bootpd's lease file, /var/db/dhcpd_leases: how a vz guest's address is
 * found (ADR-0007 of fleetbox). Brace-delimited records of key=value
 * lines, newest first:
 *
 *   {
 *           name=web-1
 *           ip_address=192.168.77.5
 *           hw_address=ff,6e,2a,91,c4,0b,17
 *           identifier=ff,6e,2a,91,c4,0b,17
 *           lease=0x6a1b2c3d
 *   }
 *
 * VZ guests identify with a DUID (hw_address=ff,...), not the NIC's MAC, so
 * lookups go by the hostname, which cloud-init sets to the member name.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define HOLDER_VZ_LEASES_PATH "/var/db/dhcpd_leases"

typedef struct {
  char    *name;        /* "" when the record names no host */
  char    *ip;
  char    *hw_address;  /* the MAC of an Ethernet ("1,") record, else "" */
  guint64  expiry;      /* lease=0x..., Unix seconds; 0 when absent */
} HolderVzLease;

void                 holder_vz_lease_free              (HolderVzLease *lease);

/* Every record that has an IP address, in file order. Empty input or
 * garbage gives an empty array: bootpd may be rewriting the file. */
GPtrArray           *holder_vz_leases_parse            (const char    *text,
                                                        gsize          length);
/* The first record named exactly @hostname (the newest), or NULL. */
const HolderVzLease *holder_vz_leases_lookup_hostname  (GPtrArray     *leases,
                                                        const char    *hostname);
/* Reads @path and looks @hostname up: its IP, or NULL without an error
 * when there is no such record. A file that cannot be read is an error
 * ("read leases file: ..."). */
char                *holder_vz_leases_lookup_file      (const char    *path,
                                                        const char    *hostname,
                                                        GError       **error);

/* Exactly six ':'-separated octets of one or two hex digits (bootpd drops
 * leading zeros). */
gboolean             holder_vz_mac_parse               (const char    *text,
                                                        guint8         out[6]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderVzLease, holder_vz_lease_free)

G_END_DECLS
