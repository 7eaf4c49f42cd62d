/* SPDX-License-Identifier: MIT
 *
 * From a member spec to the shim's configuration: every validation
 * message, the bounds from the Mac's limits, the EFI decision, the serial
 * log's default place and the mapping itself. Portable code.
 */
#define G_LOG_DOMAIN "holder-test"

#include <glib/gstdio.h>
#include <string.h>

#include "holder-backend.h"
#include "holder-vz-config.h"
#include "holder-test-util.h"

typedef struct {
  char             *tmpdir;
  HolderMemberSpec *spec;
} Fixture;

static char *
touch (const char *dir,
       const char *name)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_file_set_contents (path, "", 0, &error);
  g_assert_no_error (error);
  return path;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->tmpdir = g_dir_make_tmp ("holder-vz-config-XXXXXX", &error);
  g_assert_no_error (error);
  f->spec = holder_member_spec_new ("web-1");
  g_free (f->spec->disk_path);
  f->spec->disk_path = touch (f->tmpdir, "disk.raw");
  g_free (f->spec->seed_path);
  f->spec->seed_path = touch (f->tmpdir, "seed.iso");
  f->spec->efi_path = g_build_filename (f->tmpdir, "efi.nvram", NULL);
  f->spec->cpus = 2;
  f->spec->memory_bytes = 1024 * HOLDER_VZ_MIB;
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  holder_member_spec_free (f->spec);
  holder_test_remove_tree (f->tmpdir);
  g_free (f->tmpdir);
}

/* Validates and expects @message exactly (NULL: valid). */
static void
expect (const HolderMemberSpec     *spec,
        const HolderVzShimHostInfo *limits,
        const char                 *message)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = holder_vz_config_validate (spec, limits, &error);

  if (message == NULL)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      return;
    }
  g_assert_false (ok);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, message);
}

static void
replace (char       **field,
         const char  *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

static void
test_valid (Fixture       *f,
            gconstpointer  data)
{
  expect (f->spec, NULL, NULL);
}

static void
test_empty_fields (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *disk = g_strdup (f->spec->disk_path);
  g_autofree char *seed = g_strdup (f->spec->seed_path);
  g_autofree char *efi = g_strdup (f->spec->efi_path);

  replace (&f->spec->name, "");
  expect (f->spec, NULL, "the member has no name");
  replace (&f->spec->name, "web-1");

  replace (&f->spec->disk_path, NULL);
  expect (f->spec, NULL, "no disk path (disk_path)");
  replace (&f->spec->disk_path, "");
  expect (f->spec, NULL, "no disk path (disk_path)");
  replace (&f->spec->disk_path, disk);

  replace (&f->spec->seed_path, "");
  expect (f->spec, NULL, "no seed path (seed_path)");
  replace (&f->spec->seed_path, seed);

  replace (&f->spec->efi_path, NULL);
  expect (f->spec, NULL, "no EFI variable store path (efi_path)");
  replace (&f->spec->efi_path, efi);

  expect (f->spec, NULL, NULL);
}

static void
test_direct_boot_refused (Fixture       *f,
                          gconstpointer  data)
{
  const char *message = "direct kernel boot (kernel_path, initramfs_path, cmdline) is not "
                        "supported by the vz backend: it boots the disk through EFI";

  replace (&f->spec->kernel_path, "/boot/vmlinuz");
  expect (f->spec, NULL, message);
  replace (&f->spec->kernel_path, NULL);
  replace (&f->spec->cmdline, "console=hvc0");
  expect (f->spec, NULL, message);
}

static void
test_sizing (Fixture       *f,
             gconstpointer  data)
{
  f->spec->cpus = 0;
  expect (f->spec, NULL, "cpus must be at least 1, not 0");
  f->spec->cpus = -4;
  expect (f->spec, NULL, "cpus must be at least 1, not -4");
  f->spec->cpus = 1;

  f->spec->memory_bytes = 0;
  expect (f->spec, NULL, "memory must be at least 256 MiB, not 0 bytes");
  f->spec->memory_bytes = 256 * HOLDER_VZ_MIB - 1;
  expect (f->spec, NULL, "memory must be at least 256 MiB, not 268435455 bytes");
  f->spec->memory_bytes = 256 * HOLDER_VZ_MIB + 512;
  expect (f->spec, NULL, "memory must be a multiple of 1 MiB, not 268435968 bytes");
  f->spec->memory_bytes = 256 * HOLDER_VZ_MIB;
  expect (f->spec, NULL, NULL);

  /* More than the shim's uint32 can say, with no limits known. */
  f->spec->cpus = (gint64) G_MAXUINT32 + 1;
  expect (f->spec, NULL, "cpus 4294967296 is too many");
}

static void
test_missing_files (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *missing = g_build_filename (f->tmpdir, "nope.raw", NULL);
  g_autofree char *message = NULL;
  g_autofree char *fixture = touch (f->tmpdir, "fixture-0.img");

  replace (&f->spec->disk_path, missing);
  message = g_strdup_printf ("disk %s: No such file or directory", missing);
  expect (f->spec, NULL, message);
  g_clear_pointer (&message, g_free);
  g_free (f->spec->disk_path);
  f->spec->disk_path = touch (f->tmpdir, "disk.raw");

  replace (&f->spec->seed_path, missing);
  message = g_strdup_printf ("seed %s: No such file or directory", missing);
  expect (f->spec, NULL, message);
  g_clear_pointer (&message, g_free);
  g_free (f->spec->seed_path);
  f->spec->seed_path = touch (f->tmpdir, "seed.iso");

  f->spec->fixture_paths = g_new0 (char *, 3);
  f->spec->fixture_paths[0] = g_strdup (fixture);
  f->spec->fixture_paths[1] = g_strdup (missing);
  message = g_strdup_printf ("fixture %s: No such file or directory", missing);
  expect (f->spec, NULL, message);

  /* The EFI store may be missing: it is then created. */
  g_assert_false (g_file_test (f->spec->efi_path, G_FILE_TEST_EXISTS));
  replace (&f->spec->fixture_paths[1], fixture);
  expect (f->spec, NULL, NULL);
}

static void
test_limits (Fixture       *f,
             gconstpointer  data)
{
  HolderVzShimHostInfo limits = {
    .min_cpus = 1,
    .max_cpus = 8,
    .min_memory_bytes = 128 * HOLDER_VZ_MIB,
    .max_memory_bytes = 16384 * HOLDER_VZ_MIB,
    .nested_supported = 0,
  };

  expect (f->spec, &limits, NULL);
  f->spec->cpus = 8;
  expect (f->spec, &limits, NULL);
  f->spec->cpus = 9;
  expect (f->spec, &limits, "cpus 9 is outside what this Mac allows (1 to 8)");
  f->spec->cpus = 2;
  f->spec->memory_bytes = 16385 * HOLDER_VZ_MIB;
  expect (f->spec, &limits, "memory 16385 MiB is outside what this Mac allows (128 to 16384 MiB)");
  f->spec->memory_bytes = 16384 * HOLDER_VZ_MIB;
  expect (f->spec, &limits, NULL);
  /* A Mac whose floor is above fleetbox's. */
  limits.min_memory_bytes = 512 * HOLDER_VZ_MIB;
  f->spec->memory_bytes = 256 * HOLDER_VZ_MIB;
  expect (f->spec, &limits, "memory 256 MiB is outside what this Mac allows (512 to 16384 MiB)");
}

static void
test_efi_decision (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (holder_vz_config_efi_needs_create (f->spec->efi_path));
  g_file_set_contents (f->spec->efi_path, "nvram", -1, &error);
  g_assert_no_error (error);
  g_assert_false (holder_vz_config_efi_needs_create (f->spec->efi_path));
}

static void
test_serial_log_path (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *member_dir = holder_store_member_dir ("/root/store", "web-1");
  g_autofree char *expected = g_build_filename (member_dir, "serial.log", NULL);
  g_autofree char *chosen = holder_vz_config_serial_log_path (f->spec, "/root/store");
  g_autofree char *given = NULL;

  /* None given: serial.log in the member's own folder. */
  g_assert_cmpstr (chosen, ==, expected);
  g_assert_cmpstr (chosen, ==, "/root/store/clusters/web/web-1/serial.log");

  replace (&f->spec->serial_log_path, "/tmp/console.txt");
  given = holder_vz_config_serial_log_path (f->spec, "/root/store");
  g_assert_cmpstr (given, ==, "/tmp/console.txt");
}

static void
test_mapping (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderVzShimVmConfig) config = NULL;
  g_autofree char *mac = holder_mac_for_name ("web-1");

  f->spec->cpus = 3;
  f->spec->memory_bytes = 2048 * HOLDER_VZ_MIB;
  f->spec->fixture_paths = g_new0 (char *, 3);
  f->spec->fixture_paths[0] = g_strdup ("/f/fixture-0.img");
  f->spec->fixture_paths[1] = g_strdup ("/f/fixture-1.img");

  config = holder_vz_config_new (f->spec, mac, "/tmp/serial.log", TRUE, TRUE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
  g_assert_cmpuint (config->cpus, ==, 3);
  g_assert_cmpuint (config->memory_bytes, ==, G_GUINT64_CONSTANT (2147483648));
  g_assert_cmpstr (config->efi_path, ==, f->spec->efi_path);
  g_assert_cmpint (config->create_efi, ==, 1);
  g_assert_cmpstr (config->disk_path, ==, f->spec->disk_path);
  g_assert_cmpstr (config->seed_path, ==, f->spec->seed_path);
  g_assert_cmpstr (config->fixture_paths[0], ==, "/f/fixture-0.img");
  g_assert_cmpstr (config->fixture_paths[1], ==, "/f/fixture-1.img");
  g_assert_null (config->fixture_paths[2]);
  g_assert_cmpstr (config->mac, ==, mac);
  g_assert_cmpstr (config->serial_log_path, ==, "/tmp/serial.log");
  g_assert_cmpint (config->nested, ==, 1);
  /* Copies: the spec may go. */
  g_assert_true (config->disk_path != f->spec->disk_path);
  g_clear_pointer (&config, holder_vz_config_free);

  /* No fixtures, no nesting, an existing store. */
  g_clear_pointer (&f->spec->fixture_paths, g_strfreev);
  config = holder_vz_config_new (f->spec, mac, NULL, FALSE, FALSE, &error);
  g_assert_no_error (error);
  g_assert_null (config->fixture_paths);
  g_assert_null (config->serial_log_path);
  g_assert_cmpint (config->nested, ==, 0);
  g_assert_cmpint (config->create_efi, ==, 0);
  g_clear_pointer (&config, holder_vz_config_free);

  /* VZMACAddress would answer nil without a reason: we say which. */
  config = holder_vz_config_new (f->spec, "52:54:00:12:34", NULL, FALSE, FALSE, &error);
  g_assert_null (config);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "MAC address \"52:54:00:12:34\" is not six hex octets");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/vz/config/valid", test_valid);
  ADD ("/vz/config/empty-fields", test_empty_fields);
  ADD ("/vz/config/direct-boot-refused", test_direct_boot_refused);
  ADD ("/vz/config/sizing", test_sizing);
  ADD ("/vz/config/missing-files", test_missing_files);
  ADD ("/vz/config/limits", test_limits);
  ADD ("/vz/config/efi-decision", test_efi_decision);
  ADD ("/vz/config/serial-log-path", test_serial_log_path);
  ADD ("/vz/config/mapping", test_mapping);
#undef ADD

  return g_test_run ();
}
