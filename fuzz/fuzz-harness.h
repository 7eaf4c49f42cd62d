/* SPDX-License-Identifier: MIT
 *
 * The one entry point the fuzzers (fuzz/fuzz-request.c, fuzz/fuzz-reply.c)
 * and the regression test (tests/test-fuzz-regressions.c) share: bytes from
 * a peer go through the wire framing and the codec, and every property the
 * rest of the project relies on is checked. A broken property aborts, which
 * libFuzzer reports as a crash and GTest as a failed test.
 *
 * Static functions in a header because the test suites are built one source
 * file per program.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "holder-codec-private.h"
#include "holder-error.h"
#include "holder-util-private.h"

typedef enum {
  /* Nothing reaches the decoder: an empty input (the peer closed without
   * writing) or a line over HOLDER_CODEC_MAX_LINE (refused unread). */
  HOLDER_FUZZ_NO_MESSAGE,
  /* The decoder refused the line with HOLDER_ERROR_PROTOCOL. */
  HOLDER_FUZZ_REJECTED,
  /* The decoder accepted it and its re-serialisation round-trips. */
  HOLDER_FUZZ_ROUND_TRIPPED,
} HolderFuzzOutcome;

G_GNUC_NORETURN G_GNUC_PRINTF (1, 2) static inline void
holder_fuzz_fail (const char *format,
                  ...)
{
  va_list args;

  va_start (args, format);
  fputs ("holder fuzz property broken: ", stderr);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  abort ();
}

/* The framing both ends apply (holder-server.c on_conn_read, holder-client.c
 * send_read_cb): the message is everything up to and including the first
 * '\n' when that newline lies within the first HOLDER_CODEC_MAX_LINE bytes;
 * a peer that closes its side without a newline still sent a message (all
 * it wrote, if that is under the cap). Bytes after the newline are never
 * read: one message per connection. Returns FALSE when nothing is parsed. */
static inline gboolean
holder_fuzz_frame (const guint8 *data,
                   gsize         size,
                   gsize        *out_len)
{
  const guint8 *newline;

  newline = memchr (data, '\n', MIN (size, (gsize) HOLDER_CODEC_MAX_LINE));
  if (newline != NULL)
    {
      *out_len = (gsize) (newline - data) + 1;
      return TRUE;
    }
  if (size == 0 || size >= HOLDER_CODEC_MAX_LINE)
    return FALSE;
  *out_len = size;
  return TRUE;
}

/* What a serialiser writes must be exactly one frame: valid UTF-8 (Go
 * replaces what is not), a single '\n' at the very end. */
static inline void
holder_fuzz_check_wire (const char *what,
                        const char *bytes,
                        gsize       len)
{
  if (bytes == NULL || len < 3 || bytes[0] != '{' || bytes[len - 2] != '}' ||
      bytes[len - 1] != '\n' || strlen (bytes) != len)
    holder_fuzz_fail ("%s: serialised bytes are not one object and '\\n'", what);
  if (memchr (bytes, '\n', len - 1) != NULL)
    holder_fuzz_fail ("%s: serialised bytes hold a raw newline: %s", what, bytes);
  if (!g_utf8_validate (bytes, (gssize) len, NULL))
    holder_fuzz_fail ("%s: serialised bytes are not valid UTF-8", what);
}

/* A refused message: HOLDER_ERROR_PROTOCOL, with a text that says which
 * kind of message was refused. A refused request's text is what the server
 * puts on the wire, checked further by holder_fuzz_check_error_reply. */
static inline void
holder_fuzz_check_rejection (const char   *what,
                             const GError *error)
{
  g_autofree char *prefix = g_strdup_printf ("invalid %s", what);

  if (error == NULL)
    holder_fuzz_fail ("%s: parse returned NULL without an error", what);
  if (!g_error_matches (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL))
    holder_fuzz_fail ("%s: parse failed with %s:%d, not HOLDER_ERROR_PROTOCOL: %s",
                      what, g_quark_to_string (error->domain), error->code,
                      error->message);
  if (!g_str_has_prefix (error->message, prefix))
    holder_fuzz_fail ("%s: error text does not start with \"%s\": %s",
                      what, prefix, error->message);
}

/* The server's error reply for @text: serialised, it must decode to the
 * same text and code. */
static inline void
holder_fuzz_check_error_reply (const char *text,
                               int         code)
{
  g_autoptr(HolderReply) reply = holder_reply_new ();
  g_autoptr(HolderReply) back = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *bytes = NULL;
  gsize len = 0;

  reply->error = g_strdup (text);
  bytes = holder_reply_serialize (reply, &len);
  holder_fuzz_check_wire ("error reply", bytes, len);
  back = holder_reply_parse (bytes, len, &error);
  if (back == NULL)
    holder_fuzz_fail ("error reply: own bytes refused: %s: %s", error->message, bytes);
  /* Invalid UTF-8 in @text is replaced on the wire; compare the replaced
   * form, which is what any client reads. */
  if (g_utf8_validate (text, -1, NULL) && g_strcmp0 (back->error, text) != 0)
    holder_fuzz_fail ("error reply: text changed on the wire: %s", bytes);
  if (holder_error_code_from_reply_text (back->error) != code)
    holder_fuzz_fail ("error reply: %s no longer maps to code %d", bytes, code);
}

/* Serialises @request, parses that, and serialises again: both parses
 * must succeed and both byte strings must be identical. */
static inline void
holder_fuzz_round_trip_request (const HolderRequest *request)
{
  g_autoptr(HolderRequest) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  gsize first_len = 0, second_len = 0;

  if (request->cmd == NULL)
    holder_fuzz_fail ("request: parsed without a cmd");
  if (request->spec != NULL &&
      (request->spec->name == NULL || request->spec->disk_path == NULL ||
       request->spec->seed_path == NULL))
    holder_fuzz_fail ("request: spec parsed with a NULL required string");

  first = holder_request_serialize (request, &first_len);
  holder_fuzz_check_wire ("request", first, first_len);
  again = holder_request_parse (first, first_len, &error);
  if (again == NULL)
    holder_fuzz_fail ("request: own bytes refused: %s: %s", error->message, first);
  second = holder_request_serialize (again, &second_len);
  if (first_len != second_len || memcmp (first, second, first_len) != 0)
    holder_fuzz_fail ("request: not a fixed point:\n  %s  %s", first, second);
}

static inline void
holder_fuzz_round_trip_reply (const HolderReply *reply)
{
  g_autoptr(HolderReply) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  gsize first_len = 0, second_len = 0;

  if (reply->status != NULL &&
      (reply->status->name == NULL || reply->status->ip == NULL ||
       reply->status->state == NULL))
    holder_fuzz_fail ("reply: status parsed with a NULL required string");
  if (reply->reservation != NULL && reply->reservation->mac == NULL)
    holder_fuzz_fail ("reply: reservation parsed without a mac");

  first = holder_reply_serialize (reply, &first_len);
  holder_fuzz_check_wire ("reply", first, first_len);
  again = holder_reply_parse (first, first_len, &error);
  if (again == NULL)
    holder_fuzz_fail ("reply: own bytes refused: %s: %s", error->message, first);
  second = holder_reply_serialize (again, &second_len);
  if (first_len != second_len || memcmp (first, second, first_len) != 0)
    holder_fuzz_fail ("reply: not a fixed point:\n  %s  %s", first, second);
}

/* The server's side: a request line from a client. */
static inline HolderFuzzOutcome
holder_fuzz_request (const guint8 *data,
                     gsize         size)
{
  g_autoptr(HolderRequest) request = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;

  if (!holder_fuzz_frame (data, size, &len))
    return HOLDER_FUZZ_NO_MESSAGE;

  request = holder_request_parse ((const char *) data, len, &error);
  if (request == NULL)
    {
      holder_fuzz_check_rejection ("request", error);
      /* conn_dispatch replies with the message as it is. */
      holder_fuzz_check_error_reply (error->message, HOLDER_ERROR_PROTOCOL);
      return HOLDER_FUZZ_REJECTED;
    }
  if (error != NULL)
    holder_fuzz_fail ("request: parse succeeded but set an error");

  holder_fuzz_round_trip_request (request);

  /* conn_dispatch's answer to a command it does not know quotes the
   * client's text: that reply must survive the wire too. */
  {
    g_autoptr(GString) text = g_string_new ("unknown command ");

    holder_append_go_quoted (text, request->cmd);
    holder_fuzz_check_error_reply (text->str, HOLDER_ERROR_PROTOCOL);
  }
  return HOLDER_FUZZ_ROUND_TRIPPED;
}

/* The client's side: a reply line from a helper. */
static inline HolderFuzzOutcome
holder_fuzz_reply (const guint8 *data,
                   gsize         size)
{
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;

  if (!holder_fuzz_frame (data, size, &len))
    return HOLDER_FUZZ_NO_MESSAGE;

  reply = holder_reply_parse ((const char *) data, len, &error);
  if (reply == NULL)
    {
      holder_fuzz_check_rejection ("reply", error);
      return HOLDER_FUZZ_REJECTED;
    }
  if (error != NULL)
    holder_fuzz_fail ("reply: parse succeeded but set an error");

  holder_fuzz_round_trip_reply (reply);

  /* What the client does next with a reply (holder-client.c). */
  if (reply->error != NULL)
    {
      int code = holder_error_code_from_reply_text (reply->error);

      if (code < 0)
        holder_fuzz_fail ("reply: error text mapped to a negative code");
    }
  if (reply->status != NULL)
    {
      HolderMemberState state;

      if (holder_member_state_from_string (reply->status->state, &state) &&
          g_strcmp0 (holder_member_state_to_string (state), reply->status->state) != 0)
        holder_fuzz_fail ("reply: state %s does not round-trip", reply->status->state);
    }
  return HOLDER_FUZZ_ROUND_TRIPPED;
}
