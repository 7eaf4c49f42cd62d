/* holder-trace.c: the boot trace (see holder_boot_trace() in
 * holder-backend.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-boot-trace" /* HOLDER_BOOT_TRACE_DOMAIN */

#include "holder-backend.h"

static gboolean
boot_trace_enabled (void)
{
  /* 0: not looked yet; 1: off; 2: on. G_MESSAGES_DEBUG is read once. */
  static gsize state = 0;

  if (g_once_init_enter (&state))
    {
      gboolean on = !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG,
                                                      HOLDER_BOOT_TRACE_DOMAIN);
      g_once_init_leave (&state, on ? 2 : 1);
    }
  return state == 2;
}

void
holder_boot_trace (const char *member,
                   const char *step)
{
  g_return_if_fail (member != NULL && step != NULL);

  if (!boot_trace_enabled ())
    return;
  g_debug ("boot-trace %" G_GINT64_FORMAT " %s %s", g_get_monotonic_time (), member, step);
}
