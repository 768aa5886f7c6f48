/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_cookie: mr_cookie_parse, mr_cookie_get and mr_cookie_format on arbitrary bytes.
 * Input: a byte choosing max_cookies (0..15), a byte of writer options, then the Cookie
 * header (up to the first NUL, as a header would be). Invariants: at most max_cookies
 * cookies, each a non-empty RFC 7230 token and a cookie-octet value, NUL-terminated at its
 * length; every piece between ';' is kept, dropped, skipped or blank, exactly once; get
 * returns the first of a name. Each parsed cookie is written back with mr_cookie_format and
 * must be accepted (it is valid by construction), carry no CR, LF or other control byte,
 * and parse again to the same name and value. Then the raw input split at its first '='
 * is written: when accepted, the same holds. */
#include <errno.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/serve/cookie.h"
#include "tests/fuzz/ref.h"

static struct mr_arena arena;
static bool arena_ready;

static bool
ref_token(const char *s, size_t n)
{
    static const char sep[] = "()<>@,;:\\\"/[]?={} \t";
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || memchr(sep, c, sizeof(sep) - 1) != NULL)
            return false;
    }
    return true;
}

static bool
ref_octets(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\')
            return false;
    }
    return true;
}

static struct mr_cookie_opts
opts_from(uint8_t b)
{
    static const time_t dates[] = {0, 784111777, 253402300799, -1};
    return (struct mr_cookie_opts){
        .path = (b & 1) ? "/app" : NULL,
        .domain = (b & 2) ? "example.com" : NULL,
        .has_max_age = (b & 4) != 0,
        .max_age_s = (b & 8) ? 0 : 86400,
        .expires = dates[(b >> 4) & 3],
        .samesite = (enum mr_samesite)((b >> 6) % 3),
        .is_https = true,
        .script_visible = (b & 0x80) != 0,
    };
}

/* Writes name=value, then checks the output and that it parses back to the same pair. */
static void
write_back(const char *name, const char *value, const struct mr_cookie_opts *o, bool must)
{
    struct mr_buf b;
    mr_buf_init(&b, &arena, 16);
    int rc = mr_cookie_format(&b, name, value, o);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    FUZZ_CHECK(!must || rc == 0 || strncmp(name, "__Host-", 7) == 0);
    const char *s = mr_buf_cstr(&b);
    FUZZ_CHECK(s != NULL);
    if (rc != 0) {
        FUZZ_CHECK(b.len == 0);
        return;
    }
    FUZZ_CHECK(ref_token(name, strlen(name)) && ref_octets(value, strlen(value)));
    for (size_t i = 0; i < b.len; i++)
        FUZZ_CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f);
    size_t nl = strlen(name), vl = strlen(value);
    FUZZ_CHECK(strncmp(s, name, nl) == 0 && s[nl] == '=');
    FUZZ_CHECK(strncmp(s + nl + 1, value, vl) == 0 && s[nl + 1 + vl] == ';');
    struct mr_cookies c;
    FUZZ_CHECK(mr_cookie_parse(&c, s, 1, &arena) == 0);
    FUZZ_CHECK(c.n == 1 && strcmp(c.items[0].name, name) == 0);
    FUZZ_CHECK(strcmp(c.items[0].value, value) == 0);
}

static void
check_parse(const char *h, size_t max, struct mr_cookies *c)
{
    size_t len = strlen(h), pieces = 1, blank = 0;
    for (size_t i = 0; i < len; i++)
        pieces += h[i] == ';';
    for (size_t i = 0, start = 0; i <= len; i++) {
        if (i < len && h[i] != ';')
            continue;
        blank += strspn(h + start, " \t") >= i - start;
        start = i + 1;
    }
    FUZZ_CHECK(c->n <= max);
    FUZZ_CHECK(c->n + c->n_dropped + c->n_skipped + blank == pieces || len == 0 || max == 0);
    for (size_t i = 0; i < c->n; i++) {
        const struct mr_cookie *k = &c->items[i];
        FUZZ_CHECK(k->name[k->name_len] == '\0' && k->value[k->value_len] == '\0');
        FUZZ_CHECK(strlen(k->name) == k->name_len && strlen(k->value) == k->value_len);
        FUZZ_CHECK(ref_token(k->name, k->name_len) && ref_octets(k->value, k->value_len));
        const char *first = mr_cookie_get(c, k->name);
        for (size_t j = 0; j < c->n; j++)
            if (strcmp(c->items[j].name, k->name) == 0) {
                FUZZ_CHECK(first == c->items[j].value);
                break;
            }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (!arena_ready) {
        mr_arena_init(&arena, 64, 1 << 20);
        arena_ready = true;
    }
    size_t max = data[0] % 16;
    struct mr_cookie_opts o = opts_from(data[1]);
    char *h = strndup((const char *)data + 2, size - 2);
    FUZZ_CHECK(h != NULL);

    struct mr_cookies c;
    FUZZ_CHECK(mr_cookie_parse(&c, h, max, &arena) == 0);
    check_parse(h, max, &c);
    for (size_t i = 0; i < c.n; i++)
        write_back(c.items[i].name, c.items[i].value, &o, true);

    char *eq = strchr(h, '=');
    if (eq != NULL) {
        *eq = '\0';
        write_back(h, eq + 1, &o, false);
        write_back(h, eq + 1, NULL, false);
    }
    free(h);
    mr_arena_reset(&arena);
    return 0;
}
