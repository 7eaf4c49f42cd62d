/* holder-codec.c: protocol v2 messages to their bytes, as Go's
 * encoding/json writes them, and the error texts of replies (see
 * holder-codec-private.h); holder-codec-parse.c reads them.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-codec"

#include <string.h>

#include "holder-codec-private.h"
#include "holder-error.h"
#include "holder-util-private.h"

/* === Encoding ============================================================ */

void
holder_json_append_string (GString    *out,
                           const char *s)
{
  static const char hex[] = "0123456789abcdef";
  const guchar *p = (const guchar *) (s != NULL ? s : "");
  gsize len = strlen ((const char *) p);
  gsize i = 0, start = 0;

  g_return_if_fail (out != NULL);

  /* Go's encoding/json appendString with escapeHTML set. */
  g_string_append_c (out, '"');
  while (i < len)
    {
      guchar b = p[i];
      gsize size;
      gint32 r;

      if (b < 0x80)
        {
          if (b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&')
            {
              i++;
              continue;
            }
          g_string_append_len (out, (const char *) p + start, (gssize) (i - start));
          switch (b)
            {
            case '"': g_string_append (out, "\\\""); break;
            case '\\': g_string_append (out, "\\\\"); break;
            case '\b': g_string_append (out, "\\b"); break;
            case '\f': g_string_append (out, "\\f"); break;
            case '\n': g_string_append (out, "\\n"); break;
            case '\r': g_string_append (out, "\\r"); break;
            case '\t': g_string_append (out, "\\t"); break;
            default:
              g_string_append (out, "\\u00");
              g_string_append_c (out, hex[b >> 4]);
              g_string_append_c (out, hex[b & 0xf]);
              break;
            }
          start = ++i;
          continue;
        }

      r = holder_utf8_decode_rune (p + i, len - i, &size);
      if (r < 0)
        {
          g_string_append_len (out, (const char *) p + start, (gssize) (i - start));
          g_string_append (out, "\\ufffd");
          start = ++i;
          continue;
        }
      if (r == 0x2028 || r == 0x2029)
        {
          /* Line terminators for JavaScript, though valid in JSON. */
          g_string_append_len (out, (const char *) p + start, (gssize) (i - start));
          g_string_append (out, r == 0x2028 ? "\\u2028" : "\\u2029");
          i += size;
          start = i;
          continue;
        }
      i += size;
    }
  g_string_append_len (out, (const char *) p + start, (gssize) (i - start));
  g_string_append_c (out, '"');
}

static gboolean
is_empty (const char *s)
{
  return s == NULL || *s == '\0';
}

/* Starts a member: the separating comma unless it is the first. */
static void
append_key (GString    *out,
            gboolean   *first,
            const char *key)
{
  if (!*first)
    g_string_append_c (out, ',');
  *first = FALSE;
  g_string_append_c (out, '"');
  g_string_append (out, key);
  g_string_append (out, "\":");
}

static void
append_string_member (GString    *out,
                      gboolean   *first,
                      const char *key,
                      const char *value)
{
  append_key (out, first, key);
  holder_json_append_string (out, value);
}

static void
append_optional_member (GString    *out,
                        gboolean   *first,
                        const char *key,
                        const char *value)
{
  if (!is_empty (value))
    append_string_member (out, first, key, value);
}

static void
append_spec (GString                *out,
             const HolderMemberSpec *spec)
{
  gboolean first = TRUE;

  /* Field order is the Go struct's; the project's additions come last. */
  g_string_append_c (out, '{');
  append_string_member (out, &first, "name", spec->name);
  append_string_member (out, &first, "disk_path", spec->disk_path);
  append_string_member (out, &first, "seed_path", spec->seed_path);
  if (spec->fixture_paths != NULL && spec->fixture_paths[0] != NULL)
    {
      append_key (out, &first, "fixture_paths");
      g_string_append_c (out, '[');
      for (gsize i = 0; spec->fixture_paths[i] != NULL; i++)
        {
          if (i > 0)
            g_string_append_c (out, ',');
          holder_json_append_string (out, spec->fixture_paths[i]);
        }
      g_string_append_c (out, ']');
    }
  append_optional_member (out, &first, "efi_path", spec->efi_path);
  append_key (out, &first, "cpus");
  g_string_append_printf (out, "%" G_GINT64_FORMAT, spec->cpus);
  append_key (out, &first, "memory_bytes");
  g_string_append_printf (out, "%" G_GUINT64_FORMAT, spec->memory_bytes);
  append_optional_member (out, &first, "serial_log_path", spec->serial_log_path);
  append_optional_member (out, &first, "kernel_path", spec->kernel_path);
  append_optional_member (out, &first, "initramfs_path", spec->initramfs_path);
  append_optional_member (out, &first, "cmdline", spec->cmdline);
  g_string_append_c (out, '}');
}

static char *
finish_message (GString *out,
                gsize   *out_len)
{
  /* json.Encoder terminates every value with a newline. */
  g_string_append_c (out, '\n');
  if (out_len != NULL)
    *out_len = out->len;
  return g_string_free (out, FALSE);
}

char *
holder_request_serialize (const HolderRequest *request,
                          gsize               *out_len)
{
  GString *out;
  gboolean first = TRUE;

  g_return_val_if_fail (request != NULL, NULL);

  out = g_string_new ("{");
  append_string_member (out, &first, "cmd", request->cmd);
  append_optional_member (out, &first, "name", request->name);
  append_optional_member (out, &first, "ip_hint", request->ip_hint);
  if (request->spec != NULL)
    {
      append_key (out, &first, "spec");
      append_spec (out, request->spec);
    }
  g_string_append_c (out, '}');
  return finish_message (out, out_len);
}

char *
holder_reply_serialize (const HolderReply *reply,
                        gsize             *out_len)
{
  GString *out;
  gboolean first = TRUE;

  g_return_val_if_fail (reply != NULL, NULL);

  out = g_string_new ("{");
  append_optional_member (out, &first, "error", reply->error);
  if (reply->status != NULL)
    {
      const HolderStatus *status = reply->status;
      gboolean sfirst = TRUE;

      append_key (out, &first, "status");
      g_string_append_c (out, '{');
      append_string_member (out, &sfirst, "name", status->name);
      append_key (out, &sfirst, "pid");
      g_string_append_printf (out, "%" G_GINT64_FORMAT, status->pid);
      append_key (out, &sfirst, "running");
      g_string_append (out, status->running ? "true" : "false");
      append_string_member (out, &sfirst, "ip", status->ip);
      append_string_member (out, &sfirst, "state", status->state);
      append_optional_member (out, &sfirst, "error", status->error);
      g_string_append_c (out, '}');
    }
  append_optional_member (out, &first, "subnet", reply->subnet);
  if (reply->reservation != NULL)
    {
      gboolean rfirst = TRUE;

      append_key (out, &first, "reservation");
      g_string_append_c (out, '{');
      append_optional_member (out, &rfirst, "ip", reply->reservation->ip);
      append_string_member (out, &rfirst, "mac", reply->reservation->mac);
      g_string_append_c (out, '}');
    }
  g_string_append_c (out, '}');
  return finish_message (out, out_len);
}

/* === Error texts ========================================================= */

int
holder_error_code_from_reply_text (const char *text)
{
  static const struct {
    const char *prefix;
    HolderError code;
  } prefixes[] = {
    /* "create network: " is covered by "create ". */
    { "create ", HOLDER_ERROR_BACKEND },
    { "start ", HOLDER_ERROR_BACKEND },
    { "wait for ip ", HOLDER_ERROR_BACKEND },
    { "invalid member name", HOLDER_ERROR_INVALID_NAME },
    { "invalid request", HOLDER_ERROR_PROTOCOL },
    { "request too long", HOLDER_ERROR_PROTOCOL },
    { "unknown command", HOLDER_ERROR_PROTOCOL },
    { "permission denied", HOLDER_ERROR_PERMISSION_DENIED },
  };
  gboolean member;

  if (text == NULL)
    return HOLDER_ERROR_FAILED;

  if (strcmp (text, "missing member name") == 0 ||
      strcmp (text, "missing or invalid spec") == 0)
    return HOLDER_ERROR_INVALID_ARGUMENT;
  if (strcmp (text, "network not created") == 0)
    return HOLDER_ERROR_NETWORK_NOT_CREATED;

  /* "member <n> ..." texts first: a backend's own message, wrapped as
   * "create <n>: <why>", may end with any words. */
  member = g_str_has_prefix (text, "member ");
  if (member && g_str_has_suffix (text, " was not reserved"))
    return HOLDER_ERROR_NOT_RESERVED;
  if (member && g_str_has_suffix (text, " is already running"))
    return HOLDER_ERROR_ALREADY_RUNNING;
  if (member && g_str_has_suffix (text, " was stopped during boot"))
    return HOLDER_ERROR_STOPPED_DURING_BOOT;

  for (gsize i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (g_str_has_prefix (text, prefixes[i].prefix))
      return prefixes[i].code;

  if (g_str_has_suffix (text, " is already running"))
    return HOLDER_ERROR_ALREADY_RUNNING;
  if (g_str_has_suffix (text, " was stopped during boot"))
    return HOLDER_ERROR_STOPPED_DURING_BOOT;

  return HOLDER_ERROR_FAILED;
}
