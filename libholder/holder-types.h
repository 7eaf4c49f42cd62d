/* SPDX-License-Identifier: MIT */
#pragma once

#if !defined(__HOLDER_H_INSIDE__) && !defined(HOLDER_COMPILATION)
#error "Only <holder.h> can be included directly."
#endif

#include <glib.h>
#include "holder-export.h"

G_BEGIN_DECLS

/**
 * HolderMemberState:
 *
 * The states of a member, as the protocol names them. A member is *active*
 * while downloading, starting or running.
 */
typedef enum {
  HOLDER_MEMBER_STATE_DOWNLOADING,
  HOLDER_MEMBER_STATE_STARTING,
  HOLDER_MEMBER_STATE_RUNNING,
  HOLDER_MEMBER_STATE_STOPPED,
  HOLDER_MEMBER_STATE_ERROR,
} HolderMemberState;

/* "downloading", "starting", "running", "stopped", "error". */
HOLDER_EXPORT
const char *holder_member_state_to_string (HolderMemberState state);
/* Returns FALSE for a string that names no state. */
HOLDER_EXPORT
gboolean holder_member_state_from_string (const char        *string,
                                          HolderMemberState *out_state);
HOLDER_EXPORT
gboolean holder_member_state_is_active (HolderMemberState state);

/**
 * HolderMemberSpec:
 * @name: the member name (validated by the helper; it becomes a path)
 * @disk_path: the root disk (read-write)
 * @seed_path: the seed disk (read-only)
 * @fixture_paths: (nullable): further read-only disks, %NULL-terminated
 * @efi_path: (nullable): EFI variable store (vz)
 * @cpus: vCPU count
 * @memory_bytes: guest memory
 * @serial_log_path: (nullable): where the guest's serial console goes
 * @kernel_path: (nullable): direct boot kernel (project addition)
 * @initramfs_path: (nullable): direct boot initramfs (project addition)
 * @cmdline: (nullable): direct boot kernel command line (project addition)
 *
 * What a client hands the helper to boot one member: ready paths and sizing.
 * It never carries a MAC or an IP: the helper owns those (reserve).
 * Empty optional strings are stored as %NULL.
 */
typedef struct {
  char    *name;
  char    *disk_path;
  char    *seed_path;
  char   **fixture_paths;
  char    *efi_path;
  gint64   cpus;
  guint64  memory_bytes;
  char    *serial_log_path;
  char    *kernel_path;
  char    *initramfs_path;
  char    *cmdline;
} HolderMemberSpec;

HOLDER_EXPORT
HolderMemberSpec *holder_member_spec_new (const char *name);
HOLDER_EXPORT
HolderMemberSpec *holder_member_spec_copy (const HolderMemberSpec *spec);
HOLDER_EXPORT
void holder_member_spec_free (HolderMemberSpec *spec);

/**
 * HolderReservation:
 * @ip: (nullable): the static IPv4 address, %NULL on DHCP-style backends
 * @mac: the NIC's MAC address
 */
typedef struct {
  char *ip;
  char *mac;
} HolderReservation;

HOLDER_EXPORT
HolderReservation *holder_reservation_new (const char *ip,
                                           const char *mac);
HOLDER_EXPORT
HolderReservation *holder_reservation_copy (const HolderReservation *reservation);
HOLDER_EXPORT
void holder_reservation_free (HolderReservation *reservation);

/**
 * HolderStatus:
 * @name: the member name
 * @pid: the helper's pid (0 when read from the store with no helper)
 * @running: %TRUE exactly when the member is active
 * @ip: the member's address, "" when unknown (never %NULL)
 * @state: the state as the wire names it (see #HolderMemberState)
 * @error: (nullable): the backend's message for a member in error
 */
typedef struct {
  char     *name;
  gint64    pid;
  gboolean  running;
  char     *ip;
  char     *state;
  char     *error;
} HolderStatus;

HOLDER_EXPORT
HolderStatus *holder_status_copy (const HolderStatus *status);
HOLDER_EXPORT
void holder_status_free (HolderStatus *status);

/**
 * HolderRequest:
 * @cmd: the command ("status", "stop", "createnetwork", "reserve", "boot-member")
 * @name: (nullable): the member, for reserve
 * @ip_hint: (nullable): the preferred address, for reserve
 * @spec: (nullable): the member to boot, for boot-member
 */
typedef struct {
  char             *cmd;
  char             *name;
  char             *ip_hint;
  HolderMemberSpec *spec;
} HolderRequest;

HOLDER_EXPORT
HolderRequest *holder_request_new (const char *cmd);
HOLDER_EXPORT
void holder_request_free (HolderRequest *request);

/**
 * HolderReply:
 * @error: (nullable): the error text; set exactly when the command failed
 * @status: (nullable): for status
 * @subnet: (nullable): for createnetwork on a static-address backend
 * @reservation: (nullable): for reserve
 *
 * A plain success has every field %NULL and is written `{}`.
 */
typedef struct {
  char              *error;
  HolderStatus      *status;
  char              *subnet;
  HolderReservation *reservation;
} HolderReply;

HOLDER_EXPORT
HolderReply *holder_reply_new (void);
HOLDER_EXPORT
void holder_reply_free (HolderReply *reply);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderMemberSpec, holder_member_spec_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderReservation, holder_reservation_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderStatus, holder_status_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderRequest, holder_request_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderReply, holder_reply_free)

G_END_DECLS
