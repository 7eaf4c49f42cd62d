/* SPDX-License-Identifier: MIT
 *
 * Where the cloud-hypervisor binary comes from: FLEETBOX_CH_BINARY if set,
 * else `cloud-hypervisor` on PATH, else <root>/bin/cloud-hypervisor-<version>
 * (downloaded before, SHA-256 checked), else a download of the pinned
 * release into <root>/bin/ with its SHA-256 checked (libsoup-3).
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The pinned release. */
#define HOLDER_CH_RELEASE_VERSION "v52.0"

typedef struct {
  const char *url;      /* where the pinned static build is fetched from */
  const char *sha256;   /* its lowercase hex SHA-256 */
} HolderChRelease;

/* The pinned release for this architecture, or NULL where there is none.
 * FLEETBOX_CH_DOWNLOAD_URL and FLEETBOX_CH_DOWNLOAD_SHA256 (lowercase or
 * uppercase hex), set together, replace it: for mirrors and for tests. With
 * only one of them set, the release returned refuses to download, saying
 * so. A pinned release whose SHA-256 nobody has verified yet refuses too
 * ("no verified checksum ..."), before any network use. The pointer stays
 * valid for the life of the process. */
const HolderChRelease *holder_ch_release_for_host (void);

/* The binary to run if it is already there (variable, PATH, cache), else
 * NULL with no error. A FLEETBOX_CH_BINARY that is not an executable file
 * is an error. A binary from FLEETBOX_CH_BINARY or PATH is the operator's
 * choice and is run as it is; the cached one is run only through
 * holder_ch_binary_open_verified(). */
char *holder_ch_binary_find (const char *root,
                             GError    **error);

/* <root>/bin/cloud-hypervisor-<version>: what holder_ch_binary_find
 * returns for the cache. */
char *holder_ch_binary_cache_path (const char *root);

/* The cached binary, verified for one exec or many: it is read once
 * through a descriptor (from <root>/bin reached with O_NOFOLLOW, the file
 * opened with O_NOFOLLOW) into a sealed memfd while its SHA-256 is
 * computed, and compared with @release's. The memfd (O_CLOEXEC) cannot
 * change any more: the VMM runs this very copy as /proc/self/fd/N (see
 * HolderChVmConfig.fds), so nothing the store's owner does to the file
 * after the check, by rename or by writing into it, reaches root. A
 * mismatch fails with "cached cloud-hypervisor <path> does not match its
 * pinned SHA-256 (got X, want Y): ..." and nothing is executed. Blocking
 * (it reads a few MiB): see the _async form. */
int  holder_ch_binary_open_verified (const char             *root,
                                     const HolderChRelease  *release,
                                     GError                **error);
void holder_ch_binary_open_verified_async  (const char             *root,
                                            const HolderChRelease  *release,
                                            GCancellable           *cancellable,
                                            GAsyncReadyCallback     callback,
                                            gpointer                user_data);
/* The memfd, owned by the caller, or -1. */
int  holder_ch_binary_open_verified_finish (GAsyncResult  *result,
                                            GError       **error);

/* Downloads @release into <root>/bin/ (reached with O_NOFOLLOW from a
 * checked root, see holder_store_open_folder()) through a temporary name made
 * with O_EXCL, checks its SHA-256, makes it executable through its
 * descriptor and renames it into place within that folder. Fails with a
 * clear message when offline ("download cloud-hypervisor v52.0 from <url>:
 * <why>; install cloud-hypervisor or set FLEETBOX_CH_BINARY") or on a
 * checksum mismatch. The callback runs on the caller's main context; the
 * download never blocks it. */
void holder_ch_binary_download_async (const char             *root,
                                      const HolderChRelease  *release,
                                      GCancellable           *cancellable,
                                      GAsyncReadyCallback     callback,
                                      gpointer                user_data);
char *holder_ch_binary_download_finish (GAsyncResult  *result,
                                        GError       **error);

G_END_DECLS
