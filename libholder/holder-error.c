/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "holder-error"

#include "holder-error.h"

G_DEFINE_QUARK (holder-error-quark, holder_error)
