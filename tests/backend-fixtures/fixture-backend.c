/* fixture-backend.c: modules the loader must refuse, one per build of this
 * file (tests/meson.build): FIXTURE_ABI is the ABI version it claims,
 * FIXTURE_CLASS_NAME the name its class gives; its vtable is empty.
 *
 * SPDX-License-Identifier: MIT
 */
#include <holder-backend.h>

static const HolderBackendClass fixture_class = {
  .name = FIXTURE_CLASS_NAME,
};

/* HOLDER_BACKEND_DEFINE_MODULE, with the ABI version of the fixture's
 * choosing. */
G_MODULE_EXPORT const HolderBackendModuleInfo *holder_backend_module_query (void);
G_MODULE_EXPORT const HolderBackendModuleInfo *
holder_backend_module_query (void)
{
  static const HolderBackendModuleInfo info = { FIXTURE_ABI, &fixture_class };
  return &info;
}
