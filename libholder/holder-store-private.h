/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* holder_store_resolve_root() against @envp instead of this process's
 * environment (NULL: this process's): the root a helper started with @envp
 * will use. */
char *holder_store_resolve_root_for_environ (const char *const *envp,
                                             GError           **error);

G_END_DECLS
