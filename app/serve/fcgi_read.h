/* SPDX-License-Identifier: BSD-2-Clause */
/* fcgi_read: libfcgi reads every byte of a connection through OS_Read (fcgios.h), called
 * through its PLT; millrace defines OS_Read in the executable, so the dynamic linker binds
 * libfcgi's calls to it. It reads with libfcgi's own OS_Read and passes the bytes through the
 * record guard (fcgi_guard.h) before libfcgi parses them: a stream that breaks the protocol
 * fails the read (EPROTO), libfcgi sees an error and the connection is closed.
 *
 * One stream per connection: a worker holds several (conns.h) and hands one at a time to
 * libfcgi, so the worker names the stream libfcgi reads next (mr_fcgi_read_use).
 *
 * Read-ahead: a worker must not block on one connection while others wait, so it first reads
 * what a readable connection has, without blocking, into that connection's read-ahead buffer
 * (through the guard, as libfcgi would), and hands it to libfcgi only once a whole request is
 * there (or the buffer is full); libfcgi's reads then take the buffered bytes first, with no
 * system call. A peer that sends part of a record is never handed over: it waits in its slot
 * and is closed read_timeout_ms after its first byte. What libfcgi reads past the buffer (a
 * request larger than it) first waits for bytes until the request's deadline, so however the
 * peer trickles, a request costs its worker read_timeout_ms at most. Per request this is the
 * one read libfcgi would have made, and a copy of the request's bytes. */
#ifndef MR_FCGI_READ_H
#define MR_FCGI_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "app/serve/fcgi_guard.h"

/* Bytes of read-ahead per connection: a request nginx sends without a body fits. */
#define MR_FCGI_AHEAD_BYTES 16384

struct mr_fcgi_stream {
    struct mr_fcgi_guard guard;
    int fd;
    int64_t deadline_ms;  /* monotonic: reads of the current request end here */
    unsigned char *ahead; /* MR_FCGI_AHEAD_BYTES of read-ahead (the caller's), or NULL */
    uint32_t ahead_len;   /* bytes in it, already through the guard */
    uint32_t ahead_off;   /* of which libfcgi has read this many */
};

/* Looks up libfcgi's OS_Read and sets the limits; then checks, on a socketpair, that libfcgi
 * really reads through the guard. Returns 0, or -1 when it does not (a libfcgi built so that
 * its calls bypass the PLT): the worker then serves unguarded and says so in the log. */
int mr_fcgi_read_init(int max_params, int max_params_bytes);
/* A new connection on fd: its guard starts over. */
void mr_fcgi_read_start(struct mr_fcgi_stream *s, int fd);
/* The connection is readable: reads what it has into the read-ahead, without blocking.
 * Returns 1 when a whole request is there (or the read-ahead is full): hand it to libfcgi;
 * 0 when part of one is (wait for more); -1 when the peer closed or broke the protocol
 * (mr_fcgi_read_refused says which): close it. */
int mr_fcgi_read_ahead(struct mr_fcgi_stream *s);
/* Whether the read-ahead holds bytes of a request not yet handed to libfcgi. */
bool mr_fcgi_read_pending(const struct mr_fcgi_stream *s);
/* libfcgi reads s's connection next; its reads end at deadline_ms. NULL: none (a read of an
 * unannounced fd then gets a stream of its own, unbounded). */
void mr_fcgi_read_use(struct mr_fcgi_stream *s, int64_t deadline_ms);
/* Whether the connection's client sent past a request's end before its answer: not to be
 * kept (fcgi_guard.h). */
bool mr_fcgi_read_pipelined(const struct mr_fcgi_stream *s);
/* Why the connection's stream was refused, or NULL. */
const char *mr_fcgi_read_refused(const struct mr_fcgi_stream *s);

#endif
