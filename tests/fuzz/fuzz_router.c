/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_router: the compiled router against a reference written from router.h's rules in
 * another shape: a linear scan that matches each pattern on its own and picks, among the
 * rows that take the method, the one whose parameter kinds are smallest in lexicographic
 * order (static < int < plain < rest, a pattern that ends before another first); the trie's
 * precedence walk must agree with it.
 *
 * Input: a match, then optionally "\n\n" and a table.
 * - The match is the method up to the first NUL byte, then the path (any bytes, NULs
 *   included), matched against a fixed table of 22 patterns built once. Method and path are
 *   heap blocks of exactly their size, so ASan sees any read past them. Invariants: the
 *   answer (row, -404, -405 with its Allow text, -400) agrees with the reference, and so do
 *   the parameters' names, decoded values and int values.
 * - The table is up to 24 lines "METHOD PATTERN" given to mr_router_build. Invariants: it
 *   builds exactly when the reference finds every row valid and no two rows of one method
 *   with the same shape; a refusal names a row; a built table answers the match above and a
 *   path made from each of its patterns as the reference does; nothing leaks. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "app/serve/router.h"
#include "tests/fuzz/ref.h"

#define MAX_ROWS 24
#define MAX_SEGS 64

static const struct mr_route_row fixed[] = {
    {"GET", "/"},
    {"GET", "/plaintext"},
    {"GET", "/json"},
    {"GET", "/updates"},
    {"POST", "/updates"},
    {"PUT", "/updates"},
    {"GET", "/users/{id:int}"},
    {"GET", "/users/{name}"},
    {"DELETE", "/users/{id:int}"},
    {"GET", "/users/me"},
    {"GET", "/users/{id:int}/posts/{post}"},
    {"HEAD", "/users/{name}/avatar"},
    {"GET", "/users/{name}/avatar"},
    {"GET", "/files/{path*}"},
    {"POST", "/files/{dir}/upload"},
    {"GET", "/a/{x}/{y:int}/{z*}"},
    {"OPTIONS", "/opt/{any*}"},
    {"GET", "/trail/"},
    {"GET", "/trail"},
    {"PATCH", "/n/{n:int}/m/{m:int}"},
    {"GET", "/n/{n:int}/m/me"},
    {"PATCH", "/{p}/m/{q}"},
};
#define N_FIXED (sizeof(fixed) / sizeof(fixed[0]))

static const char *const ref_methods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                          "PATCH", "DELETE", "OPTIONS"};

/* ---- the reference ----------------------------------------------------------------------- */

enum { R_STATIC, R_INT, R_PARAM, R_REST };

struct rseg {
    int kind;
    const char *text; /* the static text, or the name */
    size_t len;
};

struct rpat {
    struct rseg s[MAX_SEGS + 1];
    int n;
};

static bool
ref_name(const char *s, size_t len)
{
    if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z')))
            return false;
    }
    return true;
}

/* One segment: "text" with no brace, or "{" name ["*" | ":int"] "}". */
static bool
ref_seg(const char *s, size_t len, struct rseg *out)
{
    bool braces = memchr(s, '{', len) != NULL || memchr(s, '}', len) != NULL;
    if (!braces) {
        *out = (struct rseg){R_STATIC, s, len};
        return true;
    }
    if (len < 3 || s[0] != '{' || s[len - 1] != '}')
        return false;
    const char *in = s + 1;
    size_t n = len - 2;
    if (n > 4 && memcmp(in + n - 4, ":int", 4) == 0)
        *out = (struct rseg){R_INT, in, n - 4};
    else if (in[n - 1] == '*')
        *out = (struct rseg){R_REST, in, n - 1};
    else
        *out = (struct rseg){R_PARAM, in, n};
    return ref_name(out->text, out->len);
}

/* Whether pattern is valid; its segments in *p. */
static bool
ref_parse(const char *pattern, struct rpat *p)
{
    p->n = 0;
    if (pattern == NULL || pattern[0] != '/')
        return false;
    const char *s = pattern + 1;
    size_t total = strlen(s);
    if (total == 0)
        return true;
    int params = 0;
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < total && s[j] != '/')
            j++;
        if (p->n == MAX_SEGS || !ref_seg(s + i, j - i, &p->s[p->n]))
            return false;
        bool last = j == total;
        const struct rseg *g = &p->s[p->n++];
        if ((g->kind == R_STATIC && g->len == 0 && !last) || (g->kind == R_REST && !last))
            return false;
        if (g->kind != R_STATIC) {
            params++;
            for (int k = 0; k + 1 < p->n; k++)
                if (p->s[k].kind != R_STATIC && p->s[k].len == g->len &&
                    memcmp(p->s[k].text, g->text, g->len) == 0)
                    return false;
        }
        if (last)
            break;
        i = j + 1;
    }
    return p->n <= MR_ROUTE_MAX_SEGMENTS && params <= MR_ROUTE_MAX_PARAMS;
}

static bool
ref_same_shape(const struct rpat *a, const struct rpat *b)
{
    if (a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++) {
        if (a->s[i].kind != b->s[i].kind)
            return false;
        if (a->s[i].kind == R_STATIC &&
            (a->s[i].len != b->s[i].len || memcmp(a->s[i].text, b->s[i].text, a->s[i].len) != 0))
            return false;
    }
    return true;
}

static int
ref_method(const char *m)
{
    for (int i = 0; m != NULL && i < 7; i++)
        if (strcmp(m, ref_methods[i]) == 0)
            return i;
    return -1;
}

/* An int by comparing its digits, as text, with the limits of long long. */
static bool
ref_int(const char *s, size_t len, long long *v)
{
    bool neg = len > 0 && s[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i == len)
        return false;
    for (size_t k = i; k < len; k++)
        if (s[k] < '0' || s[k] > '9')
            return false;
    while (i + 1 < len && s[i] == '0')
        i++;
    const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
    size_t n = len - i;
    if (n > 19 || (n == 19 && memcmp(s + i, lim, 19) > 0))
        return false;
    char buf[32];
    (void)snprintf(buf, sizeof(buf), "%s%.*s", neg ? "-" : "", (int)n, s + i);
    *v = strtoll(buf, NULL, 10);
    return true;
}

struct rcap {
    int kind;
    const char *raw;
    size_t len;
    long long iv;
};

struct rmatch {
    struct rcap caps[MAX_SEGS];
    int n_caps;
    int kinds[MAX_SEGS + 1];
    int n_kinds;
};

/* Whether pattern p matches path[0..len) (which starts with '/'). */
static bool
ref_row_matches(const struct rpat *p, const char *path, size_t len, struct rmatch *m)
{
    m->n_caps = 0;
    m->n_kinds = 0;
    size_t pos = 1;
    bool at_end = len == 1; /* "/" has no segment */
    for (int i = 0; i < p->n; i++) {
        const struct rseg *g = &p->s[i];
        m->kinds[m->n_kinds++] = g->kind;
        if (g->kind == R_REST) {
            m->caps[m->n_caps++] =
                (struct rcap){R_REST, path + (at_end ? len : pos), at_end ? 0 : len - pos, 0};
            return true;
        }
        if (at_end)
            return false;
        size_t j = pos;
        while (j < len && path[j] != '/')
            j++;
        const char *seg = path + pos;
        size_t n = j - pos;
        long long iv = 0;
        if (g->kind == R_STATIC && (n != g->len || memcmp(seg, g->text, n) != 0))
            return false;
        if (g->kind == R_INT && !ref_int(seg, n, &iv))
            return false;
        if (g->kind == R_PARAM && n == 0)
            return false;
        if (g->kind != R_STATIC)
            m->caps[m->n_caps++] = (struct rcap){g->kind, seg, n, iv};
        at_end = j == len;
        pos = j + 1;
    }
    return at_end;
}

/* Lexicographic on the kinds; a prefix comes first. */
static int
ref_kinds_cmp(const struct rmatch *a, const struct rmatch *b)
{
    for (int i = 0; i < a->n_kinds && i < b->n_kinds; i++)
        if (a->kinds[i] != b->kinds[i])
            return a->kinds[i] < b->kinds[i] ? -1 : 1;
    return a->n_kinds == b->n_kinds ? 0 : (a->n_kinds < b->n_kinds ? -1 : 1);
}

static size_t
ref_slashes(const unsigned char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == '/';
    return n;
}

/* The reference's answer, and on a row its captures (decoded into dec[i], NUL-terminated). */
struct ranswer {
    int rc;
    unsigned allow;
    struct rmatch m;
    unsigned char *dec[MAX_SEGS];
    size_t dec_len[MAX_SEGS];
};

static void
ref_answer_free(struct ranswer *a)
{
    for (int i = 0; i < a->m.n_caps; i++)
        free(a->dec[i]);
    a->m.n_caps = 0;
}

static void
ref_route(const struct mr_route_row *rows, const struct rpat *pats, size_t n, const char *method,
          const char *path, size_t len, struct ranswer *out)
{
    int want = ref_method(method);
    out->rc = -404;
    out->allow = 0;
    out->m.n_caps = 0;
    if (len == 0 || path[0] != '/')
        return;
    struct rmatch best, cur;
    int best_row = -1;
    for (size_t i = 0; i < n; i++) {
        if (!ref_row_matches(&pats[i], path, len, &cur))
            continue;
        int m = ref_method(rows[i].method);
        out->allow |= 1u << m;
        if (m == 0)
            out->allow |= 1u << 1; /* HEAD with GET */
        bool takes = m == want || (want == 1 && m == 0);
        if (!takes)
            continue;
        int c = best_row < 0 ? -1 : ref_kinds_cmp(&cur, &best);
        /* On the same shape HEAD's own row beats GET's. */
        if (c < 0 || (c == 0 && m == want)) {
            best = cur;
            best_row = (int)i;
        }
    }
    if (best_row < 0) {
        out->rc = out->allow ? -405 : -404;
        return;
    }
    out->rc = best_row;
    out->m = best;
    for (int i = 0; i < best.n_caps; i++) {
        const struct rcap *c = &best.caps[i];
        out->dec[i] = malloc(c->len + 1);
        FUZZ_CHECK(out->dec[i] != NULL);
        bool ok = ref_pct_decode((const unsigned char *)c->raw, c->len, false, out->dec[i],
                                 &out->dec_len[i]);
        ok = ok && memchr(out->dec[i], 0, out->dec_len[i]) == NULL;
        ok = ok && ref_slashes(out->dec[i], out->dec_len[i]) ==
                       (c->kind == R_REST ? ref_slashes((const unsigned char *)c->raw, c->len) : 0);
        if (!ok)
            out->rc = -400;
    }
}

/* ---- the checks ---------------------------------------------------------------------------- */

static struct mr_router *fixed_router;
static struct rpat fixed_pats[N_FIXED];
static struct mr_arena arena;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct mr_err err;
    FUZZ_CHECK(mr_router_build(fixed, N_FIXED, sizeof(fixed[0]), &fixed_router, &err) == 0);
    for (size_t i = 0; i < N_FIXED; i++)
        FUZZ_CHECK(ref_parse(fixed[i].pattern, &fixed_pats[i]));
    mr_arena_init(&arena, 1 << 16, 1 << 26);
    return 0;
}

static void
allow_text(unsigned mask, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < 7; i++)
        if (mask & (1u << i)) {
            size_t o = strlen(out);
            (void)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", ref_methods[i]);
        }
}

static void
check_match(const struct mr_router *r, const struct mr_route_row *rows, const struct rpat *pats,
            size_t n, const char *method, const char *path, size_t len)
{
    struct mr_match m;
    memset(&m, 0xa5, sizeof(m));
    int rc = mr_router_match(r, method, path, len, &arena, &m);
    struct ranswer want;
    ref_route(rows, pats, n, method, path, len, &want);
    FUZZ_CHECK(rc == want.rc);
    if (rc == -405) {
        char allow[64];
        allow_text(want.allow, allow, sizeof(allow));
        FUZZ_CHECK(strcmp(m.allow, allow) == 0);
    }
    if (rc < 0) {
        FUZZ_CHECK(m.route == -1 && m.n_params == 0);
    } else {
        FUZZ_CHECK(m.route == rc && m.n_params == want.m.n_caps);
        int k = 0;
        for (int i = 0; i < pats[rc].n; i++) {
            const struct rseg *g = &pats[rc].s[i];
            if (g->kind == R_STATIC)
                continue;
            const struct mr_route_param *p = &m.params[k];
            FUZZ_CHECK(strlen(p->name) == g->len && memcmp(p->name, g->text, g->len) == 0);
            FUZZ_CHECK(p->value_len == want.dec_len[k]);
            FUZZ_CHECK(memcmp(p->value, want.dec[k], p->value_len + 1) == 0);
            FUZZ_CHECK(p->int_value == (g->kind == R_INT ? want.m.caps[k].iv : 0));
            k++;
        }
    }
    ref_answer_free(&want);
    mr_arena_reset(&arena);
}

/* A path made from pattern p: each parameter replaced by a value of its kind. */
static char *
path_of(const struct rpat *p, size_t *len)
{
    size_t cap = 2;
    for (int i = 0; i < p->n; i++)
        cap += p->s[i].len + 8;
    char *out = malloc(cap);
    FUZZ_CHECK(out != NULL);
    size_t o = 0;
    out[o++] = '/';
    for (int i = 0; i < p->n; i++) {
        const struct rseg *g = &p->s[i];
        if (i > 0)
            out[o++] = '/';
        const char *text = g->kind == R_INT ? "-7" : g->kind == R_PARAM ? "v%41" : "r/s";
        size_t tl = g->kind == R_STATIC ? g->len : strlen(text);
        memcpy(out + o, g->kind == R_STATIC ? g->text : text, tl);
        o += tl;
    }
    *len = o;
    return out;
}

/* Whether err.msg starts with one of the rows as "METHOD PATTERN". */
static bool
names_a_row(const char *msg, const struct mr_route_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char want[MR_ERR_LEN];
        (void)snprintf(want, sizeof(want), "%s %s", rows[i].method ? rows[i].method : "(no method)",
                       rows[i].pattern ? rows[i].pattern : "(no pattern)");
        if (strncmp(msg, want, strlen(want)) == 0)
            return true;
    }
    return false;
}

static void
check_table(const uint8_t *data, size_t size, const char *method, const char *path, size_t path_len)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    struct mr_route_row rows[MAX_ROWS];
    size_t n = 0;
    for (char *line = text; line != NULL && n < MAX_ROWS;) {
        char *nl = strchr(line, '\n');
        if (nl == NULL && *line == '\0' && n > 0)
            break; /* the text's final newline */
        if (nl != NULL)
            *nl++ = '\0';
        char *sp = strchr(line, ' ');
        if (sp != NULL)
            *sp = '\0';
        rows[n++] = (struct mr_route_row){line, sp ? sp + 1 : NULL};
        line = nl;
    }
    struct rpat pats[MAX_ROWS];
    bool valid = true;
    for (size_t i = 0; i < n; i++) {
        valid = valid && ref_method(rows[i].method) >= 0 && ref_parse(rows[i].pattern, &pats[i]);
        for (size_t j = 0; valid && j < i; j++)
            valid = !(strcmp(rows[i].method, rows[j].method) == 0 &&
                      ref_same_shape(&pats[i], &pats[j]));
    }
    struct mr_router *r = NULL;
    struct mr_err err = {{0}};
    int rc = mr_router_build(rows, n, sizeof(rows[0]), &r, &err);
    FUZZ_CHECK((rc == 0) == valid);
    if (rc != 0) {
        FUZZ_CHECK(rc == -EINVAL && r == NULL && names_a_row(err.msg, rows, n));
        free(text);
        return;
    }
    check_match(r, rows, pats, n, method, path, path_len);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *p = path_of(&pats[i], &len);
        check_match(r, rows, pats, n, rows[i].method, p, len);
        free(p);
    }
    mr_router_free(&r);
    free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *sep = memmem(data, size, "\n\n", 2);
    size_t head = sep ? (size_t)(sep - data) : size;
    const uint8_t *nul = memchr(data, '\0', head);
    size_t method_len = nul ? (size_t)(nul - data) : head;
    size_t path_len = nul ? head - method_len - 1 : 0;
    char *method = malloc(method_len + 1);
    FUZZ_CHECK(method != NULL);
    memcpy(method, data, method_len);
    method[method_len] = '\0';
    char *path = fuzz_dup_exact(nul ? nul + 1 : data + head, path_len);

    check_match(fixed_router, fixed, fixed_pats, N_FIXED, method, path, path_len);
    if (sep != NULL)
        check_table(sep + 2, size - head - 2, method, path, path_len);
    free(path);
    free(method);
    return 0;
}
