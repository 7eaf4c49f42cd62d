/* holder-net-report.c: what reconcile (or its dry run) reclaimed, and
 * what it warns about, gathered on a worker and handed to the main loop
 * (holder-linux-net.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-linux-net"

#include "holder-backend.h"
#include "holder-linux-net.h"

HolderNetReport *
holder_net_report_new (void)
{
  HolderNetReport *report = g_new0 (HolderNetReport, 1);

  report->kinds = g_ptr_array_new_with_free_func (g_free);
  report->whats = g_ptr_array_new_with_free_func (g_free);
  report->warnings = g_ptr_array_new_with_free_func (g_free);
  return report;
}

void
holder_net_report_free (HolderNetReport *report)
{
  if (report == NULL)
    return;
  g_ptr_array_unref (report->kinds);
  g_ptr_array_unref (report->whats);
  g_ptr_array_unref (report->warnings);
  g_free (report);
}

void
holder_net_report_reclaimed (HolderNetReport *report,
                             const char      *kind,
                             const char      *format,
                             ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (report->kinds, g_strdup (kind));
  g_ptr_array_add (report->whats, g_strdup_vprintf (format, args));
  va_end (args);
}

void
holder_net_report_warn (HolderNetReport *report,
                        const char      *format,
                        ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (report->warnings, g_strdup_vprintf (format, args));
  va_end (args);
}
