/* SPDX-License-Identifier: MIT
 *
 * The vz backend's vtable glue (holder-backend-vz.c, which on a Mac sits
 * on the Objective-C shim), built here on top of the fake shim of
 * holder-test-vz-shim.c and driven through holder_backend_vz_class as the
 * server drives a backend: capabilities by macOS version, the vmnet
 * network and when it is released, the MAC-only reservation, the checks
 * before a VM is made and what the shim is asked for, a create whose
 * caller gives up, the macOS-26 cluster rule, a whole life, a VM that
 * dies, the slow calls kept off the main context.
 */
#define G_LOG_DOMAIN "holder-test"

#include <arpa/inet.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "holder-backend.h"
#include "holder-test-util.h"
#include "holder-test-vz.h"
#include "holder-test-vz-shim.h"

#define AWAIT_MS 10000

extern const HolderBackendClass holder_backend_vz_class;

typedef struct {
  char              *root;
  HolderBackendHost  host;
  HolderBackend     *backend;
  guint              exits;
  char              *exit_message;
  HolderVm          *exited_vm;
} Fixture;

static void
on_vm_exited (HolderVm   *vm,
              const char *message,
              gpointer    user_data)
{
  Fixture *f = user_data;

  holder_test_vz_assert_main ();
  f->exits++;
  f->exited_vm = vm;
  g_free (f->exit_message);
  f->exit_message = g_strdup (message);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  holder_test_vz_shim_reset ();
  f->root = g_dir_make_tmp ("holder-vz-backend-XXXXXX", &error);
  g_assert_no_error (error);
  f->host.storage_root = f->root;
  f->host.vm_exited = on_vm_exited;
  f->host.user_data = f;
}

static void
fixture_new_backend (Fixture    *f,
                     const char *os_version)
{
  g_autoptr(GError) error = NULL;

  g_strlcpy (holder_test_vz_shim_world ()->host.os_version, os_version,
             sizeof holder_test_vz_shim_world ()->host.os_version);
  f->backend = holder_backend_vz_class.new (&holder_backend_vz_class, &f->host, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->backend);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->backend != NULL)
    holder_backend_vz_class.free (f->backend);
  holder_test_vz_drain ();
  holder_test_remove_tree (f->root);
  g_free (f->root);
  g_free (f->exit_message);
  holder_test_vz_shim_reset ();
}

/* ---- driving the vtable ------------------------------------------------------ */

static GAsyncResult *
await (GAsyncResult **slot)
{
  return holder_test_vz_await_result (slot, AWAIT_MS);
}

static char *
do_create_network (Fixture  *f,
                   GError  **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_backend_vz_class.create_network_async (f->backend, NULL, holder_test_vz_on_result,
                                                &result);
  g_assert_null (result);
  return holder_backend_vz_class.create_network_finish (f->backend, await (&result), error);
}

static void
do_close_network (Fixture *f)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  holder_backend_vz_class.close_network_async (f->backend, NULL, holder_test_vz_on_result,
                                               &result);
  g_assert_true (holder_backend_vz_class.close_network_finish (f->backend, await (&result),
                                                               &error));
  g_assert_no_error (error);
}

static HolderMemberSpec *
make_spec (Fixture    *f,
           const char *name)
{
  g_autoptr(HolderMemberSpec) spec = holder_member_spec_new (name);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = holder_store_member_dir (f->root, name);

  /* The server makes the member's folder when it registers it. */
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_free (spec->disk_path);
  spec->disk_path = g_build_filename (dir, "disk.raw", NULL);
  g_free (spec->seed_path);
  spec->seed_path = g_build_filename (dir, "seed.iso", NULL);
  spec->efi_path = g_build_filename (dir, "efi.nvram", NULL);
  g_file_set_contents (spec->disk_path, "", 0, &error);
  g_assert_no_error (error);
  g_file_set_contents (spec->seed_path, "", 0, &error);
  g_assert_no_error (error);
  spec->cpus = 2;
  spec->memory_bytes = G_GUINT64_CONSTANT (1024) << 20;
  return g_steal_pointer (&spec);
}

static HolderVm *
do_create (Fixture                *f,
           const HolderMemberSpec *spec,
           GError                **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *mac = holder_mac_for_name (spec->name);
  g_autoptr(HolderReservation) reservation = holder_reservation_new (NULL, mac);

  holder_backend_vz_class.create_vm_async (f->backend, spec, reservation, NULL,
                                           holder_test_vz_on_result, &result);
  g_assert_null (result);
  return holder_backend_vz_class.create_vm_finish (f->backend, await (&result), error);
}

static HolderVm *
create_ok (Fixture    *f,
           const char *name)
{
  g_autoptr(HolderMemberSpec) spec = make_spec (f, name);
  g_autoptr(GError) error = NULL;
  HolderVm *vm = do_create (f, spec, &error);

  g_assert_no_error (error);
  g_assert_nonnull (vm);
  return vm;
}

static gboolean
do_start (Fixture   *f,
          HolderVm  *vm,
          GError   **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_backend_vz_class.start_vm_async (f->backend, vm, NULL, holder_test_vz_on_result,
                                          &result);
  return holder_backend_vz_class.start_vm_finish (f->backend, await (&result), error);
}

static gboolean
do_stop (Fixture   *f,
         HolderVm  *vm,
         GError   **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  holder_backend_vz_class.stop_vm_async (f->backend, vm, NULL, holder_test_vz_on_result,
                                         &result);
  return holder_backend_vz_class.stop_vm_finish (f->backend, await (&result), error);
}

/* ---- new ------------------------------------------------------------------------- */

static void
test_caps_by_version (Fixture       *f,
                      gconstpointer  data)
{
  fixture_new_backend (f, "26.4.1");
  g_assert_cmpstr (f->backend->klass->name, ==, "vz");
  g_assert_cmpint (f->backend->klass->caps, ==, HOLDER_BACKEND_CAP_CLUSTERING);
  g_assert_true (f->backend->host == &f->host);
  holder_backend_vz_class.free (g_steal_pointer (&f->backend));

  fixture_new_backend (f, "15.5");
  g_assert_cmpint (f->backend->klass->caps, ==, HOLDER_BACKEND_CAP_NONE);
  g_assert_true (f->backend->klass == &holder_backend_vz_class);
}

static void
test_refusals (Fixture       *f,
               gconstpointer  data)
{
  HolderTestVzShimWorld *world = holder_test_vz_shim_world ();
  g_autoptr(GError) error = NULL;

  g_strlcpy (world->host.os_version, "12.7.6", sizeof world->host.os_version);
  g_assert_null (holder_backend_vz_class.new (&holder_backend_vz_class, &f->host, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND);
  g_assert_cmpstr (error->message, ==,
                   "the vz backend needs macOS 13 or later (EFI boot); this Mac runs macOS 12");
  g_clear_error (&error);

  g_strlcpy (world->host.os_version, "26.0", sizeof world->host.os_version);
  world->host.apple_silicon = 0;
  g_assert_null (holder_backend_vz_class.new (&holder_backend_vz_class, &f->host, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND);
  g_assert_true (g_str_has_prefix (error->message, "the vz backend needs a Mac with Apple silicon"));
}

static void
test_unknown_version (Fixture       *f,
                      gconstpointer  data)
{
  /* Unreadable: the conservative path, said once. */
  g_test_expect_message ("holder-backend-vz", G_LOG_LEVEL_WARNING,
                         "cannot read the macOS version*");
  fixture_new_backend (f, "");
  g_test_assert_expected_messages ();
  g_assert_cmpint (f->backend->klass->caps, ==, HOLDER_BACKEND_CAP_NONE);
}

/* ---- network -------------------------------------------------------------------------- */

static void
test_network_shared (Fixture       *f,
                     gconstpointer  data)
{
  HolderTestVzShimWorld *world = holder_test_vz_shim_world ();
  g_autoptr(GError) error = NULL;
  g_autofree char *subnet = NULL;
  guint32 addr;

  fixture_new_backend (f, "26.4.1");
  subnet = do_create_network (f, &error);
  g_assert_no_error (error);
  /* DHCP style: bootpd hands out the addresses. */
  g_assert_cmpstr (subnet, ==, "");
  g_assert_cmpuint (world->nets_created, ==, 1);
  /* vmnet was given X.1 and a /24, inside 192.168.0.0/16, off the main
   * context. */
  addr = ntohl (world->last_addr_be);
  g_assert_cmpuint (addr & 0xffff00ffu, ==, 0xc0a80001u);
  g_assert_cmpuint (ntohl (world->last_mask_be), ==, 0xffffff00u);
  g_assert_false (world->net_new_on_main);

  do_close_network (f);
  g_assert_cmpuint (world->nets_freed, ==, 1);
}

static void
test_network_nat (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *subnet = NULL;

  fixture_new_backend (f, "15.5");
  subnet = do_create_network (f, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (subnet, ==, "");
  g_assert_cmpuint (holder_test_vz_shim_world ()->nets_created, ==, 0);
  do_close_network (f);
}

static void
test_network_failure (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *subnet = NULL;

  holder_test_vz_shim_world ()->net_status = 1001;
  fixture_new_backend (f, "26.4.1");
  subnet = do_create_network (f, &error);
  g_assert_null (subnet);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_true (g_str_has_prefix (error->message, "create the vmnet network on 192.168."));
  g_assert_nonnull (strstr (error->message, "/24: vmnet_network_create: VMNET_FAILURE: "));
}

/* ---- reserve --------------------------------------------------------------------------------- */

static void
test_reserve (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReservation) reservation = NULL;
  g_autofree char *mac = holder_mac_for_name ("web-1");

  fixture_new_backend (f, "26.4.1");
  /* The hint cannot be honoured: bootpd assigns. */
  holder_backend_vz_class.reserve_async (f->backend, "web-1", "192.168.64.9", NULL,
                                         holder_test_vz_on_result, &result);
  reservation = holder_backend_vz_class.reserve_finish (f->backend, await (&result), &error);
  g_assert_no_error (error);
  g_assert_null (reservation->ip);
  g_assert_cmpstr (reservation->mac, ==, mac);
}

/* ---- create ---------------------------------------------------------------------------------- */

static void
test_create_checks (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(GError) error = NULL;
  HolderVm *vm;

  fixture_new_backend (f, "26.4.1");
  spec = make_spec (f, "web-1");

  /* Before createnetwork, on a Mac that needs the network. */
  vm = do_create (f, spec, &error);
  g_assert_null (vm);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NETWORK_NOT_CREATED);
  g_clear_error (&error);

  g_free (do_create_network (f, NULL));
  g_clear_pointer (&spec->efi_path, g_free);
  vm = do_create (f, spec, &error);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT);
  g_assert_cmpstr (error->message, ==, "no EFI variable store path (efi_path)");
  g_clear_error (&error);

  /* Bounds come from the Mac (the fake allows 1..8). */
  spec->efi_path = g_build_filename (f->root, "efi.nvram", NULL);
  spec->cpus = 9;
  vm = do_create (f, spec, &error);
  g_assert_cmpstr (error->message, ==, "cpus 9 is outside what this Mac allows (1 to 8)");
  g_assert_cmpuint (holder_test_vz_shim_world ()->vms_created, ==, 0);
}

static void
test_create_config (Fixture       *f,
                    gconstpointer  data)
{
  HolderTestVzShimWorld *world = holder_test_vz_shim_world ();
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *mac = holder_mac_for_name ("web-1");
  g_autofree char *dir = holder_store_member_dir (f->root, "web-1");
  g_autofree char *serial = g_build_filename (dir, "serial.log", NULL);
  HolderVm *vm;

  world->host.nested_supported = 1;
  fixture_new_backend (f, "26.4.1");
  g_free (do_create_network (f, NULL));
  spec = make_spec (f, "web-1");
  vm = do_create (f, spec, &error);
  g_assert_no_error (error);

  /* What the shim was asked for; made on a worker, not the main loop. */
  g_assert_false (world->vm_new_on_main);
  g_assert_cmpuint (world->last_config.cpus, ==, 2);
  g_assert_cmpuint (world->last_config.memory_bytes, ==, G_GUINT64_CONSTANT (1024) << 20);
  g_assert_cmpstr (world->last_config.disk_path, ==, spec->disk_path);
  g_assert_cmpstr (world->last_config.seed_path, ==, spec->seed_path);
  g_assert_cmpstr (world->last_config.efi_path, ==, spec->efi_path);
  g_assert_cmpint (world->last_config.create_efi, ==, 1);
  g_assert_cmpstr (world->last_config.mac, ==, mac);
  /* No log asked for: serial.log in the member's folder. */
  g_assert_cmpstr (world->last_config.serial_log_path, ==, serial);
  g_assert_cmpint (world->last_config.nested, ==, 1);
  g_assert_true (world->last_had_net);
  /* Created before the framework opens it. */
  g_assert_true (g_file_test (serial, G_FILE_TEST_IS_REGULAR));

  holder_backend_vz_class.vm_free (f->backend, vm);
  g_assert_cmpuint (world->vms_freed, ==, 1);

  /* An existing store is reused; a given log path is kept. */
  g_file_set_contents (spec->efi_path, "nvram", -1, &error);
  g_assert_no_error (error);
  spec->serial_log_path = g_build_filename (f->root, "console.txt", NULL);
  vm = do_create (f, spec, &error);
  g_assert_no_error (error);
  g_assert_cmpint (world->last_config.create_efi, ==, 0);
  g_assert_cmpstr (world->last_config.serial_log_path, ==, spec->serial_log_path);
  holder_backend_vz_class.vm_free (f->backend, vm);

  /* A log that cannot be written fails the create, before the shim. */
  g_free (spec->serial_log_path);
  spec->serial_log_path = g_build_filename (f->root, "no-such-dir", "console.txt", NULL);
  g_assert_null (do_create (f, spec, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_true (g_str_has_prefix (error->message, "open the serial log "));
  g_assert_true (g_str_has_suffix (error->message, ": No such file or directory"));
  g_assert_cmpuint (world->vms_created, ==, 2);
}

static void
test_create_fails (Fixture       *f,
                   gconstpointer  data)
{
  HolderTestVzShimWorld *world = holder_test_vz_shim_world ();
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(GError) error = NULL;
  HolderVm *vm;

  fixture_new_backend (f, "15.5");
  g_free (do_create_network (f, NULL));
  spec = make_spec (f, "web-1");
  world->vm_new_error = "disk /x/disk.raw: The storage device attachment is invalid.";
  vm = do_create (f, spec, &error);
  g_assert_null (vm);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, world->vm_new_error);
  g_clear_error (&error);

  /* The failed member holds no place: another may come. */
  world->vm_new_error = NULL;
  vm = create_ok (f, "web-2");
  g_assert_false (world->last_had_net);
  holder_backend_vz_class.vm_free (f->backend, vm);
}

static void
test_create_cancelled (Fixture       *f,
                       gconstpointer  data)
{
  HolderTestVzShimWorld *world = holder_test_vz_shim_world ();
  g_autoptr(HolderMemberSpec) spec = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *mac = holder_mac_for_name ("web-1");
  g_autoptr(HolderReservation) reservation = holder_reservation_new (NULL, mac);
  HolderVm *vm;

  fixture_new_backend (f, "15.5");
  g_free (do_create_network (f, NULL));
  spec = make_spec (f, "web-1");
  /* The caller gives up while the shim builds the VM on its worker: the
   * VM made is freed, not leaked, and holds no place. */
  holder_backend_vz_class.create_vm_async (f->backend, spec, reservation, cancellable,
                                           holder_test_vz_on_result, &result);
  g_cancellable_cancel (cancellable);
  vm = holder_backend_vz_class.create_vm_finish (f->backend, await (&result), &error);
  g_assert_null (vm);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_object (&result);
  g_assert_cmpuint (world->vms_created, ==, 1);
  g_assert_cmpuint (world->vms_freed, ==, 1);
  vm = create_ok (f, "web-2");
  holder_backend_vz_class.vm_free (f->backend, vm);
}

static void
test_cluster_rule (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(HolderMemberSpec) second = NULL;
  g_autoptr(GError) error = NULL;
  HolderVm *one;
  HolderVm *two;

  /* Below 26: one member at a time. */
  fixture_new_backend (f, "15.5");
  g_free (do_create_network (f, NULL));
  one = create_ok (f, "web-1");
  second = make_spec (f, "web-2");
  g_assert_null (do_create (f, second, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_true (g_str_has_prefix (error->message, "clusters require macOS 26 or later: this Mac "
                                                   "runs macOS 15; "));
  g_clear_error (&error);
  holder_backend_vz_class.vm_free (f->backend, one);
  two = do_create (f, second, &error);
  g_assert_no_error (error);
  holder_backend_vz_class.vm_free (f->backend, two);
  holder_backend_vz_class.free (g_steal_pointer (&f->backend));

  /* 26+: a cluster. */
  fixture_new_backend (f, "26.0");
  g_free (do_create_network (f, NULL));
  one = create_ok (f, "web-1");
  two = create_ok (f, "web-2");
  holder_backend_vz_class.vm_free (f->backend, two);
  holder_backend_vz_class.vm_free (f->backend, one);
}

/* ---- a life ------------------------------------------------------------------------------------ */

static void
test_life (Fixture       *f,
           gconstpointer  data)
{
  HolderTestVzShimWorld *world = holder_test_vz_shim_world ();
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  HolderVm *vm;

  fixture_new_backend (f, "26.4.1");
  g_free (do_create_network (f, NULL));
  vm = create_ok (f, "web-1");
  g_assert_true (do_start (f, vm, &error));
  g_assert_no_error (error);
  g_assert_true (do_stop (f, vm, &error));
  g_assert_no_error (error);
  log = holder_test_vz_shim_vm_log (world->last_vm);
  g_assert_cmpstr (log, ==, "start-done,request,guest-stopped");
  g_assert_true (holder_test_vz_shim_vm_events_off_main (world->last_vm));
  /* The guest's power-off after the button is no exit. */
  holder_test_vz_drain ();
  g_assert_cmpuint (f->exits, ==, 0);

  /* The network goes with the last VM, not before. */
  do_close_network (f);
  g_assert_cmpuint (world->nets_freed, ==, 0);
  holder_backend_vz_class.vm_free (f->backend, vm);
  g_assert_cmpuint (world->nets_freed, ==, 1);
  g_assert_cmpuint (world->vms_freed, ==, 1);
}

static void
test_start_fails (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  HolderVm *vm;

  holder_test_vz_shim_world ()->script.start_error = "The storage device attachment is invalid. "
                                                     "(VZErrorDomain 2)";
  fixture_new_backend (f, "26.4.1");
  g_free (do_create_network (f, NULL));
  vm = create_ok (f, "web-1");
  g_assert_false (do_start (f, vm, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==,
                   "The storage device attachment is invalid. (VZErrorDomain 2)");
  /* The server then stops what it made, and frees it. */
  g_assert_true (do_stop (f, vm, NULL));
  holder_backend_vz_class.vm_free (f->backend, vm);
}

static void
test_vm_dies (Fixture       *f,
              gconstpointer  data)
{
  HolderTestVzShimWorld *world = holder_test_vz_shim_world ();
  g_autoptr(GAsyncResult) waited = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;
  HolderVm *vm;

  fixture_new_backend (f, "26.4.1");
  g_free (do_create_network (f, NULL));
  vm = create_ok (f, "web-1");
  g_assert_true (do_start (f, vm, NULL));

  /* The IP wait finds no lease (there is no bootpd here) and waits... */
  holder_backend_vz_class.wait_ip_async (f->backend, vm, NULL, holder_test_vz_on_result,
                                         &waited);
  /* ...until the VM dies on its queue: the server hears it on main, and
   * the wait fails at once with the reason. */
  holder_test_vz_shim_vm_die (world->last_vm);
  ip = holder_backend_vz_class.wait_ip_finish (f->backend, await (&waited), &error);
  g_assert_null (ip);
  g_assert_cmpstr (error->message, ==,
                   "the VM stopped with an error: Internal Virtualization error. The virtual "
                   "machine stopped unexpectedly.");
  g_assert_cmpuint (f->exits, ==, 1);
  g_assert_true (f->exited_vm == vm);
  g_assert_cmpstr (f->exit_message, ==, error->message);

  /* The server stops the VM to release what it held. */
  g_assert_true (do_stop (f, vm, NULL));
  holder_backend_vz_class.vm_free (f->backend, vm);
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_wait_ip_cancelled (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GAsyncResult) waited = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;
  HolderVm *vm;

  fixture_new_backend (f, "26.4.1");
  g_free (do_create_network (f, NULL));
  vm = create_ok (f, "web-1");
  g_assert_true (do_start (f, vm, NULL));
  /* The server bounds the wait (FLEETBOX_IP_WAIT_TIMEOUT) by cancelling. */
  holder_backend_vz_class.wait_ip_async (f->backend, vm, cancellable, holder_test_vz_on_result,
                                         &waited);
  g_timeout_add (20, cancel_later, cancellable);
  ip = holder_backend_vz_class.wait_ip_finish (f->backend, await (&waited), &error);
  g_assert_null (ip);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_true (do_stop (f, vm, NULL));
  holder_backend_vz_class.vm_free (f->backend, vm);
}

static void
test_reconcile (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  fixture_new_backend (f, "26.4.1");
  holder_backend_vz_class.reconcile_async (f->backend, HOLDER_RECONCILE_FLAGS_NONE, NULL, holder_test_vz_on_result, &result);
  g_assert_true (holder_backend_vz_class.reconcile_finish (f->backend, await (&result), &error));
  g_assert_no_error (error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  holder_test_vz_init_main ();

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/vz/backend/caps-by-version", test_caps_by_version);
  ADD ("/vz/backend/refusals", test_refusals);
  ADD ("/vz/backend/unknown-version", test_unknown_version);
  ADD ("/vz/backend/network-shared", test_network_shared);
  ADD ("/vz/backend/network-nat", test_network_nat);
  ADD ("/vz/backend/network-failure", test_network_failure);
  ADD ("/vz/backend/reserve", test_reserve);
  ADD ("/vz/backend/create-checks", test_create_checks);
  ADD ("/vz/backend/create-config", test_create_config);
  ADD ("/vz/backend/create-fails", test_create_fails);
  ADD ("/vz/backend/create-cancelled", test_create_cancelled);
  ADD ("/vz/backend/cluster-rule", test_cluster_rule);
  ADD ("/vz/backend/life", test_life);
  ADD ("/vz/backend/start-fails", test_start_fails);
  ADD ("/vz/backend/vm-dies", test_vm_dies);
  ADD ("/vz/backend/wait-ip-cancelled", test_wait_ip_cancelled);
  ADD ("/vz/backend/reconcile", test_reconcile);
#undef ADD

  return g_test_run ();
}
