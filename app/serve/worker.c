/* SPDX-License-Identifier: BSD-2-Clause */
/* worker: the worker process's loop: accept, read, dispatch, account, keep or close.
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
 * One turn of the loop reads top-down: accept (or wait on the kept connection, keepconn.c),
 * read the request (FCGX_Accept_r), dispatch it (dispatch.c), account for it (account.c),
 * and let FCGX_Finish_r keep or close the connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcgiapp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "app/lib/signals.h"
#include "app/serve/fcgi_read.h"
#include "app/serve/internal.h"
#include "app/serve/keepconn.h"
#include "app/serve/worker.h"

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

/* FNV-1a over the peer's address bytes (not its port): the key of the refusal log. */
static uint64_t
addr_hash(const struct sockaddr_storage *ss)
{
    const unsigned char *p =
        ss->ss_family == AF_INET
            ? (const unsigned char *)&((const struct sockaddr_in *)ss)->sin_addr
            : (const unsigned char *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
    size_t n = ss->ss_family == AF_INET ? 4 : 16;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* A peer outside listen_allowed_clients: closed before a byte is read, counted, and logged at
 * most once a minute per address. */
static void
refuse_client(struct mr_worker *w, int fd, const struct sockaddr_storage *ss)
{
    (void)close(fd);
    atomic_fetch_add_explicit(&w->sb->pool.clients_refused, 1, memory_order_relaxed);
    if (!mr_sb_log_refusal(w->sb, addr_hash(ss), mr_clock_ms()))
        return;
    char addr[INET6_ADDRSTRLEN] = "?";
    const void *a = ss->ss_family == AF_INET
                        ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                        : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
    (void)inet_ntop(ss->ss_family, a, addr, sizeof(addr));
    mr_log(MR_LOG_WARNING, "client_refused",
           "worker=%d pid=%d client=%s reason=\"not in listen_allowed_clients\" "
           "note=\"logged once a minute per address\"",
           w->slot, getpid(), addr);
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
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = accept4(listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
        if (fd >= 0 && w->clients != NULL && w->clients->check &&
            !mr_clients_allow(w->clients, (const struct sockaddr *)&peer)) {
            refuse_client(w, fd, &peer);
            continue;
        }
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

/* The record guard refused the connection's stream (fcgi_read.h): count it, say why, and
 * make sure the connection is not kept. Returns whether it was refused. */
static bool
guard_refused(struct mr_worker *w)
{
    const char *why = mr_fcgi_read_refused();
    if (why == NULL)
        return false;
    atomic_fetch_add_explicit(&w->sb->pool.fcgi_refused, 1, memory_order_relaxed);
    mr_log(MR_LOG_WARNING, "fcgi_refused", "worker=%d pid=%d reason=\"%s\"", w->slot, getpid(),
           why);
    mr_fcgi_read_start(-1); /* said once */
    return true;
}

/* Waits for the next request, on the kept connection or else on a new one, and reads it.
 * Returns 1 when a request was read, 0 when none came (look again), -1 to stop. */
static int
next_request(struct mr_worker *w, int listen_fd)
{
    if (!mr_keepconn_has(&w->keep)) {
        int fd = next_connection(w, listen_fd);
        if (fd < 0)
            return -1;
        mr_keepconn_adopt(&w->keep, fd); /* see the top of this file */
        mr_fcgi_read_start(fd);
    } else {
        kept_fd_sig = w->fcgx.ipcFd;
        bool ready = mr_keepconn_wait(&w->keep);
        kept_fd_sig = -1;
        if (!ready) {
            mr_keepconn_drop(&w->keep);
            return 0;
        }
        kept_fd_sig = w->fcgx.ipcFd;
    }
    atomic_store_explicit(&w->me->req_start_us, mr_clock_us(), memory_order_relaxed);
    mr_serve__set_state(w, MR_W_READING);
    int rc = FCGX_Accept_r(&w->fcgx);
    kept_fd_sig = -1;
    if (rc < 0) {
        /* Garbage, a truncated record or a timeout: libfcgi closed the connection. */
        (void)guard_refused(w);
        mr_keepconn_lost(&w->keep);
        return 0;
    }
    return 1;
}

/* Dispatches the request read, sends the response, and accounts for it. FCGX_Finish_r keeps
 * the connection or closes it, as nginx asked unless the request left it out of step. */
static void
serve_one(struct mr_worker *w)
{
    struct mr_ctx ctx = {
        .arena = &w->arena,
        .cfg = w->cfg,
        .app = w->app,
        .db = w->db,
        .cache = w->cache,
        .sb = w->sb,
        .rng = &w->rng,
        .slot = w->slot,
        .templates = w->templates,
        .start_us = mr_clock_us(),
    };
    atomic_store_explicit(&w->me->req_start_us, ctx.start_us, memory_order_relaxed);
    mr_resp_init(&ctx.resp, &w->arena);
    int route = mr_serve__dispatch(w, &ctx);
    /* A stream the guard refused (in the body, say) is counted first and not drained: its
     * bytes are no longer ones libfcgi may parse. */
    if (guard_refused(w) || !mr_serve__drain_unread(w, &ctx) || mr_fcgi_read_pipelined())
        mr_keepconn_forbid(&w->keep);
    mr_serve__set_state(w, MR_W_FINISHING);
    /* Before the response leaves: whoever reads /metrics after getting it sees its queries. */
    if (w->is_pool)
        mr_serve__publish_db_stats(w);
    mr_serve__send(w, &ctx);
    /* The params (request_id among them) die in FCGX_Finish_r; the log line comes after. */
    char request_id[64];
    (void)snprintf(request_id, sizeof(request_id), "%s", ctx.req.request_id);
    FCGX_Finish_r(&w->fcgx);
    mr_serve__account(w, &ctx, route, request_id, mr_clock_us() - ctx.start_us);
    mr_arena_reset(&w->arena);
}

/* The database handle, preparing the application's statements on every connection. */
static int
open_db(struct mr_worker *w, const struct mr_db_health *h, struct mr_err *err)
{
    size_t n = w->app != NULL ? w->app->n_statements : 0;
    if (n > INT_MAX)
        return mr_err_set(err, -EINVAL, "%zu statements", n);
    struct mr_db_stmt *stmts = n > 0 ? mr_xcalloc(n, sizeof(*stmts)) : NULL;
    for (size_t i = 0; i < n; i++)
        stmts[i] = (struct mr_db_stmt){w->app->statements[i].name, w->app->statements[i].sql};
    int rc = mr_db_open(&w->cfg->db, *h, stmts, (int)n, &w->db, err);
    free(stmts); /* copied by mr_db_open; the strings are the module's */
    return rc;
}

static int
worker_open(struct mr_worker *w, const struct mr_worker_args *a)
{
    memset(w, 0, sizeof(*w));
    w->cfg = a->cfg;
    w->sb = a->sb;
    w->slot = a->slot;
    w->me = a->me;
    w->clients = a->clients;
    w->routes = a->routes;
    w->n_routes = a->n_routes;
    w->router = a->router;
    w->app = a->app;
    w->templates = a->templates;
    w->inputs = a->inputs;
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
    if (open_db(w, &h, &err) < 0 || mr_cache_open(&c->cache, &a->sb->redis, &w->cache, &err) < 0 ||
        mr_cache_local_open(w->cache, &err) < 0) {
        mr_log(MR_LOG_ERR, "worker_init_failed", "worker=%d pid=%d err=\"%s\"", w->slot, getpid(),
               err.msg);
        return -1;
    }
    if (FCGX_Init() != 0 || FCGX_InitRequest(&w->fcgx, -1, 0) != 0) {
        mr_log(MR_LOG_ERR, "worker_init_failed", "worker=%d pid=%d err=FCGX_Init", w->slot,
               getpid());
        return -1;
    }
    if (mr_fcgi_read_init(c->max_params, c->max_params_bytes) != 0)
        mr_log(MR_LOG_ERR, "fcgi_guard_inactive",
               "worker=%d pid=%d err=\"libfcgi does not read through OS_Read: records reach it "
               "unchecked\"",
               w->slot, getpid());
    if (w->app != NULL && w->app->init != NULL) {
        struct mr_worker_info info = {.worker = w->slot, .app_path = c->app};
        int rc = w->app->init(&info);
        if (rc != 0) {
            mr_log(MR_LOG_ERR, "worker_init_failed", "worker=%d pid=%d app=%s err=\"init: %s\"",
                   w->slot, getpid(), w->app->name, rc < 0 ? strerror(-rc) : "nonzero return");
            return -1;
        }
    }
    w->app_ready = true;
    w->keep = (struct mr_keepconn){
        .fcgx = &w->fcgx,
        .listen_fd = a->listen_fd,
        .watch_listen = a->is_pool, /* the status process has no pool to unpin */
        .idle_ms = c->read_timeout_ms,
        .sb = a->sb,
        .me = a->me,
        .stop = &stop_requested,
    };
    return 0;
}

static void
worker_close(struct mr_worker *w)
{
    if (w->app_ready && w->app != NULL && w->app->fini != NULL)
        w->app->fini();
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
        mr_serve__set_state(&w, MR_W_IDLE);
        int got = next_request(&w, a->listen_fd);
        if (got < 0)
            break;
        if (got == 0)
            continue;
        serve_one(&w);
        served++;
    }
    if (w.max_requests > 0 && served >= w.max_requests)
        mr_log(MR_LOG_INFO, "worker_recycled", "worker=%d pid=%d requests=%llu", w.slot, getpid(),
               (unsigned long long)served);
    mr_serve__set_state(&w, MR_W_FINISHING);
    FCGX_Free(&w.fcgx, 1);
    worker_close(&w);
    return 0;
}
