/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "holder-types"

#include <string.h>

#include "holder-types.h"

static const char * const state_names[] = {
  [HOLDER_MEMBER_STATE_DOWNLOADING] = "downloading",
  [HOLDER_MEMBER_STATE_STARTING] = "starting",
  [HOLDER_MEMBER_STATE_RUNNING] = "running",
  [HOLDER_MEMBER_STATE_STOPPED] = "stopped",
  [HOLDER_MEMBER_STATE_ERROR] = "error",
};

const char *
holder_member_state_to_string (HolderMemberState state)
{
  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (state_names), NULL);

  return state_names[state];
}

gboolean
holder_member_state_from_string (const char        *string,
                                 HolderMemberState *out_state)
{
  if (string == NULL)
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (state_names); i++)
    {
      if (strcmp (string, state_names[i]) == 0)
        {
          if (out_state != NULL)
            *out_state = (HolderMemberState) i;
          return TRUE;
        }
    }

  return FALSE;
}

gboolean
holder_member_state_is_active (HolderMemberState state)
{
  return state == HOLDER_MEMBER_STATE_DOWNLOADING ||
         state == HOLDER_MEMBER_STATE_STARTING ||
         state == HOLDER_MEMBER_STATE_RUNNING;
}

/* Optional strings are stored as NULL when empty, so that every holder of a
 * struct (and the codec, which omits them) has one way to say "absent". */
static char *
dup_optional (const char *s)
{
  return (s != NULL && *s != '\0') ? g_strdup (s) : NULL;
}

HolderMemberSpec *
holder_member_spec_new (const char *name)
{
  HolderMemberSpec *spec = g_new0 (HolderMemberSpec, 1);

  spec->name = g_strdup (name != NULL ? name : "");
  spec->disk_path = g_strdup ("");
  spec->seed_path = g_strdup ("");
  return spec;
}

HolderMemberSpec *
holder_member_spec_copy (const HolderMemberSpec *spec)
{
  HolderMemberSpec *copy;

  g_return_val_if_fail (spec != NULL, NULL);

  copy = g_new0 (HolderMemberSpec, 1);
  copy->name = g_strdup (spec->name);
  copy->disk_path = g_strdup (spec->disk_path);
  copy->seed_path = g_strdup (spec->seed_path);
  copy->fixture_paths = g_strdupv (spec->fixture_paths);
  copy->efi_path = g_strdup (spec->efi_path);
  copy->cpus = spec->cpus;
  copy->memory_bytes = spec->memory_bytes;
  copy->serial_log_path = g_strdup (spec->serial_log_path);
  copy->kernel_path = g_strdup (spec->kernel_path);
  copy->initramfs_path = g_strdup (spec->initramfs_path);
  copy->cmdline = g_strdup (spec->cmdline);
  return copy;
}

void
holder_member_spec_free (HolderMemberSpec *spec)
{
  if (spec == NULL)
    return;

  g_free (spec->name);
  g_free (spec->disk_path);
  g_free (spec->seed_path);
  g_strfreev (spec->fixture_paths);
  g_free (spec->efi_path);
  g_free (spec->serial_log_path);
  g_free (spec->kernel_path);
  g_free (spec->initramfs_path);
  g_free (spec->cmdline);
  g_free (spec);
}

HolderReservation *
holder_reservation_new (const char *ip,
                        const char *mac)
{
  HolderReservation *reservation = g_new0 (HolderReservation, 1);

  reservation->ip = dup_optional (ip);
  reservation->mac = g_strdup (mac != NULL ? mac : "");
  return reservation;
}

HolderReservation *
holder_reservation_copy (const HolderReservation *reservation)
{
  HolderReservation *copy;

  g_return_val_if_fail (reservation != NULL, NULL);

  copy = g_new0 (HolderReservation, 1);
  copy->ip = g_strdup (reservation->ip);
  copy->mac = g_strdup (reservation->mac);
  return copy;
}

void
holder_reservation_free (HolderReservation *reservation)
{
  if (reservation == NULL)
    return;

  g_free (reservation->ip);
  g_free (reservation->mac);
  g_free (reservation);
}

HolderStatus *
holder_status_copy (const HolderStatus *status)
{
  HolderStatus *copy;

  g_return_val_if_fail (status != NULL, NULL);

  copy = g_new0 (HolderStatus, 1);
  copy->name = g_strdup (status->name);
  copy->pid = status->pid;
  copy->running = status->running;
  copy->ip = g_strdup (status->ip != NULL ? status->ip : "");
  copy->state = g_strdup (status->state);
  copy->error = g_strdup (status->error);
  return copy;
}

void
holder_status_free (HolderStatus *status)
{
  if (status == NULL)
    return;

  g_free (status->name);
  g_free (status->ip);
  g_free (status->state);
  g_free (status->error);
  g_free (status);
}

HolderRequest *
holder_request_new (const char *cmd)
{
  HolderRequest *request = g_new0 (HolderRequest, 1);

  request->cmd = g_strdup (cmd != NULL ? cmd : "");
  return request;
}

void
holder_request_free (HolderRequest *request)
{
  if (request == NULL)
    return;

  g_free (request->cmd);
  g_free (request->name);
  g_free (request->ip_hint);
  holder_member_spec_free (request->spec);
  g_free (request);
}

HolderReply *
holder_reply_new (void)
{
  return g_new0 (HolderReply, 1);
}

void
holder_reply_free (HolderReply *reply)
{
  if (reply == NULL)
    return;

  g_free (reply->error);
  holder_status_free (reply->status);
  g_free (reply->subnet);
  holder_reservation_free (reply->reservation);
  g_free (reply);
}
