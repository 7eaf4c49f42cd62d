/* holder.h: the only header users of libholder include.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

/**
 * SECTION:holder
 * @title: Using libholder
 * @short_description: the one header, and building against it
 * @include: holder.h
 *
 * Include `<holder.h>` and nothing else: the other headers refuse to be
 * included on their own. Build with `pkg-config --cflags --libs holder`.
 * A client spawns a helper per cluster (holder_helper_spawn()), creates
 * its network, reserves and boots members (holder_client_*()) and stops
 * them; see examples/holder-demo.c for a complete one. A backend module
 * includes `<holder/holder-backend.h>` alone (see #HolderBackendClass).
 */

#define __HOLDER_H_INSIDE__

#include "holder-version.h"
#include "holder-export.h"
#include "holder-error.h"
#include "holder-types.h"
#include "holder-store.h"
#include "holder-backend.h"
#include "holder-runner.h"
#include "holder-client.h"

#undef __HOLDER_H_INSIDE__
