/* SPDX-License-Identifier: BSD-2-Clause */
/* request: what a handler may know about the request, parsed from the FastCGI params into
 * the request arena: method, path, decoded query parameters, headers, body. Handlers never
 * see libfcgi. Parsing enforces the configured input limits and names the HTTP status a
 * violation earns (400, 413, 414, 431). */
#ifndef MR_REQUEST_H
#define MR_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "app/lib/arena.h"
#include "app/lib/err.h"
#include "app/serve/form.h"

struct mr_req_limits {
    int max_params;
    int max_params_bytes;
    int max_query_bytes;
    int max_query_params;
    int max_header_bytes;
    int max_body_bytes;
};

struct mr_req {
    const char *method; /* "GET", ... */
    const char *path;   /* DOCUMENT_URI, else REQUEST_URI up to '?' */
    size_t path_len;
    const char *query_string; /* raw, "" when none */
    const char *request_id;   /* nginx's $request_id (REQUEST_ID param), "-" when none */
    const char *token;        /* the X-Millrace-Token header, NULL when none (token.c) */
    char *const *envp;        /* the FastCGI params, "NAME=value" */
    struct mr_param *query;   /* decoded query parameters, in order */
    size_t n_query;
    long content_length; /* -1 when absent */
    const char *body;    /* in the arena; NULL when none */
    size_t body_len;
    bool is_head;
};

/* Fills r from the FastCGI params. Returns 0, or the HTTP status to answer (400, 414, 431),
 * with the reason in err. Strings point into envp or the arena. */
int mr_req_parse(struct mr_req *r, char *const *envp, struct mr_arena *a,
                 const struct mr_req_limits *lim, struct mr_err *err);

/* Decoded value of the first query parameter `name`, or NULL. */
const char *mr_req_query(const struct mr_req *r, const char *name);
/* Raw FastCGI param (e.g. "REMOTE_ADDR"), or NULL. */
const char *mr_req_param(const struct mr_req *r, const char *name);
/* Whether the request came over HTTPS (nginx's HTTPS param is "on"). */
bool mr_req_is_https(const struct mr_req *r);
/* Request header by its HTTP name ("X-Forwarded-For" -> HTTP_X_FORWARDED_FOR), or NULL. */
const char *mr_req_header(const struct mr_req *r, const char *name);

#endif
