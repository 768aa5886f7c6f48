/* SPDX-License-Identifier: BSD-2-Clause */
/* worker: the worker process's loop: wait on every connection it holds and on the listening
 * socket, accept, read, dispatch, account, keep or close.
 *
 * Many connections, one request at a time: the worker holds up to max_conns_per_worker
 * FastCGI connections (conns.h), each with its own FCGX_Request and record guard, and one
 * epoll set holds them and the listening socket. Each wake-up serves every readable
 * connection in turn, so no idle kept connection pins the worker (the libfcgi keep-alive
 * trap) and none has to be dropped to free it. A request on a busy worker's connection waits
 * for the request in service, like a request in the listen queue does.
 *
 * Why we accept() ourselves: libfcgi's own accept blocks with no timeout, restarts on EINTR
 * and, for unix sockets, waits up to 2 s in select() for the first byte. We accept (the
 * listening socket is non-blocking: another worker may win the connection), set
 * SO_RCVTIMEO/SO_SNDTIMEO (read_timeout_ms) on it, and give the fd to libfcgi by setting
 * FCGX_Request.ipcFd; the request's listen_sock is -1, so libfcgi can never block in an
 * accept of its own. keepConnection is set before FCGX_Accept_r so that its opening
 * FCGX_Finish_r does not close the fd we just handed over. A connection is read only once
 * epoll says it is readable, without blocking, into its read-ahead, and handed to libfcgi
 * only once a whole request is there (fcgi_read.h): a connection that sends nothing, or part
 * of a request, costs a slot, never the worker, and is closed after read_timeout_ms.
 *
 * The listening socket is in the set with EPOLLEXCLUSIVE while the worker has room, so one
 * connection wakes one worker, not all of them, and the workers take turns (rotate_listen). A full
 * worker watches it edge-triggered and not exclusively, and takes a newcomer only when no other
 * worker has room: it then gives up its oldest silent connection, else its least recently used idle
 * one (conns.h).
 *
 * Closing: the worker closes a connection itself (never through libfcgi, whose close of a
 * unix socket waits up to 2 s for the peer) when nginx did not ask to keep it, when its
 * stream is unusable, when it is idle past its bound, and, on stop, reload, recycle or pool
 * shrink, only between requests: kept connections are closed unread, fresh ones are served
 * first (close_all). nginx retries a request it wrote to a kept connection closed unread
 * (README, "nginx keepalive").
 *
 * Stopping: the SIGQUIT handler sets a flag, closes the listening fd and writes to a
 * self-pipe in the epoll set (all async-signal-safe); the loop sees the flag between
 * requests, so a request in flight is finished first. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "app/lib/signals.h"
#include "app/serve/conns.h"
#include "app/serve/fcgi_read.h"
#include "app/serve/internal.h"
#include "app/serve/worker.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reopen_requested;
static volatile sig_atomic_t listen_fd_sig = -1; /* closed by the SIGQUIT handler */
static volatile sig_atomic_t wake_fd_sig = -1;   /* the self-pipe's write end */
static volatile sig_atomic_t epfd_sig = -1;      /* the epoll set listen_fd may be in */

/* Closing the listening fd at once tells the manager (and the tests) that this worker takes
 * no more connections, even while it finishes a request; the self-pipe wakes an epoll_wait
 * that a close would not (the socket stays open in the other workers). */
static void
on_quit(int sig)
{
    (void)sig;
    int saved = errno;
    stop_requested = 1;
    if (listen_fd_sig >= 0) {
        /* Out of the set first: the socket stays open in the other workers, so the set
         * would go on reporting it after the close. */
        if (epfd_sig >= 0)
            (void)epoll_ctl(epfd_sig, EPOLL_CTL_DEL, listen_fd_sig, NULL);
        (void)close(listen_fd_sig);
        listen_fd_sig = -1;
    }
    if (wake_fd_sig >= 0 && write(wake_fd_sig, "q", 1) < 0) {
        /* full (a byte is already there) or closed: either way nothing is left to wake */
    }
    errno = saved;
}

static void
on_usr1(int sig)
{
    (void)sig;
    reopen_requested = 1;
}

/* libfcgi installs its own SIGTERM handler: SIG_DFL undoes it. SA_RESTART: a read of a
 * request in progress must not fail because we were asked to stop (epoll_wait returns EINTR
 * anyway, and the stop is seen there, between requests). */
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

enum { ACCEPT_NONE = -1, ACCEPT_STOP = -2 };

/* Takes one waiting connection. Returns its fd; ACCEPT_NONE when none waits (another worker
 * took it) or the process is out of descriptors or memory (logged; retried on the next
 * wake-up); ACCEPT_STOP when the listening socket is gone. */
static int
accept_one(struct mr_worker *w)
{
    struct timeval tv = {.tv_sec = w->cfg->read_timeout_ms / 1000,
                         .tv_usec = (suseconds_t)(w->cfg->read_timeout_ms % 1000) * 1000};
    for (;;) {
        if (stop_requested)
            return ACCEPT_STOP; /* the handler may have closed listen_fd */
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof(peer);
        int fd = accept4(w->listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
        if (fd >= 0 && w->clients != NULL && w->clients->check &&
            !mr_clients_allow(w->clients, (const struct sockaddr *)&peer)) {
            refuse_client(w, fd, &peer);
            continue;
        }
        if (fd >= 0) {
            /* Backstops: reads are bounded by the request's deadline (fcgi_read.h). */
            (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
            return fd;
        }
        switch (errno) {
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
            continue;
        case EAGAIN:
            return ACCEPT_NONE;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            mr_log(MR_LOG_ERR, "accept_failed", "worker=%d pid=%d err=\"%s\"", w->slot, getpid(),
                   strerror(errno));
            (void)poll(NULL, 0, 100); /* let descriptors or memory free up */
            return ACCEPT_NONE;
        default:
            if (!stop_requested)
                mr_log(MR_LOG_ERR, "accept_failed", "worker=%d pid=%d err=\"%s\"", w->slot,
                       getpid(), strerror(errno));
            return ACCEPT_STOP;
        }
    }
}

#define EV_LISTEN UINT32_MAX
#define EV_WAKE (UINT32_MAX - 1)
#define MAX_EVENTS 64

enum listen_watch { WATCH_NONE, WATCH_EXCLUSIVE, WATCH_FULL };

/* Keeps the listening socket in the epoll set as the worker's room says (see the top of this
 * file), and shows the room in the worker's slot for the others' census. */
static void
watch_listen(struct mr_worker *w)
{
    bool stopping = w->stopping || stop_requested;
    enum listen_watch want = stopping                       ? WATCH_NONE
                             : mr_conns_has_room(&w->conns) ? WATCH_EXCLUSIVE
                             : w->is_pool                   ? WATCH_FULL
                                                            : WATCH_NONE;
    if ((int)want == w->listen_watch)
        return;
    /* Once stopping, the SIGQUIT handler may have closed the fd (and its number may be
     * another file's now): it is left alone, and the loop ignores its events. */
    if (w->listen_watch != (int)WATCH_NONE && !stop_requested)
        (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fd, NULL);
    if (want != WATCH_NONE) {
        struct epoll_event ev = {.events = want == WATCH_EXCLUSIVE ? EPOLLIN | EPOLLEXCLUSIVE
                                                                   : EPOLLIN | EPOLLET,
                                 .data.u32 = EV_LISTEN};
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->listen_fd, &ev) != 0) {
            if (!stop_requested) /* else the handler closed it as we added it */
                mr_log(MR_LOG_ERR, "epoll_failed", "worker=%d pid=%d err=\"%s\"", w->slot, getpid(),
                       strerror(errno));
            want = WATCH_NONE;
        }
    }
    w->listen_watch = (int)want;
    atomic_store_explicit(&w->me->room, w->is_pool && want == WATCH_EXCLUSIVE,
                          memory_order_relaxed);
}

/* After an accept: to the back of the listening socket's queue of exclusive waiters. epoll
 * wakes the first idle one in the order they were added, so without this one worker would
 * take every new connection while it is idle; accept() itself queues its waiters in turn,
 * and the pool relies on that spread (a backend's failures seen by several workers, the
 * busy and idle counts of pm dynamic). Two system calls per new connection, none per
 * request on a kept one. */
static void
rotate_listen(struct mr_worker *w)
{
    if (w->listen_watch != (int)WATCH_EXCLUSIVE || stop_requested)
        return;
    (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fd, NULL);
    w->listen_watch = (int)WATCH_NONE;
    watch_listen(w);
}

/* Does another pool worker have room for a connection? A hand loop over the scoreboard slots;
 * it runs only when a full worker sees a connection wait, never per request. */
static bool
another_has_room(const struct mr_worker *w)
{
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        const struct mr_sb_worker *o = &w->sb->workers[i];
        if (o != w->me && atomic_load_explicit(&o->pid, memory_order_relaxed) != 0 &&
            atomic_load_explicit(&o->room, memory_order_relaxed))
            return true;
    }
    return false;
}

/* Closes connection i and forgets it. libfcgi's streams are freed first (after an answer
 * they already are). */
static void
close_conn(struct mr_worker *w, int i)
{
    struct mr_conn *c = &w->conns.slot[i];
    if (c->fcgx.ipcFd >= 0) {
        FCGX_Free(&c->fcgx, 0);
        (void)close(c->fcgx.ipcFd); /* also takes it out of the epoll set */
        c->fcgx.ipcFd = -1;
    }
    mr_conns_remove(&w->conns, i);
    atomic_store_explicit(&w->me->conns, w->conns.n, memory_order_relaxed);
    watch_listen(w);
}

/* Closes connection i, which nginx has not closed, and counts why. */
static void
close_conn_for(struct mr_worker *w, int i, enum mr_sb_conn_close why)
{
    atomic_fetch_add_explicit(&w->sb->pool.conns_closed[why], 1, memory_order_relaxed);
    close_conn(w, i);
}

/* A new connection: a slot, its FCGX_Request (handed the fd, see the top of this file), its
 * guard, and its place in the epoll set. */
static void
add_conn(struct mr_worker *w, int fd)
{
    int i = mr_conns_add(&w->conns, fd, mr_clock_ms());
    if (i < 0) {
        (void)close(fd);
        return;
    }
    struct mr_conn *c = &w->conns.slot[i];
    (void)FCGX_InitRequest(&c->fcgx, -1, 0);
    c->fcgx.ipcFd = fd;
    c->fcgx.keepConnection = 1;
    mr_fcgi_read_start(&c->stream, fd);
    atomic_store_explicit(&w->me->conns, w->conns.n, memory_order_relaxed);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        mr_log(MR_LOG_ERR, "epoll_failed", "worker=%d pid=%d err=\"%s\"", w->slot, getpid(),
               strerror(errno));
        close_conn(w, i);
        return;
    }
    watch_listen(w);
}

/* The listening socket woke us. With room: take one connection (the set is level-triggered:
 * the next wake-up takes the next). Full (edge-triggered): take what waits, each in place of
 * the oldest silent or least recently used idle connection, unless another worker has room
 * and will take it. Returns false when the worker must stop. */
static bool
on_listen(struct mr_worker *w)
{
    bool full = !mr_conns_has_room(&w->conns);
    if (full && another_has_room(w))
        return true;
    do {
        int victim = -1;
        int64_t now = mr_clock_ms();
        if (!mr_conns_has_room(&w->conns) && (victim = mr_conns_victim(&w->conns, now)) < 0) {
            /* Only young fresh connections (maybe nginx's): look again when the oldest has
             * been silent long enough (the listening socket is edge-triggered here). */
            int f = mr_conns_oldest(&w->conns, MR_CONN_FRESH);
            w->relook_ms = f >= 0 ? w->conns.slot[f].since_ms + MR_CONN_SILENT_MS : 0;
            return true;
        }
        int fd = accept_one(w);
        if (fd == ACCEPT_STOP)
            return false;
        if (fd == ACCEPT_NONE)
            return true;
        if (victim >= 0)
            close_conn_for(w, victim, MR_SB_CLOSE_GIVEN_UP);
        add_conn(w, fd);
    } while (full && !stop_requested);
    rotate_listen(w);
    return true;
}

/* The record guard refused the connection's stream (fcgi_read.h): count it and say why.
 * Returns whether it was refused. */
static bool
guard_refused(struct mr_worker *w, struct mr_conn *c)
{
    const char *why = mr_fcgi_read_refused(&c->stream);
    if (why == NULL)
        return false;
    atomic_fetch_add_explicit(&w->sb->pool.fcgi_refused, 1, memory_order_relaxed);
    mr_log(MR_LOG_WARNING, "fcgi_refused", "worker=%d pid=%d reason=\"%s\"", w->slot, getpid(),
           why);
    c->stream.guard.reason = NULL; /* said once */
    return true;
}

/* Dispatches the request read on c, sends the response, and accounts for it. Returns
 * whether the connection may serve another request: nginx asked to keep it (and may_keep),
 * and the request left it in step. */
static bool
serve_one(struct mr_worker *w, struct mr_conn *c, bool may_keep)
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
    w->fcgx = &c->fcgx;
    atomic_store_explicit(&w->me->req_start_us, ctx.start_us, memory_order_relaxed);
    mr_resp_init(&ctx.resp, &w->arena);
    int route = mr_serve__dispatch(w, &ctx);
    bool keep = may_keep && c->fcgx.keepConnection;
    /* A stream the guard refused (in the body, say) is counted first and not drained: its
     * bytes are no longer ones libfcgi may parse. */
    if (guard_refused(w, c) || !mr_serve__drain_unread(w, &ctx) ||
        mr_fcgi_read_pipelined(&c->stream))
        keep = false;
    mr_serve__set_state(w, MR_W_FINISHING);
    /* Before the response leaves: whoever reads /metrics after getting it sees its queries. */
    if (w->is_pool)
        mr_serve__publish_db_stats(w);
    mr_serve__send(w, &ctx);
    /* The params (request_id among them) die in FCGX_Finish_r; the log line comes after. */
    char request_id[64];
    (void)snprintf(request_id, sizeof(request_id), "%s", ctx.req.request_id);
    c->fcgx.keepConnection = 1; /* libfcgi closes only on a stream error; we close the rest */
    FCGX_Finish_r(&c->fcgx);
    w->fcgx = NULL;
    mr_serve__account(w, &ctx, route, request_id, mr_clock_us() - ctx.start_us);
    mr_arena_reset(&w->arena);
    return keep && c->fcgx.ipcFd >= 0;
}

/* Connection i is readable (or closed, or failed): read one request and serve it. */
static void
serve_conn(struct mr_worker *w, int i, uint32_t events, bool may_keep)
{
    struct mr_conn *c = &w->conns.slot[i];
    if ((events & EPOLLIN) == 0) {
        close_conn(w, i); /* hung up or failed, with nothing to read */
        return;
    }
    int ahead = mr_fcgi_read_ahead(&c->stream);
    if (ahead < 0) {
        (void)guard_refused(w, c);
        close_conn(w, i);
        return;
    }
    int64_t now = mr_clock_ms();
    if (ahead == 0) {
        /* Part of a request: wait for the rest without blocking the others. */
        if (mr_fcgi_read_pending(&c->stream))
            mr_conns_partial(&w->conns, i, now);
        return;
    }
    int64_t first_byte_ms = c->list == MR_CONN_PARTIAL ? c->since_ms : now;
    atomic_store_explicit(&w->me->req_start_us, mr_clock_us(), memory_order_relaxed);
    mr_serve__set_state(w, MR_W_READING);
    mr_fcgi_read_use(&c->stream, first_byte_ms + w->cfg->read_timeout_ms);
    int rc = FCGX_Accept_r(&c->fcgx);
    if (rc < 0) {
        /* nginx closed it, or garbage, a truncated record, a timeout: libfcgi closed it. */
        (void)guard_refused(w, c);
        mr_fcgi_read_use(NULL, 0);
        c->fcgx.ipcFd = -1;
        close_conn(w, i);
        return;
    }
    bool kept = serve_one(w, c, may_keep);
    mr_fcgi_read_use(NULL, 0);
    w->served++;
    if (kept)
        mr_conns_answered(&w->conns, i, mr_clock_ms());
    else
        close_conn(w, i);
}

static bool
must_stop(const struct mr_worker *w)
{
    return stop_requested || (w->max_requests > 0 && w->served >= w->max_requests);
}

/* One wake-up: every readable connection first, then the listening socket (an accept may
 * reuse the slot of a connection it gives up, so it comes after this batch's events).
 * Returns false when the worker must stop. */
static bool
one_turn(struct mr_worker *w)
{
    struct epoll_event ev[MAX_EVENTS];
    int64_t now = mr_clock_ms();
    int timeout = mr_conns_next_expiry_ms(&w->conns, now, w->cfg->read_timeout_ms,
                                          w->cfg->conn_idle_timeout_ms);
    if (w->relook_ms > 0) {
        int relook = w->relook_ms > now ? (int)(w->relook_ms - now) : 0;
        timeout = timeout < 0 || relook < timeout ? relook : timeout;
    }
    int n = epoll_wait(w->epfd, ev, MAX_EVENTS, timeout);
    if (n < 0 && errno != EINTR) {
        mr_log(MR_LOG_ERR, "epoll_failed", "worker=%d pid=%d err=\"%s\"", w->slot, getpid(),
               strerror(errno));
        return false;
    }
    bool listen_ready = false;
    for (int k = 0; k < n && !must_stop(w); k++) {
        if (ev[k].data.u32 == EV_LISTEN)
            listen_ready = true;
        else if (ev[k].data.u32 != EV_WAKE)
            serve_conn(w, (int)ev[k].data.u32, ev[k].events, true);
    }
    if (w->relook_ms > 0 && mr_clock_ms() >= w->relook_ms) {
        w->relook_ms = 0;
        listen_ready = listen_ready || !mr_conns_has_room(&w->conns);
    }
    if (listen_ready && !must_stop(w) && !on_listen(w))
        return false;
    for (int i; (i = mr_conns_expired(&w->conns, mr_clock_ms(), w->cfg->read_timeout_ms,
                                      w->cfg->conn_idle_timeout_ms)) >= 0;)
        close_conn_for(w, i,
                       w->conns.slot[i].list == MR_CONN_KEPT ? MR_SB_CLOSE_IDLE
                                                             : MR_SB_CLOSE_UNANSWERED);
    return true;
}

/* Stop, reload, recycle or pool shrink: no new connection, and no request past max_requests
 * on a kept connection: kept connections are closed unread, readable or not (nginx retries
 * what it wrote to one, README "nginx keepalive"). A fresh or partly read connection is
 * waited for and served (then closed), since nginx writes its request right after connecting
 * and would not retry it: at most FRESH_WAIT_MS after its accept or first byte (or
 * read_timeout_ms when lower), then it is closed. */
#define FRESH_WAIT_MS 2000

/* The fresh or partial connection that has waited longest, or -1. */
static int
oldest_unanswered(const struct mr_conns *t)
{
    int f = mr_conns_oldest(t, MR_CONN_FRESH), p = mr_conns_oldest(t, MR_CONN_PARTIAL);
    if (f < 0 || p < 0)
        return f < 0 ? p : f;
    return t->slot[f].since_ms <= t->slot[p].since_ms ? f : p;
}

static void
close_all(struct mr_worker *w)
{
    w->stopping = true;
    watch_listen(w);
    if (w->wake[0] >= 0)
        (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->wake[0], NULL); /* it stays readable */
    int wait_ms = w->cfg->read_timeout_ms < FRESH_WAIT_MS ? w->cfg->read_timeout_ms : FRESH_WAIT_MS;
    for (int timeout = 0;;) {
        struct epoll_event ev[MAX_EVENTS];
        int n = epoll_wait(w->epfd, ev, MAX_EVENTS, timeout);
        for (int k = 0; k < n; k++) {
            uint32_t i = ev[k].data.u32;
            enum mr_conn_list l = i < EV_WAKE ? w->conns.slot[i].list : MR_CONN_FREE;
            if (l == MR_CONN_FRESH || l == MR_CONN_PARTIAL)
                serve_conn(w, (int)i, ev[k].events, false);
        }
        for (int i; (i = mr_conns_oldest(&w->conns, MR_CONN_KEPT)) >= 0;)
            close_conn_for(w, i, MR_SB_CLOSE_STOPPING);
        int f = oldest_unanswered(&w->conns);
        if (f < 0)
            return;
        int64_t left = w->conns.slot[f].since_ms + wait_ms - mr_clock_ms();
        if (left <= 0) {
            close_conn_for(w, f, MR_SB_CLOSE_STOPPING);
            timeout = 0;
            continue;
        }
        timeout = (int)left;
    }
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
    w->epfd = w->wake[0] = w->wake[1] = -1;
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
    if (FCGX_Init() != 0) {
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
    mr_conns_init(&w->conns, c->max_conns_per_worker);
    atomic_store_explicit(&w->me->conns, 0, memory_order_relaxed); /* the slot's last owner's */
    w->listen_fd = a->listen_fd;
    w->epfd = epoll_create1(EPOLL_CLOEXEC); /* after fork: each worker its own set */
    int fl = fcntl(a->listen_fd, F_GETFL);
    struct epoll_event wake = {.events = EPOLLIN, .data.u32 = EV_WAKE};
    if (w->epfd < 0 || fl < 0 || fcntl(a->listen_fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        pipe2(w->wake, O_NONBLOCK | O_CLOEXEC) != 0 ||
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake[0], &wake) != 0) {
        mr_log(MR_LOG_ERR, "worker_init_failed", "worker=%d pid=%d err=\"epoll: %s\"", w->slot,
               getpid(), strerror(errno));
        return -1;
    }
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
    mr_conns_fini(&w->conns);
    if (w->epfd >= 0)
        (void)close(w->epfd);
    wake_fd_sig = epfd_sig = -1;
    for (int i = 0; i < 2; i++)
        if (w->wake[i] >= 0)
            (void)close(w->wake[i]);
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
     * pending and runs the handler as install_signals unblocks it. */
    listen_fd_sig = a->listen_fd;
    wake_fd_sig = w.wake[1];
    epfd_sig = w.epfd;
    install_signals(); /* after FCGX_Init, which installs handlers of its own */
    watch_listen(&w);
    while (!must_stop(&w)) {
        if (reopen_requested) {
            reopen_requested = 0;
            if (mr_log_reopen(a->cfg->log_file) < 0)
                mr_log(MR_LOG_ERR, "reopen_logs_failed", "worker=%d pid=%d", w.slot, getpid());
        }
        atomic_store_explicit(&w.me->idle_since_ms, mr_clock_ms(), memory_order_relaxed);
        mr_serve__set_state(&w, MR_W_IDLE);
        if (!one_turn(&w))
            break;
    }
    if (w.max_requests > 0 && w.served >= w.max_requests)
        mr_log(MR_LOG_INFO, "worker_recycled", "worker=%d pid=%d requests=%llu", w.slot, getpid(),
               (unsigned long long)w.served);
    mr_serve__set_state(&w, MR_W_FINISHING);
    close_all(&w);
    worker_close(&w);
    return 0;
}
