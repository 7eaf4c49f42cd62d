/* test-ch-files.c: a root helper working for an unprivileged user
 * (SUDO_UID=4242) with the cloud-hypervisor backend, the stand-in VMM and
 * the busybox test guest, inside a network namespace this test creates.
 * Root-only spec files are refused with a message, a planted serial log is
 * neither written nor followed, a disk swapped after the check does not
 * reach the VMM (it gets the descriptor), the console is recorded in the
 * member's folder by default, and the cached binary runs only when it
 * matches its pin.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <holder.h>
#include "holder-test-guest.h"
#include "holder-test-util.h"

#define USER_UID 4242
#define NAME "cf-1"
#define BOOT_TIMEOUT_MS (240 * 1000)
#define WAIT_USEC (60 * G_USEC_PER_SEC)

static char *skip_reason;
/* What meson test hands these tests. */
static const char *const needed_env[] = { "HOLDER_TEST_CH_STANDIN", "HOLDER_TEST_HELPER", NULL };

typedef struct {
  char  *tmp;          /* 0755, root's */
  char  *home;         /* the user's */
  char  *root;         /* the storage root, in the user's home */
  char  *disk;
  char  *seed;
  char  *secret;       /* root's, 0600 */
  char  *standin_log;  /* HOLDER_STANDIN_LOG */
  char **envp;
  char  *ip;
  HolderHelper *helper;
} Fixture;

/* ------------------------------------------------------------ fixture */

static void
make_file (const char *path,
           const char *contents,
           uid_t       uid,
           mode_t      mode,
           off_t       size)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, -1, &error);
  g_assert_no_error (error);
  if (size > 0)
    g_assert_cmpint (truncate (path, size), ==, 0);
  g_assert_cmpint (chown (path, uid, uid), ==, 0);
  g_assert_cmpint (chmod (path, mode), ==, 0);
}

static void
fixture_set_up (Fixture *fx, gconstpointer data)
{
  if (skip_reason != NULL)
    return;
  fx->tmp = g_dir_make_tmp ("holder-ch-files-XXXXXX", NULL);
  g_assert_cmpint (chmod (fx->tmp, 0755), ==, 0);
  fx->home = g_build_filename (fx->tmp, "home", NULL);
  fx->root = g_build_filename (fx->home, "fleetbox", NULL);
  g_assert_cmpint (g_mkdir (fx->home, 0755), ==, 0);
  g_assert_cmpint (g_mkdir (fx->root, 0755), ==, 0);
  g_assert_cmpint (chown (fx->home, USER_UID, USER_UID), ==, 0);
  g_assert_cmpint (chown (fx->root, USER_UID, USER_UID), ==, 0);
  fx->disk = g_build_filename (fx->home, "disk.raw", NULL);
  fx->seed = g_build_filename (fx->home, "seed.img", NULL);
  fx->secret = g_build_filename (fx->tmp, "secret", NULL);
  fx->standin_log = g_build_filename (fx->tmp, "standin.jsonl", NULL);
  make_file (fx->disk, "", USER_UID, 0644, 1024 * 1024);
  make_file (fx->seed, "", USER_UID, 0644, 64 * 1024);
  make_file (fx->secret, "secret", 0, 0600, 0);

  fx->envp = g_get_environ ();
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_HOME", fx->root, TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_BACKEND", "cloud-hypervisor", TRUE);
  {
    /* The network records in a runtime folder of the test's own, not the
     * host's /run/fleetbox. */
    g_autofree char *runtime = g_build_filename (fx->tmp, "runtime", NULL);
    fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_RUNTIME_DIR", runtime, TRUE);
  }
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_CH_BINARY", g_getenv ("HOLDER_TEST_CH_STANDIN"),
                               TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_IP_WAIT_TIMEOUT", "200s", TRUE);
  fx->envp = g_environ_setenv (fx->envp, "HOLDER_STANDIN_LOG", fx->standin_log, TRUE);
  /* Root, working for uid 4242 (which has no passwd entry). */
  fx->envp = g_environ_setenv (fx->envp, "SUDO_UID", G_STRINGIFY (USER_UID), TRUE);
  fx->envp = g_environ_setenv (fx->envp, "SUDO_GID", G_STRINGIFY (USER_UID), TRUE);
  fx->envp = g_environ_unsetenv (fx->envp, "SUDO_USER");
}

static void
stop_helper (Fixture *fx)
{
  if (fx->helper != NULL)
    {
      GPid pid = holder_helper_get_pid (fx->helper);

      if (!holder_test_pid_is_dead (pid))
        kill (pid, SIGTERM);
      holder_helper_close (fx->helper, 30 * 1000, NULL, NULL);
      g_clear_pointer (&fx->helper, holder_helper_free);
    }
}

static void
fixture_tear_down (Fixture *fx, gconstpointer data)
{
  if (fx->tmp == NULL)
    return;
  stop_helper (fx);
  holder_test_remove_tree (fx->tmp);
  g_free (fx->tmp);
  g_free (fx->home);
  g_free (fx->root);
  g_free (fx->disk);
  g_free (fx->seed);
  g_free (fx->secret);
  g_free (fx->standin_log);
  g_free (fx->ip);
  g_strfreev (fx->envp);
}

static gboolean
skip (void)
{
  if (skip_reason == NULL)
    return FALSE;
  g_test_skip (skip_reason);
  return TRUE;
}

static void
spawn_and_reserve (Fixture *fx)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderReservation) reservation = NULL;
  g_autofree char *subnet = NULL;
  /* A second member that never boots keeps the helper up after NAME
   * fails (a helper with no active member left exits). */
  const char *names[] = { NAME, "cf-2", NULL };

  fx->helper = holder_helper_spawn (g_getenv ("HOLDER_TEST_HELPER"), names,
                                    (const char *const *) fx->envp, HOLDER_SPAWN_FLAGS_NONE, &error);
  g_assert_no_error (error);
  g_assert_true (holder_client_create_network (fx->root, NAME, &subnet, &error));
  g_assert_no_error (error);
  reservation = holder_client_reserve (fx->root, NAME, NAME, NULL, &error);
  g_assert_no_error (error);
  fx->ip = g_strdup (reservation->ip);
}

static HolderMemberSpec *
make_spec (Fixture *fx)
{
  HolderMemberSpec *spec = holder_member_spec_new (NAME);

  g_free (spec->disk_path);
  spec->disk_path = g_strdup (fx->disk);
  g_free (spec->seed_path);
  spec->seed_path = g_strdup (fx->seed);
  spec->cpus = 1;
  spec->memory_bytes = 256 * 1024 * 1024;
  spec->kernel_path = g_strdup (g_getenv ("HOLDER_TEST_GUEST_KERNEL"));
  spec->initramfs_path = g_strdup (g_getenv ("HOLDER_TEST_GUEST_INITRAMFS"));
  spec->cmdline = g_strdup_printf ("console=ttyS0 panic=-1 holder.ip=%s/24", fx->ip);
  return spec;
}

/* boot-member, which must fail with exactly @message. */
static void
assert_boot_refused (Fixture          *fx,
                     HolderMemberSpec *spec,
                     const char       *message)
{
  g_autoptr(HolderRequest) request = holder_request_new ("boot-member");
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GError) error = NULL;

  request->spec = spec;
  reply = holder_client_send (fx->root, NAME, request, BOOT_TIMEOUT_MS, &error);
  g_assert_null (reply);
  g_assert_nonnull (error);
  g_assert_cmpstr (error->message, ==, message);
}

static void
boot (Fixture          *fx,
      HolderMemberSpec *spec)
{
  g_autoptr(HolderRequest) request = holder_request_new ("boot-member");
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();

  request->spec = spec;
  reply = holder_client_send (fx->root, NAME, request, BOOT_TIMEOUT_MS, &error);
  g_assert_no_error (error);
  g_test_message ("booted in %.1f s", (g_get_monotonic_time () - t0) / (double) G_USEC_PER_SEC);
}

/* The argv of every VMM the stand-in log saw. */
static GPtrArray *
vmm_argvs (Fixture *fx)
{
  GPtrArray *argvs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents (fx->standin_log, &contents, NULL, NULL))
    return argvs;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      JsonObject *o;
      JsonArray *a;
      GStrvBuilder *builder;

      if (lines[i][0] == '\0' || !json_parser_load_from_data (parser, lines[i], -1, NULL))
        continue;
      o = json_node_get_object (json_parser_get_root (parser));
      if (g_strcmp0 (json_object_get_string_member (o, "event"), "argv") != 0)
        continue;
      a = json_object_get_array_member (o, "argv");
      builder = g_strv_builder_new ();
      for (guint j = 0; j < json_array_get_length (a); j++)
        g_strv_builder_add (builder, json_array_get_string_element (a, j));
      g_ptr_array_add (argvs, g_strv_builder_end (builder));
      g_strv_builder_unref (builder);
    }
  return argvs;
}

/* ------------------------------------------------------------------ tests */

/* Nothing the user could not open reaches a VMM: no VMM even starts. */
static void
test_refused (Fixture *fx, gconstpointer data)
{
  g_autofree char *message = NULL;
  g_autofree char *log_secret = g_build_filename (fx->tmp, "root.log", NULL);
  g_autofree char *precious = g_build_filename (fx->home, "precious", NULL);
  g_autofree char *link = g_build_filename (fx->home, "serial.log", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GPtrArray) argvs = NULL;
  struct timespec times[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
  HolderMemberSpec *spec;
  struct stat st;

  if (skip ())
    return;
  spawn_and_reserve (fx);

  spec = make_spec (fx);
  g_free (spec->kernel_path);
  spec->kernel_path = g_strdup (fx->secret);
  message = g_strdup_printf ("create " NAME ": cannot open kernel %s for reading as uid %u: "
                             "Permission denied", fx->secret, USER_UID);
  assert_boot_refused (fx, spec, message);
  g_clear_pointer (&message, g_free);

  spec = make_spec (fx);
  g_free (spec->disk_path);
  spec->disk_path = g_strdup (fx->secret);
  message = g_strdup_printf ("create " NAME ": cannot open disk %s for reading and writing as "
                             "uid %u: Permission denied", fx->secret, USER_UID);
  assert_boot_refused (fx, spec, message);
  g_clear_pointer (&message, g_free);

  /* A serial log that only root may write: neither written nor
   * truncated (its bytes and its mtime stay). */
  make_file (log_secret, "root's log", 0, 0600, 0);
  g_assert_cmpint (utimensat (AT_FDCWD, log_secret, times, 0), ==, 0);
  spec = make_spec (fx);
  spec->serial_log_path = g_strdup (log_secret);
  message = g_strdup_printf ("create " NAME ": cannot open serial log %s for writing as uid %u: "
                             "Permission denied", log_secret, USER_UID);
  assert_boot_refused (fx, spec, message);
  g_clear_pointer (&message, g_free);
  g_assert_true (g_file_get_contents (log_secret, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "root's log");
  g_assert_cmpint (stat (log_secret, &st), ==, 0);
  g_assert_cmpint (st.st_mtim.tv_sec, ==, 1000000000);

  /* A symbolic link planted at the log's path is not followed, even to a
   * file the user may write. */
  make_file (precious, "precious", USER_UID, 0644, 0);
  g_assert_cmpint (symlink (precious, link), ==, 0);
  spec = make_spec (fx);
  spec->serial_log_path = g_strdup (link);
  message = g_strdup_printf ("create " NAME ": cannot open serial log %s for writing as uid %u: "
                             "it is a symbolic link, which is not followed (name the file "
                             "itself)", link, USER_UID);
  assert_boot_refused (fx, spec, message);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (precious, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "precious");

  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (fx->secret, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "secret");
  argvs = vmm_argvs (fx);
  g_assert_cmpuint (argvs->len, ==, 0);
}

/* The live qemu of this namespace (the only one). */
static GPid
find_qemu (Fixture *fx)
{
  g_autoptr(GArray) procs = holder_test_descendants_of (holder_helper_get_pid (fx->helper));

  for (guint i = 0; i < procs->len; i++)
    {
      GPid pid = g_array_index (procs, GPid, i);
      g_autofree char *comm_path = g_strdup_printf ("/proc/%d/comm", (int) pid);
      g_autofree char *comm = NULL;

      if (g_file_get_contents (comm_path, &comm, NULL, NULL) &&
          g_str_has_prefix (comm, "qemu-system"))
        return pid;
    }
  return 0;
}

/* Whether process @pid holds a descriptor to the file @st describes. */
static gboolean
process_holds (GPid               pid,
               const struct stat *want)
{
  g_autofree char *fd_dir = g_strdup_printf ("/proc/%d/fd", (int) pid);
  g_autoptr(GDir) dir = g_dir_open (fd_dir, 0, NULL);
  const char *entry;

  g_assert_nonnull (dir);
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fd_dir, entry, NULL);
      struct stat st;

      if (stat (path, &st) == 0 && st.st_dev == want->st_dev && st.st_ino == want->st_ino)
        return TRUE;
    }
  return FALSE;
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* The disk path is swapped for a root-only file after the helper checked
 * it and before the VMM starts: the VMM still gets the checked file,
 * since it gets the descriptor and never the path. */
static void
test_disk_swap (Fixture *fx, gconstpointer data)
{
  g_autofree char *wrapper = g_build_filename (fx->tmp, "vmm-wrapper", NULL);
  g_autofree char *pause = g_build_filename (fx->tmp, "vmm-pause", NULL);
  g_autofree char *started = g_build_filename (fx->tmp, "vmm-started", NULL);
  g_autofree char *moved = g_build_filename (fx->home, "disk.moved", NULL);
  g_autofree char *script = NULL;
  g_autoptr(HolderRequest) request = holder_request_new ("boot-member");
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(HolderReply) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argvs = NULL;
  struct stat checked, planted;
  gint64 deadline;
  GPid qemu;

  if (skip ())
    return;
  /* The VMM waits, once started, until the test has swapped the path. */
  script = g_strdup_printf ("#!/bin/sh\n"
                            ": > '%s'\n"
                            "n=0\n"
                            "while [ -e '%s' ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n+1)); done\n"
                            "exec '%s' \"$@\"\n",
                            started, pause, g_getenv ("HOLDER_TEST_CH_STANDIN"));
  make_file (wrapper, script, 0, 0755, 0);
  make_file (pause, "", 0, 0644, 0);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_CH_BINARY", wrapper, TRUE);
  spawn_and_reserve (fx);
  g_assert_cmpint (stat (fx->disk, &checked), ==, 0);

  request->spec = make_spec (fx);
  holder_client_send_async (fx->root, NAME, request, BOOT_TIMEOUT_MS, NULL, on_sent, &result);
  deadline = g_get_monotonic_time () + WAIT_USEC;
  while (!g_file_test (started, G_FILE_TEST_EXISTS))
    {
      g_assert_null (result);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * 1000);  /* another process's progress */
    }
  g_assert_cmpint (g_rename (fx->disk, moved), ==, 0);
  make_file (fx->disk, "planted", 0, 0600, 1024 * 1024);
  g_assert_cmpint (stat (fx->disk, &planted), ==, 0);
  g_assert_cmpint (g_unlink (pause), ==, 0);

  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  reply = holder_client_send_finish (result, &error);
  g_assert_no_error (error);

  qemu = find_qemu (fx);
  g_assert_cmpint (qemu, >, 0);
  g_assert_true (process_holds (qemu, &checked));
  g_assert_false (process_holds (qemu, &planted));

  /* The VMM was given descriptors, never the spec's paths. */
  argvs = vmm_argvs (fx);
  g_assert_cmpuint (argvs->len, ==, 1);
  {
    g_autofree char *joined = g_strjoinv (" ", g_ptr_array_index (argvs, 0));

    g_test_message ("VMM argv: %s", joined);
    g_assert_null (strstr (joined, fx->disk));
    g_assert_null (strstr (joined, fx->seed));
    g_assert_null (strstr (joined, g_getenv ("HOLDER_TEST_GUEST_KERNEL")));
    g_assert_nonnull (strstr (joined, " --kernel /proc/self/fd/3 "));
    g_assert_nonnull (strstr (joined, " --disk path=/proc/self/fd/5 path=/proc/self/fd/6,readonly=on "));
    g_assert_nonnull (strstr (joined, " --serial file=/proc/self/fd/7"));
  }
}

/* No serial_log_path: the console is in the member's folder, the user's. */
static void
test_default_serial_log (Fixture *fx, gconstpointer data)
{
  g_autofree char *member_dir = NULL;
  g_autofree char *log = NULL;
  g_autofree char *up = NULL;
  g_autoptr(GError) error = NULL;
  struct stat st;

  if (skip ())
    return;
  spawn_and_reserve (fx);
  member_dir = holder_store_member_dir (fx->root, NAME);
  log = g_build_filename (member_dir, "serial.log", NULL);
  boot (fx, make_spec (fx));

  up = g_strdup_printf ("holder-guest: up %s", fx->ip);
  holder_test_wait_for_file (log, up, 60);
  g_assert_cmpint (lstat (log, &st), ==, 0);
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpuint (st.st_uid, ==, USER_UID);
  g_assert_cmpint (st.st_mode & 07777, ==, 0644);

  /* The log outlives the member: it is there to read after a stop. */
  g_assert_true (holder_client_stop (fx->root, NAME, 30 * 1000, &error));
  g_assert_no_error (error);
  g_assert_true (holder_test_file_contains (log, "holder-guest: ACPI power button, powering off"));
}

/* The cached binary of the store: run only when it matches its pin, and
 * then as the sealed copy that was hashed. */
static void
test_cached_binary (Fixture *fx, gconstpointer data)
{
  g_autofree char *bin_dir = g_build_filename (fx->root, "bin", NULL);
  g_autofree char *cached = g_build_filename (bin_dir, "cloud-hypervisor-v52.0", NULL);
  g_autofree char *empty_path = g_build_filename (fx->tmp, "empty-path", NULL);
  g_autofree char *qemu = g_find_program_in_path ("qemu-system-x86_64");
  g_autofree char *contents = NULL;
  g_autofree char *good = NULL;
  g_autofree char *message = NULL;
  const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
  g_autoptr(GPtrArray) argvs = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;

  if (skip ())
    return;
  g_assert_true (g_file_get_contents (g_getenv ("HOLDER_TEST_CH_STANDIN"), &contents, &len, NULL));
  good = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guint8 *) contents, len);
  g_assert_cmpint (g_mkdir (bin_dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (cached, contents, len, NULL));
  g_assert_cmpint (chmod (cached, 0755), ==, 0);
  g_assert_cmpint (chown (cached, USER_UID, USER_UID), ==, 0);
  g_assert_cmpint (g_mkdir (empty_path, 0755), ==, 0);

  /* No FLEETBOX_CH_BINARY, no cloud-hypervisor on PATH: the cache. */
  fx->envp = g_environ_unsetenv (fx->envp, "FLEETBOX_CH_BINARY");
  fx->envp = g_environ_setenv (fx->envp, "PATH", empty_path, TRUE);
  fx->envp = g_environ_setenv (fx->envp, "HOLDER_STANDIN_QEMU", qemu, TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_CH_DOWNLOAD_URL", "http://127.0.0.1:9/", TRUE);
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_CH_DOWNLOAD_SHA256", wrong, TRUE);
  spawn_and_reserve (fx);
  message = g_strdup_printf ("create " NAME ": cached cloud-hypervisor %s does not match its "
                             "pinned SHA-256 (got %s, want %s): not running it; remove it to "
                             "download it again, or install cloud-hypervisor or set "
                             "FLEETBOX_CH_BINARY", cached, good, wrong);
  assert_boot_refused (fx, make_spec (fx), message);
  argvs = vmm_argvs (fx);
  g_assert_cmpuint (argvs->len, ==, 0);
  g_clear_pointer (&argvs, g_ptr_array_unref);
  stop_helper (fx);

  /* The right pin: it runs, from the sealed copy. */
  fx->envp = g_environ_setenv (fx->envp, "FLEETBOX_CH_DOWNLOAD_SHA256", good, TRUE);
  g_clear_pointer (&fx->ip, g_free);
  spawn_and_reserve (fx);
  boot (fx, make_spec (fx));
  argvs = vmm_argvs (fx);
  g_assert_cmpuint (argvs->len, ==, 1);
  g_assert_true (g_str_has_prefix (((char **) g_ptr_array_index (argvs, 0))[0], "/proc/self/fd/"));
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  skip_reason = holder_test_guest_enter_namespace (needed_env, HOLDER_TEST_GUEST_NS_SUBREAPER);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/ch-files/refused", test_refused);
  ADD ("/ch-files/disk-swap", test_disk_swap);
  ADD ("/ch-files/default-serial-log", test_default_serial_log);
  ADD ("/ch-files/cached-binary", test_cached_binary);
#undef ADD

  ret = g_test_run ();
  g_free (skip_reason);
  return ret;
}
