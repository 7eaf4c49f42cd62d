/* SPDX-License-Identifier: MIT
 *
 * Stopping a VM, after ADR-0031 of fleetbox (a hung guest ignored the ACPI
 * request, the helper kept disk.raw open, the next boot failed): the
 * power button first, then a forced stop that always happens, bounded in
 * time. VMs are cattle: a crash-consistent disk is fine; releasing it is
 * the point.
 *
 *  1. already Stopped: success;
 *  2. if the VM can take a stop request, press the power button and poll
 *     for Stopped up to @acpi_grace_ms; a cancelled caller only cuts this
 *     wait short; a refused request is not fatal;
 *  3. force stop; its completion error fails with "force stop: ...";
 *  4. poll for Stopped up to @force_grace_ms on a deadline of its own,
 *     whatever the caller's cancellable says: "vm still running after
 *     force stop".
 */
#pragma once

#include <gio/gio.h>

#include "holder-vz-controller.h"

G_BEGIN_DECLS

typedef struct {
  guint acpi_grace_ms;   /* power button to Stopped */
  guint force_grace_ms;  /* force stop issued to Stopped */
  guint interval_ms;     /* between state reads */
} HolderVzStopTimings;

/* 25 s in all: under the client's 30 s stop deadline. */
#define HOLDER_VZ_STOP_TIMINGS_DEFAULT ((HolderVzStopTimings) { 15000, 10000, 100 })

/* Never fails with G_IO_ERROR_CANCELLED: a cancelled stop still stops. */
void     holder_vz_stop_async  (const HolderVzController  *controller,
                                const HolderVzStopTimings *timings,
                                GCancellable              *cancellable,
                                GAsyncReadyCallback        callback,
                                gpointer                   user_data);
gboolean holder_vz_stop_finish (GAsyncResult              *result,
                                GError                   **error);

G_END_DECLS
