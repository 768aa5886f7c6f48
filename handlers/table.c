/* SPDX-License-Identifier: BSD-2-Clause */
/* table: the handler table. A new endpoint is a function in a handlers/ file and a row here.
 * The row's index is its route id in the scoreboard's per-route counters. */
#include "handlers/handlers.h"

const struct mr_route mr_handler_table[] = {
    {"GET", "/plaintext", h_plaintext},
    {"GET", "/json", h_json},
    {"GET", "/db", h_db},
    {"GET", "/queries", h_queries},
    {"GET", "/cached-queries", h_cached_queries},
    {"GET", "/fortunes", h_fortunes},
    {"GET", "/updates", h_updates},
    {"POST", "/updates", h_updates},
    {"GET", "/healthz", h_healthz},
    {"GET", "/readyz", h_readyz},
    {"GET", "/status", h_status},
    {"GET", "/metrics", h_metrics},
#ifdef MR_TEST_BUILD
    {"GET", "/test/sleep", h_test_sleep},
    {"POST", "/test/echo", h_test_echo},
#endif
};

const size_t mr_handler_count = sizeof(mr_handler_table) / sizeof(mr_handler_table[0]);

const struct mr_route mr_status_table[] = {
    {"GET", "/status", h_status},
    {"GET", "/metrics", h_metrics},
    {"GET", "/healthz", h_healthz},
};

const size_t mr_status_count = sizeof(mr_status_table) / sizeof(mr_status_table[0]);
