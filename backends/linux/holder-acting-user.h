/* SPDX-License-Identifier: MIT
 *
 * Whom the helper acts for when it opens the files a spec names, and a
 * scope in which the calling worker thread has that user's filesystem
 * identity.
 *
 * A helper running as root under sudo (euid 0, SUDO_UID set to another
 * uid) works for that user: SUDO_UID, SUDO_GID (else the user's passwd
 * group, else 65534) and the user's supplementary groups. Otherwise it
 * acts for itself and nothing switches. Under the current peer rules
 * (holder-peer.c) the only non-root peer a root helper accepts is
 * SUDO_UID, so the environment names the same user as the peer of any
 * boot-member that is not root's own.
 *
 * Why a per-thread switch rather than a forked child: the filesystem uid
 * and gid (setfsuid, setfsgid) and the supplementary groups are
 * attributes of the calling thread in the kernel; only glibc's wrappers
 * broadcast setgroups to every thread, so the raw syscalls change one
 * worker thread and nothing else. The opens then run in the helper's
 * own process, the descriptors need no SCM_RIGHTS trip, errors keep their
 * errno, and the worker costs one thread of GLib's pool instead of a
 * fork of a process with a main loop and several threads. The switch is
 * refused on the main thread (its identity is the whole helper's), and a
 * scope that cannot be left aborts the helper: a pool thread must never
 * go back to the pool with the user's identity.
 */
#pragma once

#include <sys/types.h>

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  gboolean  switches;   /* root acting for another uid: the scope switches */
  uid_t     uid;
  gid_t     gid;
  gid_t    *groups;     /* supplementary groups, @n_groups of them */
  int       n_groups;
} HolderActingUser;

/* Whom this process acts for, from its euid and the environment. May ask
 * NSS for the user's groups, which can block: call it off the main loop.
 * Fails only on a SUDO_UID or SUDO_GID that is not a number. */
HolderActingUser *holder_acting_user_new (GError **error);

/* Only the uid of that user (no NSS, never blocks): this process's euid,
 * or a root helper's valid non-zero SUDO_UID. */
uid_t holder_acting_user_uid (void);
void              holder_acting_user_free (HolderActingUser *user);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderActingUser, holder_acting_user_free)

/* What holder_acting_user_enter() changed, to be undone. */
typedef struct {
  gboolean  active;
  gid_t    *groups;
  int       n_groups;
} HolderActingUserScope;

/* Gives the calling thread @user's filesystem identity (groups, fsgid,
 * fsuid) until holder_acting_user_leave(). Does nothing when @user does
 * not switch. Never on the main thread. */
gboolean holder_acting_user_enter (const HolderActingUser *user,
                                   HolderActingUserScope  *scope,
                                   GError                **error);

/* Restores the thread's own identity; aborts if the kernel refuses. Safe
 * on a scope that was never entered. */
void holder_acting_user_leave (HolderActingUserScope *scope);

G_END_DECLS
