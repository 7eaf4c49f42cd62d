/* holder-backend-task.c: see holder-backend-task-private.h.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-backend"

#include "holder-backend-task-private.h"

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
