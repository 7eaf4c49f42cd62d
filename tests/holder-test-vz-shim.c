/* SPDX-License-Identifier: MIT
 *
 * The fake shim (see holder-test-vz-shim.h).
 */
#define G_LOG_DOMAIN "holder-test"

#include <stdlib.h>
#include <string.h>

#include "holder-test-vz.h"
#include "holder-test-vz-shim.h"

typedef enum {
  JOB_QUIT,
  JOB_START,
  JOB_FORCE_STOP,
  JOB_STATE,
  JOB_CAN_REQUEST_STOP,
  JOB_REQUEST_STOP,
  JOB_DIE,
} JobKind;

typedef struct {
  JobKind   kind;
  gboolean  sync;    /* the caller waits for done */
  gboolean  done;
  int       result;
  char     *errmsg;  /* malloc, as the real shim's */
} Job;

/* The handle the backend holds. */
struct HolderVzShimVm {
  GThread               *queue;
  GAsyncQueue           *jobs;
  HolderVzShimEventFunc  func;
  void                  *user_data;
  HolderTestVzScript     script;
  GMutex                 lock;      /* the sync handshake, and below */
  GCond                  cond;
  gboolean               start_released;
  GString               *log;
  guint                  events;
  gboolean               events_on_main;
  int                    state;     /* the queue's own, like VZ's */
};

/* The real one is a vmnet_network_ref; any non-NULL pointer will do. */
struct HolderVzShimNet {
  guint id;
};

static HolderTestVzShimWorld world;

static void
config_clear (HolderVzShimVmConfig *config)
{
  g_free (config->efi_path);
  g_free (config->disk_path);
  g_free (config->seed_path);
  g_strfreev (config->fixture_paths);
  g_free (config->mac);
  g_free (config->serial_log_path);
  memset (config, 0, sizeof *config);
}

HolderTestVzShimWorld *
holder_test_vz_shim_world (void)
{
  return &world;
}

void
holder_test_vz_shim_reset (void)
{
  config_clear (&world.last_config);
  memset (&world, 0, sizeof world);
  g_strlcpy (world.host.os_version, "26.4.1", sizeof world.host.os_version);
  world.host.apple_silicon = 1;
  world.host.min_cpus = 1;
  world.host.max_cpus = 8;
  world.host.min_memory_bytes = G_GUINT64_CONSTANT (128) << 20;
  world.host.max_memory_bytes = G_GUINT64_CONSTANT (16384) << 20;
}

/* ---- the VM's queue ------------------------------------------------------- */

static void
vm_log (HolderVzShimVm *vm,
        const char     *what)
{
  g_mutex_lock (&vm->lock);
  if (vm->log->len > 0)
    g_string_append_c (vm->log, ',');
  g_string_append (vm->log, what);
  g_mutex_unlock (&vm->lock);
}

static void
vm_post (HolderVzShimVm *vm,
         int             kind,
         const char     *errmsg)
{
  static const char *const names[] = {
    "state", "start-done", "stop-done", "guest-stopped", "stopped-with-error", "net-lost",
  };

  g_assert_true (g_thread_self () == vm->queue);
  g_mutex_lock (&vm->lock);
  vm->events++;
  vm->events_on_main = vm->events_on_main || holder_test_vz_on_main ();
  g_mutex_unlock (&vm->lock);
  if (kind != HOLDER_VZ_SHIM_EVENT_STATE_CHANGED)
    vm_log (vm, names[kind]);
  vm->func (vm->user_data, kind, vm->state, errmsg);
}

static void
vm_set_state (HolderVzShimVm *vm,
              int             state)
{
  vm->state = state;
  vm_post (vm, HOLDER_VZ_SHIM_EVENT_STATE_CHANGED, NULL);
}

static void
vm_run (HolderVzShimVm *vm,
        Job            *job)
{
  switch (job->kind)
    {
    case JOB_START:
      vm_set_state (vm, FAKE_STARTING);
      if (vm->script.hold_start)
        {
          /* The framework takes its time; the queue is busy meanwhile. */
          g_mutex_lock (&vm->lock);
          while (!vm->start_released)
            g_cond_wait (&vm->cond, &vm->lock);
          g_mutex_unlock (&vm->lock);
        }
      if (vm->script.start_error != NULL)
        {
          vm_set_state (vm, FAKE_STOPPED);
          vm_post (vm, HOLDER_VZ_SHIM_EVENT_START_DONE, vm->script.start_error);
          break;
        }
      vm_set_state (vm, FAKE_RUNNING);
      vm_post (vm, HOLDER_VZ_SHIM_EVENT_START_DONE, NULL);
      break;
    case JOB_FORCE_STOP:
      if (vm->script.force_error != NULL)
        {
          vm_post (vm, HOLDER_VZ_SHIM_EVENT_STOP_DONE, vm->script.force_error);
          break;
        }
      if (!vm->script.force_never_stops)
        vm_set_state (vm, FAKE_STOPPED);
      vm_post (vm, HOLDER_VZ_SHIM_EVENT_STOP_DONE, NULL);
      break;
    case JOB_STATE:
      job->result = vm->state;
      break;
    case JOB_CAN_REQUEST_STOP:
      job->result = vm->state == FAKE_RUNNING;
      break;
    case JOB_REQUEST_STOP:
      vm_log (vm, "request");
      if (vm->state != FAKE_RUNNING)
        {
          job->errmsg = strdup ("Invalid virtual machine state transition.");
          break;
        }
      job->result = 1;
      if (vm->script.ignore_acpi)
        break;
      /* The guest powers off while the caller still waits for the request
       * to return: events raised inside a synchronous call. */
      vm_set_state (vm, FAKE_STOPPING);
      vm_set_state (vm, FAKE_STOPPED);
      vm_post (vm, HOLDER_VZ_SHIM_EVENT_GUEST_STOPPED, NULL);
      break;
    case JOB_DIE:
      vm_set_state (vm, FAKE_ERROR);
      vm_post (vm, HOLDER_VZ_SHIM_EVENT_STOPPED_WITH_ERROR,
               "Internal Virtualization error. The virtual machine stopped unexpectedly.");
      break;
    case JOB_QUIT:
    default:
      break;
    }
}

static gpointer
vm_queue (gpointer data)
{
  HolderVzShimVm *vm = data;

  for (;;)
    {
      Job *job = g_async_queue_pop (vm->jobs);
      JobKind kind = job->kind;

      vm_run (vm, job);
      if (job->sync)
        {
          g_mutex_lock (&vm->lock);
          job->done = TRUE;
          g_cond_broadcast (&vm->cond);
          g_mutex_unlock (&vm->lock);
        }
      else
        g_free (job);
      if (kind == JOB_QUIT)
        return NULL;
    }
}

static void
vm_async (HolderVzShimVm *vm,
          JobKind         kind)
{
  Job *job = g_new0 (Job, 1);

  job->kind = kind;
  g_async_queue_push (vm->jobs, job);
}

/* dispatch_sync: the caller waits while the queue runs it. */
static int
vm_sync (HolderVzShimVm  *vm,
         JobKind          kind,
         char           **errmsg)
{
  Job job = { .kind = kind, .sync = TRUE };

  g_async_queue_push (vm->jobs, &job);
  g_mutex_lock (&vm->lock);
  while (!job.done)
    g_cond_wait (&vm->cond, &vm->lock);
  g_mutex_unlock (&vm->lock);
  if (errmsg != NULL)
    *errmsg = job.errmsg;
  else
    free (job.errmsg);
  return job.result;
}

/* ---- the shim's interface ------------------------------------------------------ */

void
holder_vz_shim_host_info (HolderVzShimHostInfo *out)
{
  *out = world.host;
}

HolderVzShimNet *
holder_vz_shim_net_new_shared (uint32_t   addr_be,
                               uint32_t   mask_be,
                               int       *out_status,
                               char     **errmsg)
{
  HolderVzShimNet *net;

  world.net_new_on_main = holder_test_vz_on_main ();
  world.last_addr_be = addr_be;
  world.last_mask_be = mask_be;
  *out_status = world.net_status;
  if (world.net_status != 0)
    {
      *errmsg = strdup ("vmnet_network_create");
      return NULL;
    }
  world.nets_created++;
  net = g_new0 (HolderVzShimNet, 1);
  net->id = world.nets_created;
  return net;
}

void
holder_vz_shim_net_free (HolderVzShimNet *net)
{
  holder_test_vz_assert_main ();
  if (net == NULL)
    return;
  world.nets_freed++;
  g_free (net);
}

HolderVzShimVm *
holder_vz_shim_vm_new (const HolderVzShimVmConfig *config,
                       HolderVzShimNet            *net,
                       HolderVzShimEventFunc       func,
                       void                       *user_data,
                       char                      **errmsg)
{
  HolderVzShimVm *vm;

  world.vm_new_on_main = holder_test_vz_on_main ();
  config_clear (&world.last_config);
  world.last_config = *config;
  world.last_config.efi_path = g_strdup (config->efi_path);
  world.last_config.disk_path = g_strdup (config->disk_path);
  world.last_config.seed_path = g_strdup (config->seed_path);
  world.last_config.fixture_paths = g_strdupv (config->fixture_paths);
  world.last_config.mac = g_strdup (config->mac);
  world.last_config.serial_log_path = g_strdup (config->serial_log_path);
  world.last_had_net = net != NULL;
  if (world.vm_new_error != NULL)
    {
      *errmsg = strdup (world.vm_new_error);
      return NULL;
    }

  vm = g_new0 (HolderVzShimVm, 1);
  vm->func = func;
  vm->user_data = user_data;
  vm->script = world.script;
  vm->jobs = g_async_queue_new ();
  vm->log = g_string_new (NULL);
  g_mutex_init (&vm->lock);
  g_cond_init (&vm->cond);
  vm->queue = g_thread_new ("fake-vz-queue", vm_queue, vm);
  world.vms_created++;
  world.last_vm = vm;
  return vm;
}

void
holder_vz_shim_vm_start (HolderVzShimVm *vm)
{
  holder_test_vz_assert_main ();
  vm_async (vm, JOB_START);
}

int
holder_vz_shim_vm_can_request_stop (HolderVzShimVm *vm)
{
  holder_test_vz_assert_main ();
  return vm_sync (vm, JOB_CAN_REQUEST_STOP, NULL);
}

int
holder_vz_shim_vm_state (HolderVzShimVm *vm)
{
  holder_test_vz_assert_main ();
  return vm_sync (vm, JOB_STATE, NULL);
}

int
holder_vz_shim_vm_request_stop (HolderVzShimVm  *vm,
                                char           **errmsg)
{
  holder_test_vz_assert_main ();
  return vm_sync (vm, JOB_REQUEST_STOP, errmsg);
}

void
holder_vz_shim_vm_force_stop (HolderVzShimVm *vm)
{
  holder_test_vz_assert_main ();
  vm_log (vm, "force");
  vm_async (vm, JOB_FORCE_STOP);
}

/* Drains the queue, as the real one's dispatch_sync: no event after. */
void
holder_vz_shim_vm_free (HolderVzShimVm *vm)
{
  holder_test_vz_assert_main ();
  if (vm == NULL)
    return;
  vm_async (vm, JOB_QUIT);
  g_thread_join (vm->queue);
  g_async_queue_unref (vm->jobs);
  g_mutex_clear (&vm->lock);
  g_cond_clear (&vm->cond);
  g_string_free (vm->log, TRUE);
  if (world.last_vm == vm)
    world.last_vm = NULL;
  world.vms_freed++;
  g_free (vm);
}

/* ---- for the tests ---------------------------------------------------------------- */

HolderTestVzScript *
holder_test_vz_shim_vm_script (HolderVzShimVm *vm)
{
  return &vm->script;
}

void
holder_test_vz_shim_vm_release_start (HolderVzShimVm *vm)
{
  g_mutex_lock (&vm->lock);
  vm->start_released = TRUE;
  g_cond_broadcast (&vm->cond);
  g_mutex_unlock (&vm->lock);
}

void
holder_test_vz_shim_vm_die (HolderVzShimVm *vm)
{
  vm_async (vm, JOB_DIE);
}

char *
holder_test_vz_shim_vm_log (HolderVzShimVm *vm)
{
  char *copy;

  g_mutex_lock (&vm->lock);
  copy = g_strdup (vm->log->str);
  g_mutex_unlock (&vm->lock);
  return copy;
}

gboolean
holder_test_vz_shim_vm_events_off_main (HolderVzShimVm *vm)
{
  gboolean off;

  g_mutex_lock (&vm->lock);
  off = vm->events > 0 && !vm->events_on_main;
  g_mutex_unlock (&vm->lock);
  return off;
}
