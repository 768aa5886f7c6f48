/* SPDX-License-Identifier: BSD-2-Clause */
/* unavailable: the one answer a handler gives when a backend fails: 503 with a fixed JSON
 * message for the client, and the backend's reason kept for the request's log line only (a
 * client learns nothing of hosts, SQL or Redis replies). */
#include <string.h>

#include "handlers/handlers.h"

void
mr_handler_unavailable(struct mr_ctx *ctx, const char *what, const struct mr_err *err)
{
    mr_resp_error(&ctx->resp, 503, what);
    ctx->err_detail = mr_arena_strndup(ctx->arena, err->msg, strlen(err->msg));
}
