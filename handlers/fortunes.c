/* SPDX-License-Identifier: BSD-2-Clause */
/* fortunes: TechEmpower's server-side template test: every Fortune row from a replica
 * (mr_sql_read), one row added at request time, sorted by message (byte order, which for
 * UTF-8 is code point order), rendered by handlers/templates/fortunes.html (compiled in at
 * build time). */
#include <stdlib.h>
#include <string.h>

#include <millrace.h>

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
        return mr_error(ctx, rc == 500 ? 500 : 503,
                        rc == 500 ? "request too large" : "database unavailable");
    }
    size_t n = mr_rows_count(r);
    struct mr_fortune *all = mr_alloc(ctx, (n + 1) * sizeof(*all));
    if (all == NULL)
        return mr_error(ctx, 500, "request too large");
    for (size_t i = 0; i < n; i++) {
        all[i].id = mr_rows_int(r, i, 0);
        all[i].message = mr_rows_text(r, i, 1, &all[i].message_len);
        if (all[i].message == NULL)
            all[i].message = ""; /* NULL in the table: an empty message */
    }
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
