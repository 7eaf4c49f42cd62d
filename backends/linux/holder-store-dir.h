/* SPDX-License-Identifier: MIT
 *
 * Folders of the storage root, reached the way a root process must reach
 * anything in a folder a user controls (systemd's chase(), crun's
 * safe_openat): the root is opened once, then every component below it
 * with openat(O_NOFOLLOW|O_DIRECTORY), so that a symbolic link planted in
 * the store cannot send the helper elsewhere. Running as root, each folder
 * must also be owned by root, by the helper's euid or by the user it acts
 * for, and be writable by nobody else; the message names the folder and
 * the command that fixes it.
 *
 * (A backend may include only holder-backend.h from libholder, so this
 * small walk lives here; it applies the same rule as the store.)
 */
#pragma once

#include <sys/types.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* Opens <root>/<components[0]>/<components[1]>/... and returns an
 * O_DIRECTORY|O_CLOEXEC descriptor, or -1 with @error set. With @create,
 * missing folders below the root are made (0755). @user_uid is the uid the
 * helper acts for (it may own folders too). */
int holder_store_dir_open (const char        *root,
                           const char *const *components,
                           gboolean           create,
                           uid_t              user_uid,
                           GError           **error);

/* The member's folder, <root>/clusters/<cluster>/<name>, made if missing. */
int holder_store_dir_open_member (const char *root,
                                  const char *name,
                                  uid_t       user_uid,
                                  GError    **error);

G_END_DECLS
