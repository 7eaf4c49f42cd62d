/* SPDX-License-Identifier: MIT
 *
 * The busybox test guest (tests/guest) as a member: what the vm tests of
 * every backend hand boot-member.
 */
#pragma once

#include <holder.h>

G_BEGIN_DECLS

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
