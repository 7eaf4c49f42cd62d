/* holder.h: the only header users of libholder include.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

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
