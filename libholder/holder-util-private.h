/* SPDX-License-Identifier: MIT */
#pragma once

#include <sys/stat.h>

#include <glib.h>

/* The duration parser and atomic file replace are part of the backend API
 * (holder-backend.h). */
#include "holder-backend.h"

G_BEGIN_DECLS

/* Appends @s quoted like Go's %q / strconv.Quote. */
void holder_append_go_quoted (GString    *out,
                              const char *s);

/* The FLEETBOX_IP_WAIT_TIMEOUT bound in microseconds: the variable when it
 * is a valid positive duration, else 5 minutes. */
gint64 holder_ip_wait_timeout_usec (void);

/* Decodes one UTF-8 sequence at @s (of @len > 0 bytes) the way Go does:
 * returns the code point and its length in @out_size, or -1 with
 * @out_size 1 for an invalid or truncated sequence (Go's RuneError). */
gint32 holder_utf8_decode_rune (const guchar *s,
                                gsize         len,
                                gsize        *out_size);

/* holder_file_replace_at() naming the file @shown in messages (its whole
 * path), and giving the new file's identity in @out_stat (nullable): the
 * inode stays the file's across the rename. */
gboolean holder_file_replace_at_full (int          dir_fd,
                                      const char  *name,
                                      const char  *shown,
                                      const char  *contents,
                                      gsize        len,
                                      int          mode,
                                      struct stat *out_stat,
                                      GError     **error);

G_END_DECLS
