/* holder-test-run.c: see holder-test-run.h.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-test"

#include "holder-test-run.h"

static void
on_communicated (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
on_deadline (gpointer user_data)
{
  g_subprocess_force_exit (user_data);
  return G_SOURCE_REMOVE;
}

void
holder_test_run (const char *const *argv,
                 const char *const *envp,
                 guint              timeout_ms,
                 HolderTestRun     *run)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                               G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();
  gboolean killed = FALSE;
  GSource *deadline;

  if (envp != NULL)
    g_subprocess_launcher_set_environ (launcher, (char **) envp);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);

  g_main_context_push_thread_default (context);
  deadline = g_timeout_source_new (timeout_ms);
  g_source_set_callback (deadline, on_deadline, process, NULL);
  g_source_attach (deadline, context);
  g_subprocess_communicate_utf8_async (process, "", NULL, on_communicated, &result);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  killed = g_source_is_destroyed (deadline);
  g_source_destroy (deadline);
  g_source_unref (deadline);
  g_subprocess_communicate_utf8_finish (process, result, &run->out, &run->err, &error);
  g_assert_no_error (error);
  g_subprocess_wait (process, NULL, NULL);
  g_main_context_pop_thread_default (context);

  run->elapsed_ms = (g_get_monotonic_time () - start) / 1000.0;
  if (killed)
    g_error ("%s did not exit within %u ms; it printed:\n%s\n%s", argv[0], timeout_ms,
             run->out != NULL ? run->out : "", run->err != NULL ? run->err : "");
  if (!g_subprocess_get_if_exited (process))
    g_error ("%s was killed by signal %d; it printed:\n%s\n%s", argv[0],
             g_subprocess_get_term_sig (process), run->out, run->err);
  run->status = g_subprocess_get_exit_status (process);
}

void
holder_test_run_clear (HolderTestRun *run)
{
  g_clear_pointer (&run->out, g_free);
  g_clear_pointer (&run->err, g_free);
}
