/* holder-spawn.h: a child process started without waiting for its exec.
 *
 * GLib's spawn blocks the calling thread until the child has exec'd (to
 * report an exec failure as a GError). For a VMM that is a fork, the
 * child's set-up and an execve on the main thread, a millisecond or more
 * when the CPUs are busy, and concurrent boots queue behind it. Here the
 * parent returns once fork() has; an exec failure comes back with the
 * child's exit (status 127) and holder_spawn_exec_error().
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  GPid pid;
  int  stderr_fd;  /* the read end of the child's stderr; CLOEXEC */
  int  report_fd;  /* carries the exec's errno, if it failed; CLOEXEC */
} HolderSpawn;

/* Starts @argv (argv[0] a path: absolute, or /proc/self/fd/N once the
 * descriptors are in place) with the environment of this process. The
 * child gets /dev/null for stdin and stdout, a pipe for stderr, @fds[i]
 * as descriptor @first_fd + i, and no other descriptor; it dies with the
 * thread that called this (PR_SET_PDEATHSIG), so call it from the main
 * thread. The caller owns the child: reap it with a child watch, and
 * close the two descriptors. */
gboolean holder_spawn_start (const char *const *argv,
                             const int         *fds,
                             guint              n_fds,
                             int                first_fd,
                             HolderSpawn       *spawn,
                             GError           **error);

/* Once the child has exited: why its exec failed, or NULL if it ran.
 * Reads @report_fd without blocking. */
char *holder_spawn_exec_error (int report_fd);

G_END_DECLS
