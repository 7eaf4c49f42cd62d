/* holder-codec-parse.c: protocol v2 messages from their bytes (see
 * holder-codec-private.h); holder-codec.c writes them.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-codec"

#include <string.h>

#include "holder-codec-private.h"
#include "holder-error.h"
#include "holder-util-private.h"

/* Nesting deeper than this is refused. Protocol messages need 3 levels; the
 * bound keeps the recursive parser's stack use small whatever a peer sends. */
#define JSON_MAX_DEPTH 64

/* Nesting deeper than this is refused. Protocol messages need 3 levels; the
 * bound keeps the recursive parser's stack use small whatever a peer sends. */
#define JSON_MAX_DEPTH 64

/* === Decoding ============================================================
 *
 * A small strict RFC 8259 parser instead of json-glib's JsonParser, which
 * (1.6) recurses without bound (a deep `[[[[` line overflows the stack),
 * wraps integers that overflow int64 silently, accepts non-JSON (comments,
 * single quotes, hex numbers, several top-level values), truncates strings
 * at \u0000 and refuses invalid UTF-8 and lone surrogates, which Go turns
 * into U+FFFD. Numbers are kept as their literal text so that each field
 * can apply Go's own conversion (strconv.ParseInt / ParseUint). */

typedef enum {
  JV_NULL,
  JV_FALSE,
  JV_TRUE,
  JV_NUMBER,
  JV_STRING,
  JV_ARRAY,
  JV_OBJECT,
} JvKind;

typedef struct {
  JvKind     kind;
  char      *text;  /* number literal, or decoded string (may hold NULs) */
  gsize      len;
  GPtrArray *items; /* of Jv for arrays, of JvMember for objects */
} Jv;

typedef struct {
  char *key;
  gsize key_len;
  Jv   *value;
} JvMember;

static void
jv_free (Jv *v)
{
  if (v == NULL)
    return;
  g_free (v->text);
  if (v->items != NULL)
    g_ptr_array_unref (v->items);
  g_free (v);
}

static void
jv_member_free (JvMember *m)
{
  g_free (m->key);
  jv_free (m->value);
  g_free (m);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Jv, jv_free)

typedef struct {
  const guchar *start;
  const guchar *p;
  const guchar *end;
  const char   *what; /* "request" or "reply" */
  GError      **error;
} JsonReader;

static void
reader_fail (JsonReader *r,
             const char *why)
{
  if (r->p >= r->end)
    g_set_error (r->error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                 "invalid %s: malformed JSON: %s at end of input", r->what, why);
  else
    g_set_error (r->error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                 "invalid %s: malformed JSON: %s at byte %" G_GSIZE_FORMAT,
                 r->what, why, (gsize) (r->p - r->start));
}

static void
skip_ws (JsonReader *r)
{
  while (r->p < r->end &&
         (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
    r->p++;
}

static gboolean
expect_literal (JsonReader *r,
                const char *literal)
{
  gsize len = strlen (literal);

  if ((gsize) (r->end - r->p) < len || memcmp (r->p, literal, len) != 0)
    {
      reader_fail (r, "invalid literal");
      return FALSE;
    }
  r->p += len;
  return TRUE;
}

static gint32
read_hex4 (const guchar *p,
           const guchar *end)
{
  gint32 v = 0;

  if (end - p < 4)
    return -1;
  for (int i = 0; i < 4; i++)
    {
      int d = g_ascii_xdigit_value ((char) p[i]);
      if (d < 0)
        return -1;
      v = (v << 4) | d;
    }
  return v;
}

static void
append_unichar (GString *buf,
                gunichar c)
{
  char utf8[6];
  int n = g_unichar_to_utf8 (c, utf8);

  g_string_append_len (buf, utf8, n);
}

/* Reads a string literal (at its opening quote) with Go's unquoting: invalid
 * UTF-8 bytes and unpaired surrogate escapes become U+FFFD. */
static gboolean
read_string (JsonReader *r,
             char      **out,
             gsize      *out_len)
{
  g_autoptr(GString) buf = g_string_new (NULL);

  r->p++; /* '"' */
  for (;;)
    {
      guchar c;

      if (r->p >= r->end)
        {
          reader_fail (r, "unterminated string");
          return FALSE;
        }
      c = *r->p;
      if (c == '"')
        {
          r->p++;
          break;
        }
      if (c < 0x20)
        {
          reader_fail (r, "control character in string");
          return FALSE;
        }
      if (c == '\\')
        {
          gint32 u;

          r->p++;
          if (r->p >= r->end)
            {
              reader_fail (r, "unterminated string");
              return FALSE;
            }
          switch (*r->p)
            {
            case '"': g_string_append_c (buf, '"'); break;
            case '\\': g_string_append_c (buf, '\\'); break;
            case '/': g_string_append_c (buf, '/'); break;
            case 'b': g_string_append_c (buf, '\b'); break;
            case 'f': g_string_append_c (buf, '\f'); break;
            case 'n': g_string_append_c (buf, '\n'); break;
            case 'r': g_string_append_c (buf, '\r'); break;
            case 't': g_string_append_c (buf, '\t'); break;
            case 'u':
              u = read_hex4 (r->p + 1, r->end);
              if (u < 0)
                {
                  reader_fail (r, "invalid \\u escape");
                  return FALSE;
                }
              r->p += 4;
              if (u >= 0xd800 && u <= 0xdfff)
                {
                  gint32 low = -1;

                  if (r->end - r->p >= 3 && r->p[1] == '\\' && r->p[2] == 'u')
                    low = read_hex4 (r->p + 3, r->end);
                  if (u <= 0xdbff && low >= 0xdc00 && low <= 0xdfff)
                    {
                      u = 0x10000 + ((u - 0xd800) << 10) + (low - 0xdc00);
                      r->p += 6;
                    }
                  else
                    u = 0xfffd;
                }
              append_unichar (buf, (gunichar) u);
              break;
            default:
              reader_fail (r, "invalid escape in string");
              return FALSE;
            }
          r->p++;
          continue;
        }
      if (c < 0x80)
        {
          g_string_append_c (buf, (char) c);
          r->p++;
          continue;
        }
      {
        gsize size;
        gint32 rune = holder_utf8_decode_rune (r->p, (gsize) (r->end - r->p), &size);

        if (rune < 0)
          g_string_append (buf, "\xef\xbf\xbd");
        else
          g_string_append_len (buf, (const char *) r->p, (gssize) size);
        r->p += size;
      }
    }

  *out_len = buf->len;
  *out = g_string_free (g_steal_pointer (&buf), FALSE);
  return TRUE;
}

static gboolean
read_digits (JsonReader *r)
{
  const guchar *before = r->p;

  while (r->p < r->end && g_ascii_isdigit (*r->p))
    r->p++;
  if (r->p == before)
    {
      reader_fail (r, "invalid number");
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_number (JsonReader *r,
             Jv         *v)
{
  const guchar *begin = r->p;

  if (*r->p == '-')
    r->p++;
  if (r->p < r->end && *r->p == '0')
    r->p++;
  else if (!read_digits (r))
    return FALSE;
  if (r->p < r->end && *r->p == '.')
    {
      r->p++;
      if (!read_digits (r))
        return FALSE;
    }
  if (r->p < r->end && (*r->p == 'e' || *r->p == 'E'))
    {
      r->p++;
      if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
        r->p++;
      if (!read_digits (r))
        return FALSE;
    }
  v->len = (gsize) (r->p - begin);
  v->text = g_strndup ((const char *) begin, v->len);
  return TRUE;
}

static Jv *read_value (JsonReader *r, int depth);

static gboolean
read_object (JsonReader *r,
             Jv         *v,
             int         depth)
{
  v->items = g_ptr_array_new_with_free_func ((GDestroyNotify) jv_member_free);
  r->p++; /* '{' */
  skip_ws (r);
  if (r->p < r->end && *r->p == '}')
    {
      r->p++;
      return TRUE;
    }
  for (;;)
    {
      JvMember *m;

      skip_ws (r);
      if (r->p >= r->end || *r->p != '"')
        {
          reader_fail (r, "expected a string key");
          return FALSE;
        }
      m = g_new0 (JvMember, 1);
      g_ptr_array_add (v->items, m);
      if (!read_string (r, &m->key, &m->key_len))
        return FALSE;
      skip_ws (r);
      if (r->p >= r->end || *r->p != ':')
        {
          reader_fail (r, "expected ':'");
          return FALSE;
        }
      r->p++;
      m->value = read_value (r, depth);
      if (m->value == NULL)
        return FALSE;
      skip_ws (r);
      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          continue;
        }
      if (r->p < r->end && *r->p == '}')
        {
          r->p++;
          return TRUE;
        }
      reader_fail (r, "expected ',' or '}'");
      return FALSE;
    }
}

static gboolean
read_array (JsonReader *r,
            Jv         *v,
            int         depth)
{
  v->items = g_ptr_array_new_with_free_func ((GDestroyNotify) jv_free);
  r->p++; /* '[' */
  skip_ws (r);
  if (r->p < r->end && *r->p == ']')
    {
      r->p++;
      return TRUE;
    }
  for (;;)
    {
      Jv *item = read_value (r, depth);

      if (item == NULL)
        return FALSE;
      g_ptr_array_add (v->items, item);
      skip_ws (r);
      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          continue;
        }
      if (r->p < r->end && *r->p == ']')
        {
          r->p++;
          return TRUE;
        }
      reader_fail (r, "expected ',' or ']'");
      return FALSE;
    }
}

static Jv *
read_value (JsonReader *r,
            int         depth)
{
  g_autoptr(Jv) v = g_new0 (Jv, 1);
  gboolean ok;

  skip_ws (r);
  if (r->p >= r->end)
    {
      reader_fail (r, "unexpected end of input");
      return NULL;
    }

  switch (*r->p)
    {
    case '{':
    case '[':
      if (depth + 1 > JSON_MAX_DEPTH)
        {
          g_set_error (r->error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                       "invalid %s: nesting too deep", r->what);
          return NULL;
        }
      if (*r->p == '{')
        {
          v->kind = JV_OBJECT;
          ok = read_object (r, v, depth + 1);
        }
      else
        {
          v->kind = JV_ARRAY;
          ok = read_array (r, v, depth + 1);
        }
      break;
    case '"':
      v->kind = JV_STRING;
      ok = read_string (r, &v->text, &v->len);
      break;
    case 't':
      v->kind = JV_TRUE;
      ok = expect_literal (r, "true");
      break;
    case 'f':
      v->kind = JV_FALSE;
      ok = expect_literal (r, "false");
      break;
    case 'n':
      v->kind = JV_NULL;
      ok = expect_literal (r, "null");
      break;
    default:
      if (*r->p == '-' || g_ascii_isdigit (*r->p))
        {
          v->kind = JV_NUMBER;
          ok = read_number (r, v);
        }
      else
        {
          reader_fail (r, "unexpected character");
          ok = FALSE;
        }
      break;
    }

  return ok ? g_steal_pointer (&v) : NULL;
}

/* Parses one message into its top-level object. */
static Jv *
parse_message (const char *data,
               gsize       len,
               const char *what,
               GError    **error)
{
  JsonReader r = { 0 };
  g_autoptr(Jv) root = NULL;

  /* One trailing newline (LF or CRLF) ends the message on the wire. */
  if (len > 0 && data[len - 1] == '\n')
    {
      len--;
      if (len > 0 && data[len - 1] == '\r')
        len--;
    }

  r.start = r.p = (const guchar *) data;
  r.end = r.start + len;
  r.what = what;
  r.error = error;

  skip_ws (&r);
  if (r.p == r.end)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                   "invalid %s: empty message", what);
      return NULL;
    }

  root = read_value (&r, 0);
  if (root == NULL)
    return NULL;
  skip_ws (&r);
  if (r.p != r.end)
    {
      reader_fail (&r, "data after the JSON value");
      return NULL;
    }
  if (root->kind != JV_OBJECT)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
                   "invalid %s: not a JSON object", what);
      return NULL;
    }
  return g_steal_pointer (&root);
}

/* --- From the tree to the structs, with Go's json.Unmarshal rules -------- */

typedef struct {
  const char *what;   /* "request" or "reply" */
  const char *prefix; /* "" or "spec." etc., for messages */
  GError    **error;
} Decoder;

static gboolean
type_error (Decoder    *d,
            const char *field,
            const char *must)
{
  g_set_error (d->error, HOLDER_ERROR, HOLDER_ERROR_PROTOCOL,
               "invalid %s: \"%s%s\" must %s", d->what, d->prefix, field, must);
  return FALSE;
}

/* Go's case-insensitive key match (bytes.EqualFold against our lowercase
 * ASCII field names): ASCII letters in either case, plus the two non-ASCII
 * letters that fold onto ASCII ones, KELVIN SIGN for 'k' and LATIN SMALL
 * LETTER LONG S for 's'. */
static gboolean
key_folds_to (const char *key,
              gsize       key_len,
              const char *field)
{
  gsize i = 0;

  for (; *field != '\0'; field++)
    {
      if (i >= key_len)
        return FALSE;
      if ((guchar) key[i] < 0x80)
        {
          if (g_ascii_tolower (key[i]) != *field)
            return FALSE;
          i++;
        }
      else if (*field == 'k' && key_len - i >= 3 && memcmp (key + i, "\xe2\x84\xaa", 3) == 0)
        i += 3;
      else if (*field == 's' && key_len - i >= 2 && memcmp (key + i, "\xc5\xbf", 2) == 0)
        i += 2;
      else
        return FALSE;
    }
  return i == key_len;
}

/* The index of the field @m names in @fields, or -1: exact match first,
 * then case-insensitive, as Go does. */
static int
match_field (const JvMember    *m,
             const char * const *fields,
             gsize               n_fields)
{
  for (gsize i = 0; i < n_fields; i++)
    if (strlen (fields[i]) == m->key_len && memcmp (fields[i], m->key, m->key_len) == 0)
      return (int) i;
  for (gsize i = 0; i < n_fields; i++)
    if (key_folds_to (m->key, m->key_len, fields[i]))
      return (int) i;
  return -1;
}

/* A null leaves a scalar field as it was (Go: "null is a no-op"). */
static gboolean
decode_string (Decoder    *d,
               const char *field,
               const Jv   *v,
               char      **dest)
{
  if (v->kind == JV_NULL)
    return TRUE;
  if (v->kind != JV_STRING)
    return type_error (d, field, "be a string");
  /* C strings end at the first NUL; refuse rather than truncate. */
  if (strlen (v->text) != v->len)
    return type_error (d, field, "not contain a NUL character");
  g_free (*dest);
  *dest = g_strdup (v->text);
  return TRUE;
}

static gboolean
decode_bool (Decoder    *d,
             const char *field,
             const Jv   *v,
             gboolean   *dest)
{
  if (v->kind == JV_NULL)
    return TRUE;
  if (v->kind != JV_TRUE && v->kind != JV_FALSE)
    return type_error (d, field, "be a boolean");
  *dest = v->kind == JV_TRUE;
  return TRUE;
}

/* strconv.ParseUint on a JSON number literal: digits only. */
static gboolean
parse_uint_literal (const char *text,
                    guint64    *out)
{
  guint64 value = 0;

  if (*text == '\0')
    return FALSE;
  for (; *text != '\0'; text++)
    {
      guint64 digit;

      if (!g_ascii_isdigit (*text))
        return FALSE;
      digit = (guint64) (*text - '0');
      if (value > (G_MAXUINT64 - digit) / 10)
        return FALSE;
      value = value * 10 + digit;
    }
  *out = value;
  return TRUE;
}

static gboolean
decode_int64 (Decoder    *d,
              const char *field,
              const Jv   *v,
              gint64     *dest)
{
  gboolean neg;
  guint64 magnitude;

  if (v->kind == JV_NULL)
    return TRUE;
  if (v->kind != JV_NUMBER)
    return type_error (d, field, "be an integer");

  neg = v->text[0] == '-';
  if (!parse_uint_literal (v->text + (neg ? 1 : 0), &magnitude) ||
      magnitude > (neg ? (guint64) G_MAXINT64 + 1 : (guint64) G_MAXINT64))
    return type_error (d, field, "be an integer");

  *dest = neg ? (gint64) (0 - magnitude) : (gint64) magnitude;
  return TRUE;
}

static gboolean
decode_uint64 (Decoder    *d,
               const char *field,
               const Jv   *v,
               guint64    *dest)
{
  if (v->kind == JV_NULL)
    return TRUE;
  if (v->kind != JV_NUMBER || !parse_uint_literal (v->text, dest))
    return type_error (d, field, "be a non-negative integer");
  return TRUE;
}

/* A null clears a list (Go sets a slice to nil); a null element is "". */
static gboolean
decode_strv (Decoder    *d,
             const char *field,
             const Jv   *v,
             char     ***dest)
{
  g_autoptr(GPtrArray) strv = NULL;

  if (v->kind == JV_NULL)
    {
      g_clear_pointer (dest, g_strfreev);
      return TRUE;
    }
  if (v->kind != JV_ARRAY)
    return type_error (d, field, "be an array of strings");

  strv = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < v->items->len; i++)
    {
      const Jv *item = g_ptr_array_index (v->items, i);

      if (item->kind == JV_NULL)
        {
          g_ptr_array_add (strv, g_strdup (""));
          continue;
        }
      if (item->kind != JV_STRING)
        return type_error (d, field, "be an array of strings");
      if (strlen (item->text) != item->len)
        return type_error (d, field, "not contain a NUL character");
      g_ptr_array_add (strv, g_strdup (item->text));
    }
  g_ptr_array_add (strv, NULL);

  g_strfreev (*dest);
  g_ptr_array_set_free_func (strv, NULL);
  *dest = (char **) g_ptr_array_free (g_steal_pointer (&strv), FALSE);
  return TRUE;
}

static void
empty_to_null (char **s)
{
  if (*s != NULL && **s == '\0')
    g_clear_pointer (s, g_free);
}

static void
null_to_empty (char **s)
{
  if (*s == NULL)
    *s = g_strdup ("");
}

enum {
  SPEC_NAME,
  SPEC_DISK_PATH,
  SPEC_SEED_PATH,
  SPEC_FIXTURE_PATHS,
  SPEC_EFI_PATH,
  SPEC_CPUS,
  SPEC_MEMORY_BYTES,
  SPEC_SERIAL_LOG_PATH,
  SPEC_KERNEL_PATH,
  SPEC_INITRAMFS_PATH,
  SPEC_CMDLINE,
};

static const char * const spec_fields[] = {
  [SPEC_NAME] = "name",
  [SPEC_DISK_PATH] = "disk_path",
  [SPEC_SEED_PATH] = "seed_path",
  [SPEC_FIXTURE_PATHS] = "fixture_paths",
  [SPEC_EFI_PATH] = "efi_path",
  [SPEC_CPUS] = "cpus",
  [SPEC_MEMORY_BYTES] = "memory_bytes",
  [SPEC_SERIAL_LOG_PATH] = "serial_log_path",
  [SPEC_KERNEL_PATH] = "kernel_path",
  [SPEC_INITRAMFS_PATH] = "initramfs_path",
  [SPEC_CMDLINE] = "cmdline",
};

/* Decodes into an existing spec: Go fills a non-nil pointer in place, so
 * a repeated "spec" key merges. */
static gboolean
decode_spec (Decoder          *parent,
             const Jv         *v,
             HolderMemberSpec *spec)
{
  Decoder d = { parent->what, "spec.", parent->error };

  for (guint i = 0; i < v->items->len; i++)
    {
      const JvMember *m = g_ptr_array_index (v->items, i);
      int field = match_field (m, spec_fields, G_N_ELEMENTS (spec_fields));
      const char *name = field >= 0 ? spec_fields[field] : NULL;
      gboolean ok = TRUE;

      switch (field)
        {
        case SPEC_NAME: ok = decode_string (&d, name, m->value, &spec->name); break;
        case SPEC_DISK_PATH: ok = decode_string (&d, name, m->value, &spec->disk_path); break;
        case SPEC_SEED_PATH: ok = decode_string (&d, name, m->value, &spec->seed_path); break;
        case SPEC_FIXTURE_PATHS: ok = decode_strv (&d, name, m->value, &spec->fixture_paths); break;
        case SPEC_EFI_PATH: ok = decode_string (&d, name, m->value, &spec->efi_path); break;
        case SPEC_CPUS: ok = decode_int64 (&d, name, m->value, &spec->cpus); break;
        case SPEC_MEMORY_BYTES: ok = decode_uint64 (&d, name, m->value, &spec->memory_bytes); break;
        case SPEC_SERIAL_LOG_PATH: ok = decode_string (&d, name, m->value, &spec->serial_log_path); break;
        case SPEC_KERNEL_PATH: ok = decode_string (&d, name, m->value, &spec->kernel_path); break;
        case SPEC_INITRAMFS_PATH: ok = decode_string (&d, name, m->value, &spec->initramfs_path); break;
        case SPEC_CMDLINE: ok = decode_string (&d, name, m->value, &spec->cmdline); break;
        default: break; /* unknown keys are ignored */
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static void
normalize_spec (HolderMemberSpec *spec)
{
  null_to_empty (&spec->name);
  null_to_empty (&spec->disk_path);
  null_to_empty (&spec->seed_path);
  if (spec->fixture_paths != NULL && spec->fixture_paths[0] == NULL)
    g_clear_pointer (&spec->fixture_paths, g_strfreev);
  empty_to_null (&spec->efi_path);
  empty_to_null (&spec->serial_log_path);
  empty_to_null (&spec->kernel_path);
  empty_to_null (&spec->initramfs_path);
  empty_to_null (&spec->cmdline);
}

HolderRequest *
holder_request_parse (const char *data,
                      gsize       len,
                      GError    **error)
{
  static const char * const fields[] = { "cmd", "name", "ip_hint", "spec" };
  Decoder d = { "request", "", error };
  g_autoptr(Jv) root = NULL;
  g_autoptr(HolderRequest) request = NULL;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = parse_message (data, len, "request", error);
  if (root == NULL)
    return NULL;

  request = g_new0 (HolderRequest, 1);
  for (guint i = 0; i < root->items->len; i++)
    {
      const JvMember *m = g_ptr_array_index (root->items, i);
      gboolean ok = TRUE;

      switch (match_field (m, fields, G_N_ELEMENTS (fields)))
        {
        case 0: ok = decode_string (&d, "cmd", m->value, &request->cmd); break;
        case 1: ok = decode_string (&d, "name", m->value, &request->name); break;
        case 2: ok = decode_string (&d, "ip_hint", m->value, &request->ip_hint); break;
        case 3:
          if (m->value->kind == JV_NULL)
            g_clear_pointer (&request->spec, holder_member_spec_free);
          else if (m->value->kind != JV_OBJECT)
            ok = type_error (&d, "spec", "be an object");
          else
            {
              if (request->spec == NULL)
                request->spec = g_new0 (HolderMemberSpec, 1);
              ok = decode_spec (&d, m->value, request->spec);
            }
          break;
        default: break;
        }
      if (!ok)
        return NULL;
    }

  null_to_empty (&request->cmd);
  empty_to_null (&request->name);
  empty_to_null (&request->ip_hint);
  if (request->spec != NULL)
    normalize_spec (request->spec);

  return g_steal_pointer (&request);
}

static gboolean
decode_status (Decoder      *parent,
               const Jv     *v,
               HolderStatus *status)
{
  static const char * const fields[] = { "name", "pid", "running", "ip", "state", "error" };
  Decoder d = { parent->what, "status.", parent->error };

  for (guint i = 0; i < v->items->len; i++)
    {
      const JvMember *m = g_ptr_array_index (v->items, i);
      int field = match_field (m, fields, G_N_ELEMENTS (fields));
      gboolean ok = TRUE;

      switch (field)
        {
        case 0: ok = decode_string (&d, fields[field], m->value, &status->name); break;
        case 1: ok = decode_int64 (&d, fields[field], m->value, &status->pid); break;
        case 2: ok = decode_bool (&d, fields[field], m->value, &status->running); break;
        case 3: ok = decode_string (&d, fields[field], m->value, &status->ip); break;
        case 4: ok = decode_string (&d, fields[field], m->value, &status->state); break;
        case 5: ok = decode_string (&d, fields[field], m->value, &status->error); break;
        default: break;
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
decode_reservation (Decoder           *parent,
                    const Jv          *v,
                    HolderReservation *reservation)
{
  static const char * const fields[] = { "ip", "mac" };
  Decoder d = { parent->what, "reservation.", parent->error };

  for (guint i = 0; i < v->items->len; i++)
    {
      const JvMember *m = g_ptr_array_index (v->items, i);
      int field = match_field (m, fields, G_N_ELEMENTS (fields));
      gboolean ok = TRUE;

      switch (field)
        {
        case 0: ok = decode_string (&d, fields[field], m->value, &reservation->ip); break;
        case 1: ok = decode_string (&d, fields[field], m->value, &reservation->mac); break;
        default: break;
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

HolderReply *
holder_reply_parse (const char *data,
                    gsize       len,
                    GError    **error)
{
  static const char * const fields[] = { "error", "status", "subnet", "reservation" };
  Decoder d = { "reply", "", error };
  g_autoptr(Jv) root = NULL;
  g_autoptr(HolderReply) reply = NULL;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  root = parse_message (data, len, "reply", error);
  if (root == NULL)
    return NULL;

  reply = holder_reply_new ();
  for (guint i = 0; i < root->items->len; i++)
    {
      const JvMember *m = g_ptr_array_index (root->items, i);
      gboolean ok = TRUE;

      switch (match_field (m, fields, G_N_ELEMENTS (fields)))
        {
        case 0: ok = decode_string (&d, "error", m->value, &reply->error); break;
        case 1:
          if (m->value->kind == JV_NULL)
            g_clear_pointer (&reply->status, holder_status_free);
          else if (m->value->kind != JV_OBJECT)
            ok = type_error (&d, "status", "be an object");
          else
            {
              if (reply->status == NULL)
                reply->status = g_new0 (HolderStatus, 1);
              ok = decode_status (&d, m->value, reply->status);
            }
          break;
        case 2: ok = decode_string (&d, "subnet", m->value, &reply->subnet); break;
        case 3:
          if (m->value->kind == JV_NULL)
            g_clear_pointer (&reply->reservation, holder_reservation_free);
          else if (m->value->kind != JV_OBJECT)
            ok = type_error (&d, "reservation", "be an object");
          else
            {
              if (reply->reservation == NULL)
                reply->reservation = g_new0 (HolderReservation, 1);
              ok = decode_reservation (&d, m->value, reply->reservation);
            }
          break;
        default: break;
        }
      if (!ok)
        return NULL;
    }

  empty_to_null (&reply->error);
  empty_to_null (&reply->subnet);
  if (reply->status != NULL)
    {
      null_to_empty (&reply->status->name);
      null_to_empty (&reply->status->ip);
      null_to_empty (&reply->status->state);
      empty_to_null (&reply->status->error);
    }
  if (reply->reservation != NULL)
    {
      empty_to_null (&reply->reservation->ip);
      null_to_empty (&reply->reservation->mac);
    }

  return g_steal_pointer (&reply);
}
