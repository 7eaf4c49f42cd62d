/* SPDX-License-Identifier: MIT
 *
 * The fake backend, built into libholder so that tests and the re-exec
 * hook always have it (FLEETBOX_BACKEND=fake; never chosen implicitly).
 */
#pragma once

#include "holder-backend.h"

G_BEGIN_DECLS

extern const HolderBackendClass holder_backend_fake_class;

G_END_DECLS
