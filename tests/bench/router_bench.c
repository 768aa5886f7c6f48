/* SPDX-License-Identifier: BSD-2-Clause */
/* router_bench: the cost of one mr_router_match (with the arena reset a request pays) over
 * a table of 10 routes and one of 1,000, to show that the trie's cost does not grow with the
 * table. Both tables have the same shapes, ten per resource, /api/v1/<resource>/{id:int}/...
 * (static, int, plain and rest parameters); the small one has one resource, the large one a
 * hundred. Each is matched against the same mix of eight paths per resource (hits of every
 * kind, a 404 and a 405), spread over its resources. Prints ns per match for both, best of
 * BENCH_ROUNDS rounds that alternate between the tables, and their ratio. `make
 * bench-router` builds it with the release flags.
 *
 *   router_bench [matches per round, default 2000000] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/serve/router.h"

#define N_RESOURCES 100
#define ROWS_PER_RESOURCE 10
#define PATHS_PER_RESOURCE 8
#define BENCH_ROUNDS 7

static const char *const words[] = {
    "users",    "orders",   "invoices", "products", "carts",   "payments", "shipments",
    "accounts", "projects", "tasks",    "comments", "tags",    "teams",    "sessions",
    "webhooks", "reports",  "metrics",  "alerts",   "devices", "regions",  "coupons",
    "reviews",  "vendors",  "tickets",  "messages",
};
static const char *const variants[] = {"", "_archive", "_stats", "_audit"};

struct path {
    const char *method;
    char *path;
    size_t len;
};

struct table {
    struct mr_route_row rows[N_RESOURCES * ROWS_PER_RESOURCE];
    size_t n_rows;
    struct path paths[N_RESOURCES * PATHS_PER_RESOURCE];
    size_t n_paths;
    struct mr_router *router;
};

/* f with its one "%s" replaced by resource, in a fresh malloc'd string. */
static char *
fmt(const char *f, const char *resource)
{
    const char *at = strstr(f, "%s");
    size_t head = (size_t)(at - f), rlen = strlen(resource), tail = strlen(at + 2);
    char *s = malloc(head + rlen + tail + 1);
    if (s == NULL)
        abort();
    memcpy(s, f, head);
    memcpy(s + head, resource, rlen);
    memcpy(s + head + rlen, at + 2, tail + 1);
    return s;
}

static void
add_resource(struct table *t, const char *res)
{
    static const struct mr_route_row shapes[ROWS_PER_RESOURCE] = {
        {"GET", "/api/v1/%s"},
        {"POST", "/api/v1/%s"},
        {"GET", "/api/v1/%s/search"},
        {"GET", "/api/v1/%s/{id:int}"},
        {"PUT", "/api/v1/%s/{id:int}"},
        {"DELETE", "/api/v1/%s/{id:int}"},
        {"GET", "/api/v1/%s/{id:int}/comments"},
        {"GET", "/api/v1/%s/{id:int}/history"},
        {"GET", "/api/v1/%s/{id:int}/owners/{owner}"},
        {"GET", "/api/v1/%s/{slug}/files/{path*}"},
    };
    static const struct {
        const char *method, *path;
    } mix[PATHS_PER_RESOURCE] = {
        {"GET", "/api/v1/%s"},
        {"GET", "/api/v1/%s/search"},
        {"GET", "/api/v1/%s/123456"},
        {"DELETE", "/api/v1/%s/42"},
        {"GET", "/api/v1/%s/77/owners/alice"},
        {"GET", "/api/v1/%s/readme/files/docs/intro.md"},
        {"GET", "/api/v1/%s/12/nope"}, /* 404 */
        {"PATCH", "/api/v1/%s/5"},     /* 405 */
    };
    for (size_t i = 0; i < ROWS_PER_RESOURCE; i++)
        t->rows[t->n_rows++] = (struct mr_route_row){shapes[i].method, fmt(shapes[i].pattern, res)};
    for (size_t i = 0; i < PATHS_PER_RESOURCE; i++) {
        char *p = fmt(mix[i].path, res);
        t->paths[t->n_paths++] = (struct path){mix[i].method, p, strlen(p)};
    }
}

static void
table_init(struct table *t, int n_resources)
{
    memset(t, 0, sizeof(*t));
    for (int i = 0; i < n_resources; i++) {
        char res[64];
        (void)snprintf(res, sizeof(res), "%s%s", words[i % 25], variants[i / 25 % 4]);
        add_resource(t, res);
    }
    struct mr_err err;
    if (mr_router_build(t->rows, t->n_rows, sizeof(t->rows[0]), &t->router, &err) < 0) {
        (void)fprintf(stderr, "router_bench: %s\n", err.msg);
        exit(1);
    }
    /* The mix is what it says: six hits, a 404, a 405 per resource. */
    struct mr_arena a;
    mr_arena_init(&a, 4096, 1 << 20);
    for (size_t i = 0; i < t->n_paths; i++) {
        struct mr_match m;
        int rc = mr_router_match(t->router, t->paths[i].method, t->paths[i].path, t->paths[i].len,
                                 &a, &m);
        size_t kind = i % PATHS_PER_RESOURCE;
        if ((kind < 6 && rc < 0) || (kind == 6 && rc != -404) || (kind == 7 && rc != -405)) {
            (void)fprintf(stderr, "router_bench: %s %s gave %d\n", t->paths[i].method,
                          t->paths[i].path, rc);
            exit(1);
        }
        mr_arena_reset(&a);
    }
    mr_arena_fini(&a);
}

static void
table_fini(struct table *t)
{
    mr_router_free(&t->router);
    for (size_t i = 0; i < t->n_rows; i++)
        free((char *)t->rows[i].pattern);
    for (size_t i = 0; i < t->n_paths; i++)
        free(t->paths[i].path);
}

static double
now_ns(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per match over n matches; the path order is scattered so that consecutive matches
 * hit different resources and kinds. */
static double
measure(struct table *t, long n, struct mr_arena *a, long *checksum)
{
    struct mr_match m;
    size_t k = 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        const struct path *p = &t->paths[k];
        *checksum += mr_router_match(t->router, p->method, p->path, p->len, a, &m);
        mr_arena_reset(a);
        k += 7; /* coprime with the sizes here: every path, in a scattered order */
        if (k >= t->n_paths)
            k -= t->n_paths;
    }
    return (now_ns() - t0) / (double)n;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
    if (n <= 0)
        n = 2000000;
    static struct table small, large;
    table_init(&small, 1);
    table_init(&large, N_RESOURCES);
    struct mr_arena a;
    mr_arena_init(&a, 4096, 1 << 20);
    long checksum = 0;
    /* Rounds alternate between the tables, so that both see the same load on the machine;
     * the best round of each counts. */
    double ns_small = 1e30, ns_large = 1e30;
    for (int round = 0; round < BENCH_ROUNDS; round++) {
        double s = measure(&small, n, &a, &checksum);
        double l = measure(&large, n, &a, &checksum);
        ns_small = s < ns_small ? s : ns_small;
        ns_large = l < ns_large ? l : ns_large;
    }
    (void)printf("router_bench: %ld matches per round, best of %d rounds, %zu paths in the mix\n",
                 n, BENCH_ROUNDS, small.n_paths);
    (void)printf("  %4zu routes: %7.1f ns/match\n", small.n_rows, ns_small);
    (void)printf("  %4zu routes: %7.1f ns/match (%zu paths in the mix)\n", large.n_rows, ns_large,
                 large.n_paths);
    (void)printf("  ratio %zu/%zu: %.2fx   (checksum %ld)\n", large.n_rows, small.n_rows,
                 ns_large / ns_small, checksum);
    mr_arena_fini(&a);
    table_fini(&small);
    table_fini(&large);
    return 0;
}
