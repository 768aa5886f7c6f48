/* SPDX-License-Identifier: BSD-2-Clause */
/* request: parsing of params and query strings. Everything lands in the request arena; the
 * params themselves stay in libfcgi's memory, valid until FCGX_Finish_r. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/serve/request.h"

static int
hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)(c | 0x20);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool
mr_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n) /* needs n continuation bytes after s[i] */
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

int
mr_pct_decode(const char *src, size_t len, bool plus_is_space, char *dst, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (len - i < 3)
                return -EINVAL;
            int hi = hexval((unsigned char)src[i + 1]);
            int lo = hexval((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0) /* %00: every consumer reads C strings */
                return -EINVAL;
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            dst[o++] = ' ';
        } else {
            dst[o++] = c;
        }
    }
    dst[o] = '\0';
    *out_len = o;
    return mr_utf8_valid(dst, o) ? 0 : -EINVAL;
}

static int
decode_part(const char *s, size_t len, struct mr_arena *a, const char **out, size_t *out_len)
{
    char *dst = mr_arena_alloc(a, len + 1);
    if (dst == NULL)
        return -ENOMEM;
    *out = dst;
    return mr_pct_decode(s, len, true, dst, out_len);
}

int
mr_query_parse(const char *s, size_t len, struct mr_arena *a, int max_params, struct mr_param **out,
               size_t *n)
{
    *out = NULL;
    *n = 0;
    /* Count the non-empty pieces: "a=1&" and "&&a=1" hold one parameter each. */
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += s[i] != '&' && (i == 0 || s[i - 1] == '&');
    if (count > (size_t)max_params)
        return -E2BIG;
    if (count == 0)
        return 0;
    struct mr_param *p = mr_arena_alloc(a, count * sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    size_t k = 0;
    const char *end = s + len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *stop = amp ? amp : end;
        if (stop > s) { /* skip empty pieces ("a=1&&b=2") */
            const char *eq = memchr(s, '=', (size_t)(stop - s));
            const char *name_end = eq ? eq : stop;
            const char *val = eq ? eq + 1 : stop;
            int rc = decode_part(s, (size_t)(name_end - s), a, &p[k].name, &p[k].name_len);
            if (rc == 0)
                rc = decode_part(val, (size_t)(stop - val), a, &p[k].value, &p[k].value_len);
            if (rc < 0)
                return rc;
            k++;
        }
        s = stop + (amp ? 1 : 0);
    }
    *out = p;
    *n = k;
    return 0;
}

const char *
mr_req_param(const struct mr_req *r, const char *name)
{
    size_t n = strlen(name);
    for (char *const *e = r->envp; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

const char *
mr_req_header(const struct mr_req *r, const char *name)
{
    char key[128] = "HTTP_";
    size_t n = strlen(name);
    if (n > sizeof(key) - 6)
        return NULL;
    for (size_t i = 0; i < n; i++)
        key[5 + i] = name[i] == '-' ? '_' : (char)(unsigned char)toupper((unsigned char)name[i]);
    key[5 + n] = '\0';
    return mr_req_param(r, key);
}

const char *
mr_req_query(const struct mr_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_query; i++)
        if (strcmp(r->query[i].name, name) == 0)
            return r->query[i].value;
    return NULL;
}

/* Counts params, checks sizes, and picks out the few the router needs in one pass. */
static int
scan_params(struct mr_req *r, const struct mr_req_limits *lim, struct mr_err *err,
            const char **doc_uri, const char **req_uri)
{
    size_t count = 0, bytes = 0;
    for (char *const *e = r->envp; e && *e; e++) {
        size_t len = strlen(*e);
        /* libfcgi puts an FCGI_ROLE entry of its own first; any other came from the client
         * and counts like every param. */
        if (e == r->envp && strncmp(*e, "FCGI_ROLE=", 10) == 0)
            continue;
        count++;
        bytes += len;
        const char *v = strchr(*e, '=');
        v = v ? v + 1 : *e + len;
        if (strncmp(*e, "HTTP_", 5) == 0 && (size_t)(*e + len - v) > (size_t)lim->max_header_bytes)
            return mr_err_set(err, 431, "header %.*s longer than %d bytes", (int)(v - *e - 1), *e,
                              lim->max_header_bytes);
        if (strncmp(*e, "REQUEST_METHOD=", 15) == 0)
            r->method = v;
        else if (strncmp(*e, "DOCUMENT_URI=", 13) == 0)
            *doc_uri = v;
        else if (strncmp(*e, "REQUEST_URI=", 12) == 0)
            *req_uri = v;
        else if (strncmp(*e, "QUERY_STRING=", 13) == 0)
            r->query_string = v;
        else if (strncmp(*e, "REQUEST_ID=", 11) == 0)
            r->request_id = v;
        else if (strncmp(*e, "CONTENT_LENGTH=", 15) == 0 && *v != '\0') {
            char *end;
            errno = 0;
            long cl = strtol(v, &end, 10);
            if (errno != 0 || *end != '\0' || cl < 0)
                return mr_err_set(err, 400, "bad CONTENT_LENGTH");
            r->content_length = cl;
        }
    }
    if (count > (size_t)lim->max_params)
        return mr_err_set(err, 431, "%zu params, more than %d", count, lim->max_params);
    if (bytes > (size_t)lim->max_params_bytes)
        return mr_err_set(err, 431, "%zu bytes of params, more than %d", bytes,
                          lim->max_params_bytes);
    return 0;
}

int
mr_req_parse(struct mr_req *r, char *const *envp, struct mr_arena *a,
             const struct mr_req_limits *lim, struct mr_err *err)
{
    memset(r, 0, sizeof(*r));
    r->envp = envp;
    r->method = "";
    r->query_string = "";
    r->request_id = "-";
    r->content_length = -1;
    const char *doc_uri = NULL, *req_uri = NULL;
    int status = scan_params(r, lim, err, &doc_uri, &req_uri);
    if (status != 0)
        return status;
    r->is_head = strcmp(r->method, "HEAD") == 0;
    if (doc_uri != NULL) {
        r->path = doc_uri;
        r->path_len = strlen(doc_uri);
    } else if (req_uri != NULL) {
        const char *q = strchr(req_uri, '?');
        r->path = req_uri;
        r->path_len = q ? (size_t)(q - req_uri) : strlen(req_uri);
    } else {
        r->path = "/";
        r->path_len = 1;
    }
    size_t qlen = strlen(r->query_string);
    if (qlen > (size_t)lim->max_query_bytes)
        return mr_err_set(err, 414, "query string longer than %d bytes", lim->max_query_bytes);
    int rc =
        mr_query_parse(r->query_string, qlen, a, lim->max_query_params, &r->query, &r->n_query);
    if (rc == -E2BIG)
        return mr_err_set(err, 400, "more than %d query parameters", lim->max_query_params);
    if (rc == -EINVAL)
        return mr_err_set(err, 400, "invalid percent-encoding or UTF-8 in the query string");
    if (rc < 0)
        return mr_err_set(err, 500, "request arena exhausted");
    return 0;
}
