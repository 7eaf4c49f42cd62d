/* holder-vz-shim-ops.c: the machine's operations on the Objective-C shim
 * (holder-vz-shim.h): what holder-vz-machine.c drives, in the module and,
 * over the fake shim, in the tests.
 *
 * SPDX-License-Identifier: MIT
 */
#include "holder-vz-machine.h"
#include "holder-vz-shim.h"

/* ---- the shim under the machine ---------------------------------------------- */

static void
shim_start (void *vm)
{
  holder_vz_shim_vm_start (vm);
}

static int
shim_can_request_stop (void *vm)
{
  return holder_vz_shim_vm_can_request_stop (vm);
}

static int
shim_request_stop (void  *vm,
                   char **errmsg)
{
  return holder_vz_shim_vm_request_stop (vm, errmsg);
}

static void
shim_force_stop (void *vm)
{
  holder_vz_shim_vm_force_stop (vm);
}

static int
shim_state (void *vm)
{
  return holder_vz_shim_vm_state (vm);
}

static void
shim_free (void *vm)
{
  holder_vz_shim_vm_free (vm);
}

const HolderVzShimOps holder_vz_shim_ops = {
  .start = shim_start,
  .can_request_stop = shim_can_request_stop,
  .request_stop = shim_request_stop,
  .force_stop = shim_force_stop,
  .state = shim_state,
  .free = shim_free,
};
