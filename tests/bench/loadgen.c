/* SPDX-License-Identifier: BSD-2-Clause */
/* loadgen: millrace's HTTP/1.1 load generator, for 127.0.0.1 only. One thread, one epoll
 * loop, non-blocking keep-alive connections, one request in flight per connection.
 *
 *   closed loop  -c CONNS -n COUNT      COUNT requests over CONNS connections, each sent
 *                                       when the connection's previous answer is in;
 *                                       latency runs from the write
 *   open loop    -R RATE -d SECONDS     request i is due at start + i / RATE whatever the
 *                                       answers do; latency runs from that due time, so a
 *                                       slow server shows as latency, not as fewer requests
 *                                       (no coordinated omission). Connections are opened
 *                                       as needed up to -C; a request that finds none free
 *                                       at its due time is sent as soon as one is and
 *                                       counted as a late send.
 *
 * Paths come from a mix file (-m, lg_mix.h) or the URL. All memory is allocated before the
 * first request: per-path histograms (lg_hist.h), the connections and their parsers
 * (lg_http.h). Every connect and every read waits at most -t ms; the whole run stops after
 * -T seconds whatever happens. Output: one `key=value` line per path and one for the total
 * on stdout, a table on stderr. Exit status: 0 all answered 2xx, 1 some non-2xx or socket
 * errors, 2 usage, 3 the time limit cut the run short. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/lg_hist.h"
#include "tests/bench/lg_http.h"
#include "tests/bench/lg_mix.h"
#include "tests/bench/lg_run.h"
#include "tests/bench/lg_selftest.h"

#define MAX_CONNS 20000
#define EVENTS_PER_WAIT 256
/* How often deadlines are scanned: a timeout fires at most this late. */
#define SCAN_NS (10 * NS_PER_MS)
/* Below this lateness a send counts as on time (the loop's own wake-up jitter). */
#define LATE_NS NS_PER_MS

enum conn_state { CONN_CLOSED, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

struct conn {
    int fd;
    enum conn_state state;
    bool has_req;      /* a request is assigned (maybe not yet written) */
    size_t path;       /* its mix entry */
    size_t sent;       /* bytes of it written */
    uint64_t start_ns; /* latency origin: the write (closed loop) or the due time (open) */
    uint64_t deadline_ns;
    size_t idle_pos; /* index in run.idle while CONN_IDLE */
    uint32_t gen;    /* bumped at each open: an event for a closed fd is recognised */
    struct lg_http http;
};

struct run {
    struct lg_opts o;
    struct lg_mix mix;
    struct lg_stats st;
    struct conn *conns;
    size_t n_conns; /* slots: the bound on open connections */
    size_t *idle;   /* stack of idle connection indices */
    size_t n_idle;
    size_t open_cursor; /* where the next free slot is looked for */
    int epfd;
    uint64_t rng;
    uint64_t planned, assigned, completed;
    uint64_t t0_ns, interval_ns;
    char buf[65536];
};

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void
idle_push(struct run *r, struct conn *c)
{
    c->state = CONN_IDLE;
    c->idle_pos = r->n_idle;
    r->idle[r->n_idle++] = (size_t)(c - r->conns);
}

static void
idle_remove(struct run *r, struct conn *c)
{
    size_t last = r->idle[--r->n_idle];
    r->idle[c->idle_pos] = last;
    r->conns[last].idle_pos = c->idle_pos;
}

static void
conn_close(struct run *r, struct conn *c)
{
    if (c->state == CONN_CLOSED)
        return;
    if (c->state == CONN_IDLE)
        idle_remove(r, c);
    close(c->fd); /* also takes it out of the epoll set */
    c->fd = -1;
    c->state = CONN_CLOSED;
    c->has_req = false;
    r->st.open_now--;
}

/* Opens a connection in a free slot; returns it (CONNECTING or, on an immediate loopback
 * connect, IDLE-to-be: state CONNECTING all the same, the first EPOLLOUT finishes it), or
 * NULL when every slot is taken or the socket could not be made (counted). */
static struct conn *
conn_open(struct run *r, uint64_t now)
{
    if (r->st.open_now >= r->n_conns)
        return NULL;
    struct conn *c = NULL;
    for (size_t k = 0; k < r->n_conns; k++) {
        size_t i = (r->open_cursor + k) % r->n_conns;
        if (r->conns[i].state == CONN_CLOSED) {
            c = &r->conns[i];
            r->open_cursor = i + 1;
            break;
        }
    }
    if (c == NULL)
        return NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        r->st.connect_errors++;
        return NULL;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)r->o.port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
        close(fd);
        r->st.connect_errors++;
        return NULL;
    }
    /* Edge-triggered, registered once: no epoll_ctl per request. */
    c->gen++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = (uint64_t)c->gen << 32 | (uint64_t)(c - r->conns)};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        r->st.connect_errors++;
        return NULL;
    }
    c->fd = fd;
    c->state = CONN_CONNECTING;
    c->has_req = false;
    c->deadline_ns = now + r->o.timeout_ms * NS_PER_MS;
    lg_http_init(&c->http);
    r->st.opened++;
    if (++r->st.open_now > r->st.max_open)
        r->st.max_open = r->st.open_now;
    return c;
}

static void start_next(struct run *r, uint64_t now);

/* The request in flight on c failed: counted against its path, and the connection closed. */
static void
fail_req(struct run *r, struct conn *c, uint64_t *counter)
{
    (*counter)++;
    if (c->has_req) {
        r->st.path[c->path].errors++;
        r->completed++;
    }
    conn_close(r, c);
}

static void
write_req(struct run *r, struct conn *c, uint64_t now)
{
    const struct lg_mix_entry *e = &r->mix.entry[c->path];
    if (c->sent == 0 && r->o.is_open) {
        uint64_t late = now > c->start_ns ? now - c->start_ns : 0;
        lg_hist_record(&r->st.lag, late / NS_PER_US);
        if (late > LATE_NS)
            r->st.late_sends++;
    } else if (c->sent == 0) {
        c->start_ns = now;
    }
    while (c->sent < e->request_len) {
        ssize_t n = send(c->fd, e->request + c->sent, e->request_len - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            break; /* the edge-triggered EPOLLOUT resumes it */
        } else {
            fail_req(r, c, &r->st.write_errors);
            return;
        }
    }
    c->state = CONN_BUSY;
    c->deadline_ns = now + r->o.timeout_ms * NS_PER_MS;
}

/* Gives c (IDLE or CONNECTING) request number r->assigned. */
static void
assign(struct run *r, struct conn *c, uint64_t now)
{
    if (c->state == CONN_IDLE)
        idle_remove(r, c);
    c->path = lg_mix_pick(&r->mix, lg_rand_next(&r->rng));
    c->has_req = true;
    c->sent = 0;
    c->start_ns = r->o.is_open ? r->t0_ns + r->assigned * r->interval_ns : 0;
    r->assigned++;
    if (c->state == CONN_CONNECTING)
        return; /* written once connected */
    c->state = CONN_BUSY;
    write_req(r, c, now);
}

/* The response on c is complete. */
static void
finish_req(struct run *r, struct conn *c, uint64_t now, bool peer_closing)
{
    struct lg_path_stats *ps = &r->st.path[c->path];
    lg_hist_record(&ps->hist, (now > c->start_ns ? now - c->start_ns : 0) / NS_PER_US);
    if (c->http.status >= 200 && c->http.status < 300)
        ps->ok++;
    else
        ps->non2xx++;
    r->completed++;
    c->has_req = false;
    if (!c->http.keep_alive || peer_closing) {
        conn_close(r, c);
        start_next(r, now);
        return;
    }
    lg_http_init(&c->http);
    idle_push(r, c);
    start_next(r, now);
}

/* Closed loop: a free connection (idle, or a new one) takes the next request at once. The
 * open loop's sends are started by the schedule in dispatch(), not here. */
static void
start_next(struct run *r, uint64_t now)
{
    if (r->o.is_open)
        return;
    while (r->assigned < r->planned && r->st.open_now - r->n_idle < r->o.conns) {
        struct conn *c = r->n_idle > 0 ? &r->conns[r->idle[r->n_idle - 1]] : conn_open(r, now);
        if (c == NULL) {
            /* No socket: that request fails rather than spinning on it. */
            r->st.path[lg_mix_pick(&r->mix, lg_rand_next(&r->rng))].errors++;
            r->assigned++;
            r->completed++;
            continue;
        }
        assign(r, c, now);
    }
}

static void
on_readable(struct run *r, struct conn *c, uint32_t ev, uint64_t now)
{
    bool closing = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    for (;;) {
        ssize_t n = recv(c->fd, r->buf, sizeof(r->buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0) {
            fail_req(r, c, &r->st.read_errors);
            return;
        }
        if (n > 0 && !c->has_req) {
            fail_req(r, c, &r->st.read_errors); /* bytes nobody asked for */
            return;
        }
        if (n == 0) {
            if (!c->has_req) { /* the server closed an idle connection: not an error */
                conn_close(r, c);
                return;
            }
            lg_http_eof(&c->http);
        } else {
            c->deadline_ns = now + r->o.timeout_ms * NS_PER_MS;
            size_t used = lg_http_feed(&c->http, r->buf, (size_t)n);
            if (c->http.state == LG_HTTP_DONE && used < (size_t)n) {
                fail_req(r, c, &r->st.read_errors); /* bytes after the answer */
                return;
            }
        }
        if (c->http.state == LG_HTTP_ERROR) {
            fail_req(r, c, &r->st.read_errors);
            return;
        }
        if (c->http.state == LG_HTTP_DONE) {
            finish_req(r, c, now, closing || n == 0);
            return;
        }
        /* Edge-triggered: a short read drained the socket, unless the edge also said the
         * peer is closing, whose EOF must still be read. */
        if (n == 0 || ((size_t)n < sizeof(r->buf) && !closing))
            return;
    }
}

static void
on_event(struct run *r, struct conn *c, uint32_t ev, uint64_t now)
{
    if (c->state == CONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
            fail_req(r, c, &r->st.connect_errors);
            return;
        }
        if (!(ev & EPOLLOUT))
            return;
        if (c->has_req) {
            c->state = CONN_BUSY;
            write_req(r, c, now);
        } else {
            idle_push(r, c);
        }
        return;
    }
    if (c->state == CONN_BUSY && (ev & EPOLLOUT) && c->sent < r->mix.entry[c->path].request_len)
        write_req(r, c, now);
    if (c->state != CONN_CLOSED && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        on_readable(r, c, ev, now);
}

/* An event from this wait's batch: dropped when its connection was closed (and its slot
 * maybe reopened) by an earlier event of the same batch. */
static void
deliver(struct run *r, const struct epoll_event *ev, uint64_t now)
{
    size_t i = (size_t)(ev->data.u64 & UINT32_MAX);
    struct conn *c = &r->conns[i];
    if (c->state != CONN_CLOSED && c->gen == (uint32_t)(ev->data.u64 >> 32))
        on_event(r, c, ev->events, now);
}

/* Open loop: every request due by now goes to an idle connection or a new one; when the
 * bound leaves none, the rest wait, and write_req counts them late when they go. */
static void
dispatch(struct run *r, uint64_t now)
{
    if (now < r->t0_ns)
        return;
    uint64_t due = (now - r->t0_ns) / r->interval_ns + 1;
    if (due > r->planned)
        due = r->planned;
    while (r->assigned < due) {
        struct conn *c = r->n_idle > 0 ? &r->conns[r->idle[r->n_idle - 1]] : conn_open(r, now);
        if (c == NULL)
            break;
        assign(r, c, now);
    }
}

static void
scan_deadlines(struct run *r, uint64_t now)
{
    for (size_t i = 0; i < r->n_conns; i++) {
        struct conn *c = &r->conns[i];
        bool waiting = c->state == CONN_CONNECTING || c->state == CONN_BUSY;
        if (waiting && now > c->deadline_ns) {
            fail_req(r, c, &r->st.timeouts);
        }
    }
}

/* The wait until the next due send (open loop), the next deadline scan, or the end. */
static struct timespec
wait_time(const struct run *r, uint64_t now, uint64_t next_scan, uint64_t end)
{
    uint64_t until = next_scan < end ? next_scan : end;
    if (r->o.is_open && r->assigned < r->planned && r->n_idle + (r->n_conns - r->st.open_now)) {
        uint64_t next_due = r->t0_ns + r->assigned * r->interval_ns;
        if (next_due < until)
            until = next_due;
    }
    uint64_t d = until > now ? until - now : 0;
    return (struct timespec){.tv_sec = (time_t)(d / NS_PER_S), .tv_nsec = (long)(d % NS_PER_S)};
}

/* Opens the open loop's first connections and waits (at most -t ms) for them. */
static void
warm_pool(struct run *r)
{
    uint64_t start = now_ns();
    for (size_t i = 0; i < r->o.conns; i++)
        (void)conn_open(r, start);
    struct epoll_event ev[EVENTS_PER_WAIT];
    while (r->n_idle < r->st.open_now && now_ns() - start < r->o.timeout_ms * NS_PER_MS) {
        int n = epoll_wait(r->epfd, ev, EVENTS_PER_WAIT, 10);
        for (int i = 0; i < n; i++)
            deliver(r, &ev[i], now_ns());
    }
}

/* The loop; returns 3 when the time limit cut it short, else 0. */
static int
run_loop(struct run *r)
{
    struct epoll_event ev[EVENTS_PER_WAIT];
    uint64_t now = now_ns();
    uint64_t end = now + r->o.limit_s * NS_PER_S, next_scan = now + SCAN_NS;
    r->t0_ns = now;
    if (r->o.is_open)
        dispatch(r, now);
    else
        start_next(r, now);
    while (r->completed < r->planned) {
        struct timespec ts = wait_time(r, now, next_scan, end);
        int n = epoll_pwait2(r->epfd, ev, EVENTS_PER_WAIT, &ts, NULL);
        if (n < 0 && errno != EINTR) {
            perror("loadgen: epoll_pwait2");
            return 3;
        }
        now = now_ns();
        for (int i = 0; i < n; i++)
            deliver(r, &ev[i], now);
        if (r->o.is_open)
            dispatch(r, now);
        else
            start_next(r, now); /* refills after failures; a success refills at once */
        if (now >= next_scan) {
            scan_deadlines(r, now);
            next_scan = now + SCAN_NS;
        }
        if (now >= end)
            break;
    }
    r->st.wall_ns = now_ns() - r->t0_ns;
    if (r->completed < r->planned) {
        r->st.unfinished = r->planned - r->completed;
        return 3;
    }
    return 0;
}

/* Raises the descriptor limit to what the bound needs, or lowers the bound to fit. */
static size_t
fit_fd_limit(size_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    rlim_t need = (rlim_t)want + 32;
    if (rl.rlim_cur < need) {
        rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur < need ? (size_t)(rl.rlim_cur > 64 ? rl.rlim_cur - 32 : 32) : want;
}

static int
setup(struct run *r)
{
    size_t bound = r->o.is_open ? r->o.max_conns : r->o.conns;
    size_t fit = fit_fd_limit(bound);
    if (fit < bound) {
        fprintf(stderr, "loadgen: descriptor limit allows %zu connections, not %zu\n", fit, bound);
        if (!r->o.is_open)
            return -1;
        bound = fit;
    }
    if (r->o.conns > bound)
        r->o.conns = bound;
    r->n_conns = bound;
    r->conns = calloc(bound, sizeof(*r->conns));
    r->idle = calloc(bound, sizeof(*r->idle));
    r->st.path = calloc(r->mix.n, sizeof(*r->st.path));
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->conns == NULL || r->idle == NULL || r->st.path == NULL || r->epfd < 0) {
        fprintf(stderr, "loadgen: out of memory or descriptors\n");
        return -1;
    }
    for (size_t i = 0; i < bound; i++)
        r->conns[i].fd = -1;
    r->st.n_paths = r->mix.n;
    lg_hist_init(&r->st.lag);
    for (size_t i = 0; i < r->mix.n; i++)
        lg_hist_init(&r->st.path[i].hist);
    r->rng = r->o.seed;
    r->planned = r->o.is_open ? (uint64_t)(r->o.rate * (double)r->o.seconds) : r->o.count;
    if (r->planned == 0) {
        fprintf(stderr, "loadgen: -R %g for -d %u s makes no request\n", r->o.rate, r->o.seconds);
        return -1;
    }
    r->interval_ns = r->o.is_open ? (uint64_t)((double)NS_PER_S / r->o.rate) : 0;
    if (r->interval_ns == 0)
        r->interval_ns = 1;
    /* Wake-ups on time: the default 50 us of timer slack would add to every due send. */
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    return 0;
}

static void
teardown(struct run *r)
{
    for (size_t i = 0; i < r->n_conns; i++)
        conn_close(r, &r->conns[i]);
    if (r->epfd >= 0)
        close(r->epfd);
    free(r->conns);
    free(r->idle);
    free(r->st.path);
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--self-test") == 0)
        return lg_selftest() == 0 ? 0 : 1;
    static struct run r; /* large (the mix's prebuilt requests): not on the stack */
    r.epfd = -1;
    if (lg_opts_parse(&r.o, &r.mix, argc, argv) != 0)
        return 2;
    if (r.o.max_conns > MAX_CONNS || r.o.conns > MAX_CONNS) {
        fprintf(stderr, "loadgen: at most %d connections\n", MAX_CONNS);
        return 2;
    }
    lg_mix_build(&r.mix, r.o.port);
    if (setup(&r) != 0) {
        teardown(&r);
        return 2;
    }
    if (r.o.is_open)
        warm_pool(&r);
    int rc = run_loop(&r);
    lg_report(&r.o, &r.mix, &r.st);
    if (rc == 0 && !lg_stats_clean(&r.st))
        rc = 1;
    teardown(&r);
    return rc;
}
