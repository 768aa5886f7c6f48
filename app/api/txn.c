/* SPDX-License-Identifier: BSD-2-Clause */
/* api/txn: millrace.h's transactions: mr_txn's callback over db/'s mr_db_txn, a batch's
 * isolation level, and the re-runs after a serialization failure or a deadlock that mr_txn
 * and mr_batch_commit share.
 *
 * A re-run waits first: the transaction that won the conflict may still hold its locks, and
 * two that collided and retried at once could collide again. The wait is short (5 ms at
 * first, doubled), jittered, and given up when it would use half of what is left of the
 * request's deadline; it is the one sleep on the request path, bounded like everything else.
 * Waiting here rather than answering 503 at once keeps the retry off the client, which would
 * pay a full round trip through nginx for the same effect.
 *
 * Results of an attempt that was re-run stay in the arena until the request ends: bounded by
 * db.txn_retries, and not worth a second allocator. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "app/api/internal.h"
#include "app/include/millrace.h"
#include "app/lib/clock.h"
#include "app/serve/ctx.h"
#include "app/serve/token.h"

struct mr_txn {
    struct mr_ctx *ctx;
    struct mr_db_txn *t;
};

/* One attempt of a transaction: db/'s outcome (0 or a negative errno, with sqlstate and
 * err), and in *fn_rc what the callback returned (0 when committed). */
typedef int (*attempt_fn)(void *arg, int *fn_rc, char *sqlstate, struct mr_err *err);

bool
mr_api__txn_retryable(const char *sqlstate)
{
    return sqlstate != NULL && (strcmp(sqlstate, "40001") == 0 || strcmp(sqlstate, "40P01") == 0);
}

int
mr_api__txn_backoff_ms(int retry, int base_ms, uint64_t random, int64_t left_ms)
{
    if (retry < 1 || base_ms < 0 || left_ms <= 0)
        return -1;
    int shift = retry - 1 < 10 ? retry - 1 : 10; /* config caps retries at 10 anyway */
    int64_t full = (int64_t)base_ms << shift;
    int64_t half = full / 2;
    int64_t wait = half + (int64_t)(random % (uint64_t)(full - half + 1));
    return wait * 2 >= left_ms ? -1 : (int)wait;
}

/* Keeps the reason for the log line, naming the attempt when it was not the first, and
 * returns the status. */
static int
failed(struct mr_ctx *ctx, int status, int attempt, const char *what, const struct mr_err *err)
{
    char buf[sizeof(err->msg) + 96];
    int n = attempt > 1 ? snprintf(buf, sizeof(buf), "%s (attempt %d): %s", what, attempt, err->msg)
                        : snprintf(buf, sizeof(buf), "%s: %s", what, err->msg);
    char *d = n > 0 ? mr_arena_strndup(ctx->arena, buf, strlen(buf)) : NULL;
    ctx->err_detail = d != NULL ? d : "transaction failed (arena full: reason lost)";
    return status;
}

static void
pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Runs once(arg) until it commits, fails for another reason, or has been re-run
 * db.txn_retries times or cannot be within the deadline. */
static int
with_retries(struct mr_ctx *ctx, attempt_fn once, void *arg)
{
    const struct mr_db_cfg *cfg = &ctx->cfg->db;
    for (int attempt = 1;; attempt++) {
        struct mr_err err = {{0}};
        char sqlstate[MR_DB_SQLSTATE_LEN] = "";
        int fn_rc = 0;
        int64_t t0 = mr_clock_us();
        int rc = once(arg, &fn_rc, sqlstate, &err);
        ctx->backend_us += mr_clock_us() - t0;
        if (rc == 0)
            return fn_rc; /* committed, or rolled back because the callback asked */
        if (!mr_api__txn_retryable(sqlstate))
            return failed(ctx, mr_api__sql_status(rc, sqlstate), attempt, "transaction", &err);
        int64_t left = ctx->deadline_ms != 0 ? ctx->deadline_ms - mr_clock_ms() : INT32_MAX;
        int wait = attempt <= cfg->txn_retries
                       ? mr_api__txn_backoff_ms(attempt, cfg->txn_retry_backoff_ms,
                                                mr_rand_next(ctx->rng), left)
                       : -1;
        if (wait < 0) {
            char what[96];
            (void)snprintf(what, sizeof(what), "%s (sqlstate %s), gave up after %d attempt%s%s",
                           strcmp(sqlstate, "40P01") == 0 ? "deadlock" : "serialization failure",
                           sqlstate, attempt, attempt > 1 ? "s" : "",
                           attempt <= cfg->txn_retries ? " (deadline near)" : "");
            return failed(ctx, 503, 1, what, &err);
        }
        if (wait > 0)
            pause_ms(wait);
    }
}

/* millrace.h's isolation levels as db/'s transaction modes; -1 for another value. */
static int
mode_of(int isolation)
{
    switch (isolation) {
    case MR_READ_COMMITTED:
        return MR_DB_TXN;
    case MR_REPEATABLE_READ:
        return MR_DB_TXN_REPEATABLE_READ;
    case MR_SERIALIZABLE:
        return MR_DB_TXN_SERIALIZABLE;
    default:
        return -1;
    }
}

/* ---- mr_batch_commit ---- */

struct batch_call {
    struct mr_batch *b;
    struct mr_rows **out;
};

static int
batch_once(void *arg, int *fn_rc, char *sqlstate, struct mr_err *err)
{
    struct batch_call *k = arg;
    struct mr_ctx *ctx = k->b->ctx;
    *fn_rc = 0;
    int rc = mr_db_run(ctx->db, (enum mr_db_mode)mode_of(k->b->isolation), k->b->calls, k->b->n,
                       ctx->arena, k->out, sqlstate, err);
    if (rc == 0) /* committed: the response's read-your-writes token */
        mr_token_committed(ctx, mr_db_committed(ctx->db));
    return rc;
}

int
mr_api__batch_commit(struct mr_batch *b, struct mr_rows **out)
{
    if (b->n == 0)
        return 0; /* nothing to send: as mr_db_run, which would not retry either */
    struct batch_call k = {b, out};
    return with_retries(b->ctx, batch_once, &k);
}

int
mr_batch_isolation(struct mr_batch *b, enum mr_isolation isolation)
{
    if (b == NULL)
        return 500;
    if (mode_of((int)isolation) < 0) {
        struct mr_err err;
        (void)mr_err_set(&err, -EINVAL, "no isolation level %d", (int)isolation);
        b->failed = failed(b->ctx, 500, 1, "batch", &err);
        return b->failed;
    }
    b->isolation = (int)isolation;
    return 0;
}

/* ---- mr_txn ---- */

struct txn_call {
    struct mr_ctx *ctx;
    enum mr_db_mode mode;
    mr_txn_fn fn;
    void *arg;
};

static int
call_fn(struct mr_db_txn *dt, void *arg)
{
    struct txn_call *k = arg;
    struct mr_txn t = {k->ctx, dt};
    return k->fn(&t, k->arg);
}

static int
txn_once(void *arg, int *fn_rc, char *sqlstate, struct mr_err *err)
{
    struct txn_call *k = arg;
    int rc = mr_db_txn(k->ctx->db, k->mode, call_fn, k, k->ctx->arena, fn_rc, sqlstate, err);
    if (rc == 0 && *fn_rc == 0) /* committed: the response's read-your-writes token */
        mr_token_committed(k->ctx, mr_db_committed(k->ctx->db));
    return rc;
}

int
mr_txn(struct mr_ctx *ctx, enum mr_isolation isolation, mr_txn_fn fn, void *arg)
{
    struct mr_err err;
    int mode = mode_of((int)isolation);
    if (mode < 0 || fn == NULL) {
        (void)mr_err_set(&err, -EINVAL, "isolation %d, fn %s", (int)isolation,
                         fn != NULL ? "set" : "NULL");
        return failed(ctx, 500, 1, "transaction", &err);
    }
    struct txn_call k = {ctx, (enum mr_db_mode)mode, fn, arg};
    return with_retries(ctx, txn_once, &k);
}

/* Runs calls inside t; a failure's reason is kept for the log line (mr_txn keeps the final
 * one, which for an aborted transaction is the same). */
static int
run_in(struct mr_txn *t, const struct mr_db_call *calls, int n, struct mr_rows **out)
{
    struct mr_err err;
    char sqlstate[MR_DB_SQLSTATE_LEN];
    int rc = mr_db_txn_run(t->t, calls, n, out, sqlstate, &err);
    return rc == 0 ? 0 : failed(t->ctx, mr_api__sql_status(rc, sqlstate), 1, "transaction", &err);
}

int
mr_txn_run(struct mr_txn *t, int stmt, const char *const *params, int n_params,
           struct mr_rows **out)
{
    if (t == NULL)
        return 500;
    if (out == NULL) {
        struct mr_err err;
        (void)mr_err_set(&err, -EINVAL, "statement %d: no result pointer", stmt);
        return failed(t->ctx, 500, 1, "transaction", &err);
    }
    *out = NULL;
    struct mr_db_call call = {stmt, n_params, params};
    return run_in(t, &call, 1, out);
}

int
mr_txn_batch(struct mr_txn *t, struct mr_batch *b, struct mr_rows **out)
{
    if (t == NULL || b == NULL)
        return 500;
    struct mr_err err = {{0}};
    if (b->failed != 0)
        return b->failed; /* its reason is in err_detail already */
    if (b->is_run)
        (void)mr_err_set(&err, -EINVAL, "batch run twice");
    else if (b->n > 0 && out == NULL)
        (void)mr_err_set(&err, -EINVAL, "batch of %d statements: no result array", b->n);
    b->is_run = true;
    if (err.msg[0] != '\0')
        return failed(t->ctx, 500, 1, "transaction", &err);
    return b->n == 0 ? 0 : run_in(t, b->calls, b->n, out);
}

struct mr_ctx *
mr_txn_ctx(struct mr_txn *t)
{
    return t != NULL ? t->ctx : NULL;
}
