/* SPDX-License-Identifier: BSD-2-Clause */
/* table: the route tables. The TechEmpower endpoints are the built-in application, served
 * when the config names no module; the operations endpoints are millrace's own and are
 * served beside every application. A row's index in the served table (the application's
 * rows first) is its route id in the scoreboard's per-route counters. */
#include <stdint.h>

#include "handlers/handlers.h"

#ifndef MR_VERSION
#define MR_VERSION "0.1.0"
#endif

/* rw_demo's columns: id integer, value bigint (any long long). */
static const struct mr_input rw_put_inputs[] = {
    MR_IN_INT("id", MR_FROM_PATH, INT32_MIN, INT32_MAX, MR_REQUIRED),
    MR_IN_INT("value", MR_FROM_FORM, 0, 0, MR_REQUIRED),
    MR_IN_END,
};
static const struct mr_input rw_get_inputs[] = {
    MR_IN_INT("id", MR_FROM_PATH, INT32_MIN, INT32_MAX, MR_REQUIRED),
    MR_IN_END,
};

static const struct mr_route techempower_routes[] = {
    MR_ROUTE("GET", "/plaintext", h_plaintext),
    MR_ROUTE("GET", "/json", h_json),
    MR_ROUTE("GET", "/db", h_db),
    MR_ROUTE("GET", "/queries", h_queries),
    MR_ROUTE("GET", "/cached-queries", h_cached_queries, .flags = MR_ROUTE_CACHE_L1),
    MR_ROUTE("GET", "/fortunes", h_fortunes),
    MR_ROUTE("GET", "/updates", h_updates),
    MR_ROUTE("POST", "/updates", h_updates),
#ifdef MR_TEST_BUILD
    MR_ROUTE("POST", "/test/txn/bump", h_test_txn_bump),
    MR_ROUTE("POST", "/test/txn/batch-bump", h_test_txn_batch_bump),
    MR_ROUTE("POST", "/test/txn/insert", h_test_txn_insert),
    MR_ROUTE("POST", "/test/txn/pair", h_test_txn_pair),
#endif
    MR_ROUTE("POST", "/rw/{id:int}", h_rw_put, .inputs = rw_put_inputs),
    MR_ROUTE("GET", "/rw/{id:int}", h_rw_get, .inputs = rw_get_inputs),
};

/* The ids of an update are sorted and unique (world.c), so that concurrent workers lock rows
 * in one order and every row gets one value. */
static const struct mr_statement techempower_statements[] = {
    [MR_TE_WORLD] = {"world", "SELECT id, randomnumber FROM world WHERE id = $1", false},
    [MR_TE_FORTUNES] = {"fortunes", "SELECT id, message FROM fortune", false},
    [MR_TE_UPDATE] = {"world_update",
                      "UPDATE world SET randomnumber = v.r FROM unnest($1::int[], $2::int[]) "
                      "AS v(id, r) WHERE world.id = v.id",
                      true},
#ifdef MR_TEST_BUILD
    /* The transaction tests' (testonly.c), on scripts/seed.sql's txn_test. */
    [MR_TE_TEST_INSERT] =
        {"test_insert", "INSERT INTO txn_test (tag, parent) VALUES ($1, $2::bigint) RETURNING id",
         true},
    [MR_TE_TEST_GET] = {"test_get", "SELECT n FROM txn_test WHERE id = $1::bigint", false},
    [MR_TE_TEST_SET] = {"test_set", "UPDATE txn_test SET n = $2::int WHERE id = $1::bigint", true},
    [MR_TE_TEST_INCR] = {"test_incr", "UPDATE txn_test SET n = n + 1 WHERE id = $1::bigint", true},
    [MR_TE_TEST_LOCK] = {"test_lock", "SELECT pg_advisory_xact_lock_shared($1::bigint)", false},
    [MR_TE_TEST_SLEEP] = {"test_sleep", "SELECT pg_sleep($1::float8)", false},
#endif
    [MR_TE_RW_PUT] = {"rw_put",
                      "INSERT INTO rw_demo (id, value) VALUES ($1, $2) ON CONFLICT (id) "
                      "DO UPDATE SET value = EXCLUDED.value RETURNING id, value",
                      true},
    [MR_TE_RW_GET] = {"rw_get", "SELECT id, value FROM rw_demo WHERE id = $1", false},
};

/* handlers/templates/, compiled in by scripts/embed.py (build/gen/techempower_templates.c). */
extern const struct mr_template mr_techempower_templates[];
extern const size_t mr_techempower_templates_count;

const struct mr_app *
mr_techempower_app(void)
{
    /* Filled at the first call: the templates' count is not a constant expression. */
    static struct mr_app app;
    if (app.api_version == 0)
        app = (struct mr_app){
            .api_version = MR_API_VERSION,
            .name = "techempower",
            .version = MR_VERSION,
            .routes = techempower_routes,
            .n_routes = sizeof(techempower_routes) / sizeof(techempower_routes[0]),
            .templates = mr_techempower_templates,
            .n_templates = mr_techempower_templates_count,
            .statements = techempower_statements,
            .n_statements = sizeof(techempower_statements) / sizeof(techempower_statements[0]),
        };
    return &app;
}

const struct mr_route mr_ops_table[] = {
    MR_ROUTE("GET", "/healthz", h_healthz, .flags = MR_ROUTE_NEVER_SHED),
    MR_ROUTE("GET", "/readyz", h_readyz, .flags = MR_ROUTE_NEVER_SHED),
    MR_ROUTE("GET", "/status", h_status, .flags = MR_ROUTE_NEVER_SHED),
    MR_ROUTE("GET", "/metrics", h_metrics, .flags = MR_ROUTE_NEVER_SHED),
#ifdef MR_TEST_BUILD
    MR_ROUTE("GET", "/test/sleep", h_test_sleep),
    MR_ROUTE("POST", "/test/echo", h_test_echo),
    MR_ROUTE("GET", "/test/cache/fetch", h_test_cache_fetch),
    MR_ROUTE("GET", "/test/cache/fetch-l1", h_test_cache_fetch, .flags = MR_ROUTE_CACHE_L1),
    MR_ROUTE("POST", "/test/cache/write", h_test_cache_write),
    MR_ROUTE("POST", "/test/session/set", h_test_session_set),
    MR_ROUTE("GET", "/test/session/get", h_test_session_get),
    MR_ROUTE("POST", "/test/session/del", h_test_session_del),
    MR_ROUTE("POST", "/test/session/login", h_test_session_login),
    MR_ROUTE("POST", "/test/session/logout", h_test_session_logout),
    MR_ROUTE("GET", "/test/session/csrf", h_test_session_csrf),
    MR_ROUTE("POST", "/test/session/protected", h_test_session_protected, .flags = MR_ROUTE_CSRF),
    MR_ROUTE("POST", "/test/session/protected.html", h_test_session_protected,
             .flags = MR_ROUTE_CSRF | MR_ROUTE_HTML),
#endif
};

const size_t mr_ops_count = sizeof(mr_ops_table) / sizeof(mr_ops_table[0]);

const struct mr_route mr_status_table[] = {
    MR_ROUTE("GET", "/status", h_status, .flags = MR_ROUTE_NEVER_SHED),
    MR_ROUTE("GET", "/metrics", h_metrics, .flags = MR_ROUTE_NEVER_SHED),
    MR_ROUTE("GET", "/healthz", h_healthz, .flags = MR_ROUTE_NEVER_SHED),
};

const size_t mr_status_count = sizeof(mr_status_table) / sizeof(mr_status_table[0]);
