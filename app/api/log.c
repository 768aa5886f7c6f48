/* SPDX-License-Identifier: BSD-2-Clause */
/* api/log: millrace.h's log line, clock and random numbers: the worker's logger and generator,
 * with the request's id and route on every line. */
#include <stdarg.h>
#include <stdio.h>

#include "app/include/millrace.h"
#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "app/serve/ctx.h"

void
mr_logf(const struct mr_ctx *ctx, enum mr_level level, const char *event, const char *fmt, ...)
{
    char line[MR_LOG_LINE];
    int n = 0;
    if (ctx != NULL)
        n = snprintf(line, sizeof(line), "request_id=%s route=%s ", mr_request_id(ctx),
                     ctx->route != NULL ? ctx->route->pattern : "-");
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    mr_log((enum mr_log_level)level, event, "%s", line);
}

int64_t
mr_now_us(void)
{
    return mr_clock_us();
}

int32_t
mr_random(struct mr_ctx *ctx, int32_t lo, int32_t hi)
{
    return mr_rand_range(ctx->rng, lo, hi);
}
