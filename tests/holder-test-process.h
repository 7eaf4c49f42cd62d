/* SPDX-License-Identifier: MIT
 *
 * What the process suite's programs share: a sandboxed storage root, the
 * real fleetbox-helper as a child that never outlives the test, paths
 * computed independently of the library, and raw socket I/O for byte-exact
 * checks. Linked only with the public library.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <holder.h>


G_BEGIN_DECLS

#define POLL_MS 5

/* Set by process_test_init(): helpers run under HOLDER_TEST_HELPER_WRAPPER,
 * or this test runs under valgrind; timing bounds stretch accordingly. */
extern gboolean wrapped;
extern gboolean self_slow;

typedef gboolean (*ConditionFunc) (gpointer data);

typedef struct {
  char  *dir;      /* g_dir_make_tmp() */
  char  *root;     /* <dir>/home: FLEETBOX_HOME */
  char  *record;   /* <dir>/record.ndjson: FLEETBOX_FAKE_RECORD */
  char  *program;  /* the helper, or a script running it under the wrapper */
  char **env;
} Sandbox;

guint
scaled (guint ms);

gboolean
wait_until (ConditionFunc condition,
            gpointer      data,
            guint         timeout_ms);

double
ms_since (gint64 start_usec);

void
track_pid (GPid pid);

void
untrack_pid (GPid pid);

void
on_fatal_signal (int sig);

void
process_test_init (void);

gboolean
pid_gone (GPid pid);

gboolean
pid_gone_cb (gpointer data);

void
kill_and_wait_gone (GPid pid);

char *
sha256_hex16 (const char *s);

char *
cluster_of (const char *name);

char *
expected_mac (const char *name);

void
sandbox_setenv (Sandbox    *sb,
                const char *key,
                const char *value);

Sandbox *
sandbox_new (void);

void
sandbox_free (Sandbox *sb);

char *
sock_path (Sandbox    *sb,
           const char *name);

char *
ctl_path (Sandbox    *sb,
          const char *primary);

char *
member_dir (Sandbox    *sb,
            const char *name);

char *
pidfile_path (Sandbox    *sb,
              const char *name);

GPid
read_pidfile (Sandbox    *sb,
              const char *name);

gboolean
path_exists (const char *path);

gboolean
is_socket (const char *path);

void
assert_no_helper_files (Sandbox           *sb,
                        const char *const *names);

int
unix_connect (const char *path);

gboolean
write_all (int         fd,
           const void *data,
           gsize       len);

gssize
read_once (int    fd,
           char  *buf,
           gsize  max,
           guint  timeout_ms);

char *
read_to_eof (int    fd,
             guint  timeout_ms,
             gsize *out_len);

char *
roundtrip (const char *path,
           const char *request,
           guint       timeout_ms);

char *
member_request (Sandbox    *sb,
                const char *name,
                const char *request);

char *
status_of (Sandbox    *sb,
           const char *name);

char *
expected_status (const char *name,
                 GPid        pid,
                 gboolean    running,
                 const char *ip,
                 const char *state,
                 const char *error_json);

void
assert_status (Sandbox    *sb,
               const char *name,
               GPid        pid,
               gboolean    running,
               const char *ip,
               const char *state,
               const char *error_json);

GSubprocess *
spawn_helper (Sandbox           *sb,
              const char *const *args);

GPid
subprocess_pid (GSubprocess *process);

gboolean
subprocess_reaped (gpointer data);

int
wait_exit (GSubprocess *process,
           GPid         pid,
           guint        timeout_ms);

gboolean
ready_cb (gpointer data);

void
wait_ready (Sandbox           *sb,
            GSubprocess       *process,
            GPid               pid,
            const char *const *names,
            gboolean           bound);

char *
boot_request (const char *name);

char *
reserve_request (const char *name);

char **
read_record (Sandbox *sb);

guint
record_count (Sandbox    *sb,
              const char *line);

/* ---- acting as other users (needs root) ---- */

/* The uids the tests play with: the store's owner (who ran sudo) and a
 * foreign user. Plain numbers: no account is needed. */
#define OWNER_UID 4242
#define FOREIGN_UID 4343

/* Gives the sandbox folder to @uid (0755) and makes the helper believe
 * @uid ran sudo (SUDO_UID, SUDO_GID). */
void
sandbox_own_by (Sandbox *sb,
                uid_t    uid);

/* fork() whose child runs as @uid:@uid with no supplementary groups. In the
 * child (return 0) only async-signal-safe calls may follow, then _exit(). */
pid_t
fork_as (uid_t uid);

/* Ends a fork_as() child with status 0. Through exec, not _exit(): under
 * valgrind a forked child's exit runs a leak check that sees the parent's
 * other threads' memory as lost and fails with --error-exitcode. */
G_NORETURN void
child_exit_ok (void);

/* Waits for a fork_as() child; its exit status (-1 if it was killed). */
int
wait_child (pid_t pid);

/* The helper for @names_csv as a direct child with its stderr piped. */
GSubprocess *
spawn_helper_piped (Sandbox    *sb,
                    const char *names_csv);

/* Runs the helper for @names_csv to its exit (within @timeout_ms); returns
 * its exit status and, in @out_stderr, what it wrote to stderr. */
int
run_helper_to_exit (Sandbox     *sb,
                    const char  *names_csv,
                    guint        timeout_ms,
                    char       **out_stderr);

/* The mode bits, owner and contents of @path, to compare before and after. */
char *
file_fingerprint (const char *path);

/* @text without the lines a wrapper (valgrind: "==pid== ...") added. */
char *
without_wrapper_lines (const char *text);

/* TRUE if any Unix socket bound in the system has a path containing
 * @needle (/proc/net/unix). */
gboolean
unix_socket_bound_under (const char *needle);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Sandbox, sandbox_free)

G_END_DECLS
