/* test-ch-doctor.c: the cloud-hypervisor backend's host checks
 * (holderctl doctor): a host without KVM fails the required KVM check with
 * its fix; the binary's version is read; every check says something.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "holder-backend.h"
#include "holder-ch-doctor.h"
#include "holder-test-util.h"

static GPtrArray *
new_checks (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) holder_host_check_free);
}

static HolderHostCheck *
find (GPtrArray  *checks,
      const char *name)
{
  for (guint i = 0; i < checks->len; i++)
    {
      HolderHostCheck *check = g_ptr_array_index (checks, i);

      if (g_str_equal (check->name, name))
        return check;
    }
  g_error ("no check named %s", name);
}

static void
test_no_kvm (void)
{
  g_autoptr(GPtrArray) missing = new_checks ();
  g_autoptr(GPtrArray) not_kvm = new_checks ();
  HolderHostCheck *check;

  /* No device at all: a host without KVM. */
  g_assert_false (holder_ch_check_kvm ("/nonexistent/kvm", missing));
  check = find (missing, "KVM");
  g_assert_nonnull (check);
  g_assert_false (check->ok);
  g_assert_true (check->required);
  g_assert_cmpstr (check->detail, ==, "open /nonexistent/kvm: No such file or directory");
  g_assert_nonnull (strstr (check->fix, "modprobe kvm_intel"));

  /* A device that is not KVM's. */
  g_assert_false (holder_ch_check_kvm ("/dev/null", not_kvm));
  check = find (not_kvm, "KVM");
  g_assert_false (check->ok);
  g_assert_true (g_str_has_prefix (check->detail, "/dev/null does not answer KVM_GET_API_VERSION"));
  g_assert_nonnull (check->fix);
}

static void
test_kvm_here (void)
{
  g_autoptr(GPtrArray) checks = new_checks ();
  gboolean ok;

  if (g_access ("/dev/kvm", R_OK | W_OK) != 0)
    {
      g_test_skip ("no usable /dev/kvm here");
      return;
    }
  ok = holder_ch_check_kvm ("/dev/kvm", checks);
  g_assert_true (ok);
  g_assert_cmpstr (find (checks, "KVM")->detail, ==, "/dev/kvm answers (API 12)");
  g_assert_null (find (checks, "KVM")->fix);
}

static void
test_host (void)
{
  g_autoptr(GPtrArray) checks = new_checks ();
  g_autofree char *root = g_dir_make_tmp ("holder-ch-doctor-XXXXXX", NULL);
  const char *standin = g_getenv ("HOLDER_TEST_CH_STANDIN");
  HolderHostCheck *binary;
  const char *names[] = { "KVM", "CAP_NET_ADMIN", "cloud-hypervisor", "nested virtualisation" };

  if (standin == NULL)
    {
      g_test_skip ("HOLDER_TEST_CH_STANDIN not set (run through meson test)");
      return;
    }
  g_setenv ("FLEETBOX_CH_BINARY", standin, TRUE);
  holder_ch_check_host (NULL, root, checks);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      HolderHostCheck *check = find (checks, names[i]);

      g_assert_nonnull (check);
      g_assert_cmpstr (check->detail, !=, "");
      g_assert_true (check->ok == (check->fix == NULL));
    }
  /* The stand-in answers --version as cloud-hypervisor does. */
  binary = find (checks, "cloud-hypervisor");
  g_test_message ("%s", binary->detail);
  g_assert_true (binary->ok);
  g_assert_true (g_str_has_prefix (binary->detail, standin));

  /* A FLEETBOX_CH_BINARY that is not a program is a failure with a fix. */
  g_clear_pointer (&checks, g_ptr_array_unref);
  checks = new_checks ();
  g_setenv ("FLEETBOX_CH_BINARY", "/nonexistent/cloud-hypervisor", TRUE);
  holder_ch_check_host (NULL, root, checks);
  binary = find (checks, "cloud-hypervisor");
  g_assert_false (binary->ok);
  g_assert_true (binary->required);
  g_assert_nonnull (strstr (binary->fix, "FLEETBOX_CH_BINARY"));
  g_unsetenv ("FLEETBOX_CH_BINARY");
  holder_test_remove_tree (root);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ch-doctor/no-kvm", test_no_kvm);
  g_test_add_func ("/ch-doctor/kvm-here", test_kvm_here);
  g_test_add_func ("/ch-doctor/host", test_host);
  return g_test_run ();
}
