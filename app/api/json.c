/* SPDX-License-Identifier: BSD-2-Clause */
/* api/json: millrace.h's JSON writer, the request's struct mr_json writing into the body. */
#include <string.h>

#include "app/include/millrace.h"
#include "app/serve/ctx.h"

struct mr_jw *
mr_json_begin(struct mr_ctx *ctx)
{
    mr_json_init(&ctx->json.w, mr_resp_body(&ctx->resp));
    mr_resp_type(&ctx->resp, "application/json");
    return &ctx->json;
}

void
mr_jw_object(struct mr_jw *j)
{
    mr_json_obj(&j->w);
}

void
mr_jw_object_end(struct mr_jw *j)
{
    mr_json_obj_end(&j->w);
}

void
mr_jw_array(struct mr_jw *j)
{
    mr_json_arr(&j->w);
}

void
mr_jw_array_end(struct mr_jw *j)
{
    mr_json_arr_end(&j->w);
}

void
mr_jw_key(struct mr_jw *j, const char *key)
{
    mr_json_key(&j->w, key);
}

void
mr_jw_string(struct mr_jw *j, const char *s)
{
    mr_json_cstr(&j->w, s);
}

void
mr_jw_stringn(struct mr_jw *j, const char *s, size_t len)
{
    mr_json_str(&j->w, s, len);
}

void
mr_jw_int(struct mr_jw *j, long long v)
{
    mr_json_int(&j->w, v);
}

void
mr_jw_bool(struct mr_jw *j, bool v)
{
    mr_json_bool(&j->w, v);
}

void
mr_jw_null(struct mr_jw *j)
{
    mr_json_null(&j->w);
}
