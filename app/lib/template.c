/* SPDX-License-Identifier: BSD-2-Clause */
/* template: the compiler turns each template's text into a flat array of nodes (text runs
 * pointing into the template's own copy of its text, variables, sections, partials); a
 * section node records where its body ends, so rendering is a loop over a range with
 * recursion only into sections and partials, whose depth is bounded. Names are split into
 * segments and hashed at compile time, so a lookup at render time is a scan of 32-bit
 * hashes. Compile-time memory is malloc'd and lives as long as the set; rendering reads the
 * set and writes only the caller's mr_buf. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/lib/html.h"
#include "app/lib/template.h"

enum node_kind { N_TEXT, N_VAR, N_RAW, N_SECTION, N_INVERTED, N_PARTIAL };

struct seg {
    const char *s;
    size_t len;
    uint32_t hash;
};

struct node {
    enum node_kind kind;
    uint32_t line;
    const char *text; /* N_TEXT: the bytes; others: the name as written */
    size_t len;
    size_t seg0, nseg; /* the name's segments in tpl->segs; nseg 0 is `.` */
    size_t end;        /* sections: the index of the first node after the body */
    struct mr_tpl *partial;
};

/* Cycle check marks (check_partials). */
enum { UNSEEN, ACTIVE, DONE };

struct mr_tpl {
    char *name;
    char *text;
    size_t len;
    struct node *nodes;
    size_t n, cap;
    struct seg *segs;
    size_t nsegs, segs_cap;
    int mark;
};

struct mr_tpl_set {
    struct mr_tpl **t;
    size_t n, cap;
    bool compiled; /* mr_tpl_set_compile has run */
    bool ok;       /* ... and succeeded */
};

/* Room for one more element in *arr; compile-time only, so OOM aborts (mr_xcalloc). */
static void
grow(void **arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = mr_xcalloc(ncap, size);
    if (n > 0)
        memcpy(p, *arr, n * size);
    free(*arr);
    *arr = p;
    *cap = ncap;
}

struct mr_tpl_set *
mr_tpl_set_new(void)
{
    return mr_xcalloc(1, sizeof(struct mr_tpl_set));
}

void
mr_tpl_set_free(struct mr_tpl_set *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++) {
        free(set->t[i]->name);
        free(set->t[i]->text);
        free(set->t[i]->nodes);
        free(set->t[i]->segs);
        free(set->t[i]);
    }
    free(set->t);
    free(set);
}

static struct mr_tpl *
find(const struct mr_tpl_set *set, const char *name, size_t len)
{
    for (size_t i = 0; i < set->n; i++)
        if (strlen(set->t[i]->name) == len && memcmp(set->t[i]->name, name, len) == 0)
            return set->t[i];
    return NULL;
}

int
mr_tpl_set_add(struct mr_tpl_set *set, const char *name, const char *text, size_t len,
               struct mr_err *err)
{
    if (set->compiled)
        return mr_err_set(err, -EINVAL, "%s: template set already compiled", name);
    if (name[0] == '\0')
        return mr_err_set(err, -EINVAL, "template with an empty name");
    if (find(set, name, strlen(name)) != NULL)
        return mr_err_set(err, -EEXIST, "%s: duplicate template name", name);
    struct mr_tpl *t = mr_xcalloc(1, sizeof(*t));
    t->name = mr_xstrdup(name);
    t->text = mr_xmalloc(len + 1);
    if (len > 0)
        memcpy(t->text, text, len);
    t->text[len] = '\0';
    t->len = len;
    void *arr = set->t;
    grow(&arr, set->n, &set->cap, sizeof(struct mr_tpl *));
    set->t = arr;
    set->t[set->n++] = t;
    return 0;
}

/* ---- loading a directory ---------------------------------------------------------------- */

/* The template name for file `f`, or 0 when f is not a template file (hidden, or neither
 * suffix); the name is f[0..returned length). */
static size_t
template_name_len(const char *f)
{
    static const char *const suffixes[] = {".mustache", ".html"};
    size_t n = strlen(f);
    if (f[0] == '.')
        return 0;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && memcmp(f + n - k, suffixes[i], k) == 0)
            return n - k;
    }
    return 0;
}

/* Reads `path` whole into a malloc'd buffer (*out, *len), dropping one final newline. */
static int
read_file(const char *path, char **out, size_t *len, struct mr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return mr_err_set(err, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    char *buf = NULL;
    size_t n = 0;
    if (fstat(fd, &st) < 0) {
        rc = mr_err_set(err, -errno, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > MR_TPL_MAX_FILE_BYTES) {
        rc = mr_err_set(err, S_ISREG(st.st_mode) ? -EFBIG : -EINVAL, "%s: %s", path,
                        S_ISREG(st.st_mode) ? "template file too large" : "not a regular file");
        goto out;
    }
    buf = mr_xmalloc((size_t)st.st_size + 1);
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = mr_err_set(err, -errno, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break; /* shrank while reading: take what is there */
        n += (size_t)r;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n -= n > 1 && buf[n - 2] == '\r' ? 2 : 1;
out:
    (void)close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

int
mr_tpl_set_load_dir(struct mr_tpl_set *set, const char *dir, struct mr_err *err)
{
    struct dirent **ents = NULL;
    /* Sorted, so that templates compile, and errors are found, in the same order each time. */
    int n = scandir(dir, &ents, NULL, alphasort);
    if (n < 0)
        return mr_err_set(err, -errno, "%s: %s", dir, strerror(errno));
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        size_t nlen = template_name_len(ents[i]->d_name);
        if (nlen == 0)
            continue;
        char path[4096], name[256];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) >= sizeof(path) ||
            nlen >= sizeof(name)) {
            rc = mr_err_set(err, -ENAMETOOLONG, "%s/%s: name too long", dir, ents[i]->d_name);
            break;
        }
        memcpy(name, ents[i]->d_name, nlen);
        name[nlen] = '\0';
        char *text = NULL;
        size_t len = 0;
        rc = read_file(path, &text, &len, err);
        if (rc == 0)
            rc = mr_tpl_set_add(set, name, text, len, err);
        free(text);
    }
    for (int i = 0; i < n; i++)
        free(ents[i]);
    free(ents);
    return rc;
}

/* ---- the compiler ------------------------------------------------------------------------ */

struct parser {
    struct mr_tpl *t;
    uint32_t line;                /* of the tag being parsed */
    size_t open[MR_TPL_MAX_NEST]; /* node indexes of the open sections */
    size_t nopen;
    struct mr_err *err;
};

#define NAME_FMT "'%.*s'"
#define NAME_ARG(p, n) (int)((n) > 40 ? 40 : (n)), (p)

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static uint32_t
count_lines(const char *s, size_t n)
{
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += s[i] == '\n';
    return k;
}

static struct node *
add_node(struct mr_tpl *t, enum node_kind kind, uint32_t line, const char *text, size_t len)
{
    void *arr = t->nodes;
    grow(&arr, t->n, &t->cap, sizeof(*t->nodes));
    t->nodes = arr;
    struct node *nd = &t->nodes[t->n++];
    *nd = (struct node){.kind = kind, .line = line, .text = text, .len = len};
    return nd;
}

/* Splits nd's name into segments; `.` alone is the current item. */
static int
split_name(struct parser *p, struct node *nd)
{
    struct mr_tpl *t = p->t;
    nd->seg0 = t->nsegs;
    nd->nseg = 0;
    if (nd->len == 1 && nd->text[0] == '.')
        return 0;
    size_t start = 0;
    for (size_t i = 0; i <= nd->len; i++) {
        if (i < nd->len && nd->text[i] != '.')
            continue;
        if (i == start)
            return mr_err_set(p->err, -EINVAL, "%s:%u: bad name " NAME_FMT " (empty segment)",
                              t->name, p->line, NAME_ARG(nd->text, nd->len));
        void *arr = t->segs;
        grow(&arr, t->nsegs, &t->segs_cap, sizeof(*t->segs));
        t->segs = arr;
        const char *s = nd->text + start;
        t->segs[t->nsegs++] = (struct seg){s, i - start, mr_tv_hash(s, i - start)};
        nd->nseg++;
        start = i + 1;
    }
    return 0;
}

static int
open_section(struct parser *p, enum node_kind kind, const char *name, size_t len)
{
    if (p->nopen == MR_TPL_MAX_NEST)
        return mr_err_set(p->err, -EINVAL, "%s:%u: too deep: sections nest over %d levels",
                          p->t->name, p->line, MR_TPL_MAX_NEST);
    struct node *nd = add_node(p->t, kind, p->line, name, len);
    p->open[p->nopen++] = p->t->n - 1;
    return split_name(p, nd);
}

static int
close_section(struct parser *p, const char *name, size_t len)
{
    struct mr_tpl *t = p->t;
    if (p->nopen == 0)
        return mr_err_set(p->err, -EINVAL, "%s:%u: close tag " NAME_FMT " without an open section",
                          t->name, p->line, NAME_ARG(name, len));
    struct node *open = &t->nodes[p->open[p->nopen - 1]];
    if (open->len != len || memcmp(open->text, name, len) != 0)
        return mr_err_set(
            p->err, -EINVAL,
            "%s:%u: mismatched close tag " NAME_FMT " (open section " NAME_FMT " at line %u)",
            t->name, p->line, NAME_ARG(name, len), NAME_ARG(open->text, open->len), open->line);
    open->end = t->n;
    p->nopen--;
    return 0;
}

/* One tag whose inside (between the braces, sigil included) is s[0..len). */
static int
parse_tag(struct parser *p, const char *s, size_t len, bool triple)
{
    char sigil = '{';
    if (!triple)
        sigil = len > 0 ? s[0] : '\0';
    if (sigil == '!')
        return 0;
    if (sigil == '=')
        return mr_err_set(p->err, -EINVAL, "%s:%u: delimiter changes are not supported", p->t->name,
                          p->line);
    size_t i = (!triple && strchr("#^/>&", sigil) != NULL && sigil != '\0') ? 1 : 0;
    while (i < len && is_space(s[i]))
        i++;
    while (len > i && is_space(s[len - 1]))
        len--;
    const char *name = s + i;
    size_t n = len - i;
    if (n == 0)
        return mr_err_set(p->err, -EINVAL, "%s:%u: empty tag", p->t->name, p->line);
    for (size_t k = 0; k < n; k++)
        if (is_space(name[k]) || name[k] == '{' || name[k] == '}')
            return mr_err_set(p->err, -EINVAL, "%s:%u: bad name " NAME_FMT, p->t->name, p->line,
                              NAME_ARG(name, n));
    switch (sigil) {
    case '#':
        return open_section(p, N_SECTION, name, n);
    case '^':
        return open_section(p, N_INVERTED, name, n);
    case '/':
        return close_section(p, name, n);
    case '>':
        add_node(p->t, N_PARTIAL, p->line, name, n);
        return 0;
    case '&':
    case '{':
        return split_name(p, add_node(p->t, N_RAW, p->line, name, n));
    default:
        return split_name(p, add_node(p->t, N_VAR, p->line, name, n));
    }
}

static int
parse(struct mr_tpl *t, struct mr_err *err)
{
    struct parser p = {.t = t, .line = 1, .err = err};
    const char *s = t->text, *end = t->text + t->len;
    while (s < end) {
        const char *o = memmem(s, (size_t)(end - s), "{{", 2);
        const char *stop = o ? o : end;
        if (stop > s)
            add_node(t, N_TEXT, p.line, s, (size_t)(stop - s));
        p.line += count_lines(s, (size_t)(stop - s));
        if (o == NULL)
            break;
        bool triple = o + 2 < end && o[2] == '{';
        const char *in = o + (triple ? 3 : 2);
        const char *c = memmem(in, (size_t)(end - in), triple ? "}}}" : "}}", triple ? 3 : 2);
        if (c == NULL)
            return mr_err_set(err, -EINVAL, "%s:%u: unterminated tag", t->name, p.line);
        int rc = parse_tag(&p, in, (size_t)(c - in), triple);
        if (rc < 0)
            return rc;
        s = c + (triple ? 3 : 2);
        p.line += count_lines(o, (size_t)(s - o));
    }
    if (p.nopen > 0) {
        const struct node *nd = &t->nodes[p.open[p.nopen - 1]];
        return mr_err_set(err, -EINVAL, "%s:%u: unclosed section " NAME_FMT, t->name, nd->line,
                          NAME_ARG(nd->text, nd->len));
    }
    return 0;
}

static int
resolve_partials(struct mr_tpl_set *set, struct mr_tpl *t, struct mr_err *err)
{
    for (size_t i = 0; i < t->n; i++) {
        struct node *nd = &t->nodes[i];
        if (nd->kind != N_PARTIAL)
            continue;
        nd->partial = find(set, nd->text, nd->len);
        if (nd->partial == NULL)
            return mr_err_set(err, -EINVAL, "%s:%u: unknown partial " NAME_FMT, t->name, nd->line,
                              NAME_ARG(nd->text, nd->len));
    }
    return 0;
}

/* A partial reached outside any section always renders, so a cycle of them would recurse
 * until the depth limit on every render: refuse it at load. Cycles through sections end
 * with the data (a tree rendered by a recursive partial) and are bounded at render time. */
static int
check_partials(struct mr_tpl *t, struct mr_err *err)
{
    t->mark = ACTIVE;
    for (size_t i = 0; i < t->n;) {
        const struct node *nd = &t->nodes[i];
        if (nd->kind == N_SECTION || nd->kind == N_INVERTED) {
            i = nd->end;
            continue;
        }
        i++;
        if (nd->kind != N_PARTIAL || nd->partial->mark == DONE)
            continue;
        if (nd->partial->mark == ACTIVE)
            return mr_err_set(err, -EINVAL,
                              "%s:%u: too deep: partial " NAME_FMT
                              " includes itself outside any section",
                              t->name, nd->line, NAME_ARG(nd->text, nd->len));
        int rc = check_partials(nd->partial, err);
        if (rc < 0)
            return rc;
    }
    t->mark = DONE;
    return 0;
}

int
mr_tpl_set_compile(struct mr_tpl_set *set, struct mr_err *err)
{
    if (set->compiled)
        return mr_err_set(err, -EALREADY, "template set already compiled");
    set->compiled = true;
    int rc = 0;
    for (size_t i = 0; i < set->n && rc == 0; i++)
        rc = parse(set->t[i], err);
    for (size_t i = 0; i < set->n && rc == 0; i++)
        rc = resolve_partials(set, set->t[i], err);
    for (size_t i = 0; i < set->n && rc == 0; i++)
        if (set->t[i]->mark == UNSEEN)
            rc = check_partials(set->t[i], err);
    set->ok = rc == 0;
    return rc;
}

const struct mr_tpl *
mr_tpl_get(const struct mr_tpl_set *set, const char *name)
{
    if (!set->ok)
        return NULL;
    return find(set, name, strlen(name));
}

/* ---- rendering --------------------------------------------------------------------------- */

struct render {
    /* stack[0] is the root; each section pushes one item. Entries may be NULL. */
    const struct mr_tv *stack[MR_TPL_MAX_DEPTH + 1];
    size_t nstack;
    int depth; /* sections and partials entered */
    struct mr_buf *out;
};

static const struct mr_tv *
lookup(const struct render *r, const struct mr_tpl *t, const struct node *nd)
{
    if (nd->nseg == 0)
        return r->stack[r->nstack - 1];
    const struct seg *sg = &t->segs[nd->seg0];
    const struct mr_tv *v = NULL;
    for (size_t i = r->nstack; i-- > 0 && v == NULL;)
        v = mr_tv_get(r->stack[i], sg[0].s, sg[0].len, sg[0].hash);
    for (size_t k = 1; k < nd->nseg && v != NULL; k++)
        v = mr_tv_get(v, sg[k].s, sg[k].len, sg[k].hash);
    return v;
}

static bool
is_true(const struct mr_tv *v)
{
    if (v == NULL)
        return false;
    switch (v->kind) {
    case MR_TV_NULL:
        return false;
    case MR_TV_BOOL:
        return v->u.b;
    case MR_TV_INT:
        return v->u.i != 0;
    case MR_TV_STR:
        return v->u.str.len > 0;
    case MR_TV_LIST:
        return v->u.list.n > 0;
    case MR_TV_OBJ:
        return true;
    }
    return false;
}

static void
put_value(struct mr_buf *out, const struct mr_tv *v, bool escape)
{
    if (v == NULL)
        return;
    switch (v->kind) {
    case MR_TV_BOOL:
        mr_buf_puts(out, v->u.b ? "true" : "false");
        break;
    case MR_TV_INT:
        mr_buf_int(out, v->u.i);
        break;
    case MR_TV_STR:
        if (escape)
            mr_html_escape(out, v->u.str.s, v->u.str.len);
        else
            mr_buf_append(out, v->u.str.s, v->u.str.len);
        break;
    case MR_TV_NULL:
    case MR_TV_LIST:
    case MR_TV_OBJ:
        break;
    }
}

static int render_range(struct render *r, const struct mr_tpl *t, size_t from, size_t to);

/* Renders t's nodes [from, to) one level deeper, with `item` pushed unless it is NULL. */
static int
enter(struct render *r, const struct mr_tpl *t, size_t from, size_t to, const struct mr_tv *item,
      bool push)
{
    if (r->depth == MR_TPL_MAX_DEPTH)
        return -ELOOP;
    r->depth++;
    if (push)
        r->stack[r->nstack++] = item;
    int rc = render_range(r, t, from, to);
    if (push)
        r->nstack--;
    r->depth--;
    return rc;
}

static int
section(struct render *r, const struct mr_tpl *t, const struct node *nd, size_t body)
{
    const struct mr_tv *v = lookup(r, t, nd);
    if (nd->kind == N_INVERTED)
        return is_true(v) ? 0 : enter(r, t, body, nd->end, NULL, false);
    if (!is_true(v))
        return 0;
    if (v->kind != MR_TV_LIST)
        return enter(r, t, body, nd->end, v, true);
    for (size_t k = 0; k < v->u.list.n; k++) {
        int rc = enter(r, t, body, nd->end, v->u.list.items[k], true);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
render_range(struct render *r, const struct mr_tpl *t, size_t from, size_t to)
{
    for (size_t i = from; i < to;) {
        const struct node *nd = &t->nodes[i];
        int rc = 0;
        switch (nd->kind) {
        case N_TEXT:
            mr_buf_append(r->out, nd->text, nd->len);
            i++;
            break;
        case N_VAR:
        case N_RAW:
            put_value(r->out, lookup(r, t, nd), nd->kind == N_VAR);
            i++;
            break;
        case N_SECTION:
        case N_INVERTED:
            rc = section(r, t, nd, i + 1);
            i = nd->end;
            break;
        case N_PARTIAL:
            rc = enter(r, nd->partial, 0, nd->partial->n, NULL, false);
            i++;
            break;
        }
        if (rc < 0)
            return rc;
        if (r->out->failed)
            return -ENOMEM;
    }
    return 0;
}

int
mr_tpl_render(const struct mr_tpl *t, const struct mr_tv *root, struct mr_buf *out)
{
    struct render r = {.nstack = 1, .out = out};
    r.stack[0] = root;
    int rc = render_range(&r, t, 0, t->n);
    if (rc == 0 && out->failed)
        rc = -ENOMEM;
    return rc;
}

int
mr_tpl_render_named(const struct mr_tpl_set *set, const char *name, const struct mr_tv *root,
                    struct mr_buf *out)
{
    const struct mr_tpl *t = mr_tpl_get(set, name);
    if (t == NULL)
        return -ENOENT;
    return mr_tpl_render(t, root, out);
}
