/* SPDX-License-Identifier: MIT
 *
 * The TCP reachability probe (see holder-tcp-probe.h for the schedule).
 * Plain non-blocking sockets rather than GSocket or GSocketClient: an
 * attempt is one socket(), one connect() and, when the answer is not
 * immediate, one getsockopt(SO_ERROR) once the fd polls writable. The
 * probe's one GSource carries the attempts' fds and the next tick (its
 * ready time), so a tick allocates nothing.
 */
#define G_LOG_DOMAIN "holder-tcp-probe"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "holder-backend.h"
#include "holder-tcp-probe.h"

/* A kick within this long of the last attempt's start starts no other:
 * the sign is often the guest's answer to that one on its way (its first
 * frame is the ARP request it needs to reply to our SYN). */
#define KICK_KEEPS_ATTEMPT_US (HOLDER_TCP_PROBE_MIN_INTERVAL_MS * G_TIME_SPAN_MILLISECOND)
/* Attempts in flight at most: one patient, the others short-lived. */
#define MAX_ATTEMPTS 8

typedef struct {
  int      fd;       /* -1: a free slot */
  gpointer tag;
  gint64   started;
  gboolean patient;
} Attempt;

struct _HolderTcpProbe {
  gint                ref_count;
  struct sockaddr_in  target;
  char               *ip;
  guint16             port;

  GTask              *task;            /* while running */
  GSource            *source;          /* while running: the tick and the fd */
  gulong              cancel_id;

  Attempt             attempt[MAX_ATTEMPTS];
  guint               in_flight;
  gint64              last_started;
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
  g_assert (probe->task == NULL && probe->source == NULL && probe->in_flight == 0);
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
  for (guint i = 0; i < MAX_ATTEMPTS; i++)
    probe->attempt[i].fd = -1;
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

/* ---- attempts ------------------------------------------------------------ */

static void
attempt_close (HolderTcpProbe *probe,
               Attempt        *a)
{
  if (a->fd < 0)
    return;
  if (a->tag != NULL)
    g_source_remove_unix_fd (probe->source, a->tag);
  close (a->fd);
  a->fd = -1;
  a->tag = NULL;
  probe->in_flight--;
}

static void
attempts_close_all (HolderTcpProbe *probe)
{
  for (guint i = 0; i < MAX_ATTEMPTS; i++)
    attempt_close (probe, &probe->attempt[i]);
}

/* An attempt's outcome, from connect() or SO_ERROR: 0 is a connection. */
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
attempt_start (HolderTcpProbe *probe,
               gint64          now)
{
  gboolean have_patient = FALSE;
  Attempt *a = NULL;
  int fd;

  for (guint i = 0; i < MAX_ATTEMPTS; i++)
    {
      if (probe->attempt[i].fd < 0)
        a = a != NULL ? a : &probe->attempt[i];
      else
        have_patient |= probe->attempt[i].patient;
    }
  if (a == NULL)
    return;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      int saved_errno = errno;
      probe_return (probe, g_error_new (HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                                        "make a probe socket: %s", g_strerror (saved_errno)));
      return;
    }
  probe->attempts++;
  probe->last_started = now;
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
  a->fd = fd;
  a->tag = g_source_add_unix_fd (probe->source, fd, G_IO_OUT);
  a->started = now;
  /* One attempt at a time waits as long as the kernel would before
   * resending its SYN: a guest too busy to answer within the schedule's
   * ticks (a starved or emulated one) is still seen. */
  a->patient = !have_patient;
  probe->in_flight++;
}

/* @a's fd polled writable (or failed): it has its answer. */
static void
attempt_answered (HolderTcpProbe *probe,
                  Attempt        *a)
{
  int err = 0;
  socklen_t len = sizeof err;

  if (getsockopt (a->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  attempt_close (probe, a);
  attempt_outcome (probe, err);
}

/* ---- the schedule ------------------------------------------------------- */

/* Drops what waited long enough. */
static void
attempts_expire (HolderTcpProbe *probe,
                 gint64          now)
{
  for (guint i = 0; i < MAX_ATTEMPTS; i++)
    {
      Attempt *a = &probe->attempt[i];
      gint64 age = now - a->started;

      if (a->fd < 0)
        continue;
      if (a->patient)
        {
          if (age >= HOLDER_TCP_PROBE_PATIENT_MS * G_TIME_SPAN_MILLISECOND)
            attempt_close (probe, a);
          continue;
        }
      /* Before the guest's stack answered, a SYN unanswered at the next
       * tick met no one, and the kernel would send it again only after a
       * second: dropped (the new attempt replaces it). After, it will be
       * answered, only slowly: kept for the longest interval. */
      if (probe->refused_first == 0 ||
          age >= HOLDER_TCP_PROBE_MAX_INTERVAL_MS * G_TIME_SPAN_MILLISECOND)
        attempt_close (probe, a);
    }
}

static void
probe_tick (HolderTcpProbe *probe)
{
  gint64 now = g_get_monotonic_time ();
  gboolean fast;

  attempts_expire (probe, now);
  fast = probe->kicked || now < probe->kick_fast_until ||
         (probe->refused_first != 0 &&
          now - probe->refused_first < HOLDER_TCP_PROBE_REFUSED_FAST_MS * G_TIME_SPAN_MILLISECOND);
  probe->kicked = FALSE;
  probe->interval_ms = fast ? HOLDER_TCP_PROBE_MIN_INTERVAL_MS
                            : MIN (probe->interval_ms * 2, HOLDER_TCP_PROBE_MAX_INTERVAL_MS);
  /* Armed before the attempt, which may end the run. */
  g_source_set_ready_time (probe->source, now + probe->interval_ms * G_TIME_SPAN_MILLISECOND);
  attempt_start (probe, now);
}

static gboolean
probe_source_dispatch (GSource     *source,
                       GSourceFunc  callback,
                       gpointer     user_data)
{
  HolderTcpProbe *probe = ((ProbeSource *) source)->probe;
  gint64 ready = g_source_get_ready_time (source);

  /* Held until the end: an attempt's outcome may end the run. */
  probe->ref_count++;
  for (guint i = 0; i < MAX_ATTEMPTS && probe->task != NULL; i++)
    {
      Attempt *a = &probe->attempt[i];

      if (a->fd >= 0 && g_source_query_unix_fd (source, a->tag) != 0)
        attempt_answered (probe, a);
    }
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
  gint64 now;

  g_return_if_fail (probe != NULL);

  if (probe->task == NULL)
    return;
  g_debug ("%s:%u kicked (fast for %u ms)", probe->ip, probe->port, fast_ms);
  now = g_get_monotonic_time ();
  probe->kicked = TRUE;
  probe->kick_fast_until = MAX (probe->kick_fast_until, now + fast_ms * G_TIME_SPAN_MILLISECOND);
  /* The way to the guest may only just have opened (a bridge port
   * forwards once the kernel has taken in its carrier, up to a second
   * after it): a patient SYN sent before may have been lost on the way.
   * It waits no longer than any other, and the next attempt is patient. */
  for (guint i = 0; i < MAX_ATTEMPTS; i++)
    {
      Attempt *a = &probe->attempt[i];

      if (a->fd >= 0 && a->patient && now - a->started >= KICK_KEEPS_ATTEMPT_US)
        a->patient = FALSE;
    }
  if (now - probe->last_started < KICK_KEEPS_ATTEMPT_US)
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
  attempts_close_all (probe);
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
  attempt_start (probe, g_get_monotonic_time ());
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
