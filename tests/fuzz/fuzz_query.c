/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_query: mr_query_parse on arbitrary bytes. Input: a byte choosing max_params (1..64),
 * a byte choosing the arena ceiling (so the -ENOMEM paths run too), then the query string.
 * The arena's first block is tiny, so most allocations get their own malloc'd block and ASan
 * sees overruns between them. Invariants: no more params than max_params; every name and
 * value is NUL-terminated at its length and valid UTF-8; and the result agrees with a
 * reference parse (split on '&', skip empty pieces, split at the first '=', decode with '+'
 * as a space). */
#include <errno.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/serve/form.h"
#include "tests/fuzz/ref.h"

/* One arena per ceiling, each made once and reset after every run, as a worker does. */
static struct mr_arena arenas[4];
static bool arenas_ready;

struct piece {
    const unsigned char *name, *value;
    size_t name_len, value_len;
};

/* Splits s[0..len) the reference way; returns the number of non-empty pieces (<= cap). */
static size_t
ref_split(const unsigned char *s, size_t len, struct piece *out, size_t cap)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '&')
            continue;
        if (i > start) {
            FUZZ_CHECK(n < cap);
            size_t eq = start;
            while (eq < i && s[eq] != '=')
                eq++;
            out[n].name = s + start;
            out[n].name_len = eq - start;
            out[n].value = eq < i ? s + eq + 1 : s + i;
            out[n].value_len = eq < i ? i - eq - 1 : 0;
            n++;
        }
        start = i + 1;
    }
    return n;
}

/* Does the decoded param p equal the reference decoding of raw[0..raw_len)? Sets *bad when
 * the reference refuses it. */
static bool
same_as_ref(const char *got, size_t got_len, const unsigned char *raw, size_t raw_len,
            unsigned char *scratch, bool *bad)
{
    size_t want_len;
    if (!ref_pct_decode(raw, raw_len, true, scratch, &want_len)) {
        *bad = true;
        return false;
    }
    return got_len == want_len && memcmp(got, scratch, got_len) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t ceilings[] = {256, 1024, 4096, 1 << 20};
    if (size < 2)
        return 0;
    int max_params = 1 + data[0] % 64;
    if (!arenas_ready) {
        for (size_t i = 0; i < 4; i++)
            mr_arena_init(&arenas[i], 16, ceilings[i]);
        arenas_ready = true;
    }
    struct mr_arena *arena = &arenas[data[1] % 4];
    size_t len = size - 2;
    char *s = fuzz_dup_exact(data + 2, len);

    size_t amps = 0;
    for (size_t i = 0; i < len; i++)
        amps += s[i] == '&';
    struct mr_param *p = NULL;
    size_t n = 0;
    int rc = mr_query_parse(s, len, arena, max_params, &p, &n);
    FUZZ_CHECK(rc == 0 || rc == -E2BIG || rc == -EINVAL || rc == -ENOMEM);

    struct piece *ref = malloc((amps + 1) * sizeof(*ref));
    unsigned char *scratch = malloc(len + 1);
    FUZZ_CHECK(ref != NULL && scratch != NULL);
    size_t ref_n = ref_split((const unsigned char *)s, len, ref, amps + 1);
    /* The limit counts parameters (non-empty pieces), not separators. */
    FUZZ_CHECK((rc == -E2BIG) == (ref_n > (size_t)max_params));
    bool ref_bad = false;
    if (rc == 0) {
        FUZZ_CHECK(n <= (size_t)max_params);
        FUZZ_CHECK(n == ref_n);
        FUZZ_CHECK(n == 0 || p != NULL); /* no parameters: *out may be NULL */
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(p[i].name != NULL && p[i].value != NULL);
            FUZZ_CHECK(p[i].name[p[i].name_len] == '\0');
            FUZZ_CHECK(p[i].value[p[i].value_len] == '\0');
            FUZZ_CHECK(mr_utf8_valid(p[i].name, p[i].name_len));
            FUZZ_CHECK(mr_utf8_valid(p[i].value, p[i].value_len));
            FUZZ_CHECK(same_as_ref(p[i].name, p[i].name_len, ref[i].name, ref[i].name_len, scratch,
                                   &ref_bad));
            FUZZ_CHECK(same_as_ref(p[i].value, p[i].value_len, ref[i].value, ref[i].value_len,
                                   scratch, &ref_bad));
        }
    } else {
        FUZZ_CHECK(n == 0);
        if (rc == -EINVAL) { /* some piece must be refused by the reference too */
            for (size_t i = 0; i < ref_n && !ref_bad; i++) {
                (void)same_as_ref("", 0, ref[i].name, ref[i].name_len, scratch, &ref_bad);
                (void)same_as_ref("", 0, ref[i].value, ref[i].value_len, scratch, &ref_bad);
            }
            FUZZ_CHECK(ref_bad);
        }
    }
    free(scratch);
    free(ref);
    free(s);
    mr_arena_reset(arena);
    return 0;
}
