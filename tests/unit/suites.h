/* SPDX-License-Identifier: BSD-2-Clause */
/* suites: one Check suite per module, each defined in tests/unit/<folder>/test_<module>.c
 * (the tree mirrors the source tree) and run by main.c. A new suite gets a line here and a
 * line in main.c's table. */
#ifndef MR_TEST_SUITES_H
#define MR_TEST_SUITES_H

#include <check.h>

Suite *api_suite(void);
Suite *arena_suite(void);
Suite *backend_suite(void);
Suite *buf_suite(void);
Suite *cache_suite(void);
Suite *cache_aside_suite(void);
Suite *clients_suite(void);
Suite *config_suite(void);
Suite *cookie_suite(void);
Suite *fcgi_guard_suite(void);
Suite *form_suite(void);
Suite *breaker_suite(void);
Suite *html_suite(void);
Suite *json_suite(void);
Suite *jsonbody_suite(void);
Suite *log_suite(void);
Suite *module_suite(void);
Suite *multipart_suite(void);
Suite *params_suite(void);
Suite *pool_suite(void);
Suite *rand_suite(void);
Suite *reload_suite(void);
Suite *request_suite(void);
Suite *route_suite(void);
Suite *router_suite(void);
Suite *scoreboard_suite(void);
Suite *template_suite(void);
Suite *validate_suite(void);
Suite *sql_suite(void);
Suite *txn_suite(void);
Suite *conns_suite(void);
Suite *lsn_suite(void);
Suite *l1_suite(void);
Suite *session_suite(void);

/* A loopback port that refuses connections: bound, never listening. The fd (kept open for the
 * test's life, so that nothing else takes the port) goes to *fd_out. support.c. */
int mr_test_refusing_port(int *fd_out);

#endif
