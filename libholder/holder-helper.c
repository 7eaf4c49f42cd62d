/* holder-helper.c: the client half's spawning of a helper: bound (the
 * bind handshake on the control socket) or detached (a new session), and
 * closing it (see holder-client.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-client"

#include "holder-client.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "holder-client-io-private.h"
#include "holder-error.h"
#include "holder-platform-private.h"
#include "holder-runner.h"
#include "holder-store-fs-private.h"
#include "holder-store.h"
#include "holder-store-private.h"
#include "holder-util-private.h"
#include "holder-version.h"

/* HOLDER_CLIENT_BIND_WINDOW_MS, or FLEETBOX_BIND_TIMEOUT (a Go duration)
 * for helpers that start slowly: under valgrind, or on a loaded machine. */
static int
bind_window_ms (void)
{
  const char *value = g_getenv ("FLEETBOX_BIND_TIMEOUT");
  gint64 usec = 0;

  if (value != NULL && holder_duration_parse (value, &usec) && usec > 0)
    return (int) MIN (usec / 1000, G_MAXINT);
  return HOLDER_CLIENT_BIND_WINDOW_MS;
}

/* Default for holder_helper_close(). */
#define CLOSE_DEFAULT_TIMEOUT_MS (30 * 1000)
/* The bind handshake: one read of at most this many bytes, within this. */
#define HANDSHAKE_READ_MAX 64
#define HANDSHAKE_READ_TIMEOUT_MS 2000
/* After SIGKILL, how long spawn waits to reap the helper it gives up on. */
#define KILL_REAP_TIMEOUT_MS 5000

/* ---------------------------------------------------------------------------
 * Spawning a helper
 */

struct _HolderHelper {
  GSubprocess       *process;
  GPid               pid;
  char              *root;
  char              *primary;
  char              *log_path;
  gboolean           detached;
  /* Bound: the acked control connection. The helper's death watch is armed
   * on it, so it must stay open exactly as long as the handle wants the
   * helper alive. */
  GSocketConnection *control;
};

/* Watches the helper process while spawn waits for it. */
typedef struct {
  GSubprocess  *process;
  GCancellable *wait_cancellable;
  GCancellable *step;      /* the current step; cancelled when it exits */
  gboolean      exited;
  gboolean      wait_done;
} SpawnWatch;

static void
spawn_watch_exited_cb (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  SpawnWatch *watch = user_data;

  watch->exited = g_subprocess_wait_finish (G_SUBPROCESS (source), result,
                                            NULL);
  watch->wait_done = TRUE;
  if (watch->exited && watch->step != NULL)
    g_cancellable_cancel (watch->step);
}

static void
spawn_watch_start (SpawnWatch  *watch,
                   GSubprocess *process)
{
  watch->process = process;
  watch->wait_cancellable = g_cancellable_new ();
  g_subprocess_wait_async (process, watch->wait_cancellable,
                           spawn_watch_exited_cb, watch);
}

static void
spawn_watch_stop (SpawnWatch   *watch,
                  GMainContext *context)
{
  g_cancellable_cancel (watch->wait_cancellable);
  while (!watch->wait_done)
    g_main_context_iteration (context, TRUE);
  g_clear_object (&watch->wait_cancellable);
  g_clear_object (&watch->step);
}

/* Starts a step: a fresh cancellable the exit watch can interrupt. */
static GCancellable *
spawn_watch_begin_step (SpawnWatch *watch)
{
  g_clear_object (&watch->step);
  watch->step = g_cancellable_new ();
  if (watch->exited)
    g_cancellable_cancel (watch->step);
  return watch->step;
}

static void
set_helper_exited_error (GError      **error,
                         GSubprocess  *process,
                         const char   *when,
                         const char   *log_path)
{
  g_autofree char *how = NULL;

  if (g_subprocess_get_if_signaled (process))
    {
      int sig = g_subprocess_get_term_sig (process);

      how = g_strdup_printf ("was killed by signal %d (%s)", sig,
                             g_strsignal (sig));
    }
  else
    how = g_strdup_printf ("exited with status %d",
                           g_subprocess_get_exit_status (process));
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_HELPER_EXITED,
               "helper %s %s%s%s%s", how, when,
               log_path != NULL ? " (see " : "",
               log_path != NULL ? log_path : "",
               log_path != NULL ? ")" : "");
}

/* Kills a helper spawn gives up on, and reaps it. */
static void
spawn_kill (SpawnWatch   *watch,
            GMainContext *context)
{
  gint64 deadline;

  if (watch->exited)
    return;
  g_subprocess_force_exit (watch->process);
  deadline = g_get_monotonic_time () + KILL_REAP_TIMEOUT_MS * 1000;
  while (!watch->exited && g_get_monotonic_time () < deadline)
    holder_client_context_sleep (context, HOLDER_CLIENT_DIAL_RETRY_MS, NULL);
}

/* The bind handshake of docs/protocol.md, section 8, retried (the helper drops
 * a connection it does not get to answer, and may not listen yet) until it
 * is acked, the window closes, or the helper exits. */
static gboolean
spawn_bind (HolderHelper  *helper,
            SpawnWatch    *watch,
            GMainContext  *context,
            GError       **error)
{
  g_autofree char *path = NULL;
  g_autofree char *last_problem = NULL;
  gint64 deadline;

  path = holder_store_control_socket_path (helper->root, helper->primary);
  deadline = g_get_monotonic_time () + bind_window_ms () * 1000;

  for (;;)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GSocketConnection) connection = NULL;
      g_autoptr(GError) local_error = NULL;
      char answer[HANDSHAKE_READ_MAX + 1];
      GCancellable *step;
      HolderStepTimer timer = { 0 };
      gint64 remaining;
      gssize n;

      remaining = (deadline - g_get_monotonic_time ()) / 1000;
      if (watch->exited)
        {
          set_helper_exited_error (error, watch->process, "before binding",
                                   NULL);
          return FALSE;
        }
      if (remaining <= 0)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                       "helper did not complete the bind handshake on %s "
                       "within %d ms%s%s", path, bind_window_ms (),
                       last_problem != NULL ? ": " : "",
                       last_problem != NULL ? last_problem : "");
          return FALSE;
        }

      step = spawn_watch_begin_step (watch);
      holder_client_dial_async (path, (guint) remaining, step, holder_client_store_result_cb, &result);
      holder_client_await_result (context, &result);
      connection = holder_client_dial_finish (result, &local_error);
      g_clear_object (&result);
      if (connection == NULL)
        {
          if (!watch->exited && !holder_client_error_is_absent_socket (local_error))
            {
              g_set_error (error, HOLDER_ERROR,
                           g_error_matches (local_error, G_IO_ERROR,
                                            G_IO_ERROR_PERMISSION_DENIED)
                           ? HOLDER_ERROR_PERMISSION_DENIED
                           : HOLDER_ERROR_FAILED,
                           "connect to %s: %s", path, local_error->message);
              return FALSE;
            }
          g_free (last_problem);
          last_problem = g_strdup (local_error->message);
          continue;
        }

      /* Each step is one write or one read: the helper reads `bind` with a
       * single read of at most 64 bytes. */
      g_output_stream_write_all_async (
        g_io_stream_get_output_stream (G_IO_STREAM (connection)),
        "bind", 4, G_PRIORITY_DEFAULT, step, holder_client_store_result_cb, &result);
      holder_client_await_result (context, &result);
      if (!g_output_stream_write_all_finish (
             g_io_stream_get_output_stream (G_IO_STREAM (connection)),
             result, NULL, &local_error))
        {
          g_clear_object (&result);
          g_free (last_problem);
          last_problem = g_strdup (local_error->message);
          holder_client_context_sleep (context, HOLDER_CLIENT_DIAL_RETRY_MS, step);
          continue;
        }
      g_clear_object (&result);

      holder_step_timer_start (&timer, step, HANDSHAKE_READ_TIMEOUT_MS);
      g_input_stream_read_async (
        g_io_stream_get_input_stream (G_IO_STREAM (connection)),
        answer, HANDSHAKE_READ_MAX, G_PRIORITY_DEFAULT, step,
        holder_client_store_result_cb, &result);
      holder_client_await_result (context, &result);
      holder_step_timer_stop (&timer);
      n = g_input_stream_read_finish (
            g_io_stream_get_input_stream (G_IO_STREAM (connection)),
            result, &local_error);
      g_clear_object (&result);
      if (n <= 0)
        {
          /* Dropped before answering (or too slow): try a new connection. */
          g_free (last_problem);
          last_problem = g_strdup (n == 0 ? "the helper closed the control "
                                            "connection"
                                          : timer.fired
                                          ? "no answer to bind"
                                          : local_error->message);
          g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
          holder_client_context_sleep (context, HOLDER_CLIENT_DIAL_RETRY_MS, step);
          continue;
        }

      answer[n] = '\0';
      g_strstrip (answer);
      if (strcmp (answer, HOLDER_PROTOCOL_VERSION) != 0)
        {
          g_autoptr(GString) quoted = g_string_new (NULL);

          holder_append_go_quoted (quoted, answer);
          g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_VERSION_MISMATCH,
                       "helper speaks protocol %s, this client speaks \"%s\"",
                       quoted->str, HOLDER_PROTOCOL_VERSION);
          return FALSE;
        }

      g_output_stream_write_all_async (
        g_io_stream_get_output_stream (G_IO_STREAM (connection)),
        "ack", 3, G_PRIORITY_DEFAULT, step, holder_client_store_result_cb, &result);
      holder_client_await_result (context, &result);
      if (!g_output_stream_write_all_finish (
             g_io_stream_get_output_stream (G_IO_STREAM (connection)),
             result, NULL, &local_error))
        {
          g_clear_object (&result);
          g_free (last_problem);
          last_problem = g_strdup (local_error->message);
          g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
          holder_client_context_sleep (context, HOLDER_CLIENT_DIAL_RETRY_MS, step);
          continue;
        }

      helper->control = g_steal_pointer (&connection);
      return TRUE;
    }
}

/* A detached helper is ready once its primary's socket accepts and its
 * pidfile names it (not a stale helper serving the same name). The probe
 * connection carries no request: the helper sees EOF and drops it. */
static gboolean
spawn_await_detached (HolderHelper  *helper,
                      SpawnWatch    *watch,
                      GMainContext  *context,
                      GError       **error)
{
  g_autofree char *path = holder_store_socket_path (helper->root,
                                                    helper->primary);
  g_autofree char *last_problem = NULL;
  gint64 deadline = g_get_monotonic_time () +
                    (gint64) HOLDER_CLIENT_DIAL_WINDOW_MS * 1000;
  guint pidfile_attempts = 0;

  for (;;)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GSocketConnection) connection = NULL;
      g_autoptr(GError) local_error = NULL;
      GCancellable *step;
      gint64 remaining;
      GPid pid = 0;

      remaining = (deadline - g_get_monotonic_time ()) / 1000;
      if (watch->exited)
        {
          set_helper_exited_error (error, watch->process,
                                   "before serving its members",
                                   helper->log_path);
          return FALSE;
        }
      if (remaining <= 0)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                       "helper did not serve %s within %d ms%s%s",
                       path, HOLDER_CLIENT_DIAL_WINDOW_MS,
                       last_problem != NULL ? ": " : "",
                       last_problem != NULL ? last_problem : "");
          return FALSE;
        }

      step = spawn_watch_begin_step (watch);
      holder_client_dial_async (path, (guint) remaining, step, holder_client_store_result_cb, &result);
      holder_client_await_result (context, &result);
      connection = holder_client_dial_finish (result, &local_error);
      if (connection == NULL)
        {
          if (!watch->exited && !holder_client_error_is_absent_socket (local_error))
            {
              g_set_error (error, HOLDER_ERROR,
                           g_error_matches (local_error, G_IO_ERROR,
                                            G_IO_ERROR_PERMISSION_DENIED)
                           ? HOLDER_ERROR_PERMISSION_DENIED
                           : HOLDER_ERROR_FAILED,
                           "connect to %s: %s", path, local_error->message);
              return FALSE;
            }
          g_free (last_problem);
          last_problem = g_strdup (local_error->message);
          continue;
        }
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);

      if (holder_store_read_pidfile (helper->root, helper->primary, &pid, NULL) &&
          pid == helper->pid)
        return TRUE;
      g_free (last_problem);
      last_problem = g_strdup_printf ("the pidfile of %s does not name "
                                      "pid %d yet", helper->primary,
                                      (int) helper->pid);
      /* It is written right after listen(): look again soon. */
      holder_client_context_sleep (context, holder_client_dial_retry_ms (pidfile_attempts++), step);
    }
}

static void
detached_child_setup (gpointer user_data)
{
  /* A new session: no terminal's hangup or job-control signal reaches the
   * helper, so its VMs outlive the caller. */
  setsid ();
}

HolderHelper *
holder_helper_spawn (const char         *helper_path,
                     const char *const  *names,
                     const char *const  *envp,
                     HolderSpawnFlags    flags,
                     GError            **error)
{
  g_autoptr(HolderHelper) helper = NULL;
  g_autoptr(HolderStoreDir) store = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_auto(GStrv) env = NULL;
  g_autofree char *program = NULL;
  g_autofree char *joined = NULL;
  const char *argv[4];
  GMainContext *context;
  g_autoptr(GError) spawn_error = NULL;
  SpawnWatch watch = { 0 };
  gboolean ok;

  g_return_val_if_fail (names != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (names[0] == NULL)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                           "no VM names provided");
      return NULL;
    }
  for (gsize i = 0; names[i] != NULL; i++)
    {
      if (!holder_name_validate (names[i], error))
        return NULL;
      /* The runner flag's value is split on commas. */
      if (strchr (names[i], ',') != NULL)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_NAME,
                       "member name \"%s\" contains a comma", names[i]);
          return NULL;
        }
    }

  if (helper_path != NULL)
    program = g_strdup (helper_path);
  else
    {
      program = holder_platform_get_executable_path (error);
      if (program == NULL)
        {
          g_prefix_error (error, "find the calling program: ");
          return NULL;
        }
    }

  env = envp != NULL ? g_strdupv ((char **) envp) : g_get_environ ();
  helper = g_new0 (HolderHelper, 1);
  helper->detached = (flags & HOLDER_SPAWN_FLAGS_DETACHED) != 0;
  helper->primary = g_strdup (names[0]);
  helper->root = holder_store_resolve_root_for_environ ((const char *const *) env, error);
  if (helper->root == NULL)
    return NULL;
  /* The helper would refuse it too, but only in its log: say it here. */
  if (!holder_store_check_socket_paths (helper->root, error))
    return NULL;

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  if (helper->detached)
    {
      g_autofree char *log_name = g_strdup_printf ("runner-%s.log",
                                                   helper->primary);
      int fd;

      env = g_environ_unsetenv (env, HOLDER_PARENT_PID_ENV);
      store = holder_store_dir_open (helper->root, HOLDER_STORE_DIR_CREATE, error);
      if (store == NULL)
        return NULL;
      helper->log_path = g_build_filename (helper->root, log_name, NULL);
      fd = holder_store_dir_open_log (store, log_name, error);
      if (fd < 0)
        return NULL;
      g_subprocess_launcher_take_stdout_fd (launcher, fd);
      g_subprocess_launcher_take_stderr_fd (launcher, dup (fd));
      g_subprocess_launcher_set_child_setup (launcher, detached_child_setup,
                                             NULL, NULL);
    }
  else
    {
      g_autofree char *ppid = g_strdup_printf ("%d", (int) getpid ());

      env = g_environ_setenv (env, HOLDER_PARENT_PID_ENV, ppid, TRUE);
    }
  g_subprocess_launcher_set_environ (launcher, env);

  joined = g_strjoinv (",", (char **) names);
  argv[0] = program;
  argv[1] = HOLDER_RUNNER_FLAG;
  argv[2] = joined;
  argv[3] = NULL;

  context = holder_client_context_push ();
  helper->process = g_subprocess_launcher_spawnv (launcher, argv,
                                                  &spawn_error);
  if (helper->process == NULL)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED, "spawn %s: %s",
                   program, spawn_error->message);
      holder_client_context_pop (context);
      return NULL;
    }
  /* NULL only if it was already reaped: then the exit watch reports it. */
  if (g_subprocess_get_identifier (helper->process) != NULL)
    helper->pid = (GPid) g_ascii_strtoll (
      g_subprocess_get_identifier (helper->process), NULL, 10);
  g_debug ("spawned %s helper %d for %s", helper->detached ? "detached"
                                                           : "bound",
           (int) helper->pid, joined);

  spawn_watch_start (&watch, helper->process);
  if (helper->detached)
    ok = spawn_await_detached (helper, &watch, context, error);
  else
    ok = spawn_bind (helper, &watch, context, error);
  if (!ok)
    spawn_kill (&watch, context);
  spawn_watch_stop (&watch, context);
  holder_client_context_pop (context);

  if (!ok)
    return NULL;
  return g_steal_pointer (&helper);
}

GPid
holder_helper_get_pid (HolderHelper *helper)
{
  g_return_val_if_fail (helper != NULL, 0);
  return helper->pid;
}

const char *
holder_helper_get_root (HolderHelper *helper)
{
  g_return_val_if_fail (helper != NULL, NULL);
  return helper->root;
}

const char *
holder_helper_get_primary (HolderHelper *helper)
{
  g_return_val_if_fail (helper != NULL, NULL);
  return helper->primary;
}

static void
helper_close_control (HolderHelper *helper)
{
  if (helper->control != NULL)
    {
      g_io_stream_close (G_IO_STREAM (helper->control), NULL, NULL);
      g_clear_object (&helper->control);
    }
}

gboolean
holder_helper_close (HolderHelper  *helper,
                     guint          timeout_ms,
                     int           *out_exit_status,
                     GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GError) local_error = NULL;
  HolderStepTimer timer = { 0 };
  GMainContext *context;
  gboolean exited;

  g_return_val_if_fail (helper != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (helper->detached)
    return TRUE;

  /* EOF on the acked connection is the helper's signal to tear down. */
  helper_close_control (helper);

  if (timeout_ms == 0)
    timeout_ms = CLOSE_DEFAULT_TIMEOUT_MS;
  cancellable = g_cancellable_new ();
  context = holder_client_context_push ();
  holder_step_timer_start (&timer, cancellable, timeout_ms);
  g_subprocess_wait_async (helper->process, cancellable, holder_client_store_result_cb,
                           &result);
  holder_client_await_result (context, &result);
  holder_step_timer_stop (&timer);
  exited = g_subprocess_wait_finish (helper->process, result, &local_error);
  g_clear_object (&result);
  holder_client_context_pop (context);

  if (!exited)
    {
      if (timer.fired)
        g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                     "timed out after %u ms waiting for the helper (pid %d) "
                     "to exit", timeout_ms, (int) helper->pid);
      else
        g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (out_exit_status != NULL)
    *out_exit_status = g_subprocess_get_status (helper->process);
  return TRUE;
}

void
holder_helper_free (HolderHelper *helper)
{
  if (helper == NULL)
    return;
  /* Closing is instant; a bound helper notices and tears down by itself.
   * GSubprocess keeps reaping the child after the last unref. */
  helper_close_control (helper);
  g_clear_object (&helper->process);
  g_free (helper->root);
  g_free (helper->primary);
  g_free (helper->log_path);
  g_free (helper);
}
