/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_router: mr_router_match over a fixed table (handlers/table.c's rows, test rows
 * included, plus a path that has no GET) with an arbitrary method and path. Input: one byte
 * choosing the Allow buffer's capacity, then the method up to the first NUL byte, then the
 * path (any bytes, NULs included). Method, path and Allow buffer are heap blocks of exactly
 * their size, so ASan sees any access past them; with capacity 0 the router must not touch
 * the buffer at all. Invariants: the answer agrees with a reference scan (first matching
 * row; HEAD matches GET rows; -404 when no row has the path, else -405), and on -405 the
 * Allow text is the expected list, cut to the capacity and NUL-terminated. */
#include <string.h>

#include "app/serve/router.h"
#include "tests/fuzz/ref.h"

#ifndef FUZZ_ROUTER_MIN_CAP
#define FUZZ_ROUTER_MIN_CAP 0 /* -DFUZZ_ROUTER_MIN_CAP=1 skips the Allow-capacity-0 case */
#endif

static int
handler(struct mr_ctx *ctx)
{
    (void)ctx;
    return 0;
}

static const struct mr_route table[] = {
    MR_ROUTE("GET", "/plaintext", handler),
    MR_ROUTE("GET", "/json", handler),
    MR_ROUTE("GET", "/db", handler),
    MR_ROUTE("GET", "/queries", handler),
    MR_ROUTE("GET", "/cached-queries", handler),
    MR_ROUTE("GET", "/fortunes", handler),
    MR_ROUTE("GET", "/updates", handler),
    MR_ROUTE("POST", "/updates", handler),
    MR_ROUTE("GET", "/healthz", handler),
    MR_ROUTE("GET", "/readyz", handler),
    MR_ROUTE("GET", "/test/sleep", handler),
    MR_ROUTE("POST", "/test/echo", handler),
    MR_ROUTE("PUT", "/updates", handler),
    MR_ROUTE("DELETE", "/", handler),
};
#define N_ROUTES (sizeof(table) / sizeof(table[0]))

static bool
row_has_path(const struct mr_route *r, const char *path, size_t len)
{
    return strlen(r->pattern) == len && memcmp(r->pattern, path, len) == 0;
}

/* The Allow list in table order, each method once, HEAD right after the first GET. */
static void
ref_allow(const char *path, size_t len, char *out, size_t cap)
{
    const char *seen[2 * N_ROUTES];
    size_t n_seen = 0;
    out[0] = '\0';
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!row_has_path(&table[i], path, len))
            continue;
        const char *add[2] = {table[i].method, strcmp(table[i].method, "GET") == 0 ? "HEAD" : NULL};
        for (size_t k = 0; k < 2 && add[k] != NULL; k++) {
            bool dup = false;
            for (size_t j = 0; j < n_seen; j++)
                dup = dup || strcmp(seen[j], add[k]) == 0;
            if (dup)
                continue;
            seen[n_seen++] = add[k];
            size_t o = strlen(out);
            (void)snprintf(out + o, cap - o, "%s%s", o ? ", " : "", add[k]);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[] = {0, 1, 2, 5, 8, 11, 16, 64};
    if (size == 0)
        return 0;
    size_t cap = caps[data[0] % 8];
    if (cap < FUZZ_ROUTER_MIN_CAP)
        cap = FUZZ_ROUTER_MIN_CAP;
    const uint8_t *rest = data + 1;
    size_t rest_len = size - 1;
    const uint8_t *nul = memchr(rest, '\0', rest_len);
    size_t method_len = nul ? (size_t)(nul - rest) : rest_len;
    size_t path_len = nul ? rest_len - method_len - 1 : 0;

    char *method = malloc(method_len + 1);
    FUZZ_CHECK(method != NULL);
    memcpy(method, rest, method_len);
    method[method_len] = '\0';
    char *path = fuzz_dup_exact(nul ? nul + 1 : rest + rest_len, path_len);
    char *allow = malloc(cap);
    FUZZ_CHECK(allow != NULL);
    if (cap > 0)
        memset(allow, 'X', cap); /* the router must write its own terminator */

    int rc = mr_router_match(table, N_ROUTES, method, path, path_len, allow, cap);

    int want = -404;
    bool is_head = strcmp(method, "HEAD") == 0;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!row_has_path(&table[i], path, path_len))
            continue;
        if (strcmp(table[i].method, method) == 0 ||
            (is_head && strcmp(table[i].method, "GET") == 0)) {
            want = (int)i;
            break;
        }
        want = -405;
    }
    FUZZ_CHECK(rc == want);
    if (rc == -405 && cap > 0) {
        char full[256];
        ref_allow(path, path_len, full, sizeof(full));
        FUZZ_CHECK(full[0] != '\0');
        FUZZ_CHECK(memchr(allow, '\0', cap) != NULL);
        size_t keep = strlen(full) < cap - 1 ? strlen(full) : cap - 1;
        FUZZ_CHECK(strlen(allow) == keep);
        FUZZ_CHECK(memcmp(allow, full, keep) == 0);
    }
    free(allow);
    free(path);
    free(method);
    return 0;
}
