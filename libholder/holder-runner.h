/* SPDX-License-Identifier: MIT */
#pragma once

#if !defined(__HOLDER_H_INSIDE__) && !defined(HOLDER_COMPILATION)
#error "Only <holder.h> can be included directly."
#endif

#include <glib.h>
#include "holder-export.h"
#include "holder-backend.h"

G_BEGIN_DECLS

/**
 * SECTION:holder-runner
 * @title: The helper
 * @short_description: the helper process's entry points
 * @include: holder.h
 *
 * What fleetbox-helper is made of: holder_helper_main() parses the command
 * line and runs holder_run() or holder_run_reconcile(). A program that
 * spawns itself as its helper calls holder_main_hook() first in main().
 */

/**
 * HOLDER_RUNNER_FLAG:
 *
 * The flag that makes a program serve the members named by the argument
 * after it: `--fleetbox-runner`.
 */
#define HOLDER_RUNNER_FLAG    "--fleetbox-runner"

/**
 * HOLDER_RECONCILE_FLAG:
 *
 * The flag that makes a program reclaim what dead helpers left, then exit:
 * `--fleetbox-reconcile`.
 */
#define HOLDER_RECONCILE_FLAG "--fleetbox-reconcile"

/**
 * HOLDER_PARENT_PID_ENV:
 *
 * The variable that makes a helper bound: the pid whose death ends it
 * (`FLEETBOX_PARENT_PID`).
 */
#define HOLDER_PARENT_PID_ENV "FLEETBOX_PARENT_PID"

/**
 * holder_is_runner:
 * @argc: the number of arguments
 * @argv: (array length=argc): the arguments
 *
 * Whether @argv asks for a runner.
 *
 * Returns: %TRUE if %HOLDER_RUNNER_FLAG appears anywhere in @argv (exact
 *   match)
 */
HOLDER_EXPORT
gboolean holder_is_runner (int          argc,
                           char *const *argv);

/**
 * holder_is_reconcile:
 * @argc: the number of arguments
 * @argv: (array length=argc): the arguments
 *
 * Whether @argv asks for a reconcile.
 *
 * Returns: %TRUE if %HOLDER_RECONCILE_FLAG appears anywhere in @argv
 */
HOLDER_EXPORT
gboolean holder_is_reconcile (int          argc,
                              char *const *argv);

/**
 * holder_get_runner_vm_names:
 * @argc: the number of arguments
 * @argv: (array length=argc): the arguments
 *
 * The member names a runner was started with.
 *
 * Returns: (transfer full) (nullable): the argument after the first
 *   %HOLDER_RUNNER_FLAG, split on commas, empty pieces and repeats dropped,
 *   or %NULL when there are none. The first name is the primary.
 */
HOLDER_EXPORT
char **holder_get_runner_vm_names (int          argc,
                                   char *const *argv);

/**
 * holder_run:
 * @backend: the backend
 * @names: the members, primary first
 * @error: return location for a #GError
 *
 * Serves @names until shutdown (SIGTERM/SIGINT, the last active member
 * leaving, or a bound parent going away), then tears everything down.
 * Runs its own GMainLoop on the thread-default main context.
 *
 * Returns: %TRUE on a clean shutdown; %FALSE with @error when it could not
 *   start
 */
HOLDER_EXPORT
gboolean holder_run (const HolderBackendClass *backend,
                     const char *const        *names,
                     GError                  **error);

/**
 * holder_run_reconcile:
 * @backend: the backend
 * @error: return location for a #GError
 *
 * Builds @backend and reclaims host state left by dead helpers (each piece
 * logged at info level), then returns. Serves nothing.
 *
 * Returns: whether the reconcile succeeded
 */
HOLDER_EXPORT
gboolean holder_run_reconcile (const HolderBackendClass *backend,
                               GError                  **error);

/**
 * holder_main_hook:
 * @argc: main()'s argc
 * @argv: (array length=argc): main()'s argv
 *
 * Put first in main() of a program that spawns itself as the helper (see
 * holder_helper_spawn() with a %NULL helper path). When @argv asks for a
 * runner or a reconcile, it selects the backend from FLEETBOX_BACKEND, runs
 * it and exits the process with the helper's exit code and one-line error;
 * otherwise it returns and main() goes on.
 */
HOLDER_EXPORT
void holder_main_hook (int    argc,
                       char **argv);

/**
 * holder_helper_main:
 * @prgname: the program's name, which prefixes its messages
 * @argc: main()'s argc
 * @argv: (array length=argc): main()'s argv
 *
 * The same as a program's main(): what fleetbox-helper runs. Unknown
 * options and stray arguments get a usage message on stderr and exit
 * status 2; `--help` lists every environment variable the helper and its
 * backends read; `--verbose` (or FLEETBOX_VERBOSE=1) turns the debug log
 * on, on stderr.
 *
 * Returns: the exit code: 0 after a clean shutdown, 1 on a failure (one
 *   line on stderr), 2 on a usage error
 */
HOLDER_EXPORT
int holder_helper_main (const char *prgname,
                        int         argc,
                        char      **argv);

G_END_DECLS
