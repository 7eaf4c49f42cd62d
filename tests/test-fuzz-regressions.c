/* SPDX-License-Identifier: MIT
 *
 * Replays the fuzzers' seed corpus and every input that once crashed them
 * (fuzz/regressions) through the fuzzers' own entry point, in every build,
 * so a codec change that breaks one fails `meson test --suite unit` without
 * clang or libFuzzer.
 */
#define G_LOG_DOMAIN "holder-test"

#include <string.h>

#include "../fuzz/fuzz-harness.h"

/* The source tree's fuzz/ folder. G_TEST_SRCDIR (tests/) when the test
 * runner sets it; otherwise from __FILE__, which meson gives relative to
 * the build root, the grandparent of this program. */
static char *
fuzz_dir (void)
{
  const char *srcdir = g_getenv ("G_TEST_SRCDIR");
  g_autofree char *tests_dir = NULL;
  g_autofree char *exe = NULL;
  g_autofree char *build_root = NULL;
  g_autofree char *exe_dir = NULL;

  if (srcdir != NULL)
    return g_build_filename (srcdir, "..", "fuzz", NULL);

  tests_dir = g_path_get_dirname (__FILE__);
  if (g_path_is_absolute (tests_dir))
    return g_build_filename (tests_dir, "..", "fuzz", NULL);

  exe = g_file_read_link ("/proc/self/exe", NULL);
  g_assert_nonnull (exe);
  exe_dir = g_path_get_dirname (exe);
  build_root = g_path_get_dirname (exe_dir);
  return g_build_filename (build_root, tests_dir, "..", "fuzz", NULL);
}

typedef HolderFuzzOutcome (*FuzzEntry) (const guint8 *data, gsize size);

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* Every regular file under @sub, sorted, as full paths. */
static GPtrArray *
list_inputs (const char *sub)
{
  g_autofree char *dir_path = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *base = fuzz_dir ();
  const char *name;

  dir_path = g_build_filename (base, sub, NULL);
  dir = g_dir_open (dir_path, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir_path, name, NULL);

      if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (paths, g_steal_pointer (&path));
    }
  g_ptr_array_sort (paths, compare_paths);
  return paths;
}

static HolderFuzzOutcome
replay_file (const char *path,
             FuzzEntry   entry)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize len = 0;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  g_test_message ("replaying %s (%" G_GSIZE_FORMAT " bytes)", path, len);
  return entry ((const guint8 *) contents, len);
}

/* The seeds are real protocol messages: each must round-trip, except the
 * ones named bad-*, which must be refused as protocol errors. */
static void
check_corpus (const char *kind,
              FuzzEntry   entry)
{
  g_autofree char *sub = g_build_filename ("corpus", kind, NULL);
  g_autoptr(GPtrArray) paths = list_inputs (sub);
  guint n_bad = 0;

  /* A wrong folder must not pass by replaying nothing. */
  g_assert_cmpuint (paths->len, >=, 10);
  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);
      g_autofree char *base = g_path_get_basename (path);
      HolderFuzzOutcome outcome = replay_file (path, entry);

      if (g_str_has_prefix (base, "bad-"))
        {
          g_assert_cmpint (outcome, ==, HOLDER_FUZZ_REJECTED);
          n_bad++;
        }
      else
        g_assert_cmpint (outcome, ==, HOLDER_FUZZ_ROUND_TRIPPED);
    }
  g_assert_cmpuint (n_bad, >=, 2);
}

static void
test_corpus_request (void)
{
  check_corpus ("request", holder_fuzz_request);
}

static void
test_corpus_reply (void)
{
  check_corpus ("reply", holder_fuzz_reply);
}

/* Each seed is a good mutation of the other side's messages too. */
static void
test_corpus_crossed (void)
{
  g_autoptr(GPtrArray) requests = list_inputs ("corpus/request");
  g_autoptr(GPtrArray) replies = list_inputs ("corpus/reply");

  for (guint i = 0; i < requests->len; i++)
    g_assert_cmpint (replay_file (g_ptr_array_index (requests, i), holder_fuzz_reply),
                     !=, HOLDER_FUZZ_NO_MESSAGE);
  for (guint i = 0; i < replies->len; i++)
    g_assert_cmpint (replay_file (g_ptr_array_index (replies, i), holder_fuzz_request),
                     !=, HOLDER_FUZZ_NO_MESSAGE);
}

/* Past crashes, through both decoders (they share the JSON reader). The
 * harness aborts on a broken property; each file must still be a message
 * (a crash input that frames to nothing would test nothing). */
static void
test_regressions (void)
{
  g_autoptr(GPtrArray) paths = list_inputs ("regressions");

  g_assert_cmpuint (paths->len, >=, 1);
  for (guint i = 0; i < paths->len; i++)
    {
      const char *path = g_ptr_array_index (paths, i);

      g_assert_cmpint (replay_file (path, holder_fuzz_request), !=, HOLDER_FUZZ_NO_MESSAGE);
      g_assert_cmpint (replay_file (path, holder_fuzz_reply), !=, HOLDER_FUZZ_NO_MESSAGE);
    }
}

/* Inputs the fuzzers cannot reach (they are capped far below 1 MiB): the
 * framing at HOLDER_CODEC_MAX_LINE, as the server applies it. */
static void
test_framing_limits (void)
{
  static const char object[] = "{\"cmd\":\"status\"}";
  const gsize max = HOLDER_CODEC_MAX_LINE;
  g_autofree guint8 *buf = g_malloc (max + 2);

  /* A line of exactly the cap, newline included, is read. */
  memset (buf, ' ', max + 2);
  memcpy (buf, object, strlen (object));
  buf[max - 1] = '\n';
  g_assert_cmpint (holder_fuzz_request (buf, max), ==, HOLDER_FUZZ_ROUND_TRIPPED);
  g_assert_cmpint (holder_fuzz_request (buf, max + 2), ==, HOLDER_FUZZ_ROUND_TRIPPED);

  /* One byte more before the newline and it is refused unread. */
  buf[max - 1] = ' ';
  buf[max] = '\n';
  g_assert_cmpint (holder_fuzz_request (buf, max + 1), ==, HOLDER_FUZZ_NO_MESSAGE);
  g_assert_cmpint (holder_fuzz_reply (buf, max + 1), ==, HOLDER_FUZZ_NO_MESSAGE);
  g_assert_cmpint (holder_fuzz_request (buf, max), ==, HOLDER_FUZZ_NO_MESSAGE);

  /* Closed without a newline, under the cap: still a message. */
  g_assert_cmpint (holder_fuzz_request (buf, max - 1), ==, HOLDER_FUZZ_ROUND_TRIPPED);
  g_assert_cmpint (holder_fuzz_request (buf, strlen (object)), ==, HOLDER_FUZZ_ROUND_TRIPPED);

  /* Nothing written: nothing parsed. */
  g_assert_cmpint (holder_fuzz_request (buf, 0), ==, HOLDER_FUZZ_NO_MESSAGE);
  g_assert_cmpint (holder_fuzz_reply (buf, 0), ==, HOLDER_FUZZ_NO_MESSAGE);

  /* Only the first line counts: what follows may be anything. */
  {
    static const char two[] = "{\"cmd\":\"stop\"}\n\xff{[\"";

    g_assert_cmpint (holder_fuzz_request ((const guint8 *) two, sizeof two - 1),
                     ==, HOLDER_FUZZ_ROUND_TRIPPED);
  }
  /* A lone newline is an empty message, refused. */
  g_assert_cmpint (holder_fuzz_reply ((const guint8 *) "\n", 1), ==, HOLDER_FUZZ_REJECTED);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/fuzz/corpus-request", test_corpus_request);
  g_test_add_func ("/fuzz/corpus-reply", test_corpus_reply);
  g_test_add_func ("/fuzz/corpus-crossed", test_corpus_crossed);
  g_test_add_func ("/fuzz/regressions", test_regressions);
  g_test_add_func ("/fuzz/framing-limits", test_framing_limits);

  return g_test_run ();
}
