/* SPDX-License-Identifier: BSD-2-Clause */
/* dispatch: one request from its FastCGI params to a filled response: parse (with the input
 * limits), read the body into the arena, route, shed under load, give the backends the
 * request's deadline, run the handler; and write the response to libfcgi's stream. Limits
 * answer before the handler runs; a body left unread is drained here so the connection stays
 * in step. */
#include <string.h>

#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "app/serve/body.h"
#include "app/serve/internal.h"
#include "app/serve/token.h"
#include "app/serve/session.h"

#define MAX_BODY_DRAIN (16L * 1024 * 1024)

/* Reads and discards up to `left` body bytes (at most MAX_BODY_DRAIN). Returns whether the
 * whole body was consumed. */
static bool
drain_body(struct mr_worker *w, long left)
{
    char sink[4096];
    if (left > MAX_BODY_DRAIN)
        return false;
    while (left > 0) {
        int n = FCGX_GetStr(sink, left < (long)sizeof(sink) ? (int)left : (int)sizeof(sink),
                            w->fcgx->in);
        if (n <= 0)
            return false;
        left -= n;
    }
    return true;
}

/* The connection is in step for its next request only once this request's STDIN has been
 * read to its end record, whatever CONTENT_LENGTH said: a body answered before it was read
 * (a 4xx), one shorter than announced, one longer. Reads and discards what is left, at most
 * MAX_BODY_DRAIN bytes; usually the end record is already in libfcgi's buffer and this costs
 * no system call. */
bool
mr_serve__drain_unread(struct mr_worker *w, const struct mr_ctx *ctx)
{
    (void)ctx;
    char sink[4096];
    long total = 0;
    while (!FCGX_HasSeenEOF(w->fcgx->in)) {
        int n = FCGX_GetStr(sink, (int)sizeof(sink), w->fcgx->in);
        if (n <= 0)
            return FCGX_HasSeenEOF(w->fcgx->in) != 0;
        total += n;
        if (total > MAX_BODY_DRAIN)
            return false;
    }
    return true;
}

/* Reads the body into the arena. Returns 0 or the HTTP status to answer. */
static int
read_body(struct mr_worker *w, struct mr_ctx *ctx)
{
    long cl = ctx->req.content_length;
    if (cl <= 0)
        return 0;
    if (cl > w->cfg->max_body_bytes) {
        /* Drain so that nginx, still sending, reads our 413 and not a reset. */
        (void)drain_body(w, cl);
        ctx->req.content_length = 0; /* nothing left on the connection */
        return 413;
    }
    char *body = mr_arena_alloc(ctx->arena, (size_t)cl + 1);
    if (body == NULL)
        return 413;
    int got = FCGX_GetStr(body, (int)cl, w->fcgx->in);
    if (got != cl)
        return 400; /* nginx sent less than it announced, or the read timed out */
    body[cl] = '\0';
    ctx->req.body = body;
    ctx->req.body_len = (size_t)cl;
    return 0;
}

/* The manager samples the listen queue every 100 ms; answering 503 at once beats letting
 * nginx wait out its timeout on a queue that cannot drain in time. */
static bool
should_shed(const struct mr_worker *w)
{
    int depth = w->cfg->shed_queue_depth;
    return w->is_pool && depth > 0 &&
           atomic_load_explicit(&w->sb->pool.listen_queue, memory_order_relaxed) >= depth;
}

/* Answers a request no route takes: rc is mr_router_match's -404, -405, -400 or -500. */
static int
route_failed(struct mr_ctx *ctx, int rc)
{
    switch (rc) {
    case -404:
        mr_resp_error(&ctx->resp, 404, "no such path");
        break;
    case -405:
        mr_resp_error(&ctx->resp, 405, "method not allowed");
        (void)mr_resp_header(&ctx->resp, "Allow", ctx->match.allow);
        break;
    case -400:
        mr_resp_error(&ctx->resp, 400, "invalid percent-encoding in the path");
        ctx->err_detail = "a path parameter's percent-encoding or UTF-8 is invalid";
        break;
    default:
        mr_resp_error(&ctx->resp, 500, mr_resp_reason(500));
        ctx->err_detail = "request arena exhausted decoding path parameters";
        break;
    }
    return MR_SB_MAX_ROUTES;
}

/* A handler's nonzero return: the uniform error page (millrace.h's contract). */
static void
answer_error(struct mr_ctx *ctx, int rc)
{
    if (rc == 0)
        return;
    int status = rc >= 400 && rc <= 599 ? rc : 500;
    if (rc != status)
        ctx->err_detail = "handler returned a value that is not an HTTP error status";
    mr_resp_error_as(&ctx->resp, (ctx->route->flags & MR_ROUTE_HTML) != 0, status,
                     mr_resp_reason(status));
}

/* Sends the Redis work the handler queued (its invalidations) in one round trip, before the
 * response leaves, so that the client's next request cannot read a copy this one made stale.
 * It runs whatever the handler answered: an invalidation is queued after its write committed,
 * and the data changed even if the handler then failed. A failure costs a log line, never the
 * answer: the stale copies live until their TTL. */
static void
flush_cache_queue(struct mr_ctx *ctx)
{
    size_t n = ctx->cache_queue.n;
    if (n == 0)
        return;
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    int rc = mr_cache_queue_flush(ctx->cache, &ctx->cache_queue, &err);
    ctx->backend_us += mr_clock_us() - t0;
    if (rc == 0)
        return;
    atomic_fetch_add_explicit(&ctx->sb->cache_errors, 1, memory_order_relaxed);
    char reason[256], rid[80];
    (void)mr_log_quote(reason, sizeof(reason), err.msg);
    (void)mr_log_quote(rid, sizeof(rid), ctx->req.request_id ? ctx->req.request_id : "-");
    mr_log(MR_LOG_WARNING, "cache_invalidation_failed",
           "req=%s route=%s ops=%zu err=%s stale_until=ttl", rid, ctx->route->pattern, n, reason);
}

/* Validates the route's inputs; false when the response (400, or 500) is already made. */
static bool
check_inputs(struct mr_ctx *ctx, const struct mr_valid *v)
{
    struct mr_buf *errors = mr_resp_body(&ctx->resp);
    int rc = mr_valid_run(v, mr_body_input, ctx, ctx->arena, &ctx->inputs, errors);
    if (rc == 0)
        return true;
    if (rc == 400 && (ctx->route->flags & MR_ROUTE_INPUT_ERRORS) != 0) {
        /* The handler shows the errors itself (mr_input_error), beside the fields. */
        errors->len = 0;
        return true;
    }
    if (rc == 400) {
        mr_resp_status(&ctx->resp, 400);
        mr_resp_type(&ctx->resp, "application/json");
        ctx->err_detail = "invalid input";
    } else {
        mr_resp_error(&ctx->resp, 500, "request too large");
    }
    return false;
}

int
mr_serve__dispatch(struct mr_worker *w, struct mr_ctx *ctx)
{
    struct mr_err err;
    int status = mr_req_parse(&ctx->req, w->fcgx->envp, ctx->arena, &w->limits, &err);
    if (ctx->req.request_id != NULL)
        ctx->resp.request_id = ctx->req.request_id;
    if (status != 0) {
        mr_resp_error(&ctx->resp, status, mr_resp_reason(status));
        ctx->err_detail = mr_arena_strndup(ctx->arena, err.msg, strlen(err.msg));
        return MR_SB_MAX_ROUTES;
    }
    mr_serve__note_request(w, &ctx->req);
    mr_serve__set_state(w, MR_W_BUSY);
    status = read_body(w, ctx);
    if (status != 0) {
        mr_resp_error(&ctx->resp, status, mr_resp_reason(status));
        return MR_SB_MAX_ROUTES;
    }
    int route = mr_router_match(w->router, ctx->req.method, ctx->req.path, ctx->req.path_len,
                                ctx->arena, &ctx->match);
    if (route < 0)
        return route_failed(ctx, route);
    ctx->route = &w->routes[route];
    if ((ctx->route->flags & MR_ROUTE_NEVER_SHED) == 0 && should_shed(w)) {
        atomic_fetch_add_explicit(&w->sb->pool.shed, 1, memory_order_relaxed);
        mr_resp_error(&ctx->resp, 503, "overloaded, retry shortly");
        (void)mr_resp_header(&ctx->resp, "Retry-After", "1");
        ctx->err_detail = "load shed: listen queue over shed_queue_depth";
        return route < MR_SB_MAX_ROUTES ? route : MR_SB_MAX_ROUTES;
    }
    ctx->deadline_ms = ctx->start_us / 1000 + w->cfg->request_timeout_ms;
    mr_db_deadline(w->db, ctx->deadline_ms);
    mr_cache_deadline(w->cache, ctx->deadline_ms);
    if (mr_body_parse(ctx, w->cfg) != 0 || mr_token_check_header(ctx) != 0)
        return route < MR_SB_MAX_ROUTES ? route : MR_SB_MAX_ROUTES;
    if ((ctx->route->flags & MR_ROUTE_CSRF) != 0 && !mr_sess_csrf_ok(ctx)) {
        mr_resp_error_as(&ctx->resp, (ctx->route->flags & MR_ROUTE_HTML) != 0, 403,
                         "invalid or missing CSRF token");
        return route < MR_SB_MAX_ROUTES ? route : MR_SB_MAX_ROUTES;
    }
    if (w->inputs != NULL && w->inputs[route] != NULL && !check_inputs(ctx, w->inputs[route]))
        return route < MR_SB_MAX_ROUTES ? route : MR_SB_MAX_ROUTES;
    /* Which handler runs: a crash in it is counted against its route by the manager. */
    atomic_store_explicit(&w->me->route, route, memory_order_relaxed);
    int rc = ctx->route->handler(ctx);
    atomic_store_explicit(&w->me->route, -1, memory_order_relaxed);
    answer_error(ctx, rc);
    mr_token_emit(ctx);
    flush_cache_queue(ctx);
    mr_sess_finish(ctx);
    return route < MR_SB_MAX_ROUTES ? route : MR_SB_MAX_ROUTES;
}

void
mr_serve__send(struct mr_worker *w, struct mr_ctx *ctx)
{
    struct mr_buf head;
    mr_buf_init(&head, ctx->arena, 256);
    mr_resp_head(&ctx->resp, &head);
    /* libfcgi buffers both writes and sends them as one STDOUT record when they fit. */
    (void)FCGX_PutStr(head.data, (int)head.len, w->fcgx->out);
    if (!ctx->req.is_head && ctx->resp.body.len > 0)
        (void)FCGX_PutStr(ctx->resp.body.data, (int)ctx->resp.body.len, w->fcgx->out);
}
