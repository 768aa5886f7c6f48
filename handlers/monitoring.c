/* SPDX-License-Identifier: BSD-2-Clause */
/* monitoring: the operations endpoints. /readyz is 200 when the primary or a replica is
 * reachable (by the prober's last probe), else 503; its body names every backend's state either
 * way. /status (php-fpm's fields) and /metrics (Prometheus) render the scoreboard; the manager's
 * status process serves the same two on status_listen, so they answer even when every worker is
 * busy. */
#include "app/lib/json.h"
#include "app/board/metrics_page.h"
#include "app/board/status_page.h"
#include "handlers/handlers.h"

static const char *
state_name(int up)
{
    return up == 1 ? "up" : up == 0 ? "down" : "unknown";
}

int
h_readyz(struct mr_ctx *ctx)
{
    bool ready = false;
    struct mr_json j;
    mr_json_init(&j, mr_resp_body(&ctx->resp));
    mr_json_obj(&j);
    mr_json_key(&j, "backends");
    mr_json_obj(&j);
    for (int i = 0; i < ctx->sb->n_pg; i++) {
        int up = atomic_load_explicit(&ctx->sb->pg[i].up, memory_order_relaxed);
        ready |= up == 1;
        mr_json_key(&j, ctx->sb->pg[i].name);
        mr_json_cstr(&j, state_name(up));
    }
    mr_json_key(&j, "redis");
    mr_json_cstr(&j, state_name(atomic_load_explicit(&ctx->sb->redis.up, memory_order_relaxed)));
    mr_json_obj_end(&j);
    mr_json_key(&j, "ready");
    mr_json_bool(&j, ready);
    mr_json_obj_end(&j);
    mr_resp_type(&ctx->resp, "application/json");
    mr_resp_status(&ctx->resp, ready ? 200 : 503);
    return 0;
}

int
h_status(struct mr_ctx *ctx)
{
    struct mr_status_opts o = {
        .json = mr_req_query(&ctx->req, "json") != NULL,
        .full = mr_req_query(&ctx->req, "full") != NULL,
    };
    mr_status_render(ctx->sb, ctx->cfg, &o, mr_resp_body(&ctx->resp));
    mr_resp_type(&ctx->resp, o.json ? "application/json" : "text/plain");
    return 0;
}

int
h_metrics(struct mr_ctx *ctx)
{
    mr_metrics_render(ctx->sb, mr_resp_body(&ctx->resp));
    mr_resp_type(&ctx->resp, "text/plain; version=0.0.4; charset=utf-8");
    return 0;
}
