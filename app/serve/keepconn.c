/* SPDX-License-Identifier: BSD-2-Clause */
/* keepconn: keeping, dropping and waiting on the worker's kept FastCGI connection (see
 * keepconn.h for why an idle kept worker watches the listening socket too). The decision is
 * a pure function of one poll() wake-up and the census answer, so it is unit-tested apart
 * from the sockets; the wait around it only polls, asks the scoreboard, and acts. */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "app/serve/keepconn.h"

bool
mr_keepconn_needs_census(const struct mr_keep_wake *wake)
{
    return wake->n > 0 && wake->conn_revents == 0 &&
           (wake->listen_revents & (POLLNVAL | POLLERR)) == 0;
}

enum mr_keep_verdict
mr_keepconn_decide(const struct mr_keep_wake *wake, bool other_accepting)
{
    if (wake->n <= 0)
        return MR_KEEP_DROP; /* idle for idle_ms, or poll failed */
    /* The kept connection first: a request on it beats unpinning. POLLHUP alone is nginx
     * closing it. */
    if (wake->conn_revents != 0)
        return (wake->conn_revents & POLLIN) != 0 ? MR_KEEP_SERVE : MR_KEEP_DROP;
    if ((wake->listen_revents & (POLLNVAL | POLLERR)) != 0)
        return MR_KEEP_DROP; /* the listening fd was closed: we are stopping */
    return other_accepting ? MR_KEEP_WAIT : MR_KEEP_DROP;
}

/* Is some other worker blocked in accept() (idle, not on a kept connection)? A hand loop over
 * the scoreboard slots, kept behind this one function so that it can become a census call
 * of app/board/scoreboard.h; it runs only when a new connection waits, never per request. */
static bool
another_accepting(const struct mr_keepconn *k)
{
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        const struct mr_sb_worker *o = &k->sb->workers[i];
        if (o == k->me || atomic_load_explicit(&o->pid, memory_order_relaxed) == 0)
            continue;
        if (atomic_load_explicit(&o->state, memory_order_relaxed) == MR_W_IDLE &&
            !atomic_load_explicit(&o->kept, memory_order_relaxed))
            return true;
    }
    return false;
}

bool
mr_keepconn_has(const struct mr_keepconn *k)
{
    return k->fcgx->ipcFd >= 0;
}

void
mr_keepconn_adopt(struct mr_keepconn *k, int fd)
{
    k->fcgx->ipcFd = fd;
    k->fcgx->keepConnection = 1;
}

void
mr_keepconn_forbid(struct mr_keepconn *k)
{
    k->fcgx->keepConnection = 0;
}

void
mr_keepconn_lost(struct mr_keepconn *k)
{
    k->fcgx->ipcFd = -1;
}

void
mr_keepconn_drop(struct mr_keepconn *k)
{
    FCGX_Free(k->fcgx, 0);
    (void)close(k->fcgx->ipcFd);
    k->fcgx->ipcFd = -1;
}

/* The wait proper: the verdict of each wake-up, until it is SERVE or DROP. */
static bool
ready(struct mr_keepconn *k)
{
    struct pollfd p[2] = {{k->fcgx->ipcFd, POLLIN, 0}, {k->listen_fd, POLLIN, 0}};
    nfds_t nfds = k->watch_listen ? 2 : 1;
    for (;;) {
        if (*k->stop)
            return false;
        int n = poll(p, nfds, k->idle_ms);
        if (n < 0 && errno == EINTR)
            continue;
        struct mr_keep_wake wake = {n, p[0].revents, nfds == 2 ? p[1].revents : 0};
        bool other = mr_keepconn_needs_census(&wake) && another_accepting(k);
        switch (mr_keepconn_decide(&wake, other)) {
        case MR_KEEP_SERVE:
            return true;
        case MR_KEEP_DROP:
            return false;
        case MR_KEEP_WAIT:
            break;
        }
        /* Someone else takes it; wait a moment on our own connection before looking again,
         * not in a spin. */
        (void)poll(p, 1, 1);
        if (p[0].revents != 0)
            return (p[0].revents & POLLIN) != 0;
    }
}

bool
mr_keepconn_wait(struct mr_keepconn *k)
{
    atomic_store_explicit(&k->me->kept, 1, memory_order_relaxed);
    bool ok = ready(k);
    atomic_store_explicit(&k->me->kept, 0, memory_order_relaxed);
    return ok;
}
