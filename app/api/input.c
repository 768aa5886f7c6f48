/* SPDX-License-Identifier: BSD-2-Clause */
/* api/input: millrace.h's typed reads of the route's validated inputs, by name. */
#include "app/include/millrace.h"
#include "app/serve/ctx.h"

/* The row of name when it has type t (or MR_V_EMAIL for strings), else -1. */
static int
row(const struct mr_ctx *ctx, const char *name, enum mr_vtype t)
{
    if (ctx->inputs.v == NULL || ctx->route == NULL || ctx->route->inputs == NULL)
        return -1;
    int i = mr_values_find(&ctx->inputs, name);
    if (i < 0)
        return -1;
    enum mr_vtype have = ctx->route->inputs[i].type;
    bool ok = have == t || (t == MR_V_STRING && have == MR_V_EMAIL);
    return ok && mr_values_has(&ctx->inputs, i) ? i : -1;
}

bool
mr_input_has(const struct mr_ctx *ctx, const char *name)
{
    if (ctx->inputs.v == NULL)
        return false;
    int i = mr_values_find(&ctx->inputs, name);
    return i >= 0 && mr_values_has(&ctx->inputs, i);
}

long long
mr_input_int(const struct mr_ctx *ctx, const char *name)
{
    int i = row(ctx, name, MR_V_INT);
    return i >= 0 ? mr_values_int(&ctx->inputs, i) : 0;
}

const char *
mr_input_str(const struct mr_ctx *ctx, const char *name, size_t *len)
{
    int i = row(ctx, name, MR_V_STRING);
    if (i < 0) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    return mr_values_str(&ctx->inputs, i, len);
}

int
mr_input_enum(const struct mr_ctx *ctx, const char *name)
{
    int i = row(ctx, name, MR_V_ENUM);
    return i >= 0 ? mr_values_enum(&ctx->inputs, i) : -1;
}

bool
mr_input_bool(const struct mr_ctx *ctx, const char *name)
{
    int i = row(ctx, name, MR_V_BOOL);
    return i >= 0 && mr_values_bool(&ctx->inputs, i);
}

const char *
mr_input_error(const struct mr_ctx *ctx, const char *name)
{
    if (ctx->inputs.v == NULL)
        return NULL;
    int i = mr_values_find(&ctx->inputs, name);
    return i >= 0 ? mr_values_reason(&ctx->inputs, i) : NULL;
}

int
mr_input_errors(const struct mr_ctx *ctx)
{
    int n = 0;
    for (int i = 0; ctx->inputs.v != NULL && i < ctx->inputs.n; i++)
        n += mr_values_reason(&ctx->inputs, i) != NULL;
    return n;
}
