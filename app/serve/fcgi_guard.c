/* SPDX-License-Identifier: BSD-2-Clause */
/* fcgi_guard: the record-stream state machine of fcgi_guard.h. Every step either advances
 * or fails the stream with a fixed reason (a string literal: nothing from the peer is kept).
 * Lengths are summed in 64 bits, so no declared length can overflow here. */
#include <string.h>

#include "app/serve/fcgi_guard.h"

/* The record types of the FastCGI 1.0 specification. */
enum {
    T_BEGIN_REQUEST = 1,
    T_ABORT_REQUEST = 2,
    T_PARAMS = 4,
    T_STDIN = 5,
    T_GET_VALUES = 9,
};
#define RESPONDER 1
#define KEEP_CONN 1
#define BEGIN_BODY_LEN 8

static int
fail(struct mr_fcgi_guard *g, const char *reason)
{
    if (g->reason == NULL)
        g->reason = reason;
    return -1;
}

static void
pair_reset(struct mr_fcgi_guard *g)
{
    g->pair_step = MR_PAIR_NAME_LEN;
    g->len_have = g->len_want = 0;
    g->name_have = 0;
}

void
mr_fcgi_guard_reset(struct mr_fcgi_guard *g, int max_params, int max_params_bytes)
{
    memset(g, 0, sizeof(*g));
    uint64_t pairs = max_params > 0 ? 4 * (uint64_t)max_params : 0;
    uint64_t bytes = max_params_bytes > 0 ? 4 * (uint64_t)max_params_bytes : 0;
    g->max_pairs = (uint32_t)(pairs > MR_FCGI_GUARD_MIN_PAIRS ? pairs : MR_FCGI_GUARD_MIN_PAIRS);
    g->max_bytes = bytes > MR_FCGI_GUARD_MIN_BYTES ? bytes : MR_FCGI_GUARD_MIN_BYTES;
    g->phase = MR_FCGI_EXPECT_BEGIN;
    pair_reset(g);
}

bool
mr_fcgi_guard_pipelined(const struct mr_fcgi_guard *g)
{
    return g->pipelined;
}

bool
mr_fcgi_guard_at_boundary(const struct mr_fcgi_guard *g)
{
    return g->reason == NULL && g->phase == MR_FCGI_EXPECT_BEGIN && !g->in_content &&
           g->header_len == 0;
}

static bool
pair_complete(const struct mr_fcgi_guard *g)
{
    return g->pair_step == MR_PAIR_NAME_LEN && g->len_have == 0;
}

/* A record header is complete: is this record allowed here? */
static int
start_record(struct mr_fcgi_guard *g)
{
    const uint8_t *h = g->header;
    if (h[0] != 1)
        return fail(g, "FastCGI version is not 1");
    uint16_t id = (uint16_t)(h[2] << 8 | h[3]);
    g->type = h[1];
    g->content_left = (uint32_t)(h[4] << 8 | h[5]);
    g->padding_left = h[6];
    /* libfcgi 2.4.2 reads the next header right after the content of these records, padding
     * or not: with padding it and the guard would read two different streams. */
    if (g->padding_left != 0 &&
        (id == 0 || g->type == T_BEGIN_REQUEST || g->type == T_ABORT_REQUEST))
        return fail(g, "padding on a BEGIN_REQUEST, ABORT_REQUEST or management record");
    if (id == 0) {
        if (g->type != T_GET_VALUES)
            return fail(g, "management record other than GET_VALUES");
        /* It borrows the pair reader: only between two PARAMS pairs. */
        if (!pair_complete(g))
            return fail(g, "management record inside a name-value pair");
        g->values_asked = 0;
        pair_reset(g);
        return 0;
    }
    switch (g->type) {
    case T_BEGIN_REQUEST:
        if (g->phase != MR_FCGI_EXPECT_BEGIN)
            return fail(g, "BEGIN_REQUEST inside a request");
        if (g->content_left != BEGIN_BODY_LEN)
            return fail(g, "BEGIN_REQUEST body is not 8 bytes");
        g->request_id = id;
        g->begin_len = 0;
        return 0;
    case T_ABORT_REQUEST:
    case T_PARAMS:
    case T_STDIN:
        if (g->phase == MR_FCGI_EXPECT_BEGIN)
            return fail(g, "record before BEGIN_REQUEST");
        if (id != g->request_id)
            return fail(g, "record of another request id");
        break;
    case T_GET_VALUES:
        return fail(g, "GET_VALUES with a request id");
    default:
        return fail(g, "record type a web server does not send");
    }
    if (g->type == T_ABORT_REQUEST) {
        if (g->content_left != 0)
            return fail(g, "ABORT_REQUEST with content");
        g->phase = MR_FCGI_EXPECT_BEGIN;
        return 0;
    }
    if (g->type == T_PARAMS) {
        if (g->phase != MR_FCGI_IN_PARAMS)
            return fail(g, "PARAMS after the end of PARAMS");
        if (g->content_left == 0) {
            if (!pair_complete(g))
                return fail(g, "PARAMS ended inside a name-value pair");
            g->phase = MR_FCGI_IN_STDIN;
            return 0;
        }
        g->params_bytes += g->content_left;
        if (g->params_bytes > g->max_bytes)
            return fail(g, "PARAMS larger than the guard's ceiling");
        return 0;
    }
    /* T_STDIN */
    if (g->phase != MR_FCGI_IN_STDIN)
        return fail(g, "STDIN before the end of PARAMS");
    if (g->content_left == 0)
        g->phase = MR_FCGI_EXPECT_BEGIN;
    return 0;
}

/* Both lengths of a pair are known: may libfcgi allocate for it? */
static int
pair_lengths(struct mr_fcgi_guard *g, bool is_mgmt)
{
    if (is_mgmt) {
        if (g->name_len == 0 || g->name_len >= sizeof(g->name))
            return fail(g, "GET_VALUES name of a length no variable has");
        if (g->value_len != 0)
            return fail(g, "GET_VALUES with a value");
    } else {
        if (++g->pairs > g->max_pairs)
            return fail(g, "more PARAMS pairs than the guard's ceiling");
        if ((uint64_t)g->name_len + g->value_len > g->max_bytes)
            return fail(g, "PARAMS pair larger than the guard's ceiling");
    }
    g->name_left = g->name_len;
    g->value_left = g->value_len;
    g->pair_step = MR_PAIR_NAME;
    return 0;
}

/* A GET_VALUES name is complete: each of the three variables at most once (libfcgi's reply
 * buffer holds the three, not more); other names are ignored, as the specification says. */
static int
mgmt_name(struct mr_fcgi_guard *g)
{
    static const char *const known[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
    for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (g->name_have == strlen(known[i]) && memcmp(g->name, known[i], g->name_have) == 0) {
            if (g->values_asked & (1u << i))
                return fail(g, "GET_VALUES names a variable twice");
            g->values_asked |= 1u << i;
        }
    }
    return 0;
}

/* One length byte of the pair reader: 1 byte, or 4 with the top bit set (31 bits). */
static int
length_byte(struct mr_fcgi_guard *g, uint8_t b, bool is_mgmt)
{
    if (g->len_have == 0)
        g->len_want = (b & 0x80) ? 4 : 1;
    g->len_bytes[g->len_have++] = b;
    if (g->len_have < g->len_want)
        return 0;
    uint32_t len = g->len_want == 1 ? g->len_bytes[0]
                                    : ((uint32_t)(g->len_bytes[0] & 0x7f) << 24 |
                                       (uint32_t)g->len_bytes[1] << 16 |
                                       (uint32_t)g->len_bytes[2] << 8 | g->len_bytes[3]);
    g->len_have = 0;
    if (g->pair_step == MR_PAIR_NAME_LEN) {
        g->name_len = len;
        g->pair_step = MR_PAIR_VALUE_LEN;
        return 0;
    }
    g->value_len = len;
    return pair_lengths(g, is_mgmt);
}

/* Moves past a name or value that is complete (or empty): a pair ends as soon as its last
 * byte is read, so that a record may end right after it. */
static int
settle_pair(struct mr_fcgi_guard *g, bool is_mgmt)
{
    if (g->pair_step == MR_PAIR_NAME && g->name_left == 0) {
        if (is_mgmt && mgmt_name(g) != 0)
            return -1;
        g->pair_step = MR_PAIR_VALUE;
    }
    if (g->pair_step == MR_PAIR_VALUE && g->value_left == 0)
        pair_reset(g);
    return 0;
}

/* Follows n bytes of PARAMS or GET_VALUES content. */
static int
pair_bytes(struct mr_fcgi_guard *g, const uint8_t *p, size_t n, bool is_mgmt)
{
    size_t used = 0;
    while (used < n) {
        if (g->pair_step == MR_PAIR_NAME_LEN || g->pair_step == MR_PAIR_VALUE_LEN) {
            if (length_byte(g, p[used++], is_mgmt) != 0)
                return -1;
        } else {
            uint32_t *left = g->pair_step == MR_PAIR_NAME ? &g->name_left : &g->value_left;
            size_t k = n - used < *left ? n - used : *left;
            if (is_mgmt && g->pair_step == MR_PAIR_NAME) {
                memcpy(g->name + g->name_have, p + used, k); /* name_len < sizeof(name) */
                g->name_have = (uint8_t)(g->name_have + k);
            }
            used += k;
            *left -= (uint32_t)k;
        }
        if (settle_pair(g, is_mgmt) != 0)
            return -1;
    }
    return 0;
}

/* The record's content is complete. */
static int
end_content(struct mr_fcgi_guard *g)
{
    if (g->type == T_BEGIN_REQUEST && g->phase == MR_FCGI_EXPECT_BEGIN) {
        const uint8_t *b = g->begin_body;
        if ((b[0] << 8 | b[1]) != RESPONDER)
            return fail(g, "role other than RESPONDER");
        if ((b[2] & ~KEEP_CONN) != 0)
            return fail(g, "BEGIN_REQUEST flags other than FCGI_KEEP_CONN");
        g->phase = MR_FCGI_IN_PARAMS;
        g->pairs = 0;
        g->params_bytes = 0;
        pair_reset(g);
        return 0;
    }
    if (g->type == T_GET_VALUES && g->header[2] == 0 && g->header[3] == 0) {
        if (!pair_complete(g))
            return fail(g, "GET_VALUES ended inside a name-value pair");
    }
    return 0;
}

/* Follows n bytes of the current record's content. */
static int
content(struct mr_fcgi_guard *g, const uint8_t *p, size_t n)
{
    bool is_mgmt = g->header[2] == 0 && g->header[3] == 0;
    if (is_mgmt)
        return pair_bytes(g, p, n, true);
    switch (g->type) {
    case T_BEGIN_REQUEST:
        memcpy(g->begin_body + g->begin_len, p, n); /* content_left <= 8 */
        g->begin_len = (uint8_t)(g->begin_len + n);
        return 0;
    case T_PARAMS:
        return pair_bytes(g, p, n, false);
    default:
        return 0; /* STDIN: the body, not ours to read */
    }
}

/* The one walk of feed and filter. out, when not NULL, receives the bytes kept (it may be p
 * itself: it never runs ahead of p); *kept counts them. */
static int
walk(struct mr_fcgi_guard *g, const unsigned char *p, size_t n, unsigned char *out, size_t *kept)
{
    *kept = 0;
    if (g->reason != NULL)
        return -1;
    while (n > 0) {
        size_t k;
        bool drop = false;
        if (!g->in_content) {
            k = sizeof(g->header) - g->header_len;
            k = k < n ? k : n;
            memcpy(g->header + g->header_len, p, k);
            g->header_len = (uint8_t)(g->header_len + k);
        } else if (g->content_left > 0) {
            k = n < g->content_left ? n : g->content_left;
            if (content(g, p, k) != 0)
                return -1;
        } else {
            k = n < g->padding_left ? n : g->padding_left;
            /* libfcgi does not skip the padding of the empty PARAMS record that ends the
             * stream (it reads the STDIN header inside it): the filter leaves it out. */
            drop = g->type == T_PARAMS && g->header[4] == 0 && g->header[5] == 0;
        }
        if (out != NULL && !drop)
            memmove(out + *kept, p, k);
        if (!drop)
            *kept += k;
        p += k;
        n -= k;
        if (!g->in_content) {
            if (g->header_len < sizeof(g->header))
                break;
            if (start_record(g) != 0)
                return -1;
            g->in_content = true;
            if (g->content_left == 0 && end_content(g) != 0)
                return -1;
        } else if (g->content_left > 0) {
            g->content_left -= (uint32_t)k;
            if (g->content_left == 0 && end_content(g) != 0)
                return -1;
        } else {
            g->padding_left -= (uint32_t)k;
        }
        if (g->in_content && g->content_left == 0 && g->padding_left == 0) {
            g->in_content = false;
            g->header_len = 0;
            if (g->phase == MR_FCGI_EXPECT_BEGIN && n > 0 && g->type != T_GET_VALUES)
                g->pipelined = true; /* a request ended and more bytes follow in this read */
        }
    }
    return 0;
}

int
mr_fcgi_guard_feed(struct mr_fcgi_guard *g, const unsigned char *p, size_t n)
{
    size_t kept;
    return walk(g, p, n, NULL, &kept);
}

int
mr_fcgi_guard_filter(struct mr_fcgi_guard *g, unsigned char *p, size_t *n)
{
    size_t kept;
    int rc = walk(g, p, *n, p, &kept);
    *n = kept;
    return rc;
}
