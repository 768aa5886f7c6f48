/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_json: the JSON writer on arbitrary bytes. Input: a mode byte, then
 *   mode 0: bytes for mr_json_escape alone;
 *   mode 1: bytes for mr_json_str (the quoted form);
 *   mode 2: a little program of writer calls (open/close object or array, key, string,
 *           int, bool, zero) that only ever makes valid call sequences; the harness closes
 *           what is left open.
 * A small validating scan checks the output: no raw byte below 0x20 anywhere, no raw '"' or
 * '\' inside a string, only the escapes RFC 8259 allows, and each string decodes back to the
 * exact bytes given (including invalid UTF-8, which the writer passes through). Mode 2 also
 * parses the whole document with a strict recursive-descent validator. */
#include <string.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/lib/json.h"
#include "tests/fuzz/ref.h"

static struct mr_arena arena;
static bool arena_ready;

/* Strings the writer was given, in order; the validator ticks them off. */
struct expect {
    const char *s[512];
    size_t len[512];
    size_t n, next;
};

struct scan {
    const char *p, *end;
    struct expect *ex;
};

static int
hexdig(char c)
{
    return ref_hex((unsigned char)c);
}

/* Scans a string body (after the opening quote) up to and past the closing quote, and
 * compares its decoded bytes with the next expected string. */
static void
scan_string(struct scan *sc)
{
    FUZZ_CHECK(sc->ex->next < sc->ex->n);
    const char *want = sc->ex->s[sc->ex->next];
    size_t want_len = sc->ex->len[sc->ex->next], o = 0;
    sc->ex->next++;
    for (;;) {
        FUZZ_CHECK(sc->p < sc->end);
        unsigned char c = (unsigned char)*sc->p++;
        FUZZ_CHECK(c >= 0x20);
        if (c == '"')
            break;
        if (c == '\\') {
            FUZZ_CHECK(sc->p < sc->end);
            char e = *sc->p++;
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *hit = strchr(from, e);
            if (e != '\0' && hit != NULL) {
                c = (unsigned char)to[hit - from];
            } else {
                FUZZ_CHECK(e == 'u' && sc->end - sc->p >= 4);
                int v = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexdig(sc->p[k]);
                    FUZZ_CHECK(h >= 0);
                    v = v * 16 + h;
                }
                sc->p += 4;
                FUZZ_CHECK(v < 0x20); /* the writer escapes only control characters so */
                c = (unsigned char)v;
            }
        }
        FUZZ_CHECK(o < want_len && (unsigned char)want[o] == c);
        o++;
    }
    FUZZ_CHECK(o == want_len);
}

static void
skip_ws(struct scan *sc)
{
    while (sc->p < sc->end && strchr(" \t\r\n", *sc->p) != NULL && *sc->p != '\0')
        sc->p++;
}

static bool
eat(struct scan *sc, char c)
{
    skip_ws(sc);
    if (sc->p < sc->end && *sc->p == c) {
        sc->p++;
        return true;
    }
    return false;
}

static void
scan_value(struct scan *sc, int depth)
{
    FUZZ_CHECK(depth <= MR_JSON_DEPTH);
    skip_ws(sc);
    FUZZ_CHECK(sc->p < sc->end);
    char c = *sc->p;
    if (c == '"') {
        sc->p++;
        scan_string(sc);
    } else if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        sc->p++;
        if (eat(sc, close))
            return;
        do {
            if (c == '{') {
                FUZZ_CHECK(eat(sc, '"'));
                scan_string(sc);
                FUZZ_CHECK(eat(sc, ':'));
            }
            scan_value(sc, depth + 1);
        } while (eat(sc, ','));
        FUZZ_CHECK(eat(sc, close));
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (c == '-')
            sc->p++;
        FUZZ_CHECK(sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9');
        bool zero = *sc->p == '0';
        sc->p++;
        while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9') {
            FUZZ_CHECK(!zero); /* no leading zeros */
            sc->p++;
        }
    } else {
        static const char *words[] = {"true", "false", "null"};
        size_t k = 0;
        while (k < 3 && !((size_t)(sc->end - sc->p) >= strlen(words[k]) &&
                          memcmp(sc->p, words[k], strlen(words[k])) == 0))
            k++;
        FUZZ_CHECK(k < 3);
        sc->p += strlen(words[k]);
    }
}

/* Mode 2: runs the program in d[0..n); each string argument is a length byte and bytes. */
static void
run_program(struct mr_json *j, const uint8_t *d, size_t n, struct expect *ex, char *keybuf)
{
    char kind[MR_JSON_DEPTH]; /* 'o' or 'a' per open level, index = depth - 1 */
    int depth = 0;
    bool need_value = false; /* a key was written in the current object */
    bool top_done = false;
    size_t i = 0;
    while (i < n && !top_done && ex->n < 500) {
        uint8_t op = d[i++] % 8;
        bool in_obj = depth > 0 && kind[depth - 1] == 'o';
        if (in_obj && !need_value && op != 2)
            op = 3; /* an object wants a key before any value */
        else if (op == 3 && !(in_obj && !need_value))
            op = 4; /* and nothing else takes one */
        if (op == 2 && (depth == 0 || need_value))
            op = 7;
        if ((op == 0 || op == 1) && depth + 1 >= MR_JSON_DEPTH)
            op = 7;
        size_t sl = 0;
        if (op == 3 || op == 4) {
            sl = i < n ? d[i++] : 0;
            if (sl > n - i)
                sl = n - i;
        }
        switch (op) {
        case 0:
        case 1:
            op == 0 ? mr_json_obj(j) : mr_json_arr(j);
            kind[depth++] = op == 0 ? 'o' : 'a';
            need_value = false;
            continue;
        case 2:
            kind[depth - 1] == 'o' ? mr_json_obj_end(j) : mr_json_arr_end(j);
            depth--;
            break;
        case 3: { /* keys are C strings: stop at a NUL */
            const uint8_t *z = memchr(d + i, '\0', sl);
            size_t kl = z ? (size_t)(z - (d + i)) : sl;
            memcpy(keybuf, d + i, kl);
            keybuf[kl] = '\0';
            ex->s[ex->n] = (const char *)d + i;
            ex->len[ex->n++] = kl;
            mr_json_key(j, keybuf);
            i += sl;
            need_value = true;
            continue;
        }
        case 4:
            ex->s[ex->n] = (const char *)d + i;
            ex->len[ex->n++] = sl;
            mr_json_str(j, (const char *)d + i, sl);
            i += sl;
            break;
        case 5: {
            int64_t v = 0;
            for (int k = 0; k < 8 && i < n; k++)
                v = (int64_t)((uint64_t)v << 8 | d[i++]);
            mr_json_int(j, v);
            break;
        }
        case 6:
            mr_json_bool(j, i < n && (d[i++] & 1));
            break;
        default: /* a value that reads no bytes */
            mr_json_int(j, 0);
            break;
        }
        need_value = false;
        top_done = depth == 0;
    }
    if (need_value)
        mr_json_int(j, 0);
    if (!top_done && depth == 0)
        mr_json_int(j, 0); /* the empty program: one value all the same */
    while (depth > 0) {
        kind[depth - 1] == 'o' ? mr_json_obj_end(j) : mr_json_arr_end(j);
        depth--;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (!arena_ready) {
        mr_arena_init(&arena, 64, 1 << 24);
        arena_ready = true;
    }
    int mode = data[0] % 3;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    char *in = fuzz_dup_exact(d, n);
    static struct expect ex;
    static char keybuf[256];
    ex.n = ex.next = 0;
    struct mr_buf b;
    mr_buf_init(&b, &arena, 0);
    struct mr_json j;
    mr_json_init(&j, &b);
    if (mode == 0) {
        mr_buf_putc(&b, '"'); /* so the escaped text can be scanned as a string */
        mr_json_escape(&b, in, n);
        mr_buf_putc(&b, '"');
    } else if (mode == 1) {
        mr_json_str(&j, in, n);
    } else {
        run_program(&j, (const uint8_t *)in, n, &ex, keybuf);
    }
    if (mode != 2) {
        ex.s[0] = in;
        ex.len[0] = n;
        ex.n = 1;
    }
    const char *out = mr_buf_cstr(&b);
    if (out != NULL) {
        struct scan sc = {out, out + b.len, &ex};
        scan_value(&sc, 0);
        skip_ws(&sc);
        FUZZ_CHECK(sc.p == sc.end);
        FUZZ_CHECK(ex.next == ex.n);
        FUZZ_CHECK(strlen(out) == b.len); /* no raw NUL: every byte < 0x20 is escaped */
        FUZZ_CHECK(j.depth == 0);
    }
    free(in);
    mr_arena_reset(&arena);
    return 0;
}
