/* SPDX-License-Identifier: MIT
 *
 * The `_finish` half of a backend operation whose `_async` half completes
 * a GTask: every backend fills its vtable's finish slots with these.
 */
#pragma once

#include "holder-backend.h"

G_BEGIN_DECLS

gboolean           holder_backend_task_finish_boolean     (HolderBackend  *self,
                                                           GAsyncResult   *result,
                                                           GError        **error);
char              *holder_backend_task_finish_string      (HolderBackend  *self,
                                                           GAsyncResult   *result,
                                                           GError        **error);
HolderReservation *holder_backend_task_finish_reservation (HolderBackend  *self,
                                                           GAsyncResult   *result,
                                                           GError        **error);
HolderVm          *holder_backend_task_finish_vm          (HolderBackend  *self,
                                                           GAsyncResult   *result,
                                                           GError        **error);

G_END_DECLS
