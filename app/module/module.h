/* SPDX-License-Identifier: BSD-2-Clause */
/* module: an application loaded from its shared object. The file is copied into an
 * anonymous memory file and loaded from there, so that the code a process runs never changes
 * under it: a deploy may overwrite the .so in place, and the workers of the old build keep
 * the old code until they are replaced. Each load is its own copy, so a reload always gets the
 * new build even from the same path (the dynamic loader would hand back the old one by name).
 *
 * The manager never runs application code but the entry point: mr_module_check loads the
 * module in a throwaway child first (missing symbols, the API version, the entry point, the
 * route table, the statements, which it prepares on the primary, init and fini), so that a
 * broken build costs a log line, not the manager. */
#ifndef MR_MODULE_H
#define MR_MODULE_H

#include <stddef.h>

#include "app/include/millrace.h"
#include "app/lib/err.h"
#include "app/lib/template.h"
#include "app/serve/router.h"
#include "app/serve/validate.h"
#include "db/db.h"

struct mr_module;

/* How long the throwaway child may take to load a module, prepare its statements (at most
 * db.connect_timeout_ms + db.query_timeout_ms) and run its init. */
#define MR_MODULE_CHECK_MS 10000

/* More statements than this is a broken table, not an application. */
#define MR_MODULE_MAX_STATEMENTS 4096

/* Loads the module at path. Returns 0 with *out set, or a negative errno with err as
 * "path: reason" (cannot read, not a shared object, undefined symbol, no entry point,
 * built for API version N). Only the entry point runs. */
MR_MUST_CHECK int mr_module_open(const char *path, struct mr_module **out, struct mr_err *err);
/* The application the entry point returned (static data of the module). */
const struct mr_app *mr_module_app(const struct mr_module *m);
/* Unloads the module and sets *m to NULL. Code or data of it must not be in use. */
void mr_module_close(struct mr_module **m);

/* The served table: the application's routes, then the server's own (`own`, n_own). Checks
 * every row (a known method, a pattern starting with '/', a handler) and refuses two rows for
 * the same method and pattern, naming both (the router refuses patterns of the same shape). Returns
 * 0 with a malloc'd table in *out (free it with free), or -EINVAL with err set. */
MR_MUST_CHECK int mr_module_routes(const struct mr_app *app, const struct mr_route *own,
                                   size_t n_own, struct mr_route **out, size_t *n_out,
                                   struct mr_err *err);

/* Checks the application's statement table: names non-empty and unique, SQL present, at
 * most MR_MODULE_MAX_STATEMENTS. Returns 0 or -EINVAL with err naming the statement. Does not
 * ask the database (mr_module_check does). */
MR_MUST_CHECK int mr_module_statements(const struct mr_app *app, struct mr_err *err);

/* What a generation of workers serves: the application (a module's, or the built-in one
 * when no module is configured) and the table of its routes and the server's own. */
struct mr_served {
    struct mr_module *module; /* NULL: the built-in application */
    const struct mr_app *app;
    struct mr_route *routes; /* malloc'd */
    size_t n_routes;
    struct mr_tpl_set *templates; /* the app's, compiled; NULL when it has none */
    struct mr_valid **inputs;     /* per route: its compiled inputs, or NULL; malloc'd */
    struct mr_router *router;     /* compiled from routes */
};

/* Opens app_path ("" = builtin), builds the table with `own` and compiles the app's
 * templates (templates_dir relative to the module's folder) and each route's inputs. Returns 0, or
 * a negative errno with err as "path: reason" (a template's as "path: template:line: reason") and
 * *out empty. Does not run init: check first. */
MR_MUST_CHECK int mr_served_open(const char *app_path, const struct mr_app *builtin,
                                 const struct mr_route *own, size_t n_own, struct mr_served *out,
                                 struct mr_err *err);
/* A router over routes[0..n) (the status process's table, say). Returns 0 or -EINVAL with
 * err naming the bad rows. */
MR_MUST_CHECK int mr_routes_compile(const struct mr_route *routes, size_t n, struct mr_router **out,
                                    struct mr_err *err);
/* Frees the table and unloads the module; *s is empty afterwards. */
void mr_served_close(struct mr_served *s);

/* Everything mr_module_open checks, then the route table against `own` and the statement
 * table, then (db not NULL) every statement prepared once on db's primary, then the init hook
 * (worker -1) and fini, in a child process that exits afterwards; bounded by timeout_ms.
 * Returns 0, or -EINVAL with err as "path: reason" (a crash in init is a reason too; a
 * statement the server refuses is `path: statement "name": reason (sqlstate S)`).
 *
 * A primary that cannot be reached does not refuse the module: the database may be down
 * while the application deploys, and the workers prepare the statements on every connection
 * anyway (a refusal there fails the connection, counted by the breaker). The check then
 * returns 0 with err->msg holding a note ("path: statements not checked, the primary is
 * unreachable (...)") for the caller to log; after a full check err->msg is "". */
MR_MUST_CHECK int mr_module_check(const char *path, const struct mr_route *own, size_t n_own,
                                  const struct mr_db_cfg *db, int timeout_ms, struct mr_err *err);

#endif
