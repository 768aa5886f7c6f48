/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_validate: mr_valid_run over a fixed table of every type, with fuzzed values. Input: a
 * byte choosing the arena ceiling (so the -ENOMEM paths run too), a byte whose bit i says
 * whether row i is present, then the values of rows 0, 1, ... separated by '\n' (a row with no
 * piece left is absent). Each row's verdict and reason are recomputed by a reference written
 * in another shape (strtoll, strcasecmp, byte tables, a hand-made matcher for the pattern).
 * Invariants: 0 exactly when the reference finds every row valid, and then the typed values
 * agree with it; 400 otherwise, with a body that parses strictly as
 * {"error":"invalid input","fields":[{"name":..,"in":..,"reason":..},...]} and lists exactly
 * the bad rows in order, each with the reference's reason; -ENOMEM only under a small
 * ceiling. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/serve/validate.h"
#include "tests/fuzz/ref.h"

static const char *const colors[] = {"red", "green", "blue", NULL};
static const struct mr_input spec[] = {
    MR_IN_INT("id", MR_FROM_PATH, 1, 10000, MR_REQUIRED),
    MR_IN_INT("n", MR_FROM_QUERY, 0, 0, MR_DEFAULT("-7")),
    MR_IN_STR("title", MR_FROM_FORM, 1, 8, NULL, MR_OPTIONAL),
    MR_IN_STR("slug", MR_FROM_QUERY, 0, 0, "[a-z0-9-]+", MR_OPTIONAL),
    MR_IN_ENUM("color", MR_FROM_JSON, colors, MR_DEFAULT("green")),
    MR_IN_BOOL("draft", MR_FROM_QUERY, MR_OPTIONAL),
    MR_IN_EMAIL("email", MR_FROM_FORM, MR_REQUIRED),
    MR_IN_STR("a\"b\\", MR_FROM_COOKIE, 0, 0, NULL, MR_OPTIONAL),
    MR_IN_END,
};
#define N_ROWS 8
static const char *const in_names[] = {"path", "query", "form", "json", "cookie"};

static struct mr_valid *valid;
static struct mr_arena arenas[3];
static const size_t ceilings[3] = {512, 2048, 1 << 20};

struct field_in {
    const char *s; /* NUL-terminated copy; NULL when absent */
    size_t len;
};

static const char *
get(void *arg, enum mr_source from, const char *name, size_t *len)
{
    const struct field_in *f = arg;
    for (int i = 0; i < N_ROWS; i++) {
        if (spec[i].from == from && strcmp(spec[i].name, name) == 0) {
            *len = f[i].len;
            return f[i].s;
        }
    }
    FUZZ_CHECK(0 && "get asked for a row not in the table");
    return NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct mr_err err;
    FUZZ_CHECK(mr_valid_compile(spec, &valid, &err) == 0);
    for (int i = 0; i < 3; i++)
        mr_arena_init(&arenas[i], 64, ceilings[i]);
    return 0;
}

/* ---- The reference ------------------------------------------------------------------------ */

static bool
ref_int(const char *s, size_t len, long long *out)
{
    if (len == 0 || memchr(s, '\0', len) != NULL)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(s[i] >= '0' && s[i] <= '9') && !(i == 0 && (s[i] == '+' || s[i] == '-')))
            return false;
    if (len == 1 && (s[0] == '+' || s[0] == '-'))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno == ERANGE || end != s + len)
        return false;
    *out = v;
    return true;
}

static size_t
ref_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x80 || (unsigned char)s[i] >= 0xc0)
            n++;
    return n;
}

static bool
ref_text(const char *s, size_t len)
{
    return memchr(s, '\0', len) == NULL && ref_utf8_valid((const unsigned char *)s, len);
}

static bool
in_set(char c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}

static bool
ref_email(const char *s, size_t len)
{
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    if (len > 254 || memchr(s, '\0', len) != NULL)
        return false;
    const char *at = strchr(s, '@');
    if (at == NULL || strchr(at + 1, '@') != NULL)
        return false;
    size_t local = (size_t)(at - s);
    if (local < 1 || local > 64 || s[0] == '.' || s[local - 1] == '.' ||
        memmem(s, local, "..", 2) != NULL)
        return false;
    for (size_t i = 0; i < local; i++)
        if (!in_set(s[i], alnum) && !in_set(s[i], ".!#$%&'*+/=?^_`{|}~-"))
            return false;
    /* Labels: walk the domain with strcspn. */
    const char *d = at + 1;
    int labels = 0;
    bool digits_only = false;
    for (;;) {
        size_t n = strcspn(d, ".");
        if (n < 1 || n > 63 || d[0] == '-' || d[n - 1] == '-')
            return false;
        digits_only = strspn(d, "0123456789") == n;
        for (size_t i = 0; i < n; i++)
            if (!in_set(d[i], alnum) && d[i] != '-')
                return false;
        labels++;
        if (d[n] == '\0')
            break;
        d += n + 1;
    }
    return labels >= 2 && !digits_only;
}

/* The reason the reference gives row i, or NULL; fills the typed value it expects. */
static const char *
ref_reason(int i, const struct field_in *f, long long *ival)
{
    const char *s = f->s;
    size_t len = f->len;
    bool req = spec[i].required;
    if (s == NULL)
        return req ? "required" : NULL;
    switch (i) {
    case 0:
        if (!ref_int(s, len, ival))
            return "must be an integer between 1 and 10000";
        return *ival >= 1 && *ival <= 10000 ? NULL : "must be between 1 and 10000";
    case 1:
        return ref_int(s, len, ival) ? NULL : "must be an integer";
    case 2:
        if (!ref_text(s, len))
            return "must be valid UTF-8 text";
        if (ref_chars(s, len) < 1)
            return "must be at least 1 character";
        return ref_chars(s, len) > 8 ? "must be at most 8 characters" : NULL;
    case 3:
        if (!ref_text(s, len))
            return "must be valid UTF-8 text";
        if (len == 0 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != len)
            return "must match the pattern";
        return NULL;
    case 4:
        for (long long k = 0; colors[k] != NULL; k++) {
            if (strlen(colors[k]) == len && memcmp(colors[k], s, len) == 0) {
                *ival = k;
                return NULL;
            }
        }
        return "must be one of: red, green, blue";
    case 5: {
        static const char *const t[] = {"true", "1", "on", "yes"}, *const fl[] = {"false", "0",
                                                                                  "off", "no"};
        for (int k = 0; k < 4; k++) {
            if (strlen(t[k]) == len && strcasecmp(t[k], s) == 0) {
                *ival = 1;
                return NULL;
            }
            if (strlen(fl[k]) == len && strcasecmp(fl[k], s) == 0) {
                *ival = 0;
                return NULL;
            }
        }
        return "must be true or false";
    }
    case 6:
        return ref_email(s, len) ? NULL : "must be an email address";
    default:
        return ref_text(s, len) ? NULL : "must be valid UTF-8 text";
    }
}

/* ---- A strict parse of the error body ------------------------------------------------------ */

struct scan {
    const char *p, *end;
};

static void
expect(struct scan *sc, const char *lit)
{
    size_t n = strlen(lit);
    FUZZ_CHECK((size_t)(sc->end - sc->p) >= n && memcmp(sc->p, lit, n) == 0);
    sc->p += n;
}

/* A JSON string at sc->p, decoded into out (cap bytes, NUL-terminated). */
static void
string(struct scan *sc, char *out, size_t cap)
{
    size_t o = 0;
    expect(sc, "\"");
    for (;;) {
        FUZZ_CHECK(sc->p < sc->end && o + 1 < cap);
        unsigned char c = (unsigned char)*sc->p++;
        FUZZ_CHECK(c >= 0x20);
        if (c == '"')
            break;
        if (c == '\\') {
            FUZZ_CHECK(sc->p < sc->end);
            c = (unsigned char)*sc->p++;
            FUZZ_CHECK(c == '"' || c == '\\'); /* names and reasons need no other escape */
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
}

static void
check_body(const struct mr_buf *b, const char *const *want_reason)
{
    struct scan sc = {b->data, b->data + b->len};
    char name[64], in[16], reason[128];
    expect(&sc, "{\"error\":\"invalid input\",\"fields\":[");
    bool first = true;
    for (int i = 0; i < N_ROWS; i++) {
        if (want_reason[i] == NULL)
            continue;
        if (!first)
            expect(&sc, ",");
        first = false;
        expect(&sc, "{\"name\":");
        string(&sc, name, sizeof(name));
        expect(&sc, ",\"in\":");
        string(&sc, in, sizeof(in));
        expect(&sc, ",\"reason\":");
        string(&sc, reason, sizeof(reason));
        expect(&sc, "}");
        FUZZ_CHECK(strcmp(name, spec[i].name) == 0);
        FUZZ_CHECK(strcmp(in, in_names[spec[i].from]) == 0);
        FUZZ_CHECK(strcmp(reason, want_reason[i]) == 0);
    }
    FUZZ_CHECK(!first);
    expect(&sc, "]}");
    FUZZ_CHECK(sc.p == sc.end);
}

static void
check_values(const struct mr_values *vals, const struct field_in *f, const long long *ival)
{
    FUZZ_CHECK(vals->n == N_ROWS);
    for (int i = 0; i < N_ROWS; i++) {
        bool given = f[i].s != NULL;
        FUZZ_CHECK(mr_values_has(vals, i) == (given || spec[i].def != NULL));
        size_t len = 0;
        const char *s;
        switch (spec[i].type) {
        case MR_V_INT:
            FUZZ_CHECK(mr_values_int(vals, i) == (given ? ival[i] : i == 1 ? -7 : 0));
            break;
        case MR_V_ENUM:
            FUZZ_CHECK(mr_values_enum(vals, i) == (given ? ival[i] : 1));
            break;
        case MR_V_BOOL:
            FUZZ_CHECK(mr_values_bool(vals, i) == (given && ival[i] != 0));
            break;
        default:
            s = mr_values_str(vals, i, &len);
            FUZZ_CHECK(given ? s != NULL && len == f[i].len && memcmp(s, f[i].s, len) == 0 &&
                                   s[len] == '\0'
                             : s == NULL);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    int ceiling = data[0] % 3;
    struct mr_arena *a = &arenas[ceiling];
    unsigned mask = data[1];
    char *rest = fuzz_dup_exact(data + 2, size - 2);
    struct field_in f[N_ROWS] = {{0}};
    char *copies[N_ROWS] = {0};
    size_t pos = 0, n = size - 2;
    for (int i = 0; i < N_ROWS && pos <= n; i++) {
        const char *nl = memchr(rest + pos, '\n', n - pos);
        size_t end = nl != NULL ? (size_t)(nl - rest) : n;
        if (mask & (1u << i)) {
            copies[i] = malloc(end - pos + 1);
            FUZZ_CHECK(copies[i] != NULL);
            memcpy(copies[i], rest + pos, end - pos);
            copies[i][end - pos] = '\0';
            f[i] = (struct field_in){copies[i], end - pos};
        }
        pos = end + 1;
    }

    const char *want[N_ROWS];
    long long ival[N_ROWS] = {0};
    bool all_ok = true;
    for (int i = 0; i < N_ROWS; i++) {
        want[i] = ref_reason(i, &f[i], &ival[i]);
        all_ok = all_ok && want[i] == NULL;
    }

    struct mr_buf b;
    struct mr_values vals;
    mr_buf_init(&b, a, 32);
    int rc = mr_valid_run(valid, get, f, a, &vals, &b);
    FUZZ_CHECK(rc == 0 || rc == 400 || rc == -ENOMEM);
    if (rc == -ENOMEM)
        FUZZ_CHECK(ceilings[ceiling] < (1 << 20));
    if (rc == 0) {
        FUZZ_CHECK(all_ok);
        FUZZ_CHECK(b.len == 0);
        check_values(&vals, f, ival);
    }
    if (rc == 400) {
        FUZZ_CHECK(!all_ok && !b.failed);
        check_body(&b, want);
    }
    for (int i = 0; i < N_ROWS; i++)
        free(copies[i]);
    free(rest);
    mr_arena_reset(a);
    return 0;
}
