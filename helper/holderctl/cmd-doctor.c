/* cmd-doctor.c: `holderctl doctor`: each installed backend's host checks
 * (its check_host) and the storage root's, each failure with its fix. The
 * exit status says whether the default backend can boot here.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include "holderctl.h"

typedef struct {
  char      *backend;  /* or "storage root" */
  gboolean   can_boot;
  GPtrArray *checks;   /* of HolderHostCheck */
} Section;

static void
section_free (Section *section)
{
  g_free (section->backend);
  g_ptr_array_unref (section->checks);
  g_free (section);
}

static Section *
section_new (const char *backend)
{
  Section *section = g_new0 (Section, 1);

  section->backend = g_strdup (backend);
  section->checks = g_ptr_array_new_with_free_func ((GDestroyNotify) holder_host_check_free);
  return section;
}

static Section *
check_backend (const HolderBackendInfo *info,
               const char              *root)
{
  Section *section = section_new (info->name);
  g_autoptr(GError) error = NULL;
  const HolderBackendClass *klass;

  if (!info->loads || (klass = holder_backend_lookup (info->name, &error)) == NULL)
    {
      g_ptr_array_add (section->checks,
                       holder_host_check_new ("module", FALSE, TRUE,
                                              info->error != NULL ? info->error : error->message,
                                              "reinstall holder (meson install), or point "
                                              "FLEETBOX_BACKEND_DIR at its modules"));
      return section;
    }
  if (klass->check_host == NULL)
    {
      g_ptr_array_add (section->checks,
                       holder_host_check_new ("host", TRUE, FALSE,
                                              "needs nothing of this host", NULL));
      section->can_boot = TRUE;
      return section;
    }
  section->can_boot = klass->check_host (klass, root, section->checks);
  return section;
}

static void
print_section (HolderctlContext *ctx,
               const Section    *section,
               gboolean          is_default)
{
  g_autofree char *title = g_strdup_printf ("%s%s", section->backend,
                                            is_default ? " (default)" : "");
  g_autofree char *bold = holderctl_paint (ctx, HOLDERCTL_COLOR_BOLD, title);
  int width = 4;

  printf ("%s\n", bold);
  for (guint i = 0; i < section->checks->len; i++)
    {
      HolderHostCheck *check = g_ptr_array_index (section->checks, i);

      width = MAX (width, (int) g_utf8_strlen (check->name, -1));
    }
  for (guint i = 0; i < section->checks->len; i++)
    {
      HolderHostCheck *check = g_ptr_array_index (section->checks, i);
      const char *word = check->ok ? "ok  " : check->required ? "FAIL" : "warn";
      HolderctlColor color = check->ok ? HOLDERCTL_COLOR_GREEN
                             : check->required ? HOLDERCTL_COLOR_RED : HOLDERCTL_COLOR_YELLOW;
      g_autofree char *painted = holderctl_paint (ctx, color, word);

      printf ("  %s  %-*s  %s\n", painted, width, check->name, check->detail);
      if (!check->ok && check->fix != NULL)
        printf ("        %-*s  fix: %s\n", width, "", check->fix);
    }
}

static void
section_checks_to_json (const Section *section,
                        JsonArray     *array)
{
  for (guint i = 0; i < section->checks->len; i++)
    {
      HolderHostCheck *check = g_ptr_array_index (section->checks, i);
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "backend");
      json_builder_add_string_value (builder, section->backend);
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, check->name);
      json_builder_set_member_name (builder, "ok");
      json_builder_add_boolean_value (builder, check->ok);
      json_builder_set_member_name (builder, "required");
      json_builder_add_boolean_value (builder, check->required);
      json_builder_set_member_name (builder, "detail");
      json_builder_add_string_value (builder, check->detail);
      json_builder_set_member_name (builder, "fix");
      if (check->fix != NULL)
        json_builder_add_string_value (builder, check->fix);
      else
        json_builder_add_null_value (builder);
      json_builder_end_object (builder);
      json_array_add_element (array, json_builder_get_root (builder));
    }
}

int
holderctl_cmd_doctor (HolderctlContext *ctx,
                      int               argc,
                      char            **argv)
{
  g_autoptr(GPtrArray) installed = NULL;
  g_autoptr(GPtrArray) sections = g_ptr_array_new_with_free_func ((GDestroyNotify) section_free);
  const char *requested = g_getenv ("FLEETBOX_BACKEND");
  const char *default_backend;
  g_autoptr(GString) blockers = g_string_new (NULL);
  Section *store;
  gboolean can_boot = FALSE;
  gboolean found = FALSE;

  if (!holderctl_parse_options (ctx, &argc, &argv, "doctor",
                                "Check this host for each installed backend and the storage "
                                "root, with the fix\nfor each failure. Exits 0 when the default "
                                "backend (FLEETBOX_BACKEND, else the\nplatform's) can boot here, "
                                "3 when it cannot.", NULL))
    return HOLDERCTL_EXIT_USAGE;
  if (argc > 1)
    return holderctl_usage_error ("doctor", "unexpected argument \"%s\"", argv[1]);

  default_backend = requested != NULL && requested[0] != '\0'
                    ? requested : holder_backend_get_platform_default ();
  installed = holder_backend_list ();
  for (guint i = 0; i < installed->len; i++)
    g_ptr_array_add (sections, check_backend (g_ptr_array_index (installed, i), ctx->root));
  store = section_new ("storage root");
  store->can_boot = holder_store_check_root (ctx->root, store->checks);
  g_ptr_array_add (sections, store);

  for (guint i = 0; i < sections->len; i++)
    {
      Section *section = g_ptr_array_index (sections, i);

      if (g_strcmp0 (section->backend, default_backend) != 0)
        continue;
      found = TRUE;
      can_boot = section->can_boot && store->can_boot;
      for (guint j = 0; j < sections->len; j++)
        {
          Section *s = g_ptr_array_index (sections, j);

          if (s != section && s != store)
            continue;
          for (guint k = 0; k < s->checks->len; k++)
            {
              HolderHostCheck *check = g_ptr_array_index (s->checks, k);

              if (!check->ok && check->required)
                g_string_append_printf (blockers, "%s%s", blockers->len > 0 ? ", " : "",
                                        check->name);
            }
        }
    }

  if (ctx->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();
      g_autoptr(JsonArray) checks = json_array_new ();
      g_autoptr(JsonNode) root = NULL;

      for (guint i = 0; i < sections->len; i++)
        section_checks_to_json (g_ptr_array_index (sections, i), checks);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "root");
      json_builder_add_string_value (builder, ctx->root);
      json_builder_set_member_name (builder, "default_backend");
      if (default_backend != NULL)
        json_builder_add_string_value (builder, default_backend);
      else
        json_builder_add_null_value (builder);
      json_builder_set_member_name (builder, "can_boot");
      json_builder_add_boolean_value (builder, can_boot);
      json_builder_set_member_name (builder, "checks");
      json_builder_add_value (builder, json_node_init_array (json_node_alloc (), checks));
      json_builder_end_object (builder);
      root = json_builder_get_root (builder);
      holderctl_print_json (root);
    }
  else
    {
      for (guint i = 0; i < sections->len; i++)
        {
          Section *section = g_ptr_array_index (sections, i);

          if (i > 0)
            printf ("\n");
          print_section (ctx, section, g_strcmp0 (section->backend, default_backend) == 0);
        }
      printf ("\n");
      if (default_backend == NULL)
        printf ("This platform has no default backend: set FLEETBOX_BACKEND.\n");
      else if (!found)
        printf ("The default backend, %s, is not installed here (installed: see above).\n",
                default_backend);
      else if (can_boot)
        printf ("%s can boot VMs here.\n", default_backend);
      else
        printf ("%s cannot boot VMs here: %s.\n", default_backend, blockers->str);
    }
  return can_boot ? HOLDERCTL_EXIT_OK : HOLDERCTL_EXIT_ABSENT;
}
