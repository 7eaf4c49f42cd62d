/* SPDX-License-Identifier: MIT
 *
 * The platform layer: every facility libholder needs from the operating
 * system that POSIX does not give in one portable call. Each has a native
 * path (Linux: pidfd, SO_PEERCRED, /proc, accept4; macOS: kqueue,
 * LOCAL_PEERCRED, sysctl(KERN_PROC_PID)) and a generic POSIX path behind
 * it (a getppid() poll, GCredentials, kill() and waitid(), accept plus
 * fcntl). The generic path is taken where the native one is missing or
 * fails, and everywhere when HOLDER_PLATFORM=generic, so that one Linux
 * build tests both (the process suite runs twice).
 *
 * The native halves live in holder-platform-linux.c,
 * holder-platform-darwin.c or holder-platform-none.c (one is built, by
 * host OS); the shared logic and the generic halves in holder-platform.c.
 */
#pragma once

#include <sys/types.h>
#include <sys/socket.h>

#include <gio/gio.h>

G_BEGIN_DECLS

/* Read once, at the first call of any platform function. */
#define HOLDER_PLATFORM_ENV "HOLDER_PLATFORM"

typedef enum {
  HOLDER_PLATFORM_PATH_NATIVE,
  HOLDER_PLATFORM_PATH_GENERIC,
} HolderPlatformPath;

/* "native" (or unset, or empty) and "generic"; anything else is -1. */
int holder_platform_path_from_string (const char *value);

/* The path this process takes: HOLDER_PLATFORM, read once. An unknown
 * value is reported once and means native. */
HolderPlatformPath holder_platform_get_path (void);

/* The host's name for its native path ("linux", "darwin", "none"). */
const char *holder_platform_native_name (void);

/* ---------------------------------------------------------------- sockets */

/* Flags for send() on a connection: no SIGPIPE for a vanished peer where
 * the system has a per-call flag (Linux); elsewhere the accepted socket
 * carries SO_NOSIGPIPE instead (see holder_platform_accept()). */
#ifdef MSG_NOSIGNAL
#define HOLDER_PLATFORM_SEND_FLAGS MSG_NOSIGNAL
#else
#define HOLDER_PLATFORM_SEND_FLAGS 0
#endif

/* accept(2) on @listen_fd, returning a descriptor that is non-blocking,
 * close-on-exec and, where the system has SO_NOSIGPIPE, quiet on a broken
 * pipe; -1 with errno as accept(2) sets it. */
int holder_platform_accept (int listen_fd);
int holder_platform_accept_for (HolderPlatformPath path,
                                int                listen_fd);

/* ------------------------------------------------------- peer credentials */

typedef struct {
  uid_t uid;  /* effective uid of the peer when it connected */
  pid_t pid;  /* its pid, or -1 where the path cannot tell */
} HolderPeerCredentials;

/* The credentials of the peer of the connected Unix socket @fd (which stays
 * open and ours). */
gboolean holder_platform_peer_credentials (int                    fd,
                                           HolderPeerCredentials *out,
                                           GError               **error);
/* One path only: NATIVE fails with G_IO_ERROR_NOT_SUPPORTED where the host
 * has none (the tests try each path). */
gboolean holder_platform_peer_credentials_for (HolderPlatformPath     path,
                                               int                    fd,
                                               HolderPeerCredentials *out,
                                               GError               **error);

/* ------------------------------------------------------------ pid liveness */

/* FALSE for a pid that does not exist or is a zombie. The native paths see
 * any zombie; the generic one sees the zombies of our own children only
 * (waitid with WNOWAIT, which reaps nothing). */
gboolean holder_platform_pid_is_alive (GPid pid);
gboolean holder_platform_pid_is_alive_for (HolderPlatformPath path,
                                           GPid               pid);

/* ------------------------------------------------------------ parent watch */

/* Called once, from the source's context, when the watched parent is gone;
 * @reason says how it was noticed. The source is then destroyed. */
typedef void (*HolderParentGoneFunc) (const char *reason,
                                      gpointer    user_data);

/* A GSource that dispatches (set its callback with
 * g_source_set_callback (source, G_SOURCE_FUNC (func), ...), func being a
 * HolderParentGoneFunc) once @parent_pid is no longer our parent: at once
 * when it is not our parent now, else when it exits. Native: a pidfd
 * (Linux) or a kqueue EVFILT_PROC/NOTE_EXIT (macOS), readable the moment
 * the parent exits; generic, or when the native watch cannot be set up: a
 * getppid() poll every HOLDER_PLATFORM_PARENT_POLL_MS. */
#define HOLDER_PLATFORM_PARENT_POLL_MS 100

GSource *holder_platform_parent_watch_new (GPid parent_pid);
GSource *holder_platform_parent_watch_new_for (HolderPlatformPath path,
                                               GPid               parent_pid);

/* How @source watches: "pidfd", "kqueue", "poll", or "gone" (the parent was
 * not ours when the source was made). For logs and tests. */
const char *holder_platform_parent_watch_get_mechanism (GSource *source);

/* ------------------------------------------------------------- executable */

/* The absolute path of the running program, for spawning a helper from the
 * calling program itself. Fails where the system cannot tell. */
char *holder_platform_get_executable_path (GError **error);

/* ------------------------------------------------------------------------
 * The native halves (holder-platform-<os>.c). Each fails with
 * G_IO_ERROR_NOT_SUPPORTED where the host has no such facility; the shared
 * code then takes the generic path.
 */

/* accept(2) giving a non-blocking, close-on-exec descriptor, or -1 with
 * errno; ENOSYS where there is no native form. */
int holder_platform_native_accept (int listen_fd);

gboolean holder_platform_native_peer_credentials (int                    fd,
                                                  HolderPeerCredentials *out,
                                                  GError               **error);

typedef enum {
  HOLDER_PLATFORM_ZOMBIE_UNKNOWN,
  HOLDER_PLATFORM_ZOMBIE_YES,   /* a zombie, or gone */
  HOLDER_PLATFORM_ZOMBIE_NO,
} HolderPlatformZombie;

/* Whether the existing process @pid is a zombie, as far as the native
 * process table tells. */
HolderPlatformZombie holder_platform_native_pid_is_zombie (GPid pid);

/* A descriptor that polls readable once @pid has exited, or -1: with
 * G_IO_ERROR_NOT_FOUND when @pid does not exist (it exited already), any
 * other error when no such watch can be made. @out_mechanism names it. */
int holder_platform_native_exit_watch_open (GPid         pid,
                                            const char **out_mechanism,
                                            GError     **error);

/* Called when the descriptor polled readable: TRUE when it reports the
 * exit (the kqueue has to be read; a pidfd is readable only then). */
gboolean holder_platform_native_exit_watch_fired (int fd);

char *holder_platform_native_executable_path (GError **error);

G_END_DECLS
