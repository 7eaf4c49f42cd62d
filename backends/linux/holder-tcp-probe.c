/* SPDX-License-Identifier: MIT
 *
 * The TCP reachability probe (see holder-tcp-probe.h for the schedule).
 * Plain non-blocking sockets rather than GSocket or GSocketClient: an
 * attempt is one socket(), one connect() and, when the answer is not
 * immediate, one getsockopt(SO_ERROR) once the fd polls writable. The
 * probe's one GSource carries both the attempt's fd and the next tick
 * (its ready time), so a tick allocates nothing.
 */
#define G_LOG_DOMAIN "holder-tcp-probe"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "holder-backend.h"
#include "holder-tcp-probe.h"

/* A kick within this long of an attempt's start keeps that attempt. */
#define KICK_KEEPS_ATTEMPT_US 1000

struct _HolderTcpProbe {
  gint                ref_count;
  struct sockaddr_in  target;
  char               *ip;
  guint16             port;

  GTask              *task;            /* while running */
  GSource            *source;          /* while running: the tick and the fd */
  gulong              cancel_id;

  int                 fd;              /* the attempt in flight, or -1 */
  gpointer            fd_tag;
  gint64              attempt_started;
  guint               interval_ms;
  gint64              refused_first;   /* monotonic µs, 0 before any RST */
  gboolean            kicked;
  gint64              kick_fast_until; /* monotonic µs */

  guint               attempts;
  guint               refused;
};

typedef struct {
  GSource         source;
  HolderTcpProbe *probe;               /* unowned: the probe owns the source */
} ProbeSource;

static void probe_return (HolderTcpProbe *probe, GError *error);

HolderTcpProbe *
holder_tcp_probe_ref (HolderTcpProbe *probe)
{
  g_return_val_if_fail (probe != NULL, NULL);
  probe->ref_count++;
  return probe;
}

void
holder_tcp_probe_unref (HolderTcpProbe *probe)
{
  if (probe == NULL || --probe->ref_count > 0)
    return;
  g_assert (probe->task == NULL && probe->source == NULL && probe->fd < 0);
  g_free (probe->ip);
  g_free (probe);
}

HolderTcpProbe *
holder_tcp_probe_new (const char  *ip,
                      guint16      port,
                      GError     **error)
{
  HolderTcpProbe *probe;
  struct in_addr address;

  g_return_val_if_fail (ip != NULL, NULL);

  if (inet_pton (AF_INET, ip, &address) != 1)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND, "%s is not an IPv4 address", ip);
      return NULL;
    }
  probe = g_new0 (HolderTcpProbe, 1);
  probe->ref_count = 1;
  probe->target.sin_family = AF_INET;
  probe->target.sin_port = htons (port);
  probe->target.sin_addr = address;
  probe->ip = g_strdup (ip);
  probe->port = port;
  probe->fd = -1;
  probe->interval_ms = HOLDER_TCP_PROBE_MIN_INTERVAL_MS;
  return probe;
}

guint
holder_tcp_probe_get_attempts (HolderTcpProbe *probe)
{
  g_return_val_if_fail (probe != NULL, 0);
  return probe->attempts;
}

guint
holder_tcp_probe_get_refused (HolderTcpProbe *probe)
{
  g_return_val_if_fail (probe != NULL, 0);
  return probe->refused;
}

/* ---- one attempt -------------------------------------------------------- */

static void
attempt_close (HolderTcpProbe *probe)
{
  if (probe->fd_tag != NULL)
    {
      g_source_remove_unix_fd (probe->source, probe->fd_tag);
      probe->fd_tag = NULL;
    }
  if (probe->fd >= 0)
    close (probe->fd);
  probe->fd = -1;
}

/* The attempt's outcome, from connect() or SO_ERROR: 0 is a connection. */
static void
attempt_outcome (HolderTcpProbe *probe,
                 int             err)
{
  if (err == 0)
    {
      g_debug ("%s:%u accepts after %u attempt(s), %u refused, interval %u ms", probe->ip,
               probe->port, probe->attempts, probe->refused, probe->interval_ms);
      probe_return (probe, NULL);
      return;
    }
  if (err == ECONNREFUSED)
    {
      /* The guest's stack is up: from now on an attempt costs one round
       * trip, and the listener is near. */
      probe->refused++;
      if (probe->refused_first == 0)
        {
          probe->refused_first = g_get_monotonic_time ();
          g_debug ("%s:%u refused: the guest's stack is up", probe->ip, probe->port);
        }
    }
  /* Anything else (EHOSTUNREACH after failed address resolution, a
   * network not there yet) counts as unanswered. */
}

static void
attempt_start (HolderTcpProbe *probe)
{
  int fd;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved_errno = errno;
      probe_return (probe, g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                        "make a probe socket: %s", g_strerror (saved_errno)));
      return;
    }
  probe->attempts++;
  probe->attempt_started = g_get_monotonic_time ();
  if (connect (fd, (const struct sockaddr *) &probe->target, sizeof probe->target) == 0)
    {
      close (fd);
      attempt_outcome (probe, 0);
      return;
    }
  if (errno != EINPROGRESS)
    {
      int saved_errno = errno;
      close (fd);
      attempt_outcome (probe, saved_errno);
      return;
    }
  probe->fd = fd;
  probe->fd_tag = g_source_add_unix_fd (probe->source, fd, G_IO_OUT);
}

/* The attempt's fd polled writable (or failed): it has its answer. */
static void
attempt_answered (HolderTcpProbe *probe)
{
  int err = 0;
  socklen_t len = sizeof err;

  if (getsockopt (probe->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  attempt_close (probe);
  attempt_outcome (probe, err);
}

/* ---- the schedule ------------------------------------------------------- */

static void
probe_tick (HolderTcpProbe *probe)
{
  gint64 now = g_get_monotonic_time ();
  gboolean fast;

  if (probe->fd >= 0)
    {
      /* The guest's stack answered before, so this SYN will be answered
       * too, only slowly (a loaded or emulated guest): starting over would
       * only lose the wait so far. Up to the longest interval. */
      if (probe->refused_first != 0 &&
          now - probe->attempt_started < HOLDER_TCP_PROBE_MAX_INTERVAL_MS * G_TIME_SPAN_MILLISECOND)
        {
          probe->kicked = FALSE;
          g_source_set_ready_time (probe->source,
                                   now + HOLDER_TCP_PROBE_MIN_INTERVAL_MS * G_TIME_SPAN_MILLISECOND);
          return;
        }
      /* Unanswered: its SYN met no one, and the kernel would send it
       * again only after a second. A fresh one instead. */
      attempt_close (probe);
    }

  fast = probe->kicked || now < probe->kick_fast_until ||
         (probe->refused_first != 0 &&
          now - probe->refused_first < HOLDER_TCP_PROBE_REFUSED_FAST_MS * G_TIME_SPAN_MILLISECOND);
  probe->kicked = FALSE;
  probe->interval_ms = fast ? HOLDER_TCP_PROBE_MIN_INTERVAL_MS
                            : MIN (probe->interval_ms * 2, HOLDER_TCP_PROBE_MAX_INTERVAL_MS);
  /* Armed before the attempt, which may end the run. */
  g_source_set_ready_time (probe->source, now + probe->interval_ms * G_TIME_SPAN_MILLISECOND);
  attempt_start (probe);
}

static gboolean
probe_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  HolderTcpProbe *probe = ((ProbeSource *) source)->probe;
  gint64 ready = g_source_get_ready_time (source);

  /* Held until the end: the attempt's outcome may end the run. */
  probe->ref_count++;
  if (probe->fd_tag != NULL && g_source_query_unix_fd (source, probe->fd_tag) != 0)
    attempt_answered (probe);
  if (probe->task != NULL && ready >= 0 && g_source_get_time (source) >= ready)
    probe_tick (probe);
  holder_tcp_probe_unref (probe);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs probe_source_funcs = {
  .dispatch = probe_source_dispatch,
};

void
holder_tcp_probe_kick (HolderTcpProbe *probe,
                       guint           fast_ms)
{
  g_return_if_fail (probe != NULL);

  if (probe->task == NULL)
    return;
  g_debug ("%s:%u kicked (fast for %u ms)", probe->ip, probe->port, fast_ms);
  probe->kicked = TRUE;
  probe->kick_fast_until = MAX (probe->kick_fast_until,
                                g_get_monotonic_time () + fast_ms * G_TIME_SPAN_MILLISECOND);
  if (probe->fd >= 0 &&
      g_get_monotonic_time () - probe->attempt_started < KICK_KEEPS_ATTEMPT_US)
    return;
  /* The next iteration of the main loop ticks. */
  g_source_set_ready_time (probe->source, 0);
}

/* ---- the run ------------------------------------------------------------ */

/* Every end comes through here, so that no source or fd outlives the run. */
static void
probe_return (HolderTcpProbe *probe,
              GError         *error)
{
  GTask *task = g_steal_pointer (&probe->task);

  if (task == NULL)
    {
      g_clear_error (&error);
      return;
    }
  attempt_close (probe);
  g_source_destroy (probe->source);
  g_clear_pointer (&probe->source, g_source_unref);
  if (probe->cancel_id != 0)
    g_cancellable_disconnect (g_task_get_cancellable (task), probe->cancel_id);
  probe->cancel_id = 0;
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task); /* the run's hold on its task */
}

static gboolean
on_cancelled_idle (gpointer user_data)
{
  GTask *task = user_data;
  HolderTcpProbe *probe = g_task_get_task_data (task);

  if (probe->task == task)
    probe_return (probe, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                              "the probe was cancelled"));
  return G_SOURCE_REMOVE;
}

/* Runs inside g_cancellable_cancel(), maybe on another thread: the task's
 * context ends the run, holding the task until then. */
static void
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  GTask *task = user_data;
  GSource *idle = g_idle_source_new ();

  g_source_set_callback (idle, on_cancelled_idle, g_object_ref (task), g_object_unref);
  g_source_attach (idle, g_task_get_context (task));
  g_source_unref (idle);
}

void
holder_tcp_probe_run_async (HolderTcpProbe      *probe,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (probe != NULL);
  g_return_if_fail (probe->task == NULL && probe->source == NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_name (task, "holder_tcp_probe_run_async");
  g_task_set_task_data (task, holder_tcp_probe_ref (probe),
                        (GDestroyNotify) holder_tcp_probe_unref);
  if (g_task_return_error_if_cancelled (task))
    return;

  probe->task = g_object_ref (task);
  probe->source = g_source_new (&probe_source_funcs, sizeof (ProbeSource));
  ((ProbeSource *) probe->source)->probe = probe;
  g_source_set_static_name (probe->source, "holder-tcp-probe");
  g_source_attach (probe->source, g_task_get_context (task));
  if (cancellable != NULL)
    probe->cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), task, NULL);

  g_debug ("probing %s:%u", probe->ip, probe->port);
  g_source_set_ready_time (probe->source,
                           g_get_monotonic_time () + probe->interval_ms * G_TIME_SPAN_MILLISECOND);
  attempt_start (probe);
}

gboolean
holder_tcp_probe_run_finish (HolderTcpProbe  *probe,
                             GAsyncResult    *result,
                             GError         **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
holder_tcp_probe_async (const char          *ip,
                        guint16              port,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_autoptr(HolderTcpProbe) probe = NULL;
  GError *error = NULL;

  g_return_if_fail (ip != NULL);

  probe = holder_tcp_probe_new (ip, port, &error);
  if (probe == NULL)
    {
      g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);

      g_task_set_name (task, "holder_tcp_probe_async");
      g_task_return_error (task, error);
      return;
    }
  holder_tcp_probe_run_async (probe, cancellable, callback, user_data);
}

gboolean
holder_tcp_probe_finish (GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}
