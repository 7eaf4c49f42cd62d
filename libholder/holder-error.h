/* SPDX-License-Identifier: MIT */
#pragma once

#if !defined(__HOLDER_H_INSIDE__) && !defined(HOLDER_COMPILATION)
#error "Only <holder.h> can be included directly."
#endif

#include <glib.h>
#include "holder-export.h"

G_BEGIN_DECLS

/**
 * SECTION:holder-error
 * @title: Errors
 * @short_description: the HOLDER_ERROR domain and its codes
 * @include: holder.h
 *
 * Every error libholder reports is in the %HOLDER_ERROR domain (or, for a
 * file, G_FILE_ERROR), with a code a caller can branch on and a message
 * that says what failed, where, and what to do.
 */

/**
 * HOLDER_ERROR:
 *
 * The error domain of libholder (see #HolderError).
 */
#define HOLDER_ERROR (holder_error_quark ())

/**
 * HolderError:
 * @HOLDER_ERROR_FAILED: anything not covered below
 * @HOLDER_ERROR_INVALID_NAME: a member name that cannot become a path
 * @HOLDER_ERROR_INVALID_ARGUMENT: a malformed argument, variable or spec
 * @HOLDER_ERROR_PROTOCOL: a message that does not follow protocol v2
 * @HOLDER_ERROR_NOT_FOUND: no such member, or no helper serves it
 * @HOLDER_ERROR_NETWORK_NOT_CREATED: reserve or boot before createnetwork
 * @HOLDER_ERROR_NOT_RESERVED: boot-member for a name with no reservation
 * @HOLDER_ERROR_ALREADY_RUNNING: boot-member for a member that has a VM
 * @HOLDER_ERROR_STOPPED_DURING_BOOT: the member was stopped while booting
 * @HOLDER_ERROR_BACKEND: the backend failed (create, start, IP wait, network)
 * @HOLDER_ERROR_TIMED_OUT: a bounded wait ran out
 * @HOLDER_ERROR_VERSION_MISMATCH: the peer speaks another protocol version
 * @HOLDER_ERROR_NO_BACKEND: the requested backend is not compiled in
 * @HOLDER_ERROR_PERMISSION_DENIED: the peer may not issue commands
 * @HOLDER_ERROR_HELPER_EXITED: the helper process went away
 * @HOLDER_ERROR_UNSAFE_PATH: a folder or file of the storage root that a
 *   helper refuses to use: a symbolic link where the store has a folder or
 *   file of its own, or, running as root, something another user owns or
 *   can write to (the message says what to fix)
 *
 * Error codes of the %HOLDER_ERROR domain. A client maps the error texts of
 * protocol replies back onto these codes, so callers can branch on them.
 */
typedef enum {
  HOLDER_ERROR_FAILED,
  HOLDER_ERROR_INVALID_NAME,
  HOLDER_ERROR_INVALID_ARGUMENT,
  HOLDER_ERROR_PROTOCOL,
  HOLDER_ERROR_NOT_FOUND,
  HOLDER_ERROR_NETWORK_NOT_CREATED,
  HOLDER_ERROR_NOT_RESERVED,
  HOLDER_ERROR_ALREADY_RUNNING,
  HOLDER_ERROR_STOPPED_DURING_BOOT,
  HOLDER_ERROR_BACKEND,
  HOLDER_ERROR_TIMED_OUT,
  HOLDER_ERROR_VERSION_MISMATCH,
  HOLDER_ERROR_NO_BACKEND,
  HOLDER_ERROR_PERMISSION_DENIED,
  HOLDER_ERROR_HELPER_EXITED,
  HOLDER_ERROR_UNSAFE_PATH,
} HolderError;

/**
 * holder_error_quark:
 *
 * The quark of the %HOLDER_ERROR domain.
 *
 * Returns: the quark of the %HOLDER_ERROR domain
 */
HOLDER_EXPORT
GQuark holder_error_quark (void);

G_END_DECLS
