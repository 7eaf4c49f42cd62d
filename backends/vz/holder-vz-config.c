/* SPDX-License-Identifier: MIT
 *
 * Member spec to shim configuration (see holder-vz-config.h).
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include <errno.h>
#include <glib/gstdio.h>

#include "holder-backend.h"
#include "holder-vz-config.h"
#include "holder-vz-leases.h"

static gboolean
is_empty (const char *s)
{
  return s == NULL || s[0] == '\0';
}

static gboolean
require_path (const char  *value,
              const char  *what,
              const char  *field,
              GError     **error)
{
  if (!is_empty (value))
    return TRUE;
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
               "no %s path (%s)", what, field);
  return FALSE;
}

static gboolean
require_file (const char  *path,
              const char  *what,
              GError     **error)
{
  GStatBuf st;

  if (g_stat (path, &st) == 0)
    return TRUE;
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT, "%s %s: %s", what, path,
               g_strerror (errno));
  return FALSE;
}

gboolean
holder_vz_config_validate (const HolderMemberSpec     *spec,
                           const HolderVzShimHostInfo *limits,
                           GError                    **error)
{
  g_return_val_if_fail (spec != NULL, FALSE);

  if (is_empty (spec->name))
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                           "the member has no name");
      return FALSE;
    }
  if (!require_path (spec->disk_path, "disk", "disk_path", error) ||
      !require_path (spec->seed_path, "seed", "seed_path", error) ||
      !require_path (spec->efi_path, "EFI variable store", "efi_path", error))
    return FALSE;
  /* Refused rather than ignored: a client that asks for a kernel would
   * otherwise get a guest booted some other way than it thinks. */
  if (!is_empty (spec->kernel_path) || !is_empty (spec->initramfs_path) ||
      !is_empty (spec->cmdline))
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                           "direct kernel boot (kernel_path, initramfs_path, cmdline) is not "
                           "supported by the vz backend: it boots the disk through EFI");
      return FALSE;
    }
  if (spec->cpus < 1)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "cpus must be at least 1, not %" G_GINT64_FORMAT, spec->cpus);
      return FALSE;
    }
  if (spec->memory_bytes < HOLDER_VZ_MEMORY_MIN_BYTES)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "memory must be at least 256 MiB, not %" G_GUINT64_FORMAT " bytes",
                   spec->memory_bytes);
      return FALSE;
    }
  if (spec->memory_bytes % HOLDER_VZ_MIB != 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "memory must be a multiple of 1 MiB, not %" G_GUINT64_FORMAT " bytes",
                   spec->memory_bytes);
      return FALSE;
    }
  if (!require_file (spec->disk_path, "disk", error) ||
      !require_file (spec->seed_path, "seed", error))
    return FALSE;
  for (gsize i = 0; spec->fixture_paths != NULL && spec->fixture_paths[i] != NULL; i++)
    {
      if (!require_file (spec->fixture_paths[i], "fixture", error))
        return FALSE;
    }

  /* The shim's uint32 holds any count a Mac could allow. */
  if (spec->cpus > G_MAXUINT32 ||
      (limits != NULL && ((guint64) spec->cpus < limits->min_cpus ||
                          (guint64) spec->cpus > limits->max_cpus)))
    {
      if (limits != NULL)
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                     "cpus %" G_GINT64_FORMAT " is outside what this Mac allows (%u to %u)",
                     spec->cpus, limits->min_cpus, limits->max_cpus);
      else
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                     "cpus %" G_GINT64_FORMAT " is too many", spec->cpus);
      return FALSE;
    }
  if (limits != NULL && (spec->memory_bytes < limits->min_memory_bytes ||
                         spec->memory_bytes > limits->max_memory_bytes))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "memory %" G_GUINT64_FORMAT " MiB is outside what this Mac allows "
                   "(%" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT " MiB)",
                   spec->memory_bytes / HOLDER_VZ_MIB,
                   limits->min_memory_bytes / HOLDER_VZ_MIB,
                   limits->max_memory_bytes / HOLDER_VZ_MIB);
      return FALSE;
    }
  return TRUE;
}

gboolean
holder_vz_config_efi_needs_create (const char *efi_path)
{
  g_return_val_if_fail (efi_path != NULL, FALSE);
  return !g_file_test (efi_path, G_FILE_TEST_EXISTS);
}

char *
holder_vz_config_serial_log_path (const HolderMemberSpec *spec,
                                  const char             *storage_root)
{
  g_autofree char *dir = NULL;

  g_return_val_if_fail (spec != NULL && spec->name != NULL, NULL);
  if (!is_empty (spec->serial_log_path))
    return g_strdup (spec->serial_log_path);
  g_return_val_if_fail (storage_root != NULL, NULL);
  dir = holder_store_member_dir (storage_root, spec->name);
  return g_build_filename (dir, "serial.log", NULL);
}

HolderVzShimVmConfig *
holder_vz_config_new (const HolderMemberSpec  *spec,
                      const char              *mac,
                      const char              *serial_log_path,
                      gboolean                 nested,
                      gboolean                 create_efi,
                      GError                 **error)
{
  g_autoptr(HolderVzShimVmConfig) config = NULL;
  guint8 octets[6];

  g_return_val_if_fail (spec != NULL, NULL);
  g_return_val_if_fail (spec->cpus >= 1 && spec->cpus <= G_MAXUINT32, NULL);

  /* VZMACAddress initWithString: answers nil, without a reason, for a bad
   * string: say which one here. */
  if (!holder_vz_mac_parse (mac, octets))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                   "MAC address \"%s\" is not six hex octets", mac != NULL ? mac : "");
      return NULL;
    }
  config = g_new0 (HolderVzShimVmConfig, 1);
  config->cpus = (uint32_t) spec->cpus;
  config->memory_bytes = spec->memory_bytes;
  config->efi_path = g_strdup (spec->efi_path);
  config->create_efi = create_efi ? 1 : 0;
  config->disk_path = g_strdup (spec->disk_path);
  config->seed_path = g_strdup (spec->seed_path);
  config->fixture_paths = g_strdupv (spec->fixture_paths);
  config->mac = g_strdup (mac);
  config->serial_log_path = g_strdup (serial_log_path);
  config->nested = nested ? 1 : 0;
  return g_steal_pointer (&config);
}

void
holder_vz_config_free (HolderVzShimVmConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->efi_path);
  g_free (config->disk_path);
  g_free (config->seed_path);
  g_strfreev (config->fixture_paths);
  g_free (config->mac);
  g_free (config->serial_log_path);
  g_free (config);
}
