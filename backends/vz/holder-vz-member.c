/* SPDX-License-Identifier: MIT
 *
 * One member's VM (see holder-vz-member.h).
 *
 *   CREATED --start--> STARTING --ok--> RUNNING --own end--> EXITED
 *                         |  \--fails/cancelled--> FAILED
 *                         \--own end--> EXITED
 *   any but CREATED --stop--> STOPPING --> STOPPED (or FAILED when the
 *                                          VM would not stop)
 *
 * Between the state machines and the VM's controller sits a thin wrapper
 * that knows whether a start call is still awaiting its completion, so a
 * stop can wait for it.
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include "holder-backend.h"
#include "holder-vz-member.h"

typedef enum {
  MEMBER_CREATED,
  MEMBER_STARTING,
  MEMBER_RUNNING,
  MEMBER_FAILED,
  MEMBER_EXITED,
  MEMBER_STOPPING,
  MEMBER_STOPPED,
} MemberState;

struct _HolderVzMember {
  gint                    ref_count;   /* main context only */
  char                   *name;
  HolderVzController      inner;       /* the VM's controller */
  HolderVzController      wrapped;     /* the same, tracking start_pending */
  HolderVzMemberParams    params;
  MemberState             state;
  char                   *exit_message;
  HolderVzMemberExitFunc  exit_func;
  gpointer                exit_data;

  /* start */
  gboolean                start_pending;      /* the controller's start awaits its done */
  GCancellable           *start_cancellable;  /* ours: the caller's, a stop, an exit */
  GCancellable           *start_caller;
  gulong                  start_caller_id;

  /* wait_ip */
  GTask                  *wait_task;
  GCancellable           *wait_cancellable;
  GCancellable           *wait_caller;
  gulong                  wait_caller_id;
  char                   *wait_abort;         /* why the wait was cut short */

  /* stop */
  GTask                  *stop_task;
  gboolean                stop_deferred;      /* waits for start_pending */
  GSource                *stop_defer_timer;
};

static void member_stop_begin (HolderVzMember *member);

/* ---- the controller wrapper ------------------------------------------------ */

typedef struct {
  HolderVzMember         *member;
  HolderVzControllerDone  done;
  gpointer                user_data;
} StartClosure;

static void
on_inner_started (const GError *error,
                  gpointer      user_data)
{
  StartClosure *closure = user_data;
  HolderVzMember *member = closure->member;

  member->start_pending = FALSE;
  closure->done (error, closure->user_data);
  if (member->stop_deferred)
    member_stop_begin (member);
  holder_vz_member_unref (member);
  g_free (closure);
}

static void
wrapped_start (gpointer               self,
               HolderVzControllerDone done,
               gpointer               user_data)
{
  HolderVzMember *member = self;
  StartClosure *closure = g_new0 (StartClosure, 1);

  closure->member = holder_vz_member_ref (member);
  closure->done = done;
  closure->user_data = user_data;
  member->start_pending = TRUE;
  member->inner.klass->start (member->inner.self, on_inner_started, closure);
}

static int
wrapped_state (gpointer self)
{
  HolderVzMember *member = self;

  return member->inner.klass->state (member->inner.self);
}

static gboolean
wrapped_can_request_stop (gpointer self)
{
  HolderVzMember *member = self;

  return member->inner.klass->can_request_stop (member->inner.self);
}

static gboolean
wrapped_request_stop (gpointer   self,
                      GError   **error)
{
  HolderVzMember *member = self;

  return member->inner.klass->request_stop (member->inner.self, error);
}

static void
wrapped_force_stop (gpointer               self,
                    HolderVzControllerDone done,
                    gpointer               user_data)
{
  HolderVzMember *member = self;

  member->inner.klass->force_stop (member->inner.self, done, user_data);
}

static const HolderVzControllerClass wrapped_class = {
  .start = wrapped_start,
  .state = wrapped_state,
  .can_request_stop = wrapped_can_request_stop,
  .request_stop = wrapped_request_stop,
  .force_stop = wrapped_force_stop,
};

/* ---- life ---------------------------------------------------------------- */

HolderVzMember *
holder_vz_member_new (const char                 *name,
                      const HolderVzController   *controller,
                      const HolderVzMemberParams *params)
{
  HolderVzMember *member;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (controller != NULL && controller->klass != NULL, NULL);
  g_return_val_if_fail (params != NULL, NULL);

  member = g_new0 (HolderVzMember, 1);
  member->ref_count = 1;
  member->name = g_strdup (name);
  member->inner = *controller;
  member->wrapped = (HolderVzController) { &wrapped_class, member };
  member->params = *params;
  member->state = MEMBER_CREATED;
  return member;
}

HolderVzMember *
holder_vz_member_ref (HolderVzMember *member)
{
  g_return_val_if_fail (member != NULL, NULL);
  member->ref_count++;
  return member;
}

void
holder_vz_member_unref (HolderVzMember *member)
{
  if (member == NULL || --member->ref_count > 0)
    return;
  /* Every operation holds a reference: none can be in flight here. */
  g_warn_if_fail (member->wait_task == NULL && member->stop_task == NULL);
  g_clear_object (&member->start_cancellable);
  g_clear_object (&member->wait_cancellable);
  g_free (member->wait_abort);
  g_free (member->exit_message);
  g_free (member->name);
  g_free (member);
}

const char *
holder_vz_member_get_name (HolderVzMember *member)
{
  g_return_val_if_fail (member != NULL, NULL);
  return member->name;
}

void
holder_vz_member_set_exit_func (HolderVzMember         *member,
                                HolderVzMemberExitFunc  func,
                                gpointer                user_data)
{
  g_return_if_fail (member != NULL);
  member->exit_func = func;
  member->exit_data = user_data;
}

/* Runs inside g_cancellable_cancel() of the caller's cancellable, maybe on
 * another thread: only forwards the cancellation to ours. */
static void
on_caller_cancelled (GCancellable *cancellable,
                     gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

static gulong
forward_cancellation (GCancellable *caller,
                      GCancellable *ours)
{
  if (caller == NULL)
    return 0;
  return g_cancellable_connect (caller, G_CALLBACK (on_caller_cancelled), g_object_ref (ours),
                                g_object_unref);
}

/* Cuts an IP wait short with @message instead of "cancelled". */
static void
member_abort_wait (HolderVzMember *member,
                   const char     *message)
{
  if (member->wait_task == NULL || member->wait_abort != NULL)
    return;
  member->wait_abort = g_strdup (message);
  g_cancellable_cancel (member->wait_cancellable);
}

void
holder_vz_member_vm_exited (HolderVzMember *member,
                            const char     *message)
{
  g_return_if_fail (member != NULL && message != NULL);

  switch (member->state)
    {
    case MEMBER_STARTING:
      g_debug ("%s ended while starting: %s", member->name, message);
      member->state = MEMBER_EXITED;
      g_free (member->exit_message);
      member->exit_message = g_strdup (message);
      /* The start reports it: no exit function for a VM never up. */
      g_cancellable_cancel (member->start_cancellable);
      break;
    case MEMBER_RUNNING:
      g_debug ("%s ended: %s", member->name, message);
      member->state = MEMBER_EXITED;
      g_free (member->exit_message);
      member->exit_message = g_strdup (message);
      member_abort_wait (member, message);
      if (member->exit_func != NULL)
        member->exit_func (member, message, member->exit_data);
      break;
    case MEMBER_CREATED:
    case MEMBER_FAILED:
    case MEMBER_EXITED:
    case MEMBER_STOPPING:
    case MEMBER_STOPPED:
    default:
      /* Asked for (a stop), or already told. */
      g_debug ("%s: %s (expected)", member->name, message);
      break;
    }
}

/* ---- start ---------------------------------------------------------------- */

static void
on_started (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  HolderVzMember *member = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  gboolean ok = holder_vz_start_finish (result, &error);

  if (member->start_caller_id != 0)
    g_cancellable_disconnect (member->start_caller, member->start_caller_id);
  member->start_caller_id = 0;
  member->start_caller = NULL;

  if (ok && member->state == MEMBER_STARTING)
    {
      member->state = MEMBER_RUNNING;
      g_debug ("%s is running", member->name);
      g_task_return_boolean (task, TRUE);
      return;
    }
  if (member->state == MEMBER_EXITED && member->exit_message != NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s",
                               member->exit_message);
      return;
    }
  if (member->state == MEMBER_STOPPING || member->state == MEMBER_STOPPED)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                               "the VM was stopped while starting");
      return;
    }
  member->state = MEMBER_FAILED;
  g_task_return_error (task, g_steal_pointer (&error));
}

void
holder_vz_member_start_async (HolderVzMember      *member,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (member != NULL);

  /* The member is no GObject: the task holds it through its data. */
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "holder_vz_member_start_async");
  g_task_set_task_data (task, holder_vz_member_ref (member),
                        (GDestroyNotify) holder_vz_member_unref);
  if (member->state != MEMBER_CREATED)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "the VM of %s was already started", member->name);
      return;
    }
  member->state = MEMBER_STARTING;
  g_clear_object (&member->start_cancellable);
  member->start_cancellable = g_cancellable_new ();
  member->start_caller = cancellable;
  member->start_caller_id = forward_cancellation (cancellable, member->start_cancellable);
  holder_vz_start_async (&member->wrapped, &member->params.start, member->start_cancellable,
                         on_started, g_steal_pointer (&task));
}

gboolean
holder_vz_member_start_finish (HolderVzMember  *member,
                               GAsyncResult    *result,
                               GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- wait_ip -------------------------------------------------------------- */

static void
on_ip (GObject      *source,
       GAsyncResult *result,
       gpointer      user_data)
{
  HolderVzMember *member = user_data;
  g_autoptr(GTask) task = g_steal_pointer (&member->wait_task);
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = holder_vz_ip_wait_finish (result, &error);
  g_autofree char *abort_message = g_steal_pointer (&member->wait_abort);

  if (member->wait_caller_id != 0)
    g_cancellable_disconnect (member->wait_caller, member->wait_caller_id);
  member->wait_caller_id = 0;
  member->wait_caller = NULL;
  g_clear_object (&member->wait_cancellable);

  if (ip != NULL)
    g_task_return_pointer (task, g_steal_pointer (&ip), g_free);
  else if (abort_message != NULL)
    g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s", abort_message);
  else
    g_task_return_error (task, g_steal_pointer (&error));
}

void
holder_vz_member_wait_ip_async (HolderVzMember      *member,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (member != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "holder_vz_member_wait_ip_async");
  g_task_set_task_data (task, holder_vz_member_ref (member),
                        (GDestroyNotify) holder_vz_member_unref);
  if (member->wait_task != NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "already waiting for the address of %s", member->name);
      return;
    }
  if (member->state != MEMBER_RUNNING)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s",
                               member->exit_message != NULL ? member->exit_message
                                                            : "the VM is not running");
      return;
    }
  member->wait_task = g_steal_pointer (&task);
  member->wait_cancellable = g_cancellable_new ();
  member->wait_caller = cancellable;
  member->wait_caller_id = forward_cancellation (cancellable, member->wait_cancellable);
  /* wait_task's data holds the member until on_ip. */
  holder_vz_ip_wait_async (member->name, &member->params.ip, member->wait_cancellable, on_ip,
                           member);
}

char *
holder_vz_member_wait_ip_finish (HolderVzMember  *member,
                                 GAsyncResult    *result,
                                 GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- stop ------------------------------------------------------------------- */

static void
on_stopped (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  HolderVzMember *member = user_data;
  g_autoptr(GTask) task = g_steal_pointer (&member->stop_task);
  g_autoptr(GError) error = NULL;

  if (holder_vz_stop_finish (result, &error))
    {
      member->state = MEMBER_STOPPED;
      g_debug ("%s is stopped", member->name);
      g_task_return_boolean (task, TRUE);
      return;
    }
  /* Still there: a later stop may try again. */
  member->state = MEMBER_FAILED;
  g_task_return_error (task, g_steal_pointer (&error));
}

static void
member_stop_begin (HolderVzMember *member)
{
  member->stop_deferred = FALSE;
  if (member->stop_defer_timer != NULL)
    {
      g_source_destroy (member->stop_defer_timer);
      g_clear_pointer (&member->stop_defer_timer, g_source_unref);
    }
  /* stop_task's data holds the member until on_stopped. */
  holder_vz_stop_async (&member->wrapped, &member->params.stop,
                        g_task_get_cancellable (member->stop_task), on_stopped, member);
}

/* The framework never completed the start: stop regardless. */
static gboolean
on_stop_defer_timeout (gpointer user_data)
{
  HolderVzMember *member = user_data;

  g_clear_pointer (&member->stop_defer_timer, g_source_unref);
  g_debug ("%s: the start never completed; stopping anyway", member->name);
  member_stop_begin (member);
  return G_SOURCE_REMOVE;
}

void
holder_vz_member_stop_async (HolderVzMember      *member,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (member != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "holder_vz_member_stop_async");
  /* A cancelled stop still stops (holder-vz-stop.h). */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_task_data (task, holder_vz_member_ref (member),
                        (GDestroyNotify) holder_vz_member_unref);
  if (member->stop_task != NULL)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "the VM of %s is already stopping", member->name);
      return;
    }
  if (member->state == MEMBER_CREATED || member->state == MEMBER_STOPPED)
    {
      member->state = MEMBER_STOPPED;
      g_task_return_boolean (task, TRUE);
      return;
    }

  member_abort_wait (member, "the VM is being stopped");
  if (member->state == MEMBER_STARTING)
    g_cancellable_cancel (member->start_cancellable);
  member->state = MEMBER_STOPPING;
  member->stop_task = g_steal_pointer (&task);
  if (!member->start_pending)
    {
      member_stop_begin (member);
      return;
    }
  g_debug ("%s: stopping once the start completes", member->name);
  member->stop_deferred = TRUE;
  member->stop_defer_timer = g_timeout_source_new (member->params.stop.force_grace_ms);
  g_source_set_callback (member->stop_defer_timer, on_stop_defer_timeout, member, NULL);
  g_source_attach (member->stop_defer_timer, g_task_get_context (member->stop_task));
}

gboolean
holder_vz_member_stop_finish (HolderVzMember  *member,
                              GAsyncResult    *result,
                              GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
