/* SPDX-License-Identifier: MIT
 *
 * The write-ahead records of the cluster networks, under <root>/networks/:
 *
 *   fbx-1a2b3c4d.json   one per bridge (HolderNetRecord)
 *   uplink-eth0.json    one per uplink whose forwarding a cluster turned on,
 *                       holding its original value (first writer wins)
 *   .lock               flock()ed while records and markers change hands
 *
 * Every file is written to a temporary name and renamed. Names read back
 * are checked strictly (fbx-/fbt- plus 8 hex digits): reconcile deletes
 * links by these names, so a damaged record must never name eth0.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Who owns a record: a pid alone could be reused, so its start time (field
 * 22 of /proc/<pid>/stat) and the boot id come along. */
typedef struct {
  GPid     pid;
  guint64  start_time;
  char    *boot_id;
} HolderNetOwner;

typedef struct {
  char           *bridge;
  char           *subnet;
  HolderNetOwner  owner;
  char           *uplink;                     /* nullable */
  char           *uplink_forwarding_original; /* nullable */
  GPtrArray      *taps;                       /* of char * */
} HolderNetRecord;

typedef struct {
  char *uplink;
  char *original;
  char *boot_id;
} HolderNetMarker;

#define HOLDER_NET_BRIDGE_PREFIX "fbx-"
#define HOLDER_NET_TAP_PREFIX    "fbt-"
#define HOLDER_NET_MARKER_PREFIX "uplink-"

/* "fbx-" + 8 random lowercase hex digits. */
char *holder_net_random_name (const char *prefix);
gboolean holder_net_name_is_valid (const char *name,
                                   const char *prefix);

char *holder_net_boot_id (void);
gboolean holder_net_owner_init_self (HolderNetOwner *owner,
                                     GError        **error);
void holder_net_owner_clear (HolderNetOwner *owner);
/* Alive, not a zombie, same start time, same boot. */
gboolean holder_net_owner_is_alive (const HolderNetOwner *owner);

HolderNetRecord *holder_net_record_new (void);
void holder_net_record_free (HolderNetRecord *record);
char *holder_net_record_path (const char *dir,
                              const char *bridge);
gboolean holder_net_record_save (const HolderNetRecord *record,
                                 const char            *dir,
                                 GError               **error);
HolderNetRecord *holder_net_record_load (const char *path,
                                         GError    **error);
gboolean holder_net_record_has_tap (const HolderNetRecord *record,
                                    const char            *tap);

HolderNetMarker *holder_net_marker_new (const char *uplink,
                                        const char *original,
                                        const char *boot_id);
void holder_net_marker_free (HolderNetMarker *marker);
char *holder_net_marker_path (const char *dir,
                              const char *uplink);
gboolean holder_net_marker_save (const HolderNetMarker *marker,
                                 const char            *dir,
                                 GError               **error);
HolderNetMarker *holder_net_marker_load (const char *path,
                                         GError    **error);

/* Removes @path; a missing file counts as removed. */
gboolean holder_net_file_remove (const char *path,
                                 GError    **error);

/* Takes the folder's lock (blocking); returns the fd to close. */
int holder_net_lock (const char *dir,
                     GError    **error);
void holder_net_unlock (int fd);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderNetRecord, holder_net_record_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderNetMarker, holder_net_marker_free)

G_END_DECLS
