/* SPDX-License-Identifier: BSD-2-Clause */
/* api/memory: millrace.h's request-lifetime allocation, the request arena itself. */
#include "app/include/millrace.h"
#include "app/serve/ctx.h"

void *
mr_alloc(struct mr_ctx *ctx, size_t n)
{
    return mr_arena_alloc(ctx->arena, n);
}

void *
mr_calloc(struct mr_ctx *ctx, size_t n, size_t size)
{
    return mr_arena_calloc(ctx->arena, n, size);
}

char *
mr_strndup(struct mr_ctx *ctx, const char *s, size_t len)
{
    return mr_arena_strndup(ctx->arena, s, len);
}
