/* SPDX-License-Identifier: BSD-2-Clause */
/* keepconn: the FastCGI connection a worker keeps between requests (nginx's
 * fastcgi_keep_conn): when to keep it, when to drop it, and the wait on it.
 *
 * A worker idle on a kept connection is pinned to it, and once every worker is pinned, new
 * connections wait in the listen queue for a worker that never frees up (the libfcgi
 * keepalive trap). So an idle kept worker polls the listening socket too: when a new
 * connection waits and no other worker is in accept(), it drops its idle kept connection and
 * takes the new one ("unpinning"). nginx retries a request that fails on a cached
 * connection, so the drop costs no request.
 *
 * The layer wraps the FCGX_Request's ipcFd and keepConnection, as nginx's upstream keepalive
 * module wraps the peer calls: the worker loop asks whether a connection is kept, waits on
 * it, and hands over new ones; libfcgi still reads and closes them. */
#ifndef MR_KEEPCONN_H
#define MR_KEEPCONN_H

#include <fcgiapp.h>
#include <signal.h>
#include <stdbool.h>

#include "app/board/scoreboard.h"

struct mr_keepconn {
    FCGX_Request *fcgx;                /* the worker's one request; its ipcFd is the connection */
    int listen_fd;                     /* watched while idle, to unpin */
    bool watch_listen;                 /* false in the status process: no pool to unpin */
    int idle_ms;                       /* read_timeout_ms: longest idle wait */
    const struct mr_sb *sb;            /* read: is another worker in accept()? */
    struct mr_sb_worker *me;           /* written: the `kept` flag */
    const volatile sig_atomic_t *stop; /* the worker's stop flag, set by its SIGQUIT handler */
};

/* What one wake-up of the idle wait means. */
enum mr_keep_verdict {
    MR_KEEP_SERVE, /* a request arrives on the kept connection: read it */
    MR_KEEP_DROP,  /* drop the kept connection and go back to accept() */
    MR_KEEP_WAIT,  /* a new connection waits but another worker is in accept(): wait on */
};

/* One return of poll() on {kept connection, listening socket}. */
struct mr_keep_wake {
    int n;                /* poll()'s result: 0 = idle for idle_ms, < 0 = failed */
    short conn_revents;   /* the kept connection's revents */
    short listen_revents; /* the listening socket's revents (0 when not watched) */
};

/* Whether mr_keepconn_decide needs to know if another worker is in accept(): only when a new
 * connection waits and the kept one is quiet. Lets the caller skip the scoreboard scan. */
bool mr_keepconn_needs_census(const struct mr_keep_wake *wake);
/* The verdict for one wake-up; other_accepting is read only when needs_census says so. Pure. */
enum mr_keep_verdict mr_keepconn_decide(const struct mr_keep_wake *wake, bool other_accepting);

/* Is a connection kept from the last request (libfcgi did not close it)? */
bool mr_keepconn_has(const struct mr_keepconn *k);
/* Hands a freshly accepted fd to libfcgi, marked kept so that FCGX_Accept_r's opening
 * FCGX_Finish_r does not close it. */
void mr_keepconn_adopt(struct mr_keepconn *k, int fd);
/* Closes the connection after this request, whatever nginx asked (its stream is unusable). */
void mr_keepconn_forbid(struct mr_keepconn *k);
/* libfcgi closed the connection (FCGX_Accept_r failed): forget its fd. */
void mr_keepconn_lost(struct mr_keepconn *k);
/* Waits, at most idle_ms per wake-up, on the kept connection (and the listening socket when
 * watched), with the `kept` flag set in the worker's slot. Returns true when a request
 * arrives on it; false when it must be dropped: idle too long, closed by nginx, a stop, or a
 * new connection no other worker is free to accept. */
bool mr_keepconn_wait(struct mr_keepconn *k);
/* Frees libfcgi's streams and closes the kept connection; the worker then accepts. */
void mr_keepconn_drop(struct mr_keepconn *k);

#endif
