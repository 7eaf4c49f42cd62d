/* SPDX-License-Identifier: MIT
 *
 * The protocol v2 codec: requests and replies to and from their wire bytes.
 *
 * Output is byte-compatible with Go's encoding/json (json.Encoder with its
 * default HTML escaping): struct field order, compact, omitted empty fields,
 * `<` `>` `&` U+2028 U+2029 as \u escapes, invalid UTF-8 as U+FFFD.
 * Input follows Go's json.Unmarshal where it matters to clients: unknown
 * keys ignored, null means absent, key match exact first then ASCII
 * case-insensitive, a value of the wrong type is an error.
 */
#pragma once

#include "holder-types.h"

G_BEGIN_DECLS

/* Largest request line the server reads, newline included. A line that
 * grows past it is refused without being buffered further. */
#define HOLDER_CODEC_MAX_LINE (1024 * 1024)

/* Appends @s as a JSON string literal (with quotes), Go-style. */
void holder_json_append_string (GString    *out,
                                const char *s);

/* Serialises with the trailing '\n'. */
char *holder_request_serialize (const HolderRequest *request,
                                gsize               *out_len);
char *holder_reply_serialize   (const HolderReply   *reply,
                                gsize               *out_len);

/* Parses one message (the trailing newline is optional). Errors are
 * HOLDER_ERROR_PROTOCOL with a message fit for an error reply, such as
 * `invalid request: "cmd" must be a string`. */
HolderRequest *holder_request_parse (const char *data,
                                     gsize       len,
                                     GError    **error);
HolderReply   *holder_reply_parse   (const char *data,
                                     gsize       len,
                                     GError    **error);

/* Maps a reply's error text onto a HolderError code by its prefix (the
 * texts of docs/protocol.md, section 7). */
int holder_error_code_from_reply_text (const char *text);

G_END_DECLS
