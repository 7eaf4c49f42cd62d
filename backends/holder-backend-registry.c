/* SPDX-License-Identifier: MIT
 *
 * The one table of compiled-in backends. Adding a backend means adding its
 * folder under backends/ (which appends -DHOLDER_HAVE_BACKEND_<NAME>) and
 * one guarded line in each of the two blocks below.
 */
#define G_LOG_DOMAIN "holder-backend"

#include "holder-backend.h"
#include "holder-error.h"
#include "holder-util-private.h"

#ifdef HOLDER_HAVE_BACKEND_FAKE
extern const HolderBackendClass holder_backend_fake_class;
#endif
#ifdef HOLDER_HAVE_BACKEND_CLOUD_HYPERVISOR
extern const HolderBackendClass holder_backend_cloud_hypervisor_class;
#endif
#ifdef HOLDER_HAVE_BACKEND_LIBVIRT
extern const HolderBackendClass holder_backend_libvirt_class;
#endif

/* NULL-terminated so that a build with no backend at all still compiles. */
static const HolderBackendClass *const backend_classes[] = {
#ifdef HOLDER_HAVE_BACKEND_FAKE
  &holder_backend_fake_class,
#endif
#ifdef HOLDER_HAVE_BACKEND_CLOUD_HYPERVISOR
  &holder_backend_cloud_hypervisor_class,
#endif
#ifdef HOLDER_HAVE_BACKEND_LIBVIRT
  &holder_backend_libvirt_class,
#endif
  NULL,
};

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

const char *const *
holder_backend_list_names (void)
{
  static const char *names[G_N_ELEMENTS (backend_classes)];
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      gsize i;

      for (i = 0; backend_classes[i] != NULL; i++)
        names[i] = backend_classes[i]->name;
      names[i] = NULL;
      g_once_init_leave (&initialized, 1);
    }

  return names;
}

/* "fake, cloud-hypervisor", or "none" for a build without backends. */
static char *
describe_compiled_in (void)
{
  const char *const *names = holder_backend_list_names ();

  if (names[0] == NULL)
    return g_strdup ("none");
  return g_strjoinv (", ", (char **) names);
}

static const HolderBackendClass *
find_class (const char *name)
{
  for (gsize i = 0; backend_classes[i] != NULL; i++)
    {
      if (g_strcmp0 (backend_classes[i]->name, name) == 0)
        return backend_classes[i];
    }
  return NULL;
}

const HolderBackendClass *
holder_backend_lookup (const char *name,
                       GError    **error)
{
  const HolderBackendClass *klass;
  g_autoptr(GString) message = NULL;
  g_autofree char *have = NULL;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  klass = find_class (name);
  if (klass != NULL)
    return klass;

  have = describe_compiled_in ();
  message = g_string_new ("unknown backend ");
  holder_append_go_quoted (message, name);
  g_string_append_printf (message, " (this helper has: %s)", have);
  g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                       message->str);
  return NULL;
}

const HolderBackendClass *
holder_backend_select_from_env (GError **error)
{
  const char *requested;
  const char *fallback = PLATFORM_DEFAULT_BACKEND;
  const HolderBackendClass *klass;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  requested = g_getenv ("FLEETBOX_BACKEND");
  if (requested != NULL && requested[0] != '\0')
    return holder_backend_lookup (requested, error);

  if (fallback == NULL)
    {
      g_set_error_literal (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                           "this platform has no default backend; "
                           "set FLEETBOX_BACKEND");
      return NULL;
    }

  klass = find_class (fallback);
  if (klass != NULL)
    return klass;

  /* Say both ways out: the fake for a test run (only when it is there to
   * be picked), and the build option that brings the real backend in. */
  if (find_class ("fake") != NULL)
    g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                 "this helper was built without the %s backend; "
                 "set FLEETBOX_BACKEND=fake for a test run, "
                 "or rebuild with -Dbackends=fake,%s",
                 fallback, fallback);
  else
    g_set_error (error, HOLDER_ERROR, HOLDER_ERROR_NO_BACKEND,
                 "this helper was built without the %s backend; "
                 "rebuild with -Dbackends=fake,%s",
                 fallback, fallback);
  return NULL;
}
