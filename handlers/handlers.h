/* SPDX-License-Identifier: BSD-2-Clause */
/* handlers: the handler table (table.c) and the handlers, one file per group of endpoints.
 * A handler fills ctx->resp; it reaches the database through millrace.h's data calls only,
 * and sees the small APIs of app/ and cache/, never libfcgi, libpq or hiredis. */
#ifndef MR_HANDLERS_H
#define MR_HANDLERS_H

#include <stddef.h>

#include <millrace.h>

/* The built-in application's statements: indexes in mr_techempower_app.statements. */
enum mr_te_stmt {
    MR_TE_WORLD,    /* $1 id: id, randomnumber */
    MR_TE_FORTUNES, /* id, message of every row */
    MR_TE_UPDATE,   /* $1 ids, $2 values, as int[] literals: one UPDATE for them all */
#ifdef MR_TEST_BUILD
    MR_TE_TEST_INSERT, /* $1 tag, $2 parent id or NULL: the new row's id */
    MR_TE_TEST_GET,    /* $1 id: n */
    MR_TE_TEST_SET,    /* $1 id, $2 n */
    MR_TE_TEST_INCR,   /* $1 id: n = n + 1 */
    MR_TE_TEST_LOCK,   /* $1 key: waits for a shared advisory lock, held to the transaction's end */
    MR_TE_TEST_SLEEP,  /* $1 seconds */
#endif
    MR_TE_RW_PUT, /* $1 id, $2 value: upsert into rw_demo, returning id, value */
    MR_TE_RW_GET, /* $1 id: id, value */
};

/* The built-in application (the TechEmpower set), and millrace's own routes, served beside
 * any application. */
const struct mr_app *mr_techempower_app(void);
extern const struct mr_route mr_ops_table[];
extern const size_t mr_ops_count;

/* basic.c */
int h_plaintext(struct mr_ctx *ctx);
int h_json(struct mr_ctx *ctx);
int h_healthz(struct mr_ctx *ctx);

/* world.c: /db, /queries, /cached-queries, /updates */
int h_db(struct mr_ctx *ctx);
int h_queries(struct mr_ctx *ctx);
int h_cached_queries(struct mr_ctx *ctx);
int h_updates(struct mr_ctx *ctx);

/* rw.c: POST and GET /rw/{id:int}, read-your-writes to see */
int h_rw_put(struct mr_ctx *ctx);
int h_rw_get(struct mr_ctx *ctx);

/* fortunes.c */
int h_fortunes(struct mr_ctx *ctx);

/* monitoring.c: /readyz, /status, /metrics */
int h_readyz(struct mr_ctx *ctx);
int h_status(struct mr_ctx *ctx);
int h_metrics(struct mr_ctx *ctx);

/* The table of the manager's status process (status_listen). */
extern const struct mr_route mr_status_table[];
extern const size_t mr_status_count;

#ifdef MR_TEST_BUILD
/* testonly.c: compiled only into the test build */
int h_test_sleep(struct mr_ctx *ctx);
int h_test_echo(struct mr_ctx *ctx);
int h_test_txn_bump(struct mr_ctx *ctx);
int h_test_txn_batch_bump(struct mr_ctx *ctx);
int h_test_txn_insert(struct mr_ctx *ctx);
int h_test_txn_pair(struct mr_ctx *ctx);
/* testcache.c: the cache-aside calls with the keys and failures a test chooses */
int h_test_cache_fetch(struct mr_ctx *ctx);
int h_test_cache_write(struct mr_ctx *ctx);
int h_test_session_set(struct mr_ctx *ctx);
int h_test_session_get(struct mr_ctx *ctx);
int h_test_session_del(struct mr_ctx *ctx);
int h_test_session_login(struct mr_ctx *ctx);
int h_test_session_logout(struct mr_ctx *ctx);
int h_test_session_csrf(struct mr_ctx *ctx);
int h_test_session_protected(struct mr_ctx *ctx);
#endif

#endif
