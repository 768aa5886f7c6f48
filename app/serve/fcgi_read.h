/* SPDX-License-Identifier: BSD-2-Clause */
/* fcgi_read: libfcgi reads every byte of a connection through OS_Read (fcgios.h), called
 * through its PLT; millrace defines OS_Read in the executable, so the dynamic linker binds
 * libfcgi's calls to it. It reads with libfcgi's own OS_Read and passes the bytes through the
 * record guard (fcgi_guard.h) before libfcgi parses them: a stream that breaks the protocol
 * fails the read (EPROTO), libfcgi sees an error and the connection is closed.
 *
 * One stream per connection: a worker holds several (conns.h) and hands one at a time to
 * libfcgi, so the worker names the stream libfcgi reads next (mr_fcgi_read_use). The stream
 * also bounds the read of a whole request: every read after the first (which the worker's
 * epoll already saw readable) first waits for bytes until the request's deadline, so a peer
 * that sends part of a record holds the worker for read_timeout_ms at most, however it
 * trickles. The first read costs no extra system call. */
#ifndef MR_FCGI_READ_H
#define MR_FCGI_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "app/serve/fcgi_guard.h"

struct mr_fcgi_stream {
    struct mr_fcgi_guard guard;
    int fd;
    int64_t deadline_ms; /* monotonic: reads of the current request end here */
    bool ready;          /* the next read will not block (epoll said so) */
};

/* Looks up libfcgi's OS_Read and sets the limits; then checks, on a socketpair, that libfcgi
 * really reads through the guard. Returns 0, or -1 when it does not (a libfcgi built so that
 * its calls bypass the PLT): the worker then serves unguarded and says so in the log. */
int mr_fcgi_read_init(int max_params, int max_params_bytes);
/* A new connection on fd: its guard starts over. */
void mr_fcgi_read_start(struct mr_fcgi_stream *s, int fd);
/* libfcgi reads s's connection next, which is readable now; its reads end at deadline_ms.
 * NULL: none (a read of an unannounced fd then gets a stream of its own, unbounded). */
void mr_fcgi_read_use(struct mr_fcgi_stream *s, int64_t deadline_ms);
/* Whether the connection's client sent past a request's end before its answer: not to be
 * kept (fcgi_guard.h). */
bool mr_fcgi_read_pipelined(const struct mr_fcgi_stream *s);
/* Why the connection's stream was refused, or NULL. */
const char *mr_fcgi_read_refused(const struct mr_fcgi_stream *s);

#endif
