/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_selftest: the checks behind `loadgen --self-test` (see lg_selftest.h): the histogram's
 * bucket arithmetic and percentiles against exact answers, the response parser on well-formed
 * and malformed answers fed whole and split at every byte, and the mix reader. */
#include "tests/bench/lg_selftest.h"

#include <stdio.h>
#include <string.h>

#include "tests/bench/lg_hist.h"
#include "tests/bench/lg_http.h"
#include "tests/bench/lg_mix.h"

static int failures, checks;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "self-test: %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
        }                                                                                          \
    } while (0)

static void
hist_buckets(void)
{
    /* Every value lands in a bucket whose range holds it, indices never go down, and a
     * bucket is at most 1/32 of its low edge wide past the exact range. */
    unsigned prev = 0;
    for (uint64_t v = 0; v < 200000; v++) {
        unsigned i = lg_hist_index(v);
        CHECK(i >= prev && i < LG_HIST_BUCKETS);
        CHECK(lg_hist_low(i) <= v && v <= lg_hist_high(i));
        prev = i;
    }
    for (unsigned i = 2 * LG_HIST_SUB; i < LG_HIST_BUCKETS; i++) {
        CHECK(lg_hist_low(i) == lg_hist_high(i - 1) + 1);
        CHECK((lg_hist_high(i) - lg_hist_low(i) + 1) * 32 <= lg_hist_low(i));
    }
    CHECK(lg_hist_index(UINT64_MAX) == LG_HIST_BUCKETS - 1);
}

static void
hist_percentiles(void)
{
    static struct lg_hist h;
    lg_hist_init(&h);
    CHECK(lg_hist_percentile(&h, 50) == 0);
    for (uint64_t v = 1; v <= 1000; v++)
        lg_hist_record(&h, v);
    CHECK(h.count == 1000 && h.min_us == 1 && h.max_us == 1000 && h.sum_us == 500500);
    /* The 500th value is 500; its bucket is [496, 511]: the answer is at most 3.2% high. */
    uint64_t p50 = lg_hist_percentile(&h, 50);
    CHECK(p50 >= 500 && p50 <= 516);
    uint64_t p99 = lg_hist_percentile(&h, 99);
    CHECK(p99 >= 990 && p99 <= 1000);
    CHECK(lg_hist_percentile(&h, 100) == 1000);
    CHECK(lg_hist_percentile(&h, 0.0001) == 1);
    static struct lg_hist one;
    lg_hist_init(&one);
    lg_hist_record(&one, 40);
    CHECK(lg_hist_percentile(&one, 99.9) == 40);
    lg_hist_merge(&one, &h);
    CHECK(one.count == 1001 && one.max_us == 1000 && one.min_us == 1);
    /* 999 fast answers and one slow: P99.9 is the slow one only when it is the top 0.1%. */
    static struct lg_hist tail;
    lg_hist_init(&tail);
    for (int i = 0; i < 999; i++)
        lg_hist_record(&tail, 100);
    lg_hist_record(&tail, 50000);
    CHECK(lg_hist_percentile(&tail, 99.9) <= 101);
    CHECK(lg_hist_percentile(&tail, 99.95) == 50000);
}

struct case_ {
    const char *text;
    int status; /* 0: the parser must report an error */
    bool keep_alive;
    uint64_t body;
    bool needs_eof; /* the body ends with the connection */
};

static const struct case_ cases[] = {
    {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, true, 5, false},
    {"HTTP/1.1 200 OK\r\ncontent-length:0\r\n\r\n", 200, true, 0, false},
    {"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno!", 404, false, 3,
     false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
     "6;ext=1\r\n world\r\n0\r\n\r\n",
     200, true, 11, false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\nX-T: 1\r\n"
     "\r\n",
     200, true, 10, false},
    {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 201, true,
     2, false},
    {"HTTP/1.1 204 No Content\r\n\r\n", 204, true, 0, false},
    {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 200, false, 2, false},
    {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", 200, true, 2,
     false},
    {"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nuntil the end", 200, false, 13, true},
    {"HTTP/1.1 503\r\nContent-Length: 1\r\nConnection: keep-alive, close\r\n\r\nx", 503, false, 1,
     false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", 200, true, 2, false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", 0, false, 0, false},
    {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, false, 0, false},
    {"HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999\r\n\r\n", 0, false, 0, false},
    {"HTTP/1.1 200 OK\nContent-Length: 0\n\n", 0, false, 0, false},
    {"HTTP/1.1 200 OK\r\n Folded: yes\r\n\r\n", 0, false, 0, false},
    {"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", 0, false, 0, false},
    {"HTTP/1.1 20 OK\r\n\r\n", 0, false, 0, false},
    {"HTTP/1.1 600 Odd\r\n\r\n", 0, false, 0, false},
    {"HTTP/2.0 200 OK\r\n\r\n", 0, false, 0, false},
    {"HTTP/1.1 101 Switching Protocols\r\n\r\n", 0, false, 0, false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, false, 0, false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX", 0, false, 0, false},
    {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", 0, false, 0,
     false},
    {"\r\n\r\n", 0, false, 0, false},
};

/* Feeds text in pieces of `piece` bytes (0: whole) and checks the outcome of case c. */
static void
http_case(const struct case_ *c, size_t piece)
{
    static struct lg_http p;
    lg_http_init(&p);
    size_t len = strlen(c->text), pos = 0;
    while (pos < len && p.state != LG_HTTP_DONE && p.state != LG_HTTP_ERROR) {
        size_t n = piece == 0 || len - pos < piece ? len - pos : piece;
        size_t used = lg_http_feed(&p, c->text + pos, n);
        CHECK(used <= n);
        pos += used;
        if (used < n)
            break;
    }
    if (c->needs_eof) {
        CHECK(p.state == LG_HTTP_UNTIL_EOF);
        lg_http_eof(&p);
    }
    if (c->status == 0) {
        CHECK(p.state == LG_HTTP_ERROR && p.error != NULL);
        return;
    }
    CHECK(p.state == LG_HTTP_DONE);
    CHECK(pos == len); /* a response ends exactly where its text does */
    CHECK(p.status == c->status);
    CHECK(p.keep_alive == c->keep_alive);
    CHECK(p.body_bytes == c->body);
}

static void
http_cases(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (size_t piece = 0; piece <= 7; piece++)
            http_case(&cases[i], piece);
    /* Two responses back to back: the first ends where the second starts. */
    static struct lg_http p;
    const char two[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n";
    lg_http_init(&p);
    size_t first_len = (size_t)(strchr(two, 'x') - two) + 1;
    CHECK(lg_http_feed(&p, two, sizeof(two) - 1) == first_len && p.state == LG_HTTP_DONE);
    /* A head that never ends is refused once it fills the buffer. */
    static char big[LG_HTTP_HEAD_MAX + 100];
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(big + 20, 'a', sizeof(big) - 20);
    lg_http_init(&p);
    (void)lg_http_feed(&p, big, sizeof(big));
    CHECK(p.state == LG_HTTP_ERROR);
    /* EOF before any byte, and in mid-body. */
    lg_http_init(&p);
    lg_http_eof(&p);
    CHECK(p.state == LG_HTTP_ERROR);
    lg_http_init(&p);
    (void)lg_http_feed(&p, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", 41);
    lg_http_eof(&p);
    CHECK(p.state == LG_HTTP_ERROR);
}

static void
mix_cases(void)
{
    static struct lg_mix m;
    char err[160];
    const char text[] = "# the day\n60 /a\n\n  30\t/b?x=1  \r\n10 /c\n";
    CHECK(lg_mix_parse(&m, text, sizeof(text) - 1, err, sizeof(err)) == 0);
    CHECK(m.n == 3 && m.total_weight == 100 && strcmp(m.entry[1].path, "/b?x=1") == 0);
    CHECK(lg_mix_pick(&m, 0) == 0 && lg_mix_pick(&m, 59) == 0 && lg_mix_pick(&m, 60) == 1);
    CHECK(lg_mix_pick(&m, 89) == 1 && lg_mix_pick(&m, 90) == 2 && lg_mix_pick(&m, 199) == 2);
    /* Seeded choice: the shares come out near the weights, and repeat with the seed. */
    uint64_t seen[3] = {0}, s = 7, first = 0;
    for (int i = 0; i < 100000; i++) {
        size_t k = lg_mix_pick(&m, lg_rand_next(&s));
        seen[k]++;
        if (i == 0)
            first = k;
    }
    CHECK(seen[0] > 59000 && seen[0] < 61000 && seen[2] > 9500 && seen[2] < 10500);
    s = 7;
    CHECK(lg_mix_pick(&m, lg_rand_next(&s)) == first);
    lg_mix_build(&m, 8080);
    CHECK(strncmp(m.entry[1].request, "GET /b?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n", 43) == 0);
    CHECK(m.entry[1].request_len > 43 &&
          memcmp(m.entry[1].request + m.entry[1].request_len - 4, "\r\n\r\n", 4) == 0);
    const char *bad[] = {"0 /a\n",    "x /a\n",      "10 a\n",       "10\n",
                         "10 /a b\n", "10 /a\x01\n", "2000000 /a\n", "# only a comment\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(lg_mix_parse(&m, bad[i], strlen(bad[i]), err, sizeof(err)) == -1);
    CHECK(lg_mix_parse(&m, "1 /a\n1 /b\n", 10, err, sizeof(err)) == 0);
    CHECK(lg_mix_parse(&m, "1 /a\n0 /b\n", 10, err, sizeof(err)) == -1 &&
          strncmp(err, "line 2:", 7) == 0);
    CHECK(lg_mix_single(&m, "/json", err, sizeof(err)) == 0 && m.n == 1);
    CHECK(lg_mix_single(&m, "json", err, sizeof(err)) == -1);
}

int
lg_selftest(void)
{
    hist_buckets();
    hist_percentiles();
    http_cases();
    mix_cases();
    fprintf(stderr, "self-test: %d of %d checks passed\n", checks - failures, checks);
    return failures;
}
