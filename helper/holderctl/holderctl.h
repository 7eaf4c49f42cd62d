/* SPDX-License-Identifier: MIT
 *
 * holderctl: see, start, stop, log and clean up the clusters a machine
 * holds. Built on libholder's client half and store API: it speaks the
 * protocol only through holder_client_*() and reads the store only through
 * holder_store_*().
 *
 *   holderctl.c            main(): global options, the command table
 *   holderctl-output.c     tables, colour, JSON, durations
 *   holderctl-members.c    the members of the store and their liveness
 *   holderctl-cluster-file.c  `up`'s cluster description
 *   cmd-*.c                one subcommand each
 */
#pragma once

#include <stdio.h>

#include <holder.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Exit codes (documented in holderctl(1)). */
typedef enum {
  HOLDERCTL_EXIT_OK = 0,
  /* Something failed: a stop, a boot, a prune, a file that cannot be read. */
  HOLDERCTL_EXIT_FAILURE = 1,
  /* The command line is wrong. */
  HOLDERCTL_EXIT_USAGE = 2,
  /* What was asked for is absent: a named member or cluster does not exist
   * (status, stop, logs, down), or the default backend cannot boot on this
   * host (doctor). */
  HOLDERCTL_EXIT_ABSENT = 3,
} HolderctlExit;

/* What every command gets: the global options, resolved. */
typedef struct {
  char     *root;    /* the storage root */
  gboolean  json;    /* --json */
  gboolean  color;   /* stdout is a terminal, NO_COLOR unset, no --no-color */
  gboolean  tty;     /* stdout is a terminal */
} HolderctlContext;

/* A command: @argv starts with the command's name. Returns an exit code. */
typedef int (*HolderctlCommandFunc) (HolderctlContext *ctx,
                                     int               argc,
                                     char            **argv);

/* Parses a command's options (plus the global ones, which may also come
 * after the command) with GOption. On a usage error prints it with
 * @synopsis and returns FALSE; --help prints the help and exits 0. */
gboolean holderctl_parse_options (HolderctlContext *ctx,
                                  int              *argc,
                                  char           ***argv,
                                  const char       *synopsis,
                                  const char       *summary,
                                  GOptionEntry     *entries);

/* "holderctl: <message>" on stderr; returns @code. */
int holderctl_fail (int         code,
                    const char *format,
                    ...) G_GNUC_PRINTF (2, 3);

/* A usage error: the message and "Run holderctl COMMAND --help". */
int holderctl_usage_error (const char *command,
                           const char *format,
                           ...) G_GNUC_PRINTF (2, 3);

/* ---- output (holderctl-output.c) ------------------------------------------ */

typedef enum {
  HOLDERCTL_COLOR_NONE,
  HOLDERCTL_COLOR_GREEN,
  HOLDERCTL_COLOR_YELLOW,
  HOLDERCTL_COLOR_RED,
  HOLDERCTL_COLOR_DIM,
  HOLDERCTL_COLOR_BOLD,
} HolderctlColor;

/* @text wrapped in @color's escape sequences when ctx->color. */
char *holderctl_paint (HolderctlContext *ctx,
                       HolderctlColor    color,
                       const char       *text);

/* The colour a member state is shown in. */
HolderctlColor holderctl_state_color (const char *state);

typedef struct _HolderctlTable HolderctlTable;

/* An aligned table with these column headings (NULL-terminated). */
HolderctlTable *holderctl_table_new (const char *const *headings);
/* Adds a row of as many cells as headings; @colors (nullable) per cell. */
void holderctl_table_add_row (HolderctlTable       *table,
                              const char *const    *cells,
                              const HolderctlColor *colors);
/* Prints it: columns padded to their widest cell (counted in characters,
 * colour escapes aside), two spaces apart, headings in bold. */
void holderctl_table_print (HolderctlTable   *table,
                            HolderctlContext *ctx,
                            FILE             *out);
void holderctl_table_free (HolderctlTable *table);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderctlTable, holderctl_table_free)

/* Prints @node as indented JSON and a newline on stdout. */
void holderctl_print_json (JsonNode *node);

/* "45s", "3m12s", "2h5m", "1d3h": for uptimes and elapsed times. */
char *holderctl_format_age (gint64 seconds);

/* ---- members (holderctl-members.c) ---------------------------------------- */

typedef enum {
  HOLDERCTL_LIVENESS_NONE,   /* no helper files: cleanly stopped */
  HOLDERCTL_LIVENESS_LIVE,   /* a live helper serves it and answers */
  HOLDERCTL_LIVENESS_STALE,  /* a dead helper's files, or a helper that does not answer */
} HolderctlLiveness;

/* One member as holderctl shows it; the JSON schema is in holderctl(1). */
typedef struct {
  char              *name;
  char              *cluster;
  char              *state;          /* the wire's state names */
  gboolean           running;
  char              *ip;             /* "" when unknown */
  char              *error;          /* nullable */
  GPid               pid;            /* the helper's, 0 when none */
  char              *backend;        /* nullable */
  gint64             registered;     /* unix seconds of registration, 0 when unknown */
  HolderctlLiveness  liveness;
  char              *stale_reason;   /* nullable */
  char              *console;        /* the console log's path */
} HolderctlMember;

void holderctl_member_free (HolderctlMember *member);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderctlMember, holderctl_member_free)

/* Whether @name has a folder in the store. */
gboolean holderctl_member_exists (const char *root,
                                  const char *name);

/* The names of the store's members, sorted by cluster then name (natural
 * order: web-2 before web-10); only @cluster's when non-NULL. */
GPtrArray *holderctl_member_names (const char *root,
                                   const char *cluster);

/* Whether @cluster has a folder in the store. */
gboolean holderctl_cluster_exists (const char *root,
                                   const char *cluster);

/* What the store and the member's helper say about @name now. */
HolderctlMember *holderctl_member_probe (const char *root,
                                         const char *name);

const char *holderctl_liveness_to_string (HolderctlLiveness liveness);

/* The member's JSON object (the documented schema). */
JsonNode *holderctl_member_to_json (const HolderctlMember *member);

/* Natural order of member names, for g_ptr_array_sort(). */
gint holderctl_compare_names (gconstpointer a,
                              gconstpointer b);

/* ---- `up`'s cluster description (holderctl-cluster-file.c) ------------------ */

typedef struct {
  HolderMemberSpec *spec;
  char             *ip_hint;  /* nullable */
} HolderctlClusterMember;

typedef struct {
  char      *path;
  char      *backend;  /* nullable: FLEETBOX_BACKEND for the helper */
  GPtrArray *members;  /* of HolderctlClusterMember, in the file's order */
} HolderctlCluster;

/* Reads a cluster description (its format is in holderctl(1)): every key
 * known, every name valid and unique, relative paths made absolute against
 * the file's folder. Errors name the file, the member and the key. */
HolderctlCluster *holderctl_cluster_load (const char  *path,
                                          GError     **error);
void holderctl_cluster_free (HolderctlCluster *cluster);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HolderctlCluster, holderctl_cluster_free)

/* ---- commands (cmd-*.c) ---------------------------------------------------- */

int holderctl_cmd_ls       (HolderctlContext *ctx, int argc, char **argv);
int holderctl_cmd_status   (HolderctlContext *ctx, int argc, char **argv);
int holderctl_cmd_stop     (HolderctlContext *ctx, int argc, char **argv);
int holderctl_cmd_down     (HolderctlContext *ctx, int argc, char **argv);
int holderctl_cmd_logs     (HolderctlContext *ctx, int argc, char **argv);
int holderctl_cmd_prune    (HolderctlContext *ctx, int argc, char **argv);
int holderctl_cmd_doctor   (HolderctlContext *ctx, int argc, char **argv);
int holderctl_cmd_up       (HolderctlContext *ctx, int argc, char **argv);
int holderctl_cmd_complete (HolderctlContext *ctx, int argc, char **argv);

/* Stops @names (served or not) concurrently, waiting up to @timeout_ms
 * each, printing each outcome as it comes (or a JSON array with --json).
 * Returns the exit code (cmd-stop.c; `down` uses it too). */
int holderctl_stop_members (HolderctlContext *ctx,
                            GPtrArray        *names,
                            guint             timeout_ms);

G_END_DECLS
