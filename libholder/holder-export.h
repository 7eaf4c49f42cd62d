/* SPDX-License-Identifier: MIT */
#pragma once

#if !defined(__HOLDER_H_INSIDE__) && !defined(HOLDER_COMPILATION)
#error "Only <holder.h> can be included directly."
#endif

/* libholder is built with -fvisibility=hidden: only what carries this macro
 * is part of the ABI. */
#if defined(HOLDER_COMPILATION)
#define HOLDER_EXPORT __attribute__((visibility("default"))) extern
#else
#define HOLDER_EXPORT extern
#endif
