/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The files a helper records in a member's folder (holder-store-info.c). */
#define HOLDER_STORE_INFO_BACKEND "backend"
#define HOLDER_STORE_INFO_CONSOLE "console"
/* The serial log a backend writes when the spec names none. */
#define HOLDER_STORE_DEFAULT_CONSOLE "serial.log"

/* holder_store_resolve_root() against @envp instead of this process's
 * environment (NULL: this process's): the root a helper started with @envp
 * will use. */
char *holder_store_resolve_root_for_environ (const char *const *envp,
                                             GError           **error);

/* Replaces the member folder's file @file with @value (one line, mode
 * 0644), or removes it when @value is NULL. */
gboolean holder_store_record_member_info (const char  *root,
                                          const char  *name,
                                          const char  *file,
                                          const char  *value,
                                          GError     **error);

G_END_DECLS
