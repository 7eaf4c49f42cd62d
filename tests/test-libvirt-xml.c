/* SPDX-License-Identifier: MIT
 *
 * test-libvirt-xml: what the libvirt backend writes into libvirt, without
 * libvirt: the owner metadata (and how reconcile judges it), the network
 * XML and the domain definition built with libvirt-gconfig.
 */
#define G_LOG_DOMAIN "test-libvirt-xml"

#include <string.h>
#include <unistd.h>

#include "holder-libvirt-xml.h"

static void
owner_self (HolderLibvirtOwner *owner)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (holder_libvirt_owner_init_self (owner, &error));
  g_assert_no_error (error);
  g_assert_cmpint (owner->pid, ==, getpid ());
  g_assert_cmpuint (owner->start_time, >, 0);
  g_assert_nonnull (owner->boot_id);
  g_assert_nonnull (owner->host);
  g_assert_true (g_str_has_prefix (owner->pid_ns, "pid:["));
}

static void
test_owner_round_trip (void)
{
  g_auto(HolderLibvirtOwner) self = { 0 };
  g_auto(HolderLibvirtOwner) parsed = { 0 };
  g_autofree char *xml = NULL;

  owner_self (&self);
  xml = holder_libvirt_owner_to_xml (&self, TRUE);
  g_assert_true (holder_libvirt_owner_parse (xml, &parsed));
  g_assert_cmpint (parsed.pid, ==, self.pid);
  g_assert_cmpuint (parsed.start_time, ==, self.start_time);
  g_assert_cmpstr (parsed.boot_id, ==, self.boot_id);
  g_assert_cmpstr (parsed.host, ==, self.host);
  g_assert_cmpstr (parsed.pid_ns, ==, self.pid_ns);
  g_assert_cmpint (holder_libvirt_owner_check (&parsed, &self), ==, HOLDER_LIBVIRT_OWNER_ALIVE);
}

/* As virDomainGetMetadata returns it: the namespace as the default. */
static void
test_owner_parse_domain_metadata (void)
{
  g_auto(HolderLibvirtOwner) owner = { 0 };
  const char *xml = "<owner xmlns=\"" HOLDER_LIBVIRT_OWNER_NS "\" pid=\"42\" "
                    "start-time=\"777\" boot-id=\"b\" host=\"h&amp;h\" pid-ns=\"pid:[1]\"/>";

  g_assert_true (holder_libvirt_owner_parse (xml, &owner));
  g_assert_cmpint (owner.pid, ==, 42);
  g_assert_cmpuint (owner.start_time, ==, 777);
  g_assert_cmpstr (owner.host, ==, "h&h");
}

static void
test_owner_parse_rejects (void)
{
  static const char *const bad[] = {
    /* another namespace */
    "<owner xmlns=\"https://example.invalid/\" pid=\"1\" start-time=\"1\" boot-id=\"b\" host=\"h\" pid-ns=\"p\"/>",
    /* no namespace at all */
    "<owner pid=\"1\" start-time=\"1\" boot-id=\"b\" host=\"h\" pid-ns=\"p\"/>",
    /* a field missing, a bad pid */
    "<owner xmlns=\"" HOLDER_LIBVIRT_OWNER_NS "\" pid=\"1\" boot-id=\"b\" host=\"h\" pid-ns=\"p\"/>",
    "<owner xmlns=\"" HOLDER_LIBVIRT_OWNER_NS "\" pid=\"-3\" start-time=\"1\" boot-id=\"b\" host=\"h\" pid-ns=\"p\"/>",
    "<network><name>x</name></network>",
    "not xml <",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_auto(HolderLibvirtOwner) owner = { 0 };
      g_assert_false (holder_libvirt_owner_parse (bad[i], &owner));
      g_assert_null (owner.boot_id);
    }
}

static void
test_owner_check (void)
{
  g_auto(HolderLibvirtOwner) self = { 0 };
  HolderLibvirtOwner other;

  owner_self (&self);
  other = self;

  other.start_time = self.start_time + 1;           /* pid reused */
  g_assert_cmpint (holder_libvirt_owner_check (&other, &self), ==, HOLDER_LIBVIRT_OWNER_DEAD);
  other = self;
  other.boot_id = (char *) "another-boot";           /* rebooted since */
  g_assert_cmpint (holder_libvirt_owner_check (&other, &self), ==, HOLDER_LIBVIRT_OWNER_DEAD);
  other = self;
  other.pid = G_MAXINT;                              /* no such process */
  g_assert_cmpint (holder_libvirt_owner_check (&other, &self), ==, HOLDER_LIBVIRT_OWNER_DEAD);
  other.host = (char *) "elsewhere";                 /* not ours to judge */
  g_assert_cmpint (holder_libvirt_owner_check (&other, &self), ==, HOLDER_LIBVIRT_OWNER_UNKNOWN);
  other = self;
  other.pid = G_MAXINT;
  other.pid_ns = (char *) "pid:[1]";
  g_assert_cmpint (holder_libvirt_owner_check (&other, &self), ==, HOLDER_LIBVIRT_OWNER_UNKNOWN);
}

static void
test_network_xml (void)
{
  g_auto(HolderLibvirtOwner) self = { 0 };
  g_auto(HolderLibvirtOwner) parsed = { 0 };
  g_autofree char *xml = NULL;

  owner_self (&self);
  xml = holder_libvirt_network_xml ("holder-0badcafe", "hbr-0badcafe", 105, &self);
  g_assert_nonnull (strstr (xml, "<name>holder-0badcafe</name>"));
  g_assert_nonnull (strstr (xml, "<bridge name='hbr-0badcafe' stp='off' delay='0'/>"));
  g_assert_nonnull (strstr (xml, "<forward mode='nat'/>"));
  g_assert_nonnull (strstr (xml, "<dns enable='no'/>"));
  g_assert_nonnull (strstr (xml, "<ip address='192.168.105.1' netmask='255.255.255.0'/>"));
  /* Static addressing: no <dhcp>, so libvirt runs no dnsmasq. */
  g_assert_null (strstr (xml, "dhcp"));
  g_assert_true (holder_libvirt_owner_parse (xml, &parsed));
  g_assert_cmpint (parsed.pid, ==, self.pid);
}

static void
test_domain_xml (void)
{
  g_auto(HolderLibvirtOwner) self = { 0 };
  g_auto(HolderLibvirtOwner) parsed = { 0 };
  const char *fixtures[] = { "/f/one.img", "/f/two&.img", NULL };
  HolderLibvirtDomainConfig config = {
    .name = "holder-0badcafe-web",
    .uuid = "0b4d8bd4-4bb9-4c8e-9f4f-0c0ffee00001",
    .title = "holder member web",
    .virt_type = "qemu",
    .memory_bytes = 512 * 1024 * 1024,
    .cpus = 2,
    .kernel_path = "/k/vmlinux",
    .initramfs_path = "/k/initrd",
    .cmdline = "console=ttyS0 holder.ip=192.168.105.2/24",
    .disk_path = "/d/disk.raw",
    .seed_path = "/d/seed.img",
    .fixture_paths = fixtures,
    .network = "holder-0badcafe",
    .mac = "52:54:00:12:34:56",
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  g_autofree char *compact = NULL;
  g_autoptr(GRegex) spaces = g_regex_new (">\\s+<", 0, 0, NULL);

  owner_self (&self);
  config.owner = &self;
  xml = holder_libvirt_domain_xml (&config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (xml);
  compact = g_regex_replace_literal (spaces, xml, -1, 0, "><", 0, NULL);

  g_assert_nonnull (strstr (compact, "<domain type=\"qemu\""));
  g_assert_nonnull (strstr (compact, "<name>holder-0badcafe-web</name>"));
  g_assert_nonnull (strstr (compact, "<uuid>0b4d8bd4-4bb9-4c8e-9f4f-0c0ffee00001</uuid>"));
  g_assert_nonnull (strstr (compact, "<memory unit=\"KiB\">524288</memory>"));
  g_assert_nonnull (strstr (compact, "<vcpu>2</vcpu>"));
  g_assert_nonnull (strstr (compact, "<acpi/>"));
  g_assert_nonnull (strstr (compact, "<kernel>/k/vmlinux</kernel>"));
  g_assert_nonnull (strstr (compact, "<initrd>/k/initrd</initrd>"));
  g_assert_nonnull (strstr (compact, "<cmdline>console=ttyS0 holder.ip=192.168.105.2/24</cmdline>"));
  g_assert_nonnull (strstr (compact, "<on_poweroff>destroy</on_poweroff>"));
  g_assert_nonnull (strstr (compact, "<on_reboot>destroy</on_reboot>"));
  g_assert_nonnull (strstr (compact, "<on_crash>destroy</on_crash>"));
  /* The root disk is writable; seed and fixtures are not. */
  g_assert_nonnull (strstr (compact, "<source file=\"/d/disk.raw\"/><driver name=\"qemu\" type=\"raw\"/>"
                                     "<target bus=\"virtio\" dev=\"vda\"/></disk>"));
  g_assert_nonnull (strstr (compact, "<source file=\"/d/seed.img\"/><driver name=\"qemu\" type=\"raw\"/>"
                                     "<target bus=\"virtio\" dev=\"vdb\"/><readonly/></disk>"));
  g_assert_nonnull (strstr (compact, "<source file=\"/f/one.img\"/>"));
  g_assert_nonnull (strstr (compact, "dev=\"vdc\"/><readonly/>"));
  g_assert_nonnull (strstr (compact, "<source file=\"/f/two&amp;.img\"/>"));
  g_assert_nonnull (strstr (compact, "dev=\"vdd\"/><readonly/>"));
  g_assert_nonnull (strstr (compact, "<interface type=\"network\"><source network=\"holder-0badcafe\"/>"
                                     "<mac address=\"52:54:00:12:34:56\"/><model type=\"virtio\"/>"));
  /* A pty the backend streams: the helper writes the log itself. */
  g_assert_nonnull (strstr (compact, "<serial type=\"pty\"><target port=\"0\"/></serial>"));
  g_assert_true (holder_libvirt_owner_parse (compact, &parsed));
  g_assert_cmpint (parsed.pid, ==, self.pid);
}

static void
test_domain_xml_kvm (void)
{
  g_auto(HolderLibvirtOwner) self = { 0 };
  HolderLibvirtDomainConfig config = {
    .name = "holder-1-a", .uuid = "0b4d8bd4-4bb9-4c8e-9f4f-0c0ffee00002", .title = "t",
    .virt_type = "kvm", .memory_bytes = 64 * 1024 * 1024, .cpus = 1,
    .kernel_path = "/k", .disk_path = "/d", .seed_path = "/s",
    .network = "holder-1", .mac = "52:54:00:00:00:01",
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;

  owner_self (&self);
  config.owner = &self;
  xml = holder_libvirt_domain_xml (&config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (xml, "<domain type=\"kvm\""));
  g_assert_null (strstr (xml, "<initrd>"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/libvirt-xml/owner/round-trip", test_owner_round_trip);
  g_test_add_func ("/libvirt-xml/owner/domain-metadata", test_owner_parse_domain_metadata);
  g_test_add_func ("/libvirt-xml/owner/rejects", test_owner_parse_rejects);
  g_test_add_func ("/libvirt-xml/owner/check", test_owner_check);
  g_test_add_func ("/libvirt-xml/network", test_network_xml);
  g_test_add_func ("/libvirt-xml/domain", test_domain_xml);
  g_test_add_func ("/libvirt-xml/domain-kvm", test_domain_xml_kvm);
  return g_test_run ();
}
