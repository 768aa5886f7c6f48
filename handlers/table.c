/* SPDX-License-Identifier: BSD-2-Clause */
/* table: the route tables. The TechEmpower endpoints are the built-in application, served
 * when the config names no module; the operations endpoints are millrace's own and are
 * served beside every application. A row's index in the served table (the application's
 * rows first) is its route id in the scoreboard's per-route counters. */
#include "handlers/handlers.h"

#ifndef MR_VERSION
#define MR_VERSION "0.1.0"
#endif

static const struct mr_route techempower_routes[] = {
    {"GET", "/plaintext", h_plaintext, 0},
    {"GET", "/json", h_json, 0},
    {"GET", "/db", h_db, 0},
    {"GET", "/queries", h_queries, 0},
    {"GET", "/cached-queries", h_cached_queries, 0},
    {"GET", "/fortunes", h_fortunes, 0},
    {"GET", "/updates", h_updates, 0},
    {"POST", "/updates", h_updates, 0},
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
};

const struct mr_app mr_techempower_app = {
    .api_version = MR_API_VERSION,
    .name = "techempower",
    .version = MR_VERSION,
    .routes = techempower_routes,
    .n_routes = sizeof(techempower_routes) / sizeof(techempower_routes[0]),
    .statements = techempower_statements,
    .n_statements = sizeof(techempower_statements) / sizeof(techempower_statements[0]),
};

const struct mr_route mr_ops_table[] = {
    {"GET", "/healthz", h_healthz, MR_ROUTE_NEVER_SHED},
    {"GET", "/readyz", h_readyz, MR_ROUTE_NEVER_SHED},
    {"GET", "/status", h_status, MR_ROUTE_NEVER_SHED},
    {"GET", "/metrics", h_metrics, MR_ROUTE_NEVER_SHED},
#ifdef MR_TEST_BUILD
    {"GET", "/test/sleep", h_test_sleep, 0},
    {"POST", "/test/echo", h_test_echo, 0},
#endif
};

const size_t mr_ops_count = sizeof(mr_ops_table) / sizeof(mr_ops_table[0]);

const struct mr_route mr_status_table[] = {
    {"GET", "/status", h_status, MR_ROUTE_NEVER_SHED},
    {"GET", "/metrics", h_metrics, MR_ROUTE_NEVER_SHED},
    {"GET", "/healthz", h_healthz, MR_ROUTE_NEVER_SHED},
};

const size_t mr_status_count = sizeof(mr_status_table) / sizeof(mr_status_table[0]);
