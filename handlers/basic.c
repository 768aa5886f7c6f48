/* SPDX-License-Identifier: BSD-2-Clause */
/* basic: the endpoints that touch no backend: /plaintext and /json (TechEmpower's exact
 * bodies and content types) and /healthz (the process answers). */
#include "app/lib/json.h"
#include "handlers/handlers.h"

int
h_plaintext(struct mr_ctx *ctx)
{
    mr_resp_type(&ctx->resp, "text/plain");
    mr_buf_append(mr_resp_body(&ctx->resp), "Hello, World!", 13);
    return 0;
}

int
h_json(struct mr_ctx *ctx)
{
    /* Serialized per request, as TechEmpower requires (no cached body). */
    struct mr_json j;
    mr_json_init(&j, mr_resp_body(&ctx->resp));
    mr_json_obj(&j);
    mr_json_key(&j, "message");
    mr_json_cstr(&j, "Hello, World!");
    mr_json_obj_end(&j);
    mr_resp_type(&ctx->resp, "application/json");
    return 0;
}

int
h_healthz(struct mr_ctx *ctx)
{
    mr_resp_type(&ctx->resp, "text/plain");
    mr_buf_append(mr_resp_body(&ctx->resp), "ok\n", 3);
    return 0;
}
