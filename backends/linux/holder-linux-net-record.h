/* SPDX-License-Identifier: MIT
 *
 * The write-ahead records of the cluster networks, in the namespace's
 * folder of the root-owned runtime folder (holder-linux-net-dir.h):
 *
 *   fbx-1a2b3c4d.json   one per bridge (HolderNetRecord)
 *   uplink-eth0.json    one per uplink whose forwarding a cluster turned on,
 *                       holding its original value (first writer wins)
 *
 * Every file is written to a temporary name and renamed, and read only if
 * the helper's euid wrote it (holder_net_file_is_trusted). Names read back
 * are checked strictly (fbx-/fbt- plus 8 hex digits): reconcile deletes
 * links by these names, so a damaged record must never name eth0.
 */
#pragma once

#include <glib.h>

#include "holder-linux-net-dir.h"

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
/* "fbx-1a2b3c4d.json" */
char *holder_net_record_name (const char *bridge);
/* Whether @name is a record's file name: a valid bridge name + ".json". */
gboolean holder_net_name_is_record (const char *name);
gboolean holder_net_record_save (const HolderNetRecord *record,
                                 HolderNetDir          *dir,
                                 GError               **error);
/* Reads record @name of @dir: only a trusted file, only a record that
 * describes the bridge it is named after, with valid names. */
HolderNetRecord *holder_net_record_load (HolderNetDir *dir,
                                         const char   *name,
                                         GError      **error);
gboolean holder_net_record_has_tap (const HolderNetRecord *record,
                                    const char            *tap);

HolderNetMarker *holder_net_marker_new (const char *uplink,
                                        const char *original,
                                        const char *boot_id);
void holder_net_marker_free (HolderNetMarker *marker);
/* "uplink-eth0.json" */
char *holder_net_marker_name (const char *uplink);
/* Whether @name looks like a marker's file name ("uplink-*.json"). */
gboolean holder_net_name_is_marker (const char *name);
gboolean holder_net_marker_save (const HolderNetMarker *marker,
                                 HolderNetDir          *dir,
                                 GError               **error);
HolderNetMarker *holder_net_marker_load (HolderNetDir *dir,
                                         const char   *name,
                                         GError      **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderNetRecord, holder_net_record_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderNetMarker, holder_net_marker_free)

G_END_DECLS
