/* SPDX-License-Identifier: MIT
 *
 * What the start and stop state machines need from a VM: the C form of
 * fleetbox's vmController. The real one (holder-vz-machine.c) sits on the
 * shim; tests supply fakes that script a guest.
 *
 * Contract: every function is called on the main context. @state,
 * @can_request_stop and @request_stop answer at once. @start and
 * @force_stop return at once and call @done exactly once, later (never
 * from inside the call), on the main context, with the framework's error
 * or NULL.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef void (*HolderVzControllerDone) (const GError *error,
                                        gpointer      user_data);

typedef struct {
  void     (*start)            (gpointer                self,
                                HolderVzControllerDone  done,
                                gpointer                user_data);
  /* The raw VZVirtualMachineState (see holder-vz-state.h). */
  int      (*state)            (gpointer                self);
  gboolean (*can_request_stop) (gpointer                self);
  /* The ACPI power button; FALSE with the reason when refused. */
  gboolean (*request_stop)     (gpointer                self,
                                GError                **error);
  void     (*force_stop)       (gpointer                self,
                                HolderVzControllerDone  done,
                                gpointer                user_data);
} HolderVzControllerClass;

/* A controller: its functions and the instance they act on. */
typedef struct {
  const HolderVzControllerClass *klass;
  gpointer                       self;
} HolderVzController;

G_END_DECLS
