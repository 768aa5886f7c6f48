/* SPDX-License-Identifier: BSD-2-Clause */
/* main: the unit-test runner: every suite in one SRunner. Check's default fork mode is kept on
 * purpose: each test runs in its own child, so a crash, a sanitizer report or a leak fails the
 * test that caused it, by name. Run from tests/unit/ (`make unit` does), so that tests can open
 * their data files by relative path. Exits 1 when any test fails. */
#include <stdlib.h>

#include "tests/unit/suites.h"

int
main(void)
{
    /* Unformatted, so that a new suite is one added line, not a reflowed table. */
    /* clang-format off */
    Suite *(*const suites[])(void) = {
        api_suite,
        arena_suite,
        backend_suite,
        breaker_suite,
        buf_suite,
        cache_suite,
        cache_aside_suite,
        clients_suite,
        config_suite,
        cookie_suite,
        fcgi_guard_suite,
        form_suite,
        html_suite,
        json_suite,
        jsonbody_suite,
        conns_suite,
        l1_suite,
        log_suite,
        module_suite,
        multipart_suite,
        params_suite,
        pool_suite,
        rand_suite,
        reload_suite,
        request_suite,
        route_suite,
        router_suite,
        scoreboard_suite,
        template_suite,
        validate_suite,
        sql_suite,
        txn_suite,
        lsn_suite,
        session_suite,
    };
    /* clang-format on */
    SRunner *sr = srunner_create(NULL);
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        srunner_add_suite(sr, suites[i]());
    /* CK_NORMAL ends with Check's own summary line: "100%: Checks: N, Failures: 0, Errors: 0". */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
