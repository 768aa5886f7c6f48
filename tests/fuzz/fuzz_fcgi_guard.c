/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_fcgi_guard: the FastCGI record-stream check on arbitrary bytes.
 * Input: two bytes seeding the chunk sizes, then the stream. Invariants: the verdict does not
 * depend on how the stream is split into reads (whole, and in the seeded chunks, give the
 * same verdict and reason, and the same boundary state); it equals the verdict of a reference
 * written here from the FastCGI 1.0 specification in another shape (whole records from a
 * buffer, PARAMS gathered and parsed as one string); and once refused, a stream stays
 * refused. */
#include <stdlib.h>
#include <string.h>

#include "app/serve/fcgi_guard.h"
#include "tests/fuzz/ref.h"

#define MAX_PARAMS 8
#define MAX_PARAMS_BYTES 1024

/* A name-value length at s (n bytes available): 1 when complete (*len, *used set), 0 when cut
 * short. */
static int
ref_len(const unsigned char *s, size_t n, uint64_t *len, size_t *used)
{
    if (n == 0)
        return 0;
    if (!(s[0] & 0x80)) {
        *len = s[0];
        *used = 1;
        return 1;
    }
    if (n < 4)
        return 0;
    *len = ((uint64_t)(s[0] & 0x7f) << 24) | ((uint64_t)s[1] << 16) | ((uint64_t)s[2] << 8) | s[3];
    *used = 4;
    return 1;
}

struct ref_pairs {
    uint64_t pairs;
    bool at_boundary; /* the bytes end between two pairs */
};

/* Parses the pairs in s[0..n); -1 when one breaks a rule. mgmt: GET_VALUES rules. */
static int
ref_pairs(const unsigned char *s, size_t n, bool mgmt, uint64_t max_pairs, uint64_t max_bytes,
          struct ref_pairs *out)
{
    size_t i = 0;
    unsigned seen = 0;
    out->pairs = 0;
    out->at_boundary = true;
    while (i < n) {
        uint64_t nl, vl;
        size_t u1, u2;
        out->at_boundary = false;
        if (!ref_len(s + i, n - i, &nl, &u1) || !ref_len(s + i + u1, n - i - u1, &vl, &u2))
            return 0;
        if (mgmt && (nl == 0 || nl > 15 || vl != 0))
            return -1;
        if (!mgmt && (++out->pairs > max_pairs || nl + vl > max_bytes))
            return -1;
        i += u1 + u2;
        if (mgmt && n - i >= nl) {
            static const char *const known[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS",
                                                "FCGI_MPXS_CONNS"};
            for (unsigned k = 0; k < 3; k++) {
                if (nl == strlen(known[k]) && memcmp(s + i, known[k], nl) == 0) {
                    if (seen & (1u << k))
                        return -1;
                    seen |= 1u << k;
                }
            }
        }
        if (n - i < nl + vl)
            return 0;
        i += nl + vl;
        out->at_boundary = true;
    }
    return 0;
}

/* The reference verdict: -1 when the bytes present already break the stream. */
static int
ref_check(const unsigned char *s, size_t n, uint64_t max_pairs, uint64_t max_bytes)
{
    enum { BEGIN, PARAMS, STDIN } phase = BEGIN;
    unsigned id = 0;
    unsigned char *params = malloc(n + 1); /* this request's PARAMS content, concatenated */
    size_t plen = 0;
    uint64_t declared = 0;
    int verdict = 0;
    size_t i = 0;
    FUZZ_CHECK(params != NULL);
    while (i + 8 <= n && verdict == 0) {
        const unsigned char *h = s + i;
        unsigned type = h[1], rid = (unsigned)h[2] << 8 | h[3];
        size_t clen = (size_t)h[4] << 8 | h[5], pad = h[6];
        size_t have = n - i - 8 < clen ? n - i - 8 : clen;
        const unsigned char *c = h + 8;
        struct ref_pairs rp;
        if (h[0] != 1) {
            verdict = -1;
        } else if (pad != 0 && (rid == 0 || type == 1 || type == 2)) {
            verdict = -1; /* libfcgi reads on after their content: padding would desync */
        } else if (rid == 0) {
            if (type != 9)
                verdict = -1;
            else if (ref_pairs(params, plen, false, max_pairs, max_bytes, &rp) != 0 ||
                     !rp.at_boundary)
                verdict = -1;
            else if (ref_pairs(c, have, true, 0, 0, &rp) != 0)
                verdict = -1;
            else if (have == clen && !rp.at_boundary)
                verdict = -1;
        } else if (type == 1) {
            if (phase != BEGIN || clen != 8)
                verdict = -1;
            else if (have == 8 && (((unsigned)c[0] << 8 | c[1]) != 1 || (c[2] & ~1u) != 0))
                verdict = -1;
            else if (have == 8) {
                phase = PARAMS;
                id = rid;
                plen = 0;
                declared = 0;
            }
        } else if (type == 2 || type == 4 || type == 5) {
            if (phase == BEGIN || rid != id)
                verdict = -1;
            else if (type == 2)
                verdict = clen != 0 ? -1 : (phase = BEGIN, 0);
            else if (type == 4 && phase != PARAMS)
                verdict = -1;
            else if (type == 4 && clen == 0) {
                if (ref_pairs(params, plen, false, max_pairs, max_bytes, &rp) != 0 ||
                    !rp.at_boundary)
                    verdict = -1;
                phase = STDIN;
            } else if (type == 4) {
                /* The ceiling counts the declared lengths of this request's PARAMS records. */
                declared += clen;
                if (declared > max_bytes)
                    verdict = -1;
                memcpy(params + plen, c, have);
                plen += have;
                if (verdict == 0 &&
                    ref_pairs(params, plen, false, max_pairs, max_bytes, &rp) != 0)
                    verdict = -1;
            } else if (type == 5 && phase != STDIN) {
                verdict = -1;
            } else if (type == 5 && clen == 0) {
                phase = BEGIN;
            }
        } else {
            verdict = -1;
        }
        if (have < clen)
            break;
        i += 8 + clen + pad;
    }
    free(params);
    return verdict;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned seed = (unsigned)data[0] << 8 | data[1];
    const unsigned char *s = data + 2;
    size_t n = size - 2;

    struct mr_fcgi_guard whole, split;
    mr_fcgi_guard_reset(&whole, MAX_PARAMS, MAX_PARAMS_BYTES);
    mr_fcgi_guard_reset(&split, MAX_PARAMS, MAX_PARAMS_BYTES);
    int a = mr_fcgi_guard_feed(&whole, s, n);
    int b = 0;
    for (size_t i = 0; i < n;) {
        seed = seed * 1103515245u + 12345u;
        size_t k = 1 + (seed >> 16) % 17;
        k = k < n - i ? k : n - i;
        b = mr_fcgi_guard_feed(&split, s + i, k);
        i += k;
    }
    FUZZ_CHECK(a == b);
    FUZZ_CHECK((whole.reason == NULL) == (split.reason == NULL));
    FUZZ_CHECK(whole.reason == NULL || strcmp(whole.reason, split.reason) == 0);
    FUZZ_CHECK(mr_fcgi_guard_at_boundary(&whole) == mr_fcgi_guard_at_boundary(&split));
    if (a != 0)
        FUZZ_CHECK(mr_fcgi_guard_feed(&whole, s, n) == -1);
    FUZZ_CHECK(a == ref_check(s, n, whole.max_pairs, whole.max_bytes));
    /* The filter (what libfcgi reads) gives the same verdict and only ever removes bytes. */
    unsigned char *copy = malloc(n + 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, s, n);
    struct mr_fcgi_guard filt;
    mr_fcgi_guard_reset(&filt, MAX_PARAMS, MAX_PARAMS_BYTES);
    size_t kept = n;
    FUZZ_CHECK(mr_fcgi_guard_filter(&filt, copy, &kept) == a);
    FUZZ_CHECK(kept <= n);
    free(copy);
    return 0;
}
