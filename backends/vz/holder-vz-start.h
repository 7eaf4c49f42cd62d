/* SPDX-License-Identifier: MIT
 *
 * Starting a VM: the framework's start, then the state polled until
 * Running (fleetbox: every 100 ms for up to 30 s; the Error state fails at
 * once). Timings are parameters so that tests run in milliseconds.
 */
#pragma once

#include <gio/gio.h>

#include "holder-vz-controller.h"

G_BEGIN_DECLS

typedef struct {
  guint timeout_ms;   /* from the start call to Running */
  guint interval_ms;  /* between state reads */
} HolderVzStartTimings;

#define HOLDER_VZ_START_TIMINGS_DEFAULT ((HolderVzStartTimings) { 30000, 100 })

/* Cancelling @cancellable ends the operation at once with
 * G_IO_ERROR_CANCELLED; a start already issued completes on its own
 * later (the controller's done callback is still awaited, and ignored). */
void     holder_vz_start_async  (const HolderVzController   *controller,
                                 const HolderVzStartTimings *timings,
                                 GCancellable               *cancellable,
                                 GAsyncReadyCallback         callback,
                                 gpointer                    user_data);
gboolean holder_vz_start_finish (GAsyncResult               *result,
                                 GError                    **error);

G_END_DECLS
