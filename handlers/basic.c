/* SPDX-License-Identifier: BSD-2-Clause */
/* basic: the endpoints that touch no backend: /plaintext and /json (TechEmpower's exact
 * bodies and content types) and /healthz (the process answers). */
#include <millrace.h>

#include "handlers/handlers.h"

int
h_plaintext(struct mr_ctx *ctx)
{
    mr_set_type(ctx, "text/plain");
    mr_write(ctx, "Hello, World!", 13);
    return 0;
}

int
h_json(struct mr_ctx *ctx)
{
    /* Serialized per request, as TechEmpower requires (no cached body). */
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "message");
    mr_jw_string(j, "Hello, World!");
    mr_jw_object_end(j);
    return 0;
}

int
h_healthz(struct mr_ctx *ctx)
{
    mr_set_type(ctx, "text/plain");
    mr_write(ctx, "ok\n", 3);
    return 0;
}
