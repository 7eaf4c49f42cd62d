/* SPDX-License-Identifier: MIT
 *
 * The VM state table (see holder-vz-state.h).
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include "holder-vz-state.h"

HolderVzState
holder_vz_state_from_raw (int raw)
{
  /* VZVirtualMachineState: 0 Stopped, 1 Running, 2 Paused, 3 Error,
   * 4 Starting, 5 Pausing, 6 Resuming, 7 Stopping (12+). */
  switch (raw)
    {
    case 0: return HOLDER_VZ_STATE_STOPPED;
    case 1: return HOLDER_VZ_STATE_RUNNING;
    case 2: return HOLDER_VZ_STATE_PAUSED;
    case 3: return HOLDER_VZ_STATE_ERROR;
    case 4: return HOLDER_VZ_STATE_STARTING;
    case 5: return HOLDER_VZ_STATE_PAUSING;
    case 6: return HOLDER_VZ_STATE_RESUMING;
    case 7: return HOLDER_VZ_STATE_STOPPING;
    default: return HOLDER_VZ_STATE_UNKNOWN;
    }
}

const char *
holder_vz_state_to_string (HolderVzState state)
{
  static const char *const names[] = {
    [HOLDER_VZ_STATE_STOPPED] = "stopped",
    [HOLDER_VZ_STATE_RUNNING] = "running",
    [HOLDER_VZ_STATE_PAUSED] = "paused",
    [HOLDER_VZ_STATE_ERROR] = "error",
    [HOLDER_VZ_STATE_STARTING] = "starting",
    [HOLDER_VZ_STATE_PAUSING] = "pausing",
    [HOLDER_VZ_STATE_RESUMING] = "resuming",
    [HOLDER_VZ_STATE_STOPPING] = "stopping",
    [HOLDER_VZ_STATE_UNKNOWN] = "unknown",
  };

  if ((guint) state >= G_N_ELEMENTS (names))
    return "unknown";
  return names[state];
}
