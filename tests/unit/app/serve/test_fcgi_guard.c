/* SPDX-License-Identifier: BSD-2-Clause */
/* test_fcgi_guard: the record-stream check on streams built here byte by byte: what a web
 * server sends passes (whole, or one byte at a time), each kind of break fails with its
 * reason, and the reproducers that abort libfcgi 2.4.2 fail before libfcgi would see them. */
#include <stdio.h>
#include <string.h>

#include "app/serve/fcgi_guard.h"
#include "tests/unit/suites.h"

#define MAX_PARAMS 256
#define MAX_PARAMS_BYTES 65536

struct stream {
    unsigned char b[8192];
    size_t n;
};

static void
put(struct stream *s, const void *p, size_t n)
{
    ck_assert_uint_le(s->n + n, sizeof(s->b));
    memcpy(s->b + s->n, p, n);
    s->n += n;
}

static void
record(struct stream *s, int version, int type, int id, const void *content, size_t len,
       int padding)
{
    unsigned char h[8] = {
        (unsigned char)version,    (unsigned char)type, (unsigned char)(id >> 8), (unsigned char)id,
        (unsigned char)(len >> 8), (unsigned char)len,  (unsigned char)padding,   0};
    put(s, h, sizeof(h));
    put(s, content, len);
    static const unsigned char zeros[255] = {0};
    put(s, zeros, (size_t)padding);
}

static void
begin(struct stream *s, int id, int role, int flags)
{
    unsigned char body[8] = {(unsigned char)(role >> 8), (unsigned char)role, (unsigned char)flags};
    record(s, 1, 1, id, body, sizeof(body), 0);
}

/* One name-value pair, with 1-byte lengths below 128 and 4-byte ones above. */
static size_t
pair(unsigned char *out, const char *name, const char *value)
{
    size_t n = 0, lens[2] = {strlen(name), strlen(value)};
    for (int i = 0; i < 2; i++) {
        if (lens[i] < 128) {
            out[n++] = (unsigned char)lens[i];
        } else {
            out[n++] = (unsigned char)(0x80 | lens[i] >> 24);
            out[n++] = (unsigned char)(lens[i] >> 16);
            out[n++] = (unsigned char)(lens[i] >> 8);
            out[n++] = (unsigned char)lens[i];
        }
    }
    memcpy(out + n, name, lens[0]);
    n += lens[0];
    memcpy(out + n, value, lens[1]);
    return n + lens[1];
}

/* A GET /json request with keep-conn, its PARAMS in two records and a body in STDIN. */
static void
good_request(struct stream *s, int id)
{
    unsigned char p[512];
    size_t n = pair(p, "REQUEST_METHOD", "POST");
    n += pair(p + n, "DOCUMENT_URI", "/json");
    size_t half = n / 2 + 1; /* splits a pair across the two records */
    n += pair(p + n, "CONTENT_LENGTH", "5");
    begin(s, id, 1, 1);
    record(s, 1, 4, id, p, half, 3);
    record(s, 1, 4, id, p + half, n - half, 0);
    record(s, 1, 4, id, "", 0, 0);
    record(s, 1, 5, id, "hello", 5, 3);
    record(s, 1, 5, id, "", 0, 0);
}

static int
feed_all(struct mr_fcgi_guard *g, const struct stream *s, size_t chunk)
{
    mr_fcgi_guard_reset(g, MAX_PARAMS, MAX_PARAMS_BYTES);
    for (size_t i = 0; i < s->n; i += chunk)
        if (mr_fcgi_guard_feed(g, s->b + i, s->n - i < chunk ? s->n - i : chunk) != 0)
            return -1;
    return 0;
}

static void
assert_refused(const struct stream *s, const char *reason)
{
    struct mr_fcgi_guard g;
    ck_assert_int_eq(feed_all(&g, s, s->n), -1);
    ck_assert_ptr_nonnull(g.reason);
    ck_assert_msg(strstr(g.reason, reason) != NULL, "reason \"%s\", wanted \"%s\"", g.reason,
                  reason);
    ck_assert_int_eq(feed_all(&g, s, 1), -1); /* split anywhere, the same verdict */
    ck_assert_msg(strstr(g.reason, reason) != NULL, "byte by byte: \"%s\"", g.reason);
}

START_TEST(test_guard_passes_what_a_web_server_sends)
{
    struct stream s = {.n = 0};
    good_request(&s, 1);
    good_request(&s, 1); /* the next request on the kept connection */
    unsigned char gv[64];
    size_t n = pair(gv, "FCGI_MAX_CONNS", "");
    n += pair(gv + n, "FCGI_MPXS_CONNS", "");
    n += pair(gv + n, "FCGI_MAX_REQS", "");
    n += pair(gv + n, "X_UNKNOWN", "");
    record(&s, 1, 9, 0, gv, n, 0);
    good_request(&s, 7);
    for (size_t chunk = 1; chunk <= s.n; chunk = chunk < 16 ? chunk + 1 : chunk * 2) {
        struct mr_fcgi_guard g;
        ck_assert_msg(feed_all(&g, &s, chunk) == 0, "chunk %zu: %s", chunk, g.reason);
        ck_assert(mr_fcgi_guard_at_boundary(&g));
    }
}
END_TEST

START_TEST(test_guard_refuses_bad_framing)
{
    struct stream s = {.n = 0};
    record(&s, 0, 1, 1, "\0\1\0\0\0\0\0\0", 8, 0);
    assert_refused(&s, "version");
    s.n = 0;
    record(&s, 1, 5, 1, "x", 1, 0);
    assert_refused(&s, "before BEGIN_REQUEST");
    s.n = 0;
    record(&s, 1, 1, 1, "\0\1\0\0\0\0\0", 7, 0);
    assert_refused(&s, "not 8 bytes");
    s.n = 0;
    begin(&s, 1, 2, 0); /* AUTHORIZER */
    assert_refused(&s, "role");
    s.n = 0;
    begin(&s, 1, 1, 0x81);
    assert_refused(&s, "flags");
    s.n = 0;
    begin(&s, 1, 1, 0);
    begin(&s, 2, 1, 0);
    assert_refused(&s, "inside a request");
    s.n = 0;
    begin(&s, 1, 1, 0);
    record(&s, 1, 4, 2, "\0\0", 2, 0);
    assert_refused(&s, "another request id");
    s.n = 0;
    begin(&s, 1, 1, 0);
    record(&s, 1, 6, 1, "x", 1, 0); /* STDOUT: the application's */
    assert_refused(&s, "does not send");
    s.n = 0;
    begin(&s, 1, 1, 0);
    record(&s, 1, 5, 1, "x", 1, 0);
    assert_refused(&s, "STDIN before the end of PARAMS");
    s.n = 0;
    begin(&s, 1, 1, 0);
    record(&s, 1, 4, 1,
           "\x05\x01"
           "ab",
           4, 0);
    record(&s, 1, 4, 1, "", 0, 0);
    assert_refused(&s, "inside a name-value pair");
    s.n = 0;
    record(&s, 1, 2, 0, "", 0, 0);
    assert_refused(&s, "other than GET_VALUES");
    /* Padding on a BEGIN_REQUEST: libfcgi reads the next header inside it (the record fuzzer
     * found a worker abort this way), so the guard refuses it rather than follow another
     * stream than libfcgi's. */
    s.n = 0;
    record(&s, 1, 1, 1, "\0\1\0\0\0\0\0\0", 8, 150);
    assert_refused(&s, "padding on a BEGIN_REQUEST");
    s.n = 0;
    record(&s, 1, 9, 0, "", 0, 8);
    assert_refused(&s, "padding on a BEGIN_REQUEST, ABORT_REQUEST or management");
}
END_TEST

/* The two aborts of libfcgi 2.4.2 that tests/fuzz/regressions/fcgi reproduce end to end. */
START_TEST(test_guard_refuses_the_libfcgi_reproducers)
{
    struct stream s = {.n = 0};
    unsigned char gv[80];
    size_t n = 0;
    for (int i = 0; i < 4; i++)
        n += pair(gv + n, "FCGI_MAX_CONNS", "");
    record(&s, 1, 9, 0, gv, n, 0);
    assert_refused(&s, "twice");

    /* Name length 0x40000000 + value length 0x3fffffff: the int sum overflows in libfcgi. */
    s.n = 0;
    begin(&s, 1, 1, 0);
    record(&s, 1, 4, 1,
           "\xc0\0\0\0\xbf\xff\xff\xff"
           "xxxx",
           12, 0);
    assert_refused(&s, "pair larger");
    s.n = 0;
    begin(&s, 1, 1, 0);
    record(&s, 1, 4, 1, "\x01\xff\xff\xff\xfe", 5, 0); /* 1 + 0x7ffffffe */
    assert_refused(&s, "pair larger");

    s.n = 0;
    record(&s, 1, 9, 0,
           "\x01\x01"
           "AB",
           4, 0);
    assert_refused(&s, "with a value");
}
END_TEST

/* A request a little over max_params is still read (the request layer answers 431); far
 * over, the guard refuses it before libfcgi allocates for it. */
START_TEST(test_guard_ceilings_sit_above_the_limits)
{
    struct mr_fcgi_guard g;
    mr_fcgi_guard_reset(&g, MAX_PARAMS, MAX_PARAMS_BYTES);
    ck_assert_uint_eq(g.max_pairs, MR_FCGI_GUARD_MIN_PAIRS);
    ck_assert_uint_eq(g.max_bytes, MR_FCGI_GUARD_MIN_BYTES);
    mr_fcgi_guard_reset(&g, 4000, 16777216);
    ck_assert_uint_eq(g.max_pairs, 16000);
    ck_assert_uint_eq(g.max_bytes, 4ull * 16777216);

    /* PARAMS records of 1000 pairs each: 1000 is over max_params and under the ceiling;
     * the fifth record passes the ceiling of 4096 pairs. */
    struct stream s = {.n = 0};
    begin(&s, 1, 1, 0);
    mr_fcgi_guard_reset(&g, MAX_PARAMS, MAX_PARAMS_BYTES);
    ck_assert_int_eq(mr_fcgi_guard_feed(&g, s.b, s.n), 0);
    unsigned char pairs[4000];
    for (size_t i = 0; i < sizeof(pairs); i += 4)
        (void)pair(pairs + i, "A", "b");
    s.n = 0;
    record(&s, 1, 4, 1, pairs, sizeof(pairs), 0);
    for (int k = 0; k < 4; k++)
        ck_assert_msg(mr_fcgi_guard_feed(&g, s.b, s.n) == 0, "record %d: %s", k, g.reason);
    ck_assert_int_eq(mr_fcgi_guard_feed(&g, s.b, s.n), -1);
    ck_assert_ptr_nonnull(strstr(g.reason, "more PARAMS pairs"));
}
END_TEST

/* The padding of the empty PARAMS record is left out of what libfcgi reads; nothing else. */
START_TEST(test_guard_filter_leaves_out_the_padding_libfcgi_would_misread)
{
    struct stream s = {.n = 0};
    unsigned char p[64];
    size_t n = pair(p, "DOCUMENT_URI", "/json");
    begin(&s, 1, 1, 1);
    record(&s, 1, 4, 1, p, n, 2);  /* padding on a PARAMS record with content: kept */
    record(&s, 1, 4, 1, "", 0, 3); /* on the empty one: left out */
    record(&s, 1, 5, 1, "", 0, 5); /* on the empty STDIN: kept */
    struct mr_fcgi_guard g;
    mr_fcgi_guard_reset(&g, MAX_PARAMS, MAX_PARAMS_BYTES);
    unsigned char copy[sizeof(s.b)];
    memcpy(copy, s.b, s.n);
    size_t kept = s.n;
    ck_assert_int_eq(mr_fcgi_guard_filter(&g, copy, &kept), 0);
    ck_assert_uint_eq(kept, s.n - 3);
    size_t end_of_params = 8 + 8 + 8 + n + 2 + 8; /* the empty PARAMS header's end */
    ck_assert_int_eq(memcmp(copy, s.b, end_of_params), 0);
    ck_assert_int_eq(memcmp(copy + end_of_params, s.b + end_of_params + 3, s.n - end_of_params - 3),
                     0);
    ck_assert(mr_fcgi_guard_at_boundary(&g));
}
END_TEST

Suite *
fcgi_guard_suite(void)
{
    Suite *s = suite_create("fcgi_guard");
    TCase *tc = tcase_create("stream");
    tcase_add_test(tc, test_guard_passes_what_a_web_server_sends);
    tcase_add_test(tc, test_guard_refuses_bad_framing);
    tcase_add_test(tc, test_guard_refuses_the_libfcgi_reproducers);
    tcase_add_test(tc, test_guard_ceilings_sit_above_the_limits);
    tcase_add_test(tc, test_guard_filter_leaves_out_the_padding_libfcgi_would_misread);
    suite_add_tcase(s, tc);
    return s;
}
