/* SPDX-License-Identifier: BSD-2-Clause */
/* fcgi_guard: checks the FastCGI record stream of a connection before libfcgi parses it.
 *
 * Debian 12's libfcgi 2.4.2 aborts on some hostile records (a PARAMS pair whose lengths sum
 * past INT_MAX, a GET_VALUES whose reply overflows a stack buffer). The guard sees every byte
 * libfcgi reads, in the order it reads them (fcgi_read.c), and follows the stream as a state
 * machine: record headers, the BEGIN_REQUEST body, PARAMS name-value lengths, GET_VALUES
 * names. Content it has no reason to look at (STDIN, padding) is only counted. It keeps no
 * copy of anything, so a body costs a few comparisons per record.
 *
 * What it accepts is what a web server sends: version 1; a BEGIN_REQUEST (8 bytes, role
 * RESPONDER, no flag but FCGI_KEEP_CONN, a request id other than 0) before anything of a
 * request; then PARAMS and STDIN records of that id, each stream ended by an empty record;
 * ABORT_REQUEST of that id; GET_VALUES (id 0) naming each of FCGI_MAX_CONNS, FCGI_MAX_REQS
 * and FCGI_MPXS_CONNS at most once, with empty values; padding only on PARAMS and STDIN
 * records (libfcgi does not skip it on the others). PARAMS are bounded by hard ceilings
 * above the configured limits, so that a request a little over max_params or
 * max_params_bytes is still read and answered 431 by the request layer, while one that no
 * web server would send is refused before libfcgi allocates for it. Anything else fails the
 * stream for good: the caller closes the connection. Pure: no I/O. */
#ifndef MR_FCGI_GUARD_H
#define MR_FCGI_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The ceilings, from the configured limits: max(4 x limit, floor). */
#define MR_FCGI_GUARD_MIN_PAIRS 4096
#define MR_FCGI_GUARD_MIN_BYTES (1 << 20)

enum mr_fcgi_guard_phase {
    MR_FCGI_EXPECT_BEGIN, /* between requests */
    MR_FCGI_IN_PARAMS,    /* after BEGIN_REQUEST, until the empty PARAMS */
    MR_FCGI_IN_STDIN,     /* after the empty PARAMS, until the empty STDIN */
};

/* The name-value pair reader, shared by PARAMS and GET_VALUES content. */
enum mr_fcgi_pair_step { MR_PAIR_NAME_LEN, MR_PAIR_VALUE_LEN, MR_PAIR_NAME, MR_PAIR_VALUE };

struct mr_fcgi_guard {
    uint32_t max_pairs; /* ceilings */
    uint64_t max_bytes;

    enum mr_fcgi_guard_phase phase;
    uint16_t request_id; /* of the request in progress */

    uint8_t header[8]; /* the record header being read */
    uint8_t header_len;
    uint8_t type;    /* of the record whose content is being read */
    bool in_content; /* header complete: content_left and padding_left count down */
    uint32_t content_left;
    uint32_t padding_left;

    uint8_t begin_body[8];
    uint8_t begin_len;

    /* the pair reader */
    enum mr_fcgi_pair_step pair_step;
    uint8_t len_bytes[4];
    uint8_t len_have, len_want;
    uint32_t name_len, value_len;
    uint32_t name_left, value_left;
    char name[16]; /* GET_VALUES: the name read so far */
    uint8_t name_have;
    uint32_t pairs;        /* in this request's PARAMS */
    uint64_t params_bytes; /* PARAMS content bytes of this request */
    unsigned values_asked; /* GET_VALUES names seen in this record, a bit each */

    bool pipelined;     /* bytes followed a request's end in the same read (see feed) */
    const char *reason; /* why the stream failed, or NULL */
};

/* Starts a new connection's stream with the configured limits. */
void mr_fcgi_guard_reset(struct mr_fcgi_guard *g, int max_params, int max_params_bytes);
/* Follows n more bytes of the stream. Returns 0 while the stream is well-formed so far
 * (a record may be incomplete), -1 once it is not, with g->reason set; it then stays -1. */
int mr_fcgi_guard_feed(struct mr_fcgi_guard *g, const unsigned char *p, size_t n);
/* feed, for the bytes libfcgi is about to parse: also leaves out of p (and of *n) the
 * padding of an empty PARAMS record, which libfcgi 2.4.2 would not skip (it would read the
 * STDIN header inside it). The stream libfcgi then sees says the same thing. */
int mr_fcgi_guard_filter(struct mr_fcgi_guard *g, unsigned char *p, size_t *n);
/* Whether bytes came after a request's last record in the same read: a client sending its
 * next request before the answer (nginx never does). libfcgi drops what its buffer holds
 * past a request's end, so the guard and libfcgi would no longer read the same stream: the
 * caller must not keep such a connection. Cleared by reset only. */
bool mr_fcgi_guard_pipelined(const struct mr_fcgi_guard *g);
/* Between requests, with no record begun: where a kept connection may stop. */
bool mr_fcgi_guard_at_boundary(const struct mr_fcgi_guard *g);

#endif
