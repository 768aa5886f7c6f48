/* SPDX-License-Identifier: BSD-2-Clause */
/* worker: the accept loop and the request cycle.
 *
 * Why we accept() ourselves: libfcgi's own accept blocks with no timeout, restarts on EINTR
 * and, for unix sockets, waits up to 2 s in select() for the first byte. We accept, set
 * SO_RCVTIMEO/SO_SNDTIMEO (read_timeout_ms) on the connection, and give the fd to libfcgi by
 * setting FCGX_Request.ipcFd; the request's listen_sock is -1, so libfcgi can never block in
 * an accept of its own. A half-sent or stalled request then costs at most read_timeout_ms.
 * keepConnection is set before FCGX_Accept_r so that its opening FCGX_Finish_r does not
 * close the fd we just handed over.
 *
 * Stopping: the SIGQUIT handler sets a flag and closes the listening fd (async-signal-safe),
 * so a worker blocked in accept() wakes with EBADF, and one in a request finishes it first.
 *
 * Kept connections (nginx's fastcgi_keep_conn): a worker idle on a kept connection is pinned
 * to it, and once every worker is pinned, new connections wait in the listen queue for a
 * worker that never frees up (the libfcgi keepalive trap). So an idle kept worker polls the
 * listening socket too: when a new connection waits and no other worker is in accept(), it
 * drops its idle kept connection and takes the new one. nginx retries a request that fails
 * on a cached connection, so the drop costs no request. */
#include <errno.h>
#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/lib/clock.h"
#include "app/serve/ctx.h"
#include "app/lib/log.h"
#include "app/lib/signals.h"
#include "app/serve/router.h"
#include "app/serve/worker.h"

#define MAX_BODY_DRAIN (16L * 1024 * 1024)

struct mr_worker {
    const struct mr_cfg *cfg;
    const struct mr_route *routes;
    size_t n_routes;
    bool is_pool;
    struct mr_sb *sb;
    struct mr_sb_worker *me;
    int slot;
    struct mr_arena arena;
    struct mr_db *db;
    struct mr_cache *cache;
    struct mr_rand rng;
    struct mr_req_limits limits;
    FCGX_Request fcgx;
    uint64_t max_requests;                              /* 0 = never recycle */
    struct mr_db_stats db_seen[MR_DB_MAX_REPLICAS + 1]; /* already added to the scoreboard */
};

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reopen_requested;
static volatile sig_atomic_t listen_fd_sig = -1; /* closed by the SIGQUIT handler */
static volatile sig_atomic_t kept_fd_sig = -1;   /* idle kept connection, shut down on SIGQUIT */

static void
on_quit(int sig)
{
    (void)sig;
    int saved = errno;
    stop_requested = 1;
    if (listen_fd_sig >= 0) {
        (void)close(listen_fd_sig);
        listen_fd_sig = -1;
    }
    if (kept_fd_sig >= 0)
        (void)shutdown(kept_fd_sig, SHUT_RDWR);
    errno = saved;
}

static void
on_usr1(int sig)
{
    (void)sig;
    reopen_requested = 1;
}

/* libfcgi installs its own SIGTERM handler: SIG_DFL undoes it. SA_RESTART: a read of a
 * request in progress must not fail because we were asked to stop; accept() fails anyway once
 * its fd is closed. */
static const struct mr_signal_rule worker_signals[] = {
    {SIGQUIT, on_quit}, {SIGTERM, SIG_DFL}, {SIGINT, SIG_DFL}, {SIGCHLD, SIG_DFL},
    {SIGUSR1, on_usr1}, {SIGPIPE, SIG_IGN}, {SIGHUP, SIG_IGN}, {SIGUSR2, SIG_IGN},
};

static void
install_signals(void)
{
    mr_signals_install(worker_signals, sizeof(worker_signals) / sizeof(worker_signals[0]),
                       SA_RESTART, NULL);
}

static void
set_state(struct mr_worker *w, enum mr_worker_state s)
{
    atomic_store_explicit(&w->me->state, (int)s, memory_order_relaxed);
}

/* Returns a connected fd, or -1 when the worker must stop. */
static int
next_connection(struct mr_worker *w, int listen_fd)
{
    struct timeval tv = {.tv_sec = w->cfg->read_timeout_ms / 1000,
                         .tv_usec = (suseconds_t)(w->cfg->read_timeout_ms % 1000) * 1000};
    for (;;) {
        if (stop_requested)
            return -1;
        int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            return fd;
        }
        switch (errno) {
        case EINTR:
        case EAGAIN:
        case ECONNABORTED:
        case EPROTO:
            continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            mr_log(MR_LOG_ERR, "accept_failed", "worker=%d pid=%d err=\"%s\"", w->slot, getpid(),
                   strerror(errno));
            (void)poll(NULL, 0, 100); /* let descriptors or memory free up */
            continue;
        default:
            if (!stop_requested)
                mr_log(MR_LOG_ERR, "accept_failed", "worker=%d pid=%d err=\"%s\"", w->slot,
                       getpid(), strerror(errno));
            return -1;
        }
    }
}

/* Is some other worker blocked in accept() (idle, not on a kept connection)? */
static bool
another_accepting(const struct mr_worker *w)
{
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        const struct mr_sb_worker *o = &w->sb->workers[i];
        if (o == w->me || atomic_load_explicit(&o->pid, memory_order_relaxed) == 0)
            continue;
        if (atomic_load_explicit(&o->state, memory_order_relaxed) == MR_W_IDLE &&
            !atomic_load_explicit(&o->kept, memory_order_relaxed))
            return true;
    }
    return false;
}

/* Waits on an idle kept connection. Returns true when a request arrives on it, false when the
 * connection must be dropped: idle for read_timeout_ms, closed by nginx, a stop, or a new
 * connection that no other worker is free to accept (see the top of this file). */
static bool
kept_conn_ready(struct mr_worker *w, int listen_fd)
{
    struct pollfd p[2] = {{w->fcgx.ipcFd, POLLIN, 0}, {listen_fd, POLLIN, 0}};
    int nfds = w->is_pool ? 2 : 1; /* the status process has no pool to unpin */
    for (;;) {
        if (stop_requested)
            return false;
        int n = poll(p, (nfds_t)nfds, w->cfg->read_timeout_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        if (p[0].revents != 0)
            return (p[0].revents & POLLIN) != 0;
        if (p[1].revents & (POLLNVAL | POLLERR))
            return false;
        if (!another_accepting(w))
            return false;
        /* Someone else takes it; wait a moment before looking again, not in a spin. */
        (void)poll(p, 1, 1);
        if (p[0].revents != 0)
            return (p[0].revents & POLLIN) != 0;
    }
}

static void
drop_kept(struct mr_worker *w)
{
    FCGX_Free(&w->fcgx, 0);
    (void)close(w->fcgx.ipcFd);
    w->fcgx.ipcFd = -1;
}

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
                            w->fcgx.in);
        if (n <= 0)
            return false;
        left -= n;
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
    int got = FCGX_GetStr(body, (int)cl, w->fcgx.in);
    if (got != cl)
        return 400; /* nginx sent less than it announced, or the read timed out */
    body[cl] = '\0';
    ctx->req.body = body;
    ctx->req.body_len = (size_t)cl;
    return 0;
}

static void
note_request(struct mr_worker *w, const struct mr_req *req)
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

/* The manager samples the listen queue every 100 ms; answering 503 at once beats letting
 * nginx wait out its timeout on a queue that cannot drain in time. */
static bool
should_shed(const struct mr_worker *w)
{
    int depth = w->cfg->shed_queue_depth;
    return w->is_pool && depth > 0 &&
           atomic_load_explicit(&w->sb->pool.listen_queue, memory_order_relaxed) >= depth;
}

/* Parses, routes and runs the handler. Returns the route index for the counters. */
static int
dispatch(struct mr_worker *w, struct mr_ctx *ctx)
{
    struct mr_err err;
    int status = mr_req_parse(&ctx->req, w->fcgx.envp, ctx->arena, &w->limits, &err);
    if (status != 0) {
        mr_resp_error(&ctx->resp, status, mr_resp_reason(status));
        ctx->err_detail = mr_arena_strndup(ctx->arena, err.msg, strlen(err.msg));
        return MR_SB_MAX_ROUTES;
    }
    note_request(w, &ctx->req);
    set_state(w, MR_W_BUSY);
    status = read_body(w, ctx);
    if (status != 0) {
        mr_resp_error(&ctx->resp, status, mr_resp_reason(status));
        return MR_SB_MAX_ROUTES;
    }
    char allow[64];
    int route = mr_router_match(w->routes, w->n_routes, ctx->req.method, ctx->req.path,
                                ctx->req.path_len, allow, sizeof(allow));
    if (route == -404) {
        mr_resp_error(&ctx->resp, 404, "no such path");
        return MR_SB_MAX_ROUTES;
    }
    if (route == -405) {
        mr_resp_error(&ctx->resp, 405, "method not allowed");
        (void)mr_resp_header(&ctx->resp, "Allow", allow);
        return MR_SB_MAX_ROUTES;
    }
    if (!w->routes[route].never_shed && should_shed(w)) {
        atomic_fetch_add_explicit(&w->sb->pool.shed, 1, memory_order_relaxed);
        mr_resp_error(&ctx->resp, 503, "overloaded, retry shortly");
        (void)mr_resp_header(&ctx->resp, "Retry-After", "1");
        ctx->err_detail = "load shed: listen queue over shed_queue_depth";
        return route < MR_SB_MAX_ROUTES ? route : MR_SB_MAX_ROUTES;
    }
    ctx->deadline_ms = ctx->start_us / 1000 + w->cfg->request_timeout_ms;
    mr_db_deadline(w->db, ctx->deadline_ms);
    mr_cache_deadline(w->cache, ctx->deadline_ms);
    w->routes[route].fn(ctx);
    return route < MR_SB_MAX_ROUTES ? route : MR_SB_MAX_ROUTES;
}

static void
send_response(struct mr_worker *w, struct mr_ctx *ctx)
{
    struct mr_buf head;
    mr_buf_init(&head, ctx->arena, 256);
    mr_resp_head(&ctx->resp, &head);
    /* libfcgi buffers both writes and sends them as one STDOUT record when they fit. */
    (void)FCGX_PutStr(head.data, (int)head.len, w->fcgx.out);
    if (!ctx->req.is_head && ctx->resp.body.len > 0)
        (void)FCGX_PutStr(ctx->resp.body.data, (int)ctx->resp.body.len, w->fcgx.out);
}

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

/* db/ counts per worker; the scoreboard sums the pool. Adding the difference after each
 * request keeps db/ free of shared memory and costs a few loads. */
static void
publish_db_stats(struct mr_worker *w)
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

static void
serve_one(struct mr_worker *w)
{
    struct mr_ctx ctx = {
        .arena = &w->arena,
        .cfg = w->cfg,
        .db = w->db,
        .cache = w->cache,
        .sb = w->sb,
        .rng = &w->rng,
        .slot = w->slot,
        .start_us = mr_clock_us(),
    };
    atomic_store_explicit(&w->me->req_start_us, ctx.start_us, memory_order_relaxed);
    mr_resp_init(&ctx.resp, &w->arena);
    int route = dispatch(w, &ctx);
    /* Answered before the body was read (a limit): its STDIN records are still on the
     * connection, and libfcgi would take them for the next request's. Drain them, or close a
     * kept connection whose body is too large to drain. */
    if (ctx.req.content_length > 0 && ctx.req.body == NULL &&
        !drain_body(w, ctx.req.content_length))
        w->fcgx.keepConnection = 0;
    set_state(w, MR_W_FINISHING);
    /* Before the response leaves: whoever reads /metrics after getting it sees its queries. */
    if (w->is_pool)
        publish_db_stats(w);
    send_response(w, &ctx);
    /* The params (request_id among them) die in FCGX_Finish_r; the log line comes after. */
    char request_id[64];
    (void)snprintf(request_id, sizeof(request_id), "%s", ctx.req.request_id);
    FCGX_Finish_r(&w->fcgx);
    int64_t us = mr_clock_us() - ctx.start_us;
    if (w->is_pool) {
        mr_sb_record(w->sb, route, ctx.resp.status, us);
        atomic_fetch_add_explicit(&w->sb->pool.accepted, 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&w->me->requests, 1, memory_order_relaxed);
    atomic_store_explicit(&w->me->last_duration_us, us, memory_order_relaxed);
    atomic_store_explicit(&w->me->last_backend_us, ctx.backend_us, memory_order_relaxed);
    log_request(w, &ctx, request_id, us);
    mr_arena_reset(&w->arena);
}

static int
worker_open(struct mr_worker *w, const struct mr_worker_args *a)
{
    memset(w, 0, sizeof(*w));
    w->cfg = a->cfg;
    w->sb = a->sb;
    w->slot = a->slot;
    w->me = a->me;
    w->routes = a->routes;
    w->n_routes = a->n_routes;
    w->is_pool = a->is_pool;
    const struct mr_cfg *c = a->cfg;
    w->limits = (struct mr_req_limits){c->max_params,       c->max_params_bytes, c->max_query_bytes,
                                       c->max_query_params, c->max_header_bytes, c->max_body_bytes};
    mr_rand_init(&w->rng);
    if (c->max_requests > 0)
        w->max_requests = (uint64_t)c->max_requests +
                          (c->max_requests_jitter > 0
                               ? (uint64_t)mr_rand_range(&w->rng, 0, c->max_requests_jitter)
                               : 0);
    mr_arena_init(&w->arena, (size_t)c->arena_bytes, (size_t)c->arena_max_bytes);
    struct mr_err err;
    struct mr_db_health h = {.slots = a->sb->pg};
    if (mr_db_open(&c->db, h, &w->db, &err) < 0 ||
        mr_cache_open(&c->cache, &a->sb->redis, &w->cache, &err) < 0) {
        mr_log(MR_LOG_ERR, "worker_init_failed", "worker=%d pid=%d err=\"%s\"", w->slot, getpid(),
               err.msg);
        return -1;
    }
    if (FCGX_Init() != 0 || FCGX_InitRequest(&w->fcgx, -1, 0) != 0) {
        mr_log(MR_LOG_ERR, "worker_init_failed", "worker=%d pid=%d err=FCGX_Init", w->slot,
               getpid());
        return -1;
    }
    return 0;
}

static void
worker_close(struct mr_worker *w)
{
    mr_db_close(&w->db);
    mr_cache_close(&w->cache);
    mr_arena_fini(&w->arena);
}

static void
apply_rlimit(const struct mr_cfg *cfg)
{
    if (cfg->rlimit_files <= 0)
        return;
    struct rlimit rl = {(rlim_t)cfg->rlimit_files, (rlim_t)cfg->rlimit_files};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        mr_log(MR_LOG_WARNING, "rlimit_failed", "pid=%d rlimit_files=%d err=\"%s\"", getpid(),
               cfg->rlimit_files, strerror(errno));
}

int
mr_worker_run(const struct mr_worker_args *a)
{
    struct mr_worker w;
    apply_rlimit(a->cfg);
    if (worker_open(&w, a) < 0) {
        worker_close(&w);
        return 1;
    }
    /* The manager forks with every signal blocked; a SIGQUIT sent before this point is
     * pending and runs the handler as install_signals unblocks it, closing the fd. */
    listen_fd_sig = a->listen_fd;
    install_signals(); /* after FCGX_Init, which installs handlers of its own */
    uint64_t served = 0;
    while (!stop_requested && (w.max_requests == 0 || served < w.max_requests)) {
        if (reopen_requested) {
            reopen_requested = 0;
            if (mr_log_reopen(a->cfg->log_file) < 0)
                mr_log(MR_LOG_ERR, "reopen_logs_failed", "worker=%d pid=%d", w.slot, getpid());
        }
        atomic_store_explicit(&w.me->idle_since_ms, mr_clock_ms(), memory_order_relaxed);
        set_state(&w, MR_W_IDLE);
        if (w.fcgx.ipcFd < 0) {
            int fd = next_connection(&w, a->listen_fd);
            if (fd < 0)
                break;
            w.fcgx.ipcFd = fd;
            w.fcgx.keepConnection = 1; /* see the top of this file */
        } else {
            atomic_store_explicit(&w.me->kept, 1, memory_order_relaxed);
            kept_fd_sig = w.fcgx.ipcFd;
            bool ready = kept_conn_ready(&w, a->listen_fd);
            kept_fd_sig = -1;
            atomic_store_explicit(&w.me->kept, 0, memory_order_relaxed);
            if (!ready) {
                drop_kept(&w);
                continue;
            }
            kept_fd_sig = w.fcgx.ipcFd;
        }
        atomic_store_explicit(&w.me->req_start_us, mr_clock_us(), memory_order_relaxed);
        set_state(&w, MR_W_READING);
        int rc = FCGX_Accept_r(&w.fcgx);
        kept_fd_sig = -1;
        if (rc < 0) {
            /* Garbage, a truncated record or a timeout: libfcgi closed the connection. */
            w.fcgx.ipcFd = -1;
            continue;
        }
        serve_one(&w);
        served++;
    }
    if (w.max_requests > 0 && served >= w.max_requests)
        mr_log(MR_LOG_INFO, "worker_recycled", "worker=%d pid=%d requests=%llu", w.slot, getpid(),
               (unsigned long long)served);
    set_state(&w, MR_W_FINISHING);
    FCGX_Free(&w.fcgx, 1);
    worker_close(&w);
    return 0;
}
