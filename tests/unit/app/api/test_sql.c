/* SPDX-License-Identifier: BSD-2-Clause */
/* test_sql: millrace.h's data calls where no server is needed: the HTTP status of each
 * failure (SQLSTATE and errno), the row accessors over a PGresult built client-side, and the
 * refusals made before any backend is asked (a write statement given to a read, a bad index,
 * a batch run twice), each with its reason in err_detail. */
#include <errno.h>
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app/api/internal.h"
#include "app/serve/ctx.h"
#include "db/internal.h"
#include "tests/unit/suites.h"

START_TEST(test_sql_status_by_sqlstate_and_errno)
{
    ck_assert_int_eq(mr_api__sql_status(0, ""), 0);
    ck_assert_int_eq(mr_api__sql_status(-EIO, "23505"), 409);
    ck_assert_int_eq(mr_api__sql_status(-EIO, "23503"), 422);
    ck_assert_int_eq(mr_api__sql_status(-EIO, "23514"), 422);
    ck_assert_int_eq(mr_api__sql_status(-EIO, "23502"), 422);
    ck_assert_int_eq(mr_api__sql_status(-EIO, "23P01"), 500); /* exclusion: not listed */
    ck_assert_int_eq(mr_api__sql_status(-EIO, "42P01"), 500);
    ck_assert_int_eq(mr_api__sql_status(-EIO, "22P02"), 500);
    ck_assert_int_eq(mr_api__sql_status(-ETIMEDOUT, "57014"), 504);
    ck_assert_int_eq(mr_api__sql_status(-ETIMEDOUT, ""), 504);
    ck_assert_int_eq(mr_api__sql_status(-EIO, "57P01"), 503); /* admin shutdown */
    ck_assert_int_eq(mr_api__sql_status(-EIO, "53300"), 503); /* too many connections */
    ck_assert_int_eq(mr_api__sql_status(-EIO, "08006"), 503);
    ck_assert_int_eq(mr_api__sql_status(-ECONNREFUSED, ""), 503);
    ck_assert_int_eq(mr_api__sql_status(-EIO, NULL), 503);
    ck_assert_int_eq(mr_api__sql_status(-EINVAL, ""), 500);
    ck_assert_int_eq(mr_api__sql_status(-ENOMEM, ""), 500);
}
END_TEST

START_TEST(test_sql_fault_sqlstates_are_the_backend_classes)
{
    ck_assert(mr_db__is_fault_sqlstate(NULL));
    ck_assert(mr_db__is_fault_sqlstate("08006"));
    ck_assert(mr_db__is_fault_sqlstate("57014"));
    ck_assert(!mr_db__is_fault_sqlstate("23505"));
    ck_assert(!mr_db__is_fault_sqlstate("40001"));
}
END_TEST

/* A result of three columns (int4, text, bool... as text) and two rows, the second with
 * NULLs, as the server would send it in text format. */
static PGresult *
make_result(void)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    ck_assert_ptr_nonnull(r);
    PGresAttDesc cols[4] = {
        {.name = "id", .format = 0, .typid = 23, .typlen = 4, .atttypmod = -1},
        {.name = "message", .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1},
        {.name = "ok", .format = 0, .typid = 16, .typlen = 1, .atttypmod = -1},
        {.name = "score", .format = 0, .typid = 701, .typlen = 8, .atttypmod = -1},
    };
    ck_assert_int_eq(PQsetResultAttrs(r, 4, cols), 1);
    ck_assert_int_eq(PQsetvalue(r, 0, 0, "-9000000000", 11), 1);
    ck_assert_int_eq(PQsetvalue(r, 0, 1, "héllo", 6), 1);
    ck_assert_int_eq(PQsetvalue(r, 0, 2, "t", 1), 1);
    ck_assert_int_eq(PQsetvalue(r, 0, 3, "2.5", 3), 1);
    ck_assert_int_eq(PQsetvalue(r, 1, 0, "12abc", 5), 1);
    ck_assert_int_eq(PQsetvalue(r, 1, 1, NULL, -1), 1);
    ck_assert_int_eq(PQsetvalue(r, 1, 2, "f", 1), 1);
    ck_assert_int_eq(PQsetvalue(r, 1, 3, NULL, -1), 1);
    return r;
}

START_TEST(test_sql_rows_accessors)
{
    struct mr_arena arena;
    mr_arena_init(&arena, 1024, 1 << 16);
    struct mr_err err;
    PGresult *res = make_result();
    struct mr_rows *r = NULL;
    ck_assert_int_eq(mr_db__rows_copy(&arena, res, &r, &err), 0);
    PQclear(res); /* the copy stands alone, as db/ uses it */
    ck_assert_uint_eq(mr_rows_count(r), 2);
    ck_assert_int_eq(mr_rows_columns(r), 4);
    ck_assert_int_eq(mr_rows_int(r, 0, 0), -9000000000LL);
    ck_assert_int_eq(mr_rows_int(r, 1, 0), 0); /* not an integer */
    size_t len = 99;
    ck_assert_str_eq(mr_rows_text(r, 0, 1, &len), "héllo");
    ck_assert_uint_eq(len, 6);
    ck_assert_ptr_null(mr_rows_text(r, 1, 1, &len));
    ck_assert_uint_eq(len, 0);
    ck_assert(!mr_rows_null(r, 0, 1));
    ck_assert(mr_rows_null(r, 1, 1));
    ck_assert(mr_rows_null(r, 2, 0)); /* out of range */
    ck_assert(mr_rows_null(r, 0, 4));
    ck_assert(mr_rows_null(r, 0, -1));
    ck_assert(mr_rows_bool(r, 0, 2));
    ck_assert(!mr_rows_bool(r, 1, 2));
    ck_assert(!mr_rows_bool(r, 0, 1)); /* "héllo" is not "t" */
    ck_assert(fabs(mr_rows_float(r, 0, 3) - 2.5) < 1e-12);
    ck_assert(mr_rows_float(r, 1, 3) == 0.0);
    ck_assert_str_eq(mr_rows_text(r, 0, 0, NULL), "-9000000000");
    /* A NULL result counts nothing and has no values. */
    ck_assert_uint_eq(mr_rows_count(NULL), 0);
    ck_assert_ptr_null(mr_rows_text(NULL, 0, 0, &len));
    ck_assert_int_eq(mr_rows_int(NULL, 0, 0), 0);
    mr_arena_fini(&arena);
}
END_TEST

/* The binary form run.c asks for when every column is an integer, boolean or string: the
 * accessors decode it, and the text form of an integer is formatted into the arena. */
START_TEST(test_sql_rows_binary_columns)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc cols[4] = {
        {.name = "a", .format = 1, .typid = 23, .typlen = 4, .atttypmod = -1},
        {.name = "b", .format = 1, .typid = 20, .typlen = 8, .atttypmod = -1},
        {.name = "c", .format = 1, .typid = 16, .typlen = 1, .atttypmod = -1},
        {.name = "d", .format = 1, .typid = 1043, .typlen = -1, .atttypmod = -1},
    };
    ck_assert_int_eq(PQsetResultAttrs(res, 4, cols), 1);
    ck_assert(mr_db__binary_ok(res));
    ck_assert_int_eq(PQsetvalue(res, 0, 0, (char *)"\xff\xff\xfc\x18", 4), 1); /* -1000 */
    ck_assert_int_eq(PQsetvalue(res, 0, 1, (char *)"\x00\x00\x00\x02\x00\x00\x00\x01", 8), 1);
    ck_assert_int_eq(PQsetvalue(res, 0, 2, (char *)"\x01", 1), 1);
    ck_assert_int_eq(PQsetvalue(res, 0, 3, (char *)"hi", 2), 1);
    struct mr_arena arena;
    mr_arena_init(&arena, 1024, 1 << 16);
    struct mr_err err;
    struct mr_rows *copy = NULL;
    ck_assert_int_eq(mr_db__rows_copy(&arena, res, &copy, &err), 0);
    PQclear(res);
    const struct mr_rows *rows = copy;
    ck_assert_int_eq(mr_rows_int(rows, 0, 0), -1000);
    ck_assert_int_eq(mr_rows_int(rows, 0, 1), 8589934593LL);
    ck_assert_str_eq(mr_rows_text(rows, 0, 0, NULL), "-1000");
    size_t len = 0;
    ck_assert_str_eq(mr_rows_text(rows, 0, 1, &len), "8589934593");
    ck_assert_uint_eq(len, 10);
    ck_assert(mr_rows_bool(rows, 0, 2));
    ck_assert_str_eq(mr_rows_text(rows, 0, 3, &len), "hi");
    ck_assert_uint_eq(len, 2);
    ck_assert_int_eq(mr_rows_int(rows, 0, 3), 0); /* a string is not an integer */
    ck_assert(fabs(mr_rows_float(rows, 0, 0) + 1000.0) < 1e-12);
    mr_arena_fini(&arena);
    /* A numeric column keeps the statement in text. */
    res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc num = {.name = "n", .format = 0, .typid = 1700, .typlen = -1, .atttypmod = -1};
    ck_assert_int_eq(PQsetResultAttrs(res, 1, &num), 1);
    ck_assert(!mr_db__binary_ok(res));
    PQclear(res);
}
END_TEST

static const struct mr_statement stmts[] = {
    {"get", "SELECT 1 WHERE $1::int > 0", false},
    {"put", "UPDATE t SET x = $1", true},
};

static const struct mr_app app = {
    .api_version = MR_API_VERSION,
    .name = "t",
    .statements = stmts,
    .n_statements = 2,
};

/* A request without a database: every call below must refuse before reaching ctx->db. */
struct fixture {
    struct mr_arena arena;
    struct mr_ctx ctx;
};

static void
fixture_init(struct fixture *f)
{
    mr_arena_init(&f->arena, 4096, 1 << 20);
    memset(&f->ctx, 0, sizeof(f->ctx));
    f->ctx.arena = &f->arena;
    f->ctx.app = &app;
}

START_TEST(test_sql_read_refuses_a_write_statement_and_a_bad_index)
{
    struct fixture f;
    fixture_init(&f);
    const char *p[1] = {"1"};
    struct mr_rows *out = (struct mr_rows *)&f; /* must be reset */
    ck_assert_int_eq(mr_sql_read(&f.ctx, 1, p, 1, &out), 500);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(f.ctx.err_detail, "\"put\" is_write"));
    ck_assert_int_eq(mr_sql_read(&f.ctx, 2, p, 1, &out), 500);
    ck_assert_ptr_nonnull(strstr(f.ctx.err_detail, "no statement 2"));
    ck_assert_int_eq(mr_sql_write(&f.ctx, -1, p, 1, &out), 500);
    ck_assert_ptr_nonnull(strstr(f.ctx.err_detail, "no statement -1"));
    f.ctx.app = NULL; /* the status process: no statements at all */
    ck_assert_int_eq(mr_sql_read(&f.ctx, 0, p, 1, &out), 500);
    mr_arena_fini(&f.arena);
}
END_TEST

START_TEST(test_sql_batch_refusals_before_the_database)
{
    struct fixture f;
    fixture_init(&f);
    const char *p[1] = {"1"};
    struct mr_rows *out[4];
    /* A read batch holding a write statement. */
    struct mr_batch *b = mr_batch_begin(&f.ctx);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(mr_batch_add(b, 0, p, 1), 0);
    ck_assert_int_eq(mr_batch_add(b, 1, p, 1), 0);
    ck_assert_int_eq(mr_batch_read(b, out), 500);
    ck_assert_ptr_nonnull(strstr(f.ctx.err_detail, "is_write"));
    /* ...and it has run: a second run is refused too. */
    ck_assert_int_eq(mr_batch_commit(b, out), 500);
    ck_assert_ptr_nonnull(strstr(f.ctx.err_detail, "run twice"));
    /* A failed add fails the batch, even when the caller ignored it. */
    b = mr_batch_begin(&f.ctx);
    ck_assert_int_eq(mr_batch_add(b, 7, p, 1), 500);
    ck_assert_int_eq(mr_batch_add(b, 0, NULL, 1), 500);
    ck_assert_int_eq(mr_batch_commit(b, out), 500);
    ck_assert_ptr_nonnull(strstr(f.ctx.err_detail, "no array"));
    ck_assert_int_eq(mr_batch_add(NULL, 0, p, 1), 500);
    ck_assert_int_eq(mr_batch_read(NULL, out), 500);
    mr_arena_fini(&f.arena);
}
END_TEST

START_TEST(test_sql_batch_grows_past_its_first_array)
{
    struct fixture f;
    fixture_init(&f);
    char text[40][12];
    const char *p[40];
    struct mr_batch *b = mr_batch_begin(&f.ctx);
    for (int i = 0; i < 40; i++) {
        (void)snprintf(text[i], sizeof(text[i]), "%d", i);
        p[i] = text[i];
        ck_assert_int_eq(mr_batch_add(b, 0, &p[i], 1), 0);
    }
    ck_assert_int_eq(b->n, 40);
    for (int i = 0; i < 40; i++) {
        ck_assert_int_eq(b->calls[i].stmt, 0);
        ck_assert_ptr_eq(b->calls[i].params[0], text[i]); /* the array copied, strings not */
        ck_assert_ptr_ne(b->calls[i].params, &p[i]);
    }
    mr_arena_fini(&f.arena);
}
END_TEST

Suite *
sql_suite(void)
{
    Suite *s = suite_create("sql");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sql_status_by_sqlstate_and_errno);
    tcase_add_test(tc, test_sql_fault_sqlstates_are_the_backend_classes);
    tcase_add_test(tc, test_sql_rows_accessors);
    tcase_add_test(tc, test_sql_rows_binary_columns);
    tcase_add_test(tc, test_sql_read_refuses_a_write_statement_and_a_bad_index);
    tcase_add_test(tc, test_sql_batch_refusals_before_the_database);
    tcase_add_test(tc, test_sql_batch_grows_past_its_first_array);
    suite_add_tcase(s, tc);
    return s;
}
