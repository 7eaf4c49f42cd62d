/* holder-backend-loader.c: finds backends. The fake is built in; every
 * real backend is a module loaded with GModule the first time it is
 * selected, so a process that never selects one maps none of its
 * libraries.
 *
 * Search path: FLEETBOX_BACKEND_DIR alone when set; else the build tree's
 * backends/ folder when this libholder runs uninstalled (tests, tools/dev),
 * then the installed $libdir/holder-1/backends. In each folder a backend
 * NAME is NAME.so, or NAME/NAME.so (the build tree's layout).
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holder-backend"
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "holder-backend.h"
#include "holder-backend-fake-private.h"
#include "holder-util-private.h"

#ifndef HOLDER_BUILD_ROOT
#error "HOLDER_BUILD_ROOT must be defined by the build"
#endif
#ifndef HOLDER_INSTALLED_BACKEND_DIR
#error "HOLDER_INSTALLED_BACKEND_DIR must be defined by the build"
#endif

#define MODULE_SUFFIX ".so"

/* The real backend of the platform, used when FLEETBOX_BACKEND is unset.
 * The fake is never chosen implicitly: a helper that silently pretends to
 * boot VMs would make every client believe its guests are up. */
#if defined(__APPLE__)
#define PLATFORM_DEFAULT_BACKEND "vz"
#elif defined(__linux__)
#define PLATFORM_DEFAULT_BACKEND "cloud-hypervisor"
#else
#define PLATFORM_DEFAULT_BACKEND NULL
#endif

/* Backends this project knows of that cannot exist on this platform: the
 * answer when one is asked for by name. */
static const struct {
  const char *name;
  const char *requirement;
} platform_only[] = {
#if !defined(__APPLE__)
  { "vz", "vz needs macOS 13 or later on Apple silicon" },
#endif
#if !defined(__linux__)
  { "cloud-hypervisor", "cloud-hypervisor needs Linux" },
  { "libvirt", "the libvirt backend is built on Linux only" },
#endif
  { NULL, NULL },
};

/* name -> const HolderBackendClass *, for modules loaded so far. Modules
 * stay resident: classes are handed out as plain pointers. */
static GHashTable *loaded_classes;
G_LOCK_DEFINE_STATIC (loaded_classes);

const char *
holder_backend_get_platform_default (void)
{
  return PLATFORM_DEFAULT_BACKEND;
}

void
holder_backend_info_free (HolderBackendInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->name);
  g_free (info->path);
  g_free (info->error);
  g_free (info);
}

/* TRUE when the code of this libholder was loaded from inside the build
 * tree it was built in (tests, tools/dev, build/helper/fleetbox-helper):
 * its modules are then the build tree's, not an older installed set. */
static gboolean
running_uninstalled (void)
{
  static gsize answer = 0;

  if (g_once_init_enter (&answer))
    {
      gsize value = 1; /* 1: installed, 2: uninstalled */
      Dl_info info;

      static const char anchor = 0;

      if (dladdr (&anchor, &info) != 0 && info.dli_fname != NULL)
        {
          g_autofree char *object = realpath (info.dli_fname, NULL);
          g_autofree char *build_root = realpath (HOLDER_BUILD_ROOT, NULL);

          if (object != NULL && build_root != NULL &&
              g_str_has_prefix (object, build_root) &&
              object[strlen (build_root)] == '/')
            value = 2;
        }
      g_once_init_leave (&answer, value);
    }
  return answer == 2;
}

GStrv
holder_backend_get_search_path (void)
{
  const char *override = g_getenv ("FLEETBOX_BACKEND_DIR");
  g_autoptr(GStrvBuilder) path = g_strv_builder_new ();

  if (override != NULL && override[0] != '\0')
    {
      g_auto(GStrv) dirs = g_strsplit (override, G_SEARCHPATH_SEPARATOR_S, -1);

      for (guint i = 0; dirs[i] != NULL; i++)
        if (dirs[i][0] != '\0')
          g_strv_builder_add (path, dirs[i]);
      return g_strv_builder_end (path);
    }
  if (running_uninstalled ())
    g_strv_builder_add (path, HOLDER_BUILD_ROOT "/backends");
  g_strv_builder_add (path, HOLDER_INSTALLED_BACKEND_DIR);
  return g_strv_builder_end (path);
}

/* Backend names become file names: lowercase letters, digits and '-'. */
static gboolean
backend_name_is_valid (const char *name)
{
  if (name == NULL || name[0] == '\0' || name[0] == '-' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p != '\0'; p++)
    if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
      return FALSE;
  return TRUE;
}

static gboolean
is_regular_file (const char *path)
{
  struct stat st;

  return stat (path, &st) == 0 && S_ISREG (st.st_mode);
}

/* The module file of @name in @dir, or NULL. */
static char *
module_path_in (const char *dir,
                const char *name)
{
  g_autofree char *file = g_strconcat (name, MODULE_SUFFIX, NULL);
  g_autofree char *flat = g_build_filename (dir, file, NULL);
  g_autofree char *nested = NULL;

  if (is_regular_file (flat))
    return g_steal_pointer (&flat);
  nested = g_build_filename (dir, name, file, NULL);
  if (is_regular_file (nested))
    return g_steal_pointer (&nested);
  return NULL;
}

static char *
find_module (const char *const *search_path,
             const char        *name)
{
  for (guint i = 0; search_path[i] != NULL; i++)
    {
      char *path = module_path_in (search_path[i], name);
      if (path != NULL)
        return path;
    }
  return NULL;
}

/* Adds the backend names found in @dir to @names (a set). */
static void
collect_names_in (const char *dir,
                  GHashTable *names)
{
  g_autoptr(GDir) listing = g_dir_open (dir, 0, NULL);
  const char *entry;

  if (listing == NULL)
    return;
  while ((entry = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *name = NULL;
      g_autofree char *path = NULL;

      if (g_str_has_suffix (entry, MODULE_SUFFIX))
        name = g_strndup (entry, strlen (entry) - strlen (MODULE_SUFFIX));
      else
        name = g_strdup (entry);
      if (!backend_name_is_valid (name) || g_str_equal (name, "fake"))
        continue;
      path = module_path_in (dir, name);
      if (path != NULL)
        g_hash_table_add (names, g_steal_pointer (&name));
    }
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GStrv
holder_backend_list_names (void)
{
  g_auto(GStrv) search_path = holder_backend_get_search_path ();
  g_autoptr(GHashTable) set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) sorted = NULL;
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  GHashTableIter iter;
  gpointer key;

  for (guint i = 0; search_path[i] != NULL; i++)
    collect_names_in (search_path[i], set);

  sorted = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (sorted, key);
  g_ptr_array_sort (sorted, compare_names);

  g_strv_builder_add (names, "fake");
  for (guint i = 0; i < sorted->len; i++)
    g_strv_builder_add (names, g_ptr_array_index (sorted, i));
  return g_strv_builder_end (names);
}

/* A root helper runs whatever code the module holds: it must be as
 * trustworthy as the helper itself. Owned by root (or by the effective
 * user, which is then root), writable by nobody else, in a folder
 * writable by nobody else. */
static gboolean
module_is_trusted (const char  *path,
                   GError     **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  const char *const checked[] = { path, dir };

  if (geteuid () != 0)
    return TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (checked); i++)
    {
      struct stat st;

      if (stat (checked[i], &st) != 0)
        {
          int saved_errno = errno;
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                       "backend module %s: %s", path, g_strerror (saved_errno));
          return FALSE;
        }
      if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
        {
          g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                       "refusing backend module %s as root: %s is %s; "
                       "it must be owned by root and writable by root only",
                       path, checked[i],
                       st.st_uid != 0 ? "not owned by root" : "writable by others");
          return FALSE;
        }
    }
  return TRUE;
}

/* Every slot the server calls unconditionally. */
static const char *
missing_slot (const HolderBackendClass *klass)
{
#define CHECK(slot) if (klass->slot == NULL) return #slot
  CHECK (new);
  CHECK (free);
  CHECK (reconcile_async);
  CHECK (reconcile_finish);
  CHECK (create_network_async);
  CHECK (create_network_finish);
  CHECK (close_network_async);
  CHECK (close_network_finish);
  CHECK (reserve_async);
  CHECK (reserve_finish);
  CHECK (create_vm_async);
  CHECK (create_vm_finish);
  CHECK (start_vm_async);
  CHECK (start_vm_finish);
  CHECK (wait_ip_async);
  CHECK (wait_ip_finish);
  CHECK (stop_vm_async);
  CHECK (stop_vm_finish);
  CHECK (vm_free);
#undef CHECK
  return NULL;
}

/* The module's class, once its entry point, ABI version, name and
 * vtable check out. */
static const HolderBackendClass *
check_module (GModule     *module,
              const char  *name,
              const char  *path,
              GError     **error)
{
  HolderBackendModuleQueryFunc query = NULL;
  const HolderBackendModuleInfo *info;
  const char *slot;

  if (!g_module_symbol (module, HOLDER_BACKEND_MODULE_ENTRY, (gpointer *) &query) ||
      query == NULL)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                   "%s is not a holder backend module: it has no %s()",
                   path, HOLDER_BACKEND_MODULE_ENTRY);
      return NULL;
    }
  info = query ();
  if (info == NULL || info->abi_version != HOLDER_BACKEND_ABI_VERSION)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                   "backend module %s was built for backend ABI %u, but this "
                   "libholder %s has backend ABI %u: rebuild the module against it",
                   path, info != NULL ? info->abi_version : 0, HOLDER_VERSION,
                   HOLDER_BACKEND_ABI_VERSION);
      return NULL;
    }
  if (info->klass == NULL || g_strcmp0 (info->klass->name, name) != 0)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                   "backend module %s calls itself \"%s\", not \"%s\"", path,
                   info->klass != NULL && info->klass->name != NULL ? info->klass->name : "",
                   name);
      return NULL;
    }
  slot = missing_slot (info->klass);
  if (slot != NULL)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                   "backend module %s does not implement %s", path, slot);
      return NULL;
    }

  return info->klass;
}

static const HolderBackendClass *
load_module (const char  *name,
             const char  *path,
             GError     **error)
{
  GModule *module;
  const HolderBackendClass *klass;

  if (!module_is_trusted (path, error))
    return NULL;

  /* Local binding: two modules may carry namesakes of their own. */
  module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                   "cannot load backend module %s: %s", path, g_module_error ());
      return NULL;
    }
  klass = check_module (module, name, path, error);
  if (klass == NULL)
    {
      g_module_close (module);
      return NULL;
    }
  g_debug ("backend %s loaded from %s", name, path);
  g_module_make_resident (module);
  return klass;
}

static void
set_no_backend_error (GError            **error,
                      const char         *name,
                      const char *const  *search_path)
{
  g_autoptr(GString) message = g_string_new ("no backend ");
  g_auto(GStrv) installed = holder_backend_list_names ();
  g_autofree char *where = g_strjoinv (", ", (char **) search_path);
  g_autofree char *have = g_strjoinv (", ", installed);

  holder_append_go_quoted (message, name);
  g_string_append_printf (message, " in %s; installed: %s", where, have);
  for (guint i = 0; platform_only[i].name != NULL; i++)
    if (g_str_equal (platform_only[i].name, name))
      g_string_append_printf (message, " (%s)", platform_only[i].requirement);
  g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND, message->str);
}

const HolderBackendClass *
holder_backend_lookup (const char *name,
                       GError    **error)
{
  const HolderBackendClass *klass;
  g_auto(GStrv) search_path = NULL;
  g_autofree char *path = NULL;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_str_equal (name, "fake"))
    return &holder_backend_fake_class;

  search_path = holder_backend_get_search_path ();
  if (!backend_name_is_valid (name))
    {
      set_no_backend_error (error, name, (const char *const *) search_path);
      return NULL;
    }

  G_LOCK (loaded_classes);
  klass = loaded_classes != NULL ? g_hash_table_lookup (loaded_classes, name) : NULL;
  if (klass == NULL)
    {
      path = find_module ((const char *const *) search_path, name);
      if (path == NULL)
        set_no_backend_error (error, name, (const char *const *) search_path);
      else
        klass = load_module (name, path, error);
      if (klass != NULL)
        {
          if (loaded_classes == NULL)
            loaded_classes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
          g_hash_table_insert (loaded_classes, g_strdup (name), (gpointer) klass);
        }
    }
  G_UNLOCK (loaded_classes);
  return klass;
}

const HolderBackendClass *
holder_backend_select_from_env (GError **error)
{
  const char *requested;
  const HolderBackendClass *klass;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  requested = g_getenv ("FLEETBOX_BACKEND");
  if (requested != NULL && requested[0] != '\0')
    return holder_backend_lookup (requested, error);

  if (PLATFORM_DEFAULT_BACKEND == NULL)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                           "this platform has no default backend; set FLEETBOX_BACKEND");
      return NULL;
    }

  klass = holder_backend_lookup (PLATFORM_DEFAULT_BACKEND, &local_error);
  if (klass != NULL)
    return klass;
  /* Say both ways out: the fake for a test run, and the build option
   * that brings the real backend in. */
  g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
               "%s; set FLEETBOX_BACKEND=fake for a test run, or build and "
               "install holder with -Dbackends=%s",
               local_error->message, PLATFORM_DEFAULT_BACKEND);
  return NULL;
}

GPtrArray *
holder_backend_list (void)
{
  g_auto(GStrv) names = holder_backend_list_names ();
  g_auto(GStrv) search_path = holder_backend_get_search_path ();
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) holder_backend_info_free);

  for (guint i = 0; names[i] != NULL; i++)
    {
      HolderBackendInfo *info = g_new0 (HolderBackendInfo, 1);
      g_autoptr(GError) error = NULL;

      info->name = g_strdup (names[i]);
      if (!g_str_equal (names[i], "fake"))
        info->path = find_module ((const char *const *) search_path, names[i]);
      info->loads = holder_backend_lookup (names[i], &error) != NULL;
      if (!info->loads)
        info->error = g_strdup (error->message);
      g_ptr_array_add (list, info);
    }
  return list;
}
