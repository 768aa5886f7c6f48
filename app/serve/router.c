/* SPDX-License-Identifier: BSD-2-Clause */
/* router: a trie of path segments, built once (malloc) and read-only afterwards. A node's
 * children are its static segments, in an array sorted by length then bytes for a binary
 * search (and a hash table when there are many), then one child per parameter kind (int,
 * plain); a rest parameter and the end of a pattern are leaves on the node, each a small
 * table of row index per method. Matching is a depth-first walk in precedence order; the
 * trie is a tree, so a match visits each node at most once and its cost depends on the path
 * and the patterns that share its prefix, not on the size of the table. Captures are
 * remembered as raw slices of the path and decoded only for the route that wins. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/serve/request.h"
#include "app/serve/router.h"

enum kind { K_STATIC, K_INT, K_PARAM, K_REST };

/* Also the order of the Allow list. */
static const char *const method_names[] = {"GET",   "HEAD",   "POST",   "PUT",
                                           "PATCH", "DELETE", "OPTIONS"};
#define N_METHODS ((int)(sizeof(method_names) / sizeof(method_names[0])))
#define M_GET 0
#define M_HEAD 1
/* A node with more static children than this also gets a hash table, so that a wide level
 * (a hundred resources under /api/v1) costs one probe rather than a binary search. */
#define HASH_MIN 8

struct leaf {
    int rows[N_METHODS]; /* row index per method, -1 for none */
    unsigned mask;       /* methods that have a row, HEAD with GET: the Allow list */
};

struct node;

struct edge {
    char *seg;
    size_t len;
    struct node *child;
};

struct node {
    struct edge *statics; /* sorted by (len, bytes) */
    size_t n_statics;
    size_t cap_statics;
    uint32_t *hash; /* past HASH_MIN statics: index + 1 into statics, open addressing */
    uint32_t hash_mask;
    struct node *int_child;
    struct node *param_child;
    struct leaf *end;  /* rows whose pattern ends at this node */
    struct leaf *rest; /* rows whose pattern ends at this node with {name*} */
};

struct row_names {
    int n;
    char *names[MR_ROUTE_MAX_PARAMS];
};

struct mr_router {
    struct node root;
    struct row_names *rows; /* per row: its parameters' names, in order */
    size_t n_rows;
};

/* ---- build ---------------------------------------------------------------------------- */

struct seg {
    enum kind kind;
    const char *text; /* the static text, or the name */
    size_t len;
};

struct pattern {
    struct seg segs[MR_ROUTE_MAX_SEGMENTS];
    int n_segs;
};

static const struct mr_route_row *
row_at(const struct mr_route_row *rows, size_t stride, size_t i)
{
    return (const struct mr_route_row *)(const void *)((const char *)rows + i * stride);
}

/* Also on every match: the first letter leaves at most two names to compare. */
static int
method_index(const char *method)
{
    if (method == NULL)
        return -1;
    for (int i = 0; i < N_METHODS; i++)
        if (method[0] == method_names[i][0] && strcmp(method, method_names[i]) == 0)
            return i;
    return -1;
}

/* Sets err to "METHOD PATTERN: reason" and returns -EINVAL. */
static int MR_PRINTF(3, 4)
    bad_row(struct mr_err *err, const struct mr_route_row *row, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return mr_err_set(err, -EINVAL, "%s %s: %s", row->method ? row->method : "(no method)",
                      row->pattern ? row->pattern : "(no pattern)", why);
}

static bool
name_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return len > 0;
}

/* One segment s[0..len) of row's pattern into *out. */
static int
parse_segment(const struct mr_route_row *row, const char *s, size_t len, struct seg *out,
              struct mr_err *err)
{
    bool braced = len >= 2 && s[0] == '{' && s[len - 1] == '}';
    const char *in = braced ? s + 1 : s;
    size_t in_len = braced ? len - 2 : len;
    if (memchr(in, '{', in_len) != NULL || memchr(in, '}', in_len) != NULL)
        return bad_row(err, row, "malformed braces in '%.*s'", (int)len, s);
    *out = (struct seg){K_STATIC, s, len};
    if (!braced)
        return 0;
    if (in_len == 0)
        return bad_row(err, row, "empty braces");
    const char *colon = memchr(in, ':', in_len);
    if (colon != NULL) {
        const char *type = colon + 1;
        size_t type_len = in_len - (size_t)(type - in);
        if (type_len != 3 || memcmp(type, "int", 3) != 0)
            return bad_row(err, row, "unknown parameter type '%.*s' (int is the only one)",
                           (int)type_len, type);
        *out = (struct seg){K_INT, in, (size_t)(colon - in)};
    } else if (in[in_len - 1] == '*') {
        *out = (struct seg){K_REST, in, in_len - 1};
    } else {
        *out = (struct seg){K_PARAM, in, in_len};
    }
    if (!name_ok(out->text, out->len))
        return bad_row(err, row, "bad parameter name '%.*s' (want [A-Za-z_][A-Za-z0-9_]*)",
                       (int)out->len, out->text);
    return 0;
}

/* Checks what spans segments: count, rest last, empty segments, names unique. */
static int
check_pattern(const struct mr_route_row *row, const struct pattern *p, struct mr_err *err)
{
    int n_params = 0;
    for (int i = 0; i < p->n_segs; i++) {
        const struct seg *s = &p->segs[i];
        bool last = i == p->n_segs - 1;
        if (s->kind == K_STATIC && s->len == 0 && !last)
            return bad_row(err, row, "empty segment");
        if (s->kind == K_REST && !last)
            return bad_row(err, row, "{%.*s*} must be the last segment", (int)s->len, s->text);
        if (s->kind == K_STATIC)
            continue;
        if (++n_params > MR_ROUTE_MAX_PARAMS)
            return bad_row(err, row, "more than %d parameters", MR_ROUTE_MAX_PARAMS);
        for (int j = 0; j < i; j++)
            if (p->segs[j].kind != K_STATIC && p->segs[j].len == s->len &&
                memcmp(p->segs[j].text, s->text, s->len) == 0)
                return bad_row(err, row, "duplicate parameter name '%.*s'", (int)s->len, s->text);
    }
    return 0;
}

static int
parse_pattern(const struct mr_route_row *row, struct pattern *p, struct mr_err *err)
{
    const char *s = row->pattern;
    p->n_segs = 0;
    if (s == NULL || s[0] != '/')
        return bad_row(err, row, "a pattern starts with '/'");
    s++;
    if (*s == '\0')
        return 0; /* "/": no segment */
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        if (p->n_segs == MR_ROUTE_MAX_SEGMENTS)
            return bad_row(err, row, "more than %d segments", MR_ROUTE_MAX_SEGMENTS);
        int rc = parse_segment(row, s, len, &p->segs[p->n_segs], err);
        if (rc < 0)
            return rc;
        p->n_segs++;
        if (slash == NULL)
            break;
        s = slash + 1;
    }
    return check_pattern(row, p, err);
}

/* Length first: most segments differ there, and it spares the call to memcmp. */
static int
seg_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
    if (a_len != b_len)
        return a_len < b_len ? -1 : 1;
    if (a_len == 0 || a[0] != b[0])
        return a_len == 0 ? 0 : ((unsigned char)a[0] < (unsigned char)b[0] ? -1 : 1);
    return memcmp(a, b, a_len);
}

/* FNV-1a. */
static uint32_t
seg_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Index of the static child `seg`, or where it would go (*found false). */
static size_t
static_pos(const struct node *n, const char *seg, size_t len, bool *found)
{
    size_t lo = 0, hi = n->n_statics;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = seg_cmp(n->statics[mid].seg, n->statics[mid].len, seg, len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* A NUL-terminated copy of s[0..len) (s may be anything when len is 0). */
static char *
dup_text(const char *s, size_t len)
{
    char *copy = mr_xmalloc(len + 1);
    if (len > 0)
        memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

static struct node *
static_child_add(struct node *n, const char *seg, size_t len)
{
    bool found;
    size_t at = static_pos(n, seg, len, &found);
    if (found)
        return n->statics[at].child;
    if (n->n_statics == n->cap_statics) {
        size_t cap = n->cap_statics ? 2 * n->cap_statics : 4;
        struct edge *grown = mr_xcalloc(cap, sizeof(*grown));
        if (n->n_statics > 0)
            memcpy(grown, n->statics, n->n_statics * sizeof(*grown));
        free(n->statics);
        n->statics = grown;
        n->cap_statics = cap;
    }
    memmove(&n->statics[at + 1], &n->statics[at], (n->n_statics - at) * sizeof(*n->statics));
    n->statics[at] = (struct edge){dup_text(seg, len), len, mr_xcalloc(1, sizeof(struct node))};
    n->n_statics++;
    return n->statics[at].child;
}

static struct node *
kind_child(struct node **slot)
{
    if (*slot == NULL)
        *slot = mr_xcalloc(1, sizeof(**slot));
    return *slot;
}

static struct leaf *
leaf_get(struct leaf **slot)
{
    if (*slot == NULL) {
        *slot = mr_xcalloc(1, sizeof(**slot));
        for (int i = 0; i < N_METHODS; i++)
            (*slot)->rows[i] = -1;
    }
    return *slot;
}

/* Adds row i (already parsed into p) to the trie. */
static int
insert_row(struct mr_router *r, const struct mr_route_row *rows, size_t stride, size_t i,
           const struct pattern *p, struct mr_err *err)
{
    const struct mr_route_row *row = row_at(rows, stride, i);
    struct node *n = &r->root;
    struct leaf **slot = &n->end;
    struct row_names *names = &r->rows[i];
    for (int k = 0; k < p->n_segs; k++) {
        const struct seg *s = &p->segs[k];
        if (s->kind != K_STATIC) {
            names->names[names->n++] = dup_text(s->text, s->len);
        }
        if (s->kind == K_STATIC)
            n = static_child_add(n, s->text, s->len);
        else if (s->kind == K_INT)
            n = kind_child(&n->int_child);
        else if (s->kind == K_PARAM)
            n = kind_child(&n->param_child);
        slot = s->kind == K_REST ? &n->rest : &n->end;
    }
    struct leaf *l = leaf_get(slot);
    int m = method_index(row->method);
    assert(m >= 0); /* checked by the caller */
    if (l->rows[m] >= 0) {
        const struct mr_route_row *was = row_at(rows, stride, (size_t)l->rows[m]);
        return mr_err_set(err, -EINVAL, "%s %s conflicts with %s %s", was->method, was->pattern,
                          row->method, row->pattern);
    }
    l->rows[m] = (int)i;
    l->mask |= 1u << m;
    if (m == M_GET)
        l->mask |= 1u << M_HEAD;
    return 0;
}

/* Once every row is in: the hash tables of the wide nodes (at most half full). */
static void
node_seal(struct node *n)
{
    if (n->n_statics > HASH_MIN) {
        size_t cap = 16;
        while (cap < 2 * n->n_statics)
            cap *= 2;
        n->hash = mr_xcalloc(cap, sizeof(*n->hash));
        n->hash_mask = (uint32_t)(cap - 1);
        for (size_t i = 0; i < n->n_statics; i++) {
            uint32_t h = seg_hash(n->statics[i].seg, n->statics[i].len) & n->hash_mask;
            while (n->hash[h] != 0)
                h = (h + 1) & n->hash_mask;
            n->hash[h] = (uint32_t)(i + 1);
        }
    }
    for (size_t i = 0; i < n->n_statics; i++)
        node_seal(n->statics[i].child);
    if (n->int_child != NULL)
        node_seal(n->int_child);
    if (n->param_child != NULL)
        node_seal(n->param_child);
}

static void
node_fini(struct node *n)
{
    for (size_t i = 0; i < n->n_statics; i++) {
        free(n->statics[i].seg);
        node_fini(n->statics[i].child);
        free(n->statics[i].child);
    }
    free(n->statics);
    free(n->hash);
    struct node *kids[2] = {n->int_child, n->param_child};
    for (int i = 0; i < 2; i++) {
        if (kids[i] != NULL)
            node_fini(kids[i]);
        free(kids[i]);
    }
    free(n->end);
    free(n->rest);
}

void
mr_router_free(struct mr_router **r)
{
    if (r == NULL || *r == NULL)
        return;
    node_fini(&(*r)->root);
    for (size_t i = 0; i < (*r)->n_rows; i++)
        for (int k = 0; k < (*r)->rows[i].n; k++)
            free((*r)->rows[i].names[k]);
    free((*r)->rows);
    free(*r);
    *r = NULL;
}

int
mr_router_build(const struct mr_route_row *rows, size_t n, size_t stride, struct mr_router **out,
                struct mr_err *err)
{
    *out = NULL;
    if (n > 0 && (rows == NULL || stride < sizeof(struct mr_route_row)))
        return mr_err_set(err, -EINVAL, "router: no rows, or a stride below a row's size");
    if (n > (size_t)INT_MAX)
        return mr_err_set(err, -EINVAL, "router: %zu rows, more than %d", n, INT_MAX);
    struct mr_router *r = mr_xcalloc(1, sizeof(*r));
    r->rows = mr_xcalloc(n > 0 ? n : 1, sizeof(*r->rows));
    r->n_rows = n;
    for (size_t i = 0; i < n; i++) {
        const struct mr_route_row *row = row_at(rows, stride, i);
        struct pattern p = {.n_segs = 0};
        int rc = method_index(row->method) < 0
                     ? bad_row(err, row, "unknown method (GET HEAD POST PUT PATCH DELETE OPTIONS)")
                     : parse_pattern(row, &p, err);
        if (rc == 0)
            rc = insert_row(r, rows, stride, i, &p, err);
        if (rc < 0) {
            mr_router_free(&r);
            return rc;
        }
    }
    node_seal(&r->root);
    *out = r;
    return 0;
}

/* ---- match ---------------------------------------------------------------------------- */

struct capture {
    enum kind kind;
    const char *raw;
    size_t len;
    long long int_value;
};

struct walk {
    const char *path;
    size_t len;
    int method;    /* -1: not one we route */
    unsigned seen; /* methods of every pattern that matched the path */
    int row;
    int n_caps;
    struct capture caps[MR_ROUTE_MAX_PARAMS];
};

/* An optional '-' then at least one digit, within long long. Digits are added as a negative
 * number so that LLONG_MIN fits. */
static bool
parse_int(const char *s, size_t len, long long *out)
{
    size_t i = len > 0 && s[0] == '-' ? 1 : 0;
    bool neg = i == 1;
    if (i == len)
        return false;
    long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        int d = s[i] - '0';
        if (v < (LLONG_MIN + d) / 10)
            return false;
        v = v * 10 - d;
    }
    if (!neg && v == LLONG_MIN)
        return false;
    *out = neg ? v : -v;
    return true;
}

static const struct node *
static_find(const struct node *n, const char *seg, size_t len)
{
    if (n->hash != NULL) {
        for (uint32_t h = seg_hash(seg, len) & n->hash_mask; n->hash[h] != 0;
             h = (h + 1) & n->hash_mask) {
            const struct edge *e = &n->statics[n->hash[h] - 1];
            if (e->len == len && memcmp(e->seg, seg, len) == 0)
                return e->child;
        }
        return NULL;
    }
    bool found;
    size_t at = static_pos(n, seg, len, &found);
    return found ? n->statics[at].child : NULL;
}

/* Whether leaf l has a row for the method; notes its methods for the Allow list. */
static bool
leaf_hit(struct walk *w, const struct leaf *l)
{
    if (l == NULL)
        return false;
    w->seen |= l->mask;
    if (w->method < 0)
        return false;
    int row = l->rows[w->method];
    if (row < 0 && w->method == M_HEAD)
        row = l->rows[M_GET];
    w->row = row;
    return row >= 0;
}

static void
push(struct walk *w, enum kind kind, const char *raw, size_t len, long long int_value)
{
    /* Every trie node lies on a pattern of at most MR_ROUTE_MAX_PARAMS parameters. */
    assert(w->n_caps < MR_ROUTE_MAX_PARAMS);
    w->caps[w->n_caps++] = (struct capture){kind, raw, len, int_value};
}

static bool
rest_hit(struct walk *w, const struct node *n, size_t pos)
{
    if (n->rest == NULL)
        return false;
    push(w, K_REST, w->path + pos, w->len - pos, 0);
    if (leaf_hit(w, n->rest))
        return true;
    w->n_caps--;
    return false;
}

/* Matches the segments from path[pos] (just after a '/'), or none when at_end. */
static bool
walk(struct walk *w, const struct node *n, size_t pos, bool at_end)
{
    if (at_end)
        return leaf_hit(w, n->end) || rest_hit(w, n, w->len);
    const char *seg = w->path + pos;
    size_t len = 0;
    while (pos + len < w->len && seg[len] != '/') /* segments are short: no memchr call */
        len++;
    bool last = pos + len == w->len;
    size_t next = last ? w->len : pos + len + 1;
    const struct node *child = static_find(n, seg, len);
    if (child != NULL && walk(w, child, next, last))
        return true;
    long long v;
    const struct node *kids[2] = {n->int_child, n->param_child};
    for (int k = 0; k < 2; k++) {
        if (kids[k] == NULL || len == 0 || (k == 0 && !parse_int(seg, len, &v)))
            continue;
        push(w, k == 0 ? K_INT : K_PARAM, seg, len, k == 0 ? v : 0);
        if (walk(w, kids[k], next, last))
            return true;
        w->n_caps--;
    }
    return rest_hit(w, n, pos);
}

static size_t
count_slashes(const char *s, size_t len)
{
    size_t n = 0;
    for (const char *p = s; (p = memchr(p, '/', len - (size_t)(p - s))) != NULL; p++)
        n++;
    return n;
}

/* Whether s[0..len) is printable ASCII without '%': then it is its own decoding. */
static bool
plain_ascii(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '%')
            return false;
    }
    return true;
}

/* Decodes capture c into p. Returns 0, -400 or -500. */
static int
decode(const struct capture *c, struct mr_arena *a, struct mr_route_param *p)
{
    char *dst = mr_arena_alloc(a, c->len + 1);
    if (dst == NULL)
        return -500;
    size_t len = c->len;
    p->value = dst;
    p->value_len = len;
    p->int_value = c->int_value;
    if (c->kind == K_INT || plain_ascii(c->raw, c->len)) { /* most values: a copy */
        memcpy(dst, c->raw, len);
        dst[len] = '\0';
        return 0;
    }
    if (mr_pct_decode(c->raw, c->len, false, dst, &len) < 0 || memchr(dst, '\0', len) != NULL)
        return -400; /* a bad escape or invalid UTF-8; or a raw NUL, which C strings cut */
    /* A '/' that was not a separator is %2F: one segment has none, the rest keeps its own. */
    size_t slashes = count_slashes(dst, len);
    if (slashes != (c->kind == K_REST ? count_slashes(c->raw, c->len) : 0))
        return -400;
    p->value_len = len;
    return 0;
}

/* MR_ROUTE_ALLOW_LEN holds all seven names; memcpy, as snprintf cost a 405 twice a hit. */
static void
allow_text(unsigned mask, char *out)
{
    size_t o = 0;
    for (int i = 0; i < N_METHODS; i++) {
        if (!(mask & (1u << i)))
            continue;
        size_t n = strlen(method_names[i]);
        assert(o + 2 + n < MR_ROUTE_ALLOW_LEN);
        if (o > 0) {
            memcpy(out + o, ", ", 2);
            o += 2;
        }
        memcpy(out + o, method_names[i], n);
        o += n;
    }
    out[o] = '\0';
}

int
mr_router_match(const struct mr_router *r, const char *method, const char *path, size_t path_len,
                struct mr_arena *a, struct mr_match *m)
{
    m->route = -1;
    m->n_params = 0;
    m->allow[0] = '\0';
    if (path_len == 0 || path[0] != '/')
        return -404;
    struct walk w; /* not zeroed as a whole: caps[] is written before it is read */
    w.path = path;
    w.len = path_len;
    w.method = method_index(method);
    w.seen = 0;
    w.row = -1;
    w.n_caps = 0;
    if (!walk(&w, &r->root, 1, path_len == 1)) {
        if (w.seen == 0)
            return -404;
        allow_text(w.seen, m->allow);
        return -405;
    }
    const struct row_names *names = &r->rows[w.row];
    assert(names->n == w.n_caps);
    for (int i = 0; i < w.n_caps; i++) {
        m->params[i].name = names->names[i];
        int rc = decode(&w.caps[i], a, &m->params[i]);
        if (rc < 0)
            return rc;
    }
    m->route = w.row;
    m->n_params = w.n_caps;
    return w.row;
}
