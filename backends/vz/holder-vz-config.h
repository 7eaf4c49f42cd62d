/* SPDX-License-Identifier: MIT
 *
 * From a member spec to the shim's plain configuration: the checks that
 * can be made before Virtualization.framework is asked (so that a bad
 * spec gets a clear message rather than an NSError about a device), the
 * EFI variable store decision, and the serial log's default place.
 */
#pragma once

#include <glib.h>

#include "holder-backend.h"
#include "holder-vz-shim.h"

G_BEGIN_DECLS

#define HOLDER_VZ_MIB              (G_GUINT64_CONSTANT (1024) * 1024)
/* fleetbox's floor; the framework's own minimum is lower. */
#define HOLDER_VZ_MEMORY_MIN_BYTES (256 * HOLDER_VZ_MIB)

/* Non-empty name, disk, seed and EFI paths; no direct kernel boot; cpus
 * >= 1; memory >= 256 MiB and a multiple of 1 MiB; disk, seed and fixtures
 * exist; and, when @limits is given, cpus and memory within this Mac's
 * range. HOLDER_ERROR_INVALID_ARGUMENT with the reason. */
gboolean              holder_vz_config_validate        (const HolderMemberSpec     *spec,
                                                        const HolderVzShimHostInfo *limits,
                                                        GError                    **error);

/* A missing variable store is created (initCreatingVariableStoreAtURL);
 * an existing one is reused, so that a re-joined member keeps its boot
 * entries. */
gboolean              holder_vz_config_efi_needs_create (const char                *efi_path);

/* The spec's serial_log_path, else serial.log in the member's folder
 * (<root>/clusters/<cluster>/<name>/serial.log). */
char                 *holder_vz_config_serial_log_path (const HolderMemberSpec     *spec,
                                                        const char                 *storage_root);

/* The shim's configuration for a validated @spec with the reservation's
 * @mac; fails on a MAC that is not six hex octets. */
HolderVzShimVmConfig *holder_vz_config_new             (const HolderMemberSpec     *spec,
                                                        const char                 *mac,
                                                        const char                 *serial_log_path,
                                                        gboolean                    nested,
                                                        gboolean                    create_efi,
                                                        GError                    **error);
void                  holder_vz_config_free            (HolderVzShimVmConfig       *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderVzShimVmConfig, holder_vz_config_free)

G_END_DECLS
