/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "holder-util"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holder-util-private.h"

/* --- Go durations -------------------------------------------------------
 *
 * A transcription of Go's time.ParseDuration: the value is accumulated in
 * nanoseconds in a uint64 with Go's own overflow rules, so that exactly the
 * strings Go accepts are accepted, then truncated to microseconds. */

#define NS_PER_US G_GUINT64_CONSTANT (1000)
#define NS_MAX_MAGNITUDE (G_GUINT64_CONSTANT (1) << 63)

static gboolean
leading_int (const char **s,
             guint64     *out)
{
  guint64 x = 0;
  const char *p = *s;

  for (; *p >= '0' && *p <= '9'; p++)
    {
      if (x > NS_MAX_MAGNITUDE / 10)
        return FALSE;
      x = x * 10 + (guint64) (*p - '0');
      if (x > NS_MAX_MAGNITUDE)
        return FALSE;
    }
  *s = p;
  *out = x;
  return TRUE;
}

/* Like Go's leadingFraction: stops gaining precision on overflow rather
 * than failing. */
static void
leading_fraction (const char **s,
                  guint64     *out,
                  double      *out_scale)
{
  guint64 x = 0;
  double scale = 1;
  gboolean overflow = FALSE;
  const char *p = *s;

  for (; *p >= '0' && *p <= '9'; p++)
    {
      guint64 y;

      if (overflow)
        continue;
      if (x > (NS_MAX_MAGNITUDE - 1) / 10)
        {
          overflow = TRUE;
          continue;
        }
      y = x * 10 + (guint64) (*p - '0');
      if (y > NS_MAX_MAGNITUDE)
        {
          overflow = TRUE;
          continue;
        }
      x = y;
      scale *= 10;
    }
  *s = p;
  *out = x;
  *out_scale = scale;
}

static gboolean
unit_in_ns (const char *unit,
            gsize       len,
            guint64    *out)
{
  static const struct {
    const char *name;
    guint64 ns;
  } units[] = {
    { "ns", 1 },
    { "us", 1000 },
    { "\xc2\xb5s", 1000 }, /* U+00B5 micro sign */
    { "\xce\xbcs", 1000 }, /* U+03BC greek small letter mu */
    { "ms", 1000 * 1000 },
    { "s", G_GUINT64_CONSTANT (1000000000) },
    { "m", G_GUINT64_CONSTANT (60000000000) },
    { "h", G_GUINT64_CONSTANT (3600000000000) },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    {
      if (strlen (units[i].name) == len && memcmp (units[i].name, unit, len) == 0)
        {
          *out = units[i].ns;
          return TRUE;
        }
    }
  return FALSE;
}

/* The magnitude in nanoseconds and the sign, as Go computes them. */
static gboolean
parse_go_duration_ns (const char *text,
                      guint64    *out_ns,
                      gboolean   *out_neg)
{
  const char *s = text;
  guint64 d = 0;
  gboolean neg = FALSE;

  if (*s == '-' || *s == '+')
    {
      neg = *s == '-';
      s++;
    }
  if (strcmp (s, "0") == 0)
    {
      *out_ns = 0;
      *out_neg = neg;
      return TRUE;
    }
  if (*s == '\0')
    return FALSE;

  while (*s != '\0')
    {
      guint64 v = 0, f = 0, unit;
      double scale = 1;
      gboolean pre, post = FALSE;
      const char *before, *unit_start;

      if (!(*s == '.' || (*s >= '0' && *s <= '9')))
        return FALSE;

      before = s;
      if (!leading_int (&s, &v))
        return FALSE;
      pre = s != before;

      if (*s == '.')
        {
          s++;
          before = s;
          leading_fraction (&s, &f, &scale);
          post = s != before;
        }
      if (!pre && !post)
        return FALSE;

      unit_start = s;
      while (*s != '\0' && *s != '.' && !(*s >= '0' && *s <= '9'))
        s++;
      if (s == unit_start)
        return FALSE;
      if (!unit_in_ns (unit_start, (gsize) (s - unit_start), &unit))
        return FALSE;

      if (v > NS_MAX_MAGNITUDE / unit)
        return FALSE;
      v *= unit;
      if (f > 0)
        {
          /* Go uses float64 here too, to stay nanosecond-accurate for
           * fractions of hours. */
          v += (guint64) ((double) f * ((double) unit / scale));
          if (v > NS_MAX_MAGNITUDE)
            return FALSE;
        }
      d += v;
      if (d > NS_MAX_MAGNITUDE)
        return FALSE;
    }

  if (!neg && d > NS_MAX_MAGNITUDE - 1)
    return FALSE;

  *out_ns = d;
  *out_neg = neg;
  return TRUE;
}

gboolean
holder_duration_parse (const char *text,
                          gint64     *out_usec)
{
  guint64 ns;
  gboolean neg;

  g_return_val_if_fail (text != NULL, FALSE);

  if (!parse_go_duration_ns (text, &ns, &neg))
    return FALSE;

  if (out_usec != NULL)
    {
      /* Truncate towards zero, like Go's Duration.Microseconds(). */
      gint64 usec = (gint64) (ns / NS_PER_US);
      *out_usec = neg ? -usec : usec;
    }
  return TRUE;
}

/* Go's fmtFrac, on a buffer filled from its end: writes the @prec lowest
 * decimal digits of @v as a fraction without trailing zeros (and without the
 * point when they are all zero), and returns @v without them. */
static guint64
prepend_frac (char   *buf,
              gsize  *w,
              guint64 v,
              int     prec)
{
  gboolean print = FALSE;

  for (int i = 0; i < prec; i++)
    {
      guint64 digit = v % 10;

      print = print || digit != 0;
      if (print)
        buf[--*w] = (char) ('0' + digit);
      v /= 10;
    }
  if (print)
    buf[--*w] = '.';
  return v;
}

static void
prepend_int (char   *buf,
             gsize  *w,
             guint64 v)
{
  if (v == 0)
    {
      buf[--*w] = '0';
      return;
    }
  for (; v > 0; v /= 10)
    buf[--*w] = (char) ('0' + v % 10);
}

static void
prepend_str (char       *buf,
             gsize      *w,
             const char *s)
{
  gsize len = strlen (s);

  *w -= len;
  memcpy (buf + *w, s, len);
}

char *
holder_duration_format (gint64 usec)
{
  /* Go's Duration.format, with the unit of the input being the microsecond
   * instead of the nanosecond: each fraction has three digits fewer. */
  char buf[48];
  gsize w = sizeof buf;
  gboolean neg = usec < 0;
  guint64 u = neg ? (guint64) 0 - (guint64) usec : (guint64) usec;

  if (u < G_USEC_PER_SEC)
    {
      if (u == 0)
        return g_strdup ("0s");
      if (u < 1000)
        {
          prepend_str (buf, &w, "\xc2\xb5s");
          prepend_int (buf, &w, u);
        }
      else
        {
          prepend_str (buf, &w, "ms");
          u = prepend_frac (buf, &w, u, 3);
          prepend_int (buf, &w, u);
        }
    }
  else
    {
      prepend_str (buf, &w, "s");
      u = prepend_frac (buf, &w, u, 6);
      prepend_int (buf, &w, u % 60);
      u /= 60;
      if (u > 0)
        {
          prepend_str (buf, &w, "m");
          prepend_int (buf, &w, u % 60);
          u /= 60;
          if (u > 0)
            {
              prepend_str (buf, &w, "h");
              prepend_int (buf, &w, u);
            }
        }
    }

  if (neg)
    buf[--w] = '-';

  return g_strndup (buf + w, sizeof buf - w);
}

/* --- Go quoting ---------------------------------------------------------- */

/* Go's utf8.DecodeRune: -1 and length 1 for a byte that does not start a
 * valid, complete, shortest-form sequence of a scalar value. Go replaces
 * such bytes one at a time, and so must the codec to produce its bytes. */
gint32
holder_utf8_decode_rune (const guchar *s,
                gsize         len,
                gsize        *out_size)
{
  guchar b0 = s[0];
  guchar lo = 0x80, hi = 0xbf;
  gsize need;
  gint32 r;

  *out_size = 1;
  if (b0 < 0x80)
    return b0;
  if (b0 >= 0xc2 && b0 <= 0xdf)
    {
      need = 2;
      r = b0 & 0x1f;
    }
  else if (b0 >= 0xe0 && b0 <= 0xef)
    {
      need = 3;
      r = b0 & 0x0f;
      if (b0 == 0xe0)
        lo = 0xa0;
      else if (b0 == 0xed)
        hi = 0x9f; /* no surrogates */
    }
  else if (b0 >= 0xf0 && b0 <= 0xf4)
    {
      need = 4;
      r = b0 & 0x07;
      if (b0 == 0xf0)
        lo = 0x90;
      else if (b0 == 0xf4)
        hi = 0x8f;
    }
  else
    return -1;

  if (len < need)
    return -1;
  if (s[1] < lo || s[1] > hi)
    return -1;
  r = (r << 6) | (s[1] & 0x3f);
  for (gsize i = 2; i < need; i++)
    {
      if (s[i] < 0x80 || s[i] > 0xbf)
        return -1;
      r = (r << 6) | (s[i] & 0x3f);
    }
  *out_size = need;
  return r;
}

/* Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and
 * the ASCII space. */
static gboolean
go_is_print (gunichar c)
{
  if (c == ' ')
    return TRUE;

  switch (g_unichar_type (c))
    {
    case G_UNICODE_CONTROL:
    case G_UNICODE_FORMAT:
    case G_UNICODE_UNASSIGNED:
    case G_UNICODE_PRIVATE_USE:
    case G_UNICODE_SURROGATE:
    case G_UNICODE_SPACE_SEPARATOR:
    case G_UNICODE_LINE_SEPARATOR:
    case G_UNICODE_PARAGRAPH_SEPARATOR:
      return FALSE;
    default:
      return TRUE;
    }
}

void
holder_append_go_quoted (GString    *out,
                         const char *s)
{
  static const char hex[] = "0123456789abcdef";
  const guchar *p = (const guchar *) (s != NULL ? s : "");
  gsize len = strlen ((const char *) p);

  g_return_if_fail (out != NULL);

  g_string_append_c (out, '"');
  while (len > 0)
    {
      gsize size;
      gint32 r = holder_utf8_decode_rune (p, len, &size);

      if (r < 0)
        {
          g_string_append_printf (out, "\\x%c%c", hex[p[0] >> 4], hex[p[0] & 0xf]);
        }
      else if (r == '"' || r == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, (char) r);
        }
      else if (go_is_print ((gunichar) r))
        {
          g_string_append_len (out, (const char *) p, (gssize) size);
        }
      else
        {
          switch (r)
            {
            case '\a': g_string_append (out, "\\a"); break;
            case '\b': g_string_append (out, "\\b"); break;
            case '\f': g_string_append (out, "\\f"); break;
            case '\n': g_string_append (out, "\\n"); break;
            case '\r': g_string_append (out, "\\r"); break;
            case '\t': g_string_append (out, "\\t"); break;
            case '\v': g_string_append (out, "\\v"); break;
            default:
              if (r < ' ' || r == 0x7f)
                g_string_append_printf (out, "\\x%c%c", hex[r >> 4], hex[r & 0xf]);
              else if (r < 0x10000)
                g_string_append_printf (out, "\\u%04x", (guint) r);
              else
                g_string_append_printf (out, "\\U%08x", (guint) r);
              break;
            }
        }
      p += size;
      len -= size;
    }
  g_string_append_c (out, '"');
}

/* --- Environment ----------------------------------------------------------- */

gint64
holder_ip_wait_timeout_usec (void)
{
  const char *value = g_getenv ("FLEETBOX_IP_WAIT_TIMEOUT");
  guint64 ns;
  gboolean neg;

  if (value != NULL && parse_go_duration_ns (value, &ns, &neg) && !neg && ns > 0)
    {
      /* Go would honour even "1ns": keep a positive bound positive. */
      return MAX ((gint64) (ns / NS_PER_US), 1);
    }

  if (value != NULL && *value != '\0')
    g_debug ("ignoring FLEETBOX_IP_WAIT_TIMEOUT=%s: not a positive duration", value);
  return 5 * 60 * G_USEC_PER_SEC;
}

/* --- Files ------------------------------------------------------------------ */

static gboolean
set_errno_error (GError    **error,
                 int         saved_errno,
                 const char *what,
                 const char *path)
{
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               "%s %s: %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

/* A temporary name next to @name: "<name>.tmp-<6 random alphanumerics>". */
static char *
temporary_name (const char *name)
{
  static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  char suffix[7];

  for (guint i = 0; i < 6; i++)
    suffix[i] = chars[g_random_int_range (0, sizeof chars - 1)];
  suffix[6] = '\0';
  return g_strconcat (name, ".tmp-", suffix, NULL);
}

/* @shown names the file in messages (its whole path when known). */
static gboolean
file_replace_at (int          dir_fd,
                 const char  *name,
                 const char  *shown,
                 const char  *contents,
                 gsize        len,
                 int          mode,
                 struct stat *out_stat,
                 GError     **error)
{
  g_autofree char *tmp_name = NULL;
  const char *p = contents;
  gsize left = len;
  int fd = -1;

  /* Same folder, so the rename is atomic. O_EXCL|O_NOFOLLOW: a name
   * planted in the folder is never followed or reused. */
  for (guint attempt = 0; fd < 0 && attempt < 100; attempt++)
    {
      g_free (tmp_name);
      tmp_name = temporary_name (name);
      fd = openat (dir_fd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                   (mode_t) mode);
      if (fd < 0 && errno != EEXIST)
        break;
    }
  if (fd < 0)
    return set_errno_error (error, errno, "create a temporary file for", shown);

  /* The umask has shaped the mode given to open(); readers of pidfiles and
   * records expect exactly @mode. */
  if (fchmod (fd, (mode_t) mode) < 0)
    goto fail;
  /* The inode is the file's identity across the rename below. */
  if (out_stat != NULL && fstat (fd, out_stat) < 0)
    goto fail;

  while (left > 0)
    {
      ssize_t n = write (fd, p, left);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          goto fail;
        }
      p += n;
      left -= (gsize) n;
    }

  if (close (fd) < 0)
    {
      fd = -1;
      goto fail;
    }
  fd = -1;

  if (renameat (dir_fd, tmp_name, dir_fd, name) < 0)
    goto fail;

  return TRUE;

fail:
  {
    int saved_errno = errno;

    if (fd >= 0)
      close (fd);
    unlinkat (dir_fd, tmp_name, 0);
    return set_errno_error (error, saved_errno, "write", shown);
  }
}

gboolean
holder_file_replace_at (int          dir_fd,
                        const char  *name,
                        const char  *contents,
                        gsize        len,
                        int          mode,
                        GError     **error)
{
  g_return_val_if_fail (dir_fd >= 0, FALSE);
  g_return_val_if_fail (name != NULL && strchr (name, '/') == NULL, FALSE);
  g_return_val_if_fail (contents != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return file_replace_at (dir_fd, name, name, contents, len, mode, NULL, error);
}

gboolean
holder_file_replace_at_full (int          dir_fd,
                             const char  *name,
                             const char  *shown,
                             const char  *contents,
                             gsize        len,
                             int          mode,
                             struct stat *out_stat,
                             GError     **error)
{
  return file_replace_at (dir_fd, name, shown, contents, len, mode, out_stat, error);
}

gboolean
holder_file_replace (const char  *path,
                     const char  *contents,
                     gsize        len,
                     int          mode,
                     GError     **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  gboolean ok;
  int dir_fd;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (contents != NULL || len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  dir = g_path_get_dirname (path);
  base = g_path_get_basename (path);
  dir_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0)
    return set_errno_error (error, errno, "open the folder of", path);
  ok = file_replace_at (dir_fd, base, path, contents, len, mode, NULL, error);
  close (dir_fd);
  return ok;
}
