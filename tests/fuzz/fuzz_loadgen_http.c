/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_loadgen_http: loadgen's response parser (tests/bench/lg_http.h), which reads whatever
 * a server under load sends. Byte 0 picks how the rest is cut into pieces (1..16 bytes, or
 * whole), byte 1 whether the connection then ends (lg_http_eof); the rest is the stream.
 * Invariants: feed never claims more bytes than it was given; the verdict, status,
 * keep-alive, body length and the bytes consumed are the same fed whole and fed in pieces
 * (a parser that depends on how reads happen to split would count the same answer
 * differently from run to run); a DONE response has a status in 200..599 and no error; an
 * ERROR always says why. */
#include <stdint.h>
#include <string.h>

#include "tests/bench/lg_http.h"
#include "tests/fuzz/ref.h"

struct outcome {
    enum lg_http_state state;
    int status;
    bool keep_alive;
    uint64_t body;
    size_t consumed;
};

static struct outcome
run(const uint8_t *s, size_t n, size_t piece, bool eof)
{
    static struct lg_http p;
    lg_http_init(&p);
    size_t pos = 0;
    while (pos < n && p.state != LG_HTTP_DONE && p.state != LG_HTTP_ERROR) {
        size_t k = piece == 0 || n - pos < piece ? n - pos : piece;
        size_t used = lg_http_feed(&p, (const char *)s + pos, k);
        FUZZ_CHECK(used <= k);
        pos += used;
        if (used < k)
            break;
    }
    if (eof)
        lg_http_eof(&p);
    FUZZ_CHECK(p.state != LG_HTTP_ERROR || p.error != NULL);
    if (p.state == LG_HTTP_DONE)
        FUZZ_CHECK(p.status >= 200 && p.status <= 599 && p.error == NULL);
    struct outcome o = {p.state, p.status, p.keep_alive, p.body_bytes, pos};
    return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t piece = data[0] % 17; /* 0: whole */
    bool eof = data[1] & 1;
    const uint8_t *s = data + 2;
    size_t n = size - 2;
    uint8_t *copy = (uint8_t *)fuzz_dup_exact(s, n); /* exactly n bytes: ASan sees overreads */
    struct outcome whole = run(copy, n, 0, eof);
    struct outcome cut = run(copy, n, piece == 0 ? 1 : piece, eof);
    FUZZ_CHECK(whole.state == cut.state);
    if (whole.state != LG_HTTP_ERROR) {
        FUZZ_CHECK(whole.consumed == cut.consumed);
        FUZZ_CHECK(whole.body == cut.body);
    }
    if (whole.state == LG_HTTP_DONE)
        FUZZ_CHECK(whole.status == cut.status && whole.keep_alive == cut.keep_alive);
    free(copy);
    return 0;
}
