/* SPDX-License-Identifier: MIT
 *
 * The Objective-C shim's C interface: the narrow waist between holder and
 * Virtualization.framework / vmnet. The implementation (holder-vz-shim.m)
 * exists on darwin only; this header is plain C without GLib so that the
 * portable core can describe the configuration and the events on every
 * platform, and so that the .m file never sees GLib.
 *
 * Threads. Each VM has a private serial dispatch queue; every call on it
 * runs there (dispatch_sync for reads and the stop request, dispatch_async
 * to issue start and force stop). Completions, KVO and delegate callbacks
 * run on that queue and end in the event function given to
 * holder_vz_shim_vm_new(), which must not block and must not re-enter the
 * shim: the C side copies the event and posts it to the holder's
 * GMainContext (holder-vz-events.c).
 *
 * Strings the shim hands out (errmsg) are malloc()ed: release them with
 * free(). Strings passed to the event function are borrowed for the call.
 */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct HolderVzShimNet HolderVzShimNet;
typedef struct HolderVzShimVm  HolderVzShimVm;

/* What this Mac is and allows: kern.osproductversion ("26.4.1", "" when
 * unreadable), the CPU, and VZVirtualMachineConfiguration's and
 * VZGenericPlatformConfiguration's class properties (nested: macOS 15 on
 * an M3 or later). */
typedef struct {
  char     os_version[32];
  int      apple_silicon;
  uint32_t min_cpus;
  uint32_t max_cpus;
  uint64_t min_memory_bytes;
  uint64_t max_memory_bytes;
  int      nested_supported;
} HolderVzShimHostInfo;

/* One VM, fully resolved by the C side (holder-vz-config.c). Disks in
 * this order: disk (read-write), seed (read-only), fixtures (read-only). */
typedef struct {
  uint32_t  cpus;
  uint64_t  memory_bytes;
  char     *efi_path;
  int       create_efi;       /* the variable store does not exist yet */
  char     *disk_path;
  char     *seed_path;
  char    **fixture_paths;    /* NULL-terminated, may be NULL */
  char     *mac;              /* "xx:xx:xx:xx:xx:xx" */
  char     *serial_log_path;  /* NULL: no console */
  int       nested;
} HolderVzShimVmConfig;

typedef enum {
  HOLDER_VZ_SHIM_EVENT_STATE_CHANGED,      /* raw_state is the new state */
  HOLDER_VZ_SHIM_EVENT_START_DONE,         /* errmsg NULL on success */
  HOLDER_VZ_SHIM_EVENT_STOP_DONE,          /* the force stop completed */
  HOLDER_VZ_SHIM_EVENT_GUEST_STOPPED,      /* the guest powered off */
  HOLDER_VZ_SHIM_EVENT_STOPPED_WITH_ERROR, /* the VM died; errmsg says why */
  HOLDER_VZ_SHIM_EVENT_NET_DISCONNECTED,   /* the NIC lost its attachment */
} HolderVzShimEventKind;

/* Runs on the VM's queue (or on the thread of a dispatch_sync caller). */
typedef void (*HolderVzShimEventFunc) (void       *user_data,
                                       int         kind,
                                       int         raw_state,
                                       const char *errmsg);

void             holder_vz_shim_host_info            (HolderVzShimHostInfo       *out);

/* macOS 26+: a vmnet shared-mode network on the /24 whose first host
 * address is @addr_be (network byte order) with @mask_be. NULL on failure,
 * with the vmnet status in @out_status (0 when vmnet was not reached). */
HolderVzShimNet *holder_vz_shim_net_new_shared       (uint32_t                    addr_be,
                                                      uint32_t                    mask_be,
                                                      int                        *out_status,
                                                      char                      **errmsg);
/* CFRelease: the subnet reservation ends with the last reference. */
void             holder_vz_shim_net_free             (HolderVzShimNet            *net);

/* Builds, validates and creates the VM. @net NULL means a NAT attachment.
 * Nothing runs yet. NULL with @errmsg on failure. */
HolderVzShimVm  *holder_vz_shim_vm_new               (const HolderVzShimVmConfig *config,
                                                      HolderVzShimNet            *net,
                                                      HolderVzShimEventFunc       func,
                                                      void                       *user_data,
                                                      char                      **errmsg);
/* Asynchronous: START_DONE follows. */
void             holder_vz_shim_vm_start             (HolderVzShimVm             *vm);
/* Synchronous reads on the queue. */
int              holder_vz_shim_vm_can_request_stop  (HolderVzShimVm             *vm);
int              holder_vz_shim_vm_state             (HolderVzShimVm             *vm);
/* Synchronous on the queue: the ACPI power button. 1 if accepted. */
int              holder_vz_shim_vm_request_stop      (HolderVzShimVm             *vm,
                                                      char                      **errmsg);
/* Asynchronous: STOP_DONE follows. */
void             holder_vz_shim_vm_force_stop        (HolderVzShimVm             *vm);
/* No event is delivered once this returns. */
void             holder_vz_shim_vm_free              (HolderVzShimVm             *vm);

#ifdef __cplusplus
}
#endif
