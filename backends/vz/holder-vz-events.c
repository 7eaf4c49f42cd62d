/* SPDX-License-Identifier: MIT
 *
 * Shim events to the main context (see holder-vz-events.h).
 *
 * Why an idle source rather than g_main_context_invoke_full(): invoke runs
 * the function at once when the calling thread owns the context, and
 * dispatch_sync runs its block on the calling thread. A KVO notification
 * raised inside a synchronous shim call made from the main thread would
 * then re-enter the state machines in the middle of that call. A source
 * always waits for the next dispatch, and sources of one priority are
 * dispatched in the order they were attached, so events keep their order.
 */
#define G_LOG_DOMAIN "holder-backend-vz"

#include "holder-vz-events.h"

struct _HolderVzEventBridge {
  gatomicrefcount       ref_count;
  GMainContext         *context;
  HolderVzEventHandler  handler;
  gpointer              user_data;
  gboolean              closed;     /* read and written on @context only */
};

typedef struct {
  HolderVzEventBridge *bridge;
  int                  kind;
  int                  raw_state;
  char                *message;
} Event;

static HolderVzEventBridge *
bridge_ref (HolderVzEventBridge *bridge)
{
  g_atomic_ref_count_inc (&bridge->ref_count);
  return bridge;
}

/* The last reference may go on any thread (an event freed unsent). */
static void
bridge_unref (HolderVzEventBridge *bridge)
{
  if (!g_atomic_ref_count_dec (&bridge->ref_count))
    return;
  g_main_context_unref (bridge->context);
  g_free (bridge);
}

static void
event_free (gpointer data)
{
  Event *event = data;

  bridge_unref (event->bridge);
  g_free (event->message);
  g_free (event);
}

static gboolean
event_dispatch (gpointer data)
{
  Event *event = data;
  HolderVzEventBridge *bridge = event->bridge;

  if (!bridge->closed)
    bridge->handler ((HolderVzShimEventKind) event->kind, event->raw_state, event->message,
                     bridge->user_data);
  return G_SOURCE_REMOVE;
}

HolderVzEventBridge *
holder_vz_event_bridge_new (GMainContext         *context,
                            HolderVzEventHandler  handler,
                            gpointer              user_data)
{
  HolderVzEventBridge *bridge;

  g_return_val_if_fail (context != NULL, NULL);
  g_return_val_if_fail (handler != NULL, NULL);

  bridge = g_new0 (HolderVzEventBridge, 1);
  g_atomic_ref_count_init (&bridge->ref_count);
  bridge->context = g_main_context_ref (context);
  bridge->handler = handler;
  bridge->user_data = user_data;
  return bridge;
}

void
holder_vz_event_bridge_post (void       *data,
                             int         kind,
                             int         raw_state,
                             const char *errmsg)
{
  HolderVzEventBridge *bridge = data;
  Event *event;
  GSource *source;

  g_return_if_fail (bridge != NULL);

  event = g_new0 (Event, 1);
  event->bridge = bridge_ref (bridge);
  event->kind = kind;
  event->raw_state = raw_state;
  event->message = g_strdup (errmsg);
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_name (source, "holder-vz-event");
  g_source_set_callback (source, event_dispatch, event, event_free);
  /* g_source_attach is thread-safe and wakes the context up. */
  g_source_attach (source, bridge->context);
  g_source_unref (source);
}

void
holder_vz_event_bridge_close (HolderVzEventBridge *bridge)
{
  if (bridge == NULL)
    return;
  bridge->closed = TRUE;
  bridge_unref (bridge);
}
