/* SPDX-License-Identifier: BSD-2-Clause */
/* response: header block formatting and error bodies. */
#include <errno.h>
#include <string.h>

#include "app/lib/html.h"
#include "app/lib/json.h"
#include "app/serve/response.h"

const char mr_resp_default_type[] = "text/plain; charset=utf-8";

void
mr_resp_init(struct mr_resp *r, struct mr_arena *a)
{
    r->status = 200;
    r->request_id = "-";
    r->content_type = mr_resp_default_type;
    mr_buf_init(&r->headers, a, 128);
    mr_buf_init(&r->body, a, 1024);
}

void
mr_resp_status(struct mr_resp *r, int status)
{
    r->status = status;
}

void
mr_resp_type(struct mr_resp *r, const char *content_type)
{
    r->content_type = content_type;
}

static bool
header_safe(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

int
mr_resp_header(struct mr_resp *r, const char *name, const char *value)
{
    if (!header_safe(name) || !header_safe(value) || strchr(name, ':') != NULL)
        return -EINVAL;
    mr_buf_puts(&r->headers, name);
    mr_buf_append(&r->headers, ": ", 2);
    mr_buf_puts(&r->headers, value);
    mr_buf_append(&r->headers, "\r\n", 2);
    return 0;
}

struct mr_buf *
mr_resp_body(struct mr_resp *r)
{
    return &r->body;
}

/* An error page starts over: what the handler wrote is dropped, its headers stay. */
static void
restart(struct mr_resp *r, int status, const char *content_type)
{
    r->status = status;
    r->content_type = content_type;
    r->body.len = 0;
    r->body.failed = false;
}

void
mr_resp_error(struct mr_resp *r, int status, const char *message)
{
    restart(r, status, "application/json");
    struct mr_json j;
    mr_json_init(&j, &r->body);
    mr_json_obj(&j);
    mr_json_key(&j, "error");
    mr_json_cstr(&j, message);
    mr_json_key(&j, "status");
    mr_json_int(&j, status);
    mr_json_key(&j, "request_id");
    mr_json_cstr(&j, r->request_id);
    mr_json_obj_end(&j);
}

static void
error_html(struct mr_resp *r, int status, const char *message)
{
    restart(r, status, "text/html; charset=utf-8");
    struct mr_buf *b = &r->body;
    mr_buf_puts(b, "<!DOCTYPE html><html><head><title>");
    mr_buf_int(b, status);
    mr_buf_putc(b, ' ');
    mr_html_escape(b, message, strlen(message));
    mr_buf_puts(b, "</title></head><body><h1>");
    mr_buf_int(b, status);
    mr_buf_putc(b, ' ');
    mr_html_escape(b, message, strlen(message));
    mr_buf_puts(b, "</h1><p>Request id: ");
    mr_html_escape(b, r->request_id, strlen(r->request_id));
    mr_buf_puts(b, "</p></body></html>\n");
}

void
mr_resp_error_as(struct mr_resp *r, bool html, int status, const char *message)
{
    if (html)
        error_html(r, status, message);
    else
        mr_resp_error(r, status, message);
}

const char *
mr_resp_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    }
    return "Unknown";
}

void
mr_resp_head(struct mr_resp *r, struct mr_buf *dst)
{
    if (r->body.failed || r->headers.failed) {
        /* The arena ceiling: the error body is tiny and the first block has room for it. */
        r->headers.len = 0;
        r->headers.failed = false;
        mr_resp_error(r, 500, "response too large");
    }
    mr_buf_puts(dst, "Status: ");
    mr_buf_int(dst, r->status);
    mr_buf_putc(dst, ' ');
    mr_buf_puts(dst, mr_resp_reason(r->status));
    mr_buf_puts(dst, "\r\nContent-Type: ");
    mr_buf_puts(dst, r->content_type);
    mr_buf_puts(dst, "\r\nContent-Length: ");
    mr_buf_int(dst, (int64_t)r->body.len);
    mr_buf_append(dst, "\r\n", 2);
    mr_buf_append(dst, r->headers.data, r->headers.len);
    mr_buf_append(dst, "\r\n", 2);
}

int
mr_resp_set_cookie(struct mr_resp *r, struct mr_arena *a, const char *name, const char *value,
                   const struct mr_cookie_opts *o)
{
    struct mr_buf b;
    mr_buf_init(&b, a, 128);
    int rc = mr_cookie_format(&b, name, value, o);
    if (rc != 0)
        return rc;
    const char *line = mr_buf_cstr(&b);
    return line != NULL ? mr_resp_header(r, "Set-Cookie", line) : -ENOMEM;
}
