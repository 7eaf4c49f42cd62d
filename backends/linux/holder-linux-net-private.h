/* SPDX-License-Identifier: MIT
 *
 * What holder-linux-net.c (create, taps, close) and
 * holder-linux-net-reconcile.c share: walking the records of a namespace
 * folder, taking a record's host state down, giving an uplink back.
 */
#pragma once

#include "holder-linux-net.h"
#include "holder-linux-net-dir.h"
#include "holder-linux-net-host.h"
#include "holder-linux-net-record.h"

G_BEGIN_DECLS

/* Called for every record file of @dir: @record is NULL when it could not
 * be loaded (corrupt or untrusted), with @load_error saying why. */
typedef void (*HolderNetRecordVisitor) (const char      *name,
                                        HolderNetRecord *record,
                                        GError          *load_error,
                                        gpointer         user_data);

void holder_net_foreach_record (HolderNetDir           *dir,
                                HolderNetRecordVisitor  visit,
                                gpointer                user_data);

/* Deletes the taps (killing the processes attached to them first when
 * @kill_users), the table and the bridge of @record, each confirmed gone;
 * a tap leaves the record (on disk) as it goes. Keeps going after a
 * failure and reports the first one. With @report, each piece that existed
 * is reported; with @dry_run too, nothing changes. */
gboolean holder_net_record_take_down (HolderNetRecord *record,
                                      HolderNetSock   *sock,
                                      HolderNetDir    *dir,
                                      gboolean         kill_users,
                                      gboolean         dry_run,
                                      HolderNetReport *report,
                                      GError         **error);

/* Restores @uplink's original forwarding value (not after a reboot, not
 * when the interface is gone) and drops its marker, unless a live network
 * other than @except_bridge still uses it, or might (a record that cannot
 * be believed). Call with the lock held. */
gboolean holder_net_uplink_release (HolderNetDir    *dir,
                                    const char      *uplink,
                                    const char      *except_bridge,
                                    gboolean         dry_run,
                                    HolderNetReport *report,
                                    GError         **error);

G_END_DECLS
