/* SPDX-License-Identifier: BSD-2-Clause */
/* testonly: handlers that exist only in the test build (MR_TEST_BUILD), for the integration
 * tests: one that sleeps (a stuck request), one that echoes the body (body limits), and the
 * transaction routes of test_data_transactions.py, on the built-in application's test
 * statements (handlers.h), and the session calls one by one (set, get, del, login, logout, a
 * CSRF token, a protected POST). */
#ifdef MR_TEST_BUILD
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <millrace.h>

#include "handlers/handlers.h"

int
h_test_sleep(struct mr_ctx *ctx)
{
    const char *ms = mr_query(ctx, "ms");
    long v = ms ? strtol(ms, NULL, 10) : 1000;
    if (v < 0 || v > 600000)
        v = 1000;
    struct timespec ts = {.tv_sec = v / 1000, .tv_nsec = (v % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    mr_set_type(ctx, "text/plain");
    mr_write(ctx, "slept\n", 6);
    return 0;
}

int
h_test_echo(struct mr_ctx *ctx)
{
    size_t len;
    const char *body = mr_body(ctx, &len);
    mr_set_type(ctx, "application/octet-stream");
    if (body != NULL)
        mr_write(ctx, body, len);
    return 0;
}

/* ?iso=rc|rr|ser, read committed when absent; -1 for another value. */
static int
isolation_of(struct mr_ctx *ctx)
{
    const char *v = mr_query(ctx, "iso");
    if (v == NULL || strcmp(v, "rc") == 0)
        return MR_READ_COMMITTED;
    if (strcmp(v, "rr") == 0)
        return MR_REPEATABLE_READ;
    if (strcmp(v, "ser") == 0)
        return MR_SERIALIZABLE;
    return -1;
}

struct bump {
    const char *id;
    const char *lock; /* advisory lock key to wait for between the read and the write, or NULL */
    long long n;      /* the value written */
    int attempts;     /* runs of the callback: the test's evidence of a re-run */
};

/* Reads n, waits for the lock, writes n + 1 computed here: the write depends on the read. */
static int
bump_fn(struct mr_txn *t, void *arg)
{
    struct bump *b = arg;
    b->attempts++;
    struct mr_rows *r;
    int rc = mr_txn_run(t, MR_TE_TEST_GET, &b->id, 1, &r);
    if (rc != 0)
        return rc;
    if (mr_rows_count(r) == 0)
        return 404;
    b->n = mr_rows_int(r, 0, 0) + 1;
    if (b->lock != NULL && (rc = mr_txn_run(t, MR_TE_TEST_LOCK, &b->lock, 1, &r)) != 0)
        return rc;
    char n[24];
    (void)snprintf(n, sizeof(n), "%lld", b->n);
    const char *params[] = {b->id, n};
    return mr_txn_run(t, MR_TE_TEST_SET, params, 2, &r);
}

int
h_test_txn_bump(struct mr_ctx *ctx)
{
    int iso = isolation_of(ctx);
    struct bump b = {mr_query(ctx, "id"), mr_query(ctx, "lock"), 0, 0};
    if (b.id == NULL || iso < 0)
        return 400;
    int rc = mr_txn(ctx, (enum mr_isolation)iso, bump_fn, &b);
    if (rc != 0)
        return rc;
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "n");
    mr_jw_int(j, b.n);
    mr_jw_key(j, "attempts");
    mr_jw_int(j, b.attempts);
    mr_jw_object_end(j);
    return 0;
}

/* The batch form: [wait for the lock, n = n + 1] in one round trip, at ?iso. */
int
h_test_txn_batch_bump(struct mr_ctx *ctx)
{
    int iso = isolation_of(ctx);
    const char *id = mr_query(ctx, "id");
    const char *lock = mr_query(ctx, "lock");
    if (id == NULL || lock == NULL || iso < 0)
        return 400;
    struct mr_batch *b = mr_batch_begin(ctx);
    int rc = mr_batch_isolation(b, (enum mr_isolation)iso);
    if (rc == 0)
        rc = mr_batch_add(b, MR_TE_TEST_LOCK, &lock, 1);
    if (rc == 0)
        rc = mr_batch_add(b, MR_TE_TEST_INCR, &id, 1);
    struct mr_rows *out[2];
    if (rc == 0)
        rc = mr_batch_commit(b, out);
    if (rc != 0)
        return rc;
    mr_set_type(ctx, "application/json");
    mr_writef(ctx, "{\"changed\":%lld}", mr_rows_affected(out[1]));
    return 0;
}

struct pair {
    const char *first, *second, *lock;
    int attempts;
};

/* n + 1 on `first`, wait for the lock, n + 1 on `second`: two of these on the same rows in
 * opposite orders deadlock once the lock is released. */
static int
pair_fn(struct mr_txn *t, void *arg)
{
    struct pair *p = arg;
    p->attempts++;
    struct mr_rows *r;
    int rc = mr_txn_run(t, MR_TE_TEST_INCR, &p->first, 1, &r);
    if (rc == 0)
        rc = mr_txn_run(t, MR_TE_TEST_LOCK, &p->lock, 1, &r);
    if (rc == 0)
        rc = mr_txn_run(t, MR_TE_TEST_INCR, &p->second, 1, &r);
    return rc;
}

int
h_test_txn_pair(struct mr_ctx *ctx)
{
    struct pair p = {mr_query(ctx, "first"), mr_query(ctx, "second"), mr_query(ctx, "lock"), 0};
    if (p.first == NULL || p.second == NULL || p.lock == NULL)
        return 400;
    int rc = mr_txn(ctx, MR_READ_COMMITTED, pair_fn, &p);
    if (rc != 0)
        return rc;
    mr_set_type(ctx, "application/json");
    mr_writef(ctx, "{\"attempts\":%d}", p.attempts);
    return 0;
}

struct insert {
    const char *tag;
    const char *sleep_s; /* pg_sleep after the inserts, `sleeps` times, or NULL */
    long sleeps;
    bool fail; /* roll back after the inserts */
    long long parent, child;
};

/* A parent row, then a child that names the parent's new id: a dependent statement. */
static int
insert_fn(struct mr_txn *t, void *arg)
{
    struct insert *k = arg;
    struct mr_rows *r;
    const char *params[2] = {k->tag, NULL};
    int rc = mr_txn_run(t, MR_TE_TEST_INSERT, params, 2, &r);
    if (rc != 0)
        return rc;
    k->parent = mr_rows_int(r, 0, 0);
    params[1] = mr_rows_text(r, 0, 0, NULL);
    if ((rc = mr_txn_run(t, MR_TE_TEST_INSERT, params, 2, &r)) != 0)
        return rc;
    k->child = mr_rows_int(r, 0, 0);
    for (long i = 0; k->sleep_s != NULL && i < k->sleeps; i++)
        if ((rc = mr_txn_run(t, MR_TE_TEST_SLEEP, &k->sleep_s, 1, &r)) != 0)
            return rc;
    return k->fail ? 418 : 0;
}

int
h_test_txn_insert(struct mr_ctx *ctx)
{
    const char *fail = mr_query(ctx, "fail");
    const char *sleeps = mr_query(ctx, "sleeps");
    struct insert k = {mr_query(ctx, "tag"),
                       mr_query(ctx, "sleep"),
                       sleeps != NULL ? strtol(sleeps, NULL, 10) : 1,
                       fail != NULL && strcmp(fail, "1") == 0,
                       0,
                       0};
    if (k.tag == NULL || k.sleeps < 0 || k.sleeps > 100)
        return 400;
    int rc = mr_txn(ctx, MR_READ_COMMITTED, insert_fn, &k);
    if (rc != 0)
        return rc;
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "parent");
    mr_jw_int(j, k.parent);
    mr_jw_key(j, "child");
    mr_jw_int(j, k.child);
    mr_jw_object_end(j);
    return 0;
}

/* Sessions (tests/integration/test_data_sessions.py): each answers JSON or the status the
 * session call returned. */
static int
answer_ok(struct mr_ctx *ctx, int rc)
{
    if (rc != 0)
        return rc;
    mr_set_type(ctx, "application/json");
    mr_write(ctx, "{\"ok\":true}", 11);
    return 0;
}

int
h_test_session_set(struct mr_ctx *ctx)
{
    const char *key = mr_field(ctx, "key"), *value = mr_field(ctx, "value");
    if (key == NULL || value == NULL)
        return mr_error(ctx, 400, "key and value are required");
    return answer_ok(ctx, mr_session_set(ctx, key, value));
}

int
h_test_session_get(struct mr_ctx *ctx)
{
    const char *key = mr_query(ctx, "key");
    if (key == NULL)
        return mr_error(ctx, 400, "key is required");
    const char *v = mr_session_get(ctx, key);
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "value");
    if (v != NULL)
        mr_jw_string(j, v);
    else
        mr_jw_null(j);
    mr_jw_object_end(j);
    return 0;
}

int
h_test_session_del(struct mr_ctx *ctx)
{
    const char *key = mr_field(ctx, "key");
    if (key == NULL)
        return mr_error(ctx, 400, "key is required");
    return answer_ok(ctx, mr_session_del(ctx, key));
}

int
h_test_session_login(struct mr_ctx *ctx)
{
    return answer_ok(ctx, mr_session_regenerate(ctx));
}

int
h_test_session_logout(struct mr_ctx *ctx)
{
    return answer_ok(ctx, mr_session_destroy(ctx));
}

int
h_test_session_csrf(struct mr_ctx *ctx)
{
    const char *t = mr_csrf_token(ctx);
    if (t == NULL)
        return 500;
    mr_set_type(ctx, "text/plain");
    mr_writef(ctx, "%s", t);
    return 0;
}

/* Runs only after the server checked the CSRF token (MR_ROUTE_CSRF). */
int
h_test_session_protected(struct mr_ctx *ctx)
{
    return answer_ok(ctx, 0);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int mr_testonly_unused;
#endif
