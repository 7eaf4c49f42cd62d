/* SPDX-License-Identifier: MIT
 *
 * The controller over the shim (see holder-vz-machine.h). Main context
 * only, apart from what the bridge does on the shim's threads.
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include <stdlib.h>

#include "holder-backend.h"
#include "holder-vz-machine.h"
#include "holder-vz-state.h"

typedef struct {
  HolderVzControllerDone func;
  gpointer               user_data;
} Pending;

struct _HolderVzMachine {
  const HolderVzShimOps   *ops;
  void                    *vm;         /* the shim's, NULL until attached */
  HolderVzEventBridge     *bridge;
  Pending                  start;
  Pending                  force_stop;
  HolderVzMachineExitFunc  exit_func;
  gpointer                 exit_data;
};

/* Takes the shim's malloc()ed message. */
static char *
take_shim_message (char *errmsg)
{
  char *message = g_strdup (errmsg != NULL ? errmsg : "no reason given");

  free (errmsg);
  return message;
}

static void
pending_complete (Pending    *pending,
                  const char *errmsg)
{
  Pending taken = *pending;
  g_autoptr(GError) error = NULL;

  pending->func = NULL;
  pending->user_data = NULL;
  if (taken.func == NULL)
    return;
  if (errmsg != NULL)
    error = g_error_new_literal (HOLDER_ERROR, HOLDER_ERROR_BACKEND, errmsg);
  taken.func (error, taken.user_data);
}

static void
machine_exit (HolderVzMachine *machine,
              const char      *message)
{
  if (machine->exit_func != NULL)
    machine->exit_func (message, machine->exit_data);
}

static void
on_event (HolderVzShimEventKind  kind,
          int                    raw_state,
          const char            *message,
          gpointer               user_data)
{
  HolderVzMachine *machine = user_data;
  g_autofree char *text = NULL;

  switch (kind)
    {
    case HOLDER_VZ_SHIM_EVENT_STATE_CHANGED:
      g_debug ("state: %s", holder_vz_state_to_string (holder_vz_state_from_raw (raw_state)));
      break;
    case HOLDER_VZ_SHIM_EVENT_START_DONE:
      if (machine->start.func == NULL)
        g_debug ("a start completion nobody awaits");
      pending_complete (&machine->start, message);
      break;
    case HOLDER_VZ_SHIM_EVENT_STOP_DONE:
      if (machine->force_stop.func == NULL)
        g_debug ("a stop completion nobody awaits");
      pending_complete (&machine->force_stop, message);
      break;
    case HOLDER_VZ_SHIM_EVENT_GUEST_STOPPED:
      machine_exit (machine, "the guest powered off");
      break;
    case HOLDER_VZ_SHIM_EVENT_STOPPED_WITH_ERROR:
      text = g_strdup_printf ("the VM stopped with an error: %s",
                              message != NULL ? message : "no reason given");
      machine_exit (machine, text);
      break;
    case HOLDER_VZ_SHIM_EVENT_NET_DISCONNECTED:
      /* The VM runs on without a network; its member will not be reached,
       * and the IP wait or the client's checks say so. */
      g_warning ("the VM's network attachment was disconnected: %s",
                 message != NULL ? message : "no reason given");
      break;
    default:
      g_debug ("unknown shim event %d", (int) kind);
      break;
    }
}

/* ---- the controller -------------------------------------------------------- */

static void
machine_start (gpointer               self,
               HolderVzControllerDone done,
               gpointer               user_data)
{
  HolderVzMachine *machine = self;

  g_return_if_fail (machine->vm != NULL);
  g_return_if_fail (machine->start.func == NULL);
  machine->start.func = done;
  machine->start.user_data = user_data;
  machine->ops->start (machine->vm);
}

static int
machine_state (gpointer self)
{
  HolderVzMachine *machine = self;

  return machine->vm != NULL ? machine->ops->state (machine->vm) : 0;
}

static gboolean
machine_can_request_stop (gpointer self)
{
  HolderVzMachine *machine = self;

  return machine->vm != NULL && machine->ops->can_request_stop (machine->vm) != 0;
}

static gboolean
machine_request_stop (gpointer   self,
                      GError   **error)
{
  HolderVzMachine *machine = self;
  char *errmsg = NULL;
  g_autofree char *message = NULL;

  if (machine->vm != NULL && machine->ops->request_stop (machine->vm, &errmsg) != 0)
    {
      free (errmsg);
      return TRUE;
    }
  message = take_shim_message (errmsg);
  g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, message);
  return FALSE;
}

static void
machine_force_stop (gpointer               self,
                    HolderVzControllerDone done,
                    gpointer               user_data)
{
  HolderVzMachine *machine = self;

  g_return_if_fail (machine->vm != NULL);
  g_return_if_fail (machine->force_stop.func == NULL);
  machine->force_stop.func = done;
  machine->force_stop.user_data = user_data;
  machine->ops->force_stop (machine->vm);
}

static const HolderVzControllerClass machine_controller_class = {
  .start = machine_start,
  .state = machine_state,
  .can_request_stop = machine_can_request_stop,
  .request_stop = machine_request_stop,
  .force_stop = machine_force_stop,
};

/* ---- life ---------------------------------------------------------------- */

HolderVzMachine *
holder_vz_machine_new (const HolderVzShimOps *ops,
                       GMainContext          *context)
{
  HolderVzMachine *machine;

  g_return_val_if_fail (ops != NULL, NULL);
  g_return_val_if_fail (context != NULL, NULL);

  machine = g_new0 (HolderVzMachine, 1);
  machine->ops = ops;
  machine->bridge = holder_vz_event_bridge_new (context, on_event, machine);
  return machine;
}

HolderVzEventBridge *
holder_vz_machine_get_bridge (HolderVzMachine *machine)
{
  g_return_val_if_fail (machine != NULL, NULL);
  return machine->bridge;
}

void
holder_vz_machine_attach (HolderVzMachine *machine,
                          void            *shim_vm)
{
  g_return_if_fail (machine != NULL && machine->vm == NULL);
  machine->vm = shim_vm;
}

void
holder_vz_machine_set_exit_func (HolderVzMachine         *machine,
                                 HolderVzMachineExitFunc  func,
                                 gpointer                 user_data)
{
  g_return_if_fail (machine != NULL);
  machine->exit_func = func;
  machine->exit_data = user_data;
}

HolderVzController
holder_vz_machine_get_controller (HolderVzMachine *machine)
{
  return (HolderVzController) { &machine_controller_class, machine };
}

void
holder_vz_machine_free (HolderVzMachine *machine)
{
  if (machine == NULL)
    return;
  /* First the shim (it drains its queue: nothing is posted after), then
   * the bridge (what was posted is dropped), then whoever still waits. */
  if (machine->vm != NULL)
    machine->ops->free (machine->vm);
  machine->vm = NULL;
  holder_vz_event_bridge_close (machine->bridge);
  machine->exit_func = NULL;
  pending_complete (&machine->start, "the VM was released");
  pending_complete (&machine->force_stop, "the VM was released");
  g_free (machine);
}
