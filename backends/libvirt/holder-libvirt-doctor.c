/* holder-libvirt-doctor.c: the libvirt backend's check_host, for
 * `holderctl doctor` (see holder-libvirt-doctor.h).
 *
 * Opening a connection is a synchronous RPC that can hang on a remote URI
 * (an SSH prompt, a firewall that drops packets), so it runs on a thread
 * of its own and the check gives up after HOLDER_LIBVIRT_DOCTOR_TIMEOUT_MS.
 * A thread given up on finishes (and frees its probe) by itself.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-backend-libvirt"

#include <stdlib.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "holder-libvirt-doctor.h"

typedef struct {
  gint      ref_count;
  GMutex    lock;
  GCond     cond;
  gboolean  done;
  char     *uri;
  /* Results, set by the thread. */
  char     *error;
  char     *versions;
  gboolean  kvm;
} Probe;

static void
probe_unref (Probe *probe)
{
  if (!g_atomic_int_dec_and_test (&probe->ref_count))
    return;
  g_mutex_clear (&probe->lock);
  g_cond_clear (&probe->cond);
  g_free (probe->uri);
  g_free (probe->error);
  g_free (probe->versions);
  g_free (probe);
}

static char *
format_version (unsigned long version)
{
  return g_strdup_printf ("%lu.%lu.%lu", version / 1000000, (version / 1000) % 1000,
                          version % 1000);
}

/* libvirt prints every error on stderr by default; the check reports its
 * own. */
static void
quiet_error (void        *user_data,
             virErrorPtr  error)
{
}

static gpointer
probe_thread (gpointer user_data)
{
  Probe *probe = user_data;
  virConnectPtr conn = virConnectOpenReadOnly (probe->uri);
  g_autofree char *error = NULL;
  g_autofree char *versions = NULL;
  gboolean kvm = FALSE;

  if (conn == NULL)
    {
      virErrorPtr last = virGetLastError ();

      error = g_strdup (last != NULL && last->message != NULL ? last->message : "unknown error");
    }
  else
    {
      unsigned long lib = 0, hv = 0;
      const char *type = virConnectGetType (conn);
      g_autofree char *lib_text = NULL;
      g_autofree char *hv_text = NULL;
      char *caps;

      virConnectGetLibVersion (conn, &lib);
      virConnectGetVersion (conn, &hv);
      lib_text = format_version (lib);
      hv_text = format_version (hv);
      versions = g_strdup_printf ("libvirt %s, %s %s", lib_text, type != NULL ? type : "hypervisor",
                                  hv_text);
      /* Fails when the host offers no KVM domains. */
      caps = virConnectGetDomainCapabilities (conn, NULL, NULL, NULL, "kvm", 0);
      kvm = caps != NULL;
      free (caps);
      virConnectClose (conn);
    }

  g_mutex_lock (&probe->lock);
  probe->error = g_steal_pointer (&error);
  probe->versions = g_steal_pointer (&versions);
  probe->kvm = kvm;
  probe->done = TRUE;
  g_cond_signal (&probe->cond);
  g_mutex_unlock (&probe->lock);
  probe_unref (probe);
  return NULL;
}

gboolean
holder_libvirt_check_host (const HolderBackendClass *klass,
                           const char               *storage_root,
                           GPtrArray                *checks)
{
  const char *env_uri = g_getenv ("FLEETBOX_LIBVIRT_URI");
  const char *virt_type = g_getenv ("FLEETBOX_LIBVIRT_VIRT_TYPE");
  const char *uri = env_uri != NULL && env_uri[0] != '\0' ? env_uri : HOLDER_LIBVIRT_DEFAULT_URI;
  g_autofree char *detail = NULL;
  g_autofree char *fix = NULL;
  Probe *probe;
  gint64 deadline;
  gboolean answered, ok;

  g_return_val_if_fail (checks != NULL, FALSE);

  if (virt_type != NULL && virt_type[0] != '\0' &&
      !g_str_equal (virt_type, "kvm") && !g_str_equal (virt_type, "qemu"))
    {
      detail = g_strdup_printf ("FLEETBOX_LIBVIRT_VIRT_TYPE=%s is neither kvm nor qemu", virt_type);
      g_ptr_array_add (checks, holder_host_check_new ("virtualisation type", FALSE, TRUE, detail,
                                                      "set FLEETBOX_LIBVIRT_VIRT_TYPE to kvm or "
                                                      "qemu, or unset it"));
      return FALSE;
    }

  virSetErrorFunc (NULL, quiet_error);
  probe = g_new0 (Probe, 1);
  probe->ref_count = 2; /* the thread's and ours */
  g_mutex_init (&probe->lock);
  g_cond_init (&probe->cond);
  probe->uri = g_strdup (uri);
  g_thread_unref (g_thread_new ("holder-libvirt-doctor", probe_thread, probe));

  deadline = g_get_monotonic_time () + HOLDER_LIBVIRT_DOCTOR_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  g_mutex_lock (&probe->lock);
  while (!probe->done)
    if (!g_cond_wait_until (&probe->cond, &probe->lock, deadline))
      break;
  answered = probe->done;
  if (!answered)
    detail = g_strdup_printf ("%s did not answer within %d s", uri,
                              HOLDER_LIBVIRT_DOCTOR_TIMEOUT_MS / 1000);
  else if (probe->error != NULL)
    detail = g_strdup_printf ("%s: %s", uri, probe->error);
  else
    detail = g_strdup_printf ("%s answers (%s)", uri, probe->versions);
  ok = answered && probe->error == NULL;
  g_mutex_unlock (&probe->lock);

  if (!ok)
    fix = g_strdup_printf ("start libvirtd (sudo systemctl start libvirtd), join the libvirt "
                           "group for qemu:///system as a user, or set FLEETBOX_LIBVIRT_URI to "
                           "a URI that answers (virsh -c URI version)");
  g_ptr_array_add (checks, holder_host_check_new ("libvirt URI", ok, TRUE, detail, fix));
  if (ok)
    {
      gboolean want_kvm = g_strcmp0 (virt_type, "kvm") == 0;

      g_clear_pointer (&detail, g_free);
      if (probe->kvm)
        detail = g_strdup ("kvm (hardware virtualisation)");
      else if (want_kvm)
        detail = g_strdup ("the host offers no kvm domains, and FLEETBOX_LIBVIRT_VIRT_TYPE=kvm");
      else
        detail = g_strdup ("qemu (TCG emulation, slow): the host offers no kvm domains");
      g_ptr_array_add (checks, holder_host_check_new ("virtualisation type",
                                                      probe->kvm || !want_kvm, TRUE, detail,
                                                      "load kvm_intel or kvm_amd on the libvirt "
                                                      "host, or unset FLEETBOX_LIBVIRT_VIRT_TYPE"));
      ok = probe->kvm || !want_kvm;
    }
  probe_unref (probe);
  return ok;
}
