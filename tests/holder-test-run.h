/* SPDX-License-Identifier: MIT
 *
 * Running a program to its end and keeping what it printed, bounded in
 * time: for the tests of command-line tools (fleetbox-helper's arguments,
 * holderctl).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  char   *out;
  char   *err;
  int     status;      /* the exit code */
  double  elapsed_ms;
} HolderTestRun;

/* Runs @argv with @envp (NULL: this process's), stdin empty; the test
 * fails if it does not exit within @timeout_ms (it is killed first) or is
 * killed by a signal. */
void holder_test_run (const char *const *argv,
                      const char *const *envp,
                      guint              timeout_ms,
                      HolderTestRun     *run);

void holder_test_run_clear (HolderTestRun *run);

G_END_DECLS
