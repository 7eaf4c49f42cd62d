/* holder-guest-wait.c: waiting for a guest (see holder-guest-wait.h).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-guest-wait"

#include "holder-backend.h"
#include "holder-guest-wait.h"
#include "holder-net-watch.h"
#include "holder-tcp-probe.h"

struct _HolderGuestWait {
  gint          ref_count;
  char         *ip;
  guint16       port;
  char         *name;              /* nullable */
  HolderTcpProbe *probe;           /* nullable: ip was no address */
  HolderNetWatch *net_watch;       /* until the wait ends; nullable */
  GTask        *task;              /* until the wait ends */
  GCancellable *probe_cancellable;
  gulong        cancel_id;         /* on the task's cancellable */
  GSource      *cancel_idle;
  gboolean      reached;
};

static HolderGuestWait *
wait_ref (HolderGuestWait *wait)
{
  wait->ref_count++;
  return wait;
}

void
holder_guest_wait_unref (HolderGuestWait *wait)
{
  if (wait == NULL || --wait->ref_count > 0)
    return;
  g_assert (wait->task == NULL && wait->net_watch == NULL);
  g_clear_object (&wait->probe_cancellable);
  g_clear_pointer (&wait->probe, holder_tcp_probe_unref);
  g_free (wait->name);
  g_free (wait->ip);
  g_free (wait);
}

gboolean
holder_guest_wait_is_pending (HolderGuestWait *wait)
{
  return wait != NULL && wait->task != NULL;
}

gboolean
holder_guest_wait_reached (HolderGuestWait *wait)
{
  return wait != NULL && wait->reached;
}

/* Every end comes through here: the probe is stopped and the caller's
 * cancellable let go whichever way the wait ends. */
static void
wait_complete (HolderGuestWait *wait,
               char            *ip,
               GError          *error)
{
  GTask *task = g_steal_pointer (&wait->task);

  if (task == NULL)
    {
      g_free (ip);
      g_clear_error (&error);
      return;
    }
  g_clear_pointer (&wait->net_watch, holder_net_watch_free);
  g_cancellable_cancel (wait->probe_cancellable);
  if (wait->cancel_idle != NULL)
    {
      g_source_destroy (wait->cancel_idle);
      g_clear_pointer (&wait->cancel_idle, g_source_unref);
    }
  if (wait->cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), wait->cancel_id);
  wait->cancel_id = 0;

  if (ip != NULL)
    g_task_return_pointer (task, ip, g_free);
  else
    g_task_return_error (task, error);
  g_object_unref (task);
  holder_guest_wait_unref (wait); /* the task's hold on the wait */
}

static void
on_probe_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(HolderGuestWait) wait = user_data;
  g_autoptr(GError) error = NULL;

  if (!holder_tcp_probe_finish (result, &error))
    {
      wait_complete (wait, NULL, g_steal_pointer (&error));
      return;
    }
  if (wait->task != NULL)
    {
      if (wait->name != NULL)
        holder_boot_trace (wait->name, "port22");
      g_debug ("guest %s answers on %s:%u after %u attempt(s), %u refused",
               wait->name != NULL ? wait->name : "", wait->ip, wait->port,
               holder_tcp_probe_get_attempts (wait->probe),
               holder_tcp_probe_get_refused (wait->probe));
      wait->reached = TRUE;
    }
  wait_complete (wait, g_strdup (wait->ip), NULL);
}

static gboolean
on_cancelled_idle (gpointer user_data)
{
  HolderGuestWait *wait = user_data;

  g_clear_pointer (&wait->cancel_idle, g_source_unref);
  wait_complete (wait, NULL, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                  "the wait for the guest was cancelled"));
  return G_SOURCE_REMOVE;
}

/* Runs inside g_cancellable_cancel(): it may not disconnect itself, so it
 * hands over to an idle on the wait's context. */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  HolderGuestWait *wait = user_data;

  if (wait->cancel_idle != NULL || wait->task == NULL)
    return;
  wait->cancel_idle = g_idle_source_new ();
  g_source_set_callback (wait->cancel_idle, on_cancelled_idle, wait, NULL);
  g_source_attach (wait->cancel_idle, g_task_get_context (wait->task));
}

/* How long a sign keeps the probe at its tightest: a first frame means
 * the guest's link came up, and its address and listener follow within
 * moments; a VMM that attached to its tap has a kernel to boot first. */
#define FRAME_FAST_MS 1000

/* The host saw a sign of the guest: probe now. */
static void
on_net_sign (HolderNetSign sign,
             gpointer      user_data)
{
  HolderGuestWait *wait = user_data;

  holder_tcp_probe_kick (wait->probe, sign == HOLDER_NET_SIGN_CARRIER ? 0 : FRAME_FAST_MS);
}

HolderGuestWait *
holder_guest_wait_start_full (const char                 *ip,
                              guint16                     port,
                              const HolderGuestWaitHints *hints,
                              GCancellable               *cancellable,
                              GAsyncReadyCallback         callback,
                              gpointer                    user_data)
{
  HolderGuestWait *wait;
  GError *error = NULL;

  g_return_val_if_fail (ip != NULL, NULL);

  wait = g_new0 (HolderGuestWait, 1);
  wait->ref_count = 2; /* the caller's handle, and the task's hold */
  wait->ip = g_strdup (ip);
  wait->port = port;
  wait->name = hints != NULL ? g_strdup (hints->name) : NULL;
  wait->probe_cancellable = g_cancellable_new ();
  wait->task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (wait->task, "holder_guest_wait_start");

  wait->probe = holder_tcp_probe_new (ip, port, &error);
  if (wait->probe == NULL)
    {
      wait_complete (wait, NULL, error);
      return wait;
    }
  if (cancellable != NULL)
    wait->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), wait, NULL);
  if (hints != NULL && (hints->link != NULL || hints->mac != NULL))
    wait->net_watch = holder_net_watch_new (hints->link, hints->mac, ip, on_net_sign, wait);
  holder_tcp_probe_run_async (wait->probe, wait->probe_cancellable, on_probe_done,
                              wait_ref (wait));
  return wait;
}

HolderGuestWait *
holder_guest_wait_start (const char          *ip,
                         guint16              port,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  return holder_guest_wait_start_full (ip, port, NULL, cancellable, callback, user_data);
}

char *
holder_guest_wait_finish (GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
holder_guest_wait_abort (HolderGuestWait *wait,
                         GError          *error)
{
  g_return_if_fail (wait != NULL);
  g_return_if_fail (error != NULL);

  wait_complete (wait, NULL, error);
}
