/* SPDX-License-Identifier: MIT */
#pragma once

#if !defined(__HOLDER_H_INSIDE__) && !defined(HOLDER_COMPILATION)
#error "Only <holder.h> can be included directly."
#endif

#include <glib.h>
#include "holder-export.h"

G_BEGIN_DECLS

/**
 * SECTION:holder-types
 * @title: Protocol types
 * @short_description: members, specs, reservations, statuses, requests and replies
 * @include: holder.h
 *
 * The values protocol v2 carries, as C structs with their constructors,
 * copies and frees. Empty optional strings are stored as %NULL.
 */

/**
 * HolderMemberState:
 * @HOLDER_MEMBER_STATE_DOWNLOADING: its backend fetches what the VM needs
 * @HOLDER_MEMBER_STATE_STARTING: registered, or its VM is booting
 * @HOLDER_MEMBER_STATE_RUNNING: its VM is up and its IP known
 * @HOLDER_MEMBER_STATE_STOPPED: stopped on request (or during a shutdown)
 * @HOLDER_MEMBER_STATE_ERROR: its boot failed, or its VM died on its own
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

/**
 * holder_member_state_to_string:
 * @state: a state
 *
 * Names a state as the protocol does.
 *
 * Returns: the state's name on the wire: "downloading", "starting",
 *   "running", "stopped" or "error"
 */
HOLDER_EXPORT
const char *holder_member_state_to_string (HolderMemberState state);

/**
 * holder_member_state_from_string:
 * @string: a state's name on the wire
 * @out_state: (out): the state it names
 *
 * Parses a state's name.
 *
 * Returns: %FALSE for a string that names no state
 */
HOLDER_EXPORT
gboolean holder_member_state_from_string (const char        *string,
                                          HolderMemberState *out_state);

/**
 * holder_member_state_is_active:
 * @state: a state
 *
 * Whether @state is active.
 *
 * Returns: %TRUE for the active states (downloading, starting, running):
 *   a helper lives while one of its members is active
 */
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

/**
 * holder_member_spec_new:
 * @name: (nullable): the member's name
 *
 * Makes a spec for @name.
 *
 * Returns: (transfer full): a spec for @name with empty disk and seed paths,
 *   no vCPU and no memory: fill it in
 */
HOLDER_EXPORT
HolderMemberSpec *holder_member_spec_new (const char *name);

/**
 * holder_member_spec_copy:
 * @spec: a spec
 *
 * Copies a spec.
 *
 * Returns: (transfer full): a deep copy of @spec
 */
HOLDER_EXPORT
HolderMemberSpec *holder_member_spec_copy (const HolderMemberSpec *spec);

/**
 * holder_member_spec_free:
 * @spec: (nullable): a spec
 *
 * Frees @spec and every string it holds.
 */
HOLDER_EXPORT
void holder_member_spec_free (HolderMemberSpec *spec);

/**
 * HolderReservation:
 * @ip: (nullable): the static IPv4 address, %NULL on DHCP-style backends
 * @mac: the NIC's MAC address
 *
 * What `reserve` gives a member: its address and MAC, for as long as the
 * helper lives.
 */
typedef struct {
  char *ip;
  char *mac;
} HolderReservation;

/**
 * holder_reservation_new:
 * @ip: (nullable): the address, %NULL on a DHCP-style backend
 * @mac: the MAC address
 *
 * Makes a reservation.
 *
 * Returns: (transfer full): a reservation holding copies of @ip and @mac
 */
HOLDER_EXPORT
HolderReservation *holder_reservation_new (const char *ip,
                                           const char *mac);

/**
 * holder_reservation_copy:
 * @reservation: a reservation
 *
 * Copies a reservation.
 *
 * Returns: (transfer full): a copy of @reservation
 */
HOLDER_EXPORT
HolderReservation *holder_reservation_copy (const HolderReservation *reservation);

/**
 * holder_reservation_free:
 * @reservation: (nullable): a reservation
 *
 * Frees @reservation.
 */
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
 *
 * A member's status, as `status` reports it.
 */
typedef struct {
  char     *name;
  gint64    pid;
  gboolean  running;
  char     *ip;
  char     *state;
  char     *error;
} HolderStatus;

/**
 * holder_status_copy:
 * @status: a status
 *
 * Copies a status.
 *
 * Returns: (transfer full): a copy of @status
 */
HOLDER_EXPORT
HolderStatus *holder_status_copy (const HolderStatus *status);

/**
 * holder_status_free:
 * @status: (nullable): a status
 *
 * Frees @status.
 */
HOLDER_EXPORT
void holder_status_free (HolderStatus *status);

/**
 * HolderRequest:
 * @cmd: the command ("status", "stop", "createnetwork", "reserve", "boot-member")
 * @name: (nullable): the member, for reserve
 * @ip_hint: (nullable): the preferred address, for reserve
 * @spec: (nullable): the member to boot, for boot-member
 *
 * One request of protocol v2.
 */
typedef struct {
  char             *cmd;
  char             *name;
  char             *ip_hint;
  HolderMemberSpec *spec;
} HolderRequest;

/**
 * holder_request_new:
 * @cmd: the command
 *
 * Makes a request.
 *
 * Returns: (transfer full): a request for @cmd with every other field %NULL
 */
HOLDER_EXPORT
HolderRequest *holder_request_new (const char *cmd);

/**
 * holder_request_free:
 * @request: (nullable): a request
 *
 * Frees @request and its spec.
 */
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

/**
 * holder_reply_new:
 *
 * Makes an empty reply.
 *
 * Returns: (transfer full): a plain success (`{}`): every field %NULL
 */
HOLDER_EXPORT
HolderReply *holder_reply_new (void);

/**
 * holder_reply_free:
 * @reply: (nullable): a reply
 *
 * Frees @reply and what it holds.
 */
HOLDER_EXPORT
void holder_reply_free (HolderReply *reply);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderMemberSpec, holder_member_spec_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderReservation, holder_reservation_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderStatus, holder_status_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderRequest, holder_request_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderReply, holder_reply_free)

G_END_DECLS
