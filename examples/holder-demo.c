/* holder-demo: the README's tour of libholder, against the real helper.
 *
 *   holder-demo [HELPER]
 *
 * Spawns a bound fleetbox-helper for demo-1, demo-2 and demo-3 (the fake
 * backend unless FLEETBOX_BACKEND says otherwise, in a fresh temporary
 * FLEETBOX_HOME unless one is set), creates the network, reserves and boots
 * the three members concurrently, waits for them, stops demo-2, then closes
 * the helper and checks that it left nothing behind.
 *
 * The helper is HELPER, else $HOLDER_HELPER, else the fleetbox-helper of
 * the build tree next to this program.
 *
 * With HOLDER_DEMO_KERNEL and HOLDER_DEMO_INITRAMFS set (tools/dev demo sets
 * them where root and qemu are available), the members are real VMs: the
 * busybox test guest booted directly, each told its address and its peers
 * on the kernel command line, and the demo shows from their serial logs
 * that they reach each other. With HOLDER_DEMO_DISK (a bootable raw disk
 * image) and HOLDER_DEMO_SEED (its cloud-init seed) set instead, each
 * member boots a copy of that image: the vz backend's way (README, macOS).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <holder.h>

#define N_MEMBERS 3

static const char *const member_names[N_MEMBERS + 1] = {
  "demo-1", "demo-2", "demo-3", NULL
};

static gint64 demo_start;
/* The reserved addresses, for the guests' command lines (VM mode). */
static char *member_ips[N_MEMBERS];

static void
step (const char *format,
      ...) G_GNUC_PRINTF (1, 2);

static void
step (const char *format,
      ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_print ("[%8.1f ms] %s\n",
           (g_get_monotonic_time () - demo_start) / 1000.0, text);
}

static int
fail (const char   *what,
      const GError *error)
{
  g_printerr ("holder-demo: %s: %s\n", what,
              error != NULL ? error->message : "failed");
  return 1;
}

static char *
find_helper (int    argc,
             char **argv)
{
  const char *env = g_getenv ("HOLDER_HELPER");
  g_autofree char *self = NULL;
  g_autofree char *dir = NULL;

  if (argc > 1)
    return g_strdup (argv[1]);
  if (env != NULL && *env != '\0')
    return g_strdup (env);
  self = g_file_read_link ("/proc/self/exe", NULL);
  if (self == NULL)
    return g_strdup ("fleetbox-helper");
  dir = g_path_get_dirname (self);
  return g_build_filename (dir, "..", "helper", "fleetbox-helper", NULL);
}

static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);

  if (dir != NULL)
    {
      const char *entry;

      while ((entry = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, entry, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
              !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            remove_tree (child);
          else
            g_unlink (child);
        }
      g_dir_close (dir);
    }
  g_rmdir (path);
}

/* VM mode: small blank disks, the test guest's kernel, and a command line
 * that gives the guest its address and its peers. */
static gboolean
prepare_vm_spec (HolderMemberSpec  *spec,
                 guint              index,
                 GError           **error)
{
  g_autoptr(GString) cmdline = g_string_new ("console=ttyS0 panic=-1 holder.ip=");
  const char *separator = " holder.peers=";
  const char *blank[] = { spec->disk_path, spec->seed_path };

  for (guint i = 0; i < G_N_ELEMENTS (blank); i++)
    {
      g_autofree char *dir = g_path_get_dirname (blank[i]);
      if (g_mkdir_with_parents (dir, 0755) != 0 ||
          !g_file_set_contents (blank[i], "", 0, error) ||
          truncate (blank[i], 1024 * 1024) != 0)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "create %s", blank[i]);
          return FALSE;
        }
    }
  spec->memory_bytes = G_GUINT64_CONSTANT (256) * 1024 * 1024;
  spec->kernel_path = g_strdup (g_getenv ("HOLDER_DEMO_KERNEL"));
  spec->initramfs_path = g_strdup (g_getenv ("HOLDER_DEMO_INITRAMFS"));
  spec->serial_log_path = g_strdup_printf ("%s.serial.log", spec->disk_path);
  g_string_append_printf (cmdline, "%s/24", member_ips[index]);
  for (guint j = 0; j < N_MEMBERS; j++)
    if (j != index)
      {
        g_string_append_printf (cmdline, "%s%s", separator, member_ips[j]);
        separator = ",";
      }
  spec->cmdline = g_string_free (g_steal_pointer (&cmdline), FALSE);
  return TRUE;
}

/* Image mode (the vz backend's EFI guests): each member boots its own copy
 * of HOLDER_DEMO_DISK, a bootable raw disk image, with the cloud-init seed
 * HOLDER_DEMO_SEED (read-only, shared). */
static gboolean
prepare_image_spec (HolderMemberSpec  *spec,
                    GError           **error)
{
  g_autoptr(GFile) image = g_file_new_for_path (g_getenv ("HOLDER_DEMO_DISK"));
  g_autofree char *dir = g_path_get_dirname (spec->disk_path);
  g_autoptr(GFile) copy = NULL;
  const char *seed = g_getenv ("HOLDER_DEMO_SEED");

  if (seed == NULL)
    {
      g_set_error_literal (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                           "HOLDER_DEMO_DISK needs HOLDER_DEMO_SEED, a cloud-init seed image");
      return FALSE;
    }
  g_free (spec->disk_path);
  spec->disk_path = g_strconcat (dir, "/", spec->name, ".raw", NULL);
  copy = g_file_new_for_path (spec->disk_path);
  if (g_mkdir_with_parents (dir, 0755) != 0 ||
      !g_file_copy (image, copy, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, error))
    return FALSE;
  g_free (spec->seed_path);
  spec->seed_path = g_strdup (seed);
  spec->efi_path = g_strconcat (dir, "/", spec->name, ".efi.nvram", NULL);
  spec->serial_log_path = g_strconcat (dir, "/", spec->name, ".serial.log", NULL);
  spec->memory_bytes = G_GUINT64_CONSTANT (1024) * 1024 * 1024;
  return TRUE;
}

/* VM mode: wait (bounded) for demo-1's guest to report both peers. */
static gboolean
show_reachability (const char  *root,
                   GError     **error)
{
  g_autofree char *log = g_strdup_printf ("%s/images/%s.qcow2.serial.log", root, member_names[0]);
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  for (guint j = 1; j < N_MEMBERS; j++)
    {
      g_autofree char *line = g_strdup_printf ("holder-guest: reached %s", member_ips[j]);

      for (;;)
        {
          g_autofree char *contents = NULL;

          if (g_file_get_contents (log, &contents, NULL, NULL) && strstr (contents, line) != NULL)
            break;
          if (g_get_monotonic_time () > deadline)
            {
              g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_TIMED_OUT,
                           "%s never reported reaching %s (see %s)", member_names[0],
                           member_ips[j], log);
              return FALSE;
            }
          g_usleep (50 * 1000); /* the guest writes its log at its own pace */
        }
      step ("%s reached %s on port 22 (from its serial log)", member_names[0], member_ips[j]);
    }
  return TRUE;
}

/* The three boots run concurrently: three requests in flight on one loop. */
typedef struct {
  GMainLoop *loop;
  guint      pending;
  GError    *errors[N_MEMBERS];
  gint64     done_at[N_MEMBERS];
} BootState;

typedef struct {
  BootState *state;
  guint      index;
} BootSlot;

static void
boot_done_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  BootSlot *slot = user_data;
  HolderReply *reply;

  reply = holder_client_send_finish (result, &slot->state->errors[slot->index]);
  holder_reply_free (reply);
  slot->state->done_at[slot->index] = g_get_monotonic_time ();
  step ("  boot-member %s: %s", member_names[slot->index],
        reply != NULL ? "up" : slot->state->errors[slot->index]->message);
  if (--slot->state->pending == 0)
    g_main_loop_quit (slot->state->loop);
}

static gboolean
boot_all (const char  *root,
          GError     **error)
{
  BootState state = { 0 };
  BootSlot slots[N_MEMBERS];
  gboolean ok = TRUE;

  state.loop = g_main_loop_new (NULL, FALSE);
  state.pending = N_MEMBERS;
  for (guint i = 0; i < N_MEMBERS; i++)
    {
      g_autoptr(HolderRequest) request = holder_request_new ("boot-member");
      HolderMemberSpec *spec = holder_member_spec_new (member_names[i]);
      g_autofree char *disk = g_strdup_printf ("%s.qcow2", member_names[i]);
      g_autofree char *seed = g_strdup_printf ("%s-seed.iso", member_names[i]);

      /* The fake backend never opens these; a real one boots them. */
      g_free (spec->disk_path);
      spec->disk_path = g_build_filename (root, "images", disk, NULL);
      g_free (spec->seed_path);
      spec->seed_path = g_build_filename (root, "images", seed, NULL);
      spec->cpus = 1;
      spec->memory_bytes = G_GUINT64_CONSTANT (512) * 1024 * 1024;
      if (g_getenv ("HOLDER_DEMO_KERNEL") != NULL)
        {
          if (!prepare_vm_spec (spec, i, error))
            return FALSE;
        }
      else if (g_getenv ("HOLDER_DEMO_DISK") != NULL)
        {
          if (!prepare_image_spec (spec, error))
            return FALSE;
        }
      request->spec = spec;

      slots[i].state = &state;
      slots[i].index = i;
      /* The request is serialised at once: it may go right away. */
      holder_client_send_async (root, member_names[0], request, 0, NULL,
                                boot_done_cb, &slots[i]);
    }
  g_main_loop_run (state.loop);
  g_main_loop_unref (state.loop);

  for (guint i = 0; i < N_MEMBERS; i++)
    {
      if (state.errors[i] != NULL && ok)
        {
          g_propagate_prefixed_error (error, state.errors[i], "boot %s: ",
                                      member_names[i]);
          ok = FALSE;
        }
      else
        g_clear_error (&state.errors[i]);
    }
  return ok;
}

static void
print_status_row (const HolderStatus *status)
{
  g_print ("    %-8s %-11s %-15s %" G_GINT64_FORMAT "\n", status->name,
           status->state, *status->ip != '\0' ? status->ip : "-",
           status->pid);
}

/* After the helper is gone: no socket, control socket or pidfile of it. */
static gboolean
check_nothing_left (const char  *root,
                    GError     **error)
{
  g_autofree char *control = holder_store_control_socket_path (root,
                                                               member_names[0]);

  if (g_file_test (control, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED,
                   "%s remains", control);
      return FALSE;
    }
  for (guint i = 0; i < N_MEMBERS; i++)
    {
      g_autofree char *sock = holder_store_socket_path (root, member_names[i]);
      g_autofree char *pidfile = holder_store_pidfile_path (root,
                                                            member_names[i]);

      if (g_file_test (sock, G_FILE_TEST_EXISTS) ||
          g_file_test (pidfile, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_FAILED,
                       "%s left %s behind", member_names[i],
                       g_file_test (sock, G_FILE_TEST_EXISTS) ? sock
                                                              : pidfile);
          return FALSE;
        }
    }
  return TRUE;
}

static int
run_demo (const char  *helper_path,
          char       **env)
{
  g_autoptr(HolderHelper) helper = NULL;
  g_autoptr(GHashTable) statuses = NULL;
  g_autoptr(HolderStatus) stopped = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *subnet = NULL;
  const char *root;
  int exit_status = -1;

  step ("spawning a bound %s for %s,%s,%s", helper_path, member_names[0],
        member_names[1], member_names[2]);
  helper = holder_helper_spawn (helper_path, member_names,
                                (const char *const *) env,
                                HOLDER_SPAWN_FLAGS_NONE, &error);
  if (helper == NULL)
    return fail ("spawn the helper", error);
  root = holder_helper_get_root (helper);
  step ("bound to helper pid %d (root %s)", (int) holder_helper_get_pid (helper),
        root);

  if (!holder_client_create_network (root, member_names[0], &subnet, &error))
    return fail ("createnetwork", error);
  step ("network created (subnet %s)", *subnet != '\0' ? subnet
                                                       : "assigned by DHCP");

  for (guint i = 0; i < N_MEMBERS; i++)
    {
      g_autoptr(HolderReservation) reservation = NULL;

      reservation = holder_client_reserve (root, member_names[0],
                                           member_names[i], NULL, &error);
      if (reservation == NULL)
        return fail ("reserve", error);
      step ("reserved %s: mac %s, ip %s", member_names[i], reservation->mac,
            reservation->ip != NULL ? reservation->ip : "(DHCP)");
      member_ips[i] = g_strdup (reservation->ip);
    }

  step ("booting %u members concurrently", N_MEMBERS);
  if (!boot_all (root, &error))
    return fail ("boot-member", error);

  if (!holder_client_wait_running (root, member_names, 60 * 1000, &statuses,
                                   &error))
    return fail ("wait for the members", error);
  step ("all members running:");
  g_print ("    %-8s %-11s %-15s %s\n", "NAME", "STATE", "IP", "PID");
  for (guint i = 0; i < N_MEMBERS; i++)
    print_status_row (g_hash_table_lookup (statuses, member_names[i]));
  if (g_getenv ("HOLDER_DEMO_KERNEL") != NULL && !show_reachability (root, &error))
    return fail ("reachability", error);

  if (!holder_client_stop (root, member_names[1], 0, &error))
    return fail ("stop demo-2", error);
  stopped = holder_client_status (root, member_names[1], &error);
  if (stopped == NULL)
    return fail ("status of demo-2", error);
  step ("stopped %s; the store now says:", member_names[1]);
  print_status_row (stopped);
  if (stopped->running)
    {
      g_printerr ("holder-demo: %s still runs after stop\n", member_names[1]);
      return 1;
    }

  if (!holder_helper_close (helper, 30 * 1000, &exit_status, &error))
    return fail ("close the helper", error);
  step ("helper closed (wait status %d)", exit_status);
  if (!WIFEXITED (exit_status) || WEXITSTATUS (exit_status) != 0)
    {
      g_printerr ("holder-demo: the helper did not exit cleanly (wait "
                  "status %d)\n", exit_status);
      return 1;
    }

  if (!check_nothing_left (root, &error))
    return fail ("after the helper exited", error);
  step ("no socket or pidfile remains");
  return 0;
}

int
main (int    argc,
      char **argv)
{
  g_autofree char *helper_path = NULL;
  g_autofree char *temp_root = NULL;
  g_auto(GStrv) env = g_get_environ ();
  const char *home = g_environ_getenv (env, "FLEETBOX_HOME");
  int status;

  demo_start = g_get_monotonic_time ();
  helper_path = find_helper (argc, argv);

  if (g_environ_getenv (env, "FLEETBOX_BACKEND") == NULL)
    env = g_environ_setenv (env, "FLEETBOX_BACKEND", "fake", TRUE);
  if (home == NULL || *home == '\0')
    {
      g_autoptr(GError) error = NULL;

      temp_root = g_dir_make_tmp ("holder-demo-XXXXXX", &error);
      if (temp_root == NULL)
        return fail ("create a temporary FLEETBOX_HOME", error);
      env = g_environ_setenv (env, "FLEETBOX_HOME", temp_root, TRUE);
    }
  step ("backend %s, FLEETBOX_HOME %s",
        g_environ_getenv (env, "FLEETBOX_BACKEND"),
        g_environ_getenv (env, "FLEETBOX_HOME"));

  status = run_demo (helper_path, env);
  for (guint i = 0; i < N_MEMBERS; i++)
    g_free (member_ips[i]);

  if (temp_root != NULL)
    remove_tree (temp_root);
  if (status == 0)
    step ("done");
  return status;
}
