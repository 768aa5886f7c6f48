/* SPDX-License-Identifier: BSD-2-Clause */
/* fortunes: TechEmpower's server-side template test: every Fortune row from a replica, one
 * row added at request time, sorted by message (byte order, which for UTF-8 is code point
 * order), rendered by handlers/templates/fortunes.html (compiled in at build time). */
#include <stdlib.h>
#include <string.h>

#include "app/lib/clock.h"
#include "handlers/handlers.h"

static int
by_message(const void *a, const void *b)
{
    const struct mr_fortune *x = a, *y = b;
    size_t n = x->message_len < y->message_len ? x->message_len : y->message_len;
    int c = memcmp(x->message, y->message, n);
    if (c != 0)
        return c;
    return (x->message_len > y->message_len) - (x->message_len < y->message_len);
}

int
h_fortunes(struct mr_ctx *ctx)
{
    static const char added[] = "Additional fortune added at request time.";
    struct mr_fortune *rows = NULL;
    size_t n = 0;
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    int rc = mr_db_fortunes_get(ctx->db, ctx->arena, &rows, &n, &err);
    ctx->backend_us += mr_clock_us() - t0;
    if (rc < 0) {
        mr_handler_unavailable(ctx, "database unavailable", &err);
        return 0;
    }
    struct mr_fortune *all = mr_arena_alloc(ctx->arena, (n + 1) * sizeof(*all));
    if (all == NULL) {
        mr_resp_error(&ctx->resp, 500, "request too large");
        return 0;
    }
    if (n > 0)
        memcpy(all, rows, n * sizeof(*all));
    all[n] = (struct mr_fortune){0, added, sizeof(added) - 1};
    qsort(all, n + 1, sizeof(*all), by_message);
    struct mr_view *root = mr_view_object(ctx);
    struct mr_view *list = mr_view_set_list(root, "fortunes");
    for (size_t i = 0; i <= n && list != NULL; i++) {
        struct mr_view *row = mr_view_push_object(list);
        if (mr_view_set_int(row, "id", all[i].id) != 0 ||
            mr_view_set_string(row, "message", all[i].message, all[i].message_len) != 0)
            list = NULL;
    }
    return mr_render(ctx, "fortunes", list != NULL ? root : NULL);
}
