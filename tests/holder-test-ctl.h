/* SPDX-License-Identifier: MIT
 *
 * What the tests of holderctl share: running it against a sandbox's store,
 * detached helpers that never outlive the test, and the checks of the
 * documented JSON schemas (holderctl(1)).
 */
#pragma once

#include <json-glib/json-glib.h>

#include "holder-test-process.h"
#include "holder-test-run.h"

G_BEGIN_DECLS

/* Runs holderctl (HOLDER_TEST_HOLDERCTL) with @sb's environment and the
 * arguments that follow (NULL-terminated). */
void ctl (Sandbox       *sb,
          HolderTestRun *r,
          const char    *first_arg,
          ...) G_GNUC_NULL_TERMINATED;

/* The same with an environment of one's own. */
void ctl_env (const char *const *envp,
              HolderTestRun     *r,
              const char *const *args);

/* A detached fake helper for @names (primary first), tracked so that a
 * failing test kills it; returns its pid. */
GPid spawn_detached (Sandbox           *sb,
                     const char *const *names);

/* createnetwork, reserve and boot-member of @name on @primary's helper
 * (the fake: made-up paths), with @serial_log (nullable) as the spec's
 * serial_log_path. Returns the boot's error, or NULL. */
GError *boot_member (Sandbox    *sb,
                     const char *primary,
                     const char *name,
                     const char *serial_log);

/* Kills every helper the store's pidfiles name (after a test), and waits
 * until each is gone. */
void kill_store_helpers (Sandbox *sb);

/* Parses @text as a JSON array (failing the test otherwise). */
JsonArray *parse_json_array (const char *text);
JsonObject *parse_json_object (const char *text);

/* The member object of @name in @array, or NULL. */
JsonObject *find_member (JsonArray  *array,
                         const char *name);

/* Exactly the documented fields of a member object, each of its type. */
void assert_member_schema (JsonObject *member);

/* A string member, NULL when it is null. */
const char *json_string_or_null (JsonObject *object,
                                 const char *key);

G_END_DECLS
