/* SPDX-License-Identifier: MIT
 *
 * Waiting for a VM state by polling the controller on a GLib timer: the
 * shared step of the start and stop state machines. fleetbox polls every
 * 100 ms rather than trusting KVO alone; so do we, so that a missed or
 * coalesced notification can never hang a stop.
 */
#pragma once

#include <gio/gio.h>

#include "holder-vz-controller.h"
#include "holder-vz-state.h"

G_BEGIN_DECLS

typedef enum {
  HOLDER_VZ_WAIT_REACHED,     /* the wanted state */
  HOLDER_VZ_WAIT_ERROR_STATE, /* the Error state, when it ends the wait */
  HOLDER_VZ_WAIT_TIMED_OUT,   /* the deadline passed */
  HOLDER_VZ_WAIT_CANCELLED,   /* @cancellable fired */
} HolderVzWaitOutcome;

/* Reads the state at once, then every @interval_ms until it is @wanted,
 * or Error when @error_ends, or until @deadline_us (g_get_monotonic_time
 * clock), or until @cancellable is cancelled. Never fails otherwise. */
void                holder_vz_wait_state_async  (const HolderVzController *controller,
                                                 HolderVzState             wanted,
                                                 gboolean                  error_ends,
                                                 gint64                    deadline_us,
                                                 guint                     interval_ms,
                                                 GCancellable             *cancellable,
                                                 GAsyncReadyCallback       callback,
                                                 gpointer                  user_data);
/* The outcome; @out_last (may be NULL) gets the last state read. */
HolderVzWaitOutcome holder_vz_wait_state_finish (GAsyncResult             *result,
                                                 HolderVzState            *out_last);

/* "30 s", "250 ms": durations in messages. */
char               *holder_vz_duration_to_string (guint                    ms);

G_END_DECLS
