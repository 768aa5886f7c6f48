/* SPDX-License-Identifier: BSD-2-Clause */
/* test_txn: the transactions' pure parts (app/api/txn.c): which failures re-run a
 * transaction, the jittered wait before a re-run and its bound by the deadline, and the
 * refusals made before any database is asked. The re-runs themselves, against a real
 * serialization failure, are tests/integration/test_data_transactions.py's. */
#include <errno.h>
#include <string.h>

#include "app/api/internal.h"
#include "app/serve/ctx.h"
#include "tests/unit/suites.h"

START_TEST(test_txn_retries_serialization_failures_and_deadlocks_only)
{
    ck_assert(mr_api__txn_retryable("40001"));
    ck_assert(mr_api__txn_retryable("40P01"));
    ck_assert(!mr_api__txn_retryable("40002")); /* integrity constraint at COMMIT: not transient */
    ck_assert(!mr_api__txn_retryable("23505"));
    ck_assert(!mr_api__txn_retryable("57014"));
    ck_assert(!mr_api__txn_retryable(""));
    ck_assert(!mr_api__txn_retryable(NULL));
    /* Without a retry (mr_sql_write, or after the last one) both are 503, not 500. */
    ck_assert_int_eq(mr_api__sql_status(-EIO, "40001"), 503);
    ck_assert_int_eq(mr_api__sql_status(-EIO, "40P01"), 503);
}
END_TEST

START_TEST(test_txn_backoff_doubles_within_half_to_all)
{
    const int64_t plenty = 1000000;
    for (int retry = 1; retry <= 4; retry++) {
        int full = 5 << (retry - 1), lo = full, hi = 0;
        for (uint64_t r = 0; r < 1000; r++) {
            int w = mr_api__txn_backoff_ms(retry, 5, r * 2654435761u, plenty);
            lo = w < lo ? w : lo;
            hi = w > hi ? w : hi;
        }
        ck_assert_int_eq(lo, full / 2); /* both ends are reached */
        ck_assert_int_eq(hi, full);
    }
    ck_assert_int_eq(mr_api__txn_backoff_ms(1, 0, 12345, plenty), 0);
    /* The doubling stops at 2^10, whatever the retry number. */
    ck_assert_int_le(mr_api__txn_backoff_ms(60, 1000, UINT64_MAX, plenty * 10), 1000 << 10);
}
END_TEST

START_TEST(test_txn_backoff_leaves_half_of_the_deadline)
{
    ck_assert_int_eq(mr_api__txn_backoff_ms(1, 5, 0, 0), -1); /* deadline passed */
    ck_assert_int_eq(mr_api__txn_backoff_ms(1, 5, 0, -3), -1);
    ck_assert_int_eq(mr_api__txn_backoff_ms(1, 0, 0, 0), -1); /* no time even for no wait */
    ck_assert_int_eq(mr_api__txn_backoff_ms(1, 5, 0, 4), -1); /* 2 ms would use half of 4 */
    ck_assert_int_eq(mr_api__txn_backoff_ms(1, 5, 0, 5), 2);
    ck_assert_int_eq(mr_api__txn_backoff_ms(0, 5, 0, 100), -1); /* not a retry */
    for (uint64_t r = 0; r < 500; r++) {
        int w = mr_api__txn_backoff_ms(3, 5, r, 30);
        ck_assert(w == -1 || (w >= 10 && w * 2 < 30));
    }
}
END_TEST

static const struct mr_statement stmts[] = {{"get", "SELECT 1", false}};
static const struct mr_app app = {.name = "t", .statements = stmts, .n_statements = 1};

static int
never_called(struct mr_txn *t, void *arg)
{
    (void)t;
    (void)arg;
    ck_abort_msg("a refused transaction ran its callback");
    return 0;
}

START_TEST(test_txn_refusals_before_the_database)
{
    struct mr_arena arena;
    struct mr_ctx ctx;
    mr_arena_init(&arena, 4096, 1 << 20);
    memset(&ctx, 0, sizeof(ctx)); /* no database: each call must refuse before reaching it */
    ctx.arena = &arena;
    ctx.app = &app;
    ck_assert_int_eq(mr_txn(&ctx, (enum mr_isolation)7, never_called, NULL), 500);
    ck_assert_ptr_nonnull(strstr(ctx.err_detail, "isolation 7"));
    ck_assert_int_eq(mr_txn(&ctx, MR_SERIALIZABLE, NULL, NULL), 500);
    ck_assert_ptr_nonnull(strstr(ctx.err_detail, "fn NULL"));
    struct mr_rows *out = NULL;
    ck_assert_int_eq(mr_txn_run(NULL, 0, NULL, 0, &out), 500);
    ck_assert_int_eq(mr_txn_batch(NULL, NULL, &out), 500);
    ck_assert_ptr_null(mr_txn_ctx(NULL));

    ck_assert_int_eq(mr_batch_isolation(NULL, MR_SERIALIZABLE), 500);
    struct mr_batch *b = mr_batch_begin(&ctx);
    ck_assert_int_eq(mr_batch_isolation(b, MR_REPEATABLE_READ), 0);
    ck_assert_int_eq(mr_batch_commit(b, &out), 0); /* empty: nothing sent, nothing to retry */
    b = mr_batch_begin(&ctx);
    ck_assert_int_eq(mr_batch_isolation(b, (enum mr_isolation) - 1), 500);
    ck_assert_ptr_nonnull(strstr(ctx.err_detail, "no isolation level -1"));
    const char *p[1] = {"1"};
    ck_assert_int_eq(mr_batch_add(b, 0, p, 0), 0);
    ck_assert_int_eq(mr_batch_commit(b, &out), 500); /* the failed setting fails the commit */
    mr_arena_fini(&arena);
}
END_TEST

Suite *
txn_suite(void)
{
    Suite *s = suite_create("txn");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_txn_retries_serialization_failures_and_deadlocks_only);
    tcase_add_test(tc, test_txn_backoff_doubles_within_half_to_all);
    tcase_add_test(tc, test_txn_backoff_leaves_half_of_the_deadline);
    tcase_add_test(tc, test_txn_refusals_before_the_database);
    suite_add_tcase(s, tc);
    return s;
}
