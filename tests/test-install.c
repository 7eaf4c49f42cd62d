/* SPDX-License-Identifier: MIT
 *
 * holder as someone outside this repository gets it: `meson install` into
 * a staging folder, then
 *  - the installed helper finds the installed modules and says where it
 *    looked (not the build tree's);
 *  - examples/backend-example, built out of tree against the installed
 *    headers and holder.pc alone, loads through FLEETBOX_BACKEND_DIR and
 *    serves a member.
 */
#define G_LOG_DOMAIN "holder-test"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include <holder.h>

#include "holder-test-util.h"

typedef struct {
  char *dir;        /* scratch */
  char *destdir;    /* <dir>/stage */
  char *prefix;     /* <destdir><configured prefix> */
  char *libdir;     /* <prefix>/<libdir> */
  char *helper;     /* the installed fleetbox-helper */
  char *pkgconfig;  /* a holder.pc relocated to <prefix> */
} Install;

static Install install;

static char *
run (const char *const *argv,
     const char *const *envp,
     int                expected_status)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  g_spawn_sync (NULL, (char **) argv, (char **) envp, G_SPAWN_SEARCH_PATH, NULL, NULL,
                &out, &err, &status, &error);
  g_assert_no_error (error);
  if (!WIFEXITED (status) || WEXITSTATUS (status) != expected_status)
    g_error ("%s exited with %d (expected %d):\n%s\n%s", argv[0], status, expected_status,
             out, err);
  return g_steal_pointer (&out);
}

/* The prefix and libdir the build was configured with, from its
 * introspection data: an install then lands in <destdir><prefix>. */
static char *
build_option (const char *name)
{
  const char *build_root = g_getenv ("HOLDER_TEST_BUILD_ROOT");
  const char *argv[] = { "meson", "introspect", "--buildoptions", build_root, NULL };
  g_autofree char *json = run (argv, NULL, 0);
  g_autofree char *needle = g_strdup_printf ("\"name\": \"%s\"", name);
  const char *at = strstr (json, needle);
  const char *value, *end;

  g_assert_nonnull (at);
  /* {"name": "prefix", "value": "/usr/local", ...} in any member order */
  while (at > json && *at != '{')
    at--;
  value = strstr (at, "\"value\": \"");
  g_assert_nonnull (value);
  value += strlen ("\"value\": \"");
  end = strchr (value, '"');
  return g_strndup (value, end - value);
}

static gboolean
have_tools (void)
{
  const char *tools[] = { "meson", "ninja", "cc", NULL };

  for (guint i = 0; tools[i] != NULL; i++)
    {
      g_autofree char *path = g_find_program_in_path (tools[i]);
      if (path == NULL)
        return FALSE;
    }
  return TRUE;
}

static void
install_once (void)
{
  const char *build_root = g_getenv ("HOLDER_TEST_BUILD_ROOT");
  g_autoptr(GError) error = NULL;
  g_autofree char *prefix_opt = build_option ("prefix");
  g_autofree char *libdir_opt = build_option ("libdir");
  g_autofree char *installed_pc = NULL;
  g_autofree char *pc = NULL;
  g_autofree char *relocated = NULL;
  g_autofree char *prefix_line = NULL;
  char *line_end;

  install.dir = g_dir_make_tmp ("holder-install-XXXXXX", &error);
  g_assert_no_error (error);
  install.destdir = g_build_filename (install.dir, "stage", NULL);
  {
    const char *argv[] = { "meson", "install", "-C", build_root, "--no-rebuild", "--quiet",
                           "--destdir", install.destdir, NULL };
    g_free (run (argv, NULL, 0));
  }
  install.prefix = g_strconcat (install.destdir, prefix_opt, NULL);
  install.libdir = g_build_filename (install.prefix, libdir_opt, NULL);
  install.helper = g_build_filename (install.prefix, "bin", "fleetbox-helper", NULL);

  /* The staged holder.pc names the configured prefix: point it at the
   * staging folder, as relocating an install does. */
  installed_pc = g_build_filename (install.libdir, "pkgconfig", "holder.pc", NULL);
  g_assert_true (g_file_get_contents (installed_pc, &pc, NULL, NULL));
  g_assert_true (g_str_has_prefix (pc, "prefix="));
  line_end = strchr (pc, '\n');
  g_assert_nonnull (line_end);
  prefix_line = g_strdup_printf ("prefix=%s", install.prefix);
  relocated = g_strconcat (prefix_line, line_end, NULL);
  install.pkgconfig = g_build_filename (install.dir, "pkgconfig", NULL);
  g_assert_no_errno (g_mkdir (install.pkgconfig, 0755));
  {
    g_autofree char *path = g_build_filename (install.pkgconfig, "holder.pc", NULL);
    g_assert_true (g_file_set_contents (path, relocated, -1, NULL));
  }
}

static GStrv
installed_env (const char *backend_dir)
{
  GStrv env = g_get_environ ();

  env = g_environ_setenv (env, "LD_LIBRARY_PATH", install.libdir, TRUE);
  env = g_environ_unsetenv (env, "FLEETBOX_BACKEND_DIR");
  if (backend_dir != NULL)
    env = g_environ_setenv (env, "FLEETBOX_BACKEND_DIR", backend_dir, TRUE);
  return env;
}

/* The installed files are where holder.pc and the loader say they are. */
static void
test_installed_layout (void)
{
  g_autofree char *backenddir = g_build_filename (install.libdir, "holder-1", "backends", NULL);
  const char *headers[] = { "holder.h", "holder-backend.h", "holder-version.h", NULL };

  g_assert_true (g_file_test (install.helper, G_FILE_TEST_IS_EXECUTABLE));
  for (guint i = 0; headers[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (install.prefix, "include", "holder", headers[i], NULL);
      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
    }
#ifdef HOLDER_TEST_HAVE_CH
  {
    g_autofree char *module = g_build_filename (backenddir, "cloud-hypervisor.so", NULL);
    g_assert_true (g_file_test (module, G_FILE_TEST_IS_REGULAR));
  }
#endif
  (void) backenddir;
}

/* An installed libholder looks in the installed folder only, never in the
 * build tree it came from; pointed at the staged folder, the modules
 * installed there load. */
static void
test_installed_helper_modules (void)
{
  g_autofree char *staged_backends = g_build_filename (install.libdir, "holder-1", "backends", NULL);
  g_autofree char *prefix_opt = build_option ("prefix");
  g_autofree char *libdir_opt = build_option ("libdir");
  g_autofree char *configured = g_build_filename (prefix_opt, libdir_opt, "holder-1", "backends", NULL);
  g_autofree char *expected_where = g_strdup_printf ("modules are looked for in: %s\n", configured);
  g_auto(GStrv) plain_env = installed_env (NULL);
  g_auto(GStrv) staged_env = installed_env (staged_backends);
  const char *argv[] = { install.helper, "--list-backends", NULL };
  g_autofree char *plain = run (argv, (const char *const *) plain_env, 0);
  g_autofree char *staged = run (argv, (const char *const *) staged_env, 0);

  g_test_message ("installed helper:\n%s", plain);
  g_assert_nonnull (strstr (plain, expected_where));
  g_assert_null (strstr (plain, g_getenv ("HOLDER_TEST_BUILD_ROOT")));

  g_test_message ("installed helper, staged modules:\n%s", staged);
#ifdef HOLDER_TEST_HAVE_CH
  {
    g_autofree char *line = g_strdup_printf ("cloud-hypervisor  %s/cloud-hypervisor.so  loads",
                                             staged_backends);
    g_assert_nonnull (strstr (staged, line));
  }
#endif
#ifdef HOLDER_TEST_HAVE_LIBVIRT
  {
    g_autofree char *line = g_strdup_printf ("%s/libvirt.so  loads", staged_backends);
    g_assert_nonnull (strstr (staged, line));
  }
#endif
}

/* A backend from outside this tree: built against the installed API with
 * the example's own meson.build, loaded and serving a member. */
static void
test_out_of_tree_backend (void)
{
  g_autofree char *source = g_test_build_filename (G_TEST_DIST, "..", "examples",
                                                   "backend-example", NULL);
  g_autofree char *build = g_build_filename (install.dir, "example-build", NULL);
  g_autofree char *root = g_build_filename (install.dir, "home", NULL);
  g_autofree char *module = g_build_filename (build, "example.so", NULL);
  g_auto(GStrv) build_env = g_get_environ ();
  g_auto(GStrv) env = installed_env (build);
  g_autoptr(GError) error = NULL;
  g_autoptr(HolderHelper) helper = NULL;
  g_autofree char *subnet = NULL;
  g_autoptr(HolderReservation) reservation = NULL;
  g_autoptr(HolderMemberSpec) spec = holder_member_spec_new ("ex-1");
  g_autoptr(HolderStatus) status = NULL;
  const char *names[] = { "ex-1", NULL };
  int exit_status = -1;

  build_env = g_environ_setenv (build_env, "PKG_CONFIG_PATH", install.pkgconfig, TRUE);
  {
    const char *setup[] = { "meson", "setup", build, source, NULL };
    const char *compile[] = { "meson", "compile", "-C", build, NULL };
    g_free (run (setup, (const char *const *) build_env, 0));
    g_free (run (compile, (const char *const *) build_env, 0));
  }
  g_assert_true (g_file_test (module, G_FILE_TEST_IS_REGULAR));

  {
    const char *argv[] = { install.helper, "--list-backends", NULL };
    g_autofree char *listing = run (argv, (const char *const *) env, 0);
    g_autofree char *line = g_strdup_printf ("example  %s  loads", module);

    g_assert_nonnull (strstr (listing, line));
  }

  env = g_environ_setenv (env, "FLEETBOX_BACKEND", "example", TRUE);
  env = g_environ_setenv (env, "FLEETBOX_HOME", root, TRUE);
  helper = holder_helper_spawn (install.helper, names, (const char *const *) env,
                                HOLDER_SPAWN_FLAGS_NONE, &error);
  g_assert_no_error (error);

  g_assert_true (holder_client_create_network (root, names[0], &subnet, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (subnet, ==, "198.51.100.0/24");
  reservation = holder_client_reserve (root, names[0], names[0], NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (reservation->ip, ==, "198.51.100.2");

  /* The helper checks a spec's files before any backend but the fake
   * sees them. */
  g_free (spec->disk_path);
  g_free (spec->seed_path);
  spec->disk_path = g_build_filename (install.dir, "disk.raw", NULL);
  spec->seed_path = g_build_filename (install.dir, "seed.iso", NULL);
  g_assert_true (g_file_set_contents (spec->disk_path, "", 0, NULL));
  g_assert_true (g_file_set_contents (spec->seed_path, "", 0, NULL));
  spec->cpus = 1;
  spec->memory_bytes = 512u << 20;
  g_assert_true (holder_client_boot_member (root, names[0], spec, 0, &error));
  g_assert_no_error (error);
  status = holder_client_status (root, names[0], &error);
  g_assert_no_error (error);
  g_assert_cmpstr (status->state, ==, "running");
  g_assert_cmpstr (status->ip, ==, "198.51.100.2");

  g_assert_true (holder_helper_close (helper, 10 * 1000, &exit_status, &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (exit_status) && WEXITSTATUS (exit_status) == 0);
}

int
main (int    argc,
      char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  if (!have_tools ())
    {
      g_test_skip ("needs meson, ninja and cc on PATH");
      return g_test_run ();
    }
  install_once ();

  g_test_add_func ("/install/layout", test_installed_layout);
  g_test_add_func ("/install/installed-helper-modules", test_installed_helper_modules);
  g_test_add_func ("/install/out-of-tree-backend", test_out_of_tree_backend);
  status = g_test_run ();

  holder_test_remove_tree (install.dir);
  return status;
}
