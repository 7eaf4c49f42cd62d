/* SPDX-License-Identifier: MIT
 *
 * Waiting for a vz guest's address (ADR-0007 of fleetbox): read bootpd's
 * leases for the hostname; once there is a lease, try the guest's sshd;
 * otherwise wait and read again. The lease source and the probe are
 * injected, so tests need neither /var/db nor a guest.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The IP leased to @hostname, or NULL without an error when there is no
 * lease yet. An error is not fatal to the wait (bootpd writes its file on
 * the first lease); it is remembered for the final message. */
typedef char    *(*HolderVzLeaseLookupFunc) (const char           *hostname,
                                             gpointer              user_data,
                                             GError              **error);
typedef void     (*HolderVzProbeAsyncFunc)  (const char           *ip,
                                             guint16               port,
                                             guint                 timeout_ms,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
typedef gboolean (*HolderVzProbeFinishFunc) (GAsyncResult         *result,
                                             GError              **error);

typedef struct {
  guint                   budget_ms;        /* the whole wait */
  guint                   retry_ms;         /* between attempts */
  guint                   probe_timeout_ms; /* one connect */
  guint16                 port;
  HolderVzLeaseLookupFunc lookup;           /* NULL: bootpd's file */
  gpointer                lookup_data;
  HolderVzProbeAsyncFunc  probe_async;      /* NULL: holder_vz_tcp_probe */
  HolderVzProbeFinishFunc probe_finish;
} HolderVzIpWaitParams;

/* fleetbox: 2 minutes, a read every second, port 22 within 2 s. */
#define HOLDER_VZ_IP_WAIT_PARAMS_DEFAULT \
  ((HolderVzIpWaitParams) { 120000, 1000, 2000, 22, NULL, NULL, NULL, NULL })

/* Looks @hostname up in /var/db/dhcpd_leases. */
char *holder_vz_ip_lookup_bootpd (const char          *hostname,
                                  gpointer             user_data,
                                  GError             **error);

/* The guest's address once it answers on the port; HOLDER_ERROR_TIMED_OUT
 * with what was last seen when the budget runs out; G_IO_ERROR_CANCELLED
 * at once when @cancellable fires. */
void  holder_vz_ip_wait_async    (const char                 *hostname,
                                  const HolderVzIpWaitParams *params,
                                  GCancellable               *cancellable,
                                  GAsyncReadyCallback         callback,
                                  gpointer                    user_data);
char *holder_vz_ip_wait_finish   (GAsyncResult               *result,
                                  GError                    **error);

G_END_DECLS
