/* SPDX-License-Identifier: BSD-2-Clause */
/* testonly: handlers that exist only in the test build (MR_TEST_BUILD), for the integration
 * tests: one that sleeps (a stuck request), one that echoes the body (body limits), and the
 * session calls one by one (set, get, del, login, logout, a CSRF token, a protected POST). */
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

/* Sessions (tests/integration/test_data_sessions.py): each answers JSON or the status the
 * session call returned. */
static int
answer_ok(struct mr_ctx *ctx, int rc)
{
    if (rc != 0)
        return rc;
    mr_set_type(ctx, "application/json");
    mr_write(ctx, "{\"ok\":true}", 11);
    return 0;
}

int
h_test_session_set(struct mr_ctx *ctx)
{
    const char *key = mr_field(ctx, "key"), *value = mr_field(ctx, "value");
    if (key == NULL || value == NULL)
        return mr_error(ctx, 400, "key and value are required");
    return answer_ok(ctx, mr_session_set(ctx, key, value));
}

int
h_test_session_get(struct mr_ctx *ctx)
{
    const char *key = mr_query(ctx, "key");
    if (key == NULL)
        return mr_error(ctx, 400, "key is required");
    const char *v = mr_session_get(ctx, key);
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "value");
    if (v != NULL)
        mr_jw_string(j, v);
    else
        mr_jw_null(j);
    mr_jw_object_end(j);
    return 0;
}

int
h_test_session_del(struct mr_ctx *ctx)
{
    const char *key = mr_field(ctx, "key");
    if (key == NULL)
        return mr_error(ctx, 400, "key is required");
    return answer_ok(ctx, mr_session_del(ctx, key));
}

int
h_test_session_login(struct mr_ctx *ctx)
{
    return answer_ok(ctx, mr_session_regenerate(ctx));
}

int
h_test_session_logout(struct mr_ctx *ctx)
{
    return answer_ok(ctx, mr_session_destroy(ctx));
}

int
h_test_session_csrf(struct mr_ctx *ctx)
{
    const char *t = mr_csrf_token(ctx);
    if (t == NULL)
        return 500;
    mr_set_type(ctx, "text/plain");
    mr_writef(ctx, "%s", t);
    return 0;
}

/* Runs only after the server checked the CSRF token (MR_ROUTE_CSRF). */
int
h_test_session_protected(struct mr_ctx *ctx)
{
    return answer_ok(ctx, 0);
}
#else
/* ISO C forbids an empty translation unit. */
typedef int mr_testonly_unused;
#endif
