/* holder-test-net.h: fixtures of the vm suite's network tests.
 *
 * A network and mount namespace of the test's own, built with `ip`
 * (fixtures only; the code under test never runs it): a fake uplink (veth
 * upl0, 10.99.0.2/24, default route via 10.99.0.1), a busy address
 * (192.168.0.1/24 on busy0) and a busy route (192.168.1.0/24), so the
 * first free subnet is 192.168.2.0/24. Then what the tests look at: links,
 * tables, forwarding, the runtime folder; children that act as another
 * user or as a VMM on a tap; the Linux network module driven in this
 * process; and sandboxes in which the real helper runs.
 *
 * SPDX-License-Identifier: MIT
 */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "holder-linux-net.h"

G_BEGIN_DECLS

#define HOLDER_TEST_UPLINK   "upl0"
/* The attacker of the safety tests: nobody. */
#define HOLDER_TEST_ATTACKER 65534

/* Enters the namespaces and builds the network. Returns NULL, or why the
 * tests must be skipped (not root, no namespaces). */
const char *holder_test_net_enter (void);

/* First in a test function: when @reason (what holder_test_net_enter()
 * returned, or another reason) is not NULL, skips the test with it and
 * returns. */
#define HOLDER_TEST_SKIP_IF(reason) \
  G_STMT_START { \
    if ((reason) != NULL) \
      { \
        g_test_skip (reason); \
        return; \
      } \
  } G_STMT_END

/* `ip <args>`, which must succeed. */
void holder_test_net_ip (const char *format,
                         ...) G_GNUC_PRINTF (1, 2);
/* Its standard output. */
char *holder_test_net_ip_output (const char *format,
                                 ...) G_GNUC_PRINTF (1, 2);

/* The names of the links starting with @prefix. */
GStrv holder_test_net_links (const char *prefix);
/* How many there are. */
guint holder_test_net_count_links (const char *prefix);
gboolean holder_test_net_link_exists (const char *name);
/* /proc/sys/net/ipv4/conf/<ifname>/forwarding */
char *holder_test_net_forwarding (const char *ifname);
/* Whether `nft list tables ip` names the table @bridge. */
gboolean holder_test_net_table_exists (const char *bridge);

/* This network namespace's folder of the runtime folder @runtime, named
 * after the namespace cookie as the library names it. */
char *holder_test_net_netns_dir (const char *runtime);
/* <that folder>/<bridge>.json: the record of the network on @bridge. */
char *holder_test_net_record_path (const char *runtime,
                                   const char *bridge);
/* What @runtime holds besides its lock: the files of this namespace's
 * folder, and every other entry (an empty namespace folder counts: close
 * and reconcile tidy it away). Each is named in a test message. */
guint holder_test_net_count_state (const char *runtime);

/* Waits for child @pid to end (again on EINTR) and stores its wait status
 * in @out_status. FALSE when waitpid() fails. */
gboolean holder_test_wait_child (GPid pid,
                                 int *out_status);
/* A line read from @fd a byte at a time, without its newline: what came
 * before the newline, end of file or an error. */
char *holder_test_read_line (int fd);

/* Runs @check in a forked child, as @uid unless it is 0, and returns its
 * answer (through a pipe: valgrind may replace the exit status). */
gboolean holder_test_check_in_child_as (uid_t          uid,
                                        gboolean     (*check) (gconstpointer data),
                                        gconstpointer  data);

/* A process attached to @tap as a VMM is, in a network namespace of its
 * own when @own_netns (where it makes a tap of that name). It waits to be
 * killed, and dies with the test. */
GPid holder_test_net_spawn_tap_user (const char *tap,
                                     gboolean    own_netns);
/* Whether child @pid still runs (not exited, not a zombie). */
gboolean holder_test_child_runs (GPid pid);
void holder_test_kill_and_reap (GPid pid);

/* ---- the Linux network module, in this process ---------------------------- */

/* holder_linux_net_create(), which must succeed. */
HolderLinuxNet *holder_test_linux_net_create (void);
/* holder_linux_net_close(), which must succeed; then @net is freed. */
void holder_test_linux_net_close (HolderLinuxNet *net);
/* holder_linux_net_reconcile() over the store @store (nullable), a dry run
 * with @dry_run, which must run. Returns its report; every entry and
 * warning is also a test message. */
HolderNetReport *holder_test_linux_net_reconcile (const char *store,
                                                  gboolean    dry_run);
/* A forked child makes a network with one tap and exits without closing
 * it. Returns the bridge; @out_tap (nullable) gets the tap. */
char *holder_test_linux_net_make_dead (char **out_tap);

/* ---- the real helper in a sandbox ---------------------------------------- */

typedef struct {
  char  *dir;     /* the sandbox, root's, 0755 */
  char  *root;    /* the store: FLEETBOX_HOME */
  char  *runtime; /* the runtime folder: FLEETBOX_RUNTIME_DIR */
  char **env;     /* for the helper: the cloud-hypervisor backend */
} HolderTestSandbox;

/* A sandbox with a store of its own, and a runtime folder of its own
 * unless @runtime (shared) is given. */
HolderTestSandbox *holder_test_sandbox_new (const char *runtime);
void holder_test_sandbox_free (HolderTestSandbox *sb);

/* <root>/run/<hash>.sock */
char *holder_test_sandbox_sock_path (HolderTestSandbox *sb,
                                     const char        *name);
/* HOLDER_TEST_HELPER with @args, in the sandbox's environment. */
GPid holder_test_sandbox_spawn (HolderTestSandbox  *sb,
                                const char *const  *args);
/* Until @name's socket accepts. */
void holder_test_sandbox_wait_serving (HolderTestSandbox *sb,
                                       const char        *name);
/* Sends @line on @name's socket; returns the connection, to read the
 * reply from later. */
int holder_test_sandbox_request_start (HolderTestSandbox *sb,
                                       const char        *name,
                                       const char        *line);
/* Whether a reply begins on @fd within @timeout_ms. */
gboolean holder_test_reply_ready (int fd,
                                  int timeout_ms);
/* The whole reply (30 s at most), and the connection closed. */
char *holder_test_request_finish (int fd);
/* Both at once. */
char *holder_test_sandbox_request (HolderTestSandbox *sb,
                                   const char        *name,
                                   const char        *line);

/* The wait status of @pid once it exits, or -1 after @timeout_ms. */
int holder_test_wait_exit (GPid  pid,
                           guint timeout_ms);
void holder_test_assert_exits_zero (GPid  pid,
                                    guint timeout_ms);
/* SIGKILL to @pid, which must die of a signal within 10 s. */
void holder_test_kill_helper (GPid pid);

/* Starts a helper serving @name in @sb and has it create its network,
 * which must get @subnet. Returns the helper's pid. */
GPid holder_test_sandbox_helper_with_network (HolderTestSandbox *sb,
                                              const char        *name,
                                              const char        *subnet);
/* No bridge, tap, record or marker (nothing in @sb's runtime folder); the
 * uplink as it was (not forwarding). */
void holder_test_sandbox_assert_nothing_left (HolderTestSandbox *sb);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderTestSandbox, holder_test_sandbox_free)

G_END_DECLS
