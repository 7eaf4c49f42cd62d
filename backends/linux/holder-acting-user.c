/* SPDX-License-Identifier: MIT
 *
 * See holder-acting-user.h for why the switch is per thread.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-files"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "holder-backend.h"
#include "holder-acting-user.h"

/* The least privileged group, for a user with neither SUDO_GID nor a
 * passwd entry. */
#define NOGROUP_GID 65534
/* More groups than a user may have (NGROUPS_MAX is 65536 on Linux, but
 * getgrouplist() tells us the real count when the guess is short). */
#define GROUPS_GUESS 64

/* The 32-bit id calls where the plain ones take 16-bit ids (i386, arm). */
#if defined(SYS_setfsuid32)
#define SYS_SETFSUID SYS_setfsuid32
#define SYS_SETFSGID SYS_setfsgid32
#define SYS_SETGROUPS SYS_setgroups32
#else
#define SYS_SETFSUID SYS_setfsuid
#define SYS_SETFSGID SYS_setfsgid
#define SYS_SETGROUPS SYS_setgroups
#endif

/* Raw syscalls: glibc's setgroups() would apply the groups to every thread
 * of the helper. setfsuid/setfsgid return the previous value and no error;
 * asking again with an invalid id reads the current one. */
static long
thread_setfsuid (uid_t uid)
{
  return syscall (SYS_SETFSUID, uid);
}

static long
thread_setfsgid (gid_t gid)
{
  return syscall (SYS_SETFSGID, gid);
}

static long
thread_setgroups (int          n,
                  const gid_t *groups)
{
  return syscall (SYS_SETGROUPS, n, groups);
}

static gboolean
parse_id (const char *name,
          guint32    *out,
          GError    **error)
{
  const char *text = g_getenv (name);
  guint64 value = 0;

  if (text == NULL || text[0] == '\0')
    return FALSE;
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32 - 1, &value, NULL))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "%s=%s is not a user or group id", name, text);
      return FALSE;
    }
  *out = (guint32) value;
  return TRUE;
}

/* The user's passwd entry, copied out (name and group), or FALSE. */
static gboolean
lookup_passwd (uid_t   uid,
               char  **out_name,
               gid_t  *out_gid)
{
  long size = sysconf (_SC_GETPW_R_SIZE_MAX);
  g_autofree char *buffer = NULL;
  struct passwd pw, *found = NULL;

  if (size <= 0)
    size = 16384;
  buffer = g_malloc (size);
  if (getpwuid_r (uid, &pw, buffer, size, &found) != 0 || found == NULL)
    return FALSE;
  *out_name = g_strdup (pw.pw_name);
  *out_gid = pw.pw_gid;
  return TRUE;
}

HolderActingUser *
holder_acting_user_new (GError **error)
{
  g_autoptr(HolderActingUser) user = g_new0 (HolderActingUser, 1);
  g_autofree char *name = NULL;
  gid_t passwd_gid = NOGROUP_GID;
  guint32 sudo_uid = 0, sudo_gid = 0;
  GError *local_error = NULL;
  gboolean has_passwd;

  user->uid = geteuid ();
  user->gid = getegid ();
  if (user->uid != 0)
    return g_steal_pointer (&user);
  if (!parse_id ("SUDO_UID", &sudo_uid, &local_error))
    {
      if (local_error != NULL)
        {
          g_propagate_error (error, local_error);
          return NULL;
        }
      return g_steal_pointer (&user);  /* root for itself */
    }
  if (sudo_uid == 0)
    return g_steal_pointer (&user);

  user->switches = TRUE;
  user->uid = sudo_uid;
  has_passwd = lookup_passwd (user->uid, &name, &passwd_gid);
  if (parse_id ("SUDO_GID", &sudo_gid, &local_error))
    user->gid = sudo_gid;
  else if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  else
    user->gid = passwd_gid;

  /* The groups the user has at login; a uid without a passwd entry has
   * its primary group only. */
  if (has_passwd)
    {
      int n = GROUPS_GUESS;

      user->groups = g_new (gid_t, n);
      if (getgrouplist (name, user->gid, user->groups, &n) < 0)
        {
          user->groups = g_renew (gid_t, user->groups, n);
          if (getgrouplist (name, user->gid, user->groups, &n) < 0)
            n = 0;
        }
      user->n_groups = n;
    }
  if (user->n_groups == 0)
    {
      g_free (user->groups);
      user->groups = g_new (gid_t, 1);
      user->groups[0] = user->gid;
      user->n_groups = 1;
    }
  return g_steal_pointer (&user);
}

uid_t
holder_acting_user_uid (void)
{
  guint32 sudo_uid = 0;

  if (geteuid () == 0 && parse_id ("SUDO_UID", &sudo_uid, NULL) && sudo_uid != 0)
    return sudo_uid;
  return geteuid ();
}

void
holder_acting_user_free (HolderActingUser *user)
{
  if (user == NULL)
    return;
  g_free (user->groups);
  g_free (user);
}

gboolean
holder_acting_user_enter (const HolderActingUser *user,
                          HolderActingUserScope  *scope,
                          GError                **error)
{
  int n;

  g_return_val_if_fail (user != NULL && scope != NULL, FALSE);

  scope->active = FALSE;
  scope->groups = NULL;
  scope->n_groups = 0;
  if (!user->switches)
    return TRUE;
  /* The main thread's identity is the helper's: its tid is the pid. */
  if (syscall (SYS_gettid) == getpid ())
    {
      g_critical ("%s: refusing to switch the main thread to uid %u: call it on a worker "
                  "thread", G_STRFUNC, (guint) user->uid);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED,
                   "opening files as uid %u needs a worker thread", (guint) user->uid);
      return FALSE;
    }

  n = getgroups (0, NULL);
  scope->groups = g_new (gid_t, MAX (n, 1));
  scope->n_groups = n > 0 ? getgroups (n, scope->groups) : 0;
  if (scope->n_groups < 0)
    {
      int saved_errno = errno;

      g_clear_pointer (&scope->groups, g_free);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "read this thread's groups: %s",
                   g_strerror (saved_errno));
      return FALSE;
    }
  scope->active = TRUE;

  if (thread_setgroups (user->n_groups, user->groups) != 0)
    {
      int saved_errno = errno;

      holder_acting_user_leave (scope);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "take the groups of uid %u: %s", (guint) user->uid, g_strerror (saved_errno));
      return FALSE;
    }
  thread_setfsgid (user->gid);
  thread_setfsuid (user->uid);
  if ((gid_t) thread_setfsgid ((gid_t) -1) != user->gid ||
      (uid_t) thread_setfsuid ((uid_t) -1) != user->uid)
    {
      holder_acting_user_leave (scope);
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "take the filesystem identity of uid %u gid %u: not permitted",
                   (guint) user->uid, (guint) user->gid);
      return FALSE;
    }
  return TRUE;
}

void
holder_acting_user_leave (HolderActingUserScope *scope)
{
  uid_t euid = geteuid ();
  gid_t egid = getegid ();

  if (scope == NULL || !scope->active)
    return;
  /* Back at euid 0 the thread regains the filesystem capabilities that
   * the switch cleared (capabilities(7), "Effect of user ID changes");
   * CAP_SETUID and CAP_SETGID were never dropped. */
  thread_setfsuid (euid);
  thread_setfsgid (egid);
  if ((uid_t) thread_setfsuid ((uid_t) -1) != euid ||
      (gid_t) thread_setfsgid ((gid_t) -1) != egid ||
      thread_setgroups (scope->n_groups, scope->groups) != 0)
    g_error ("cannot restore this thread's own filesystem identity (uid %u): stopping "
             "rather than leave a worker thread with a user's identity", (guint) euid);
  g_clear_pointer (&scope->groups, g_free);
  scope->n_groups = 0;
  scope->active = FALSE;
}
