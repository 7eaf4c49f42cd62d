/* holder-ch-doctor.c: the cloud-hypervisor backend's check_host, for
 * `holderctl doctor` (see holder-ch-doctor.h). Synchronous: an operator's
 * tool calls it, never a serving helper. Each failed check carries the
 * command or setting that fixes it.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-backend-ch"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/kvm.h>

#include "holder-ch-binary.h"
#include "holder-ch-doctor.h"

/* `cloud-hypervisor --version` answers at once; a binary that does not is
 * not one to boot with. */
#define VERSION_TIMEOUT_MS 5000
/* CAP_NET_ADMIN's bit in /proc/self/status's CapEff. */
#define CAP_NET_ADMIN_BIT 12

static void
add (GPtrArray  *checks,
     const char *name,
     gboolean    ok,
     gboolean    required,
     const char *detail,
     const char *fix)
{
  g_ptr_array_add (checks, holder_host_check_new (name, ok, required, detail, fix));
}

gboolean
holder_ch_check_kvm (const char *device,
                     GPtrArray  *checks)
{
  g_autofree char *detail = NULL;
  const char *fix = NULL;
  int fd, version;

  g_return_val_if_fail (device != NULL, FALSE);
  g_return_val_if_fail (checks != NULL, FALSE);

  fd = open (device, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      detail = g_strdup_printf ("open %s: %s", device, g_strerror (saved_errno));
      if (saved_errno == EACCES || saved_errno == EPERM)
        fix = "run the helper as root, or add its user to the kvm group "
              "(sudo usermod -aG kvm $USER, then log in again)";
      else
        fix = "enable virtualisation (VT-x/AMD-V) in the firmware and load the module "
              "(sudo modprobe kvm_intel or kvm_amd); in a VM, ask its host for nested "
              "virtualisation";
      add (checks, "KVM", FALSE, TRUE, detail, fix);
      return FALSE;
    }
  version = ioctl (fd, KVM_GET_API_VERSION, 0);
  if (version < 0)
    {
      int saved_errno = errno;

      close (fd);
      detail = g_strdup_printf ("%s does not answer KVM_GET_API_VERSION: %s", device,
                                g_strerror (saved_errno));
      add (checks, "KVM", FALSE, TRUE, detail,
           "load the kvm module (sudo modprobe kvm_intel or kvm_amd) so that /dev/kvm is "
           "the KVM device");
      return FALSE;
    }
  close (fd);
  if (version != KVM_API_VERSION)
    {
      detail = g_strdup_printf ("%s speaks KVM API %d, not %d", device, version, KVM_API_VERSION);
      add (checks, "KVM", FALSE, TRUE, detail, "use a kernel with the stable KVM API");
      return FALSE;
    }
  detail = g_strdup_printf ("%s answers (API %d)", device, version);
  add (checks, "KVM", TRUE, TRUE, detail, NULL);
  return TRUE;
}

/* Bridges, taps and nftables tables need CAP_NET_ADMIN. */
static gboolean
check_net_admin (GPtrArray *checks)
{
  g_autofree char *status = NULL;
  const char *line;
  guint64 caps = 0;

  if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL) &&
      (line = strstr (status, "\nCapEff:")) != NULL)
    caps = g_ascii_strtoull (line + strlen ("\nCapEff:"), NULL, 16);
  if ((caps & (G_GUINT64_CONSTANT (1) << CAP_NET_ADMIN_BIT)) == 0)
    {
      add (checks, "CAP_NET_ADMIN", FALSE, TRUE,
           "this process may not make bridges, taps and nftables tables",
           "run the helper (and this check) as root: sudo holderctl doctor");
      return FALSE;
    }
  add (checks, "CAP_NET_ADMIN", TRUE, TRUE, "held", NULL);
  return TRUE;
}

static void
store_result (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* The first line `@binary --version` prints, within VERSION_TIMEOUT_MS. */
static char *
binary_version (const char  *binary,
                GError     **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autofree char *out = NULL;
  GSource *timer;
  gboolean ok;

  g_main_context_push_thread_default (context);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                              error, binary, "--version", NULL);
  if (process == NULL)
    {
      g_main_context_pop_thread_default (context);
      return NULL;
    }
  g_subprocess_communicate_utf8_async (process, NULL, cancellable, store_result, &result);
  timer = g_timeout_source_new (VERSION_TIMEOUT_MS);
  g_source_set_callback (timer, cancel_cb, cancellable, NULL);
  g_source_attach (timer, context);
  while (result == NULL)
    g_main_context_iteration (context, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
  ok = g_subprocess_communicate_utf8_finish (process, result, &out, NULL, error);
  g_clear_object (&result);
  if (!ok)
    {
      g_subprocess_force_exit (process);
      if (g_cancellable_is_cancelled (cancellable))
        {
          g_clear_error (error);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                       "no answer within %d s", VERSION_TIMEOUT_MS / 1000);
        }
    }
  else if (!g_subprocess_get_if_exited (process) || g_subprocess_get_exit_status (process) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "exited with status %d: %s",
                   g_subprocess_get_status (process), out != NULL ? g_strstrip (out) : "");
      ok = FALSE;
    }
  g_main_context_pop_thread_default (context);
  if (!ok)
    return NULL;
  g_strdelimit (out, "\n", '\0');
  return g_strdup (g_strstrip (out));
}

static gboolean
check_binary (const char *storage_root,
              GPtrArray  *checks)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *binary = NULL;
  g_autofree char *version = NULL;
  g_autofree char *detail = NULL;

  binary = holder_ch_binary_find (storage_root, &error);
  if (error != NULL)
    {
      add (checks, "cloud-hypervisor", FALSE, TRUE, error->message,
           "point FLEETBOX_CH_BINARY at the cloud-hypervisor binary, or unset it");
      return FALSE;
    }
  if (binary == NULL)
    {
      if (holder_ch_release_for_host () == NULL)
        {
          add (checks, "cloud-hypervisor", FALSE, TRUE,
               "not installed, and no release is pinned for this architecture",
               "install cloud-hypervisor (on PATH) or set FLEETBOX_CH_BINARY");
          return FALSE;
        }
      detail = g_strdup_printf ("not installed; the first boot downloads the pinned "
                                HOLDER_CH_RELEASE_VERSION " into %s/bin", storage_root);
      add (checks, "cloud-hypervisor", TRUE, TRUE, detail, NULL);
      return TRUE;
    }
  version = binary_version (binary, &error);
  if (version == NULL)
    {
      detail = g_strdup_printf ("%s --version: %s", binary, error->message);
      add (checks, "cloud-hypervisor", FALSE, TRUE, detail,
           "install a working cloud-hypervisor, or point FLEETBOX_CH_BINARY at one");
      return FALSE;
    }
  detail = g_strdup_printf ("%s (%s)", binary, version);
  add (checks, "cloud-hypervisor", TRUE, TRUE, detail, NULL);
  return TRUE;
}

/* Guests that run VMs themselves need it; booting does not. */
static void
check_nested (GPtrArray *checks)
{
  static const char *const modules[] = { "kvm_intel", "kvm_amd" };

  for (guint i = 0; i < G_N_ELEMENTS (modules); i++)
    {
      g_autofree char *path = g_strdup_printf ("/sys/module/%s/parameters/nested", modules[i]);
      g_autofree char *value = NULL;
      g_autofree char *detail = NULL;
      g_autofree char *fix = NULL;
      gboolean on;

      if (!g_file_get_contents (path, &value, NULL, NULL))
        continue;
      g_strstrip (value);
      on = g_str_equal (value, "Y") || g_str_equal (value, "1");
      detail = g_strdup_printf ("%s nested=%s", modules[i], value);
      fix = g_strdup_printf ("for guests that run VMs: sudo modprobe -r %s && "
                             "sudo modprobe %s nested=1", modules[i], modules[i]);
      add (checks, "nested virtualisation", on, FALSE, detail, fix);
      return;
    }
  add (checks, "nested virtualisation", FALSE, FALSE,
       "neither kvm_intel nor kvm_amd is loaded",
       "for guests that run VMs: load kvm_intel or kvm_amd with nested=1");
}

gboolean
holder_ch_check_host (const HolderBackendClass *klass,
                      const char               *storage_root,
                      GPtrArray                *checks)
{
  gboolean ok = TRUE;

  g_return_val_if_fail (storage_root != NULL, FALSE);
  g_return_val_if_fail (checks != NULL, FALSE);

  ok &= holder_ch_check_kvm ("/dev/kvm", checks);
  ok &= check_net_admin (checks);
  ok &= check_binary (storage_root, checks);
  check_nested (checks);
  return ok;
}
