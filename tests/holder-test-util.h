/* SPDX-License-Identifier: MIT
 *
 * Small things every test program may need: removing a scratch tree, and
 * watching processes die without being fooled by zombies (PID 1 on these
 * machines does not reap orphans).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes @path and everything below it; never follows symbolic links;
 * makes folders writable first so that tests may leave read-only ones. */
void holder_test_remove_tree (const char *path);

/* Dead: gone, or a zombie (reaped here when it is ours to reap). */
gboolean holder_test_pid_is_dead (GPid pid);

/* The parent of @pid, or 0 when it is gone. */
GPid holder_test_parent_of (GPid pid);

/* The live descendants of @ancestor (up to 8 generations deep). */
GArray *holder_test_descendants_of (GPid ancestor);

/* TRUE when @path exists and contains @needle. */
gboolean holder_test_file_contains (const char *path,
                                    const char *needle);

/* Polls @path (another process writes it) until it contains @needle; fails
 * the test after @timeout_s, showing the file. */
void holder_test_wait_for_file (const char *path,
                                const char *needle,
                                guint       timeout_s);

/* What `ip neigh show to @ip` says in this network namespace, stripped
 * ("" when there is no entry): "A.B.C.D dev fbx-... lladdr M PERMANENT". */
char *holder_test_neighbour_of (const char *ip);

/* Whether @ip has a permanent neighbour entry for @mac (on any link whose
 * name starts with @link_prefix). */
gboolean holder_test_has_permanent_neighbour (const char *ip,
                                              const char *mac,
                                              const char *link_prefix);

G_END_DECLS
