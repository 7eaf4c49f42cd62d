/* SPDX-License-Identifier: MIT
 *
 * The files of a VM, opened the way the user the helper works for could
 * open them (holder-acting-user.h): kernel, initramfs and disk images are
 * opened on a worker thread that has the user's filesystem identity, in
 * the mode the VMM needs (the root disk read-write, the others read-only),
 * and so is the serial log (for writing, created as the user, never
 * through a symbolic link). The descriptors stay open: a backend hands
 * them to its VMM, so the file checked is the file used whatever happens
 * to the path afterwards.
 *
 * When the spec names no serial log, the console goes to serial.log in the
 * member's folder of the store, created afresh (O_EXCL, O_NOFOLLOW, from
 * a folder reached by holder-store-dir.c), mode 0644, owned by the user.
 *
 * A spec without a kernel boots the kernel inside its disk: it is
 * extracted (holder-boot-extract.c) as the user too, next to the disk,
 * and then opened like any spec file.
 */
#pragma once

#include <sys/types.h>

#include "holder-backend.h"

G_BEGIN_DECLS

typedef enum {
  HOLDER_VM_FILE_KERNEL,
  HOLDER_VM_FILE_INITRAMFS,
  HOLDER_VM_FILE_DISK,
  HOLDER_VM_FILE_SEED,
  HOLDER_VM_FILE_FIXTURE,
  HOLDER_VM_FILE_SERIAL_LOG,
} HolderVmFileRole;

typedef struct {
  HolderVmFileRole  role;
  char             *path;   /* as the spec names it (or the default log) */
  int               fd;     /* O_CLOEXEC, in the mode the VMM needs */
  gboolean          read_only;
  dev_t             dev;    /* what was opened */
  ino_t             ino;
} HolderVmFile;

typedef enum {
  HOLDER_VM_FILES_NONE   = 0,
  /* Open the kernel, initramfs, disk, seed and fixtures too (not only the
   * serial log): for a VMM that runs here (a remote libvirt resolves the
   * paths on its own host). */
  HOLDER_VM_FILES_INPUTS = 1 << 0,
} HolderVmFilesFlags;

typedef struct {
  /*< private >*/
  gint        ref_count;
  /*< public >*/
  GPtrArray  *files;            /* HolderVmFile: kernel, initramfs, disk, seed,
                                 * fixtures in spec order, serial log last */
  uid_t       uid;              /* whom they were opened as */
  gboolean    for_user;         /* root acting for that uid (SUDO_UID) */
  char       *kernel_path;      /* the spec's, or extracted from the disk */
  char       *initramfs_path;   /* nullable */
  char       *serial_log_path;  /* the spec's, or <member folder>/serial.log */
} HolderVmFiles;

/* Opens @spec's files as described above. Blocking, and it switches the
 * calling thread's identity: call it on a worker thread (see
 * holder_vm_files_open_async). Errors name the file, the mode and the uid:
 * "cannot open disk /home/u/d.raw for reading and writing as uid 1000:
 * Permission denied". */
HolderVmFiles *holder_vm_files_open (const char              *storage_root,
                                     const HolderMemberSpec  *spec,
                                     HolderVmFilesFlags       flags,
                                     GCancellable            *cancellable,
                                     GError                 **error);

/* The same on a GTask worker thread; the callback runs on the caller's
 * main context. */
void           holder_vm_files_open_async  (const char              *storage_root,
                                            const HolderMemberSpec  *spec,
                                            HolderVmFilesFlags       flags,
                                            GCancellable            *cancellable,
                                            GAsyncReadyCallback      callback,
                                            gpointer                 user_data);
HolderVmFiles *holder_vm_files_open_finish (GAsyncResult  *result,
                                            GError       **error);

HolderVmFiles *holder_vm_files_ref   (HolderVmFiles *files);
void           holder_vm_files_unref (HolderVmFiles *files);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderVmFiles, holder_vm_files_unref)

/* The first file of @role, or NULL. */
const HolderVmFile *holder_vm_files_get (const HolderVmFiles *files,
                                         HolderVmFileRole     role);

/* "kernel", "disk", "serial log", ... */
const char *holder_vm_file_role_name (HolderVmFileRole role);

/* For a VMM that opens the paths itself (libvirt): fails, naming the file,
 * when a path of an opened input no longer leads to the file that was
 * checked (stat, following links as the VMM would). Thread-safe: it only
 * reads @files. */
gboolean holder_vm_files_check_unchanged (const HolderVmFiles  *files,
                                          GError              **error);

G_END_DECLS
