/* SPDX-License-Identifier: BSD-2-Clause */
/* request: the FastCGI params view: method, path, limits, header and param lookups, and the
 * query string handed to the urlencoded codec in form.c. Everything lands in the request
 * arena; the params themselves stay in libfcgi's memory, valid until FCGX_Finish_r. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/serve/request.h"

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

/* Is the param's name (name_len bytes at e) want? */
static inline bool
is_name(const char *e, size_t name_len, const char *want, size_t want_len)
{
    return name_len == want_len && memcmp(e, want, want_len) == 0;
}
#define IS_NAME(e, n, lit) is_name((e), (n), lit, sizeof(lit) - 1)

/* Counts params, checks sizes, and picks out the few the router needs in one pass. A name is
 * told by its length first and compared once (nginx sends some 30 params; a chain of prefix
 * compares on each cost a fifth of a small request's instructions). */
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
        const char *eq = memchr(*e, '=', len);
        if (eq == NULL)
            continue; /* a name without a value: counted, and nothing the router reads */
        size_t name_len = (size_t)(eq - *e);
        const char *v = eq + 1;
        if (name_len >= 5 && memcmp(*e, "HTTP_", 5) == 0) {
            if ((size_t)(*e + len - v) > (size_t)lim->max_header_bytes)
                return mr_err_set(err, 431, "header %.*s longer than %d bytes", (int)name_len, *e,
                                  lim->max_header_bytes);
            if (IS_NAME(*e, name_len, "HTTP_X_MILLRACE_TOKEN"))
                r->token = v; /* read-your-writes: here, so a request without one pays nothing */
            continue;
        }
        if (IS_NAME(*e, name_len, "REQUEST_METHOD"))
            r->method = v;
        else if (IS_NAME(*e, name_len, "DOCUMENT_URI"))
            *doc_uri = v;
        else if (IS_NAME(*e, name_len, "REQUEST_URI"))
            *req_uri = v;
        else if (IS_NAME(*e, name_len, "QUERY_STRING"))
            r->query_string = v;
        else if (IS_NAME(*e, name_len, "REQUEST_ID"))
            r->request_id = v;
        else if (IS_NAME(*e, name_len, "CONTENT_LENGTH") && *v != '\0') {
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

bool
mr_req_is_https(const struct mr_req *r)
{
    const char *v = mr_req_param(r, "HTTPS");
    return v != NULL && strcasecmp(v, "on") == 0;
}
