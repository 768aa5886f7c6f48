/* SPDX-License-Identifier: BSD-2-Clause */
/* fortunes: TechEmpower's server-side template test: every Fortune row from a replica
 * (mr_sql_read), one row added at request time, sorted by message (byte order, which for
 * UTF-8 is code point order), rendered as escaped HTML. */
#include <stdlib.h>
#include <string.h>

#include "app/lib/html.h"
#include "handlers/handlers.h"

struct mr_fortune {
    long long id;
    const char *message; /* the result's own text, valid until the response is sent */
    size_t message_len;
};

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
    struct mr_rows *r = NULL;
    int rc = mr_sql_read(ctx, MR_TE_FORTUNES, NULL, 0, &r);
    if (rc != 0) {
        mr_resp_error(&ctx->resp, rc == 500 ? 500 : 503,
                      rc == 500 ? "request too large" : "database unavailable");
        return 0;
    }
    size_t n = mr_rows_count(r);
    struct mr_fortune *all = mr_arena_alloc(ctx->arena, (n + 1) * sizeof(*all));
    if (all == NULL) {
        mr_resp_error(&ctx->resp, 500, "request too large");
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        all[i].id = mr_rows_int(r, i, 0);
        all[i].message = mr_rows_text(r, i, 1, &all[i].message_len);
        if (all[i].message == NULL)
            all[i].message = ""; /* NULL in the table: an empty message */
    }
    all[n] = (struct mr_fortune){0, added, sizeof(added) - 1};
    qsort(all, n + 1, sizeof(*all), by_message);
    struct mr_buf *b = mr_resp_body(&ctx->resp);
    mr_buf_puts(b, "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                   "<tr><th>id</th><th>message</th></tr>");
    for (size_t i = 0; i <= n; i++) {
        mr_buf_puts(b, "<tr><td>");
        mr_buf_int(b, (int64_t)all[i].id);
        mr_buf_puts(b, "</td><td>");
        mr_html_escape(b, all[i].message, all[i].message_len);
        mr_buf_puts(b, "</td></tr>");
    }
    mr_buf_puts(b, "</table></body></html>");
    mr_resp_type(&ctx->resp, "text/html; charset=utf-8");
    return 0;
}
