/* SPDX-License-Identifier: BSD-2-Clause */
/* api/request: millrace.h's view of the request, over the parsed struct mr_req. */
#include <string.h>
#include <strings.h>

#include "app/include/millrace.h"
#include "app/serve/ctx.h"

const char *
mr_method(const struct mr_ctx *ctx)
{
    return ctx->req.method;
}

const char *
mr_path(const struct mr_ctx *ctx, size_t *len)
{
    if (len != NULL)
        *len = ctx->req.path_len;
    return ctx->req.path;
}

const char *
mr_query(const struct mr_ctx *ctx, const char *name)
{
    return mr_req_query(&ctx->req, name);
}

const char *
mr_query_at(const struct mr_ctx *ctx, const char *name, size_t i)
{
    for (size_t k = 0; k < ctx->req.n_query; k++)
        if (strcmp(ctx->req.query[k].name, name) == 0 && i-- == 0)
            return ctx->req.query[k].value;
    return NULL;
}

const char *
mr_header(const struct mr_ctx *ctx, const char *name)
{
    /* CGI passes these two without the HTTP_ prefix. */
    if (strcasecmp(name, "Content-Type") == 0)
        return mr_req_param(&ctx->req, "CONTENT_TYPE");
    if (strcasecmp(name, "Content-Length") == 0)
        return mr_req_param(&ctx->req, "CONTENT_LENGTH");
    return mr_req_header(&ctx->req, name);
}

const char *
mr_body(const struct mr_ctx *ctx, size_t *len)
{
    if (len != NULL)
        *len = ctx->req.body != NULL ? ctx->req.body_len : 0;
    return ctx->req.body;
}

const char *
mr_request_id(const struct mr_ctx *ctx)
{
    return ctx->req.request_id != NULL ? ctx->req.request_id : "-";
}

bool
mr_is_https(const struct mr_ctx *ctx)
{
    return mr_req_is_https(&ctx->req);
}

const char *
mr_remote_addr(const struct mr_ctx *ctx)
{
    const char *v = mr_req_param(&ctx->req, "REMOTE_ADDR");
    return v != NULL ? v : "";
}
