/* holder-ch-vm.c: one cloud-hypervisor process, from spawn to exit.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-ch"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "holder-ch-vm.h"
#include "holder-backend.h"
#include "holder-guest-wait.h"
#include "holder-spawn.h"

/* vm.info is polled until the API answers (fleetbox: every 200 ms):
 * right after the spawn, then at intervals doubling from the first to the
 * last, so that a VMM that answers within milliseconds is seen within
 * milliseconds, and a slow one costs a request every 25 ms. */
#define API_POLL_FIRST_MS    1
#define API_POLL_MS          25
#define API_READY_TIMEOUT_S  30
/* The stop ladder; the sum stays well inside the client's 30 s budget. */
#define STOP_POWER_BUTTON_MS 10000
#define STOP_VMM_SHUTDOWN_MS 3000
#define STOP_SIGTERM_MS      3000
#define STOP_SIGKILL_MS      2000
/* How much of the VMM's stderr is kept to explain a failure. */
#define STDERR_TAIL_BYTES    2048

typedef enum {
  STOP_POWER_BUTTON,
  STOP_VMM_SHUTDOWN,
  STOP_SIGTERM,
  STOP_SIGKILL,
  STOP_DONE,
} StopPhase;

struct _HolderChVm {
  GStrv         argv;
  char         *binary_name;
  GArray       *fds;          /* int: ours, inherited by the VMM in order */
  char         *api_socket;
  char         *ip;
  char         *name;          /* nullable */
  char         *tap;
  char         *mac;

  GPid          pid;           /* 0 until spawned */
  GSource      *child_watch;  /* until it exits: reaps it */
  int           report_fd;    /* the exec's failure, if any */
  GInputStream *stderr_stream;
  gboolean      exited;
  char         *exit_message;
  GString      *stderr_tail;
  char          stderr_chunk[512];
  GCancellable *life;

  SoupSession  *session;
  gboolean      stopping;

  GTask        *start_task;
  GSource      *start_timer;
  guint         start_poll_ms;
  gint64        start_deadline;
  gboolean      api_request_in_flight;

  /* The wait for the guest's port 22 (holder-guest-wait.c); kept after
   * it ended: whether the guest came up decides how it is stopped. */
  HolderGuestWait *wait;

  GTask        *stop_task;
  GSource      *stop_timer;
  StopPhase     stop_phase;

  void        (*exit_handler) (HolderChVm *vm, const char *message, gpointer user_data);
  gpointer      exit_handler_data;
};

static void start_poll_api (HolderChVm *vm);
static void stop_advance (HolderChVm *vm);

/* ------------------------------------------------------------------ argv */

char *
holder_ch_vm_fd_path (guint index)
{
  return g_strdup_printf ("/proc/self/fd/%u", HOLDER_CH_VM_FIRST_FD + index);
}

GStrv
holder_ch_vm_build_argv (const HolderChVmConfig *config)
{
  g_autoptr(GStrvBuilder) argv = g_strv_builder_new ();
  g_autofree char *cpus = NULL;
  g_autofree char *memory = NULL;
  g_autofree char *net = NULL;
  g_autofree char *disk = NULL;
  g_autofree char *seed = NULL;
  g_autofree char *serial = NULL;

  g_return_val_if_fail (config != NULL, NULL);

  g_strv_builder_add (argv, config->binary);
  g_strv_builder_add_many (argv, "--api-socket", config->api_socket,
                           "--kernel", config->kernel_path, NULL);
  if (config->initramfs_path != NULL)
    g_strv_builder_add_many (argv, "--initramfs", config->initramfs_path, NULL);
  g_strv_builder_add_many (argv, "--cmdline", config->cmdline, NULL);

  /* One --disk flag with several values: root, seed, then fixtures. */
  disk = g_strconcat ("path=", config->disk_path, NULL);
  seed = g_strconcat ("path=", config->seed_path, ",readonly=on", NULL);
  g_strv_builder_add_many (argv, "--disk", disk, seed, NULL);
  for (guint i = 0; config->fixture_paths != NULL && config->fixture_paths[i] != NULL; i++)
    {
      g_autofree char *fixture = g_strconcat ("path=", config->fixture_paths[i], ",readonly=on", NULL);
      g_strv_builder_add (argv, fixture);
    }

  cpus = g_strdup_printf ("boot=%" G_GINT64_FORMAT, config->cpus);
  memory = g_strdup_printf ("size=%" G_GUINT64_FORMAT "M", config->memory_bytes / (1024 * 1024));
  net = g_strdup_printf ("tap=%s,mac=%s", config->tap, config->mac);
  g_strv_builder_add_many (argv, "--cpus", cpus, "--memory", memory, "--net", net,
                           "--console", "off", NULL);
  if (config->serial_log_path != NULL)
    {
      serial = g_strconcat ("file=", config->serial_log_path, NULL);
      g_strv_builder_add_many (argv, "--serial", serial, NULL);
    }
  else
    g_strv_builder_add_many (argv, "--serial", "off", NULL);

  return g_strv_builder_end (argv);
}

/* ------------------------------------------------------------ lifecycle */

HolderChVm *
holder_ch_vm_new (const HolderChVmConfig *config)
{
  HolderChVm *vm;
  g_autoptr(GSocketAddress) address = NULL;

  g_return_val_if_fail (config != NULL, NULL);

  vm = g_new0 (HolderChVm, 1);
  vm->argv = holder_ch_vm_build_argv (config);
  vm->binary_name = g_strdup (config->binary_name != NULL ? config->binary_name : config->binary);
  vm->fds = g_array_new (FALSE, FALSE, sizeof (int));
  for (guint i = 0; i < config->n_fds; i++)
    {
      /* -1 (a failed dup) is reported when the VMM is spawned. */
      int fd = fcntl (config->fds[i], F_DUPFD_CLOEXEC, 3);

      g_array_append_val (vm->fds, fd);
    }
  vm->api_socket = g_strdup (config->api_socket);
  vm->ip = g_strdup (config->ip);
  vm->name = g_strdup (config->name);
  vm->tap = g_strdup (config->tap);
  vm->mac = g_strdup (config->mac);
  vm->stderr_tail = g_string_new (NULL);
  vm->report_fd = -1;
  vm->life = g_cancellable_new ();

  /* Every request goes to the API socket, whatever the URL's host. */
  address = g_unix_socket_address_new (vm->api_socket);
  vm->session = soup_session_new_with_options ("remote-connectable", address,
                                               "timeout", 5,
                                               "idle-timeout", 5,
                                               NULL);
  return vm;
}

void
holder_ch_vm_set_exit_handler (HolderChVm *vm,
                               void      (*handler) (HolderChVm *, const char *, gpointer),
                               gpointer    user_data)
{
  g_return_if_fail (vm != NULL);
  vm->exit_handler = handler;
  vm->exit_handler_data = user_data;
}

gboolean
holder_ch_vm_is_running (HolderChVm *vm)
{
  g_return_val_if_fail (vm != NULL, FALSE);
  return vm->pid != 0 && !vm->exited;
}

GPid
holder_ch_vm_get_pid (HolderChVm *vm)
{
  g_return_val_if_fail (vm != NULL, 0);
  return holder_ch_vm_is_running (vm) ? vm->pid : 0;
}

static void
clear_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

static GSource *
add_timeout (guint        ms,
             GSourceFunc  func,
             gpointer     data)
{
  GSource *source = g_timeout_source_new (ms);

  g_source_set_callback (source, func, data, NULL);
  g_source_attach (source, g_main_context_get_thread_default ());
  return source;
}

static void
reap_only (GPid     pid,
           int      wait_status,
           gpointer user_data)
{
}

/* After the spawn the VMM holds its own copies. */
static void
close_fds (HolderChVm *vm)
{
  for (guint i = 0; i < vm->fds->len; i++)
    if (g_array_index (vm->fds, int, i) >= 0)
      close (g_array_index (vm->fds, int, i));
  g_array_set_size (vm->fds, 0);
}

void
holder_ch_vm_free (HolderChVm *vm)
{
  if (vm == NULL)
    return;

  /* A VM is stopped before it is freed; if not (a shutdown past its budget),
   * do not leave a VMM behind. */
  if (holder_ch_vm_is_running (vm))
    {
      g_warning ("freeing a running cloud-hypervisor (pid %d): killing it", (int) vm->pid);
      kill (vm->pid, SIGKILL);
    }
  /* A child still to reap keeps its watch, with nobody to tell. */
  if (vm->child_watch != NULL)
    {
      g_source_set_callback (vm->child_watch, G_SOURCE_FUNC (reap_only), NULL, NULL);
      g_clear_pointer (&vm->child_watch, g_source_unref);
    }
  g_cancellable_cancel (vm->life);
  clear_source (&vm->start_timer);
  clear_source (&vm->stop_timer);
  g_assert (vm->start_task == NULL && !holder_guest_wait_is_pending (vm->wait) &&
            vm->stop_task == NULL);

  g_clear_pointer (&vm->wait, holder_guest_wait_unref);
  g_clear_object (&vm->session);
  g_clear_object (&vm->stderr_stream);
  if (vm->report_fd >= 0)
    close (vm->report_fd);
  g_clear_object (&vm->life);
  g_string_free (vm->stderr_tail, TRUE);
  g_free (vm->exit_message);
  g_free (vm->api_socket);
  g_free (vm->ip);
  close_fds (vm);
  g_array_unref (vm->fds);
  g_free (vm->binary_name);
  g_free (vm->name);
  g_free (vm->tap);
  g_free (vm->mac);
  g_strfreev (vm->argv);
  g_free (vm);
}

/* ---------------------------------------------------------- the process */

/* The last line the VMM wrote to stderr, which usually says why it failed. */
static char *
stderr_last_line (HolderChVm *vm)
{
  g_autofree char *text = g_strstrip (g_strdup (vm->stderr_tail->str));
  char *last = strrchr (text, '\n');

  return g_strdup (last != NULL ? last + 1 : text);
}

static void
on_stderr_read (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  HolderChVm *vm = user_data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

  if (n <= 0 || g_cancellable_is_cancelled (vm->life))
    return;
  g_string_append_len (vm->stderr_tail, vm->stderr_chunk, n);
  if (vm->stderr_tail->len > STDERR_TAIL_BYTES)
    g_string_erase (vm->stderr_tail, 0, vm->stderr_tail->len - STDERR_TAIL_BYTES);
  g_input_stream_read_async (G_INPUT_STREAM (source), vm->stderr_chunk, sizeof vm->stderr_chunk,
                             G_PRIORITY_DEFAULT, vm->life, on_stderr_read, vm);
}

static void
on_process_exited (GPid     pid,
                   int      wait_status,
                   gpointer user_data)
{
  HolderChVm *vm = user_data;
  g_autofree char *how = NULL;
  g_autofree char *last_line = NULL;
  g_autofree char *exec_error = NULL;

  vm->exited = TRUE;
  /* The source is destroyed once this returns. */
  g_clear_pointer (&vm->child_watch, g_source_unref);
  if (WIFEXITED (wait_status) && WEXITSTATUS (wait_status) == 127)
    exec_error = holder_spawn_exec_error (vm->report_fd);
  if (exec_error != NULL)
    vm->exit_message = g_strdup_printf ("run %s: %s", vm->binary_name, exec_error);
  else
    {
      if (WIFSIGNALED (wait_status))
        how = g_strdup_printf ("cloud-hypervisor was killed by signal %d", WTERMSIG (wait_status));
      else
        how = g_strdup_printf ("cloud-hypervisor exited with status %d", WEXITSTATUS (wait_status));
      last_line = stderr_last_line (vm);
      vm->exit_message = last_line[0] != '\0' ? g_strdup_printf ("%s: %s", how, last_line)
                                              : g_steal_pointer (&how);
    }
  g_debug ("VMM %d: %s", (int) vm->pid, vm->exit_message);

  /* The socket belongs to the dead process. */
  g_unlink (vm->api_socket);

  if (vm->start_task != NULL)
    {
      GTask *task = g_steal_pointer (&vm->start_task);
      clear_source (&vm->start_timer);
      if (exec_error != NULL)
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s",
                                 vm->exit_message);
      else
        g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                 "%s before its API answered", vm->exit_message);
      g_object_unref (task);
    }
  if (holder_guest_wait_is_pending (vm->wait))
    holder_guest_wait_abort (vm->wait, g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                                    "%s before the guest became reachable",
                                                    vm->exit_message));
  if (vm->stop_task != NULL)
    {
      stop_advance (vm);
      return;
    }
  if (!vm->stopping && vm->exit_handler != NULL)
    vm->exit_handler (vm, vm->exit_message, vm->exit_handler_data);
}

/* --------------------------------------------------------------- the API */

typedef void (*ApiCallback) (HolderChVm *vm, guint status, gpointer data);

typedef struct {
  HolderChVm  *vm;
  SoupMessage *message;
  ApiCallback  callback;
  gpointer     data;
} ApiCall;

static void
on_api_reply (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  ApiCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) body = NULL;
  guint status = 0;

  body = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  if (body != NULL)
    status = soup_message_get_status (call->message);
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_object_unref (call->message);
      g_free (call);
      return;
    }
  if (call->callback != NULL)
    call->callback (call->vm, status, call->data);
  g_object_unref (call->message);
  g_free (call);
}

/* Sends one request to /api/v1/@endpoint; @callback gets the HTTP status,
 * or 0 when there was no answer (socket not there yet, process gone). */
static void
api_request (HolderChVm  *vm,
             const char  *method,
             const char  *endpoint,
             ApiCallback  callback,
             gpointer     data)
{
  g_autofree char *uri = g_strconcat ("http://localhost/api/v1/", endpoint, NULL);
  ApiCall *call = g_new0 (ApiCall, 1);

  call->vm = vm;
  call->callback = callback;
  call->data = data;
  call->message = soup_message_new (method, uri);
  if (g_str_equal (method, "PUT"))
    {
      /* An explicit empty body: Content-Length: 0, as curl -X PUT sends. */
      g_autoptr(GBytes) empty = g_bytes_new_static ("", 0);
      soup_message_set_request_body_from_bytes (call->message, NULL, empty);
    }
  g_debug ("VMM %d: %s %s", (int) vm->pid, method, endpoint);
  soup_session_send_and_read_async (vm->session, call->message, G_PRIORITY_DEFAULT,
                                    vm->life, on_api_reply, call);
}

/* ------------------------------------------------------------------ start */

static void
on_start_info (HolderChVm *vm,
               guint       status,
               gpointer    data)
{
  GTask *task;

  vm->api_request_in_flight = FALSE;
  if (vm->start_task == NULL)
    return;
  if (status == SOUP_STATUS_OK)
    {
      task = g_steal_pointer (&vm->start_task);
      clear_source (&vm->start_timer);
      if (vm->name != NULL)
        holder_boot_trace (vm->name, "api-answered");
      g_debug ("VMM %d: API ready", (int) vm->pid);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
    }
}

static gboolean
on_start_timer (gpointer user_data)
{
  HolderChVm *vm = user_data;

  g_clear_pointer (&vm->start_timer, g_source_unref);
  start_poll_api (vm);
  return G_SOURCE_REMOVE;
}

static void
start_poll_api (HolderChVm *vm)
{
  GTask *task = vm->start_task;

  if (g_task_return_error_if_cancelled (task))
    {
      vm->start_task = NULL;
      g_object_unref (task);
      return;
    }
  if (g_get_monotonic_time () > vm->start_deadline)
    {
      vm->start_task = NULL;
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                               "cloud-hypervisor's API did not answer within %d s",
                               API_READY_TIMEOUT_S);
      g_object_unref (task);
      return;
    }
  if (!vm->api_request_in_flight)
    {
      vm->api_request_in_flight = TRUE;
      api_request (vm, "GET", "vm.info", on_start_info, NULL);
    }
  vm->start_timer = add_timeout (vm->start_poll_ms, on_start_timer, vm);
  vm->start_poll_ms = MIN (vm->start_poll_ms * 2, API_POLL_MS);
}

void
holder_ch_vm_start_async (HolderChVm          *vm,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  HolderSpawn spawn;

  g_return_if_fail (vm != NULL);
  g_return_if_fail (vm->pid == 0);

  task = g_task_new (NULL, cancellable, callback, user_data);

  /* A stale socket of an earlier VMM would make the bind fail. */
  g_unlink (vm->api_socket);

  /* From the main thread, which lives as long as the helper: the VMM's
   * death signal is tied to the thread that forks it. The exec is not
   * waited for; its failure comes back as the child's exit. A descriptor
   * that could not be copied (-1) is refused here. */
  if (!holder_spawn_start ((const char *const *) vm->argv, (const int *) vm->fds->data,
                           vm->fds->len, HOLDER_CH_VM_FIRST_FD, &spawn, &error))
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "run %s: %s", vm->binary_name, error->message);
      return;
    }
  close_fds (vm);
  vm->pid = spawn.pid;
  vm->report_fd = spawn.report_fd;
  vm->stderr_stream = g_unix_input_stream_new (spawn.stderr_fd, TRUE);
  if (vm->name != NULL)
    holder_boot_trace (vm->name, "vmm-spawned");
  g_debug ("VMM %d started: %s", (int) vm->pid, vm->binary_name);

  g_input_stream_read_async (vm->stderr_stream, vm->stderr_chunk, sizeof vm->stderr_chunk,
                             G_PRIORITY_DEFAULT, vm->life, on_stderr_read, vm);
  vm->child_watch = g_child_watch_source_new (vm->pid);
  g_source_set_callback (vm->child_watch, G_SOURCE_FUNC (on_process_exited),
                         vm, NULL);
  g_source_attach (vm->child_watch, g_main_context_get_thread_default ());

  vm->start_task = g_steal_pointer (&task);
  vm->start_poll_ms = API_POLL_FIRST_MS;
  vm->start_deadline = g_get_monotonic_time () + API_READY_TIMEOUT_S * G_USEC_PER_SEC;
  start_poll_api (vm);
}

gboolean
holder_ch_vm_start_finish (HolderChVm    *vm,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---------------------------------------------------------------- wait ip */

void
holder_ch_vm_wait_ip_async (HolderChVm          *vm,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (vm != NULL);
  g_return_if_fail (!holder_guest_wait_is_pending (vm->wait));

  if (vm->ip != NULL && vm->ip[0] != '\0' && holder_ch_vm_is_running (vm) &&
      !g_cancellable_is_cancelled (cancellable))
    {
      HolderGuestWaitHints hints = { vm->name, vm->tap, vm->mac };

      g_clear_pointer (&vm->wait, holder_guest_wait_unref);
      vm->wait = holder_guest_wait_start_full (vm->ip, 22, &hints, cancellable,
                                               callback, user_data);
      return;
    }

  task = g_task_new (NULL, cancellable, callback, user_data);
  if (g_task_return_error_if_cancelled (task))
    return;
  if (vm->ip == NULL || vm->ip[0] == '\0')
    g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                             "no reserved address to probe");
  else
    g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s",
                             vm->exit_message != NULL ? vm->exit_message
                                                      : "cloud-hypervisor is not running");
}

char *
holder_ch_vm_wait_ip_finish (HolderChVm    *vm,
                             GAsyncResult  *result,
                             GError       **error)
{
  return holder_guest_wait_finish (result, error);
}

/* ------------------------------------------------------------------- stop */

static gboolean
on_stop_timer (gpointer user_data)
{
  HolderChVm *vm = user_data;

  g_clear_pointer (&vm->stop_timer, g_source_unref);
  vm->stop_phase++;
  stop_advance (vm);
  return G_SOURCE_REMOVE;
}

static void
stop_finish (HolderChVm *vm)
{
  GTask *task = g_steal_pointer (&vm->stop_task);

  clear_source (&vm->stop_timer);
  g_unlink (vm->api_socket);
  vm->stop_phase = STOP_DONE;
  if (holder_ch_vm_is_running (vm))
    g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                             "cloud-hypervisor (pid %d) did not exit, even on SIGKILL",
                             (int) vm->pid);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* Each rung asks the VMM to go and gives it a while; its exit, noticed by
 * on_process_exited(), ends the ladder early. */
static void
stop_advance (HolderChVm *vm)
{
  clear_source (&vm->stop_timer);
  if (!holder_ch_vm_is_running (vm))
    {
      stop_finish (vm);
      return;
    }

  switch (vm->stop_phase)
    {
    case STOP_POWER_BUTTON:
      /* A guest that never came up cannot honour ACPI: skip to the VMM. */
      if (!holder_guest_wait_reached (vm->wait))
        {
          vm->stop_phase = STOP_VMM_SHUTDOWN;
          stop_advance (vm);
          return;
        }
      api_request (vm, "PUT", "vm.power-button", NULL, NULL);
      vm->stop_timer = add_timeout (STOP_POWER_BUTTON_MS, on_stop_timer, vm);
      break;
    case STOP_VMM_SHUTDOWN:
      api_request (vm, "PUT", "vmm.shutdown", NULL, NULL);
      vm->stop_timer = add_timeout (STOP_VMM_SHUTDOWN_MS, on_stop_timer, vm);
      break;
    case STOP_SIGTERM:
      g_debug ("VMM %d: SIGTERM", (int) vm->pid);
      kill (vm->pid, SIGTERM);
      vm->stop_timer = add_timeout (STOP_SIGTERM_MS, on_stop_timer, vm);
      break;
    case STOP_SIGKILL:
      g_debug ("VMM %d: SIGKILL", (int) vm->pid);
      kill (vm->pid, SIGKILL);
      vm->stop_timer = add_timeout (STOP_SIGKILL_MS, on_stop_timer, vm);
      break;
    case STOP_DONE:
    default:
      stop_finish (vm);
      break;
    }
}

void
holder_ch_vm_stop_async (HolderChVm          *vm,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (vm != NULL);

  task = g_task_new (NULL, NULL, callback, user_data);
  if (vm->stop_task != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "a stop is already in progress");
      return;
    }
  vm->stopping = TRUE;
  vm->stop_task = g_steal_pointer (&task);
  vm->stop_phase = STOP_POWER_BUTTON;
  stop_advance (vm);
}

gboolean
holder_ch_vm_stop_finish (HolderChVm    *vm,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
