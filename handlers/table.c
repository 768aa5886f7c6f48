/* SPDX-License-Identifier: BSD-2-Clause */
/* table: the handler table. A new endpoint is a function in a handlers/ file and a row here.
 * The row's index is its route id in the scoreboard's per-route counters. */
#include "handlers/handlers.h"

const struct mr_route mr_handler_table[] = {
    {"GET", "/plaintext", h_plaintext, 0},
    {"GET", "/json", h_json, 0},
    {"GET", "/db", h_db, 0},
    {"GET", "/queries", h_queries, 0},
    {"GET", "/cached-queries", h_cached_queries, 0},
    {"GET", "/fortunes", h_fortunes, 0},
    {"GET", "/updates", h_updates, 0},
    {"POST", "/updates", h_updates, 0},
    {"GET", "/healthz", h_healthz, MR_ROUTE_NEVER_SHED},
    {"GET", "/readyz", h_readyz, MR_ROUTE_NEVER_SHED},
    {"GET", "/status", h_status, MR_ROUTE_NEVER_SHED},
    {"GET", "/metrics", h_metrics, MR_ROUTE_NEVER_SHED},
#ifdef MR_TEST_BUILD
    {"GET", "/test/sleep", h_test_sleep, 0},
    {"POST", "/test/echo", h_test_echo, 0},
#endif
};

const size_t mr_handler_count = sizeof(mr_handler_table) / sizeof(mr_handler_table[0]);

const struct mr_route mr_status_table[] = {
    {"GET", "/status", h_status, MR_ROUTE_NEVER_SHED},
    {"GET", "/metrics", h_metrics, MR_ROUTE_NEVER_SHED},
    {"GET", "/healthz", h_healthz, MR_ROUTE_NEVER_SHED},
};

const size_t mr_status_count = sizeof(mr_status_table) / sizeof(mr_status_table[0]);
