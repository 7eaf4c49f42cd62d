/* SPDX-License-Identifier: MIT
 *
 * The busybox test guest (tests/guest) as a member: what the vm tests of
 * every backend hand boot-member.
 */
#pragma once

#include <holder.h>

G_BEGIN_DECLS

/* Runs @command_line (split as a shell would, run without one). On failure
 * the message has the command and what it printed on standard error. */
gboolean holder_test_run_command (const char  *command_line,
                                  GError     **error);

/* NULL when the test guest was built and every variable of @needed_env
 * (NULL-terminated: the programs meson test hands the test) is set, else
 * why not, worded for a skip. */
char *holder_test_guest_skip_reason (const char *const *needed_env);

typedef enum {
  HOLDER_TEST_GUEST_NS_NONE      = 0,
  /* Orphaned VMMs and qemus come to the test, which can see them die. Not
   * for a test that waits for a detached helper to be gone: a zombie still
   * answers kill (pid, 0). */
  HOLDER_TEST_GUEST_NS_SUBREAPER = 1 << 0,
  /* Fail, rather than go on, when /sys cannot show the new namespace. */
  HOLDER_TEST_GUEST_NS_NEED_SYSFS = 1 << 1,
} HolderTestGuestNsFlags;

/* For the tests that boot the test guest on bridges and taps: checks root,
 * holder_test_guest_skip_reason (@needed_env), qemu and /dev/net/tun, then
 * moves this process into a network and mount namespace of its own (mounts
 * private, /sys remounted for it, lo up). NULL on success, else why the
 * test must skip. */
char *holder_test_guest_enter_namespace (const char *const      *needed_env,
                                         HolderTestGuestNsFlags  flags);

/* A spec that direct-boots the test guest (HOLDER_TEST_GUEST_KERNEL and
 * HOLDER_TEST_GUEST_INITRAMFS) with small blank disks under
 * <root>/disks/<name>/ (made once), 1 vCPU and 256 MiB. The guest takes
 * @ip/24 and reports on its serial log (@serial_log_path) when it reaches
 * each of @peers (NULL-terminated, may be NULL) on port 22. */
HolderMemberSpec *holder_test_guest_spec (const char        *root,
                                          const char        *name,
                                          const char        *ip,
                                          const char *const *peers,
                                          const char        *serial_log_path);

G_END_DECLS
