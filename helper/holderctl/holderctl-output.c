/* holderctl-output.c: what holderctl prints: aligned tables, colour only on
 * a terminal, JSON, and short durations.
 *
 * SPDX-License-Identifier: MIT
 */
#define G_LOG_DOMAIN "holderctl"

#include <string.h>

#include "holderctl.h"

static const char *const color_codes[] = {
  [HOLDERCTL_COLOR_NONE] = NULL,
  [HOLDERCTL_COLOR_GREEN] = "\033[32m",
  [HOLDERCTL_COLOR_YELLOW] = "\033[33m",
  [HOLDERCTL_COLOR_RED] = "\033[31m",
  [HOLDERCTL_COLOR_DIM] = "\033[2m",
  [HOLDERCTL_COLOR_BOLD] = "\033[1m",
};

char *
holderctl_paint (HolderctlContext *ctx,
                 HolderctlColor    color,
                 const char       *text)
{
  if (!ctx->color || color == HOLDERCTL_COLOR_NONE || color_codes[color] == NULL)
    return g_strdup (text);
  return g_strconcat (color_codes[color], text, "\033[0m", NULL);
}

HolderctlColor
holderctl_state_color (const char *state)
{
  if (g_strcmp0 (state, "running") == 0)
    return HOLDERCTL_COLOR_GREEN;
  if (g_strcmp0 (state, "starting") == 0 || g_strcmp0 (state, "downloading") == 0)
    return HOLDERCTL_COLOR_YELLOW;
  if (g_strcmp0 (state, "error") == 0 || g_strcmp0 (state, "unknown") == 0)
    return HOLDERCTL_COLOR_RED;
  if (g_strcmp0 (state, "stopped") == 0)
    return HOLDERCTL_COLOR_DIM;
  return HOLDERCTL_COLOR_NONE;
}

struct _HolderctlTable {
  guint      columns;
  GPtrArray *rows;   /* of char ** (columns cells) */
  GPtrArray *colors; /* of HolderctlColor * (columns), one per row */
};

HolderctlTable *
holderctl_table_new (const char *const *headings)
{
  HolderctlTable *table = g_new0 (HolderctlTable, 1);

  table->columns = g_strv_length ((char **) headings);
  table->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  table->colors = g_ptr_array_new_with_free_func (g_free);
  holderctl_table_add_row (table, headings, NULL);
  return table;
}

void
holderctl_table_add_row (HolderctlTable       *table,
                         const char *const    *cells,
                         const HolderctlColor *colors)
{
  char **row = g_new0 (char *, table->columns + 1);
  HolderctlColor *row_colors = g_new0 (HolderctlColor, table->columns);

  for (guint i = 0; i < table->columns; i++)
    {
      row[i] = g_strdup (cells[i] != NULL ? cells[i] : "");
      row_colors[i] = colors != NULL ? colors[i] : HOLDERCTL_COLOR_NONE;
    }
  g_ptr_array_add (table->rows, row);
  g_ptr_array_add (table->colors, row_colors);
}

void
holderctl_table_print (HolderctlTable   *table,
                       HolderctlContext *ctx,
                       FILE             *out)
{
  g_autofree glong *widths = g_new0 (glong, table->columns);

  for (guint r = 0; r < table->rows->len; r++)
    {
      char **row = g_ptr_array_index (table->rows, r);

      for (guint c = 0; c < table->columns; c++)
        widths[c] = MAX (widths[c], g_utf8_strlen (row[c], -1));
    }

  for (guint r = 0; r < table->rows->len; r++)
    {
      char **row = g_ptr_array_index (table->rows, r);
      HolderctlColor *colors = g_ptr_array_index (table->colors, r);
      g_autoptr(GString) line = g_string_new (NULL);

      for (guint c = 0; c < table->columns; c++)
        {
          HolderctlColor color = r == 0 ? HOLDERCTL_COLOR_BOLD : colors[c];
          g_autofree char *painted = holderctl_paint (ctx, color, row[c]);
          gboolean last = c + 1 == table->columns;

          g_string_append (line, painted);
          if (!last)
            for (glong pad = g_utf8_strlen (row[c], -1); pad < widths[c] + 2; pad++)
              g_string_append_c (line, ' ');
        }
      fprintf (out, "%s\n", line->str);
    }
}

void
holderctl_table_free (HolderctlTable *table)
{
  if (table == NULL)
    return;
  g_ptr_array_unref (table->rows);
  g_ptr_array_unref (table->colors);
  g_free (table);
}

void
holderctl_print_json (JsonNode *node)
{
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, node);
  text = json_generator_to_data (generator, NULL);
  printf ("%s\n", text);
}

char *
holderctl_format_age (gint64 seconds)
{
  if (seconds < 0)
    seconds = 0;
  if (seconds < 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT "s", seconds);
  if (seconds < 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m%" G_GINT64_FORMAT "s",
                            seconds / 60, seconds % 60);
  if (seconds < 86400)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h%" G_GINT64_FORMAT "m",
                            seconds / 3600, (seconds % 3600) / 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT "d%" G_GINT64_FORMAT "h",
                          seconds / 86400, (seconds % 86400) / 3600);
}
