/* test-ch-vm.c: the cloud-hypervisor process driver against a scripted
 * VMM: this test binary re-executed with --scripted-vmm, serving the REST
 * API on its --api-socket the way cloud-hypervisor does. No guest, no
 * network: the guest side is covered by the vm suite.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "holder.h"
#include "holder-ch-vm.h"

/* ------------------------------------------------------ the scripted VMM
 *
 * Behaviour from the environment:
 *   SCRIPTED_VMM_LOG       file that gets one line per API call
 *   SCRIPTED_VMM_MODE      "normal" (default), "stubborn" (ignores
 *                          vmm.shutdown and SIGTERM), "crash" (exits 3 at
 *                          once with a message on stderr)
 */

static const char *vmm_log;
static const char *vmm_mode;
static GMainLoop *vmm_loop;

static void
vmm_record (const char *line)
{
  FILE *f = vmm_log != NULL ? fopen (vmm_log, "a") : NULL;

  if (f != NULL)
    {
      fprintf (f, "%s\n", line);
      fclose (f);
    }
}

static gboolean
vmm_quit (gpointer data)
{
  g_main_loop_quit (vmm_loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_vmm_request (GThreadedSocketService *service,
                GSocketConnection      *connection,
                GObject                *source,
                gpointer                data)
{
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_autoptr(GDataInputStream) lines = g_data_input_stream_new (in);
  g_autofree char *request_line = NULL;
  g_auto(GStrv) parts = NULL;
  const char *reply;
  gboolean quit = FALSE;

  g_data_input_stream_set_newline_type (lines, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  request_line = g_data_input_stream_read_line (lines, NULL, NULL, NULL);
  if (request_line == NULL)
    return TRUE;
  /* Headers until the empty line; bodies are empty. */
  for (;;)
    {
      g_autofree char *header = g_data_input_stream_read_line (lines, NULL, NULL, NULL);
      if (header == NULL || header[0] == '\0')
        break;
    }

  parts = g_strsplit (request_line, " ", 3);
  {
    g_autofree char *entry = g_strdup_printf ("%s %s", parts[0], parts[1] != NULL ? parts[1] : "");
    vmm_record (entry);
  }

  if (g_str_equal (parts[1], "/api/v1/vm.info") && g_str_equal (parts[0], "GET"))
    reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{\"state\":\"Running\"}";
  else if (g_str_equal (parts[1], "/api/v1/vmm.shutdown") && g_str_equal (parts[0], "PUT"))
    {
      reply = "HTTP/1.1 204 No Content\r\n\r\n";
      quit = !g_str_equal (vmm_mode, "stubborn");
    }
  else if (g_str_equal (parts[1], "/api/v1/vm.power-button") && g_str_equal (parts[0], "PUT"))
    {
      reply = "HTTP/1.1 204 No Content\r\n\r\n";
      quit = TRUE;
    }
  else
    reply = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

  g_output_stream_write_all (out, reply, strlen (reply), NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  if (quit)
    g_idle_add (vmm_quit, NULL);
  return TRUE;
}

static int
scripted_vmm_main (int argc, char **argv)
{
  g_autoptr(GSocketService) service = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  const char *api_socket = NULL;

  vmm_log = g_getenv ("SCRIPTED_VMM_LOG");
  vmm_mode = g_getenv ("SCRIPTED_VMM_MODE");
  if (vmm_mode == NULL)
    vmm_mode = "normal";

  {
    g_autoptr(GString) line = g_string_new ("argv");
    for (int i = 2; i < argc; i++)
      g_string_append_printf (line, " %s", argv[i]);
    vmm_record (line->str);
  }
  for (int i = 2; i + 1 < argc; i++)
    if (g_str_equal (argv[i], "--api-socket"))
      api_socket = argv[i + 1];
    else if (g_str_equal (argv[i], "--kernel") && g_str_has_prefix (argv[i + 1], "/proc/self/fd/"))
      {
        /* What the inherited descriptor holds, as the VMM would read it. */
        g_autofree char *contents = NULL;
        g_autofree char *entry = NULL;

        g_file_get_contents (argv[i + 1], &contents, NULL, NULL);
        entry = g_strdup_printf ("kernel %s: %s", argv[i + 1], contents != NULL ? contents : "(none)");
        vmm_record (entry);
      }

  if (g_str_equal (vmm_mode, "crash"))
    {
      fprintf (stderr, "Error booting VM: the kernel was not found\n");
      return 3;
    }
  if (g_str_equal (vmm_mode, "stubborn"))
    signal (SIGTERM, SIG_IGN);

  vmm_loop = g_main_loop_new (NULL, FALSE);
  service = g_threaded_socket_service_new (4);
  address = g_unix_socket_address_new (api_socket);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), address, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_DEFAULT, NULL, NULL, NULL))
    return 2;
  g_signal_connect (service, "run", G_CALLBACK (on_vmm_request), NULL);
  g_socket_service_start (service);
  g_main_loop_run (vmm_loop);
  g_socket_service_stop (service);
  g_unlink (api_socket);
  return 0;
}

/* ------------------------------------------------------------- fixture */

typedef struct {
  char *dir;
  char *log;
  char *api_socket;
  char *self;
} Fixture;

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  fx->dir = g_dir_make_tmp ("holder-ch-vm-XXXXXX", NULL);
  fx->log = g_build_filename (fx->dir, "vmm.log", NULL);
  fx->api_socket = g_build_filename (fx->dir, "api.sock", NULL);
  fx->self = g_file_read_link ("/proc/self/exe", NULL);
  g_setenv ("SCRIPTED_VMM_LOG", fx->log, TRUE);
  g_unsetenv ("SCRIPTED_VMM_MODE");
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  g_unlink (fx->log);
  g_unlink (fx->api_socket);
  g_rmdir (fx->dir);
  g_free (fx->dir);
  g_free (fx->log);
  g_free (fx->api_socket);
  g_free (fx->self);
}

/* The scripted VMM is this binary; the driver appends the real argv. */
static HolderChVm *
make_vm_running (Fixture    *fx,
                 const char *binary)
{
  const char *fixtures[] = { "/f/one.img", NULL };
  HolderChVmConfig config = {
    .binary = binary,
    .api_socket = fx->api_socket,
    .kernel_path = "/k/vmlinux",
    .initramfs_path = "/k/initrd",
    .cmdline = "console=ttyS0 root=/dev/vda1 rw",
    .disk_path = "/d/disk.raw",
    .seed_path = "/d/seed.iso",
    .fixture_paths = fixtures,
    .cpus = 2,
    .memory_bytes = 512 * 1024 * 1024,
    .tap = "fbt-0a1b2c3d",
    .mac = "a2:da:71:da:e0:db",
    .serial_log_path = "/d/serial.log",
    .ip = "127.0.0.1",
  };
  HolderChVm *vm = holder_ch_vm_new (&config);

  return vm;
}

static HolderChVm *
make_vm (Fixture *fx)
{
  return make_vm_running (fx, fx->self);
}

static char *
read_log (Fixture *fx)
{
  char *contents = NULL;

  if (!g_file_get_contents (fx->log, &contents, NULL, NULL))
    return g_strdup ("");
  return contents;
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;
  *out = g_object_ref (result);
}

static GAsyncResult *
wait_result (GAsyncResult **slot, guint timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (*slot == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  return *slot;
}

/* --------------------------------------------------------------- tests */

static void
test_argv (void)
{
  const char *fixtures[] = { "/f/a.img", "/f/b.img", NULL };
  HolderChVmConfig config = {
    .binary = "/usr/bin/cloud-hypervisor",
    .api_socket = "/r/run/x.api",
    .kernel_path = "/k/vmlinux",
    .initramfs_path = "/k/initrd",
    .cmdline = "console=ttyS0 root=/dev/vda1 rw",
    .disk_path = "/d/disk.raw",
    .seed_path = "/d/seed.iso",
    .fixture_paths = fixtures,
    .cpus = 2,
    .memory_bytes = G_GUINT64_CONSTANT (2147483648),
    .tap = "fbt-0a1b2c3d",
    .mac = "a2:da:71:da:e0:db",
    .serial_log_path = "/d/serial.log",
    .ip = "192.168.2.2",
  };
  g_auto(GStrv) argv = holder_ch_vm_build_argv (&config);
  g_autofree char *joined = g_strjoinv ("|", argv);

  g_assert_cmpstr (joined, ==,
                   "/usr/bin/cloud-hypervisor|--api-socket|/r/run/x.api|--kernel|/k/vmlinux"
                   "|--initramfs|/k/initrd|--cmdline|console=ttyS0 root=/dev/vda1 rw"
                   "|--disk|path=/d/disk.raw|path=/d/seed.iso,readonly=on"
                   "|path=/f/a.img,readonly=on|path=/f/b.img,readonly=on"
                   "|--cpus|boot=2|--memory|size=2048M|--net|tap=fbt-0a1b2c3d,mac=a2:da:71:da:e0:db"
                   "|--console|off|--serial|file=/d/serial.log");

  /* No initramfs, no fixtures, no serial log. */
  config.initramfs_path = NULL;
  config.fixture_paths = NULL;
  config.serial_log_path = NULL;
  {
    g_auto(GStrv) bare = holder_ch_vm_build_argv (&config);
    g_autofree char *bare_joined = g_strjoinv ("|", bare);
    g_assert_cmpstr (bare_joined, ==,
                     "/usr/bin/cloud-hypervisor|--api-socket|/r/run/x.api|--kernel|/k/vmlinux"
                     "|--cmdline|console=ttyS0 root=/dev/vda1 rw"
                     "|--disk|path=/d/disk.raw|path=/d/seed.iso,readonly=on"
                     "|--cpus|boot=2|--memory|size=2048M|--net|tap=fbt-0a1b2c3d,mac=a2:da:71:da:e0:db"
                     "|--console|off|--serial|off");
  }
}

/* The argv the driver gives: this binary in scripted mode. It is prefixed
 * with --scripted-vmm by a small shell-free trick: the binary path is the
 * test itself and main() spots the API flags. */
static void
test_start_and_stop (Fixture *fx, gconstpointer data)
{
  g_autoptr(HolderChVm) vm = make_vm (fx);
  GAsyncResult *started = NULL, *stopped = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;

  holder_ch_vm_start_async (vm, NULL, on_done, &started);
  g_assert_true (holder_ch_vm_start_finish (vm, wait_result (&started, 10), &error));
  g_assert_no_error (error);
  g_assert_true (holder_ch_vm_is_running (vm));
  g_assert_cmpint (holder_ch_vm_get_pid (vm), >, 0);

  /* The guest never came up: no power button, vmm.shutdown first. */
  holder_ch_vm_stop_async (vm, on_done, &stopped);
  g_assert_true (holder_ch_vm_stop_finish (vm, wait_result (&stopped, 10), &error));
  g_assert_no_error (error);
  g_assert_false (holder_ch_vm_is_running (vm));
  g_assert_false (g_file_test (fx->api_socket, G_FILE_TEST_EXISTS));

  log = read_log (fx);
  g_assert_true (g_str_has_prefix (log, "argv --api-socket "));
  g_assert_nonnull (strstr (log, " --disk path=/d/disk.raw path=/d/seed.iso,readonly=on path=/f/one.img,readonly=on --cpus boot=2 --memory size=512M "));
  g_assert_nonnull (strstr (log, "GET /api/v1/vm.info\n"));
  g_assert_nonnull (strstr (log, "PUT /api/v1/vmm.shutdown\n"));
  g_assert_null (strstr (log, "vm.power-button"));
  g_object_unref (started);
  g_object_unref (stopped);
}

static void
test_stop_escalates (Fixture *fx, gconstpointer data)
{
  g_autoptr(HolderChVm) vm = NULL;
  GAsyncResult *started = NULL, *stopped = NULL;
  g_autoptr(GError) error = NULL;
  gint64 t0;

  g_setenv ("SCRIPTED_VMM_MODE", "stubborn", TRUE);
  vm = make_vm (fx);
  holder_ch_vm_start_async (vm, NULL, on_done, &started);
  g_assert_true (holder_ch_vm_start_finish (vm, wait_result (&started, 10), &error));

  /* vmm.shutdown and SIGTERM are ignored: SIGKILL ends it, in bounded time. */
  t0 = g_get_monotonic_time ();
  holder_ch_vm_stop_async (vm, on_done, &stopped);
  g_assert_true (holder_ch_vm_stop_finish (vm, wait_result (&stopped, 20), &error));
  g_assert_no_error (error);
  g_assert_false (holder_ch_vm_is_running (vm));
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 20 * G_USEC_PER_SEC);
  g_object_unref (started);
  g_object_unref (stopped);
}

static void
test_exits_during_boot (Fixture *fx, gconstpointer data)
{
  g_autoptr(HolderChVm) vm = NULL;
  GAsyncResult *started = NULL, *stopped = NULL;
  g_autoptr(GError) error = NULL;

  g_setenv ("SCRIPTED_VMM_MODE", "crash", TRUE);
  vm = make_vm (fx);
  holder_ch_vm_start_async (vm, NULL, on_done, &started);
  g_assert_false (holder_ch_vm_start_finish (vm, wait_result (&started, 10), &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  g_assert_cmpstr (error->message, ==,
                   "cloud-hypervisor exited with status 3: Error booting VM: the kernel "
                   "was not found before its API answered");

  /* Stopping what already died is fine. */
  holder_ch_vm_stop_async (vm, on_done, &stopped);
  g_assert_true (holder_ch_vm_stop_finish (vm, wait_result (&stopped, 5), NULL));
  g_object_unref (started);
  g_object_unref (stopped);
}

static void
on_exit_seen (HolderChVm *vm, const char *message, gpointer user_data)
{
  char **out = user_data;
  *out = g_strdup (message);
}

/* The exec is not waited for at the spawn: its failure comes back as the
 * start's error, worded as a spawn's, never as a VMM's exit. */
static void
test_exec_fails (Fixture *fx, gconstpointer data)
{
  g_autofree char *missing = g_build_filename (fx->dir, "no-such-vmm", NULL);
  g_autoptr(HolderChVm) vm = NULL;
  GAsyncResult *started = NULL, *stopped = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;

  vm = make_vm_running (fx, missing);
  holder_ch_vm_start_async (vm, NULL, on_done, &started);
  g_assert_false (holder_ch_vm_start_finish (vm, wait_result (&started, 10), &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);
  expected = g_strdup_printf ("run %s: No such file or directory", missing);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_false (holder_ch_vm_is_running (vm));

  holder_ch_vm_stop_async (vm, on_done, &stopped);
  g_assert_true (holder_ch_vm_stop_finish (vm, wait_result (&stopped, 5), NULL));
  g_object_unref (started);
  g_object_unref (stopped);
}

static void
test_dies_on_its_own (Fixture *fx, gconstpointer data)
{
  g_autoptr(HolderChVm) vm = make_vm (fx);
  GAsyncResult *started = NULL, *waited = NULL, *stopped = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();

  holder_ch_vm_set_exit_handler (vm, on_exit_seen, &message);
  holder_ch_vm_start_async (vm, NULL, on_done, &started);
  g_assert_true (holder_ch_vm_start_finish (vm, wait_result (&started, 10), NULL));

  /* A wait for the guest fails at once when the VMM dies. Probing
   * 127.0.0.1:22 may succeed where an ssh server listens: kill first. */
  kill (holder_ch_vm_get_pid (vm), SIGKILL);
  holder_ch_vm_wait_ip_async (vm, cancellable, on_done, &waited);
  wait_result (&waited, 5);
  while (message == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (message, ==, "cloud-hypervisor was killed by signal 9");
  g_assert_null (holder_ch_vm_wait_ip_finish (vm, waited, &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND);

  holder_ch_vm_stop_async (vm, on_done, &stopped);
  g_assert_true (holder_ch_vm_stop_finish (vm, wait_result (&stopped, 5), NULL));
  g_object_unref (started);
  g_object_unref (waited);
  g_object_unref (stopped);
}

/* main() moved this process into a network namespace of its own. */
static gboolean isolated;

static void
test_wait_cancelled (Fixture *fx, gconstpointer data)
{
  g_autoptr(HolderChVm) vm = NULL;
  GAsyncResult *started = NULL, *waited = NULL, *stopped = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  HolderChVmConfig config = {
    .binary = fx->self,
    .api_socket = fx->api_socket,
    .kernel_path = "/k/vmlinux",
    .cmdline = "x",
    .disk_path = "/d/disk.raw",
    .seed_path = "/d/seed.iso",
    .cpus = 1,
    .memory_bytes = 256 * 1024 * 1024,
    .tap = "fbt-00000000",
    .mac = "02:00:00:00:00:01",
    /* TEST-NET-1, in this test's own network namespace (main()), which has
     * no route at all: every probe fails and nothing leaves the host. */
    .ip = "192.0.2.1",
  };
  gint64 t0;

  if (!isolated)
    {
      g_test_skip ("needs a network namespace of its own (root): the probe must not leave the host");
      return;
    }

  vm = holder_ch_vm_new (&config);
  holder_ch_vm_start_async (vm, NULL, on_done, &started);
  g_assert_true (holder_ch_vm_start_finish (vm, wait_result (&started, 10), NULL));

  holder_ch_vm_wait_ip_async (vm, cancellable, on_done, &waited);
  g_main_context_iteration (NULL, FALSE);
  t0 = g_get_monotonic_time ();
  g_cancellable_cancel (cancellable);
  g_assert_null (holder_ch_vm_wait_ip_finish (vm, wait_result (&waited, 5), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, G_USEC_PER_SEC);

  holder_ch_vm_stop_async (vm, on_done, &stopped);
  g_assert_true (holder_ch_vm_stop_finish (vm, wait_result (&stopped, 10), NULL));
  g_object_unref (started);
  g_object_unref (waited);
  g_object_unref (stopped);
}

/* The VMM gets descriptors, numbered from 3, named /proc/self/fd/N: the
 * file the helper opened, even once its path is gone. */
static void
test_inherited_fds (Fixture *fx, gconstpointer data)
{
  g_autofree char *kernel = g_build_filename (fx->dir, "vmlinux", NULL);
  g_autofree char *path0 = holder_ch_vm_fd_path (0);
  g_autofree char *path1 = holder_ch_vm_fd_path (1);
  g_autoptr(HolderChVm) vm = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  GAsyncResult *started = NULL, *stopped = NULL;
  int fds[2];
  HolderChVmConfig config = {
    .binary = fx->self,
    .binary_name = "the scripted VMM",
    .api_socket = fx->api_socket,
    .cmdline = "x",
    .disk_path = "/d/disk.raw",
    .seed_path = "/d/seed.iso",
    .cpus = 1,
    .memory_bytes = 256 * 1024 * 1024,
    .tap = "fbt-00000000",
    .mac = "02:00:00:00:00:01",
    .ip = "192.0.2.1",
  };

  g_assert_cmpstr (path0, ==, "/proc/self/fd/3");
  g_assert_true (g_file_set_contents (kernel, "the kernel", -1, NULL));
  fds[0] = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  fds[1] = open (kernel, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (g_unlink (kernel), ==, 0);
  config.kernel_path = path1;
  config.fds = fds;
  config.n_fds = G_N_ELEMENTS (fds);
  vm = holder_ch_vm_new (&config);
  /* The driver keeps copies of its own. */
  close (fds[0]);
  close (fds[1]);

  holder_ch_vm_start_async (vm, NULL, on_done, &started);
  g_assert_true (holder_ch_vm_start_finish (vm, wait_result (&started, 10), &error));
  g_assert_no_error (error);
  log = read_log (fx);
  g_assert_nonnull (strstr (log, "kernel /proc/self/fd/4: the kernel\n"));

  holder_ch_vm_stop_async (vm, on_done, &stopped);
  g_assert_true (holder_ch_vm_stop_finish (vm, wait_result (&stopped, 10), NULL));
  g_object_unref (started);
  g_object_unref (stopped);
}

int
main (int argc, char **argv)
{
  /* Re-executed by the driver as the VMM: its argv starts with the API
   * flags the driver builds. */
  if (argc > 2 && g_str_equal (argv[1], "--api-socket"))
    {
      g_autofree char **shifted = g_new0 (char *, argc + 2);
      shifted[0] = argv[0];
      shifted[1] = (char *) "--scripted-vmm";
      for (int i = 1; i < argc; i++)
        shifted[i + 1] = argv[i];
      return scripted_vmm_main (argc + 1, shifted);
    }

  g_test_init (&argc, &argv, NULL);
  /* The wait test probes an address: in a namespace with no route, so no
   * packet can leave the host. */
  isolated = unshare (CLONE_NEWNET) == 0;
  g_test_add_func ("/ch-vm/argv", test_argv);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/ch-vm/start-and-stop", test_start_and_stop);
  ADD ("/ch-vm/stop-escalates", test_stop_escalates);
  ADD ("/ch-vm/exits-during-boot", test_exits_during_boot);
  ADD ("/ch-vm/exec-fails", test_exec_fails);
  ADD ("/ch-vm/dies-on-its-own", test_dies_on_its_own);
  ADD ("/ch-vm/wait-cancelled", test_wait_cancelled);
  ADD ("/ch-vm/inherited-fds", test_inherited_fds);
#undef ADD
  return g_test_run ();
}
