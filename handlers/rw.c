/* SPDX-License-Identifier: BSD-2-Clause */
/* rw: read-your-writes, to see it work (millrace.h's Data section).
 *  POST /rw/{id:int}  value=V (an integer, validated by the route's inputs): upserts
 *                     rw_demo(id, value) on the primary and answers {"id":N,"value":V,
 *                     "token":"0/16B3748"}; the token is also in the response's
 *                     X-Millrace-Token header and millrace_token cookie (millrace sets both).
 *  GET /rw/{id:int}   {"id":N,"value":V,"from":"replica"|"primary"}, 404 when no such row;
 *                     with the token (cookie or header) the read runs only where the write
 *                     has been replayed.
 * A data call's failure answers with its status (503, 504...); the reason is in the log. */
#include <stdio.h>

#include <millrace.h>

#include "handlers/handlers.h"

#define PARAM_CAP 24 /* a long long's text and NUL */

int
h_rw_put(struct mr_ctx *ctx)
{
    char id[PARAM_CAP], value[PARAM_CAP];
    (void)snprintf(id, sizeof(id), "%lld", mr_input_int(ctx, "id"));
    (void)snprintf(value, sizeof(value), "%lld", mr_input_int(ctx, "value"));
    const char *params[] = {id, value};
    struct mr_rows *r;
    int rc = mr_sql_write(ctx, MR_TE_RW_PUT, params, 2, &r);
    if (rc != 0)
        return rc;
    const char *token = mr_token(ctx);
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "id");
    mr_jw_int(j, mr_rows_int(r, 0, 0));
    mr_jw_key(j, "value");
    mr_jw_int(j, mr_rows_int(r, 0, 1));
    mr_jw_key(j, "token");
    if (token != NULL)
        mr_jw_string(j, token);
    else
        mr_jw_null(j); /* committed, but its WAL position could not be read */
    mr_jw_object_end(j);
    return 0;
}

int
h_rw_get(struct mr_ctx *ctx)
{
    char id[PARAM_CAP];
    (void)snprintf(id, sizeof(id), "%lld", mr_input_int(ctx, "id"));
    const char *params[] = {id};
    struct mr_rows *r;
    int rc = mr_sql_read(ctx, MR_TE_RW_GET, params, 1, &r);
    if (rc != 0)
        return rc;
    if (mr_rows_count(r) == 0)
        return mr_error(ctx, 404, "no such row");
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "id");
    mr_jw_int(j, mr_rows_int(r, 0, 0));
    mr_jw_key(j, "value");
    mr_jw_int(j, mr_rows_int(r, 0, 1));
    mr_jw_key(j, "from");
    mr_jw_string(j, mr_rows_source(r));
    mr_jw_object_end(j);
    return 0;
}
