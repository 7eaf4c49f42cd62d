/* SPDX-License-Identifier: MIT
 *
 * The Objective-C shim: Virtualization.framework and vmnet behind the
 * plain C interface of holder-vz-shim.h. darwin only, ARC, no GLib.
 *
 * Rules kept here (see docs/vz.md):
 *  - every call on a VZVirtualMachine, property reads included, runs on
 *    the VM's private serial queue: dispatch_sync for reads and the stop
 *    request, dispatch_async to issue start and force stop; completions,
 *    KVO and delegate callbacks arrive on that queue and go out through the
 *    C event function, which copies and posts them (it never blocks);
 *  - nothing here waits for the caller's thread, so a dispatch_sync from
 *    the GLib thread cannot deadlock;
 *  - each entry point has its own @autoreleasepool: the GLib threads that
 *    call in have none;
 *  - the deployment target is macOS 13; newer API is behind @available and
 *    compiled only against an SDK that declares it;
 *  - every NSError becomes a malloc()ed message.
 */
#import <Foundation/Foundation.h>
#import <Virtualization/Virtualization.h>
#import <vmnet/vmnet.h>

#include <stdlib.h>
#include <string.h>
#include <sys/sysctl.h>

#include "holder-vz-shim.h"

#if !__has_feature(objc_arc)
#error "holder-vz-shim.m is written for ARC: build it with -fobjc-arc"
#endif

/* What the SDK declares (the deployment target decides nothing here). */
#if defined(__MAC_OS_X_VERSION_MAX_ALLOWED) && __MAC_OS_X_VERSION_MAX_ALLOWED >= 260000
#define HOLDER_VZ_SDK_HAS_26 1
#endif
#if defined(__MAC_OS_X_VERSION_MAX_ALLOWED) && __MAC_OS_X_VERSION_MAX_ALLOWED >= 150000
#define HOLDER_VZ_SDK_HAS_15 1
#endif

/* ---- messages ------------------------------------------------------------ */

static char *
copy_text (NSString   *text,
           const char *fallback)
{
  const char *utf8 = text != nil ? text.UTF8String : NULL;

  return strdup (utf8 != NULL ? utf8 : fallback);
}

/* "The storage device attachment is invalid. (VZErrorDomain 2)" */
static char *
copy_error (NSError    *error,
            const char *fallback)
{
  if (error == nil)
    return strdup (fallback);
  return copy_text ([NSString stringWithFormat:@"%@ (%@ %ld)", error.localizedDescription,
                                               error.domain, (long) error.code],
                    fallback);
}

static void
set_errmsg (char **errmsg,
            char  *message)
{
  if (errmsg != NULL)
    *errmsg = message;
  else
    free (message);
}

/* "<what> <path>: <error>" */
static char *
copy_path_error (const char *what,
                 const char *path,
                 NSError    *error)
{
  char *reason = copy_error (error, "not a valid path");
  NSString *text = [NSString stringWithFormat:@"%@ %@: %@", [NSString stringWithUTF8String:what],
                                              path != NULL ? [NSString stringWithUTF8String:path]
                                                           : @"(none)",
                                              [NSString stringWithUTF8String:reason]];

  free (reason);
  return copy_text (text, what);
}

static NSURL *
file_url (const char *path)
{
  NSString *string = path != NULL ? [NSString stringWithUTF8String:path] : nil;

  return string != nil ? [NSURL fileURLWithPath:string] : nil;
}

/* ---- the VM object ---------------------------------------------------------- */

static void *HolderVzStateContext = &HolderVzStateContext;

@interface HolderVzShimMachine : NSObject <VZVirtualMachineDelegate>
@property (nonatomic, strong) VZVirtualMachine     *vm;
@property (nonatomic, strong) dispatch_queue_t      queue;
@property (nonatomic, assign) HolderVzShimEventFunc func;
@property (nonatomic, assign) void                 *userData;
/* Queue only: once set, nothing goes out any more. */
@property (nonatomic, assign) BOOL                  closed;
@property (nonatomic, assign) BOOL                  observing;
@end

@implementation HolderVzShimMachine

/* On the queue. */
- (void)emit:(HolderVzShimEventKind)kind
       error:(NSError *)error
{
  char *message;

  if (self.closed)
    return;
  message = error != nil ? copy_error (error, "unknown error") : NULL;
  self.func (self.userData, (int) kind, (int) self.vm.state, message);
  free (message);
}

- (void)emit:(HolderVzShimEventKind)kind
     message:(const char *)message
{
  if (self.closed)
    return;
  self.func (self.userData, (int) kind, (int) self.vm.state, message);
}

- (void)observeValueForKeyPath:(NSString *)keyPath
                      ofObject:(id)object
                        change:(NSDictionary<NSKeyValueChangeKey, id> *)change
                       context:(void *)context
{
  if (context != HolderVzStateContext)
    {
      [super observeValueForKeyPath:keyPath ofObject:object change:change context:context];
      return;
    }
  [self emit:HOLDER_VZ_SHIM_EVENT_STATE_CHANGED error:nil];
}

- (void)guestDidStopVirtualMachine:(VZVirtualMachine *)virtualMachine
{
  [self emit:HOLDER_VZ_SHIM_EVENT_GUEST_STOPPED error:nil];
}

- (void)virtualMachine:(VZVirtualMachine *)virtualMachine
      didStopWithError:(NSError *)error
{
  if (error == nil)
    [self emit:HOLDER_VZ_SHIM_EVENT_STOPPED_WITH_ERROR message:"no reason given"];
  else
    [self emit:HOLDER_VZ_SHIM_EVENT_STOPPED_WITH_ERROR error:error];
}

- (void)virtualMachine:(VZVirtualMachine *)virtualMachine
                         networkDevice:(VZNetworkDevice *)networkDevice
    attachmentWasDisconnectedWithError:(NSError *)error
{
  if (error == nil)
    [self emit:HOLDER_VZ_SHIM_EVENT_NET_DISCONNECTED message:"no reason given"];
  else
    [self emit:HOLDER_VZ_SHIM_EVENT_NET_DISCONNECTED error:error];
}

@end

/* The C handle is the retained object. */
static HolderVzShimMachine *
machine_of (HolderVzShimVm *vm)
{
  return (__bridge HolderVzShimMachine *) (void *) vm;
}

/* ---- host ------------------------------------------------------------------- */

void
holder_vz_shim_host_info (HolderVzShimHostInfo *out)
{
  @autoreleasepool
    {
      NSUInteger min_cpus = VZVirtualMachineConfiguration.minimumAllowedCPUCount;
      NSUInteger max_cpus = VZVirtualMachineConfiguration.maximumAllowedCPUCount;
      size_t length = sizeof out->os_version - 1;

      memset (out, 0, sizeof *out);
      /* Failure leaves "": major 0, the conservative NAT path. */
      if (sysctlbyname ("kern.osproductversion", out->os_version, &length, NULL, 0) != 0)
        memset (out->os_version, 0, sizeof out->os_version);
#if defined(__arm64__) || defined(__aarch64__)
      out->apple_silicon = 1;
#endif
      out->min_cpus = (uint32_t) MIN (min_cpus, (NSUInteger) UINT32_MAX);
      out->max_cpus = (uint32_t) MIN (max_cpus, (NSUInteger) UINT32_MAX);
      out->min_memory_bytes = VZVirtualMachineConfiguration.minimumAllowedMemorySize;
      out->max_memory_bytes = VZVirtualMachineConfiguration.maximumAllowedMemorySize;
#ifdef HOLDER_VZ_SDK_HAS_15
      /* macOS 15, and an M3 or later. */
      if (@available (macOS 15, *))
        out->nested_supported = VZGenericPlatformConfiguration.isNestedVirtualizationSupported ? 1 : 0;
#endif
    }
}

/* ---- network ------------------------------------------------------------------ */

HolderVzShimNet *
holder_vz_shim_net_new_shared (uint32_t   addr_be,
                               uint32_t   mask_be,
                               int       *out_status,
                               char     **errmsg)
{
  *out_status = 0;
#ifdef HOLDER_VZ_SDK_HAS_26
  if (@available (macOS 26, *))
    {
      @autoreleasepool
        {
          vmnet_return_t status = VMNET_SUCCESS;
          vmnet_network_configuration_ref config;
          vmnet_network_ref network;
          struct in_addr addr = { .s_addr = addr_be };
          struct in_addr mask = { .s_addr = mask_be };

          config = vmnet_network_configuration_create (VMNET_SHARED_MODE, &status);
          if (config == NULL)
            {
              *out_status = (int) status;
              set_errmsg (errmsg, strdup ("vmnet_network_configuration_create"));
              return NULL;
            }
          /* The first host address, not the network's: vmnet takes X.0
           * here and fails later with "Internal Network Error". */
          status = vmnet_network_configuration_set_ipv4_subnet (config, &addr, &mask);
          if (status != VMNET_SUCCESS)
            {
              CFRelease (config);
              *out_status = (int) status;
              set_errmsg (errmsg, strdup ("vmnet_network_configuration_set_ipv4_subnet"));
              return NULL;
            }
          network = vmnet_network_create (config, &status);
          CFRelease (config);
          if (network == NULL)
            {
              *out_status = (int) status;
              set_errmsg (errmsg, strdup ("vmnet_network_create"));
              return NULL;
            }
          return (HolderVzShimNet *) network;
        }
    }
#endif
  (void) addr_be;
  (void) mask_be;
  set_errmsg (errmsg, strdup ("vmnet shared networks need macOS 26 or later and a helper "
                              "built with the macOS 26 SDK"));
  return NULL;
}

void
holder_vz_shim_net_free (HolderVzShimNet *net)
{
  /* The reservation of the subnet lasts as long as the last reference. */
  if (net != NULL)
    CFRelease ((CFTypeRef) net);
}

/* ---- VM configuration ----------------------------------------------------------- */

API_AVAILABLE (macos (13.0))
static VZStorageDeviceConfiguration *
disk_device (const char  *path,
             BOOL         read_only,
             const char  *what,
             char       **errmsg)
{
  NSURL *url = file_url (path);
  NSError *error = nil;
  VZDiskImageStorageDeviceAttachment *attachment;

  if (url == nil)
    {
      set_errmsg (errmsg, copy_path_error (what, path, nil));
      return nil;
    }
  if (read_only)
    attachment = [[VZDiskImageStorageDeviceAttachment alloc] initWithURL:url
                                                                readOnly:YES
                                                                   error:&error];
  else
    /* The root disk: host caching as the system sees fit, and a guest
     * flush is an fsync, as fleetbox does. */
    attachment = [[VZDiskImageStorageDeviceAttachment alloc]
                          initWithURL:url
                             readOnly:NO
                          cachingMode:VZDiskImageCachingModeAutomatic
                  synchronizationMode:VZDiskImageSynchronizationModeFsync
                                error:&error];
  if (attachment == nil)
    {
      set_errmsg (errmsg, copy_path_error (what, path, error));
      return nil;
    }
  return [[VZVirtioBlockDeviceConfiguration alloc] initWithAttachment:attachment];
}

API_AVAILABLE (macos (13.0))
static VZVirtualMachineConfiguration *
build_configuration (const HolderVzShimVmConfig *config,
                     HolderVzShimNet            *net,
                     char                      **errmsg)
{
  VZVirtualMachineConfiguration *machine = [[VZVirtualMachineConfiguration alloc] init];
  VZGenericPlatformConfiguration *platform = [[VZGenericPlatformConfiguration alloc] init];
  VZEFIBootLoader *boot_loader = [[VZEFIBootLoader alloc] init];
  VZEFIVariableStore *store;
  NSMutableArray<VZStorageDeviceConfiguration *> *disks = [NSMutableArray array];
  VZStorageDeviceConfiguration *disk;
  VZNetworkDeviceAttachment *attachment = nil;
  VZVirtioNetworkDeviceConfiguration *nic;
  VZMACAddress *mac;
  NSURL *url;
  NSError *error = nil;

  /* EFI: a missing store is created, an existing one reused (ADR-0003). */
  url = file_url (config->efi_path);
  if (url == nil)
    {
      set_errmsg (errmsg, copy_path_error ("EFI variable store", config->efi_path, nil));
      return nil;
    }
  if (config->create_efi)
    store = [[VZEFIVariableStore alloc] initCreatingVariableStoreAtURL:url
                                                               options:0
                                                                 error:&error];
  else
    store = [[VZEFIVariableStore alloc] initWithURL:url];
  if (store == nil)
    {
      set_errmsg (errmsg, copy_path_error ("EFI variable store", config->efi_path, error));
      return nil;
    }
  boot_loader.variableStore = store;
  machine.bootLoader = boot_loader;
  machine.CPUCount = config->cpus;
  machine.memorySize = config->memory_bytes;

#ifdef HOLDER_VZ_SDK_HAS_15
  if (config->nested)
    {
      if (@available (macOS 15, *))
        {
          if (VZGenericPlatformConfiguration.isNestedVirtualizationSupported)
            platform.nestedVirtualizationEnabled = YES;
        }
    }
#endif
  machine.platform = platform;

  /* The console straight into the log: no pipe, no thread. The attachment
   * only writes; the guest reads nothing (its input is empty, as from
   * /dev/null). */
  if (config->serial_log_path != NULL)
    {
      VZFileSerialPortAttachment *log;
      VZVirtioConsoleDeviceSerialPortConfiguration *port;

      url = file_url (config->serial_log_path);
      log = url != nil ? [[VZFileSerialPortAttachment alloc] initWithURL:url
                                                                   append:YES
                                                                    error:&error]
                       : nil;
      if (log == nil)
        {
          set_errmsg (errmsg, copy_path_error ("serial log", config->serial_log_path, error));
          return nil;
        }
      port = [[VZVirtioConsoleDeviceSerialPortConfiguration alloc] init];
      port.attachment = log;
      machine.serialPorts = @[ port ];
    }

  /* Disk, seed, then fixtures; the guest mounts fixtures by label. */
  disk = disk_device (config->disk_path, NO, "disk", errmsg);
  if (disk == nil)
    return nil;
  [disks addObject:disk];
  disk = disk_device (config->seed_path, YES, "seed", errmsg);
  if (disk == nil)
    return nil;
  [disks addObject:disk];
  for (size_t i = 0; config->fixture_paths != NULL && config->fixture_paths[i] != NULL; i++)
    {
      disk = disk_device (config->fixture_paths[i], YES, "fixture", errmsg);
      if (disk == nil)
        return nil;
      [disks addObject:disk];
    }
  machine.storageDevices = disks;

  /* The only NIC: the cluster's vmnet network at 26+, else NAT. */
  if (net != NULL)
    {
#ifdef HOLDER_VZ_SDK_HAS_26
      if (@available (macOS 26, *))
        attachment = [[VZVmnetNetworkDeviceAttachment alloc]
                        initWithNetwork:(vmnet_network_ref) net];
#endif
      if (attachment == nil)
        {
          set_errmsg (errmsg, strdup ("a vmnet network attachment needs macOS 26 or later"));
          return nil;
        }
    }
  else
    attachment = [[VZNATNetworkDeviceAttachment alloc] init];
  mac = config->mac != NULL ? [[VZMACAddress alloc]
                                 initWithString:[NSString stringWithUTF8String:config->mac]]
                            : nil;
  if (mac == nil)
    {
      set_errmsg (errmsg, strdup ("the MAC address is not valid"));
      return nil;
    }
  nic = [[VZVirtioNetworkDeviceConfiguration alloc] init];
  nic.attachment = attachment;
  nic.MACAddress = mac;
  machine.networkDevices = @[ nic ];

  machine.entropyDevices = @[ [[VZVirtioEntropyDeviceConfiguration alloc] init] ];

  /* Bounds, the entitlement, device combinations: one place says no. */
  if (![machine validateWithError:&error])
    {
      set_errmsg (errmsg, copy_error (error, "the VM configuration is invalid"));
      return nil;
    }
  return machine;
}

HolderVzShimVm *
holder_vz_shim_vm_new (const HolderVzShimVmConfig *config,
                       HolderVzShimNet            *net,
                       HolderVzShimEventFunc       func,
                       void                       *user_data,
                       char                      **errmsg)
{
  if (@available (macOS 13, *))
    {
      @autoreleasepool
        {
          VZVirtualMachineConfiguration *configuration;
          HolderVzShimMachine *machine;

          configuration = build_configuration (config, net, errmsg);
          if (configuration == nil)
            return NULL;

          machine = [[HolderVzShimMachine alloc] init];
          machine.func = func;
          machine.userData = user_data;
          /* Private and serial: the main queue is never drained under
           * GLib's main loop. */
          machine.queue = dispatch_queue_create ("org.holder.vz.vm", DISPATCH_QUEUE_SERIAL);
          /* Made on its own queue too, so that nothing about the VM ever
           * happens anywhere else. */
          dispatch_sync (machine.queue, ^{
            machine.vm = [[VZVirtualMachine alloc] initWithConfiguration:configuration
                                                                   queue:machine.queue];
            /* The delegate is weak: the machine outlives it by design. */
            machine.vm.delegate = machine;
            [machine.vm addObserver:machine
                         forKeyPath:@"state"
                            options:NSKeyValueObservingOptionNew
                            context:HolderVzStateContext];
            machine.observing = YES;
          });
          return (HolderVzShimVm *) (__bridge_retained void *) machine;
        }
    }
  set_errmsg (errmsg, strdup ("the vz backend needs macOS 13 or later"));
  return NULL;
}

/* ---- VM operations -------------------------------------------------------------- */

void
holder_vz_shim_vm_start (HolderVzShimVm *vm)
{
  @autoreleasepool
    {
      HolderVzShimMachine *machine = machine_of (vm);

      /* The blocks hold the machine until the framework is done with
       * them, after a free too (which closes the events). */
      dispatch_async (machine.queue, ^{
        if (!machine.vm.canStart)
          {
            [machine emit:HOLDER_VZ_SHIM_EVENT_START_DONE
                  message:"the VM cannot start in its current state"];
            return;
          }
        [machine.vm startWithCompletionHandler:^(NSError *error) {
          [machine emit:HOLDER_VZ_SHIM_EVENT_START_DONE error:error];
        }];
      });
    }
}

int
holder_vz_shim_vm_can_request_stop (HolderVzShimVm *vm)
{
  @autoreleasepool
    {
      HolderVzShimMachine *machine = machine_of (vm);
      __block BOOL can = NO;

      dispatch_sync (machine.queue, ^{
        can = machine.vm.canRequestStop;
      });
      return can ? 1 : 0;
    }
}

int
holder_vz_shim_vm_state (HolderVzShimVm *vm)
{
  @autoreleasepool
    {
      HolderVzShimMachine *machine = machine_of (vm);
      __block int state = 0;

      dispatch_sync (machine.queue, ^{
        state = (int) machine.vm.state;
      });
      return state;
    }
}

int
holder_vz_shim_vm_request_stop (HolderVzShimVm  *vm,
                                char           **errmsg)
{
  @autoreleasepool
    {
      HolderVzShimMachine *machine = machine_of (vm);
      __block BOOL accepted = NO;
      __block char *message = NULL;

      /* Instant: it presses the button and returns. */
      dispatch_sync (machine.queue, ^{
        NSError *error = nil;

        if (!machine.vm.canRequestStop)
          {
            message = strdup ("the VM cannot take a stop request in its current state");
            return;
          }
        accepted = [machine.vm requestStopWithError:&error];
        if (!accepted)
          message = copy_error (error, "the stop request was refused");
      });
      if (accepted)
        {
          free (message);
          return 1;
        }
      set_errmsg (errmsg, message);
      return 0;
    }
}

void
holder_vz_shim_vm_force_stop (HolderVzShimVm *vm)
{
  @autoreleasepool
    {
      HolderVzShimMachine *machine = machine_of (vm);

      dispatch_async (machine.queue, ^{
        if (!machine.vm.canStop)
          {
            /* Stopped meanwhile is what was wanted. */
            if (machine.vm.state == VZVirtualMachineStateStopped)
              [machine emit:HOLDER_VZ_SHIM_EVENT_STOP_DONE error:nil];
            else
              [machine emit:HOLDER_VZ_SHIM_EVENT_STOP_DONE
                    message:"the VM cannot be stopped in its current state"];
            return;
          }
        [machine.vm stopWithCompletionHandler:^(NSError *error) {
          [machine emit:HOLDER_VZ_SHIM_EVENT_STOP_DONE error:error];
        }];
      });
    }
}

void
holder_vz_shim_vm_free (HolderVzShimVm *vm)
{
  if (vm == NULL)
    return;
  @autoreleasepool
    {
      /* Takes back the reference the handle held. */
      HolderVzShimMachine *machine = (__bridge_transfer HolderVzShimMachine *) (void *) vm;

      /* Synchronous: once this returns no block on the queue emits. */
      dispatch_sync (machine.queue, ^{
        VZVirtualMachine *running = machine.vm;

        machine.closed = YES;
        if (machine.observing)
          [running removeObserver:machine forKeyPath:@"state" context:HolderVzStateContext];
        machine.observing = NO;
        running.delegate = nil;
        /* The server frees stopped VMs; should one still run (a helper
         * ending past its budget), stop it rather than leave a VM holding
         * disk.raw. The block keeps the VM alive until it is down. */
        if (running.state != VZVirtualMachineStateStopped && running.canStop)
          [running stopWithCompletionHandler:^(NSError *error) {
            (void) running;
            (void) error;
          }];
      });
    }
}
