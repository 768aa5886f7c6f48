/* SPDX-License-Identifier: BSD-2-Clause */
/* api/body: millrace.h's path parameters, form fields, uploads, JSON members and cookies,
 * read from what app/serve/body.c and the router parsed, and Set-Cookie. */
#include <errno.h>
#include <string.h>

#include "app/include/millrace.h"
#include "app/serve/body.h"
#include "app/serve/ctx.h"

const char *
mr_path_param(const struct mr_ctx *ctx, const char *name)
{
    const struct mr_route_param *p = mr_body_path_param(ctx, name);
    return p != NULL ? p->value : NULL;
}

long long
mr_path_param_int(const struct mr_ctx *ctx, const char *name)
{
    const struct mr_route_param *p = mr_body_path_param(ctx, name);
    return p != NULL ? p->int_value : 0;
}

const char *
mr_field_at(const struct mr_ctx *ctx, const char *name, size_t i)
{
    return mr_body_field(ctx, name, i);
}

const char *
mr_field(const struct mr_ctx *ctx, const char *name)
{
    return mr_body_field(ctx, name, 0);
}

const struct mr_upload *
mr_upload(struct mr_ctx *ctx, const char *name)
{
    for (size_t k = 0; k < ctx->multipart.n; k++) {
        const struct mr_multipart_part *p = &ctx->multipart.parts[k];
        if (p->filename == NULL || strcmp(p->name, name) != 0)
            continue;
        struct mr_upload *u = mr_arena_alloc(ctx->arena, sizeof(*u));
        if (u != NULL)
            *u = (struct mr_upload){p->filename, p->content_type, p->data, p->size, p->fd};
        return u;
    }
    return NULL;
}

int
mr_json_get_str(const struct mr_ctx *ctx, const char *path, const char **out)
{
    struct mr_err err;
    return ctx->json_body.root != NULL
               ? mr_jsonbody_get_string(ctx->json_body.root, path, out, &err)
               : -ENOENT;
}

int
mr_json_get_int(const struct mr_ctx *ctx, const char *path, long long *out)
{
    struct mr_err err;
    return ctx->json_body.root != NULL ? mr_jsonbody_get_int(ctx->json_body.root, path, out, &err)
                                       : -ENOENT;
}

int
mr_json_get_bool(const struct mr_ctx *ctx, const char *path, bool *out)
{
    struct mr_err err;
    return ctx->json_body.root != NULL ? mr_jsonbody_get_bool(ctx->json_body.root, path, out, &err)
                                       : -ENOENT;
}

int
mr_json_get_double(const struct mr_ctx *ctx, const char *path, double *out)
{
    struct mr_err err;
    return ctx->json_body.root != NULL
               ? mr_jsonbody_get_double(ctx->json_body.root, path, out, &err)
               : -ENOENT;
}

const char *
mr_cookie(struct mr_ctx *ctx, const char *name)
{
    return mr_body_cookie(ctx, name);
}

int
mr_set_cookie(struct mr_ctx *ctx, const char *name, const char *value,
              const struct mr_cookie_options *opts)
{
    struct mr_cookie_opts o = {.is_https = mr_req_is_https(&ctx->req)};
    if (opts != NULL) {
        o.path = opts->path;
        o.domain = opts->domain;
        o.has_max_age = opts->has_max_age;
        o.max_age_s = opts->max_age_s;
        o.samesite = opts->same_site == MR_SAME_SITE_STRICT ? MR_SAMESITE_STRICT
                     : opts->same_site == MR_SAME_SITE_NONE ? MR_SAMESITE_NONE
                                                            : MR_SAMESITE_LAX;
        o.script_visible = opts->script_visible;
    }
    return mr_resp_set_cookie(&ctx->resp, ctx->arena, name, value, &o);
}
