/* holder-backend.c: what libholder offers every backend besides the
 * vtable (see holder-backend.h): the GTask finishers, reclaim reports and
 * doctor checks.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-backend"

#include "holder-backend.h"

gboolean
holder_backend_task_finish_boolean (HolderBackend  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static gpointer
finish_pointer (GAsyncResult  *result,
                GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

char *
holder_backend_task_finish_string (HolderBackend  *self,
                                   GAsyncResult   *result,
                                   GError        **error)
{
  return finish_pointer (result, error);
}

HolderReservation *
holder_backend_task_finish_reservation (HolderBackend  *self,
                                        GAsyncResult   *result,
                                        GError        **error)
{
  return finish_pointer (result, error);
}

HolderVm *
holder_backend_task_finish_vm (HolderBackend  *self,
                               GAsyncResult   *result,
                               GError        **error)
{
  return finish_pointer (result, error);
}

void
holder_backend_report_reclaimed (HolderBackend *self,
                                 const char    *kind,
                                 const char    *what)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (kind != NULL);
  g_return_if_fail (what != NULL);

  if (self->host != NULL && self->host->reclaimed != NULL)
    self->host->reclaimed (kind, what, self->host->user_data);
}

HolderHostCheck *
holder_host_check_new (const char *name,
                       gboolean    ok,
                       gboolean    required,
                       const char *detail,
                       const char *fix)
{
  HolderHostCheck *check;

  g_return_val_if_fail (name != NULL, NULL);

  check = g_new0 (HolderHostCheck, 1);
  check->name = g_strdup (name);
  check->ok = ok;
  check->required = required;
  check->detail = g_strdup (detail != NULL ? detail : "");
  check->fix = ok ? NULL : g_strdup (fix);
  return check;
}

void
holder_host_check_free (HolderHostCheck *check)
{
  if (check == NULL)
    return;
  g_free (check->name);
  g_free (check->detail);
  g_free (check->fix);
  g_free (check);
}

static void
on_reconcile_done (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

gboolean
holder_backend_reconcile (const HolderBackendClass *klass,
                          const char               *root,
                          HolderReconcileFlags      flags,
                          HolderReclaimFunc         report,
                          gpointer                  user_data,
                          GError                  **error)
{
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  HolderBackendHost host = { 0 };
  HolderBackend *instance;
  gboolean ok;

  g_return_val_if_fail (klass != NULL, FALSE);
  g_return_val_if_fail (root != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* The instance completes its tasks on the context that is
   * thread-default when it is made: a private one, so that a caller's own
   * sources never run from in here. */
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);

  host.storage_root = root;
  host.reclaimed = report;
  host.user_data = user_data;
  instance = klass->new (klass, &host, error);
  if (instance == NULL)
    {
      g_main_context_pop_thread_default (context);
      return FALSE;
    }

  klass->reconcile_async (instance, flags, NULL, on_reconcile_done, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  ok = klass->reconcile_finish (instance, result, error);
  if (!ok)
    g_prefix_error (error, "reconcile: ");
  g_clear_object (&result);
  klass->free (instance);
  /* What the instance left queued (a completion's idle) runs here, not on
   * the caller's context later. */
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  return ok;
}
