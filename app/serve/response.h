/* SPDX-License-Identifier: BSD-2-Clause */
/* response: status, headers and body of one response, built in the request arena and sent
 * by the worker in one go, always with Content-Type and Content-Length. A HEAD request gets
 * the same headers and no body. */
#ifndef MR_RESPONSE_H
#define MR_RESPONSE_H

#include <stdbool.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/serve/cookie.h"

struct mr_resp {
    int status;
    const char *request_id; /* for error pages; "-" until the request is parsed */
    const char *content_type;
    struct mr_buf headers; /* extra "Name: value\r\n" lines */
    struct mr_buf body;
};

/* The Content-Type of a response nobody typed. */
extern const char mr_resp_default_type[];

void mr_resp_init(struct mr_resp *r, struct mr_arena *a);
void mr_resp_status(struct mr_resp *r, int status);
void mr_resp_type(struct mr_resp *r, const char *content_type);
/* Adds a header line. A name or value holding CR, LF or NUL is dropped (and returns -EINVAL)
 * so that no input can split the response. */
int mr_resp_header(struct mr_resp *r, const char *name, const char *value);
/* Adds a Set-Cookie header for name=value with the options o (cookie.h), formatted in the
 * arena. Returns 0, or mr_cookie_format's refusal (-EINVAL), or -ENOMEM. */
int mr_resp_set_cookie(struct mr_resp *r, struct mr_arena *a, const char *name, const char *value,
                       const struct mr_cookie_opts *o);
/* The body buffer to write into (JSON writer, HTML escaper, mr_buf_*). */
struct mr_buf *mr_resp_body(struct mr_resp *r);
/* Replaces the response (body and content type; headers stay) with the uniform error page:
 * `{"error":"<message>","status":N,"request_id":"<id>"}` as application/json. The message
 * must be fixed text, never backend or client input. */
void mr_resp_error(struct mr_resp *r, int status, const char *message);
/* The same page as HTML (for routes that declare MR_ROUTE_HTML) when html, else JSON. */
void mr_resp_error_as(struct mr_resp *r, bool html, int status, const char *message);
/* Writes the CGI header block ("Status: ...\r\nContent-Type: ...\r\nContent-Length:
 * ...\r\n...\r\n") into dst. A response whose body buffer failed (arena ceiling) becomes a
 * 500 first. */
void mr_resp_head(struct mr_resp *r, struct mr_buf *dst);
const char *mr_resp_reason(int status);

#endif
