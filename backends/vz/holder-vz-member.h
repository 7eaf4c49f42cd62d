/* SPDX-License-Identifier: MIT
 *
 * One member's VM over its whole life, on the main context: start, IP
 * wait, stop, and a VM that ends on its own. It orders what the server
 * may ask at any time against what the framework allows:
 *
 *  - a stop during a start cancels the start and waits for the framework's
 *    start completion before the stop machine runs (a VM that is still
 *    starting cannot be stopped reliably), bounded by the force grace;
 *  - a stop or the VM's own end fails an IP wait at once;
 *  - the VM ending on its own while running is reported to the exit
 *    function (the server's vm_exited), not while starting or stopping.
 *
 * The backend glue (holder-backend-vz.c) wires it to a HolderVzMachine;
 * tests wire it to fakes.
 */
#pragma once

#include <gio/gio.h>

#include "holder-vz-controller.h"
#include "holder-vz-ip-wait.h"
#include "holder-vz-start.h"
#include "holder-vz-stop.h"

G_BEGIN_DECLS

typedef struct {
  HolderVzStartTimings start;
  HolderVzStopTimings  stop;
  HolderVzIpWaitParams ip;
} HolderVzMemberParams;

#define HOLDER_VZ_MEMBER_PARAMS_DEFAULT                \
  ((HolderVzMemberParams) { HOLDER_VZ_START_TIMINGS_DEFAULT, \
                            HOLDER_VZ_STOP_TIMINGS_DEFAULT,  \
                            HOLDER_VZ_IP_WAIT_PARAMS_DEFAULT })

typedef struct _HolderVzMember HolderVzMember;

typedef void (*HolderVzMemberExitFunc) (HolderVzMember *member,
                                        const char     *message,
                                        gpointer        user_data);

/* @name is the guest's hostname (the lease lookup key). */
HolderVzMember *holder_vz_member_new            (const char                 *name,
                                                 const HolderVzController   *controller,
                                                 const HolderVzMemberParams *params);
HolderVzMember *holder_vz_member_ref            (HolderVzMember             *member);
void            holder_vz_member_unref          (HolderVzMember             *member);
const char     *holder_vz_member_get_name       (HolderVzMember             *member);
void            holder_vz_member_set_exit_func  (HolderVzMember             *member,
                                                 HolderVzMemberExitFunc      func,
                                                 gpointer                    user_data);

/* The VM ended without being asked to (HolderVzMachine's exit function). */
void            holder_vz_member_vm_exited      (HolderVzMember             *member,
                                                 const char                 *message);

void            holder_vz_member_start_async    (HolderVzMember             *member,
                                                 GCancellable               *cancellable,
                                                 GAsyncReadyCallback         callback,
                                                 gpointer                    user_data);
gboolean        holder_vz_member_start_finish   (HolderVzMember             *member,
                                                 GAsyncResult               *result,
                                                 GError                    **error);
void            holder_vz_member_wait_ip_async  (HolderVzMember             *member,
                                                 GCancellable               *cancellable,
                                                 GAsyncReadyCallback         callback,
                                                 gpointer                    user_data);
char           *holder_vz_member_wait_ip_finish (HolderVzMember             *member,
                                                 GAsyncResult               *result,
                                                 GError                    **error);
/* Safe on a VM never started, or that already ended. */
void            holder_vz_member_stop_async     (HolderVzMember             *member,
                                                 GCancellable               *cancellable,
                                                 GAsyncReadyCallback         callback,
                                                 gpointer                    user_data);
gboolean        holder_vz_member_stop_finish    (HolderVzMember             *member,
                                                 GAsyncResult               *result,
                                                 GError                    **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderVzMember, holder_vz_member_unref)

G_END_DECLS
