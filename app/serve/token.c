/* SPDX-License-Identifier: BSD-2-Clause */
/* token: the request side of read-your-writes (token.h): the token read from the header or
 * the cookie, the request's own commits, and the header and cookie of the response. All of it
 * is a few integers in the request's ctx; only the text forms use the arena. A request without
 * a token costs one look at its params (done while they are scanned, request.c) and, on its
 * first read, one cookie lookup. */
#include <string.h>
#include <unistd.h>

#include "app/lib/log.h"
#include "app/serve/body.h"
#include "app/serve/token.h"

int
mr_token_check_header(struct mr_ctx *ctx)
{
    const char *v = ctx->req.token;
    if (v == NULL)
        return 0;
    uint64_t lsn;
    if (mr_db_lsn_parse(v, strlen(v), &lsn) != 0) {
        mr_resp_error(&ctx->resp, 400,
                      "malformed X-Millrace-Token header: want a WAL position "
                      "like 0/16B3748");
        ctx->err_detail = "malformed X-Millrace-Token header";
        return 400;
    }
    ctx->token_in = lsn;
    ctx->token_resolved = true;
    return 0;
}

/* The cookie, when no header was presented: looked at once per request. */
static void
resolve_cookie(struct mr_ctx *ctx)
{
    ctx->token_resolved = true;
    const char *v = mr_body_cookie(ctx, MR_TOKEN_COOKIE);
    uint64_t lsn;
    if (v == NULL)
        return;
    if (mr_db_lsn_parse(v, strlen(v), &lsn) == 0) {
        ctx->token_in = lsn;
        return;
    }
    char rid[96], val[96];
    (void)mr_log_quote(rid, sizeof(rid), ctx->req.request_id);
    (void)mr_log_quote(val, sizeof(val), v);
    mr_log(MR_LOG_WARNING, "token_cookie_ignored", "req=%s worker=%d pid=%d cookie=%s value=%s",
           rid, ctx->slot, getpid(), MR_TOKEN_COOKIE, val);
}

uint64_t
mr_token_floor(struct mr_ctx *ctx)
{
    if (!ctx->token_resolved)
        resolve_cookie(ctx);
    return ctx->token_in > ctx->token_out ? ctx->token_in : ctx->token_out;
}

void
mr_token_committed(struct mr_ctx *ctx, uint64_t lsn)
{
    if (lsn > ctx->token_out)
        ctx->token_out = lsn;
}

const char *
mr_token_text(struct mr_ctx *ctx)
{
    if (ctx->token_out == 0)
        return NULL;
    char buf[MR_DB_LSN_LEN];
    size_t n = mr_db_lsn_format(ctx->token_out, buf, sizeof(buf));
    return n > 0 ? mr_arena_strndup(ctx->arena, buf, n) : NULL;
}

void
mr_token_emit(struct mr_ctx *ctx)
{
    const char *t = mr_token_text(ctx);
    if (t == NULL)
        return;
    (void)mr_resp_header(&ctx->resp, MR_TOKEN_HEADER, t);
    struct mr_cookie_opts o = {
        .has_max_age = true,
        .max_age_s = ((long long)ctx->cfg->token_max_age_ms + 999) / 1000,
        .is_https = mr_req_is_https(&ctx->req),
    };
    (void)mr_resp_set_cookie(&ctx->resp, ctx->arena, MR_TOKEN_COOKIE, t, &o);
}
