/* SPDX-License-Identifier: BSD-2-Clause */
/* api/view: millrace.h's template views and mr_render, over app/lib/tv.h's value tree and
 * the app's compiled template set. A struct mr_view is a struct mr_tv: the public type is
 * only ever converted back. */
#include <errno.h>

#include "app/include/millrace.h"
#include "app/serve/ctx.h"

static struct mr_tv *
tv(struct mr_view *v)
{
    return (struct mr_tv *)(void *)v;
}

static struct mr_view *
view(struct mr_tv *t)
{
    return (struct mr_view *)(void *)t;
}

struct mr_view *
mr_view_object(struct mr_ctx *ctx)
{
    return view(mr_tv_obj(ctx->arena));
}

struct mr_view *
mr_view_list(struct mr_ctx *ctx)
{
    return view(mr_tv_list(ctx->arena));
}

int
mr_view_set_string(struct mr_view *obj, const char *key, const char *s, size_t len)
{
    return obj != NULL ? mr_tv_set_str(tv(obj), key, s, len) : -EINVAL;
}

int
mr_view_set_int(struct mr_view *obj, const char *key, long long v)
{
    return obj != NULL ? mr_tv_set_int(tv(obj), key, v) : -EINVAL;
}

int
mr_view_set_bool(struct mr_view *obj, const char *key, bool v)
{
    return obj != NULL ? mr_tv_set_bool(tv(obj), key, v) : -EINVAL;
}

struct mr_view *
mr_view_set_object(struct mr_view *obj, const char *key)
{
    return obj != NULL ? view(mr_tv_set_obj(tv(obj), key)) : NULL;
}

struct mr_view *
mr_view_set_list(struct mr_view *obj, const char *key)
{
    return obj != NULL ? view(mr_tv_set_list(tv(obj), key)) : NULL;
}

struct mr_view *
mr_view_push_object(struct mr_view *list)
{
    return list != NULL ? view(mr_tv_push_obj(tv(list))) : NULL;
}

int
mr_render(struct mr_ctx *ctx, const char *name, const struct mr_view *root)
{
    const struct mr_tpl *t = ctx->templates != NULL ? mr_tpl_get(ctx->templates, name) : NULL;
    if (t == NULL) {
        ctx->err_detail = "mr_render: no such template";
        return 500;
    }
    if (root == NULL) {
        ctx->err_detail = "mr_render: no view (the arena's ceiling?)";
        return 500;
    }
    if (ctx->resp.content_type == mr_resp_default_type)
        mr_resp_type(&ctx->resp, "text/html; charset=utf-8");
    int rc = mr_tpl_render(t, (const struct mr_tv *)(const void *)root, mr_resp_body(&ctx->resp));
    if (rc != 0) {
        ctx->err_detail = rc == -ELOOP ? "mr_render: nesting too deep" : "mr_render: arena full";
        return 500;
    }
    return 0;
}
