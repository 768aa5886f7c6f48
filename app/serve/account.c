/* SPDX-License-Identifier: BSD-2-Clause */
/* account: what one request leaves in the scoreboard and the log: the worker's slot (state,
 * method and uri, counters, last durations), the pool's route and status counters, the
 * database counts, and the failure or slow-request line. Relaxed atomics only: a worker
 * writes its own slot, and the pool counters are sums. */
#include <string.h>
#include <unistd.h>

#include "app/lib/log.h"
#include "app/serve/internal.h"

void
mr_serve__set_state(struct mr_worker *w, enum mr_worker_state s)
{
    atomic_store_explicit(&w->me->state, (int)s, memory_order_relaxed);
}

void
mr_serve__note_request(struct mr_worker *w, const struct mr_req *req)
{
    struct mr_sb_worker *me = w->me;
    size_t n = strlen(req->method);
    if (n >= sizeof(me->method))
        n = sizeof(me->method) - 1;
    memcpy(me->method, req->method, n);
    me->method[n] = '\0';
    n = req->path_len < sizeof(me->uri) - 1 ? req->path_len : sizeof(me->uri) - 1;
    memcpy(me->uri, req->path, n);
    me->uri[n] = '\0';
}

/* db/ counts per worker; the scoreboard sums the pool. Adding the difference after each
 * request keeps db/ free of shared memory and costs a few loads. */
void
mr_serve__publish_db_stats(struct mr_worker *w)
{
    for (int i = 0; i <= w->cfg->db.n_replicas; i++) {
        const struct mr_db_stats *st = mr_db_stats(w->db, i);
        if (st == NULL)
            continue;
        struct mr_db_stats *seen = &w->db_seen[i];
        if (st->queries != seen->queries)
            atomic_fetch_add_explicit(&w->sb->db_queries[i], st->queries - seen->queries,
                                      memory_order_relaxed);
        if (st->errors != seen->errors)
            atomic_fetch_add_explicit(&w->sb->db_errors[i], st->errors - seen->errors,
                                      memory_order_relaxed);
        *seen = *st;
    }
}

/* nginx logs every request; we log only failures and slow ones, so a busy worker writes no line per
 * success. */
static void
log_request(struct mr_worker *w, const struct mr_ctx *ctx, const char *request_id, int64_t us)
{
    int status = ctx->resp.status;
    bool slow = w->cfg->slowlog_ms > 0 && us / 1000 >= w->cfg->slowlog_ms;
    if (status < 500 && !slow)
        return;
    /* Every value from the request is quoted: REQUEST_ID is whatever the front end passed,
     * and a newline in it must not forge a log line. */
    char uri[256], detail[256], rid[96], method[32];
    (void)mr_log_quote(uri, sizeof(uri), w->me->uri);
    (void)mr_log_quote(detail, sizeof(detail), ctx->err_detail ? ctx->err_detail : "");
    (void)mr_log_quote(rid, sizeof(rid), request_id);
    (void)mr_log_quote(method, sizeof(method), w->me->method);
    if (slow)
        atomic_fetch_add_explicit(&w->sb->pool.slow_requests, 1, memory_order_relaxed);
    mr_log(status >= 500 ? MR_LOG_ERR : MR_LOG_WARNING, slow ? "slow_request" : "request_failed",
           "req=%s worker=%d pid=%d method=%s uri=%s status=%d err=%s ms=%lld backend_ms=%lld", rid,
           w->slot, getpid(), method, uri, status, detail, (long long)(us / 1000),
           (long long)(ctx->backend_us / 1000));
}

void
mr_serve__account(struct mr_worker *w, const struct mr_ctx *ctx, int route, const char *request_id,
                  int64_t us)
{
    if (w->is_pool) {
        mr_sb_record(w->sb, route, ctx->resp.status, us);
        atomic_fetch_add_explicit(&w->sb->pool.accepted, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&w->me->requests, 1, memory_order_relaxed);
    atomic_store_explicit(&w->me->last_duration_us, us, memory_order_relaxed);
    atomic_store_explicit(&w->me->last_backend_us, ctx->backend_us, memory_order_relaxed);
    log_request(w, ctx, request_id, us);
}
