/* SPDX-License-Identifier: MIT
 *
 * What the vz core's tests share: awaiting a condition on the main
 * context with a deadline (no sleeping), proving a callback runs on the
 * main context, and a scripted fake HolderVzController that plays a guest
 * (a good one, one that ignores ACPI, one that will not die, ...).
 */
#pragma once

#include <gio/gio.h>

#include "holder-vz-controller.h"

G_BEGIN_DECLS

/* Call at the start of a test program: the main thread owns the default
 * context from then on, so holder_test_vz_assert_main() can tell. */
void     holder_test_vz_init_main        (void);
/* On the main thread, with the main context owned. */
gboolean holder_test_vz_on_main          (void);
/* Fails unless called on the main thread, with the main context owned. */
#define holder_test_vz_assert_main() holder_test_vz_assert_main_at (G_STRLOC)
void     holder_test_vz_assert_main_at   (const char *where);

/* Iterates the main context until *@flag, failing after @timeout_ms. */
void     holder_test_vz_await            (const gboolean *flag,
                                          guint           timeout_ms);
/* Same for a result slot filled by holder_test_vz_on_result. */
GAsyncResult *holder_test_vz_await_result (GAsyncResult **slot,
                                           guint          timeout_ms);
/* A GAsyncReadyCallback storing the result in the GAsyncResult ** given
 * as user data (asserting the main context). */
void     holder_test_vz_on_result        (GObject      *source,
                                          GAsyncResult *result,
                                          gpointer      user_data);
/* Iterates until nothing is pending (after a test's last callback). */
void     holder_test_vz_drain            (void);

/* Raw VZVirtualMachineState values. */
enum {
  FAKE_STOPPED = 0,
  FAKE_RUNNING = 1,
  FAKE_ERROR = 3,
  FAKE_STARTING = 4,
  FAKE_STOPPING = 7,
};

/* A guest, scripted. Every call asserts the main context; done callbacks
 * are delivered from timers on it. */
typedef struct {
  /* script */
  int          state_after_start;   /* FAKE_RUNNING, FAKE_ERROR, FAKE_STARTING */
  const char  *start_error;         /* the start completes with it */
  guint        start_delay_ms;
  gboolean     start_never_completes;
  gboolean     can_request_stop;
  const char  *request_error;       /* the request is refused with it */
  gboolean     guest_obeys_acpi;    /* Stopped after acpi_delay_ms */
  guint        acpi_delay_ms;
  const char  *force_error;         /* the force stop completes with it */
  gboolean     force_stops;         /* Stopped after the force stop */
  gboolean     force_never_completes;

  /* what happened */
  int          state;
  guint        starts, starts_done, requests, forces, forces_done, state_reads;
  GString     *log;                 /* "start,start-done,request,force,..." */
  guint        timers;              /* scripted events still to come */

  /* done callbacks never delivered (the never-completes scripts) */
  HolderVzControllerDone held_done;
  gpointer               held_data;
} FakeController;

void               fake_controller_init     (FakeController *fake);
/* Releases a held done callback (with an error) and the log. */
void               fake_controller_clear    (FakeController *fake);
HolderVzController fake_controller_get      (FakeController *fake);

G_END_DECLS
