/* SPDX-License-Identifier: BSD-2-Clause */
/* router: a linear scan. The table has a dozen rows and the length check rejects most of
 * them before any strcmp, which beats hashing at this size. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "app/serve/router.h"

static void
allow_add(char *allow, size_t cap, const char *method)
{
    if (cap == 0)
        return;
    size_t n = strlen(allow);
    if (strstr(allow, method) != NULL) /* methods are distinct words; no prefix clash here */
        return;
    (void)snprintf(allow + n, cap - n, "%s%s", n ? ", " : "", method);
}

int
mr_router_match(const struct mr_route *table, size_t n, const char *method, const char *path,
                size_t path_len, char *allow, size_t allow_cap)
{
    bool is_head = strcmp(method, "HEAD") == 0;
    bool path_seen = false;
    if (allow_cap > 0)
        allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const struct mr_route *r = &table[i];
        if (strlen(r->pattern) != path_len || memcmp(r->pattern, path, path_len) != 0)
            continue;
        if (strcmp(r->method, method) == 0 || (is_head && strcmp(r->method, "GET") == 0))
            return (int)i;
        path_seen = true;
    }
    if (!path_seen)
        return -404;
    for (size_t i = 0; i < n; i++) {
        const struct mr_route *r = &table[i];
        if (strlen(r->pattern) != path_len || memcmp(r->pattern, path, path_len) != 0)
            continue;
        allow_add(allow, allow_cap, r->method);
        if (strcmp(r->method, "GET") == 0)
            allow_add(allow, allow_cap, "HEAD");
    }
    return -405;
}
