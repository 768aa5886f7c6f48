/* SPDX-License-Identifier: BSD-2-Clause */
/* table: the handler table. A new endpoint is a function in a handlers/ file and a row here.
 * The row's index is its route id in the scoreboard's per-route counters. */
#include "handlers/handlers.h"

const struct mr_route mr_handler_table[] = {
    {{"GET", "/plaintext"}, h_plaintext, false},
    {{"GET", "/json"}, h_json, false},
    {{"GET", "/db"}, h_db, false},
    {{"GET", "/queries"}, h_queries, false},
    {{"GET", "/cached-queries"}, h_cached_queries, false},
    {{"GET", "/fortunes"}, h_fortunes, false},
    {{"GET", "/updates"}, h_updates, false},
    {{"POST", "/updates"}, h_updates, false},
    {{"GET", "/healthz"}, h_healthz, true},
    {{"GET", "/readyz"}, h_readyz, true},
    {{"GET", "/status"}, h_status, true},
    {{"GET", "/metrics"}, h_metrics, true},
#ifdef MR_TEST_BUILD
    {{"GET", "/test/sleep"}, h_test_sleep, false},
    {{"POST", "/test/echo"}, h_test_echo, false},
#endif
};

const size_t mr_handler_count = sizeof(mr_handler_table) / sizeof(mr_handler_table[0]);

const struct mr_route mr_status_table[] = {
    {{"GET", "/status"}, h_status, true},
    {{"GET", "/metrics"}, h_metrics, true},
    {{"GET", "/healthz"}, h_healthz, true},
};

const size_t mr_status_count = sizeof(mr_status_table) / sizeof(mr_status_table[0]);
