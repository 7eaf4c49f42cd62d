/* SPDX-License-Identifier: MIT
 *
 * One cloud-hypervisor process: spawned with the whole VM on its command
 * line (it boots at once), watched until it exits, driven over its REST API
 * (HTTP/1.1 on a unix socket, through libsoup), stopped gracefully first.
 * Everything is asynchronous on the caller's main context.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The first descriptor number a VMM inherits (after stdin, stdout and
 * stderr). */
#define HOLDER_CH_VM_FIRST_FD 3

typedef struct {
  const char        *binary;           /* executed: a path, or an inherited
                                        * descriptor's /proc/self/fd/N */
  const char        *binary_name;      /* nullable: how messages name it */
  const char        *api_socket;
  const char        *kernel_path;
  const char        *initramfs_path;   /* nullable */
  const char        *cmdline;
  const char        *disk_path;
  const char        *seed_path;
  const char *const *fixture_paths;    /* nullable */
  gint64             cpus;
  guint64            memory_bytes;
  const char        *tap;
  const char        *mac;
  const char        *serial_log_path;  /* nullable: --serial off */
  const char        *ip;               /* probed on TCP port 22 */
  /* Descriptors the VMM inherits: fds[i] becomes its descriptor
   * HOLDER_CH_VM_FIRST_FD + i, named by holder_ch_vm_fd_path (i) in the
   * paths above. cloud-hypervisor opens a path such as /proc/self/fd/4
   * like any other, and gets the file the helper opened, whatever the
   * original path leads to by then. Duplicated: the caller keeps its own. */
  const int         *fds;
  guint              n_fds;
  const char        *name;             /* nullable: the member, for logs and the boot trace */
} HolderChVmConfig;

typedef struct _HolderChVm HolderChVm;

/* "/proc/self/fd/<HOLDER_CH_VM_FIRST_FD + index>": the path by which the
 * VMM reaches config->fds[index]. */
char *holder_ch_vm_fd_path (guint index);

/* The command line, argv[0] included, exactly as the VMM gets it. */
GStrv holder_ch_vm_build_argv (const HolderChVmConfig *config);

HolderChVm *holder_ch_vm_new (const HolderChVmConfig *config);

/* Called once if the process exits while the VM is meant to run (not
 * during a stop), with a message saying how it ended. */
void holder_ch_vm_set_exit_handler (HolderChVm *vm,
                                    void      (*handler) (HolderChVm *vm,
                                                          const char *message,
                                                          gpointer    user_data),
                                    gpointer    user_data);

/* Spawns the VMM (it dies with this process: PR_SET_PDEATHSIG, set from
 * the main thread) and completes once vm.info answers 200, or fails at once
 * when the process exits first. */
void     holder_ch_vm_start_async  (HolderChVm          *vm,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data);
gboolean holder_ch_vm_start_finish (HolderChVm    *vm,
                                    GAsyncResult  *result,
                                    GError       **error);

/* Probes TCP port 22 on the configured address until it accepts; fails at
 * once when the VMM exits. Unbounded: the caller cancels. */
void  holder_ch_vm_wait_ip_async  (HolderChVm          *vm,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
char *holder_ch_vm_wait_ip_finish (HolderChVm    *vm,
                                   GAsyncResult  *result,
                                   GError       **error);

/* Power button (when the guest came up), wait; then vmm.shutdown, wait;
 * then SIGTERM, wait; then SIGKILL. Under 20 s in all. Removes the API
 * socket whatever happened. Safe on a VM never started or already gone. */
void     holder_ch_vm_stop_async  (HolderChVm          *vm,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
gboolean holder_ch_vm_stop_finish (HolderChVm    *vm,
                                   GAsyncResult  *result,
                                   GError       **error);

/* TRUE while the VMM process runs. */
gboolean holder_ch_vm_is_running (HolderChVm *vm);

/* The VMM's pid, 0 when not running. */
GPid holder_ch_vm_get_pid (HolderChVm *vm);

/* Frees a VM that is not running (stop it first). */
void holder_ch_vm_free (HolderChVm *vm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderChVm, holder_ch_vm_free)

G_END_DECLS
