/* SPDX-License-Identifier: MIT */
#define G_LOG_DOMAIN "ch-standin"

/*
 * ch-standin: a stand-in for cloud-hypervisor v52 used by the vm tests.
 *
 * cloud-hypervisor is not packaged here and nested KVM hangs, so the tests
 * run this program in its place.  It accepts the command line the holder
 * backend passes to cloud-hypervisor (and refuses everything else the way
 * clap or cloud-hypervisor's config parser would), serves the REST
 * endpoints the backend uses with cloud-hypervisor's status codes and
 * semantics, and boots the guest with qemu-system-x86_64 (TCG unless
 * HOLDER_STANDIN_ACCEL says otherwise) on the given tap, MAC, kernel,
 * initramfs, command line, disks and serial file.
 *
 * Behaviour copied from cloud-hypervisor (vmm/src/api/http, src/main.rs):
 * - clap errors (unknown argument, missing value, repeated single-value
 *   argument, missing payload) print "error: ..." and exit 2; config errors
 *   (a value that does not parse, a file that does not exist, the API socket
 *   already exists) print an error chain and exit 1.  Nothing is created
 *   before the command line has been fully checked.
 * - The API socket comes up first (umask 077, as cloud-hypervisor sets).
 * - GET vmm.ping and vm.info answer 200 with JSON; PUT vm.power-button and
 *   vm.shutdown answer 204; PUT vmm.shutdown answers 200 (not 204: that is
 *   what cloud-hypervisor does) once the VM is gone, then the process exits.
 * - A wrong method on a known endpoint answers 400 ["Bad Request"] (a method
 *   other than GET/PUT on an action endpoint: 400 with no body); an unknown
 *   path answers 404 ["Not Found"]; an action on a VM that is not running
 *   answers 500 with cloud-hypervisor's error chain as a JSON array.
 * - vm.shutdown is a hard power-off: the VMM stays and vm.info then reports
 *   "Created" (cloud-hypervisor drops the VM but keeps its config).
 * - When the guest powers off (power button) or qemu exits on its own, the
 *   process removes its API socket and exits: 0 when qemu exited cleanly, 1
 *   otherwise.  SIGTERM/SIGINT stop qemu and exit 0.
 *
 * Not faithful: libsoup answers 400 to an HTTP/1.1 request without a Host
 * header (cloud-hypervisor's micro_http does not care); a guest reboot ends
 * the VM (qemu runs with -no-reboot) where cloud-hypervisor would reboot it;
 * endpoints the backend does not use (vm.pause, vm.boot, ...) answer 404.
 *
 * Files given as /proc/self/fd/N (the holder backend passes every file of a
 * VM that way: descriptors it opened as the user it works for) are opened
 * through that path as cloud-hypervisor would, and the descriptor N itself
 * is passed on to qemu under the same number, so qemu's /proc/self/fd/N
 * is the same file.  Such paths are recorded in vm.info as given.
 *
 * HOLDER_STANDIN_LOG, when set, names a file that receives one JSON line per
 * accepted command line, per API call (method, path, status) and at exit.
 * HOLDER_STANDIN_QEMU overrides the qemu binary.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#define STANDIN_BUILD_VERSION "v52.0"
#define STANDIN_VERSION "52.0"
#define API_ROOT "/api/v1/"
#define CLAP_EXIT 2

/* ------------------------------------------------------------------ */
/* Configuration parsed from the command line                          */

typedef struct
{
  char *path;
  gboolean readonly;
} StandinDisk;

typedef struct
{
  char *tap;
  char *mac;
} StandinNet;

typedef enum
{
  SERIAL_NULL, /* cloud-hypervisor's default: a serial port, output dropped */
  SERIAL_OFF,
  SERIAL_FILE,
} SerialMode;

typedef struct
{
  char *api_socket;
  GArray *inherited_fds; /* int: every N of a /proc/self/fd/N path */
  char *kernel;
  char *initramfs;
  char *cmdline;
  GPtrArray *disks; /* StandinDisk */
  GPtrArray *nets;  /* StandinNet */
  guint cpus;
  guint64 memory_bytes;
  gboolean console_off;
  SerialMode serial_mode;
  char *serial_file;
  guint verbosity;
} StandinConfig;

static void
standin_disk_free (gpointer p)
{
  StandinDisk *d = p;

  g_free (d->path);
  g_free (d);
}

static void
standin_net_free (gpointer p)
{
  StandinNet *n = p;

  g_free (n->tap);
  g_free (n->mac);
  g_free (n);
}

static StandinConfig *
standin_config_new (void)
{
  StandinConfig *c = g_new0 (StandinConfig, 1);

  c->inherited_fds = g_array_new (FALSE, FALSE, sizeof (int));
  c->disks = g_ptr_array_new_with_free_func (standin_disk_free);
  c->nets = g_ptr_array_new_with_free_func (standin_net_free);
  c->cpus = 1;
  c->memory_bytes = 512 * 1024 * 1024;
  c->serial_mode = SERIAL_NULL;
  return c;
}

static void
standin_config_free (StandinConfig *c)
{
  if (c == NULL)
    return;
  g_free (c->api_socket);
  g_array_unref (c->inherited_fds);
  g_free (c->kernel);
  g_free (c->initramfs);
  g_free (c->cmdline);
  g_ptr_array_unref (c->disks);
  g_ptr_array_unref (c->nets);
  g_free (c->serial_file);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StandinConfig, standin_config_free)

/* ------------------------------------------------------------------ */
/* The log file for tests                                              */

static void
standin_log_json (JsonNode *node)
{
  const char *path = g_getenv ("HOLDER_STANDIN_LOG");
  g_autoptr(JsonGenerator) gen = NULL;
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;
  int fd;

  if (path == NULL || *path == '\0')
    return;
  gen = json_generator_new ();
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  line = g_strconcat (text, "\n", NULL);
  /* One write per line with O_APPEND keeps lines whole even when several
   * stand-ins share the log. */
  fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    return;
  if (write (fd, line, strlen (line)) < 0)
    g_debug ("writing %s: %s", path, g_strerror (errno));
  close (fd);
}

static void
standin_log_argv (int argc, char **argv)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, "argv");
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, getpid ());
  json_builder_set_member_name (b, "argv");
  json_builder_begin_array (b);
  for (int i = 0; i < argc; i++)
    json_builder_add_string_value (b, argv[i]);
  json_builder_end_array (b);
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  standin_log_json (node);
}

static void
standin_log_api (const char *method, const char *path, guint status)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, "api");
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, getpid ());
  json_builder_set_member_name (b, "method");
  json_builder_add_string_value (b, method);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, path);
  json_builder_set_member_name (b, "status");
  json_builder_add_int_value (b, status);
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  standin_log_json (node);
}

static void
standin_log_exit (int code, const char *reason)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, "exit");
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, getpid ());
  json_builder_set_member_name (b, "code");
  json_builder_add_int_value (b, code);
  json_builder_set_member_name (b, "reason");
  json_builder_add_string_value (b, reason);
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  standin_log_json (node);
}

/* ------------------------------------------------------------------ */
/* Command line: clap's behaviour for the arguments we know            */

typedef enum
{
  ARG_SINGLE, /* num_args(1) */
  ARG_MULTI,  /* num_args(1..), ArgAction::Append */
  ARG_FLAG,   /* SetTrue */
  ARG_COUNT,  /* -v: ArgAction::Count */
} ArgKind;

typedef struct
{
  const char *id;
  const char *long_name; /* NULL: short only */
  char short_name;       /* 0: long only */
  ArgKind kind;
} ArgSpec;

static const ArgSpec cli_args[] = {
  { "api-socket", "api-socket", 0, ARG_SINGLE },
  { "cmdline", "cmdline", 0, ARG_SINGLE },
  { "console", "console", 0, ARG_SINGLE },
  { "cpus", "cpus", 0, ARG_SINGLE },
  { "disk", "disk", 0, ARG_MULTI },
  { "help", "help", 'h', ARG_FLAG },
  { "initramfs", "initramfs", 0, ARG_SINGLE },
  { "kernel", "kernel", 0, ARG_SINGLE },
  { "memory", "memory", 0, ARG_SINGLE },
  { "net", "net", 0, ARG_MULTI },
  { "serial", "serial", 0, ARG_SINGLE },
  { "v", NULL, 'v', ARG_COUNT },
  { "version", "version", 'V', ARG_FLAG },
};

static const char usage_text[] =
  "Launch a cloud-hypervisor VMM.\n"
  "\n"
  "Usage: cloud-hypervisor [OPTIONS]\n"
  "\n"
  "Options (this stand-in accepts only these):\n"
  "      --api-socket <api-socket>  HTTP API socket (UNIX domain socket): path=</path/to/a/file>\n"
  "      --cmdline <cmdline>        Kernel command line\n"
  "      --console <console>        Control (virtio) console: \"off|null\"\n"
  "      --cpus <cpus>              boot=<boot_vcpus>\n"
  "      --disk <disk>...           path=<disk_image_path>,readonly=on|off\n"
  "      --initramfs <initramfs>    Path to initramfs image\n"
  "      --kernel <kernel>          Path to kernel to load\n"
  "      --memory <memory>          size=<guest_memory_size>\n"
  "      --net <net>...             tap=<if_name>,mac=<mac_addr>\n"
  "      --serial <serial>          Control serial port: off|null|file=</path/to/a/file>\n"
  "  -v...                          Sets the level of debugging output\n"
  "  -h, --help                     Print help\n"
  "  -V, --version                  Print version\n";

static const char clap_footer[] =
  "\n"
  "Usage: cloud-hypervisor [OPTIONS]\n"
  "\n"
  "For more information, try '--help'.\n";

static char *
arg_display (const ArgSpec *spec)
{
  if (spec->long_name == NULL)
    return g_strdup_printf ("-%c", spec->short_name);
  return g_strdup_printf ("--%s <%s>%s", spec->long_name, spec->id,
                          spec->kind == ARG_MULTI ? "..." : "");
}

G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN static void
clap_fail (const char *fmt, ...)
{
  va_list ap;
  char *msg;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "error: %s\n%s", msg, clap_footer);
  /* exit() runs no g_autofree cleanup; LeakSanitizer would see it. */
  g_free (msg);
  exit (CLAP_EXIT);
}

/* cloud-hypervisor reports config errors as a chain, top error first. */
G_GNUC_NORETURN static void
chain_fail (const char *const *chain)
{
  fprintf (stderr, "Error: Cloud Hypervisor exited with the following chain of errors:\n");
  for (guint i = 0; chain[i] != NULL; i++)
    fprintf (stderr, "  %u: %s\n", i, chain[i]);
  exit (1);
}

G_GNUC_PRINTF (2, 3) G_GNUC_NORETURN static void
config_fail (const char *option, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;
  g_autofree char *what = g_strdup_printf ("Error parsing --%s", option);
  const char *chain[] = { "Error parsing config", what, NULL, NULL };

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  chain[2] = msg;
  chain_fail (chain);
}

static const ArgSpec *
find_long (const char *name, gsize len)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cli_args); i++)
    if (cli_args[i].long_name != NULL
        && strlen (cli_args[i].long_name) == len
        && strncmp (cli_args[i].long_name, name, len) == 0)
      return &cli_args[i];
  return NULL;
}

static const ArgSpec *
find_short (char c)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cli_args); i++)
    if (cli_args[i].short_name == c)
      return &cli_args[i];
  return NULL;
}

/* clap takes an argument that starts with '-' (other than "-" itself) as
 * the next option, never as a value. */
static gboolean
looks_like_option (const char *arg)
{
  return arg[0] == '-' && arg[1] != '\0';
}

/* id -> GPtrArray of values (for flags and counts: one NULL per use). */
static GHashTable *
parse_clap (int argc, char **argv)
{
  g_autoptr(GHashTable) seen =
    g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                           (GDestroyNotify) g_ptr_array_unref);

  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];
      const ArgSpec *spec;
      GPtrArray *values;
      const char *inline_value = NULL;

      if (g_str_equal (arg, "--"))
        {
          if (i + 1 < argc)
            clap_fail ("unexpected argument '%s' found", argv[i + 1]);
          continue;
        }
      if (g_str_has_prefix (arg, "--"))
        {
          const char *name = arg + 2;
          const char *eq = strchr (name, '=');
          gsize len = eq != NULL ? (gsize) (eq - name) : strlen (name);

          spec = find_long (name, len);
          if (spec == NULL)
            clap_fail ("unexpected argument '--%.*s' found", (int) len, name);
          if (eq != NULL)
            inline_value = eq + 1;
        }
      else if (looks_like_option (arg))
        {
          /* A cluster of short flags: -v, -vv, -V, -h. */
          for (const char *p = arg + 1; *p != '\0'; p++)
            {
              spec = find_short (*p);
              if (spec == NULL)
                clap_fail ("unexpected argument '-%c' found", *p);
              values = g_hash_table_lookup (seen, spec->id);
              if (values == NULL)
                {
                  values = g_ptr_array_new_with_free_func (g_free);
                  g_hash_table_insert (seen, (gpointer) spec->id, values);
                }
              g_ptr_array_add (values, NULL);
            }
          continue;
        }
      else
        clap_fail ("unexpected argument '%s' found", arg);

      values = g_hash_table_lookup (seen, spec->id);
      if (values == NULL)
        {
          values = g_ptr_array_new_with_free_func (g_free);
          g_hash_table_insert (seen, (gpointer) spec->id, values);
        }
      else if (spec->kind == ARG_SINGLE || spec->kind == ARG_FLAG)
        {
          g_autofree char *d = arg_display (spec);
          clap_fail ("the argument '%s' cannot be used multiple times", d);
        }

      switch (spec->kind)
        {
        case ARG_FLAG:
        case ARG_COUNT:
          if (inline_value != NULL)
            clap_fail ("unexpected value '%s' for '--%s' found; no more were expected",
                       inline_value, spec->long_name);
          g_ptr_array_add (values, NULL);
          break;

        case ARG_SINGLE:
        case ARG_MULTI:
          if (inline_value != NULL)
            g_ptr_array_add (values, g_strdup (inline_value));
          else
            {
              guint before = values->len;

              while (i + 1 < argc && !looks_like_option (argv[i + 1]))
                {
                  g_ptr_array_add (values, g_strdup (argv[++i]));
                  if (spec->kind == ARG_SINGLE)
                    break;
                }
              if (values->len == before)
                {
                  g_autofree char *d = arg_display (spec);
                  clap_fail ("a value is required for '%s' but none was supplied", d);
                }
            }
          break;

        default:
          g_assert_not_reached ();
        }
    }
  return g_steal_pointer (&seen);
}

/* cloud-hypervisor's OptionParser: "key=value,key=value"; double quotes
 * protect commas.  Only @known keys are accepted. */
static GHashTable *
parse_options (const char *option, const char *text, const char *const *known)
{
  g_autoptr(GHashTable) opts = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, g_free);
  g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) cur = g_string_new (NULL);
  gboolean quoted = FALSE;

  for (const char *p = text;; p++)
    {
      if (*p == '"')
        quoted = !quoted;
      else if ((*p == ',' && !quoted) || *p == '\0')
        {
          g_ptr_array_add (items, g_string_free (g_steal_pointer (&cur), FALSE));
          cur = g_string_new (NULL);
          if (*p == '\0')
            break;
        }
      else
        g_string_append_c (cur, *p);
    }
  if (quoted)
    config_fail (option, "Invalid syntax: unbalanced quotes in \"%s\"", text);

  for (guint i = 0; i < items->len; i++)
    {
      const char *item = items->pdata[i];
      const char *eq = strchr (item, '=');
      g_autofree char *key = NULL;

      if (*item == '\0')
        continue;
      if (eq == NULL)
        config_fail (option, "Invalid syntax: \"%s\" is not key=value", item);
      key = g_strndup (item, eq - item);
      if (!g_strv_contains (known, key))
        config_fail (option, "Unknown option: %s (this stand-in accepts only the options the holder backend uses)", key);
      if (g_hash_table_contains (opts, key))
        config_fail (option, "Invalid syntax: %s given twice", key);
      g_hash_table_insert (opts, g_steal_pointer (&key), g_strdup (eq + 1));
    }
  return g_steal_pointer (&opts);
}

static gboolean
parse_toggle (const char *value, gboolean *out)
{
  if (g_str_equal (value, "on") || g_str_equal (value, "true"))
    *out = TRUE;
  else if (g_str_equal (value, "off") || g_str_equal (value, "false"))
    *out = FALSE;
  else
    return FALSE;
  return TRUE;
}

static gboolean
parse_mac (const char *text)
{
  guint bytes = 0;

  for (const char *p = text; *p != '\0'; bytes++)
    {
      if (!g_ascii_isxdigit (p[0]) || !g_ascii_isxdigit (p[1]))
        return FALSE;
      p += 2;
      if (*p == ':')
        {
          p++;
          if (*p == '\0')
            return FALSE;
        }
      else if (*p != '\0')
        return FALSE;
    }
  return bytes == 6;
}

#define PROC_SELF_FD "/proc/self/fd/"

/* A /proc/self/fd/N path names descriptor N, which qemu must then inherit
 * under the same number. */
static void
note_inherited_fd (StandinConfig *c, const char *option, const char *path)
{
  guint64 n = 0;
  int fd;

  if (!g_str_has_prefix (path, PROC_SELF_FD))
    return;
  if (!g_ascii_string_to_unsigned (path + strlen (PROC_SELF_FD), 10, 3, G_MAXINT, &n, NULL))
    config_fail (option, "%s: not a descriptor this process inherited", path);
  fd = (int) n;
  for (guint i = 0; i < c->inherited_fds->len; i++)
    if (g_array_index (c->inherited_fds, int, i) == fd)
      return;
  g_array_append_val (c->inherited_fds, fd);
}

static void
require_file (const char *option, const char *path)
{
  struct stat st;

  if (stat (path, &st) != 0)
    config_fail (option, "%s: %s", path, g_strerror (errno));
  if (!S_ISREG (st.st_mode) && !S_ISBLK (st.st_mode))
    config_fail (option, "%s: not a regular file or block device", path);
  if (access (path, R_OK) != 0)
    config_fail (option, "%s: %s", path, g_strerror (errno));
}

static void
require_parent_dir (const char *option, const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    config_fail (option, "%s: directory %s does not exist", path, dir);
}

static const char *
single (GHashTable *seen, const char *id)
{
  GPtrArray *values = g_hash_table_lookup (seen, id);

  return values != NULL && values->len > 0 ? values->pdata[0] : NULL;
}

static StandinConfig *
standin_config_parse (int argc, char **argv)
{
  g_autoptr(GHashTable) seen = NULL;
  g_autoptr(StandinConfig) c = standin_config_new ();
  GPtrArray *values;
  const char *v;

  if (argc < 2)
    {
      /* clap's arg_required_else_help */
      fputs (usage_text, stderr);
      exit (CLAP_EXIT);
    }
  seen = parse_clap (argc, argv);

  if (g_hash_table_contains (seen, "help"))
    {
      fputs (usage_text, stdout);
      exit (0);
    }
  if (g_hash_table_contains (seen, "version"))
    {
      printf ("cloud-hypervisor %s\n", STANDIN_BUILD_VERSION);
      exit (0);
    }
  values = g_hash_table_lookup (seen, "v");
  c->verbosity = values != NULL ? values->len : 0;

  /* cloud-hypervisor itself would run without these (no VM, or no API);
   * the holder backend always passes both, so their absence is refused
   * the way clap refuses a missing required argument. */
  if (!g_hash_table_contains (seen, "kernel"))
    {
      fprintf (stderr, "error: the following required arguments were not provided:\n"
                       "  --kernel <kernel>\n%s", clap_footer);
      exit (CLAP_EXIT);
    }
  if (!g_hash_table_contains (seen, "api-socket"))
    {
      fprintf (stderr, "error: the following required arguments were not provided:\n"
                       "  --api-socket <api-socket>\n%s", clap_footer);
      exit (CLAP_EXIT);
    }

  /* --api-socket path=<path>, or the bare path (as parse_api_socket). */
  v = single (seen, "api-socket");
  if (strchr (v, '=') != NULL)
    {
      static const char *const known[] = { "path", NULL };
      g_autoptr(GHashTable) o = parse_options ("api-socket", v, known);
      const char *path = g_hash_table_lookup (o, "path");

      if (path == NULL || *path == '\0')
        config_fail ("api-socket", "path required");
      c->api_socket = g_strdup (path);
    }
  else
    c->api_socket = g_strdup (v);
  if (*c->api_socket == '\0')
    config_fail ("api-socket", "empty path");
  require_parent_dir ("api-socket", c->api_socket);
  if (g_file_test (c->api_socket, G_FILE_TEST_EXISTS))
    {
      /* cloud-hypervisor's UnixListener::bind fails the same way. */
      const char *chain[] = { "Failed to start the VMM thread",
                              "Error creation API server's socket",
                              "Address in use (os error 98)", NULL };
      chain_fail (chain);
    }

  c->kernel = g_strdup (single (seen, "kernel"));
  require_file ("kernel", c->kernel);
  note_inherited_fd (c, "kernel", c->kernel);

  if ((v = single (seen, "initramfs")) != NULL)
    {
      c->initramfs = g_strdup (v);
      require_file ("initramfs", c->initramfs);
      note_inherited_fd (c, "initramfs", c->initramfs);
    }
  c->cmdline = g_strdup (single (seen, "cmdline"));

  values = g_hash_table_lookup (seen, "disk");
  for (guint i = 0; values != NULL && i < values->len; i++)
    {
      static const char *const known[] = { "path", "readonly", NULL };
      g_autoptr(GHashTable) o = parse_options ("disk", values->pdata[i], known);
      const char *path = g_hash_table_lookup (o, "path");
      const char *ro = g_hash_table_lookup (o, "readonly");
      StandinDisk *d;

      if (path == NULL || *path == '\0')
        config_fail ("disk", "Invalid syntax: path= is required in \"%s\"",
                     (const char *) values->pdata[i]);
      require_file ("disk", path);
      note_inherited_fd (c, "disk", path);
      d = g_new0 (StandinDisk, 1);
      d->path = g_strdup (path);
      g_ptr_array_add (c->disks, d);
      if (ro != NULL && !parse_toggle (ro, &d->readonly))
        config_fail ("disk", "Error parsing toggle \"%s\" for readonly", ro);
    }

  if ((v = single (seen, "cpus")) != NULL)
    {
      static const char *const known[] = { "boot", NULL };
      g_autoptr(GHashTable) o = parse_options ("cpus", v, known);
      const char *boot = g_hash_table_lookup (o, "boot");
      guint64 n = 0;

      if (boot != NULL
          && (!g_ascii_string_to_unsigned (boot, 10, 1, 254, &n, NULL)))
        config_fail ("cpus", "Invalid value for boot: \"%s\"", boot);
      if (boot != NULL)
        c->cpus = n;
    }

  if ((v = single (seen, "memory")) != NULL)
    {
      static const char *const known[] = { "size", NULL };
      g_autoptr(GHashTable) o = parse_options ("memory", v, known);
      const char *size = g_hash_table_lookup (o, "size");

      if (size != NULL)
        {
          gsize len = strlen (size);
          guint64 n = 0, unit = 1;
          g_autofree char *digits = NULL;

          if (len > 0 && (size[len - 1] == 'M' || size[len - 1] == 'G'))
            {
              unit = size[len - 1] == 'M' ? G_GUINT64_CONSTANT (1) << 20
                                          : G_GUINT64_CONSTANT (1) << 30;
              len--;
            }
          digits = g_strndup (size, len);
          if (!g_ascii_string_to_unsigned (digits, 10, 1, G_MAXUINT32, &n, NULL)
              || (unit == 1 && n % (1 << 20) != 0))
            config_fail ("memory", "Invalid size \"%s\" (this stand-in takes <N>M or <N>G)", size);
          c->memory_bytes = n * unit;
        }
    }

  values = g_hash_table_lookup (seen, "net");
  for (guint i = 0; values != NULL && i < values->len; i++)
    {
      static const char *const known[] = { "tap", "mac", NULL };
      g_autoptr(GHashTable) o = parse_options ("net", values->pdata[i], known);
      const char *tap = g_hash_table_lookup (o, "tap");
      const char *mac = g_hash_table_lookup (o, "mac");
      StandinNet *n;

      if (tap == NULL || *tap == '\0' || strlen (tap) > 15
          || strpbrk (tap, "/ ,:") != NULL)
        config_fail ("net", "Invalid tap name in \"%s\"", (const char *) values->pdata[i]);
      if (mac != NULL && !parse_mac (mac))
        config_fail ("net", "Invalid MAC address \"%s\"", mac);
      n = g_new0 (StandinNet, 1);
      n->tap = g_strdup (tap);
      if (mac != NULL)
        n->mac = g_ascii_strdown (mac, -1);
      else
        {
          /* cloud-hypervisor picks a random locally administered MAC. */
          n->mac = g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x",
                                    (g_random_int_range (0, 256) & 0xfc) | 0x02,
                                    g_random_int_range (0, 256), g_random_int_range (0, 256),
                                    g_random_int_range (0, 256), g_random_int_range (0, 256),
                                    g_random_int_range (0, 256));
        }
      g_ptr_array_add (c->nets, n);
    }

  if ((v = single (seen, "console")) != NULL)
    {
      if (!g_str_equal (v, "off") && !g_str_equal (v, "null"))
        config_fail ("console", "Invalid console mode \"%s\" (this stand-in takes off or null)", v);
      c->console_off = TRUE;
    }

  if ((v = single (seen, "serial")) != NULL)
    {
      if (g_str_equal (v, "off"))
        c->serial_mode = SERIAL_OFF;
      else if (g_str_equal (v, "null"))
        c->serial_mode = SERIAL_NULL;
      else if (g_str_has_prefix (v, "file="))
        {
          static const char *const known[] = { "file", NULL };
          g_autoptr(GHashTable) o = parse_options ("serial", v, known);
          const char *file = g_hash_table_lookup (o, "file");

          if (file == NULL || *file == '\0')
            config_fail ("serial", "Invalid syntax: file= needs a path");
          require_parent_dir ("serial", file);
          note_inherited_fd (c, "serial", file);
          c->serial_mode = SERIAL_FILE;
          c->serial_file = g_strdup (file);
        }
      else
        config_fail ("serial", "Invalid serial mode \"%s\" (this stand-in takes off, null or file=<path>)", v);
    }

  return g_steal_pointer (&c);
}

/* ------------------------------------------------------------------ */
/* The running VMM                                                     */

typedef enum
{
  VM_CREATED,
  VM_RUNNING,
} VmState;

typedef struct
{
  StandinConfig *config;
  GMainLoop *loop;
  SoupServer *server;
  GSocket *listener;
  char *qmp_dir;
  char *qmp_path;
  GPid qemu_pid;
  gboolean qemu_running;
  VmState state;
  gint64 start_time;
  /* Requests answered when qemu has exited: vm.shutdown, vmm.shutdown. */
  GPtrArray *waiting_for_exit; /* SoupServerMessage, paused */
  gboolean vmm_shutdown;
  gboolean terminating;
  int exit_code;
  const char *exit_reason;
} Standin;

static void
standin_info (Standin *self, const char *msg)
{
  if (self->config->verbosity == 0)
    return;
  fprintf (stderr, "cloud-hypervisor: %10.6fs: <vmm> INFO:ch-standin -- %s\n",
           (g_get_monotonic_time () - self->start_time) / 1e6, msg);
}

static void
standin_quit (Standin *self, int code, const char *reason)
{
  if (self->exit_reason == NULL)
    {
      self->exit_code = code;
      self->exit_reason = reason;
    }
  g_main_loop_quit (self->loop);
}

/* Runs one QMP command on a fresh connection: greeting, capabilities, the
 * command.  Blocking, but qemu answers within milliseconds. */
static gboolean
qmp_execute (Standin *self, const char *command, GError **error)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (self->qmp_path);
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  GOutputStream *out;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  const char *commands[] = { "qmp_capabilities", command };

  g_socket_client_set_timeout (client, 5);
  g_socket_client_set_enable_proxy (client, FALSE);
  /* qemu creates its QMP socket while it starts: retry briefly. */
  for (;;)
    {
      g_autoptr(GError) local_error = NULL;

      conn = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (addr),
                                      NULL, &local_error);
      if (conn != NULL)
        break;
      if (g_get_monotonic_time () > deadline || !self->qemu_running)
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                      "QMP %s: ", self->qmp_path);
          return FALSE;
        }
      g_usleep (20 * 1000);
    }
  in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (conn)));
  out = g_io_stream_get_output_stream (G_IO_STREAM (conn));

  {
    g_autofree char *greeting = g_data_input_stream_read_line (in, NULL, NULL, error);
    if (greeting == NULL)
      {
        if (error != NULL && *error == NULL)
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "QMP closed before its greeting");
        return FALSE;
      }
  }

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *request = g_strdup_printf ("{\"execute\":\"%s\"}\n", commands[i]);

      if (!g_output_stream_write_all (out, request, strlen (request), NULL, NULL, error))
        return FALSE;
      for (;;)
        {
          g_autoptr(GError) read_error = NULL;
          g_autofree char *line = g_data_input_stream_read_line (in, NULL, NULL, &read_error);
          g_autoptr(JsonParser) parser = json_parser_new ();
          JsonObject *obj;

          if (line == NULL)
            {
              /* "quit" may close the connection before its answer. */
              if (g_str_equal (commands[i], "quit"))
                return TRUE;
              if (read_error != NULL)
                g_propagate_error (error, g_steal_pointer (&read_error));
              else
                g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED,
                             "QMP closed while running %s", commands[i]);
              return FALSE;
            }
          if (!json_parser_load_from_data (parser, line, -1, NULL)
              || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
            continue;
          obj = json_node_get_object (json_parser_get_root (parser));
          if (json_object_has_member (obj, "return"))
            break;
          if (json_object_has_member (obj, "error"))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "QMP %s failed: %s", commands[i], line);
              return FALSE;
            }
          /* an event: keep reading */
        }
    }
  return TRUE;
}

static void
respond (SoupServerMessage *msg, guint status, const char *json_body)
{
  GUri *uri = soup_server_message_get_uri (msg);

  soup_server_message_set_status (msg, status, NULL);
  if (json_body != NULL)
    soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_COPY,
                                      json_body, strlen (json_body));
  else
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "Content-Type", "application/json");
  standin_log_api (soup_server_message_get_method (msg), g_uri_get_path (uri), status);
}

/* cloud-hypervisor's error body: the Display of each error of the chain. */
static void
respond_error (SoupServerMessage *msg, guint status, const char *const *chain)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_array (b);
  for (guint i = 0; chain[i] != NULL; i++)
    json_builder_add_string_value (b, chain[i]);
  json_builder_end_array (b);
  node = json_builder_get_root (b);
  text = json_to_string (node, FALSE);
  respond (msg, status, text);
}

static void
respond_bad_request (SoupServerMessage *msg)
{
  const char *chain[] = { "Bad Request", NULL };

  respond_error (msg, SOUP_STATUS_BAD_REQUEST, chain);
}

static char *
vm_info_json (Standin *self)
{
  StandinConfig *c = self->config;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "config");
  json_builder_begin_object (b);

  json_builder_set_member_name (b, "cpus");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "boot_vcpus");
  json_builder_add_int_value (b, c->cpus);
  json_builder_set_member_name (b, "max_vcpus");
  json_builder_add_int_value (b, c->cpus);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "memory");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, c->memory_bytes);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "payload");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kernel");
  json_builder_add_string_value (b, c->kernel);
  if (c->initramfs != NULL)
    {
      json_builder_set_member_name (b, "initramfs");
      json_builder_add_string_value (b, c->initramfs);
    }
  if (c->cmdline != NULL)
    {
      json_builder_set_member_name (b, "cmdline");
      json_builder_add_string_value (b, c->cmdline);
    }
  json_builder_end_object (b);

  if (c->disks->len > 0)
    {
      json_builder_set_member_name (b, "disks");
      json_builder_begin_array (b);
      for (guint i = 0; i < c->disks->len; i++)
        {
          StandinDisk *d = c->disks->pdata[i];

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "path");
          json_builder_add_string_value (b, d->path);
          json_builder_set_member_name (b, "readonly");
          json_builder_add_boolean_value (b, d->readonly);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  if (c->nets->len > 0)
    {
      json_builder_set_member_name (b, "net");
      json_builder_begin_array (b);
      for (guint i = 0; i < c->nets->len; i++)
        {
          StandinNet *n = c->nets->pdata[i];

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "tap");
          json_builder_add_string_value (b, n->tap);
          json_builder_set_member_name (b, "mac");
          json_builder_add_string_value (b, n->mac);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }

  json_builder_set_member_name (b, "serial");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file");
  if (c->serial_file != NULL)
    json_builder_add_string_value (b, c->serial_file);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, c->serial_mode == SERIAL_FILE ? "File"
                                    : c->serial_mode == SERIAL_OFF ? "Off" : "Null");
  json_builder_end_object (b);

  json_builder_set_member_name (b, "console");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file");
  json_builder_add_null_value (b);
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, c->console_off ? "Off" : "Tty");
  json_builder_end_object (b);

  json_builder_end_object (b); /* config */

  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, self->state == VM_RUNNING ? "Running" : "Created");
  json_builder_set_member_name (b, "memory_actual_size");
  json_builder_add_int_value (b, c->memory_bytes);
  json_builder_end_object (b);

  node = json_builder_get_root (b);
  return json_to_string (node, FALSE);
}

static char *
vmm_ping_json (void)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) node = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "build_version");
  json_builder_add_string_value (b, STANDIN_BUILD_VERSION);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, STANDIN_VERSION);
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, getpid ());
  json_builder_set_member_name (b, "features");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  node = json_builder_get_root (b);
  return json_to_string (node, FALSE);
}

/* Hard power-off of the VM: QMP quit, SIGKILL when QMP fails. */
static void
standin_stop_qemu (Standin *self)
{
  g_autoptr(GError) error = NULL;

  if (!self->qemu_running)
    return;
  if (!qmp_execute (self, "quit", &error))
    {
      g_warning ("%s; killing qemu", error->message);
      kill (self->qemu_pid, SIGKILL);
    }
}

static void
on_vmm_shutdown_finished (SoupServerMessage *msg, gpointer user_data)
{
  Standin *self = user_data;

  standin_quit (self, 0, "vmm.shutdown");
}

static void
handle_vmm_shutdown (Standin *self, SoupServerMessage *msg)
{
  self->vmm_shutdown = TRUE;
  g_signal_connect (msg, "finished", G_CALLBACK (on_vmm_shutdown_finished), self);
  if (self->qemu_running)
    {
      /* Answered once the VM is gone (see on_qemu_exit). */
      soup_server_message_pause (msg);
      g_ptr_array_add (self->waiting_for_exit, g_object_ref (msg));
      standin_stop_qemu (self);
    }
  else
    respond (msg, SOUP_STATUS_OK, NULL);
}

static void
handle_vm_action (Standin *self, SoupServerMessage *msg, const char *endpoint)
{
  const char *method = soup_server_message_get_method (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  gboolean power_button = g_str_equal (endpoint, "vm.power-button");
  g_autoptr(GError) error = NULL;

  if (method == SOUP_METHOD_GET)
    {
      respond_bad_request (msg);
      return;
    }
  if (method != SOUP_METHOD_PUT)
    {
      respond (msg, SOUP_STATUS_BAD_REQUEST, NULL);
      return;
    }
  if (body != NULL && body->length > 0)
    {
      respond_bad_request (msg);
      return;
    }
  if (self->state != VM_RUNNING)
    {
      const char *chain[] = { "Error from API",
                              power_button ? "Error triggering power button"
                                           : "The VM could not shutdown",
                              "VM is not running", NULL };

      respond_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, chain);
      return;
    }

  if (power_button)
    {
      /* ACPI power button: the guest decides; when it powers off, qemu
       * exits and so does this process (on_qemu_exit). */
      if (!qmp_execute (self, "system_powerdown", &error))
        {
          const char *chain[] = { "Error from API", "Error triggering power button",
                                  error->message, NULL };

          respond_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, chain);
          return;
        }
      standin_info (self, "power button pressed");
      respond (msg, SOUP_STATUS_NO_CONTENT, NULL);
      return;
    }

  /* vm.shutdown returns once the VM is down, and the VMM stays. */
  soup_server_message_pause (msg);
  g_ptr_array_add (self->waiting_for_exit, g_object_ref (msg));
  standin_stop_qemu (self);
}

static void
handle_request (SoupServer        *server,
                SoupServerMessage *msg,
                const char        *path,
                GHashTable        *query,
                gpointer           user_data)
{
  Standin *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  const char *endpoint;

  if (!g_str_has_prefix (path, API_ROOT))
    {
      const char *chain[] = { "Not Found", NULL };

      respond_error (msg, SOUP_STATUS_NOT_FOUND, chain);
      return;
    }
  endpoint = path + strlen (API_ROOT);

  if (g_str_equal (endpoint, "vmm.ping"))
    {
      g_autofree char *json = NULL;

      if (method != SOUP_METHOD_GET)
        {
          respond_bad_request (msg);
          return;
        }
      json = vmm_ping_json ();
      respond (msg, SOUP_STATUS_OK, json);
    }
  else if (g_str_equal (endpoint, "vm.info"))
    {
      g_autofree char *json = NULL;

      if (method != SOUP_METHOD_GET)
        {
          respond_bad_request (msg);
          return;
        }
      json = vm_info_json (self);
      respond (msg, SOUP_STATUS_OK, json);
    }
  else if (g_str_equal (endpoint, "vmm.shutdown"))
    {
      if (method != SOUP_METHOD_PUT)
        {
          respond_bad_request (msg);
          return;
        }
      handle_vmm_shutdown (self, msg);
    }
  else if (g_str_equal (endpoint, "vm.power-button")
           || g_str_equal (endpoint, "vm.shutdown"))
    handle_vm_action (self, msg, endpoint);
  else
    {
      const char *chain[] = { "Not Found", NULL };

      respond_error (msg, SOUP_STATUS_NOT_FOUND, chain);
    }
}

static gboolean
quit_later_cb (gpointer user_data)
{
  Standin *self = user_data;

  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

static void
on_qemu_exit (GPid pid, int wait_status, gpointer user_data)
{
  Standin *self = user_data;
  g_autoptr(GPtrArray) waiting = NULL;
  gboolean clean = WIFEXITED (wait_status) && WEXITSTATUS (wait_status) == 0;

  g_spawn_close_pid (pid);
  self->qemu_running = FALSE;
  self->state = VM_CREATED;
  g_unlink (self->qmp_path);

  waiting = g_steal_pointer (&self->waiting_for_exit);
  self->waiting_for_exit = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < waiting->len; i++)
    {
      SoupServerMessage *msg = waiting->pdata[i];
      gboolean vmm = g_str_has_suffix (g_uri_get_path (soup_server_message_get_uri (msg)),
                                       "vmm.shutdown");

      respond (msg, vmm ? SOUP_STATUS_OK : SOUP_STATUS_NO_CONTENT, NULL);
      soup_server_message_unpause (msg);
    }

  if (self->terminating)
    standin_quit (self, 0, "signal");
  else if (self->vmm_shutdown)
    {
      /* on_vmm_shutdown_finished quits once the answer is written; this
       * bounds the wait if the client went away. */
      g_timeout_add_seconds (2, quit_later_cb, self);
      if (self->exit_reason == NULL)
        {
          self->exit_code = 0;
          self->exit_reason = "vmm.shutdown";
        }
    }
  else if (waiting->len > 0)
    standin_info (self, "VM shut down; the VMM stays");
  else
    standin_quit (self, clean ? 0 : 1,
                  clean ? "guest shut down" : "qemu failed");
}

static gboolean
kill_qemu_hard_cb (gpointer user_data)
{
  Standin *self = user_data;

  if (self->qemu_running)
    kill (self->qemu_pid, SIGKILL);
  return G_SOURCE_REMOVE;
}

/* SIGTERM/SIGINT: cloud-hypervisor shuts the VM down and exits 0. */
static gboolean
on_terminate (gpointer user_data)
{
  Standin *self = user_data;

  standin_info (self, "signal received, shutting down");
  self->terminating = TRUE;
  if (!self->qemu_running)
    standin_quit (self, 0, "signal");
  else
    {
      kill (self->qemu_pid, SIGTERM);
      g_timeout_add_seconds (5, kill_qemu_hard_cb, self);
    }
  return G_SOURCE_CONTINUE;
}

/* qemu's option syntax doubles commas inside a value. */
static char *
qemu_escape (const char *value)
{
  g_autoptr(GString) s = g_string_new (NULL);

  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == ',')
        g_string_append_c (s, ',');
      g_string_append_c (s, *p);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static GPtrArray *
qemu_argv (Standin *self)
{
  StandinConfig *c = self->config;
  GPtrArray *av = g_ptr_array_new_with_free_func (g_free);
  const char *qemu = g_getenv ("HOLDER_STANDIN_QEMU");
  const char *accel = g_getenv ("HOLDER_STANDIN_ACCEL");

  if (qemu == NULL || *qemu == '\0')
    qemu = "qemu-system-x86_64";
  if (accel == NULL || *accel == '\0')
    accel = "tcg";

#define ADD(x) g_ptr_array_add (av, g_strdup (x))
#define ADDF(...) g_ptr_array_add (av, g_strdup_printf (__VA_ARGS__))
  ADD (qemu);
  ADD ("-nodefaults");
  ADD ("-no-user-config");
  ADD ("-display");
  ADD ("none");
  ADD ("-machine");
  ADDF ("q35,accel=%s", accel);
  ADD ("-cpu");
  ADD (g_str_equal (accel, "tcg") ? "max" : "host");
  ADD ("-smp");
  ADDF ("%u", c->cpus);
  ADD ("-m");
  ADDF ("%" G_GUINT64_FORMAT "M", c->memory_bytes >> 20);
  ADD ("-kernel");
  ADD (c->kernel);
  if (c->initramfs != NULL)
    {
      ADD ("-initrd");
      ADD (c->initramfs);
    }
  if (c->cmdline != NULL)
    {
      ADD ("-append");
      ADD (c->cmdline);
    }
  for (guint i = 0; i < c->disks->len; i++)
    {
      StandinDisk *d = c->disks->pdata[i];
      g_autofree char *path = qemu_escape (d->path);

      ADD ("-drive");
      ADDF ("file=%s,if=virtio,format=raw%s", path, d->readonly ? ",readonly=on" : "");
    }
  for (guint i = 0; i < c->nets->len; i++)
    {
      StandinNet *n = c->nets->pdata[i];

      ADD ("-netdev");
      ADDF ("tap,id=n%u,ifname=%s,script=no,downscript=no", i, n->tap);
      ADD ("-device");
      ADDF ("virtio-net-pci,netdev=n%u,mac=%s", i, n->mac);
    }
  ADD ("-serial");
  switch (c->serial_mode)
    {
    case SERIAL_FILE:
      ADDF ("file:%s", c->serial_file);
      break;
    case SERIAL_OFF:
      ADD ("none");
      break;
    case SERIAL_NULL:
    default:
      ADD ("null");
      break;
    }
  ADD ("-qmp");
  ADDF ("unix:%s,server=on,wait=off", self->qmp_path);
  ADD ("-no-reboot");
#undef ADD
#undef ADDF
  g_ptr_array_add (av, NULL);
  return av;
}

static pid_t standin_pid;

/* Runs in the forked child, before exec.  PDEATHSIG fires when the thread
 * that forked exits: qemu is spawned from the main thread, which lives as
 * long as this process. */
static void
qemu_child_setup (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  if (getppid () != standin_pid)
    _exit (127);
}

static gboolean
standin_spawn_qemu (Standin *self, GError **error)
{
  g_autoptr(GPtrArray) av = qemu_argv (self);
  const int *fds;

  if (self->config->verbosity > 0)
    {
      g_autofree char *line = g_strjoinv (" ", (char **) av->pdata);
      g_autofree char *msg = g_strconcat ("starting ", line, NULL);

      standin_info (self, msg);
    }
  standin_pid = getpid ();
  /* The descriptors of /proc/self/fd/N paths keep their numbers in qemu
   * (GLib clears their close-on-exec flag); everything else is closed. */
  fds = (const int *) self->config->inherited_fds->data;
  if (!g_spawn_async_with_pipes_and_fds (NULL, (const char *const *) av->pdata, NULL,
                                         G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                         qemu_child_setup, NULL, -1, -1, -1,
                                         fds, fds, self->config->inherited_fds->len,
                                         &self->qemu_pid, NULL, NULL, NULL, error))
    return FALSE;
  self->qemu_running = TRUE;
  self->state = VM_RUNNING;
  g_child_watch_add (self->qemu_pid, on_qemu_exit, self);
  return TRUE;
}

static gboolean
standin_listen (Standin *self, GError **error)
{
  g_autoptr(GSocketAddress) addr = g_unix_socket_address_new (self->config->api_socket);

  self->listener = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_DEFAULT, error);
  if (self->listener == NULL)
    return FALSE;
  if (!g_socket_bind (self->listener, addr, FALSE, error))
    return FALSE;
  if (!g_socket_listen (self->listener, error))
    {
      g_unlink (self->config->api_socket);
      return FALSE;
    }
  self->server = soup_server_new ("server-header", "Cloud Hypervisor API", NULL);
  soup_server_add_handler (self->server, NULL, handle_request, self, NULL);
  if (!soup_server_listen_socket (self->server, self->listener, 0, error))
    {
      g_unlink (self->config->api_socket);
      return FALSE;
    }
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr(StandinConfig) config = NULL;
  g_autoptr(GError) error = NULL;
  Standin self = { 0 };

  config = standin_config_parse (argc, argv);

  /* Everything checked: from here on, things get created. */
  standin_log_argv (argc, argv);
  umask (077);

  self.config = config;
  self.start_time = g_get_monotonic_time ();
  self.loop = g_main_loop_new (NULL, FALSE);
  self.waiting_for_exit = g_ptr_array_new_with_free_func (g_object_unref);
  self.exit_code = 0;

  if (!standin_listen (&self, &error))
    {
      const char *chain[] = { "Failed to start the VMM thread",
                              "Error creation API server's socket",
                              error->message, NULL };

      standin_log_exit (1, error->message);
      chain_fail (chain);
    }
  standin_info (&self, "API socket ready");

  self.qmp_dir = g_dir_make_tmp ("ch-standin-XXXXXX", &error);
  if (self.qmp_dir == NULL)
    {
      const char *chain[] = { "Error booting VM", error->message, NULL };

      g_unlink (config->api_socket);
      standin_log_exit (1, error->message);
      chain_fail (chain);
    }
  self.qmp_path = g_build_filename (self.qmp_dir, "qmp.sock", NULL);

  g_unix_signal_add (SIGTERM, on_terminate, &self);
  g_unix_signal_add (SIGINT, on_terminate, &self);

  if (!standin_spawn_qemu (&self, &error))
    {
      const char *chain[] = { "Error booting VM", "The VM could not boot",
                              error->message, NULL };

      g_unlink (config->api_socket);
      g_rmdir (self.qmp_dir);
      standin_log_exit (1, error->message);
      chain_fail (chain);
    }

  g_main_loop_run (self.loop);

  /* Like cloud-hypervisor's main(): the socket goes whatever happened. */
  soup_server_disconnect (self.server);
  g_unlink (config->api_socket);
  g_unlink (self.qmp_path);
  g_rmdir (self.qmp_dir);
  if (self.qemu_running)
    kill (self.qemu_pid, SIGKILL);
  standin_log_exit (self.exit_code, self.exit_reason != NULL ? self.exit_reason : "");
  standin_info (&self, self.exit_code == 0 ? "Cloud Hypervisor exited successfully"
                                           : "exiting with an error");

  g_clear_object (&self.server);
  g_clear_object (&self.listener);
  g_ptr_array_unref (self.waiting_for_exit);
  g_main_loop_unref (self.loop);
  g_free (self.qmp_dir);
  g_free (self.qmp_path);
  return self.exit_code;
}
