/* SPDX-License-Identifier: MIT
 *
 * The backend loader, through the public library as a client or helper
 * links it: the fake built in, modules found on the search path and loaded
 * only when selected, every refusal with a message that names the file,
 * and libholder's own dependencies (DT_NEEDED) free of backend libraries.
 */
#define G_LOG_DOMAIN "holder-test"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <holder.h>

#include "holder-test-util.h"

/* Run in a child with FLEETBOX_BACKEND_DIR and FLEETBOX_BACKEND as given,
 * since the loader keeps what it loaded for the life of the process. */
static void
set_env (const char *name,
         const char *value)
{
  if (value != NULL)
    g_setenv (name, value, TRUE);
  else
    g_unsetenv (name);
}

static char *
build_path (const char *first,
            ...)
{
  const char *build_root = g_getenv ("HOLDER_TEST_BUILD_ROOT");
  va_list args;
  g_autoptr(GPtrArray) parts = g_ptr_array_new ();
  const char *part;

  g_assert_nonnull (build_root);
  g_ptr_array_add (parts, (gpointer) build_root);
  g_ptr_array_add (parts, (gpointer) first);
  va_start (args, first);
  while ((part = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (parts, (gpointer) part);
  va_end (args);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

static char *
scratch_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("holder-loader-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

/* ---- the fake and the build tree ------------------------------------------ */

static void
test_fake_built_in (void)
{
  g_autoptr(GError) error = NULL;
  const HolderBackendClass *klass = holder_backend_lookup ("fake", &error);
  g_auto(GStrv) names = holder_backend_list_names ();

  g_assert_no_error (error);
  g_assert_nonnull (klass);
  g_assert_cmpstr (klass->name, ==, "fake");
  g_assert_cmpstr (names[0], ==, "fake");
}

/* Running from the build tree, the build tree's modules come first. */
static void
test_build_tree_modules (void)
{
  g_auto(GStrv) path = holder_backend_get_search_path ();
  g_autofree char *build_backends = build_path ("backends", NULL);
  g_auto(GStrv) names = holder_backend_list_names ();
  g_autoptr(GPtrArray) list = holder_backend_list ();

  g_assert_null (g_getenv ("FLEETBOX_BACKEND_DIR"));
  g_assert_cmpstr (path[0], ==, build_backends);
  g_assert_cmpuint (g_strv_length (path), ==, 2);

  for (guint i = 0; i < list->len; i++)
    {
      HolderBackendInfo *info = g_ptr_array_index (list, i);

      g_test_message ("%s: %s, %s", info->name, info->path ? info->path : "built in",
                      info->loads ? "loads" : info->error);
      g_assert_true (info->loads);
      if (g_str_equal (info->name, "fake"))
        g_assert_null (info->path);
      else
        g_assert_true (g_str_has_prefix (info->path, build_backends));
    }
  g_assert_cmpuint (list->len, ==, g_strv_length (names));
#ifdef HOLDER_TEST_HAVE_CH
  g_assert_true (g_strv_contains ((const char *const *) names, "cloud-hypervisor"));
#endif
#ifdef HOLDER_TEST_HAVE_LIBVIRT
  g_assert_true (g_strv_contains ((const char *const *) names, "libvirt"));
#endif
}

/* A process that never selects a backend maps none of their libraries; one
 * that selects a module maps it only from then on. */
static gboolean
maps_contain (const char *needle)
{
  g_autofree char *maps = NULL;

  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  return strstr (maps, needle) != NULL;
}

static void
test_loaded_only_when_selected (void)
{
#ifdef HOLDER_TEST_HAVE_CH
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      const HolderBackendClass *klass;

      /* Listing names does not load anything. */
      g_auto(GStrv) names = holder_backend_list_names ();
      g_assert_true (g_strv_contains ((const char *const *) names, "cloud-hypervisor"));
      g_assert_false (maps_contain ("cloud-hypervisor.so"));
      g_assert_false (maps_contain ("libsoup"));
      g_assert_false (maps_contain ("libnl-route"));

      klass = holder_backend_lookup ("cloud-hypervisor", &error);
      g_assert_no_error (error);
      g_assert_cmpstr (klass->name, ==, "cloud-hypervisor");
      g_assert_true (maps_contain ("cloud-hypervisor.so"));
      g_assert_true (maps_contain ("libsoup"));
      /* Asking again gives the same class: loaded once. */
      g_assert_true (holder_backend_lookup ("cloud-hypervisor", NULL) == klass);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
#else
  g_test_skip ("built without the cloud-hypervisor backend");
#endif
}

/* ---- refusals --------------------------------------------------------------- */

static void
test_unknown_name (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *fixtures = build_path ("tests", "backend-fixtures", NULL);
      g_autofree char *expected = g_strdup_printf (
        "no backend \"qemu\" in %s; installed: fake, incomplete, misnamed, other-abi",
        fixtures);

      set_env ("FLEETBOX_BACKEND_DIR", fixtures);
      g_assert_null (holder_backend_lookup ("qemu", &error));
      g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND);
      g_assert_cmpstr (error->message, ==, expected);
      g_clear_error (&error);

      /* Names are not paths, nor matched by case. */
      g_assert_null (holder_backend_lookup ("../backend-fixtures/misnamed", &error));
      g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND);
      g_assert_true (g_str_has_prefix (error->message, "no backend \"../backend-fixtures/misnamed\" in "));
      g_clear_error (&error);
      g_assert_null (holder_backend_lookup ("Fake", &error));
      g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* vz exists on macOS only: asked for here, the answer says so. */
static void
test_vz_on_linux (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (holder_backend_lookup ("vz", &error));
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND);
  g_assert_true (g_str_has_prefix (error->message, "no backend \"vz\" in "));
  g_assert_true (g_str_has_suffix (error->message,
                                   " (vz needs macOS 13 or later on Apple silicon)"));
}

static void
test_refused_modules (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *fixtures = build_path ("tests", "backend-fixtures", NULL);
      g_autofree char *other_abi = g_build_filename (fixtures, "other-abi.so", NULL);
      g_autofree char *misnamed = g_build_filename (fixtures, "misnamed.so", NULL);
      g_autofree char *incomplete = g_build_filename (fixtures, "incomplete.so", NULL);
      g_autofree char *expected = NULL;
      g_autoptr(GError) error = NULL;

      set_env ("FLEETBOX_BACKEND_DIR", fixtures);

      /* The file and both versions are named. */
      g_assert_null (holder_backend_lookup ("other-abi", &error));
      g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND);
      expected = g_strdup_printf ("backend module %s was built for backend ABI %d, but this "
                                  "libholder %s has backend ABI %d: rebuild the module against it",
                                  other_abi, HOLDER_BACKEND_ABI_VERSION + 1, HOLDER_VERSION,
                                  HOLDER_BACKEND_ABI_VERSION);
      g_assert_cmpstr (error->message, ==, expected);
      g_clear_error (&error);
      g_clear_pointer (&expected, g_free);

      g_assert_null (holder_backend_lookup ("misnamed", &error));
      expected = g_strdup_printf ("backend module %s calls itself \"someone-else\", not \"misnamed\"",
                                  misnamed);
      g_assert_cmpstr (error->message, ==, expected);
      g_clear_error (&error);
      g_clear_pointer (&expected, g_free);

      g_assert_null (holder_backend_lookup ("incomplete", &error));
      expected = g_strdup_printf ("backend module %s does not implement new", incomplete);
      g_assert_cmpstr (error->message, ==, expected);
      g_clear_error (&error);

      /* None of them stays mapped. */
      g_assert_false (maps_contain ("other-abi.so"));
      g_assert_false (maps_contain ("misnamed.so"));
      g_assert_false (maps_contain ("incomplete.so"));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* A file that is not a shared object at all. */
static void
test_not_a_module (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = scratch_dir ();
      g_autofree char *path = g_build_filename (dir, "garbage.so", NULL);
      g_autoptr(GError) error = NULL;
      g_autofree char *prefix = g_strdup_printf ("cannot load backend module %s: ", path);

      g_assert_true (g_file_set_contents (path, "not ELF", -1, NULL));
      g_assert_no_errno (g_chmod (path, 0644));
      set_env ("FLEETBOX_BACKEND_DIR", dir);
      g_assert_null (holder_backend_lookup ("garbage", &error));
      g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND);
      g_assert_true (g_str_has_prefix (error->message, prefix));
      holder_test_remove_tree (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* As root, a module anyone else could have written is code anyone could
 * run as root: refused, whichever of the file or its folder is at fault. */
#ifdef HOLDER_TEST_HAVE_CH
static void
copy_file (const char *from,
           const char *to)
{
  g_autofree char *contents = NULL;
  gsize len;

  g_assert_true (g_file_get_contents (from, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (to, contents, (gssize) len, NULL));
}
#endif

static void
test_root_refuses_untrusted (void)
{
#ifdef HOLDER_TEST_HAVE_CH
  if (geteuid () != 0)
    {
      g_test_skip ("needs root: only a root helper checks who owns its modules");
      return;
    }
  if (g_test_subprocess ())
    {
      g_autofree char *dir = scratch_dir ();
      g_autofree char *module = build_path ("backends", "cloud-hypervisor", "cloud-hypervisor.so", NULL);
      g_autofree char *copy = g_build_filename (dir, "cloud-hypervisor.so", NULL);
      g_autofree char *expected = NULL;
      g_autoptr(GError) error = NULL;

      copy_file (module, copy);
      set_env ("FLEETBOX_BACKEND_DIR", dir);

      /* A folder others may write to. */
      g_assert_no_errno (g_chmod (dir, 0777));
      g_assert_null (holder_backend_lookup ("cloud-hypervisor", &error));
      expected = g_strdup_printf ("refusing backend module %s as root: %s is writable by others; "
                                  "it must be owned by root and writable by root only", copy, dir);
      g_assert_cmpstr (error->message, ==, expected);
      g_clear_error (&error);
      g_clear_pointer (&expected, g_free);
      g_assert_no_errno (g_chmod (dir, 0755));

      /* A file owned by somebody else. */
      g_assert_no_errno (chown (copy, 65534, 65534));
      g_assert_null (holder_backend_lookup ("cloud-hypervisor", &error));
      expected = g_strdup_printf ("refusing backend module %s as root: %s is not owned by root; "
                                  "it must be owned by root and writable by root only", copy, copy);
      g_assert_cmpstr (error->message, ==, expected);
      g_clear_error (&error);
      g_assert_false (maps_contain ("cloud-hypervisor.so"));

      /* Fixed, it loads. */
      g_assert_no_errno (chown (copy, 0, 0));
      g_assert_nonnull (holder_backend_lookup ("cloud-hypervisor", &error));
      g_assert_no_error (error);
      holder_test_remove_tree (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
#else
  g_test_skip ("built without the cloud-hypervisor backend");
#endif
}

/* Unset, the platform's backend; never the fake. Without it, the error
 * says both ways out. */
static void
test_select_from_env (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *dir = scratch_dir ();
      g_autoptr(GError) error = NULL;
      g_autofree char *expected = g_strdup_printf (
        "no backend \"cloud-hypervisor\" in %s; installed: fake; set FLEETBOX_BACKEND=fake "
        "for a test run, or build and install holder with -Dbackends=cloud-hypervisor", dir);

      g_assert_cmpstr (holder_backend_get_platform_default (), ==, "cloud-hypervisor");

      set_env ("FLEETBOX_BACKEND", "fake");
      g_assert_cmpstr (holder_backend_select_from_env (&error)->name, ==, "fake");

      set_env ("FLEETBOX_BACKEND_DIR", dir);
      set_env ("FLEETBOX_BACKEND", NULL);
      g_assert_null (holder_backend_select_from_env (&error));
      g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND);
      g_assert_cmpstr (error->message, ==, expected);
      g_clear_error (&error);

      /* Empty means unset. */
      set_env ("FLEETBOX_BACKEND", "");
      g_assert_null (holder_backend_select_from_env (&error));
      g_assert_cmpstr (error->message, ==, expected);
      holder_test_remove_tree (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* ---- what libholder links ----------------------------------------------------- */

/* The DT_NEEDED entries of the ELF file at @path (64-bit, this machine's
 * byte order), read from its dynamic section. */
static GStrv
elf_needed (const char *path)
{
  g_autofree char *data = NULL;
  gsize len;
  const Elf64_Ehdr *eh;
  const Elf64_Shdr *sections;
  g_autoptr(GStrvBuilder) needed = g_strv_builder_new ();

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_cmpuint (len, >=, sizeof (Elf64_Ehdr));
  eh = (const Elf64_Ehdr *) data;
  g_assert_cmpmem (eh->e_ident, SELFMAG, ELFMAG, SELFMAG);
  g_assert_cmpint (eh->e_ident[EI_CLASS], ==, ELFCLASS64);
  g_assert_cmpuint (eh->e_shoff + (gsize) eh->e_shnum * sizeof (Elf64_Shdr), <=, len);
  sections = (const Elf64_Shdr *) (data + eh->e_shoff);

  for (guint i = 0; i < eh->e_shnum; i++)
    {
      const Elf64_Shdr *dynamic = &sections[i];
      const Elf64_Shdr *strtab;

      if (dynamic->sh_type != SHT_DYNAMIC)
        continue;
      g_assert_cmpuint (dynamic->sh_link, <, eh->e_shnum);
      strtab = &sections[dynamic->sh_link];
      g_assert_cmpuint (dynamic->sh_offset + dynamic->sh_size, <=, len);
      g_assert_cmpuint (strtab->sh_offset + strtab->sh_size, <=, len);
      for (const Elf64_Dyn *d = (const Elf64_Dyn *) (data + dynamic->sh_offset);
           (const char *) (d + 1) <= data + dynamic->sh_offset + dynamic->sh_size &&
           d->d_tag != DT_NULL;
           d++)
        {
          if (d->d_tag != DT_NEEDED)
            continue;
          g_assert_cmpuint (d->d_un.d_val, <, strtab->sh_size);
          g_strv_builder_add (needed, data + strtab->sh_offset + d->d_un.d_val);
        }
    }
  return g_strv_builder_end (needed);
}

/* Only GLib, GIO, GModule (and GObject under GIO), and the C runtime. */
static void
assert_needs_only_glib (const char *path,
                        gboolean    may_need_libholder)
{
  static const char *const allowed[] = {
    "libglib-2.0.so.", "libgobject-2.0.so.", "libgio-2.0.so.", "libgmodule-2.0.so.",
    "libjson-glib-1.0.so.", "libc.so.", "libm.so.", "libpthread.so.", "libdl.so.",
    "ld-linux",
#if defined(__SANITIZE_ADDRESS__)
    /* A sanitizer build: the runtimes, and libtirpc loaded at start-up (see
     * meson.build, sanitizer_startup_dep). */
    "libasan.so.", "libubsan.so.", "libtirpc.so.",
#endif
    NULL,
  };
  g_auto(GStrv) needed = elf_needed (path);

  g_assert_cmpuint (g_strv_length (needed), >, 0);
  for (guint i = 0; needed[i] != NULL; i++)
    {
      gboolean ok = may_need_libholder && g_str_has_prefix (needed[i], "libholder.so.");

      for (guint j = 0; !ok && allowed[j] != NULL; j++)
        ok = g_str_has_prefix (needed[i], allowed[j]);
      g_test_message ("%s needs %s", path, needed[i]);
      if (!ok)
        g_error ("%s needs %s, which is not GLib, GIO, GModule or json-glib", path, needed[i]);
    }
}

static void
test_libholder_needs_only_glib (void)
{
  g_autofree char *libholder = build_path ("libholder", "libholder.so", NULL);
  g_autofree char *helper = build_path ("helper", "fleetbox-helper", NULL);

  assert_needs_only_glib (libholder, FALSE);
  assert_needs_only_glib (helper, TRUE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  /* The tests set these themselves, in child processes. */
  g_unsetenv ("FLEETBOX_BACKEND_DIR");

  g_test_add_func ("/backend-loader/fake-built-in", test_fake_built_in);
  g_test_add_func ("/backend-loader/build-tree-modules", test_build_tree_modules);
  g_test_add_func ("/backend-loader/loaded-only-when-selected", test_loaded_only_when_selected);
  g_test_add_func ("/backend-loader/unknown-name", test_unknown_name);
  g_test_add_func ("/backend-loader/vz-on-linux", test_vz_on_linux);
  g_test_add_func ("/backend-loader/refused-modules", test_refused_modules);
  g_test_add_func ("/backend-loader/not-a-module", test_not_a_module);
  g_test_add_func ("/backend-loader/root-refuses-untrusted", test_root_refuses_untrusted);
  g_test_add_func ("/backend-loader/select-from-env", test_select_from_env);
  g_test_add_func ("/backend-loader/libholder-needs-only-glib", test_libholder_needs_only_glib);

  return g_test_run ();
}
