/* SPDX-License-Identifier: BSD-2-Clause */
/* api/sql: millrace.h's data calls over db/'s mr_db_run: the application's statements by
 * index, single or batched, and the HTTP status a failure means. The reason of a failure goes
 * to ctx->err_detail for the log line; the time spent to ctx->backend_us.
 *
 * No malloc: a batch and its calls live in the arena (the calls array doubles as it grows),
 * and the results are db/'s, copied into the arena too (libpq's PGresult, its own allocation,
 * is cleared as soon as it has been copied). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/api/internal.h"
#include "app/include/millrace.h"
#include "app/lib/clock.h"
#include "app/serve/ctx.h"
#include "app/serve/token.h"

#define BATCH_FIRST_CAP 8

int
mr_api__sql_status(int rc, const char *sqlstate)
{
    if (rc == 0)
        return 0;
    const char *s = sqlstate != NULL ? sqlstate : "";
    if (strcmp(s, "23505") == 0)
        return 409;
    if (strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0)
        return 503; /* transient: another transaction won; mr_txn's retries say why (txn.c) */
    if (strcmp(s, "23503") == 0 || strcmp(s, "23514") == 0 || strcmp(s, "23502") == 0)
        return 422;
    if (rc == -ETIMEDOUT)
        return 504; /* the deadline, a timeout, or the server's statement_timeout (57014) */
    if (*s != '\0') {
        /* The classes db/ counts against the backend (exec.c): the server cannot serve now
         * (shutting down, out of connections), which is not the statement's fault. */
        static const char *const unavailable[] = {"08", "53", "57", "58"};
        for (size_t i = 0; i < sizeof(unavailable) / sizeof(unavailable[0]); i++)
            if (strncmp(s, unavailable[i], 2) == 0)
                return 503;
        return 500;
    }
    if (rc == -ECONNREFUSED || rc == -EIO)
        return 503; /* no usable backend, or the connection failed */
    return 500;     /* -EINVAL (the call), -ENOMEM (the arena) */
}

/* Keeps the reason for the log line and returns the status. */
static int
failed(struct mr_ctx *ctx, int status, const struct mr_err *err)
{
    char *d = mr_arena_strndup(ctx->arena, err->msg, strlen(err->msg));
    ctx->err_detail = d != NULL ? d : "data call failed (arena full: reason lost)";
    return status;
}

/* Refuses a statement index the application does not declare, and, for a read, a write. */
static int
check_stmt(struct mr_ctx *ctx, int stmt, bool is_read, struct mr_err *err)
{
    const struct mr_app *app = ctx->app;
    size_t n = app != NULL ? app->n_statements : 0;
    if (stmt < 0 || (size_t)stmt >= n)
        return mr_err_set(err, -EINVAL, "no statement %d (the application declares %zu)", stmt, n);
    if (is_read && app->statements[stmt].is_write)
        return mr_err_set(err, -EINVAL,
                          "statement \"%s\" is_write: run it with mr_sql_write or mr_batch_commit",
                          app->statements[stmt].name);
    return 0;
}

static int
run(struct mr_ctx *ctx, enum mr_db_mode mode, const struct mr_db_call *calls, int n,
    struct mr_rows **out)
{
    struct mr_err err;
    char sqlstate[MR_DB_SQLSTATE_LEN];
    int64_t t0 = mr_clock_us();
    /* Read-your-writes: a read sees the token presented and this request's own commits; a
     * commit raises the response's token. */
    if (mode == MR_DB_READ)
        mr_db_read_after(ctx->db, mr_token_floor(ctx));
    int rc = mr_db_run(ctx->db, mode, calls, n, ctx->arena, out, sqlstate, &err);
    if (rc == 0 && mode != MR_DB_READ)
        mr_token_committed(ctx, mr_db_committed(ctx->db));
    ctx->backend_us += mr_clock_us() - t0;
    return rc == 0 ? 0 : failed(ctx, mr_api__sql_status(rc, sqlstate), &err);
}

static int
run_one(struct mr_ctx *ctx, enum mr_db_mode mode, int stmt, const char *const *params, int n_params,
        struct mr_rows **out)
{
    struct mr_err err;
    if (out == NULL) {
        (void)mr_err_set(&err, -EINVAL, "statement %d: no result pointer", stmt);
        return failed(ctx, 500, &err);
    }
    *out = NULL;
    int rc = check_stmt(ctx, stmt, mode == MR_DB_READ, &err);
    if (rc != 0)
        return failed(ctx, 500, &err);
    struct mr_db_call call = {stmt, n_params, params};
    return run(ctx, mode, &call, 1, out);
}

int
mr_sql_read(struct mr_ctx *ctx, int stmt, const char *const *params, int n_params,
            struct mr_rows **out)
{
    return run_one(ctx, MR_DB_READ, stmt, params, n_params, out);
}

int
mr_sql_write(struct mr_ctx *ctx, int stmt, const char *const *params, int n_params,
             struct mr_rows **out)
{
    return run_one(ctx, MR_DB_WRITE, stmt, params, n_params, out);
}

struct mr_batch *
mr_batch_begin(struct mr_ctx *ctx)
{
    struct mr_batch *b = mr_arena_calloc(ctx->arena, 1, sizeof(*b));
    if (b != NULL)
        b->ctx = ctx;
    return b;
}

int
mr_batch_add(struct mr_batch *b, int stmt, const char *const *params, int n_params)
{
    if (b == NULL)
        return 500;
    struct mr_ctx *ctx = b->ctx;
    struct mr_err err;
    int rc = check_stmt(ctx, stmt, false, &err);
    if (rc == 0 && (n_params < 0 || (n_params > 0 && params == NULL)))
        rc = mr_err_set(&err, -EINVAL, "statement %d: %d parameters and no array", stmt, n_params);
    if (rc == 0 && b->n == b->cap) {
        int cap = b->cap > 0 ? 2 * b->cap : BATCH_FIRST_CAP;
        struct mr_db_call *calls = mr_arena_alloc(ctx->arena, (size_t)cap * sizeof(*calls));
        if (calls == NULL)
            rc = mr_err_set(&err, -ENOMEM, "batch of %d statements: arena full", b->n + 1);
        else {
            if (b->n > 0)
                memcpy(calls, b->calls, (size_t)b->n * sizeof(*calls));
            b->calls = calls;
            b->cap = cap;
        }
    }
    const char **copy = NULL;
    if (rc == 0 && n_params > 0) {
        copy = mr_arena_alloc(ctx->arena, (size_t)n_params * sizeof(*copy));
        if (copy == NULL)
            rc = mr_err_set(&err, -ENOMEM, "batch parameters: arena full");
        else
            memcpy(copy, params, (size_t)n_params * sizeof(*copy));
    }
    if (rc != 0) {
        b->failed = failed(ctx, 500, &err);
        return b->failed;
    }
    b->calls[b->n++] = (struct mr_db_call){stmt, n_params, copy};
    return 0;
}

/* What every run of a batch checks first: not run before, no failed add, and for a read no
 * write statement among its calls. */
static int
batch_check(struct mr_batch *b, bool is_read, struct mr_rows **out)
{
    struct mr_err err;
    int rc = 0;
    if (b->is_run)
        rc = mr_err_set(&err, -EINVAL, "batch run twice");
    else if (b->n > 0 && out == NULL)
        rc = mr_err_set(&err, -EINVAL, "batch of %d statements: no result array", b->n);
    for (int i = 0; rc == 0 && is_read && i < b->n; i++)
        rc = check_stmt(b->ctx, b->calls[i].stmt, true, &err);
    b->is_run = true;
    if (b->failed != 0)
        return b->failed; /* its reason is in err_detail already */
    return rc == 0 ? 0 : failed(b->ctx, 500, &err);
}

int
mr_batch_read(struct mr_batch *b, struct mr_rows **out)
{
    if (b == NULL)
        return 500;
    int rc = batch_check(b, true, out);
    return rc != 0 ? rc : run(b->ctx, MR_DB_READ, b->calls, b->n, out);
}

int
mr_batch_commit(struct mr_batch *b, struct mr_rows **out)
{
    if (b == NULL)
        return 500;
    int rc = batch_check(b, false, out);
    return rc != 0 ? rc : mr_api__batch_commit(b, out);
}

const char *
mr_rows_source(const struct mr_rows *r)
{
    if (r == NULL)
        return NULL;
    return mr_db_rows_primary(r) ? "primary" : "replica";
}

const char *
mr_token(struct mr_ctx *ctx)
{
    return mr_token_text(ctx);
}

size_t
mr_rows_count(const struct mr_rows *r)
{
    return r != NULL ? mr_db_rows_count(r) : 0;
}

int
mr_rows_columns(const struct mr_rows *r)
{
    return r != NULL ? mr_db_rows_columns(r) : 0;
}

long long
mr_rows_affected(const struct mr_rows *r)
{
    return r != NULL ? mr_db_rows_affected(r) : 0;
}

const char *
mr_rows_text(const struct mr_rows *r, size_t row, int col, size_t *len)
{
    if (r == NULL) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    return mr_db_rows_text(r, row, col, len);
}

bool
mr_rows_null(const struct mr_rows *r, size_t row, int col)
{
    return mr_rows_text(r, row, col, NULL) == NULL;
}

long long
mr_rows_int(const struct mr_rows *r, size_t row, int col)
{
    long long n = 0;
    return r != NULL && mr_db_rows_int(r, row, col, &n) == 0 ? n : 0;
}

bool
mr_rows_bool(const struct mr_rows *r, size_t row, int col)
{
    const char *v = mr_rows_text(r, row, col, NULL);
    return v != NULL && v[0] == 't' && v[1] == '\0';
}

double
mr_rows_float(const struct mr_rows *r, size_t row, int col)
{
    const char *v = mr_rows_text(r, row, col, NULL);
    if (v == NULL)
        return 0;
    char *end;
    double d = strtod(v, &end);
    return end != v && *end == '\0' ? d : 0;
}
