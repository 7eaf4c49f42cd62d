/* SPDX-License-Identifier: MIT
 *
 * A fake of the Objective-C shim: the C interface of holder-vz-shim.h,
 * implemented the way Virtualization.framework behaves. Each VM has a
 * "dispatch queue" of its own, a GThread working through a GAsyncQueue:
 * synchronous calls (state, stop request) run there while the caller
 * waits, and every completion, state change and delegate event is posted
 * from there, some of them in the middle of a synchronous call.
 *
 * The per-VM entries assert that they are called on the main context, as
 * holder's GLib thread calls the real shim; vm_new and net_new_shared
 * record whether they ran off it (the backend runs them on workers).
 */
#pragma once

#include <glib.h>

#include "holder-vz-shim.h"

G_BEGIN_DECLS

/* How a VM behaves. */
typedef struct {
  const char *start_error;       /* START_DONE carries it */
  gboolean    hold_start;        /* START_DONE waits for release_start */
  gboolean    ignore_acpi;       /* the guest ignores the power button */
  const char *force_error;       /* STOP_DONE carries it */
  gboolean    force_never_stops; /* STOP_DONE, but still running */
} HolderTestVzScript;

typedef struct {
  /* set by tests */
  HolderVzShimHostInfo host;
  HolderTestVzScript   script;          /* copied into each new VM */
  const char          *vm_new_error;    /* vm_new fails with it */
  int                  net_status;      /* != 0: net_new_shared fails */

  /* observed (main thread, or after the call returned) */
  guint                nets_created;
  guint                nets_freed;
  guint32              last_addr_be;
  guint32              last_mask_be;
  guint                vms_created;
  guint                vms_freed;
  gboolean             vm_new_on_main;
  gboolean             net_new_on_main;
  HolderVzShimVmConfig last_config;     /* deep copy of the last vm_new's */
  gboolean             last_had_net;
  HolderVzShimVm      *last_vm;
} HolderTestVzShimWorld;

/* The one world; reset between tests. Host defaults: macOS 26.4.1 on
 * Apple silicon, 1..8 CPUs, 128 MiB..16 GiB, no nesting. */
HolderTestVzShimWorld *holder_test_vz_shim_world (void);
void                   holder_test_vz_shim_reset (void);

/* Per VM, from the test. */
HolderTestVzScript    *holder_test_vz_shim_vm_script        (HolderVzShimVm *vm);
void                   holder_test_vz_shim_vm_release_start (HolderVzShimVm *vm);
/* The guest dies (didStopWithError), raised on the VM's queue. */
void                   holder_test_vz_shim_vm_die           (HolderVzShimVm *vm);
/* "start-done,request,guest-stopped,force,stop-done", in queue order. */
char                  *holder_test_vz_shim_vm_log           (HolderVzShimVm *vm);
/* Every event so far came from the VM's queue thread (and there were). */
gboolean               holder_test_vz_shim_vm_events_off_main (HolderVzShimVm *vm);

G_END_DECLS
