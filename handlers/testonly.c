/* SPDX-License-Identifier: BSD-2-Clause */
/* testonly: handlers that exist only in the test build (MR_TEST_BUILD), for the integration
 * tests: one that sleeps (a stuck request), one that echoes the body (body limits). */
#ifdef MR_TEST_BUILD
#include <stdlib.h>
#include <time.h>

#include <millrace.h>

#include "handlers/handlers.h"

int
h_test_sleep(struct mr_ctx *ctx)
{
    const char *ms = mr_query(ctx, "ms");
    long v = ms ? strtol(ms, NULL, 10) : 1000;
    if (v < 0 || v > 600000)
        v = 1000;
    struct timespec ts = {.tv_sec = v / 1000, .tv_nsec = (v % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
    mr_set_type(ctx, "text/plain");
    mr_write(ctx, "slept\n", 6);
    return 0;
}

int
h_test_echo(struct mr_ctx *ctx)
{
    size_t len;
    const char *body = mr_body(ctx, &len);
    mr_set_type(ctx, "application/octet-stream");
    if (body != NULL)
        mr_write(ctx, body, len);
    return 0;
}
#else
/* ISO C forbids an empty translation unit. */
typedef int mr_testonly_unused;
#endif
