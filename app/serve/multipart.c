/* SPDX-License-Identifier: BSD-2-Clause */
/* multipart: one pass over the body with memmem for each delimiter ("\r\n--" boundary), so
 * the work is linear in the body. The first delimiter may open the body or follow a
 * preamble; the close delimiter is required and the epilogue ignored (RFC 2046 §5.1.1).
 * Header lines are split on CRLF only; folding, bare CR or LF and NUL are refused, since a
 * part header that two parsers read differently is how smuggling starts. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "app/lib/fdio.h"
#include "app/serve/multipart.h"

#define MAX_BOUNDARY 70 /* RFC 2046 §5.1.1 */

/* Where the parse is and what it has used up. */
struct mp {
    struct mr_multipart *m;
    const struct mr_multipart_limits *lim;
    struct mr_arena *a;
    const char *delim; /* "\r\n--" boundary */
    size_t delim_len;
    size_t total; /* content bytes of all parts so far */
};

static int
fail(struct mr_multipart *m, enum mr_multipart_error e, const char *reason)
{
    static const int codes[] = {
        [MR_MULTIPART_NOT_MULTIPART] = -EMEDIUMTYPE, [MR_MULTIPART_BAD_BOUNDARY] = -EINVAL,
        [MR_MULTIPART_MALFORMED] = -EINVAL,          [MR_MULTIPART_TOO_MANY_PARTS] = -E2BIG,
        [MR_MULTIPART_HEADER_TOO_LARGE] = -E2BIG,    [MR_MULTIPART_FIELD_TOO_LARGE] = -E2BIG,
        [MR_MULTIPART_FILE_TOO_LARGE] = -E2BIG,      [MR_MULTIPART_TOTAL_TOO_LARGE] = -E2BIG,
        [MR_MULTIPART_NO_MEMORY] = -ENOMEM,          [MR_MULTIPART_SPILL_FAILED] = -EIO,
    };
    int code = codes[e];
    assert(code < 0);
    m->error = e;
    m->parts = NULL;
    m->n = 0;
    (void)mr_err_set(&m->err, code, "multipart: %s", reason);
    return code;
}

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static const char *
skip_ws(const char *s, const char *end)
{
    while (s < end && is_ws(*s))
        s++;
    return s;
}

static bool
is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static const char *
skip_token(const char *s, const char *end)
{
    while (s < end && is_tchar((unsigned char)*s))
        s++;
    return s;
}

/* A parameter value at *s: a token, or a quoted-string whose quoted-pairs are undone.
 * Returns the value as a NUL-terminated arena copy and moves *s past it; NULL with *bad
 * set when the syntax is wrong or the value holds a NUL, NULL alone on -ENOMEM. */
static char *
param_value(const char **s, const char *end, struct mr_arena *a, bool *bad)
{
    const char *p = *s;
    *bad = true;
    if (p == end)
        return NULL;
    if (*p != '"') {
        const char *t = skip_token(p, end);
        if (t == p)
            return NULL;
        *bad = false;
        *s = t;
        return mr_arena_strndup(a, p, (size_t)(t - p));
    }
    char *out = mr_arena_alloc(a, (size_t)(end - p) + 1);
    if (out == NULL) {
        *bad = false;
        return NULL;
    }
    size_t n = 0;
    for (p++; p < end && *p != '"'; p++) {
        if (*p == '\\' && ++p == end)
            break;
        if (*p == '\0')
            break;
        out[n++] = *p;
    }
    if (p >= end || *p != '"')
        return NULL;
    *bad = false;
    out[n] = '\0';
    *s = p + 1;
    return out;
}

/* Finds `want` among the parameters "; name=value ..." of s[0..end). Returns 0 with *out
 * set (NULL when absent), -EINVAL on bad syntax or a repeated `want`, -ENOMEM. */
static int
find_param(const char *s, const char *end, const char *want, struct mr_arena *a, const char **out)
{
    size_t want_len = strlen(want);
    *out = NULL;
    for (s = skip_ws(s, end); s < end; s = skip_ws(s, end)) {
        if (*s++ != ';')
            return -EINVAL;
        s = skip_ws(s, end);
        if (s == end) /* a trailing ';' */
            break;
        const char *name = s;
        s = skip_token(s, end);
        size_t name_len = (size_t)(s - name);
        s = skip_ws(s, end);
        if (name_len == 0 || s == end || *s++ != '=')
            return -EINVAL;
        s = skip_ws(s, end);
        bool bad = false;
        char *v = param_value(&s, end, a, &bad);
        if (v == NULL)
            return bad ? -EINVAL : -ENOMEM;
        if (name_len == want_len && strncasecmp(name, want, want_len) == 0) {
            if (*out != NULL)
                return -EINVAL;
            *out = v;
        }
    }
    return 0;
}

/* Matches the media type `type` (case-insensitive) at the start of s; returns the rest. */
static const char *
media_type(const char *s, const char *end, const char *type)
{
    size_t n = strlen(type);
    s = skip_ws(s, end);
    if ((size_t)(end - s) < n || strncasecmp(s, type, n) != 0)
        return NULL;
    s += n;
    if (s < end && !is_ws(*s) && *s != ';')
        return NULL;
    return s;
}

/* RFC 2046 bchars: DIGIT, ALPHA, "'()+_,-./:=?" and space, but not as the last one. */
static bool
valid_boundary(const char *b)
{
    size_t n = strlen(b);
    if (n == 0 || n > MAX_BOUNDARY || b[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && strchr("'()+_,-./:=? ", c) == NULL)
            return false;
    }
    return true;
}

static int
read_boundary(struct mp *p, const char *ct)
{
    if (ct == NULL)
        return fail(p->m, MR_MULTIPART_NOT_MULTIPART, "no Content-Type");
    const char *end = ct + strlen(ct);
    const char *rest = media_type(ct, end, "multipart/form-data");
    if (rest == NULL)
        return fail(p->m, MR_MULTIPART_NOT_MULTIPART, "Content-Type is not multipart/form-data");
    const char *b;
    int rc = find_param(rest, end, "boundary", p->a, &b);
    if (rc == -ENOMEM)
        return fail(p->m, MR_MULTIPART_NO_MEMORY, "request arena exhausted");
    if (rc < 0 || b == NULL || !valid_boundary(b))
        return fail(p->m, MR_MULTIPART_BAD_BOUNDARY,
                    "boundary missing, repeated, longer than 70 or with bad bytes");
    size_t n = strlen(b);
    char *d = mr_arena_alloc(p->a, n + 5);
    if (d == NULL)
        return fail(p->m, MR_MULTIPART_NO_MEMORY, "request arena exhausted");
    (void)snprintf(d, n + 5, "\r\n--%s", b);
    p->delim = d;
    p->delim_len = n + 4;
    return 0;
}

/* Reads the Content-Disposition value s[0..end) into part. */
static int
read_disposition(struct mp *p, const char *s, const char *end, struct mr_multipart_part *part)
{
    const char *rest = media_type(s, end, "form-data");
    if (rest == NULL)
        return fail(p->m, MR_MULTIPART_MALFORMED, "Content-Disposition is not form-data");
    int rc = find_param(rest, end, "name", p->a, &part->name);
    if (rc == 0)
        rc = find_param(rest, end, "filename", p->a, &part->filename);
    if (rc == -ENOMEM)
        return fail(p->m, MR_MULTIPART_NO_MEMORY, "request arena exhausted");
    if (rc < 0)
        return fail(p->m, MR_MULTIPART_MALFORMED, "bad Content-Disposition parameters");
    if (part->name == NULL)
        return fail(p->m, MR_MULTIPART_MALFORMED, "Content-Disposition without name");
    return 0;
}

/* One header line s[0..end): "Name: value", no CR, LF or NUL, no folding. */
static int
read_header(struct mp *p, const char *s, const char *end, struct mr_multipart_part *part,
            bool *seen_disposition)
{
    const char *colon = skip_token(s, end);
    if (colon == s || colon == end || *colon != ':' || memchr(s, '\r', (size_t)(end - s)) ||
        memchr(s, '\n', (size_t)(end - s)) || memchr(s, '\0', (size_t)(end - s)))
        return fail(p->m, MR_MULTIPART_MALFORMED, "bad part header line");
    size_t name_len = (size_t)(colon - s);
    const char *v = skip_ws(colon + 1, end);
    const char *v_end = end;
    while (v_end > v && is_ws(v_end[-1]))
        v_end--;
    if (name_len == 19 && strncasecmp(s, "Content-Disposition", 19) == 0) {
        if (*seen_disposition)
            return fail(p->m, MR_MULTIPART_MALFORMED, "two Content-Disposition headers");
        *seen_disposition = true;
        return read_disposition(p, v, v_end, part);
    }
    if (name_len == 12 && strncasecmp(s, "Content-Type", 12) == 0) {
        if (part->content_type != NULL)
            return fail(p->m, MR_MULTIPART_MALFORMED, "two Content-Type headers");
        part->content_type = mr_arena_strndup(p->a, v, (size_t)(v_end - v));
        if (part->content_type == NULL)
            return fail(p->m, MR_MULTIPART_NO_MEMORY, "request arena exhausted");
    }
    return 0; /* other headers (Content-Transfer-Encoding...) carry nothing for a form */
}

/* The header block s[0..end), lines joined by CRLF. */
static int
read_headers(struct mp *p, const char *s, const char *end, struct mr_multipart_part *part)
{
    bool seen = false;
    while (s < end) {
        const char *eol = memmem(s, (size_t)(end - s), "\r\n", 2);
        const char *stop = eol ? eol : end;
        int rc = read_header(p, s, stop, part, &seen);
        if (rc < 0)
            return rc;
        s = eol ? eol + 2 : end;
    }
    if (!seen)
        return fail(p->m, MR_MULTIPART_MALFORMED, "part without Content-Disposition");
    return 0;
}

static void
close_fd(void *arg)
{
    (void)close(*(int *)arg);
}

/* Writes a large file part to an unlinked temp file in lim->spill_dir. The close is
 * registered before the first write, so every path out leaves no descriptor open past the
 * request, and the unlink right after mkostemp leaves no name on disk. */
static int
spill(struct mp *p, struct mr_multipart_part *part, const char *data)
{
    char path[4096];
    const char *dir = p->lim->spill_dir ? p->lim->spill_dir : "/tmp";
    int n = snprintf(path, sizeof(path), "%s/millrace-upload-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return fail(p->m, MR_MULTIPART_SPILL_FAILED, "spill_dir path too long");
    int *fdp = mr_arena_alloc(p->a, sizeof(*fdp));
    if (fdp == NULL)
        return fail(p->m, MR_MULTIPART_NO_MEMORY, "request arena exhausted");
    *fdp = mkostemp(path, O_CLOEXEC);
    if (*fdp < 0)
        return mr_err_set(&p->m->err, fail(p->m, MR_MULTIPART_SPILL_FAILED, ""),
                          "multipart: mkostemp in %s: %s", dir, strerror(errno));
    (void)unlink(path);
    if (mr_arena_defer(p->a, close_fd, fdp) < 0) {
        (void)close(*fdp);
        return fail(p->m, MR_MULTIPART_NO_MEMORY, "request arena exhausted");
    }
    if (mr_write_all(*fdp, data, part->size) != 0 || lseek(*fdp, 0, SEEK_SET) != 0)
        return mr_err_set(&p->m->err, fail(p->m, MR_MULTIPART_SPILL_FAILED, ""),
                          "multipart: writing the temp file: %s", strerror(errno));
    part->fd = *fdp;
    part->data = NULL;
    return 0;
}

/* Checks the part's size against its limits and stores its content. */
static int
keep_content(struct mp *p, struct mr_multipart_part *part, const char *data, size_t size)
{
    const struct mr_multipart_limits *lim = p->lim;
    bool is_file = part->filename != NULL;
    part->size = size;
    part->fd = -1;
    if (!is_file && size > lim->max_field_bytes)
        return fail(p->m, MR_MULTIPART_FIELD_TOO_LARGE, "a field is larger than max_field_bytes");
    if (is_file && size > lim->max_file_bytes)
        return fail(p->m, MR_MULTIPART_FILE_TOO_LARGE, "a file is larger than max_file_bytes");
    p->total += size;
    if (p->total > lim->max_total_bytes)
        return fail(p->m, MR_MULTIPART_TOTAL_TOO_LARGE, "parts larger than max_total_bytes");
    if (is_file && size > lim->spill_bytes)
        return spill(p, part, data);
    if (is_file) {
        part->data = data;
        return 0;
    }
    part->data = mr_arena_strndup(p->a, data, size);
    if (part->data == NULL)
        return fail(p->m, MR_MULTIPART_NO_MEMORY, "request arena exhausted");
    return 0;
}

/* One part, from just after its delimiter line to just before the next delimiter, whose
 * position it returns in *next. */
static int
read_part(struct mp *p, const char *s, const char *end, struct mr_multipart_part *part,
          const char **next)
{
    const char *hend, *content;
    size_t max_hdr = p->lim->max_part_header_bytes;
    if (end - s >= 2 && s[0] == '\r' && s[1] == '\n') {
        hend = s; /* no headers at all */
        content = s + 2;
    } else {
        size_t room = (size_t)(end - s);
        size_t look = room < max_hdr + 4 ? room : max_hdr + 4;
        hend = memmem(s, look, "\r\n\r\n", 4);
        if (hend == NULL && look < room)
            return fail(p->m, MR_MULTIPART_HEADER_TOO_LARGE,
                        "part headers longer than max_part_header_bytes");
        if (hend == NULL)
            return fail(p->m, MR_MULTIPART_MALFORMED, "part headers not terminated");
        content = hend + 4;
    }
    /* Here hend - s <= max_hdr: the search looked no further. */
    int rc = read_headers(p, s, hend, part);
    if (rc < 0)
        return rc;
    /* The CRLF before a delimiter belongs to it, not to the content (RFC 2046 §5.1.1). */
    const char *d = memmem(content, (size_t)(end - content), p->delim, p->delim_len);
    if (d == NULL)
        return fail(p->m, MR_MULTIPART_MALFORMED, "part not closed by a boundary");
    *next = d + 2;
    return keep_content(p, part, content, (size_t)(d - content));
}

/* After "--boundary": "--" closes the body; else transport padding and CRLF open a part.
 * Returns 1 for a part (s moved past the line), 0 for the close, <0 when malformed. */
static int
after_delimiter(struct mp *p, const char **s, const char *end)
{
    const char *q = *s;
    if (end - q >= 2 && q[0] == '-' && q[1] == '-')
        return 0;
    q = skip_ws(q, end);
    if (end - q < 2 || q[0] != '\r' || q[1] != '\n')
        return fail(p->m, MR_MULTIPART_MALFORMED, "boundary line not ended by CRLF");
    *s = q + 2;
    return 1;
}

/* Position of the first delimiter: at the very start, or after a preamble's CRLF. */
static const char *
first_delimiter(const struct mp *p, const char *body, size_t len)
{
    const char *dash = p->delim + 2; /* "--" boundary */
    size_t dash_len = p->delim_len - 2;
    if (len >= dash_len && memcmp(body, dash, dash_len) == 0)
        return body;
    const char *d = memmem(body, len, p->delim, p->delim_len);
    return d ? d + 2 : NULL;
}

int
mr_multipart_parse(struct mr_multipart *m, const char *content_type, const char *body, size_t len,
                   const struct mr_multipart_limits *lim, struct mr_arena *a)
{
    memset(m, 0, sizeof(*m));
    struct mp p = {.m = m, .lim = lim, .a = a};
    int rc = read_boundary(&p, content_type);
    if (rc < 0)
        return rc;
    const char *end = body + len;
    const char *s = body ? first_delimiter(&p, body, len) : NULL;
    if (s == NULL)
        return fail(m, MR_MULTIPART_MALFORMED, "no boundary in the body");
    /* Parts are counted before they are parsed, so the array is sized once: at most
     * max_parts, each at least as long as a delimiter. */
    size_t cap = lim->max_parts < len / p.delim_len + 1 ? lim->max_parts : len / p.delim_len + 1;
    struct mr_multipart_part *parts = mr_arena_calloc(a, cap ? cap : 1, sizeof(*parts));
    if (parts == NULL)
        return fail(m, MR_MULTIPART_NO_MEMORY, "request arena exhausted");
    size_t n = 0;
    for (;;) {
        s += p.delim_len - 2;
        rc = after_delimiter(&p, &s, end);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        if (n == lim->max_parts)
            return fail(m, MR_MULTIPART_TOO_MANY_PARTS, "more parts than max_parts");
        if (n == cap)
            return fail(m, MR_MULTIPART_MALFORMED, "more parts than the body can hold");
        rc = read_part(&p, s, end, &parts[n], &s);
        if (rc < 0)
            return rc;
        n++;
    }
    m->parts = n ? parts : NULL;
    m->n = n;
    return 0;
}

int
mr_multipart_http_status(const struct mr_multipart *m)
{
    switch (m->error) {
    case MR_MULTIPART_OK:
        return 0;
    case MR_MULTIPART_NOT_MULTIPART:
        return 415;
    case MR_MULTIPART_BAD_BOUNDARY:
    case MR_MULTIPART_MALFORMED:
        return 400;
    case MR_MULTIPART_TOO_MANY_PARTS:
    case MR_MULTIPART_HEADER_TOO_LARGE:
    case MR_MULTIPART_FIELD_TOO_LARGE:
    case MR_MULTIPART_FILE_TOO_LARGE:
    case MR_MULTIPART_TOTAL_TOO_LARGE:
        return 413;
    case MR_MULTIPART_NO_MEMORY:
    case MR_MULTIPART_SPILL_FAILED:
        return 500;
    }
    return 500;
}

const struct mr_multipart_part *
mr_multipart_get(const struct mr_multipart *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->parts[i].name, name) == 0)
            return &m->parts[i];
    return NULL;
}
