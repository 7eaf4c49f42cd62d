/* SPDX-License-Identifier: MIT
 *
 * bench-pss-helpers: what each additional helper costs the machine. Starts
 * HELPERS (16) bound helpers one after another (fake backend, one member
 * each, idle), and after each one sums the Pss of all of them: shared
 * library pages are divided among the processes that map them, so the sum
 * is the memory these helpers take together, and its growth per helper is
 * the cost of one more. The first helper's Pss is also reported, with no
 * other helper sharing its pages.
 *
 *   bench-pss-helpers [--build-dir DIR] [HELPERS]
 */
#define G_LOG_DOMAIN "holder-bench"

#include <stdio.h>
#include <stdlib.h>

#include "bench-common.h"

#define DEFAULT_HELPERS 16

int
main (int    argc,
      char **argv)
{
  g_autofree char *build_dir = bench_build_dir (&argc, &argv);
  g_autofree char *helper_path = bench_helper_path (build_dir);
  g_autofree char *root = bench_make_root ();
  g_auto(GStrv) env = bench_environ (root, "fake");
  guint helpers = argc > 1 ? (guint) atoi (argv[1]) : DEFAULT_HELPERS;
  g_autoptr(GPtrArray) spawned = g_ptr_array_new_with_free_func ((GDestroyNotify) holder_helper_free);
  gint64 first_kib = 0, total_kib = 0;

  if (helpers < 2)
    bench_die ("bench-pss-helpers: HELPERS must be 2 or more");

  printf ("bench-pss-helpers: %u idle bound helpers (fake, 1 member each)\n", helpers);
  for (guint i = 0; i < helpers; i++)
    {
      g_autofree char *name = g_strdup_printf ("pss-%u", i + 1);
      const char *names[] = { name, NULL };

      g_ptr_array_add (spawned, bench_spawn_bound (helper_path, names, (const char *const *) env));
      total_kib = 0;
      for (guint j = 0; j < spawned->len; j++)
        {
          gint64 pss = bench_proc_pss_kib (holder_helper_get_pid (g_ptr_array_index (spawned, j)));

          if (pss < 0)
            bench_die ("bench-pss-helpers: cannot read the Pss of helper %u", j + 1);
          total_kib += pss;
        }
      if (i == 0)
        first_kib = total_kib;
      if (i == 0 || i + 1 == helpers || (i + 1) % 4 == 0)
        printf ("  %2u helper(s): Pss in all %6.2f MiB, %5.2f MiB each\n", i + 1,
                total_kib / 1024.0, total_kib / 1024.0 / (i + 1));
    }

  printf ("  each additional helper: %.2f MiB\n",
          (total_kib - first_kib) / 1024.0 / (helpers - 1));
  bench_result ("pss_first_helper", first_kib / 1024.0, "MiB");
  bench_result ("pss_per_additional_helper", (total_kib - first_kib) / 1024.0 / (helpers - 1), "MiB");

  g_ptr_array_set_size (spawned, 0);
  bench_remove_tree (root);
  return 0;
}
