/* SPDX-License-Identifier: BSD-2-Clause */
/* api/server: millrace.h's view of millrace itself: the /status, /metrics and /readyz pages,
 * rendered from the scoreboard. Readiness is the prober's last verdict: ready when the primary
 * or a replica is up; the body names every backend's state either way. */
#include "app/board/metrics_page.h"
#include "app/board/status_page.h"
#include "app/include/millrace.h"
#include "app/serve/ctx.h"

static const char *
state_name(int up)
{
    return up == 1 ? "up" : up == 0 ? "down" : "unknown";
}

static void
readiness(struct mr_ctx *ctx)
{
    bool ready = false;
    struct mr_json *j = &mr_json_begin(ctx)->w;
    mr_json_obj(j);
    mr_json_key(j, "backends");
    mr_json_obj(j);
    for (int i = 0; i < ctx->sb->n_pg; i++) {
        int up = atomic_load_explicit(&ctx->sb->pg[i].up, memory_order_relaxed);
        ready |= up == 1;
        mr_json_key(j, ctx->sb->pg[i].name);
        mr_json_cstr(j, state_name(up));
    }
    mr_json_key(j, "redis");
    mr_json_cstr(j, state_name(atomic_load_explicit(&ctx->sb->redis.up, memory_order_relaxed)));
    mr_json_obj_end(j);
    mr_json_key(j, "ready");
    mr_json_bool(j, ready);
    mr_json_obj_end(j);
    mr_resp_status(&ctx->resp, ready ? 200 : 503);
}

void
mr_server_page(struct mr_ctx *ctx, enum mr_server_page page, unsigned options)
{
    switch (page) {
    case MR_PAGE_STATUS: {
        struct mr_status_opts o = {.json = (options & MR_PAGE_JSON) != 0,
                                   .full = (options & MR_PAGE_FULL) != 0};
        mr_status_render(ctx->sb, ctx->cfg, &o, mr_resp_body(&ctx->resp));
        mr_resp_type(&ctx->resp, o.json ? "application/json" : "text/plain");
        return;
    }
    case MR_PAGE_METRICS:
        mr_metrics_render(ctx->sb, mr_resp_body(&ctx->resp));
        mr_resp_type(&ctx->resp, "text/plain; version=0.0.4; charset=utf-8");
        return;
    case MR_PAGE_READINESS:
        readiness(ctx);
        return;
    }
    mr_resp_error(&ctx->resp, 500, "no such page");
}
