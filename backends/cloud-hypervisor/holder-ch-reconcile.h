/* SPDX-License-Identifier: MIT
 *
 * What reconcile removes for the cloud-hypervisor backend beyond the
 * network: the API sockets (<root>/run/<hash>.fbt-<8 hex>.api) that VMMs
 * killed without a chance to clean up left behind.
 */
#pragma once

#include "holder-linux-net.h"

G_BEGIN_DECLS

/* Removes (with @dry_run: reports) every API socket under
 * @storage_root/run/ that belongs to no live VMM: its tap is in no record
 * of a live helper, and nothing listens on it. Only names of exactly that
 * pattern are looked at, only sockets are removed, and the folder is
 * reached without following a symbolic link. Blocks: call it on a worker
 * thread. */
void holder_ch_reconcile_api_sockets (const char      *storage_root,
                                      gboolean         dry_run,
                                      HolderNetReport *report);

/* Whether @name is "<16 hex>.fbt-<8 hex>.api"; @out_tap gets the tap. */
gboolean holder_ch_api_socket_name_parse (const char  *name,
                                          char       **out_tap);

G_END_DECLS
