/* SPDX-License-Identifier: MIT
 *
 * The process suite: a root helper working in a store that a user owns
 * (uid 4242, who "ran sudo": SUDO_UID) or that a foreign user (uid 4343)
 * could reach. Each test plants what that user could plant (symbolic
 * links where the store has folders and files, wrong owners and modes) or
 * races the helper as that user, and checks that root did nothing outside
 * the store: a root-owned 0600 file and a root-owned folder elsewhere keep
 * their mode, owner, contents and entries.
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "holder-test-store-safety"

#include <dirent.h>
#include <sys/inotify.h>
#include <time.h>

#include "holder-test-process.h"
#include "holder-test-util.h"

/* How long the chmod race runs. */
#define RACE_SECONDS 3

/* A root-owned folder outside the store holding a root-owned 0600 file:
 * what an attacker would like root to change. */
typedef struct {
  char *dir;
  char *file;
  char *before_dir;
  char *before_file;
} Victim;

static Victim *
victim_new (void)
{
  Victim *v = g_new0 (Victim, 1);
  g_autoptr(GError) error = NULL;

  v->dir = g_dir_make_tmp ("holder-victim-XXXXXX", &error);
  g_assert_no_error (error);
  g_assert_no_errno (chmod (v->dir, 0755));
  v->file = g_build_filename (v->dir, "secret", NULL);
  g_assert_true (g_file_set_contents (v->file, "root only", -1, &error));
  g_assert_no_errno (chmod (v->file, 0600));
  v->before_dir = file_fingerprint (v->dir);
  v->before_file = file_fingerprint (v->file);
  return v;
}

/* Nothing changed: the file's mode, owner, inode and contents, and the
 * folder holds nothing new. */
static void
victim_assert_untouched (Victim *v)
{
  g_autofree char *after_file = file_fingerprint (v->file);
  g_autoptr(GDir) dir = g_dir_open (v->dir, 0, NULL);
  const char *entry;

  g_assert_cmpstr (after_file, ==, v->before_file);
  g_assert_nonnull (dir);
  while ((entry = g_dir_read_name (dir)) != NULL)
    g_assert_cmpstr (entry, ==, "secret");
}

static void
victim_free (Victim *v)
{
  holder_test_remove_tree (v->dir);
  g_free (v->dir);
  g_free (v->file);
  g_free (v->before_dir);
  g_free (v->before_file);
  g_free (v);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Victim, victim_free)

static gboolean
skip_unless_root (void)
{
  if (geteuid () == 0)
    return FALSE;
  g_test_skip ("needs root to act as other users");
  return TRUE;
}

/* The store, made by its owner as the owner would (folders 0755 of
 * OWNER_UID), without the helper. */
static void
make_store_as_owner (Sandbox *sb)
{
  static const char *const subs[] = { "", "clusters", "images", "run", NULL };

  for (guint i = 0; subs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (sb->root, subs[i], NULL);

      g_assert_no_errno (g_mkdir_with_parents (path, 0755));
      g_assert_no_errno (chmod (path, 0755));
      g_assert_no_errno (lchown (path, OWNER_UID, OWNER_UID));
    }
}

static void
mkdir_as (const char *path,
          uid_t       uid,
          mode_t      mode)
{
  g_assert_no_errno (g_mkdir_with_parents (path, 0755));
  g_assert_no_errno (chmod (path, mode));
  g_assert_no_errno (lchown (path, uid, uid));
}

/* A link the owner planted. */
static void
plant_link (const char *target,
            const char *path)
{
  g_assert_no_errno (symlink (target, path));
  g_assert_no_errno (lchown (path, OWNER_UID, OWNER_UID));
}

/* The helper refuses to start, with exit status 1 and a message that
 * contains @needle. */
static void
assert_refused (Sandbox    *sb,
                const char *names,
                const char *needle)
{
  g_autofree char *err = NULL;
  int status = run_helper_to_exit (sb, names, scaled (10000), &err);

  g_test_message ("helper: %s", err);
  g_assert_cmpint (status, ==, 1);
  g_assert_nonnull (strstr (err, needle));
}

/* ---- links -------------------------------------------------------------- */

static void
test_symlinked_run (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(Victim) v = NULL;
  g_autofree char *run = NULL;
  g_autofree char *needle = NULL;

  if (skip_unless_root ())
    return;
  sb = sandbox_new ();
  v = victim_new ();
  sandbox_own_by (sb, OWNER_UID);
  make_store_as_owner (sb);
  run = g_build_filename (sb->root, "run", NULL);
  g_assert_no_errno (rmdir (run));
  plant_link (v->dir, run);

  needle = g_strdup_printf ("%s is a symbolic link", run);
  assert_refused (sb, "web-1", needle);
  victim_assert_untouched (v);
}

static void
test_symlinked_clusters (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(Victim) v = NULL;
  g_autofree char *clusters = NULL;
  g_autofree char *needle = NULL;

  if (skip_unless_root ())
    return;
  sb = sandbox_new ();
  v = victim_new ();
  sandbox_own_by (sb, OWNER_UID);
  make_store_as_owner (sb);
  clusters = g_build_filename (sb->root, "clusters", NULL);
  g_assert_no_errno (rmdir (clusters));
  plant_link (v->dir, clusters);

  needle = g_strdup_printf ("%s is a symbolic link", clusters);
  assert_refused (sb, "web-1", needle);
  victim_assert_untouched (v);
}

/* A cluster folder, then a member folder, that is a link to a folder
 * holding a root file called `pid`: root must neither write it nor remove
 * it (it did both before). */
static void
test_symlinked_member_folders (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(Victim) v = NULL;
  g_autofree char *pid = NULL;
  g_autofree char *pid_before = NULL;
  g_autofree char *pid_after = NULL;
  g_autofree char *cluster = NULL;
  g_autofree char *web = NULL;
  g_autofree char *member = NULL;
  g_autofree char *needle = NULL;

  if (skip_unless_root ())
    return;
  sb = sandbox_new ();
  v = victim_new ();
  pid = g_build_filename (v->dir, "pid", NULL);
  g_assert_true (g_file_set_contents (pid, "1", -1, NULL));
  g_assert_no_errno (chmod (pid, 0600));
  pid_before = file_fingerprint (pid);
  sandbox_own_by (sb, OWNER_UID);
  make_store_as_owner (sb);

  cluster = g_build_filename (sb->root, "clusters", "sym", NULL);
  plant_link (v->dir, cluster);
  needle = g_strdup_printf ("%s is a symbolic link", cluster);
  assert_refused (sb, "sym-1", needle);

  web = g_build_filename (sb->root, "clusters", "web", NULL);
  mkdir_as (web, OWNER_UID, 0755);
  member = g_build_filename (web, "web-1", NULL);
  plant_link (v->dir, member);
  g_clear_pointer (&needle, g_free);
  needle = g_strdup_printf ("%s is a symbolic link", member);
  assert_refused (sb, "web-1", needle);

  pid_after = file_fingerprint (pid);
  g_assert_cmpstr (pid_after, ==, pid_before);
  g_assert_no_errno (unlink (pid));
  victim_assert_untouched (v);
  /* Refused before binding: no socket of the name is left in run/. */
  assert_no_helper_files (sb, (const char *[]) { "web-1", "sym-1", NULL });
}

/* The pidfile is a link to a root file: root replaces the link (it writes
 * through a rename, never through the link), and a link planted while it
 * runs is left in place when it retires (it removes only its own inode). */
static void
test_symlinked_pidfile (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(Victim) v = NULL;
  g_autoptr(GSubprocess) helper = NULL;
  g_autofree char *member = NULL;
  g_autofree char *cluster = NULL;
  g_autofree char *pidfile = NULL;
  const char *names[] = { "web-1", NULL };
  struct stat st;
  GPid pid;

  if (skip_unless_root ())
    return;
  sb = sandbox_new ();
  v = victim_new ();
  sandbox_own_by (sb, OWNER_UID);
  make_store_as_owner (sb);
  member = member_dir (sb, "web-1");
  mkdir_as (member, OWNER_UID, 0755);
  cluster = g_path_get_dirname (member);
  g_assert_no_errno (lchown (cluster, OWNER_UID, OWNER_UID));
  pidfile = pidfile_path (sb, "web-1");
  plant_link (v->file, pidfile);

  helper = spawn_helper (sb, (const char *[]) { "--fleetbox-runner", "web-1", NULL });
  pid = subprocess_pid (helper);
  wait_ready (sb, helper, pid, names, FALSE);
  g_assert_no_errno (lstat (pidfile, &st));
  g_assert_true (S_ISREG (st.st_mode));
  victim_assert_untouched (v);

  /* The owner swaps the pidfile for a link while the helper runs. */
  g_assert_no_errno (unlink (pidfile));
  plant_link (v->file, pidfile);
  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_cmpint (wait_exit (helper, pid, scaled (10000)), ==, 0);
  g_assert_no_errno (lstat (pidfile, &st));
  g_assert_true (S_ISLNK (st.st_mode));
  victim_assert_untouched (v);
}

/* The member's lock file is a link to a root file: refused, not opened. */
static void
test_symlinked_lock_file (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(Victim) v = NULL;
  g_autofree char *h = sha256_hex16 ("web-1");
  g_autofree char *lock = NULL;
  g_autofree char *needle = NULL;

  if (skip_unless_root ())
    return;
  sb = sandbox_new ();
  v = victim_new ();
  sandbox_own_by (sb, OWNER_UID);
  make_store_as_owner (sb);
  lock = g_strdup_printf ("%s/run/%s.sock.lock", sb->root, h);
  plant_link (v->file, lock);

  needle = g_strdup_printf ("lock file %s is a symbolic link", lock);
  assert_refused (sb, "web-1", needle);
  victim_assert_untouched (v);
}

/* The folder where root binds its sockets, planted by the owner: a link
 * to a folder of root's, or a folder of the owner's own holding a file.
 * Root binds in a fresh folder of its own instead, and neither puts
 * anything in nor removes either. */
static void
test_planted_bind_folder (void)
{
  const char *names[] = { "web-1", NULL };

  if (skip_unless_root ())
    return;
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(Sandbox) sb = sandbox_new ();
      g_autoptr(Victim) v = victim_new ();
      g_autoptr(GSubprocess) helper = NULL;
      g_autofree char *planted = NULL;
      char events[4096];
      GPid pid;
      int watch;

      sandbox_own_by (sb, OWNER_UID);
      make_store_as_owner (sb);
      planted = g_strdup_printf ("%s/run/.bind-shared-%u", sb->root, (unsigned) geteuid ());
      if (round == 0)
        plant_link (v->dir, planted);
      else
        {
          g_autofree char *mine = g_build_filename (planted, "mine", NULL);

          mkdir_as (planted, OWNER_UID, 0700);
          g_assert_true (g_file_set_contents (mine, "", 0, NULL));
        }

      /* A socket bound there and renamed away at once would leave no
       * trace but its events. */
      watch = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
      g_assert_cmpint (watch, >=, 0);
      g_assert_cmpint (inotify_add_watch (watch, round == 0 ? v->dir : planted,
                                          IN_CREATE | IN_MOVED_FROM | IN_DELETE), >=, 0);

      helper = spawn_helper (sb, (const char *[]) { "--fleetbox-runner", "web-1", NULL });
      pid = subprocess_pid (helper);
      wait_ready (sb, helper, pid, names, FALSE);
      assert_status (sb, "web-1", pid, TRUE, "", "starting", NULL);
      g_assert_no_errno (kill (pid, SIGTERM));
      g_assert_cmpint (wait_exit (helper, pid, scaled (10000)), ==, 0);

      g_assert_cmpint (read (watch, events, sizeof events), ==, -1);
      g_assert_cmpint (errno, ==, EAGAIN);
      close (watch);
      victim_assert_untouched (v);
      if (round == 1)
        {
          g_autoptr(GDir) dir = g_dir_open (planted, 0, NULL);
          GStatBuf st;

          g_assert_nonnull (dir);
          g_assert_cmpstr (g_dir_read_name (dir), ==, "mine");
          g_assert_null (g_dir_read_name (dir));
          g_assert_no_errno (g_lstat (planted, &st));
          g_assert_cmpuint (st.st_uid, ==, OWNER_UID);
        }
    }
}

/* A detached helper's log (opened by the client, root here): a link to a
 * root file is refused, not appended to. */
static void
test_symlinked_runner_log (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(Victim) v = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  const char *names[] = { "web-1", NULL };

  if (skip_unless_root ())
    return;
  sb = sandbox_new ();
  v = victim_new ();
  sandbox_own_by (sb, OWNER_UID);
  make_store_as_owner (sb);
  log = g_build_filename (sb->root, "runner-web-1.log", NULL);
  plant_link (v->file, log);

  /* The client runs as root under the owner's sudo too. */
  g_setenv ("SUDO_UID", "4242", TRUE);
  g_assert_null (holder_helper_spawn (sb->program, names, (const char *const *) sb->env,
                                      HOLDER_SPAWN_FLAGS_DETACHED, &error));
  g_unsetenv ("SUDO_UID");
  g_test_message ("spawn: %s", error->message);
  g_assert_error (error, HOLDER_ERROR, HOLDER_ERROR_UNSAFE_PATH);
  g_assert_nonnull (strstr (error->message, log));
  victim_assert_untouched (v);
}

/* ---- owners and modes --------------------------------------------------- */

static void
test_foreign_owner_refused (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autofree char *needle = NULL;
  g_autofree char *run = NULL;
  g_autofree char *networks = NULL;

  if (skip_unless_root ())
    return;
  sb = sandbox_new ();
  sandbox_own_by (sb, OWNER_UID);
  make_store_as_owner (sb);

  /* The root belongs to someone else. */
  g_assert_no_errno (lchown (sb->root, FOREIGN_UID, FOREIGN_UID));
  needle = g_strdup_printf ("unsafe storage folder %s (owner uid %d, mode 0755)", sb->root,
                            FOREIGN_UID);
  assert_refused (sb, "web-1", needle);
  g_clear_pointer (&needle, g_free);
  needle = g_strdup_printf ("chown %d '%s'", OWNER_UID, sb->root);
  assert_refused (sb, "web-1", needle);
  g_assert_no_errno (lchown (sb->root, OWNER_UID, OWNER_UID));

  /* Writable by others. */
  g_assert_no_errno (chmod (sb->root, 0777));
  g_clear_pointer (&needle, g_free);
  needle = g_strdup_printf ("(owner uid %d, mode 0777)", OWNER_UID);
  assert_refused (sb, "web-1", needle);
  g_clear_pointer (&needle, g_free);
  needle = g_strdup_printf ("chmod go-w '%s'", sb->root);
  assert_refused (sb, "web-1", needle);
  g_assert_no_errno (chmod (sb->root, 0755));

  /* run/ of a foreign user. */
  run = g_build_filename (sb->root, "run", NULL);
  g_assert_no_errno (lchown (run, FOREIGN_UID, FOREIGN_UID));
  g_clear_pointer (&needle, g_free);
  needle = g_strdup_printf ("unsafe storage folder %s (owner uid %d", run, FOREIGN_UID);
  assert_refused (sb, "web-1", needle);
  g_assert_no_errno (lchown (run, OWNER_UID, OWNER_UID));

  /* networks/, if present, too. */
  networks = g_build_filename (sb->root, "networks", NULL);
  mkdir_as (networks, FOREIGN_UID, 0777);
  g_clear_pointer (&needle, g_free);
  needle = g_strdup_printf ("unsafe storage folder %s (owner uid %d, mode 0777)", networks,
                            FOREIGN_UID);
  assert_refused (sb, "web-1", needle);
  g_assert_no_errno (rmdir (networks));

  /* A folder on the way that another user could replace the store in. */
  {
    g_autofree char *shared = g_build_filename (sb->dir, "shared", NULL);

    mkdir_as (shared, FOREIGN_UID, 0777);
    g_free (sb->root);
    sb->root = g_build_filename (shared, "store", NULL);
    sandbox_setenv (sb, "FLEETBOX_HOME", sb->root);
    g_clear_pointer (&needle, g_free);
    needle = g_strdup_printf ("the folder %s on its way (owner uid %d, mode 0777)", shared,
                              FOREIGN_UID);
    assert_refused (sb, "web-1", needle);
    g_assert_false (path_exists (sb->root));
  }
}

/* What root makes in the owner's store belongs to the owner, and the
 * owner can reach the sockets (its commands are accepted). */
static void
test_made_for_the_owner (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(GSubprocess) helper = NULL;
  const char *names[] = { "web-1", NULL };
  const char *const owned[] = { "", "clusters", "images", "run", "clusters/web",
                                "clusters/web/web-1", NULL };
  g_autofree char *h = sha256_hex16 ("web-1");
  g_autofree char *lock = NULL;
  g_autofree char *sock = NULL;
  struct stat st;
  GPid pid;
  int pipefd[2];
  pid_t child;

  if (skip_unless_root ())
    return;
  sb = sandbox_new ();
  sandbox_own_by (sb, OWNER_UID);
  g_assert_false (path_exists (sb->root));

  helper = spawn_helper (sb, (const char *[]) { "--fleetbox-runner", "web-1", NULL });
  pid = subprocess_pid (helper);
  wait_ready (sb, helper, pid, names, FALSE);

  for (guint i = 0; owned[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (sb->root, owned[i], NULL);

      g_test_message ("%s", path);
      g_assert_no_errno (lstat (path, &st));
      g_assert_true (S_ISDIR (st.st_mode));
      g_assert_cmpuint (st.st_uid, ==, OWNER_UID);
      g_assert_cmpuint (st.st_gid, ==, OWNER_UID);
      g_assert_cmpint (st.st_mode & 07777, ==, 0755);
    }
  lock = g_strdup_printf ("%s/run/%s.sock.lock", sb->root, h);
  g_assert_no_errno (lstat (lock, &st));
  g_assert_cmpuint (st.st_uid, ==, OWNER_UID);
  sock = sock_path (sb, "web-1");
  g_assert_no_errno (lstat (sock, &st));
  g_assert_true (S_ISSOCK (st.st_mode));
  g_assert_cmpint (st.st_mode & 0777, ==, 0666);

  /* The owner asks for the status over the socket. */
  g_assert_no_errno (pipe (pipefd));
  child = fork_as (OWNER_UID);
  if (child == 0)
    {
      struct sockaddr_un addr = { .sun_family = AF_UNIX };
      static const char request[] = "{\"cmd\":\"status\"}\n";
      char buf[512];
      ssize_t n;
      int fd = socket (AF_UNIX, SOCK_STREAM, 0);

      close (pipefd[0]);
      strncpy (addr.sun_path, sock, sizeof addr.sun_path - 1);
      if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0 ||
          write (fd, request, sizeof request - 1) != sizeof request - 1)
        _exit (3);
      while ((n = read (fd, buf, sizeof buf)) > 0)
        if (write (pipefd[1], buf, n) != n)
          _exit (4);
      child_exit_ok ();
    }
  close (pipefd[1]);
  {
    g_autofree char *reply = read_to_eof (pipefd[0], scaled (10000), NULL);
    g_autofree char *expected = expected_status ("web-1", pid, TRUE, "", "starting", NULL);

    close (pipefd[0]);
    g_assert_cmpint (wait_child (child), ==, 0);
    g_assert_cmpstr (reply, ==, expected);
  }

  g_assert_no_errno (kill (pid, SIGTERM));
  g_assert_cmpint (wait_exit (helper, pid, scaled (10000)), ==, 0);
  assert_no_helper_files (sb, names);
}

/* ---- the chmod race ----------------------------------------------------- */

static gint64
monotonic_usec (void)
{
  struct timespec now;

  clock_gettime (CLOCK_MONOTONIC, &now);
  return (gint64) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* The owner's side of the race, for RACE_SECONDS, in two forked children
 * (so only system calls): one swaps the member sockets for links to the
 * victim, over and over, as fast as it can (the window the old helper had
 * between its bind() and its chmod() by path); the other does the same to
 * the pidfiles, and moves any private bind folder of the helper away,
 * leaving a link to the victim's folder in its place. */
static void
race_sockets (char      **socks,
              const char *run,
              const char *victim_file,
              gint64      end_usec)
{
  char tmp[4096];

  snprintf (tmp, sizeof tmp, "%s/.race-socket", run);
  while (monotonic_usec () < end_usec)
    for (guint i = 0; socks[i] != NULL; i++)
      {
        unlink (tmp);
        if (symlink (victim_file, tmp) == 0)
          rename (tmp, socks[i]);
      }
}

static void
race_pidfiles_and_folders (char      **pidfiles,
                           const char *run,
                           const char *victim_file,
                           const char *victim_dir,
                           gint64      end_usec)
{
  char tmp[4096], moved[4096];
  guint round = 0;

  snprintf (tmp, sizeof tmp, "%s/.race-pidfile", run);
  while (monotonic_usec () < end_usec)
    {
      DIR *dir;
      struct dirent *entry;

      for (guint i = 0; pidfiles[i] != NULL; i++)
        {
          unlink (tmp);
          if (symlink (victim_file, tmp) == 0)
            rename (tmp, pidfiles[i]);
        }
      dir = opendir (run);
      while (dir != NULL && (entry = readdir (dir)) != NULL)
        {
          char path[4096];

          if (strncmp (entry->d_name, ".bind-", 6) != 0)
            continue;
          snprintf (path, sizeof path, "%s/%s", run, entry->d_name);
          snprintf (moved, sizeof moved, "%s/moved-%u", run, round++);
          if (rename (path, moved) == 0)
            symlink (victim_dir, path);
        }
      if (dir != NULL)
        closedir (dir);
    }
}

/* The helper @pid has registered race-2, its last name: it holds the
 * lock (the racer swaps sockets and pidfiles, not locks), or its pidfile
 * names it (should the racer not have swapped it). */
static gboolean
serves_both (Sandbox *sb,
             GPid     pid)
{
  return holder_store_member_is_served (sb->root, "race-2", NULL) ||
         read_pidfile (sb, "race-2") == pid;
}

static void
test_chmod_race (void)
{
  g_autoptr(Sandbox) sb = NULL;
  g_autoptr(Victim) v = NULL;
  const char *const names[] = { "race-1", "race-2", NULL };
  g_autoptr(GPtrArray) socks = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) pidfiles = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *run = NULL;
  gint64 end;
  guint starts = 0, served = 0;
  pid_t racers[2];

  if (skip_unless_root ())
    return;
  sb = sandbox_new ();
  v = victim_new ();
  sandbox_own_by (sb, OWNER_UID);
  make_store_as_owner (sb);
  run = g_build_filename (sb->root, "run", NULL);
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *member = member_dir (sb, names[i]);
      g_autofree char *cluster = g_path_get_dirname (member);

      mkdir_as (member, OWNER_UID, 0755);
      g_assert_no_errno (lchown (cluster, OWNER_UID, OWNER_UID));
      g_ptr_array_add (socks, sock_path (sb, names[i]));
      g_ptr_array_add (pidfiles, pidfile_path (sb, names[i]));
    }
  g_ptr_array_add (socks, NULL);
  g_ptr_array_add (pidfiles, NULL);

  end = g_get_monotonic_time () + RACE_SECONDS * G_USEC_PER_SEC;
  racers[0] = fork_as (OWNER_UID);
  if (racers[0] == 0)
    {
      race_sockets ((char **) socks->pdata, run, v->file, end);
      child_exit_ok ();
    }
  racers[1] = fork_as (OWNER_UID);
  if (racers[1] == 0)
    {
      race_pidfiles_and_folders ((char **) pidfiles->pdata, run, v->file, v->dir, end);
      child_exit_ok ();
    }

  /* Meanwhile root starts and stops helpers for those names. */
  while (g_get_monotonic_time () < end)
    {
      g_autoptr(GSubprocess) helper = spawn_helper (sb, (const char *[]) {
        "--fleetbox-runner", "race-1,race-2", NULL });
      GPid pid = subprocess_pid (helper);
      gint64 deadline = g_get_monotonic_time () + scaled (500) * 1000;
      int status;

      starts++;
      /* Serving both names, or gone. */
      while (g_get_monotonic_time () < deadline &&
             g_subprocess_get_identifier (helper) != NULL &&
             !serves_both (sb, pid))
        g_usleep (1000);
      if (g_subprocess_get_identifier (helper) != NULL && serves_both (sb, pid))
        served++;
      kill (pid, SIGTERM);
      status = wait_exit (helper, pid, scaled (10000));
      g_assert_true (status == 0 || status == 1);
      victim_assert_untouched (v);
    }
  g_assert_cmpint (wait_child (racers[0]), ==, 0);
  g_assert_cmpint (wait_child (racers[1]), ==, 0);
  g_test_message ("%u helpers started, %u served, during a %d s race", starts, served,
                  RACE_SECONDS);
  g_assert_cmpuint (starts, >, 0);
  g_assert_cmpuint (served, >, 0);
  victim_assert_untouched (v);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);
  process_test_init ();

  g_test_add_func ("/store-safety/symlinked-run", test_symlinked_run);
  g_test_add_func ("/store-safety/symlinked-clusters", test_symlinked_clusters);
  g_test_add_func ("/store-safety/symlinked-member-folders", test_symlinked_member_folders);
  g_test_add_func ("/store-safety/symlinked-pidfile", test_symlinked_pidfile);
  g_test_add_func ("/store-safety/symlinked-lock-file", test_symlinked_lock_file);
  g_test_add_func ("/store-safety/symlinked-runner-log", test_symlinked_runner_log);
  g_test_add_func ("/store-safety/planted-bind-folder", test_planted_bind_folder);
  g_test_add_func ("/store-safety/foreign-owner-refused", test_foreign_owner_refused);
  g_test_add_func ("/store-safety/made-for-the-owner", test_made_for_the_owner);
  g_test_add_func ("/store-safety/chmod-race", test_chmod_race);
  return g_test_run ();
}
