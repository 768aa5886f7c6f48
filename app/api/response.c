/* SPDX-License-Identifier: BSD-2-Clause */
/* api/response: millrace.h's response calls, over struct mr_resp: status, headers, body,
 * redirects and the conditional-GET helpers. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "app/include/millrace.h"
#include "app/lib/html.h"
#include "app/serve/ctx.h"

void
mr_set_status(struct mr_ctx *ctx, int status)
{
    mr_resp_status(&ctx->resp, status >= 100 && status <= 599 ? status : 500);
}

void
mr_set_type(struct mr_ctx *ctx, const char *content_type)
{
    mr_resp_type(&ctx->resp, content_type);
}

/* RFC 9110 token characters. */
static bool
is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= ' ' || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c) != NULL)
            return false;
    }
    return true;
}

int
mr_add_header(struct mr_ctx *ctx, const char *name, const char *value)
{
    if (!is_token(name))
        return -EINVAL;
    return mr_resp_header(&ctx->resp, name, value);
}

void
mr_write(struct mr_ctx *ctx, const void *data, size_t len)
{
    mr_buf_append(mr_resp_body(&ctx->resp), data, len);
}

void
mr_writef(struct mr_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mr_buf_vprintf(mr_resp_body(&ctx->resp), fmt, ap);
    va_end(ap);
}

void
mr_write_html(struct mr_ctx *ctx, const char *s, size_t len)
{
    mr_html_escape(mr_resp_body(&ctx->resp), s, len);
}

int
mr_redirect(struct mr_ctx *ctx, int status, const char *location)
{
    if (status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
        return -EINVAL;
    int rc = mr_resp_header(&ctx->resp, "Location", location);
    if (rc != 0)
        return rc;
    mr_resp_status(&ctx->resp, status);
    return 0;
}

/* Whether the If-None-Match list holds the quoted tag (weak or strong: a GET compares
 * weakly) or is "*". */
static bool
etag_listed(const char *list, const char *tag, size_t tag_len)
{
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (*p != '"')
            return false; /* malformed: no match, the full answer goes out */
        const char *end = strchr(p + 1, '"');
        if (end == NULL)
            return false;
        if ((size_t)(end - p - 1) == tag_len && memcmp(p + 1, tag, tag_len) == 0)
            return true;
        p = end + 1;
    }
    return false;
}

bool
mr_etag(struct mr_ctx *ctx, const char *tag)
{
    size_t n = strlen(tag);
    for (size_t i = 0; i < n; i++)
        if (tag[i] == '"' || (unsigned char)tag[i] < 0x21 || (unsigned char)tag[i] > 0x7e)
            return false;
    char *quoted = mr_arena_alloc(ctx->arena, n + 3);
    if (quoted == NULL)
        return false;
    quoted[0] = '"';
    memcpy(quoted + 1, tag, n);
    quoted[n + 1] = '"';
    quoted[n + 2] = '\0';
    if (mr_resp_header(&ctx->resp, "ETag", quoted) != 0)
        return false;
    const char *inm = mr_req_header(&ctx->req, "If-None-Match");
    if (inm == NULL || !etag_listed(inm, tag, n))
        return false;
    mr_resp_status(&ctx->resp, 304);
    ctx->resp.body.len = 0;
    return true;
}

int
mr_cache_control(struct mr_ctx *ctx, const char *value)
{
    return mr_resp_header(&ctx->resp, "Cache-Control", value);
}

int
mr_error(struct mr_ctx *ctx, int status, const char *message)
{
    if (status < 400 || status > 599)
        status = 500;
    bool html = ctx->route != NULL && (ctx->route->flags & MR_ROUTE_HTML) != 0;
    mr_resp_error_as(&ctx->resp, html, status, message);
    return 0;
}
