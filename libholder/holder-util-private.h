/* SPDX-License-Identifier: MIT */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Parses a Go time.Duration string ("90s", "1h30m", "250ms", "1.5h",
 * "300us", "-1s", "0"). Returns FALSE on anything Go would refuse. */
gboolean holder_parse_go_duration (const char *text,
                                   gint64     *out_usec);

/* Formats microseconds like Go's Duration.String(): "5m0s", "1.5s",
 * "250ms", "0s". */
char *holder_format_go_duration (gint64 usec);

/* Appends @s quoted like Go's %q / strconv.Quote. */
void holder_append_go_quoted (GString    *out,
                              const char *s);

/* The FLEETBOX_IP_WAIT_TIMEOUT bound in microseconds: the variable when it
 * is a valid positive duration, else 5 minutes. */
gint64 holder_ip_wait_timeout_usec (void);

/* Writes @contents to @path atomically (temporary file in the same folder,
 * fsync not required, rename) with @mode. */
gboolean holder_file_replace (const char *path,
                              const char *contents,
                              gsize       len,
                              int         mode,
                              GError    **error);

G_END_DECLS
