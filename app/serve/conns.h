/* SPDX-License-Identifier: BSD-2-Clause */
/* conns: the FastCGI connections one worker holds (nginx's fastcgi_keep_conn).
 *
 * libfcgi serves one connection per FCGX_Request, and a worker that waited on one kept
 * connection was pinned to it: once nginx kept as many connections as there were workers,
 * new ones waited in the listen queue (the libfcgi keep-alive trap). So a worker holds up to
 * max_conns_per_worker connections, each with its own FCGX_Request and record guard, waits on
 * all of them and on the listening socket at once (worker.c), and serves whichever is
 * readable. No idle connection pins a worker, and none has to be dropped to free one.
 *
 * Two lists, oldest first, give every bound in O(1):
 *   FRESH: accepted, nothing read yet. nginx writes its request as soon as it connects, and
 *          never retries a request on a fresh connection that fails: so a FRESH connection is
 *          never closed unread while it may still be nginx's. Silent for read_timeout_ms, it
 *          is closed; silent for MR_CONN_SILENT_MS, it is the first one given up when the
 *          worker is full and another connection waits (it is not nginx's).
 *   PARTIAL: part of a request read (into its read-ahead, fcgi_read.h), the rest awaited;
 *          closed read_timeout_ms after its first byte; never given up for a newcomer.
 *   KEPT:  served at least one request, idle since its last answer; closed after
 *          conn_idle_timeout_ms (set above nginx's keepalive_timeout, so that nginx closes
 *          first), and given up, least recently used first, when the worker is full and no
 *          silent FRESH one is left. nginx retries a request it wrote to a kept connection
 *          that was closed unread (README, "nginx keepalive").
 * The table is allocated once at worker start: nothing here allocates per request. Pure: no
 * I/O, so it is unit-tested apart from the sockets. */
#ifndef MR_CONNS_H
#define MR_CONNS_H

#include <fcgiapp.h>
#include <stdbool.h>
#include <stdint.h>

#include "app/serve/fcgi_read.h"

/* A fresh connection silent this long is not nginx's, which writes as it connects. */
#define MR_CONN_SILENT_MS 100

enum mr_conn_list { MR_CONN_FREE, MR_CONN_FRESH, MR_CONN_PARTIAL, MR_CONN_KEPT, MR_CONN_NLISTS };

struct mr_conn {
    FCGX_Request fcgx; /* its ipcFd is the connection */
    struct mr_fcgi_stream stream;
    int64_t since_ms; /* accepted, its first byte (PARTIAL), or its last request answered */
    uint32_t served;  /* requests answered on it */
    int prev, next;   /* in its list; -1 ends */
    enum mr_conn_list list;
};

struct mr_conns {
    struct mr_conn *slot;
    unsigned char *ahead; /* max x MR_FCGI_AHEAD_BYTES: each stream's read-ahead */
    int max;              /* max_conns_per_worker */
    int n;                /* held: FRESH + KEPT */
    int head[MR_CONN_NLISTS], tail[MR_CONN_NLISTS];
};

/* Allocates room for max connections and their read-ahead (aborts on OOM, at start only;
 * the read-ahead's pages are touched only as connections use them). */
void mr_conns_init(struct mr_conns *t, int max);
void mr_conns_fini(struct mr_conns *t);
/* Whether another connection fits. */
bool mr_conns_has_room(const struct mr_conns *t);
/* Takes fd as a new FRESH connection at now. Returns its index, or -1 when full. The
 * caller then sets up its FCGX_Request and stream. */
int mr_conns_add(struct mr_conns *t, int fd, int64_t now_ms);
/* Part of a request arrived on connection i at now: it waits in PARTIAL from now, unless
 * it already did (its bound counts from the first byte). */
void mr_conns_partial(struct mr_conns *t, int i, int64_t now_ms);
/* Connection i answered a request at now: it becomes the newest KEPT one. */
void mr_conns_answered(struct mr_conns *t, int i, int64_t now_ms);
/* Forgets connection i (the caller has closed it or libfcgi did). */
void mr_conns_remove(struct mr_conns *t, int i);
/* The oldest connection of a list, or -1. */
int mr_conns_oldest(const struct mr_conns *t, enum mr_conn_list list);
/* The one to give up for a newcomer when full: the oldest FRESH if silent for
 * MR_CONN_SILENT_MS at now, else the least recently used KEPT; -1 when none may go (every
 * one is a fresh connection that may still carry nginx's request). */
int mr_conns_victim(const struct mr_conns *t, int64_t now_ms);
/* The connection past its bound at now (FRESH and PARTIAL: fresh_ms, KEPT: idle_ms), or
 * -1. */
int mr_conns_expired(const struct mr_conns *t, int64_t now_ms, int fresh_ms, int idle_ms);
/* Milliseconds from now until the next bound passes (0 if one has), -1 when none is held. */
int mr_conns_next_expiry_ms(const struct mr_conns *t, int64_t now_ms, int fresh_ms, int idle_ms);

#endif
