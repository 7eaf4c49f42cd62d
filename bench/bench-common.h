/* SPDX-License-Identifier: MIT
 *
 * What the benchmark programs share: where the build is, a fresh storage
 * root, raw status round trips on Unix sockets, percentiles, /proc readers
 * and the output format.
 *
 * Every benchmark prints human-readable lines, then one line per figure in
 * a stable form that bench/run-benchmarks.sh collects:
 *
 *     RESULT <key> <value> <unit>
 */
#pragma once

#include <glib.h>
#include <holder.h>

G_BEGIN_DECLS

/* The build directory: --build-dir DIR if given (removed from argv), else
 * the folder above the one holding this executable (BUILD/bench/...). */
char *bench_build_dir (int *argc, char ***argv);

/* BUILD/helper/fleetbox-helper; exits with a message if it is missing. */
char *bench_helper_path (const char *build_dir);

/* A fresh temporary FLEETBOX_HOME (removed by bench_remove_tree()). */
char *bench_make_root (void);
void bench_remove_tree (const char *path);

/* The caller's environment with FLEETBOX_HOME=@root and
 * FLEETBOX_BACKEND=@backend, FLEETBOX_PARENT_PID removed. */
char **bench_environ (const char *root, const char *backend);

/* "<prefix>-1" ... "<prefix>-<n>", NULL-terminated. */
char **bench_names (const char *prefix, guint n);

/* CLOCK_MONOTONIC in nanoseconds. */
gint64 bench_now_ns (void);

/* One status round trip on a raw Unix socket: connect, write
 * {"cmd":"status"}\n, read the reply to EOF, close. Returns the reply's
 * length (written to @buf, which is NUL-terminated), or -errno. */
gssize bench_status_round_trip (const char *socket_path,
                                char       *buf,
                                gsize       size);

/* Sorts @samples (nanoseconds) in place. */
void bench_sort (gint64 *samples, gsize n);
/* The @p-th percentile (0..100) of sorted @samples, nearest rank. */
gint64 bench_percentile (const gint64 *sorted, gsize n, double p);

/* A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"), or -1. */
gint64 bench_proc_status_kib (GPid pid, const char *field);

/* Pss of /proc/<pid>/smaps_rollup in KiB (shared pages divided among the
 * processes mapping them), or -1. */
gint64 bench_proc_pss_kib (GPid pid);

/* utime + stime of @pid in nanoseconds (clock-tick resolution), or -1. */
gint64 bench_proc_cpu_ns (GPid pid);

/* A bound helper (dies with this process) serving @names. */
HolderHelper *bench_spawn_bound (const char        *helper_path,
                                 const char *const *names,
                                 const char *const *envp);

/* createnetwork, then reserve and boot-member (fake backend) every name. */
void bench_fake_boot_all (const char        *root,
                          const char *const *names);

/* The reply of status for @name, checked field by field (name, pid,
 * running, state); aborts with a message if it is not well formed. */
char *bench_checked_status (const char *root,
                            const char *name,
                            GPid        pid,
                            const char *expected_state);

void bench_result (const char *key,
                   double      value,
                   const char *unit);

/* Prints the message and exits 1. */
G_NORETURN void bench_die (const char *format, ...) G_GNUC_PRINTF (1, 2);

G_END_DECLS
