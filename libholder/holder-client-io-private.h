/* SPDX-License-Identifier: MIT
 *
 * The plumbing the client half's two files share (holder-client.c sends
 * requests, holder-helper.c spawns and binds helpers): a private main
 * context for the synchronous calls, step timers, and dialling a Unix
 * socket with retry.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* How often a missing or refusing socket is dialled again: a helper that
 * was just spawned listens within a few milliseconds, and a failed connect
 * to a Unix socket costs microseconds. */
#define HOLDER_CLIENT_DIAL_RETRY_MS 5

/* How long to wait before retry number @attempt (from 0): the first ones
 * come sooner, since a helper spawned just now listens about 2 ms after
 * its exec, and waiting the full interval made every spawn take 5 ms. */
guint holder_client_dial_retry_ms (guint attempt);

/* @root, or the storage root a helper started here would use. */
char *holder_client_resolve_root (const char  *root,
                                  GError     **error);

/* ENOENT (not listening yet) or ECONNREFUSED (a stale file, or one about
 * to be replaced): worth another try. */
gboolean holder_client_error_is_absent_socket (const GError *error);

/* A GAsyncReadyCallback that stores a reference to the result in the
 * GAsyncResult * slot @user_data. */
void holder_client_store_result_cb (GObject      *source,
                                    GAsyncResult *result,
                                    gpointer      user_data);

/* Iterates @context (the pushed private one) until @slot is filled. */
void holder_client_await_result (GMainContext  *context,
                                 GAsyncResult **slot);

/* A new main context pushed as thread-default, and its end (completions
 * queued as idles run first). */
GMainContext *holder_client_context_push (void);
void holder_client_context_pop (GMainContext *context);

/* A timer on the thread-default context that cancels @cancellable. */
typedef struct {
  GCancellable *cancellable;
  gboolean      fired;
  GSource      *source;
} HolderStepTimer;

void holder_step_timer_start (HolderStepTimer *timer,
                              GCancellable    *cancellable,
                              guint            timeout_ms);
void holder_step_timer_stop (HolderStepTimer *timer);

/* g_cancellable_connect() handler: cancelling one cancels @other. */
void holder_client_chain_cancel_cb (GCancellable *cancelled,
                                    gpointer      other);

/* Sleeps @ms on the pushed private @context, waking early when
 * @cancellable is cancelled. */
void holder_client_context_sleep (GMainContext *context,
                                  guint         ms,
                                  GCancellable *cancellable);

/* Connects to the Unix socket at @path, retrying every
 * HOLDER_CLIENT_DIAL_RETRY_MS while it is missing or refusing, for
 * @window_ms. Fails with the last GIO error. */
void holder_client_dial_async (const char          *path,
                               guint                window_ms,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data);
GSocketConnection *holder_client_dial_finish (GAsyncResult  *result,
                                              GError       **error);

G_END_DECLS
