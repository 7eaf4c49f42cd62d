/* SPDX-License-Identifier: MIT
 *
 * The fake backend (FLEETBOX_BACKEND=fake): boots nothing, proves the
 * coordination. It follows docs/protocol.md, section 11, and the Go fleetbox
 * fake, plus knobs of this project's own (boot and stop delays, start and
 * IP failures, a VM that exits on its own). See docs/protocol.md.
 *
 * Every delay is a GSource on the caller's main context, never a thread, so
 * cancellation is a matter of destroying a source.
 */
#define G_LOG_DOMAIN "holder-backend-fake"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "holder-backend-fake-private.h"
#include "holder-codec-private.h"
#include "holder-error.h"
#include "holder-store.h"
#include "holder-util-private.h"

typedef struct {
  HolderBackend  parent;

  /* Knobs, read once in new() so a test can change the environment
   * between two helpers without disturbing a running one. */
  char   *record_path;
  char   *fail_create;
  char   *fail_start;
  char   *fail_ip;
  char   *reclaim_path;
  gint64  boot_delay_usec;
  gint64  stop_delay_usec;
  gint64  exit_after_usec; /* -1: VMs never exit on their own */

  /* Counts every create, a forced failure included, as the Go fake does:
   * the k-th create gets 203.0.113.<k>. */
  guint   creates;
} HolderBackendFake;

typedef struct _FakeDelay FakeDelay;

struct _HolderVm {
  HolderBackendFake *backend;
  char              *name;
  char              *ip;
  gboolean           started;
  /* The pending wait_ip, so that stopping the VM ends it at once. */
  FakeDelay         *waiting;
  /* FLEETBOX_FAKE_EXIT_AFTER: fires host->vm_exited. */
  GSource           *exit_source;
};

/* A delayed completion of a GTask: a timeout source and, when there is a
 * cancellable, a cancellable source; whichever fires first ends the task
 * and destroys the other. It is the task's data. */
typedef void (*FakeDelayDone) (GTask    *task,
                               HolderVm *vm);

struct _FakeDelay {
  GTask         *task;    /* unowned: the delay is the task's data */
  GSource       *timeout;
  GSource       *cancel;
  FakeDelayDone  done;
  HolderVm      *vm;      /* unowned, cleared if the VM goes first */
};

/* ---- records ------------------------------------------------------------ */

static void
record_add_string (GString    *out,
                   const char *key,
                   const char *value)
{
  /* Go's fake tags every record field omitempty. */
  if (value == NULL || value[0] == '\0')
    return;
  g_string_append_printf (out, ",\"%s\":", key);
  holder_json_append_string (out, value);
}

static void
record_add_string_list (GString           *out,
                        const char        *key,
                        const char *const *values)
{
  if (values == NULL || values[0] == NULL)
    return;
  g_string_append_printf (out, ",\"%s\":[", key);
  for (gsize i = 0; values[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      holder_json_append_string (out, values[i]);
    }
  g_string_append_c (out, ']');
}

static GString *
record_begin (const char *op)
{
  GString *out = g_string_new ("{\"op\":");

  holder_json_append_string (out, op);
  return out;
}

/* Appends the record and its newline with ONE write() on an O_APPEND fd, so
 * that records from several helpers sharing a file never interleave. */
static void
record_write (HolderBackendFake *self,
              GString           *record)
{
  int fd;
  ssize_t written;

  g_string_append (record, "}\n");
  if (self->record_path == NULL)
    return;

  fd = open (self->record_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      int saved_errno = errno;
      g_debug ("open %s: %s", self->record_path, g_strerror (saved_errno));
      return;
    }

  do
    written = write (fd, record->str, record->len);
  while (written < 0 && errno == EINTR);
  if (written < 0)
    {
      int saved_errno = errno;
      g_debug ("write %s: %s", self->record_path, g_strerror (saved_errno));
    }
  else if ((gsize) written != record->len)
    g_debug ("write %s: short write", self->record_path);

  close (fd);
}

/* ---- delays ------------------------------------------------------------- */

static void
fake_delay_free (gpointer data)
{
  FakeDelay *delay = data;

  if (delay->vm != NULL && delay->vm->waiting == delay)
    delay->vm->waiting = NULL;
  /* Destroying a source drops its reference on the task; by the time the
   * task frees us, both are normally gone already. */
  if (delay->timeout != NULL)
    {
      g_source_destroy (delay->timeout);
      g_source_unref (delay->timeout);
    }
  if (delay->cancel != NULL)
    {
      g_source_destroy (delay->cancel);
      g_source_unref (delay->cancel);
    }
  g_free (delay);
}

/* Detaches both sources (breaking their references on the task) and
 * unlinks the VM; the caller then returns the task. Returns the VM that
 * was linked, if any. */
static HolderVm *
fake_delay_disarm (FakeDelay *delay)
{
  HolderVm *vm = delay->vm;

  if (vm != NULL && vm->waiting == delay)
    vm->waiting = NULL;
  delay->vm = NULL;
  if (delay->timeout != NULL)
    g_source_destroy (delay->timeout);
  if (delay->cancel != NULL)
    g_source_destroy (delay->cancel);
  return vm;
}

static gboolean
fake_delay_timeout_cb (gpointer user_data)
{
  g_autoptr(GTask) task = g_object_ref (G_TASK (user_data));
  FakeDelay *delay = g_task_get_task_data (task);
  /* Everything is unlinked before @done returns the task: its callback may
   * stop or free the VM. */
  HolderVm *vm = fake_delay_disarm (delay);

  delay->done (task, vm);
  return G_SOURCE_REMOVE;
}

static gboolean
fake_delay_cancelled_cb (GCancellable *cancellable,
                         gpointer      user_data)
{
  g_autoptr(GTask) task = g_object_ref (G_TASK (user_data));

  fake_delay_disarm (g_task_get_task_data (task));
  g_task_return_error_if_cancelled (task);
  return G_SOURCE_REMOVE;
}

/* Runs @done on @task after @usec (at least one main loop iteration later),
 * or ends it with G_IO_ERROR_CANCELLED as soon as its cancellable fires. */
static FakeDelay *
fake_delay_start (GTask         *task,
                  gint64         usec,
                  FakeDelayDone  done)
{
  FakeDelay *delay = g_new0 (FakeDelay, 1);
  GCancellable *cancellable = g_task_get_cancellable (task);
  guint ms;

  if (usec < 0)
    usec = 0;
  ms = (guint) MIN ((usec + 999) / 1000, (gint64) G_MAXUINT);

  delay->task = task;
  delay->done = done;
  g_task_set_task_data (task, delay, fake_delay_free);

  delay->timeout = g_timeout_source_new (ms);
  g_source_set_name (delay->timeout, "[holder] fake backend delay");
  g_task_attach_source (task, delay->timeout, fake_delay_timeout_cb);

  if (cancellable != NULL)
    {
      delay->cancel = g_cancellable_source_new (cancellable);
      g_source_set_name (delay->cancel, "[holder] fake backend cancel");
      g_task_attach_source (task, delay->cancel,
                            G_SOURCE_FUNC (fake_delay_cancelled_cb));
    }

  return delay;
}

/* ---- VMs ---------------------------------------------------------------- */

static void
vm_disarm_exit (HolderVm *vm)
{
  if (vm->exit_source != NULL)
    {
      g_source_destroy (vm->exit_source);
      g_clear_pointer (&vm->exit_source, g_source_unref);
    }
}

static gboolean
vm_exit_cb (gpointer user_data)
{
  HolderVm *vm = user_data;
  const HolderBackendHost *host = vm->backend->parent.host;

  g_clear_pointer (&vm->exit_source, g_source_unref);
  vm->started = FALSE;
  g_debug ("%s exits on its own", vm->name);
  if (host != NULL && host->vm_exited != NULL)
    host->vm_exited (vm, "fake backend: VM exited on its own", host->user_data);
  return G_SOURCE_REMOVE;
}

static void
vm_arm_exit (HolderVm     *vm,
             GMainContext *context)
{
  gint64 usec = vm->backend->exit_after_usec;

  if (usec < 0)
    return;
  vm_disarm_exit (vm);
  vm->exit_source = g_timeout_source_new ((guint) MIN ((usec + 999) / 1000,
                                                       (gint64) G_MAXUINT));
  g_source_set_name (vm->exit_source, "[holder] fake backend exit");
  g_source_set_callback (vm->exit_source, vm_exit_cb, vm, NULL);
  g_source_attach (vm->exit_source, context);
}

/* Ends a pending wait_ip because its VM went away under it. */
static void
vm_fail_waiting (HolderVm   *vm,
                 const char *why)
{
  FakeDelay *delay = vm->waiting;
  g_autoptr(GTask) task = NULL;

  if (delay == NULL)
    return;
  task = g_object_ref (delay->task);
  fake_delay_disarm (delay);
  g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                           "fake backend: %s", why);
}

/* ---- the class ----------------------------------------------------------
 *
 * HolderBackend is a plain struct, not a GObject, so the tasks carry no
 * source object: callbacks receive NULL as their first argument.
 */

static char *
knob_string (const char *variable)
{
  const char *value = g_getenv (variable);

  return (value != NULL && value[0] != '\0') ? g_strdup (value) : NULL;
}

/* A Go duration, or @fallback when unset; an invalid value is reported and
 * ignored rather than failing the helper, like FLEETBOX_IP_WAIT_TIMEOUT. */
static gint64
knob_duration (const char *variable,
               gint64      fallback)
{
  const char *value = g_getenv (variable);
  gint64 usec;

  if (value == NULL || value[0] == '\0')
    return fallback;
  if (!holder_duration_parse (value, &usec))
    {
      g_message ("ignoring %s=%s: not a duration", variable, value);
      return fallback;
    }
  return usec;
}

static HolderBackend *
fake_new (const HolderBackendClass *klass,
          const HolderBackendHost  *host,
          GError                  **error)
{
  HolderBackendFake *self = g_new0 (HolderBackendFake, 1);

  self->parent.klass = klass;
  self->parent.host = host;
  self->record_path = knob_string ("FLEETBOX_FAKE_RECORD");
  self->fail_create = knob_string ("FLEETBOX_FAKE_FAIL_CREATE");
  self->fail_start = knob_string ("FLEETBOX_FAKE_FAIL_START");
  self->fail_ip = knob_string ("FLEETBOX_FAKE_FAIL_IP");
  self->reclaim_path = knob_string ("FLEETBOX_FAKE_RECLAIM");
  self->boot_delay_usec = MAX (knob_duration ("FLEETBOX_FAKE_BOOT_DELAY", 0), 0);
  self->stop_delay_usec = MAX (knob_duration ("FLEETBOX_FAKE_STOP_DELAY", 0), 0);
  /* A negative exit delay means "never", like an unset one. */
  self->exit_after_usec = knob_duration ("FLEETBOX_FAKE_EXIT_AFTER", -1);

  return &self->parent;
}

static void
fake_free (HolderBackend *backend)
{
  HolderBackendFake *self = (HolderBackendFake *) backend;

  if (self == NULL)
    return;
  g_free (self->record_path);
  g_free (self->fail_create);
  g_free (self->fail_start);
  g_free (self->fail_ip);
  g_free (self->reclaim_path);
  g_free (self);
}

static void
fake_reconcile_async (HolderBackend        *self,
                      HolderReconcileFlags  flags,
                      GCancellable         *cancellable,
                      GAsyncReadyCallback   callback,
                      gpointer              user_data)
{
  HolderBackendFake *fake = (HolderBackendFake *) self;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  g_task_set_name (task, "fake_reconcile_async");

  /* The fake owns no host state. FLEETBOX_FAKE_RECLAIM pretends some was
   * left: one "<kind> <what>" per line, reported as reclaimed, and the
   * file removed (as the state would be) unless this is a dry run. */
  if (fake->reclaim_path == NULL ||
      !g_file_get_contents (fake->reclaim_path, &contents, NULL, NULL))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) fields = g_strsplit (g_strstrip (lines[i]), " ", 2);

      if (fields[0] != NULL && fields[0][0] != '\0' && fields[1] != NULL)
        holder_backend_report_reclaimed (self, fields[0], fields[1]);
    }
  if ((flags & HOLDER_RECONCILE_FLAGS_DRY_RUN) == 0 && unlink (fake->reclaim_path) != 0)
    g_debug ("remove %s: %s", fake->reclaim_path, g_strerror (errno));
  g_task_return_boolean (task, TRUE);
}

static char *
fake_describe_ready (HolderBackend *backend,
                     HolderVm      *vm)
{
  HolderBackendFake *self = (HolderBackendFake *) backend;
  g_autofree char *delay = holder_duration_format (self->boot_delay_usec);

  return g_strdup_printf ("the fake boot delay of %s (FLEETBOX_FAKE_BOOT_DELAY)", delay);
}

static void
fake_create_network_async (HolderBackend       *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  /* DHCP style: no subnet. */
  g_task_set_name (task, "fake_create_network_async");
  g_task_return_pointer (task, g_strdup (""), g_free);
}

static void
fake_close_network_async (HolderBackend       *backend,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  HolderBackendFake *self = (HolderBackendFake *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GString) record = record_begin ("close");

  g_task_set_name (task, "fake_close_network_async");
  record_write (self, record);
  g_task_return_boolean (task, TRUE);
}

static void
fake_reserve_async (HolderBackend       *backend,
                    const char          *name,
                    const char          *ip_hint,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  HolderBackendFake *self = (HolderBackendFake *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autofree char *mac = holder_mac_for_name (name);
  g_autoptr(GString) record = record_begin ("reserve");

  g_task_set_name (task, "fake_reserve_async");

  record_add_string (record, "name", name);
  record_add_string (record, "ip_hint", ip_hint);
  record_add_string (record, "mac", mac);
  record_write (self, record);

  g_task_return_pointer (task, holder_reservation_new (NULL, mac),
                         (GDestroyNotify) holder_reservation_free);
}

static void
fake_vm_free (HolderBackend *backend,
              HolderVm      *vm)
{
  if (vm == NULL)
    return;
  vm_disarm_exit (vm);
  /* Freeing a VM under a pending wait is the caller's bug; do not leave
   * the wait pointing at freed memory. */
  vm_fail_waiting (vm, "VM freed");
  g_free (vm->name);
  g_free (vm->ip);
  g_free (vm);
}

/* For a created VM that no caller collected. */
static void
vm_destroy (gpointer data)
{
  fake_vm_free (NULL, data);
}

static void
fake_create_vm_async (HolderBackend           *backend,
                      const HolderMemberSpec  *spec,
                      const HolderReservation *reservation,
                      GCancellable            *cancellable,
                      GAsyncReadyCallback      callback,
                      gpointer                 user_data)
{
  HolderBackendFake *self = (HolderBackendFake *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GString) record = record_begin ("create");
  HolderVm *vm;
  guint k;

  g_task_set_name (task, "fake_create_vm_async");

  /* The record comes first, so that a forced failure is recorded too. */
  record_add_string (record, "name", spec->name);
  record_add_string (record, "disk_path", spec->disk_path);
  record_add_string (record, "seed_path", spec->seed_path);
  record_add_string (record, "efi_path", spec->efi_path);
  record_add_string_list (record, "fixture_paths",
                          (const char *const *) spec->fixture_paths);
  if (reservation != NULL)
    {
      record_add_string (record, "assigned_ip", reservation->ip);
      record_add_string (record, "mac", reservation->mac);
    }
  record_write (self, record);

  k = ++self->creates;

  if (self->fail_create != NULL && g_strcmp0 (spec->name, self->fail_create) == 0)
    {
      g_autoptr(GString) message = g_string_new ("fake backend: forced Create failure for ");

      holder_append_go_quoted (message, spec->name);
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "%s", message->str);
      return;
    }

  vm = g_new0 (HolderVm, 1);
  vm->backend = self;
  vm->name = g_strdup (spec->name);
  vm->ip = g_strdup_printf ("203.0.113.%u", k);
  g_task_return_pointer (task, vm, vm_destroy);
}

static void
fake_start_vm_async (HolderBackend       *backend,
                     HolderVm            *vm,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  HolderBackendFake *self = (HolderBackendFake *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

  g_task_set_name (task, "fake_start_vm_async");

  if (self->fail_start != NULL && g_strcmp0 (vm->name, self->fail_start) == 0)
    {
      g_autoptr(GString) message = g_string_new ("fake backend: forced Start failure for ");

      holder_append_go_quoted (message, vm->name);
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "%s", message->str);
      return;
    }

  vm->started = TRUE;
  g_task_return_boolean (task, TRUE);
}

static void
wait_ip_done (GTask    *task,
              HolderVm *vm)
{
  HolderBackendFake *self;

  if (vm == NULL)
    {
      /* Not reachable: fake_vm_free and stop fail the wait first. */
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "fake backend: VM is gone");
      return;
    }
  self = vm->backend;

  if (self->fail_ip != NULL && g_strcmp0 (vm->name, self->fail_ip) == 0)
    {
      g_autoptr(GString) message = g_string_new ("fake backend: forced IP failure for ");

      holder_append_go_quoted (message, vm->name);
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "%s", message->str);
      return;
    }

  vm_arm_exit (vm, g_task_get_context (task));
  g_task_return_pointer (task, g_strdup (vm->ip), g_free);
}

static void
fake_wait_ip_async (HolderBackend       *backend,
                    HolderVm            *vm,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  HolderBackendFake *self = (HolderBackendFake *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  FakeDelay *delay;

  g_task_set_name (task, "fake_wait_ip_async");

  if (!vm->started)
    {
      g_task_return_new_error (task, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                               "fake backend: VM is not running");
      return;
    }

  /* A second wait on the same VM replaces the link, not the first wait. */
  delay = fake_delay_start (task, self->boot_delay_usec, wait_ip_done);
  delay->vm = vm;
  vm->waiting = delay;
}

static void
stop_vm_done (GTask    *task,
              HolderVm *vm)
{
  g_task_return_boolean (task, TRUE);
}

static void
fake_stop_vm_async (HolderBackend       *backend,
                    HolderVm            *vm,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  HolderBackendFake *self = (HolderBackendFake *) backend;
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr(GString) record = record_begin ("stop");

  g_task_set_name (task, "fake_stop_vm_async");

  record_add_string (record, "name", vm->name);
  record_write (self, record);

  /* The VM is gone from now on: no exit of its own, and a wait for its
   * address fails at once, as it would when a real guest dies. */
  vm->started = FALSE;
  vm_disarm_exit (vm);
  vm_fail_waiting (vm, "VM was stopped");

  fake_delay_start (task, self->stop_delay_usec, stop_vm_done);
}

const HolderBackendClass holder_backend_fake_class = {
  .name = "fake",
  .caps = HOLDER_BACKEND_CAP_CLUSTERING | HOLDER_BACKEND_CAP_NESTED_VIRT |
          HOLDER_BACKEND_CAP_NO_HOST_STATE | HOLDER_BACKEND_CAP_NO_GUEST,
  .new = fake_new,
  .free = fake_free,
  .reconcile_async = fake_reconcile_async,
  .reconcile_finish = holder_backend_task_finish_boolean,
  .create_network_async = fake_create_network_async,
  .create_network_finish = holder_backend_task_finish_string,
  .close_network_async = fake_close_network_async,
  .close_network_finish = holder_backend_task_finish_boolean,
  .reserve_async = fake_reserve_async,
  .reserve_finish = holder_backend_task_finish_reservation,
  .create_vm_async = fake_create_vm_async,
  .create_vm_finish = holder_backend_task_finish_vm,
  .start_vm_async = fake_start_vm_async,
  .start_vm_finish = holder_backend_task_finish_boolean,
  .wait_ip_async = fake_wait_ip_async,
  .wait_ip_finish = holder_backend_task_finish_string,
  .stop_vm_async = fake_stop_vm_async,
  .stop_vm_finish = holder_backend_task_finish_boolean,
  .vm_free = fake_vm_free,
  .describe_ready = fake_describe_ready,
};
