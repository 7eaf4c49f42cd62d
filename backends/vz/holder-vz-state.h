/* SPDX-License-Identifier: MIT
 *
 * VZVirtualMachineState, read as a plain int through the shim, mapped to
 * a closed set. Saving (8) and Restoring (9) arrived with macOS 14; the
 * backend never saves or restores, so they count as unknown, as do values
 * a later macOS may add.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  HOLDER_VZ_STATE_STOPPED,
  HOLDER_VZ_STATE_RUNNING,
  HOLDER_VZ_STATE_PAUSED,
  HOLDER_VZ_STATE_ERROR,
  HOLDER_VZ_STATE_STARTING,
  HOLDER_VZ_STATE_PAUSING,
  HOLDER_VZ_STATE_RESUMING,
  HOLDER_VZ_STATE_STOPPING,
  HOLDER_VZ_STATE_UNKNOWN,
} HolderVzState;

HolderVzState holder_vz_state_from_raw  (int           raw);
/* "stopped", "running", ..., "unknown". */
const char   *holder_vz_state_to_string (HolderVzState state);

G_END_DECLS
