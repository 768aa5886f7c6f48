/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_http: loadgen's incremental HTTP/1.1 response parser. It is fed the bytes of one
 * connection as they arrive, in pieces of any size, and says when one response has ended,
 * with its status and whether the connection may be reused. Bodies are counted, not kept:
 * Content-Length, chunked, or (without either) up to the end of the connection. Interim 1xx
 * responses are skipped. All state is in the struct (the caller owns it; no allocation). */
#ifndef LG_HTTP_H
#define LG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The status line and headers of one response must fit; a chunk-size line must fit too. */
#define LG_HTTP_HEAD_MAX 8192

enum lg_http_state {
    LG_HTTP_HEAD,       /* reading the status line and headers */
    LG_HTTP_BODY,       /* Content-Length bytes remain */
    LG_HTTP_UNTIL_EOF,  /* the body ends when the connection does */
    LG_HTTP_CHUNK_SIZE, /* reading a chunk-size line */
    LG_HTTP_CHUNK_DATA, /* chunk bytes remain */
    LG_HTTP_CHUNK_END,  /* the CRLF after a chunk's data */
    LG_HTTP_TRAILER,    /* trailer lines after the last chunk */
    LG_HTTP_DONE,       /* one response ended: status and keep_alive are set */
    LG_HTTP_ERROR,      /* malformed: the connection cannot be trusted further */
};

struct lg_http {
    enum lg_http_state state;
    int status;          /* of the final (non-1xx) response, once its head is parsed */
    bool keep_alive;     /* the connection may carry the next request */
    uint64_t remaining;  /* body or chunk bytes still to come */
    uint64_t body_bytes; /* body bytes seen (chunk framing excluded) */
    const char *error;   /* what was malformed, a static string */
    size_t head_len;     /* bytes held in head[] */
    char head[LG_HTTP_HEAD_MAX];
};

/* Ready for the first byte of a response. */
void lg_http_init(struct lg_http *p);
/* Consumes bytes of buf[0..n) up to the end of one response. Returns how many were consumed
 * (all of them unless the state became DONE or ERROR; bytes after DONE belong to no request
 * we sent, which the caller treats as an error). */
size_t lg_http_feed(struct lg_http *p, const char *buf, size_t n);
/* The connection ended: a body read until EOF becomes DONE (not reusable); any other
 * unfinished response becomes ERROR. */
void lg_http_eof(struct lg_http *p);

#endif
