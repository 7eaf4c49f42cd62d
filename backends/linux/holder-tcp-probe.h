/* SPDX-License-Identifier: MIT
 *
 * "Is the guest up": connect to @ip:@port until a connection is accepted,
 * on a schedule that notices a listener within milliseconds.
 *
 * An attempt starts on each tick, every HOLDER_TCP_PROBE_MIN_INTERVAL_MS
 * at first:
 * - an attempt still unanswered at the next tick (its SYN met no one: the
 *   guest's stack is not up) is dropped, since the kernel would resend
 *   that SYN only after a second, and the tick's fresh one replaces it;
 *   each tick doubles the interval, up to HOLDER_TCP_PROBE_MAX_INTERVAL_MS;
 * - once the guest refused a connection (RST: its stack is up, the port
 *   not yet), an attempt costs one round trip, and the interval stays at
 *   the minimum for HOLDER_TCP_PROBE_REFUSED_FAST_MS, when the listener
 *   is most likely to appear, then backs off again; attempts slow to be
 *   answered are then kept for the longest interval, overlapping;
 * - one attempt at a time is patient: kept for HOLDER_TCP_PROBE_PATIENT_MS
 *   (when the kernel would resend its SYN), so that a guest too busy to
 *   answer within the ticks (starved, emulated) is seen all the same;
 * - holder_tcp_probe_kick() (the host saw a sign of the guest: its first
 *   frame, say, when its link comes up and its address is moments away)
 *   starts an attempt at once and may keep the interval at the minimum
 *   for a while; that attempt becomes the patient one, since the way to
 *   the guest may only just have opened.
 * The schedule is one GSource on the caller's main context (its ready
 * time is the tick, the attempts' sockets its fds): no thread, no busy
 * loop, one connect() per tick at most.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define HOLDER_TCP_PROBE_MIN_INTERVAL_MS  5
#define HOLDER_TCP_PROBE_MAX_INTERVAL_MS  20
#define HOLDER_TCP_PROBE_REFUSED_FAST_MS  5000
#define HOLDER_TCP_PROBE_PATIENT_MS       1000

typedef struct _HolderTcpProbe HolderTcpProbe;

/* A probe of @ip (dotted IPv4) port @port; fails when @ip is no IPv4
 * address. Nothing is sent before holder_tcp_probe_run_async(). */
HolderTcpProbe *holder_tcp_probe_new (const char  *ip,
                                      guint16      port,
                                      GError     **error);

/* Probes until a connection is accepted, or fails with
 * G_IO_ERROR_CANCELLED once @cancellable is cancelled. Unbounded: the
 * caller cancels. Runs once per probe; the callback runs on the caller's
 * thread-default context. */
void     holder_tcp_probe_run_async  (HolderTcpProbe      *probe,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data);
gboolean holder_tcp_probe_run_finish (HolderTcpProbe  *probe,
                                      GAsyncResult    *result,
                                      GError         **error);

/* Probe now, and keep the interval at the minimum for @fast_ms from here:
 * something suggests the guest may answer soon (see holder-net-watch.h).
 * A no-op once the run ended. */
void holder_tcp_probe_kick (HolderTcpProbe *probe,
                            guint           fast_ms);

/* Connects started so far, and those of them refused (RST). */
guint holder_tcp_probe_get_attempts (HolderTcpProbe *probe);
guint holder_tcp_probe_get_refused  (HolderTcpProbe *probe);

HolderTcpProbe *holder_tcp_probe_ref   (HolderTcpProbe *probe);
void            holder_tcp_probe_unref (HolderTcpProbe *probe);

/* new + run + unref in one call, for callers that need no kick. */
void     holder_tcp_probe_async  (const char          *ip,
                                  guint16              port,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data);
gboolean holder_tcp_probe_finish (GAsyncResult  *result,
                                  GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderTcpProbe, holder_tcp_probe_unref)

G_END_DECLS
