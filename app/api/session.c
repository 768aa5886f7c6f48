/* SPDX-License-Identifier: BSD-2-Clause */
/* api/session: millrace.h's session and CSRF calls, over the request's session
 * (app/serve/session.c). */
#include "app/include/millrace.h"
#include "app/serve/ctx.h"
#include "app/serve/session.h"

const char *
mr_session_get(struct mr_ctx *ctx, const char *key)
{
    return mr_sess_get(ctx, key);
}

int
mr_session_set(struct mr_ctx *ctx, const char *key, const char *value)
{
    return mr_sess_set(ctx, key, value);
}

int
mr_session_del(struct mr_ctx *ctx, const char *key)
{
    return mr_sess_del(ctx, key);
}

int
mr_session_regenerate(struct mr_ctx *ctx)
{
    return mr_sess_regenerate(ctx);
}

int
mr_session_destroy(struct mr_ctx *ctx)
{
    return mr_sess_destroy(ctx);
}

const char *
mr_csrf_token(struct mr_ctx *ctx)
{
    return mr_sess_csrf_token(ctx);
}
