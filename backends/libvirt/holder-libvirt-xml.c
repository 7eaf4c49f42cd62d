/* SPDX-License-Identifier: MIT
 *
 * Owner metadata, network XML and domain definitions (see
 * holder-libvirt-xml.h). Nothing here talks to libvirt.
 */
#define G_LOG_DOMAIN "holder-libvirt-xml"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <libvirt-gconfig/libvirt-gconfig.h>

#include "holder-backend.h"
#include "holder-libvirt-xml.h"
#include "holder-linux-net-record.h"

/* libvirt-gconfig 4.0 declares no autoptr cleanups of its own. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GVirConfigDomain, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GVirConfigDomainOs, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GVirConfigDomainDisk, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GVirConfigDomainDiskDriver, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GVirConfigDomainInterfaceNetwork, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GVirConfigDomainSerial, g_object_unref)

/* ---- owner --------------------------------------------------------------- */

static char *
own_pid_namespace (void)
{
  g_autoptr(GError) error = NULL;
  char *target = g_file_read_link ("/proc/self/ns/pid", &error);

  return target != NULL ? target : g_strdup ("");
}

gboolean
holder_libvirt_owner_init_self (HolderLibvirtOwner *owner,
                                GError            **error)
{
  HolderNetOwner self = { 0 };

  g_return_val_if_fail (owner != NULL, FALSE);

  if (!holder_net_owner_init_self (&self, error))
    return FALSE;
  owner->pid = self.pid;
  owner->start_time = self.start_time;
  owner->boot_id = g_steal_pointer (&self.boot_id);
  owner->host = g_strdup (g_get_host_name ());
  owner->pid_ns = own_pid_namespace ();
  return TRUE;
}

void
holder_libvirt_owner_clear (HolderLibvirtOwner *owner)
{
  g_clear_pointer (&owner->boot_id, g_free);
  g_clear_pointer (&owner->host, g_free);
  g_clear_pointer (&owner->pid_ns, g_free);
  owner->pid = 0;
  owner->start_time = 0;
}

char *
holder_libvirt_owner_to_xml (const HolderLibvirtOwner *owner,
                             gboolean                  with_namespace)
{
  g_autofree char *attributes = NULL;

  attributes = g_markup_printf_escaped ("pid=\"%" G_GINT64_FORMAT "\" "
                                        "start-time=\"%" G_GUINT64_FORMAT "\" "
                                        "boot-id=\"%s\" host=\"%s\" pid-ns=\"%s\"",
                                        owner->pid, owner->start_time,
                                        owner->boot_id, owner->host, owner->pid_ns);
  if (with_namespace)
    return g_strdup_printf ("<%s:owner xmlns:%s=\"%s\" %s/>",
                            HOLDER_LIBVIRT_OWNER_PREFIX, HOLDER_LIBVIRT_OWNER_PREFIX,
                            HOLDER_LIBVIRT_OWNER_NS, attributes);
  return g_strdup_printf ("<owner %s/>", attributes);
}

typedef struct {
  HolderLibvirtOwner *owner;
  gboolean            found;
} OwnerParse;

static void
replace_string (char       **field,
                const char  *value)
{
  g_free (*field);
  *field = g_strdup (value);
}

/* The element counts when it is called "owner" and declares the owner
 * namespace, as default or for its own prefix: that is how libvirt writes
 * it back in both a network's XML and a domain's metadata. */
static gboolean
element_is_owner (const char  *element_name,
                  const char **names,
                  const char **values)
{
  const char *colon = strchr (element_name, ':');
  const char *local = colon != NULL ? colon + 1 : element_name;
  g_autofree char *ns_attribute = NULL;

  if (strcmp (local, "owner") != 0)
    return FALSE;
  ns_attribute = colon != NULL
    ? g_strdup_printf ("xmlns:%.*s", (int) (colon - element_name), element_name)
    : g_strdup ("xmlns");
  for (guint i = 0; names[i] != NULL; i++)
    if (strcmp (names[i], ns_attribute) == 0 && strcmp (values[i], HOLDER_LIBVIRT_OWNER_NS) == 0)
      return TRUE;
  return FALSE;
}

static void
owner_start_element (GMarkupParseContext  *context,
                     const char           *element_name,
                     const char          **names,
                     const char          **values,
                     gpointer              user_data,
                     GError              **error)
{
  OwnerParse *parse = user_data;
  HolderLibvirtOwner *owner = parse->owner;
  gboolean has_pid = FALSE, has_start = FALSE;

  if (parse->found || !element_is_owner (element_name, names, values))
    return;
  for (guint i = 0; names[i] != NULL; i++)
    {
      if (strcmp (names[i], "pid") == 0)
        has_pid = g_ascii_string_to_signed (values[i], 10, 1, G_MAXINT, &owner->pid, NULL);
      else if (strcmp (names[i], "start-time") == 0)
        has_start = g_ascii_string_to_unsigned (values[i], 10, 1, G_MAXUINT64,
                                                &owner->start_time, NULL);
      else if (strcmp (names[i], "boot-id") == 0)
        replace_string (&owner->boot_id, values[i]);
      else if (strcmp (names[i], "host") == 0)
        replace_string (&owner->host, values[i]);
      else if (strcmp (names[i], "pid-ns") == 0)
        replace_string (&owner->pid_ns, values[i]);
    }
  parse->found = has_pid && has_start && owner->boot_id != NULL && owner->host != NULL &&
                 owner->pid_ns != NULL;
}

gboolean
holder_libvirt_owner_parse (const char         *xml,
                            HolderLibvirtOwner *owner)
{
  static const GMarkupParser parser = { .start_element = owner_start_element };
  OwnerParse parse = { owner, FALSE };
  g_autoptr(GMarkupParseContext) context = NULL;

  g_return_val_if_fail (xml != NULL, FALSE);
  g_return_val_if_fail (owner != NULL, FALSE);

  context = g_markup_parse_context_new (&parser, 0, &parse, NULL);
  if (!g_markup_parse_context_parse (context, xml, -1, NULL) ||
      !g_markup_parse_context_end_parse (context, NULL) || !parse.found)
    {
      holder_libvirt_owner_clear (owner);
      return FALSE;
    }
  return TRUE;
}

HolderLibvirtOwnerState
holder_libvirt_owner_check (const HolderLibvirtOwner *owner,
                            const HolderLibvirtOwner *self)
{
  HolderNetOwner process = { 0 };

  if (g_strcmp0 (owner->host, self->host) != 0)
    return HOLDER_LIBVIRT_OWNER_UNKNOWN;
  if (g_strcmp0 (owner->boot_id, self->boot_id) != 0)
    return HOLDER_LIBVIRT_OWNER_DEAD;
  /* A pid of another pid namespace means nothing here. */
  if (g_strcmp0 (owner->pid_ns, self->pid_ns) != 0)
    return HOLDER_LIBVIRT_OWNER_UNKNOWN;
  process.pid = (GPid) owner->pid;
  process.start_time = owner->start_time;
  process.boot_id = owner->boot_id;
  return holder_net_owner_is_alive (&process) ? HOLDER_LIBVIRT_OWNER_ALIVE
                                              : HOLDER_LIBVIRT_OWNER_DEAD;
}

/* ---- network -------------------------------------------------------------- */

char *
holder_libvirt_network_xml (const char               *name,
                            const char               *bridge,
                            guint                     third_octet,
                            const HolderLibvirtOwner *owner)
{
  g_autofree char *owner_xml = holder_libvirt_owner_to_xml (owner, TRUE);
  g_autofree char *head = NULL;

  g_return_val_if_fail (strlen (bridge) <= 15, NULL);
  g_return_val_if_fail (third_octet < 256, NULL);

  head = g_markup_printf_escaped ("<network>\n"
                                  "  <name>%s</name>\n"
                                  "  <bridge name='%s' stp='off' delay='0'/>\n",
                                  name, bridge);
  return g_strdup_printf ("%s"
                          "  <metadata>%s</metadata>\n"
                          "  <forward mode='nat'/>\n"
                          "  <dns enable='no'/>\n"
                          "  <ip address='192.168.%u.1' netmask='255.255.255.0'/>\n"
                          "</network>\n",
                          head, owner_xml, third_octet);
}

/* ---- domain --------------------------------------------------------------- */

static void
add_disk (GVirConfigDomain *domain,
          const char       *path,
          const char       *target,
          gboolean          read_only)
{
  g_autoptr(GVirConfigDomainDisk) disk = gvir_config_domain_disk_new ();
  g_autoptr(GVirConfigDomainDiskDriver) driver = gvir_config_domain_disk_driver_new ();

  gvir_config_domain_disk_driver_set_name (driver, "qemu");
  gvir_config_domain_disk_driver_set_format (driver, GVIR_CONFIG_DOMAIN_DISK_FORMAT_RAW);
  gvir_config_domain_disk_set_type (disk, GVIR_CONFIG_DOMAIN_DISK_FILE);
  gvir_config_domain_disk_set_guest_device_type (disk, GVIR_CONFIG_DOMAIN_DISK_GUEST_DEVICE_DISK);
  gvir_config_domain_disk_set_source (disk, path);
  gvir_config_domain_disk_set_driver (disk, driver);
  gvir_config_domain_disk_set_target_bus (disk, GVIR_CONFIG_DOMAIN_DISK_BUS_VIRTIO);
  gvir_config_domain_disk_set_target_dev (disk, target);
  gvir_config_domain_disk_set_readonly (disk, read_only);
  gvir_config_domain_add_device (domain, GVIR_CONFIG_DOMAIN_DEVICE (disk));
}

/* gconfig has no chardev source class for a bare pty serial port. */
static gboolean
add_serial (GVirConfigDomain  *domain,
            GError           **error)
{
  g_autoptr(GVirConfigDomainSerial) serial =
    gvir_config_domain_serial_new_from_xml ("<serial type='pty'><target port='0'/></serial>",
                                            error);

  if (serial == NULL)
    return FALSE;
  gvir_config_domain_add_device (domain, GVIR_CONFIG_DOMAIN_DEVICE (serial));
  return TRUE;
}

char *
holder_libvirt_domain_xml (const HolderLibvirtDomainConfig *config,
                           GError                         **error)
{
  static const char *const features[] = { "acpi", "apic", NULL };
  static const GVirConfigDomainLifecycleEvent events[] = {
    GVIR_CONFIG_DOMAIN_LIFECYCLE_ON_POWEROFF,
    GVIR_CONFIG_DOMAIN_LIFECYCLE_ON_REBOOT,
    GVIR_CONFIG_DOMAIN_LIFECYCLE_ON_CRASH,
  };
  g_autoptr(GVirConfigDomain) domain = gvir_config_domain_new ();
  g_autoptr(GVirConfigDomainOs) os = gvir_config_domain_os_new ();
  g_autoptr(GVirConfigDomainInterfaceNetwork) nic = gvir_config_domain_interface_network_new ();
  g_autofree char *owner_xml = holder_libvirt_owner_to_xml (config->owner, FALSE);
  g_autoptr(GError) local_error = NULL;
  guint disk_index = 0;

  g_return_val_if_fail (config->name != NULL && config->uuid != NULL, NULL);
  g_return_val_if_fail (config->kernel_path != NULL && config->disk_path != NULL, NULL);
  g_return_val_if_fail (config->seed_path != NULL && config->network != NULL, NULL);

  gvir_config_domain_set_virt_type (domain, g_strcmp0 (config->virt_type, "kvm") == 0
                                              ? GVIR_CONFIG_DOMAIN_VIRT_KVM
                                              : GVIR_CONFIG_DOMAIN_VIRT_QEMU);
  gvir_config_domain_set_name (domain, config->name);
  gvir_config_domain_set_uuid (domain, config->uuid);
  gvir_config_domain_set_title (domain, config->title);
  gvir_config_domain_set_memory (domain, config->memory_bytes / 1024);
  gvir_config_domain_set_vcpus (domain, config->cpus);
  gvir_config_domain_set_features (domain, (const GStrv) features);
  for (guint i = 0; i < G_N_ELEMENTS (events); i++)
    gvir_config_domain_set_lifecycle (domain, events[i], GVIR_CONFIG_DOMAIN_LIFECYCLE_DESTROY);

  gvir_config_domain_os_set_os_type (os, GVIR_CONFIG_DOMAIN_OS_TYPE_HVM);
  gvir_config_domain_os_set_kernel (os, config->kernel_path);
  if (config->initramfs_path != NULL)
    gvir_config_domain_os_set_ramdisk (os, config->initramfs_path);
  if (config->cmdline != NULL)
    gvir_config_domain_os_set_cmdline (os, config->cmdline);
  gvir_config_domain_set_os (domain, os);

  add_disk (domain, config->disk_path, "vda", FALSE);
  add_disk (domain, config->seed_path, "vdb", TRUE);
  for (guint i = 0; config->fixture_paths != NULL && config->fixture_paths[i] != NULL; i++)
    {
      g_autofree char *target = NULL;

      /* vdc to vdz: 24 fixtures is far beyond any cluster's needs. */
      if (i >= 24)
        {
          g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_INVALID_ARGUMENT,
                               "invalid spec: at most 24 fixture disks");
          return NULL;
        }
      disk_index = i + 2;
      target = g_strdup_printf ("vd%c", 'a' + disk_index);
      add_disk (domain, config->fixture_paths[i], target, TRUE);
    }

  gvir_config_domain_interface_network_set_source (nic, config->network);
  gvir_config_domain_interface_set_mac (GVIR_CONFIG_DOMAIN_INTERFACE (nic), config->mac);
  gvir_config_domain_interface_set_model (GVIR_CONFIG_DOMAIN_INTERFACE (nic), "virtio");
  gvir_config_domain_add_device (domain, GVIR_CONFIG_DOMAIN_DEVICE (nic));

  if (!add_serial (domain, &local_error) ||
      !gvir_config_domain_set_custom_xml (domain, owner_xml, HOLDER_LIBVIRT_OWNER_PREFIX,
                                          HOLDER_LIBVIRT_OWNER_NS, &local_error))
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_BACKEND,
                   "build the domain definition: %s", local_error->message);
      return NULL;
    }
  return gvir_config_object_to_xml (GVIR_CONFIG_OBJECT (domain));
}
