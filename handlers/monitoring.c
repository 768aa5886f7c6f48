/* SPDX-License-Identifier: BSD-2-Clause */
/* monitoring: millrace's own operations endpoints, on millrace.h alone. /readyz is 200 when
 * the primary or a replica is reachable (by the prober's last probe), else 503, and names
 * every backend's state either way. /status (php-fpm's fields; ?json, ?full) and /metrics
 * (Prometheus) render the scoreboard; the manager's status process serves the same two on
 * status_listen, so they answer even when every worker is busy. */
#include <millrace.h>

#include "handlers/handlers.h"

int
h_readyz(struct mr_ctx *ctx)
{
    mr_server_page(ctx, MR_PAGE_READINESS, 0);
    return 0;
}

int
h_status(struct mr_ctx *ctx)
{
    unsigned o = (mr_query(ctx, "json") != NULL ? MR_PAGE_JSON : 0) |
                 (mr_query(ctx, "full") != NULL ? MR_PAGE_FULL : 0);
    mr_server_page(ctx, MR_PAGE_STATUS, o);
    return 0;
}

int
h_metrics(struct mr_ctx *ctx)
{
    mr_server_page(ctx, MR_PAGE_METRICS, 0);
    return 0;
}
