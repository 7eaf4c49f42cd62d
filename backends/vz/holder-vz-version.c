/* SPDX-License-Identifier: MIT
 *
 * macOS version gates (see holder-vz-version.h).
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include "holder-backend.h"
#include "holder-vz-version.h"

/* Far above any real release; a longer run of digits is not a version. */
#define MAJOR_MAX 9999

guint
holder_vz_parse_macos_major (const char *version)
{
  guint major = 0;
  const char *p;

  if (version == NULL)
    return 0;
  /* Digits only up to the first '.' or the end: "26abc" is no version. */
  for (p = version; *p != '\0' && *p != '.'; p++)
    {
      if (!g_ascii_isdigit (*p))
        return 0;
      major = major * 10 + (guint) (*p - '0');
      if (major > MAJOR_MAX)
        return 0;
    }
  return major;
}

gboolean
holder_vz_supports_clustering (guint major)
{
  return major >= HOLDER_VZ_MACOS_CLUSTERING;
}

HolderVzNetMode
holder_vz_net_mode (guint major)
{
  return holder_vz_supports_clustering (major) ? HOLDER_VZ_NET_SHARED : HOLDER_VZ_NET_NAT;
}

const char *
holder_vz_net_mode_to_string (HolderVzNetMode mode)
{
  return mode == HOLDER_VZ_NET_SHARED ? "vmnet shared mode" : "NAT";
}

gboolean
holder_vz_cluster_allows (guint    major,
                          guint    other_members,
                          GError **error)
{
  g_autofree char *running = NULL;

  if (holder_vz_supports_clustering (major) || other_members == 0)
    return TRUE;
  running = major == 0 ? g_strdup ("this Mac's macOS version could not be read")
                       : g_strdup_printf ("this Mac runs macOS %u", major);
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
               "clusters require macOS %d or later: %s; below %d each VM sits alone "
               "behind its own NAT and cannot reach another, so run one member per "
               "cluster or upgrade macOS",
               HOLDER_VZ_MACOS_CLUSTERING, running, HOLDER_VZ_MACOS_CLUSTERING);
  return FALSE;
}
