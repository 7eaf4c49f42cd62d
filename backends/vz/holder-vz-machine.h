/* SPDX-License-Identifier: MIT
 *
 * A VM as the state machines see it: a HolderVzController on top of the
 * shim's calls, whose asynchronous completions arrive as events through
 * the bridge, on the main context. Also the place where a VM that stops
 * on its own is noticed.
 *
 * The shim's calls come through a table of functions so that tests can
 * put a fake shim underneath, one that answers from a thread of its own
 * the way Virtualization.framework answers from its dispatch queue.
 */
#pragma once

#include <glib.h>

#include "holder-vz-controller.h"
#include "holder-vz-events.h"

G_BEGIN_DECLS

/* The shim's per-VM calls (holder-vz-shim.h), with the VM untyped. */
typedef struct {
  void (*start)            (void   *vm);
  int  (*can_request_stop) (void   *vm);
  int  (*request_stop)     (void   *vm,
                            char  **errmsg);
  void (*force_stop)       (void   *vm);
  int  (*state)            (void   *vm);
  void (*free)             (void   *vm);
} HolderVzShimOps;

/* The operations on the real shim (holder-vz-shim.h; in the tests, its
 * fake). */
extern const HolderVzShimOps holder_vz_shim_ops;

typedef struct _HolderVzMachine HolderVzMachine;

/* The VM stopped or died without being asked to; on the main context. */
typedef void (*HolderVzMachineExitFunc) (const char *message,
                                         gpointer    user_data);

/* Events are delivered on @context. */
HolderVzMachine          *holder_vz_machine_new             (const HolderVzShimOps  *ops,
                                                             GMainContext           *context);
/* What the shim's vm_new wants as its event function's user data; the
 * function is holder_vz_event_bridge_post. */
HolderVzEventBridge      *holder_vz_machine_get_bridge      (HolderVzMachine        *machine);
/* The shim VM, once made; the machine frees it. */
void                      holder_vz_machine_attach          (HolderVzMachine        *machine,
                                                             void                   *shim_vm);
void                      holder_vz_machine_set_exit_func   (HolderVzMachine        *machine,
                                                             HolderVzMachineExitFunc func,
                                                             gpointer                user_data);
/* The controller to drive it with (valid while the machine lives). */
HolderVzController        holder_vz_machine_get_controller  (HolderVzMachine        *machine);
/* Frees the shim VM (no event after that), then fails any completion
 * still awaited with "the VM was released". */
void                      holder_vz_machine_free            (HolderVzMachine        *machine);

G_END_DECLS
