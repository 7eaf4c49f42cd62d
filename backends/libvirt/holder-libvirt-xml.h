/* SPDX-License-Identifier: MIT
 *
 * What the libvirt backend writes into libvirt and reads back, with no
 * connection involved: the owner metadata that lets reconcile tell a dead
 * helper's domains and networks from live ones, the transient NAT network's
 * XML, and the domain definition built with libvirt-gconfig.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The XML namespace of the owner element, and the prefix of every name. */
#define HOLDER_LIBVIRT_OWNER_NS     "https://holder.invalid/owner/1"
#define HOLDER_LIBVIRT_OWNER_PREFIX "holder"
#define HOLDER_LIBVIRT_NAME_PREFIX  "holder-"

/* A helper process: a pid alone could be reused, so its start time (field
 * 22 of /proc/<pid>/stat) and the boot id come along; the host name and
 * the pid namespace say whether this process can judge the pid at all. */
typedef struct {
  gint64   pid;
  guint64  start_time;
  char    *boot_id;
  char    *host;
  char    *pid_ns;
} HolderLibvirtOwner;

typedef enum {
  HOLDER_LIBVIRT_OWNER_ALIVE,
  HOLDER_LIBVIRT_OWNER_DEAD,
  /* Another host or pid namespace: not ours to judge, never reclaimed. */
  HOLDER_LIBVIRT_OWNER_UNKNOWN,
} HolderLibvirtOwnerState;

gboolean holder_libvirt_owner_init_self (HolderLibvirtOwner *owner,
                                         GError            **error);
void holder_libvirt_owner_clear (HolderLibvirtOwner *owner);

/* <owner pid=".." start-time=".." boot-id=".." host=".." pid-ns=".."/>,
 * in the owner namespace when @with_namespace (a network's <metadata>),
 * bare for gvir_config_domain_set_custom_xml (which adds it). */
char *holder_libvirt_owner_to_xml (const HolderLibvirtOwner *owner,
                                   gboolean                  with_namespace);

/* Finds the owner element (in the owner namespace) anywhere in @xml: a
 * network's whole definition or a domain's metadata element. */
gboolean holder_libvirt_owner_parse (const char         *xml,
                                     HolderLibvirtOwner *owner);

/* Judged from this process: same host and pid namespace, then the boot id,
 * then the pid and its start time. */
HolderLibvirtOwnerState holder_libvirt_owner_check (const HolderLibvirtOwner *owner,
                                                    const HolderLibvirtOwner *self);

/* A transient NAT network: bridge @bridge (at most 15 bytes), gateway
 * 192.168.@third_octet.1/24, no DHCP and no DNS (so no dnsmasq), the owner
 * in <metadata>. */
char *holder_libvirt_network_xml (const char               *name,
                                  const char               *bridge,
                                  guint                     third_octet,
                                  const HolderLibvirtOwner *owner);

typedef struct {
  const char               *name;
  const char               *uuid;
  const char               *title;
  const char               *virt_type;       /* "kvm" or "qemu" */
  guint64                   memory_bytes;
  guint                     cpus;
  const char               *kernel_path;
  const char               *initramfs_path;  /* nullable */
  const char               *cmdline;
  const char               *disk_path;       /* vda, read-write */
  const char               *seed_path;       /* vdb, read-only */
  const char *const        *fixture_paths;   /* vdc.., read-only; nullable */
  const char               *network;
  const char               *mac;
  const HolderLibvirtOwner *owner;
} HolderLibvirtDomainConfig;

/* The domain definition, through libvirt-gconfig: direct kernel boot, raw
 * virtio disks, a virtio NIC with @mac on @network, ACPI and APIC, every
 * lifecycle action set to destroy, a serial console on a pty (which the
 * backend streams into the serial log), the owner metadata. */
char *holder_libvirt_domain_xml (const HolderLibvirtDomainConfig *config,
                                 GError                         **error);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (HolderLibvirtOwner, holder_libvirt_owner_clear)

G_END_DECLS
