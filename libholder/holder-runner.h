/* SPDX-License-Identifier: MIT */
#pragma once

#if !defined(__HOLDER_H_INSIDE__) && !defined(HOLDER_COMPILATION)
#error "Only <holder.h> can be included directly."
#endif

#include <glib.h>
#include "holder-export.h"
#include "holder-backend.h"

G_BEGIN_DECLS

#define HOLDER_RUNNER_FLAG    "--fleetbox-runner"
#define HOLDER_RECONCILE_FLAG "--fleetbox-reconcile"
#define HOLDER_PARENT_PID_ENV "FLEETBOX_PARENT_PID"

/* TRUE if HOLDER_RUNNER_FLAG appears anywhere in @argv (exact match). */
HOLDER_EXPORT
gboolean holder_is_runner (int          argc,
                           char *const *argv);

/* TRUE if HOLDER_RECONCILE_FLAG appears anywhere in @argv. */
HOLDER_EXPORT
gboolean holder_is_reconcile (int          argc,
                              char *const *argv);

/* The argument after the first HOLDER_RUNNER_FLAG, split on commas, empty
 * pieces and repeats dropped, or NULL when there are none. The first name is
 * the primary. */
HOLDER_EXPORT
char **holder_get_runner_vm_names (int          argc,
                                   char *const *argv);

/* Serves @names until shutdown (SIGTERM/SIGINT, the last active member
 * leaving, or a bound parent going away), then tears everything down.
 * Runs its own GMainLoop on the thread-default main context. Returns TRUE
 * on a clean shutdown; FALSE with @error when it could not start. */
HOLDER_EXPORT
gboolean holder_run (const HolderBackendClass *backend,
                     const char *const        *names,
                     GError                  **error);

/* Builds @backend and reclaims host state left by dead helpers, then
 * returns. Serves nothing. */
HOLDER_EXPORT
gboolean holder_run_reconcile (const HolderBackendClass *backend,
                               GError                  **error);

/* Put first in main() of a program that spawns itself as the helper (see
 * holder_helper_spawn() with a NULL helper path). When @argv asks for a
 * runner or a reconcile, it selects the backend from FLEETBOX_BACKEND, runs
 * it and exits the process with the helper's exit code and one-line error;
 * otherwise it returns and main() goes on. */
HOLDER_EXPORT
void holder_main_hook (int    argc,
                       char **argv);

/* The same as a program's main(): what fleetbox-helper runs. @prgname
 * prefixes the one-line error. Returns the exit code. */
HOLDER_EXPORT
int holder_helper_main (const char *prgname,
                        int         argc,
                        char      **argv);

G_END_DECLS
