/* holder-platform-none.c: the native half of the platform layer where
 * there is none (neither Linux nor macOS): every facility reports itself
 * missing, so that the generic POSIX path is taken.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-platform"

#include <errno.h>

#include "holder-platform-private.h"

const char *
holder_platform_native_name (void)
{
  return "none";
}

int
holder_platform_native_accept (int listen_fd)
{
  errno = ENOSYS;
  return -1;
}

gboolean
holder_platform_native_peer_credentials (int                    fd,
                                         HolderPeerCredentials *out,
                                         GError               **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "no native peer credentials on this platform");
  return FALSE;
}

HolderPlatformZombie
holder_platform_native_pid_is_zombie (GPid pid)
{
  return HOLDER_PLATFORM_ZOMBIE_UNKNOWN;
}

int
holder_platform_native_exit_watch_open (GPid         pid,
                                        const char **out_mechanism,
                                        GError     **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "no native process exit watch on this platform");
  return -1;
}

gboolean
holder_platform_native_exit_watch_fired (int fd)
{
  return FALSE;
}

char *
holder_platform_native_executable_path (GError **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "cannot find the running program on this platform: "
                       "pass the helper's path explicitly");
  return NULL;
}
