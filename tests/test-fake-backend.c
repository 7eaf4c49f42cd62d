/* SPDX-License-Identifier: MIT
 *
 * The fake backend driven directly through its class on a main loop.
 */
#define G_LOG_DOMAIN "holder-test"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "holder-backend.h"
#include "holder-error.h"
#include "holder-store.h"
#include "holder-types.h"

static const char *const fake_knobs[] = {
  "FLEETBOX_FAKE_RECORD",
  "FLEETBOX_FAKE_FAIL_CREATE",
  "FLEETBOX_FAKE_FAIL_START",
  "FLEETBOX_FAKE_FAIL_IP",
  "FLEETBOX_FAKE_BOOT_DELAY",
  "FLEETBOX_FAKE_STOP_DELAY",
  "FLEETBOX_FAKE_EXIT_AFTER",
  NULL,
};

/* Only what is set: GLib rightly complains about every unsetenv(). */
static void
unset_knobs (void)
{
  for (gsize i = 0; fake_knobs[i] != NULL; i++)
    {
      if (g_getenv (fake_knobs[i]) != NULL)
        g_unsetenv (fake_knobs[i]);
    }
}

typedef struct {
  char                     *tmpdir;
  char                     *record;
  HolderBackendHost         host;
  GPtrArray                *exited_vms;   /* HolderVm *, unowned */
  GPtrArray                *exited_msgs;  /* char * */
  GPtrArray                *progress;     /* char * "name:state" */
  const HolderBackendClass *klass;
  HolderBackend            *backend;
} Fixture;

static void
on_vm_exited (HolderVm   *vm,
              const char *message,
              gpointer    user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->exited_vms, vm);
  g_ptr_array_add (f->exited_msgs, g_strdup (message));
}

static void
on_member_progress (const char        *name,
                    HolderMemberState  state,
                    gpointer           user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->progress, g_strdup_printf ("%s:%d", name, (int) state));
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  unset_knobs ();

  f->tmpdir = g_dir_make_tmp ("holder-fake-XXXXXX", &error);
  g_assert_no_error (error);
  f->record = g_build_filename (f->tmpdir, "record.ndjson", NULL);
  g_setenv ("FLEETBOX_FAKE_RECORD", f->record, TRUE);

  f->exited_vms = g_ptr_array_new ();
  f->exited_msgs = g_ptr_array_new_with_free_func (g_free);
  f->progress = g_ptr_array_new_with_free_func (g_free);
  f->host.storage_root = f->tmpdir;
  f->host.vm_exited = on_vm_exited;
  f->host.member_progress = on_member_progress;
  f->host.user_data = f;

  f->klass = holder_backend_lookup ("fake", &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->klass);
}

/* Separate from the setup: tests set their knobs first, since the backend
 * reads them once, when it is made. */
static void
fixture_new_backend (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (f->backend);
  f->backend = f->klass->new (f->klass, &f->host, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f->backend);
  g_assert_true (f->backend->klass == f->klass);
  g_assert_true (f->backend->host == &f->host);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (f->backend != NULL)
    f->klass->free (f->backend);
  /* Let sources the backend dropped finish their disposal. */
  while (g_main_context_iteration (NULL, FALSE))
    ;

  g_unlink (f->record);
  g_assert_cmpint (g_rmdir (f->tmpdir), ==, 0);
  g_free (f->record);
  g_free (f->tmpdir);
  g_ptr_array_unref (f->exited_vms);
  g_ptr_array_unref (f->exited_msgs);
  g_ptr_array_unref (f->progress);

  unset_knobs ();
}

/* ---- driving the async API ---------------------------------------------- */

static void
on_result (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  g_assert_null (*slot);
  *slot = g_object_ref (result);
}

static GAsyncResult *
await_result (GAsyncResult **slot)
{
  while (*slot == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *slot;
}

static HolderReservation *
do_reserve (Fixture     *f,
            const char  *name,
            const char  *hint,
            GError     **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  f->klass->reserve_async (f->backend, name, hint, NULL, on_result, &result);
  /* Never completes in the caller's stack frame. */
  g_assert_null (result);
  return f->klass->reserve_finish (f->backend, await_result (&result), error);
}

static HolderVm *
do_create (Fixture                 *f,
           const HolderMemberSpec  *spec,
           const HolderReservation *reservation,
           GError                 **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  f->klass->create_vm_async (f->backend, spec, reservation, NULL,
                             on_result, &result);
  g_assert_null (result);
  return f->klass->create_vm_finish (f->backend, await_result (&result), error);
}

/* Creates @name with a minimal spec and its own MAC. */
static HolderVm *
do_create_named (Fixture     *f,
                 const char  *name,
                 GError     **error)
{
  g_autoptr(HolderMemberSpec) spec = holder_member_spec_new (name);
  g_autofree char *mac = holder_mac_for_name (name);
  g_autoptr(HolderReservation) reservation = holder_reservation_new (NULL, mac);

  return do_create (f, spec, reservation, error);
}

static gboolean
do_start (Fixture   *f,
          HolderVm  *vm,
          GError   **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  f->klass->start_vm_async (f->backend, vm, NULL, on_result, &result);
  g_assert_null (result);
  return f->klass->start_vm_finish (f->backend, await_result (&result), error);
}

static char *
do_wait_ip (Fixture       *f,
            HolderVm      *vm,
            GCancellable  *cancellable,
            GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  f->klass->wait_ip_async (f->backend, vm, cancellable, on_result, &result);
  g_assert_null (result);
  return f->klass->wait_ip_finish (f->backend, await_result (&result), error);
}

static gboolean
do_stop (Fixture   *f,
         HolderVm  *vm,
         GError   **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  f->klass->stop_vm_async (f->backend, vm, NULL, on_result, &result);
  g_assert_null (result);
  return f->klass->stop_vm_finish (f->backend, await_result (&result), error);
}

static gboolean
do_close (Fixture   *f,
          GError   **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  f->klass->close_network_async (f->backend, NULL, on_result, &result);
  g_assert_null (result);
  return f->klass->close_network_finish (f->backend, await_result (&result), error);
}

/* Create, start and wait: the VM's address. */
static HolderVm *
do_boot (Fixture     *f,
         const char  *name,
         char       **out_ip)
{
  g_autoptr(GError) error = NULL;
  HolderVm *vm = do_create_named (f, name, &error);

  g_assert_no_error (error);
  g_assert_nonnull (vm);
  g_assert_true (do_start (f, vm, &error));
  g_assert_no_error (error);
  *out_ip = do_wait_ip (f, vm, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (*out_ip);
  return vm;
}

static void
do_stop_and_free (Fixture  *f,
                  HolderVm *vm)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (do_stop (f, vm, &error));
  g_assert_no_error (error);
  f->klass->vm_free (f->backend, vm);
}

static char *
read_record (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (f->record, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static gint64
elapsed_ms (gint64 since)
{
  return (g_get_monotonic_time () - since) / 1000;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_class (Fixture       *f,
            gconstpointer  data)
{
  g_assert_cmpstr (f->klass->name, ==, "fake");
  /* NO_GUEST: boot-member does not check the files of specs it gets. */
  g_assert_cmpint (f->klass->caps, ==,
                   HOLDER_BACKEND_CAP_CLUSTERING | HOLDER_BACKEND_CAP_NESTED_VIRT |
                   HOLDER_BACKEND_CAP_NO_HOST_STATE | HOLDER_BACKEND_CAP_NO_GUEST);
}

static void
test_reconcile_and_network (Fixture       *f,
                            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) reconciled = NULL;
  g_autoptr(GAsyncResult) created = NULL;
  g_autofree char *subnet = NULL;

  fixture_new_backend (f);

  f->klass->reconcile_async (f->backend, HOLDER_RECONCILE_FLAGS_NONE, NULL, on_result,
                             &reconciled);
  g_assert_true (f->klass->reconcile_finish (f->backend, await_result (&reconciled),
                                             &error));
  g_assert_no_error (error);

  f->klass->create_network_async (f->backend, NULL, on_result, &created);
  subnet = f->klass->create_network_finish (f->backend, await_result (&created),
                                            &error);
  g_assert_no_error (error);
  /* DHCP style: an empty subnet, and nothing recorded. */
  g_assert_cmpstr (subnet, ==, "");
  g_assert_false (g_file_test (f->record, G_FILE_TEST_EXISTS));
}

static void
test_reserve (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReservation) solo = NULL;
  g_autoptr(HolderReservation) web = NULL;
  g_autofree char *record = NULL;
  g_autofree char *mac = holder_mac_for_name ("web-1");
  g_autofree char *expected = NULL;
  GStatBuf st;

  fixture_new_backend (f);

  solo = do_reserve (f, "solo", NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (solo);
  g_assert_null (solo->ip);
  g_assert_cmpstr (solo->mac, ==, "a2:da:71:da:e0:db");

  web = do_reserve (f, "web-1", "10.0.0.7", &error);
  g_assert_no_error (error);
  g_assert_null (web->ip); /* the hint is recorded, not honoured */
  g_assert_cmpstr (web->mac, ==, mac);

  record = read_record (f);
  expected = g_strdup_printf ("{\"op\":\"reserve\",\"name\":\"solo\",\"mac\":\"a2:da:71:da:e0:db\"}\n"
                              "{\"op\":\"reserve\",\"name\":\"web-1\",\"ip_hint\":\"10.0.0.7\",\"mac\":\"%s\"}\n",
                              mac);
  g_assert_cmpstr (record, ==, expected);

  g_assert_cmpint (g_stat (f->record, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0644); /* main() sets umask 022 */
}

/* holder_member_spec_new() may fill fields with "": replace, never leak. */
static void
set_string (char       **field,
            const char  *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

static void
test_create_record (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderMemberSpec) full = holder_member_spec_new ("web-1");
  g_autoptr(HolderMemberSpec) minimal = holder_member_spec_new ("dev");
  g_autoptr(HolderReservation) with_ip = holder_reservation_new ("10.0.0.5", "02:00:00:00:00:01");
  g_autoptr(HolderReservation) no_ip = holder_reservation_new (NULL, "02:00:00:00:00:02");
  const char *fixtures[] = { "/f/one.img", "/f/two.img", NULL };
  g_autofree char *record = NULL;
  HolderVm *vm;

  fixture_new_backend (f);

  /* Go's encoder escapes < > & as \u00XX: so must the record. */
  set_string (&full->disk_path, "/d/<web>&1.qcow2");
  set_string (&full->seed_path, "/d/seed \"1\".iso");
  set_string (&full->efi_path, "/d/efi.vars");
  full->fixture_paths = g_strdupv ((char **) fixtures);
  full->cpus = 2;
  full->memory_bytes = 1 << 30;
  set_string (&full->serial_log_path, "/d/serial.log");
  set_string (&full->kernel_path, "/d/vmlinuz");

  vm = do_create (f, full, with_ip, &error);
  g_assert_no_error (error);
  f->klass->vm_free (f->backend, vm);

  set_string (&minimal->disk_path, "/d/dev.img");
  set_string (&minimal->seed_path, "/d/dev-seed.img");
  vm = do_create (f, minimal, no_ip, &error);
  g_assert_no_error (error);
  f->klass->vm_free (f->backend, vm);

  /* Every field is omitempty, the Go fake's own paths included. */
  vm = do_create_named (f, "bare", &error);
  g_assert_no_error (error);
  f->klass->vm_free (f->backend, vm);

  record = read_record (f);
  g_assert_cmpstr (record, ==,
                   "{\"op\":\"create\",\"name\":\"web-1\","
                   "\"disk_path\":\"/d/\\u003cweb\\u003e\\u00261.qcow2\","
                   "\"seed_path\":\"/d/seed \\\"1\\\".iso\","
                   "\"efi_path\":\"/d/efi.vars\","
                   "\"fixture_paths\":[\"/f/one.img\",\"/f/two.img\"],"
                   "\"assigned_ip\":\"10.0.0.5\","
                   "\"mac\":\"02:00:00:00:00:01\"}\n"
                   "{\"op\":\"create\",\"name\":\"dev\","
                   "\"disk_path\":\"/d/dev.img\","
                   "\"seed_path\":\"/d/dev-seed.img\","
                   "\"mac\":\"02:00:00:00:00:02\"}\n"
                   "{\"op\":\"create\",\"name\":\"bare\","
                   "\"mac\":\"1a:1a:b5:0b:a7:a9\"}\n");
}

static void
test_create_counter (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ip1 = NULL;
  g_autofree char *ip2 = NULL;
  g_autofree char *ip3 = NULL;
  g_autofree char *record = NULL;
  g_auto(GStrv) lines = NULL;
  HolderVm *a, *b, *c;

  g_setenv ("FLEETBOX_FAKE_FAIL_CREATE", "bad-2", TRUE);
  fixture_new_backend (f);

  a = do_boot (f, "web-1", &ip1);
  g_assert_cmpstr (ip1, ==, "203.0.113.1");

  b = do_create_named (f, "bad-2", &error);
  g_assert_null (b);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "fake backend: forced Create failure for \"bad-2\"");

  /* The failed create consumed number 2. */
  c = do_boot (f, "web-3", &ip3);
  g_assert_cmpstr (ip3, ==, "203.0.113.3");

  /* Stopping does not give a number back. */
  do_stop_and_free (f, a);
  a = do_boot (f, "web-1", &ip2);
  g_assert_cmpstr (ip2, ==, "203.0.113.4");

  /* The forced failure was recorded before it failed. */
  record = read_record (f);
  lines = g_strsplit (record, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 6); /* 4 creates, 1 stop, "" */
  g_assert_true (g_str_has_prefix (lines[1], "{\"op\":\"create\",\"name\":\"bad-2\","));
  g_assert_true (g_str_has_prefix (lines[2], "{\"op\":\"create\",\"name\":\"web-3\","));
  g_assert_cmpstr (lines[3], ==, "{\"op\":\"stop\",\"name\":\"web-1\"}");
  g_assert_cmpstr (lines[5], ==, "");

  do_stop_and_free (f, a);
  do_stop_and_free (f, c);
}

static void
test_fail_start (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  HolderVm *vm, *other;
  g_autofree char *ip = NULL;

  /* A name that needs Go quoting. */
  g_setenv ("FLEETBOX_FAKE_FAIL_START", "we\"b-1", TRUE);
  fixture_new_backend (f);

  vm = do_create_named (f, "we\"b-1", &error);
  g_assert_no_error (error);
  g_assert_false (do_start (f, vm, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "fake backend: forced Start failure for \"we\\\"b-1\"");
  g_clear_error (&error);
  /* Stopping a VM that never started is safe. */
  do_stop_and_free (f, vm);

  other = do_boot (f, "web-2", &ip);
  g_assert_cmpstr (ip, ==, "203.0.113.2");
  do_stop_and_free (f, other);
}

static void
test_fail_ip (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;
  HolderVm *vm;

  g_setenv ("FLEETBOX_FAKE_FAIL_IP", "web-1", TRUE);
  fixture_new_backend (f);

  vm = do_create_named (f, "web-1", &error);
  g_assert_no_error (error);
  g_assert_true (do_start (f, vm, &error));
  g_assert_no_error (error);
  ip = do_wait_ip (f, vm, NULL, &error);
  g_assert_null (ip);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==, "fake backend: forced IP failure for \"web-1\"");
  do_stop_and_free (f, vm);
}

static void
test_knobs_read_once (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *ip = NULL;
  HolderVm *vm;

  fixture_new_backend (f);
  /* Too late for this instance. */
  g_setenv ("FLEETBOX_FAKE_FAIL_START", "web-1", TRUE);
  g_setenv ("FLEETBOX_FAKE_FAIL_IP", "web-1", TRUE);

  vm = do_boot (f, "web-1", &ip);
  g_assert_cmpstr (ip, ==, "203.0.113.1");
  do_stop_and_free (f, vm);
}

static void
test_stop_close_record (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;
  g_autofree char *record = NULL;
  HolderVm *started, *created;

  fixture_new_backend (f);

  started = do_boot (f, "web-1", &ip);
  created = do_create_named (f, "web-2", &error);
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (f->record, "", 0, &error));
  g_assert_no_error (error);

  do_stop_and_free (f, started);
  do_stop_and_free (f, created); /* never started: still recorded */
  g_assert_true (do_close (f, &error));
  g_assert_no_error (error);

  record = read_record (f);
  g_assert_cmpstr (record, ==,
                   "{\"op\":\"stop\",\"name\":\"web-1\"}\n"
                   "{\"op\":\"stop\",\"name\":\"web-2\"}\n"
                   "{\"op\":\"close\"}\n");
}

static void
test_no_record (Fixture       *f,
                gconstpointer  data)
{
  g_autofree char *ip = NULL;
  g_autoptr(GError) error = NULL;
  HolderVm *vm;

  g_unsetenv ("FLEETBOX_FAKE_RECORD");
  fixture_new_backend (f);
  vm = do_boot (f, "web-1", &ip);
  do_stop_and_free (f, vm);
  g_assert_true (do_close (f, &error));
  g_assert_false (g_file_test (f->record, G_FILE_TEST_EXISTS));
}

static void
test_record_unwritable (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *bad = g_build_filename (f->tmpdir, "missing", "record", NULL);
  g_autofree char *ip = NULL;
  HolderVm *vm;

  /* A record that cannot be written is not the VM's problem. */
  g_setenv ("FLEETBOX_FAKE_RECORD", bad, TRUE);
  fixture_new_backend (f);
  vm = do_boot (f, "web-1", &ip);
  g_assert_cmpstr (ip, ==, "203.0.113.1");
  do_stop_and_free (f, vm);
  g_assert_false (g_file_test (bad, G_FILE_TEST_EXISTS));
}

static void
test_boot_delay (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ip = NULL;
  HolderVm *vm;
  gint64 start;

  g_setenv ("FLEETBOX_FAKE_BOOT_DELAY", "200ms", TRUE);
  fixture_new_backend (f);

  vm = do_create_named (f, "web-1", &error);
  g_assert_true (do_start (f, vm, &error));
  start = g_get_monotonic_time ();
  ip = do_wait_ip (f, vm, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ip, ==, "203.0.113.1");
  g_assert_cmpint (elapsed_ms (start), >=, 190);
  do_stop_and_free (f, vm);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_wait_cancelled (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *ip = NULL;
  HolderVm *vm;
  gint64 start;

  g_setenv ("FLEETBOX_FAKE_BOOT_DELAY", "10s", TRUE);
  fixture_new_backend (f);

  vm = do_create_named (f, "web-1", &error);
  g_assert_true (do_start (f, vm, &error));
  start = g_get_monotonic_time ();
  g_timeout_add_full (G_PRIORITY_DEFAULT, 10, cancel_cb,
                      g_object_ref (cancellable), g_object_unref);
  ip = do_wait_ip (f, vm, cancellable, &error);
  g_assert_null (ip);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (elapsed_ms (start), <, 1000);
  do_stop_and_free (f, vm);
}

static void
test_stop_during_wait (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) waited = NULL;
  g_autofree char *ip = NULL;
  HolderVm *vm;
  gint64 start;

  g_setenv ("FLEETBOX_FAKE_BOOT_DELAY", "10s", TRUE);
  fixture_new_backend (f);

  vm = do_create_named (f, "web-1", &error);
  g_assert_true (do_start (f, vm, &error));
  start = g_get_monotonic_time ();
  f->klass->wait_ip_async (f->backend, vm, NULL, on_result, &waited);
  g_assert_true (do_stop (f, vm, &error));
  g_assert_no_error (error);

  /* A VM that goes away ends the wait for its address at once. */
  ip = f->klass->wait_ip_finish (f->backend, await_result (&waited), &error);
  g_assert_null (ip);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpint (elapsed_ms (start), <, 1000);
  f->klass->vm_free (f->backend, vm);
}

typedef struct {
  Fixture  *f;
  HolderVm *vm;
  char     *ip;
  gboolean  done;
} FreeInCallback;

static void
on_wait_then_free (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  FreeInCallback *data = user_data;
  g_autoptr(GError) error = NULL;

  data->ip = data->f->klass->wait_ip_finish (data->f->backend, result, &error);
  g_assert_no_error (error);
  /* The server may drop the VM right in the completion callback. */
  data->f->klass->vm_free (data->f->backend, data->vm);
  data->done = TRUE;
}

static void
test_free_in_callback (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  FreeInCallback cb = { f, NULL, NULL, FALSE };

  g_setenv ("FLEETBOX_FAKE_BOOT_DELAY", "20ms", TRUE);
  g_setenv ("FLEETBOX_FAKE_EXIT_AFTER", "3600s", TRUE);
  fixture_new_backend (f);

  cb.vm = do_create_named (f, "web-1", &error);
  g_assert_true (do_start (f, cb.vm, &error));
  f->klass->wait_ip_async (f->backend, cb.vm, NULL, on_wait_then_free, &cb);
  while (!cb.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (cb.ip, ==, "203.0.113.1");
  g_free (cb.ip);
  /* The armed exit timer went with the VM. */
  g_assert_cmpuint (f->exited_vms->len, ==, 0);
}

static void
test_stop_delay (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *ip = NULL;
  HolderVm *vm;
  gint64 start;

  g_setenv ("FLEETBOX_FAKE_STOP_DELAY", "150ms", TRUE);
  fixture_new_backend (f);

  vm = do_boot (f, "web-1", &ip);
  start = g_get_monotonic_time ();
  do_stop_and_free (f, vm);
  g_assert_cmpint (elapsed_ms (start), >=, 140);
}

static void
test_exit_after (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *ip = NULL;
  HolderVm *vm;
  gint64 deadline;

  g_setenv ("FLEETBOX_FAKE_EXIT_AFTER", "50ms", TRUE);
  fixture_new_backend (f);

  vm = do_boot (f, "web-1", &ip);
  g_assert_cmpuint (f->exited_vms->len, ==, 0);

  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (f->exited_vms->len == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);

  g_assert_cmpuint (f->exited_vms->len, ==, 1);
  g_assert_true (f->exited_vms->pdata[0] == vm);
  g_assert_cmpstr (f->exited_msgs->pdata[0], ==, "fake backend: VM exited on its own");
  /* The server then stops the dead VM, which must be safe. */
  do_stop_and_free (f, vm);
  g_assert_cmpuint (f->progress->len, ==, 0);
}

static gboolean
flag_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_exit_after_cancelled_by_stop (Fixture       *f,
                                   gconstpointer  data)
{
  g_autofree char *ip = NULL;
  HolderVm *vm;
  gboolean passed = FALSE;

  g_setenv ("FLEETBOX_FAKE_EXIT_AFTER", "100ms", TRUE);
  fixture_new_backend (f);

  vm = do_boot (f, "web-1", &ip);
  do_stop_and_free (f, vm);

  /* Wait well past the exit time: a stopped VM must not "exit" later. */
  g_timeout_add (300, flag_cb, &passed);
  while (!passed)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (f->exited_vms->len, ==, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  umask (022);

#define ADD(path, func) \
  g_test_add ("/fake-backend/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("class", test_class);
  ADD ("reconcile-and-network", test_reconcile_and_network);
  ADD ("reserve", test_reserve);
  ADD ("create-record", test_create_record);
  ADD ("create-counter", test_create_counter);
  ADD ("fail-start", test_fail_start);
  ADD ("fail-ip", test_fail_ip);
  ADD ("knobs-read-once", test_knobs_read_once);
  ADD ("stop-close-record", test_stop_close_record);
  ADD ("no-record", test_no_record);
  ADD ("record-unwritable", test_record_unwritable);
  ADD ("boot-delay", test_boot_delay);
  ADD ("wait-cancelled", test_wait_cancelled);
  ADD ("stop-during-wait", test_stop_during_wait);
  ADD ("free-in-callback", test_free_in_callback);
  ADD ("stop-delay", test_stop_delay);
  ADD ("exit-after", test_exit_after);
  ADD ("exit-after-cancelled-by-stop", test_exit_after_cancelled_by_stop);
#undef ADD


  return g_test_run ();
}
