/* SPDX-License-Identifier: BSD-2-Clause */
/* test_router: building and matching over small local tables (not the real ones in
 * handlers/table.c, which only have to build), so the cases stay fixed while the endpoints
 * change: static paths, each parameter kind, precedence, 404/405/Allow, HEAD, decoding, and
 * every refusal at build with its message. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "app/serve/router.h"
#include "tests/unit/suites.h"

struct fixture {
    struct mr_router *r;
    struct mr_arena a;
    struct mr_match m;
};

/* Builds rows (which must build) into f. */
static void
setup_rows(struct fixture *f, const struct mr_route_row *rows, size_t n)
{
    struct mr_err err = {{0}};
    int rc = mr_router_build(rows, n, sizeof(rows[0]), &f->r, &err);
    ck_assert_msg(rc == 0, "build failed: %s", err.msg);
    ck_assert_ptr_nonnull(f->r);
    mr_arena_init(&f->a, 4096, 1 << 20);
}

static void
teardown(struct fixture *f)
{
    mr_router_free(&f->r);
    ck_assert_ptr_null(f->r);
    mr_arena_fini(&f->a);
}

static int
match(struct fixture *f, const char *method, const char *path)
{
    return mr_router_match(f->r, method, path, strlen(path), &f->a, &f->m);
}

/* The build of rows must fail with exactly `want` as the message. */
static void
refused(const struct mr_route_row *rows, size_t n, const char *want)
{
    static char sentinel;
    struct mr_router *r = (struct mr_router *)(void *)&sentinel; /* must be reset to NULL */
    struct mr_err err = {{0}};
    ck_assert_int_eq(mr_router_build(rows, n, sizeof(rows[0]), &r, &err), -EINVAL);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(err.msg, want);
}

#define ROWS(...) ((const struct mr_route_row[]){__VA_ARGS__})
#define N(rows) (sizeof(rows) / sizeof((rows)[0]))
#define REFUSED(want, ...) refused(ROWS(__VA_ARGS__), N(ROWS(__VA_ARGS__)), want)

static const struct mr_route_row statics[] = {
    {"GET", "/"},      {"GET", "/users/list"}, {"POST", "/users/list"}, {"GET", "/users/list/"},
    {"GET", "/a/b/c"}, {"POST", "/c"},
};

START_TEST(test_router_static_paths)
{
    struct fixture f;
    setup_rows(&f, statics, N(statics));
    ck_assert_int_eq(match(&f, "GET", "/"), 0);
    ck_assert_int_eq(match(&f, "GET", "/users/list"), 1);
    ck_assert_int_eq(match(&f, "POST", "/users/list"), 2);
    ck_assert_int_eq(match(&f, "GET", "/a/b/c"), 4);
    ck_assert_int_eq(f.m.route, 4);
    ck_assert_int_eq(f.m.n_params, 0);
    ck_assert_int_eq(match(&f, "POST", "/c"), 5);
    teardown(&f);
}
END_TEST

START_TEST(test_router_static_near_misses_are_404)
{
    struct fixture f;
    setup_rows(&f, statics, N(statics));
    ck_assert_int_eq(match(&f, "GET", "/users"), -404);
    ck_assert_int_eq(match(&f, "GET", "/users/lis"), -404);
    ck_assert_int_eq(match(&f, "GET", "/users/lists"), -404);
    ck_assert_int_eq(match(&f, "GET", "/a/b"), -404);
    ck_assert_int_eq(match(&f, "GET", "/a/b/c/d"), -404);
    ck_assert_int_eq(match(&f, "GET", "//"), -404);
    ck_assert_int_eq(match(&f, "GET", "/users//list"), -404);
    ck_assert_int_eq(match(&f, "GET", ""), -404);
    ck_assert_int_eq(match(&f, "GET", "users/list"), -404);
    /* Static segments compare raw bytes: no decoding, no case folding. */
    ck_assert_int_eq(match(&f, "GET", "/users/%6Cist"), -404);
    ck_assert_int_eq(match(&f, "GET", "/Users/list"), -404);
    teardown(&f);
}
END_TEST

START_TEST(test_router_trailing_slash_is_another_path)
{
    struct fixture f;
    setup_rows(&f, statics, N(statics));
    ck_assert_int_eq(match(&f, "GET", "/users/list/"), 3);
    ck_assert_int_eq(match(&f, "POST", "/users/list/"), -405); /* only GET has the slash */
    ck_assert_str_eq(f.m.allow, "GET, HEAD");
    ck_assert_int_eq(match(&f, "GET", "/a/b/c/"), -404);
    ck_assert_int_eq(match(&f, "GET", "/users/list//"), -404);
    teardown(&f);
}
END_TEST

START_TEST(test_router_path_len_bounds_the_path)
{
    struct fixture f;
    setup_rows(&f, statics, N(statics));
    ck_assert_int_eq(mr_router_match(f.r, "GET", "/users/listXYZ", 11, &f.a, &f.m), 1);
    ck_assert_int_eq(mr_router_match(f.r, "GET", "/users/list", 1, &f.a, &f.m), 0);
    ck_assert_int_eq(mr_router_match(f.r, "GET", "/users/list", 0, &f.a, &f.m), -404);
    /* A NUL inside the path is a byte like another. */
    ck_assert_int_eq(mr_router_match(f.r, "GET", "/c\0", 3, &f.a, &f.m), -404);
    teardown(&f);
}
END_TEST

static const struct mr_route_row params[] = {
    {"GET", "/users/{name}"},
    {"GET", "/users/{name}/posts/{post}"},
    {"DELETE", "/users/{who}"},
    {"GET", "/orgs/{org}/repos/{repo}/issues/{n:int}"},
};

START_TEST(test_router_plain_params)
{
    struct fixture f;
    setup_rows(&f, params, N(params));
    ck_assert_int_eq(match(&f, "GET", "/users/alice"), 0);
    ck_assert_int_eq(f.m.n_params, 1);
    ck_assert_str_eq(f.m.params[0].name, "name");
    ck_assert_str_eq(f.m.params[0].value, "alice");
    ck_assert_uint_eq(f.m.params[0].value_len, 5);
    ck_assert_int_eq(f.m.params[0].int_value, 0);
    ck_assert_int_eq(match(&f, "GET", "/users/bob/posts/hello-world"), 1);
    ck_assert_int_eq(f.m.n_params, 2);
    ck_assert_str_eq(f.m.params[0].value, "bob");
    ck_assert_str_eq(f.m.params[1].name, "post");
    ck_assert_str_eq(f.m.params[1].value, "hello-world");
    /* Digits are text to a plain parameter. */
    ck_assert_int_eq(match(&f, "GET", "/users/42"), 0);
    ck_assert_str_eq(f.m.params[0].value, "42");
    ck_assert_int_eq(f.m.params[0].int_value, 0);
    teardown(&f);
}
END_TEST

START_TEST(test_router_param_names_are_the_rows)
{
    struct fixture f;
    setup_rows(&f, params, N(params));
    ck_assert_int_eq(match(&f, "DELETE", "/users/carol"), 2);
    ck_assert_str_eq(f.m.params[0].name, "who");
    ck_assert_str_eq(f.m.params[0].value, "carol");
    ck_assert_int_eq(match(&f, "GET", "/orgs/acme/repos/rocket/issues/17"), 3);
    ck_assert_int_eq(f.m.n_params, 3);
    ck_assert_str_eq(f.m.params[0].name, "org");
    ck_assert_str_eq(f.m.params[1].name, "repo");
    ck_assert_str_eq(f.m.params[1].value, "rocket");
    ck_assert_str_eq(f.m.params[2].name, "n");
    ck_assert_int_eq(f.m.params[2].int_value, 17);
    teardown(&f);
}
END_TEST

START_TEST(test_router_param_needs_a_non_empty_segment)
{
    struct fixture f;
    setup_rows(&f, params, N(params));
    ck_assert_int_eq(match(&f, "GET", "/users/"), -404);
    ck_assert_int_eq(match(&f, "GET", "/users"), -404);
    ck_assert_int_eq(match(&f, "GET", "/users//posts/x"), -404);
    ck_assert_int_eq(match(&f, "GET", "/users/a/posts/"), -404);
    ck_assert_int_eq(match(&f, "GET", "/users/a/b"), -404);
    teardown(&f);
}
END_TEST

static const struct mr_route_row ints[] = {
    {"GET", "/n/{id:int}"},
    {"GET", "/s/{id:int}"},
    {"GET", "/s/{word}"},
};

/* GET /n/<text> is int `want`. */
static void
int_is(struct fixture *f, const char *text, long long want)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/n/%s", text);
    ck_assert_int_eq(match(f, "GET", path), 0);
    ck_assert_int_eq(f->m.n_params, 1);
    ck_assert_str_eq(f->m.params[0].name, "id");
    ck_assert_str_eq(f->m.params[0].value, text);
    ck_assert_uint_eq(f->m.params[0].value_len, strlen(text));
    ck_assert(f->m.params[0].int_value == want);
}

START_TEST(test_router_int_params)
{
    struct fixture f;
    setup_rows(&f, ints, N(ints));
    int_is(&f, "0", 0);
    int_is(&f, "42", 42);
    int_is(&f, "-7", -7);
    int_is(&f, "-0", 0);
    int_is(&f, "007", 7);
    int_is(&f, "9223372036854775807", LLONG_MAX);
    int_is(&f, "-9223372036854775808", LLONG_MIN);
    int_is(&f, "00000000000000000000000009223372036854775807", LLONG_MAX);
    teardown(&f);
}
END_TEST

START_TEST(test_router_not_an_int_does_not_match)
{
    struct fixture f;
    setup_rows(&f, ints, N(ints));
    static const char *const bad[] = {
        "/n/-",
        "/n/+1",
        "/n/1a",
        "/n/a1",
        "/n/1.5",
        "/n/1e3",
        "/n/%31",
        "/n/ 1",
        "/n/--1",
        "/n/1-",
        "/n/",
        "/n",
        "/n/0x1",
        "/n/9223372036854775808",  /* LLONG_MAX + 1 */
        "/n/-9223372036854775809", /* LLONG_MIN - 1 */
        "/n/99999999999999999999",
    };
    for (size_t i = 0; i < N(bad); i++)
        ck_assert_msg(match(&f, "GET", bad[i]) == -404, "%s matched", bad[i]);
    /* Where a plain parameter shares the place, what is not an int goes to it. */
    ck_assert_int_eq(match(&f, "GET", "/s/9223372036854775808"), 2);
    ck_assert_str_eq(f.m.params[0].name, "word");
    ck_assert_str_eq(f.m.params[0].value, "9223372036854775808");
    ck_assert_int_eq(match(&f, "GET", "/s/-"), 2);
    ck_assert_int_eq(match(&f, "GET", "/s/12"), 1);
    ck_assert_int_eq(f.m.params[0].int_value, 12);
    teardown(&f);
}
END_TEST

static const struct mr_route_row rests[] = {
    {"GET", "/files/{path*}"},
    {"GET", "/files/{dir}/meta"},
    {"POST", "/{all*}"},
    {"GET", "/x/{a}/{b:int}/{tail*}"},
};

static void
rest_is(struct fixture *f, const char *path, int row, const char *want)
{
    ck_assert_int_eq(match(f, row == 2 ? "POST" : "GET", path), row);
    ck_assert_int_ge(f->m.n_params, 1);
    const struct mr_route_param *p = &f->m.params[f->m.n_params - 1];
    ck_assert_str_eq(p->value, want);
    ck_assert_uint_eq(p->value_len, strlen(want));
}

START_TEST(test_router_rest_param)
{
    struct fixture f;
    setup_rows(&f, rests, N(rests));
    rest_is(&f, "/files/a", 0, "a");
    rest_is(&f, "/files/a/b/c.txt", 0, "a/b/c.txt");
    rest_is(&f, "/files/a//b/", 0, "a//b/");
    ck_assert_str_eq(f.m.params[0].name, "path");
    rest_is(&f, "/x/q/5/z", 3, "z");
    ck_assert_str_eq(f.m.params[0].value, "q");
    ck_assert_int_eq(f.m.params[1].int_value, 5);
    ck_assert_str_eq(f.m.params[2].name, "tail");
    teardown(&f);
}
END_TEST

START_TEST(test_router_rest_param_may_be_empty)
{
    struct fixture f;
    setup_rows(&f, rests, N(rests));
    rest_is(&f, "/files", 0, "");
    rest_is(&f, "/files/", 0, "");
    rest_is(&f, "/", 2, "");
    rest_is(&f, "/anything/at/all", 2, "anything/at/all");
    rest_is(&f, "/x/q/5", 3, "");
    /* /x/q is too short for row 3, but POST /{all*} takes it. */
    ck_assert_int_eq(match(&f, "GET", "/x/q"), -405);
    ck_assert_str_eq(f.m.allow, "POST");
    teardown(&f);
}
END_TEST

static const struct mr_route_row prec[] = {
    {"GET", "/p/{rest*}"},    /* 0 */
    {"GET", "/p/{name}"},     /* 1 */
    {"GET", "/p/{id:int}"},   /* 2 */
    {"GET", "/p/me"},         /* 3 */
    {"GET", "/p/me/x"},       /* 4 */
    {"GET", "/p/{name}/y"},   /* 5 */
    {"GET", "/p/{id:int}/y"}, /* 6 */
    {"GET", "/p"},            /* 7 */
};

START_TEST(test_router_precedence_static_int_param_rest)
{
    struct fixture f;
    setup_rows(&f, prec, N(prec));
    ck_assert_int_eq(match(&f, "GET", "/p/me"), 3);
    ck_assert_int_eq(match(&f, "GET", "/p/12"), 2);
    ck_assert_int_eq(match(&f, "GET", "/p/bob"), 1);
    ck_assert_int_eq(match(&f, "GET", "/p/bob/zz"), 0);
    ck_assert_int_eq(match(&f, "GET", "/p/"), 0); /* empty: no plain or int parameter */
    ck_assert_int_eq(match(&f, "GET", "/p"), 7);  /* the end beats an empty rest */
    ck_assert_int_eq(match(&f, "GET", "/p/me/x"), 4);
    ck_assert_int_eq(match(&f, "GET", "/p/12/y"), 6);
    ck_assert_int_eq(f.m.params[0].int_value, 12);
    teardown(&f);
}
END_TEST

START_TEST(test_router_backtracks_to_the_next_kind)
{
    struct fixture f;
    setup_rows(&f, prec, N(prec));
    /* "me" is static, but /p/me has no y: back to {id:int} (not an int), then {name}. */
    ck_assert_int_eq(match(&f, "GET", "/p/me/y"), 5);
    ck_assert_int_eq(f.m.n_params, 1);
    ck_assert_str_eq(f.m.params[0].name, "name");
    ck_assert_str_eq(f.m.params[0].value, "me");
    /* And past every one-segment kind to the rest. */
    ck_assert_int_eq(match(&f, "GET", "/p/me/z"), 0);
    ck_assert_str_eq(f.m.params[0].value, "me/z");
    ck_assert_int_eq(match(&f, "GET", "/p/12/x"), 0);
    ck_assert_str_eq(f.m.params[0].value, "12/x");
    teardown(&f);
}
END_TEST

static const struct mr_route_row methods[] = {
    {"GET", "/a"},   {"POST", "/a"},        {"GET", "/b"},    {"POST", "/c"},    {"HEAD", "/h"},
    {"GET", "/h"},   {"DELETE", "/d/{id}"}, {"GET", "/d/me"}, {"OPTIONS", "/o"}, {"PUT", "/o"},
    {"PATCH", "/o"}, {"DELETE", "/o"},      {"HEAD", "/o"},   {"POST", "/o"},    {"GET", "/o"},
};

START_TEST(test_router_wrong_method_is_405_with_allow)
{
    struct fixture f;
    setup_rows(&f, methods, N(methods));
    ck_assert_int_eq(match(&f, "DELETE", "/a"), -405);
    ck_assert_str_eq(f.m.allow, "GET, HEAD, POST");
    ck_assert_int_eq(f.m.route, -1);
    ck_assert_int_eq(match(&f, "POST", "/b"), -405);
    ck_assert_str_eq(f.m.allow, "GET, HEAD");
    ck_assert_int_eq(match(&f, "GET", "/c"), -405);
    ck_assert_str_eq(f.m.allow, "POST");
    /* Every method, in the fixed order, whatever the table's order. */
    ck_assert_int_eq(match(&f, "TRACE", "/o"), -405);
    ck_assert_str_eq(f.m.allow, "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    /* Method names are case-sensitive; an unknown one still sees the path. */
    ck_assert_int_eq(match(&f, "get", "/a"), -405);
    ck_assert_int_eq(match(&f, "", "/a"), -405);
    ck_assert_int_eq(match(&f, "GET", "/nope"), -404);
    ck_assert_str_eq(f.m.allow, "");
    teardown(&f);
}
END_TEST

START_TEST(test_router_allow_joins_every_matching_pattern)
{
    struct fixture f;
    setup_rows(&f, methods, N(methods));
    /* /d/me matches GET /d/me and DELETE /d/{id}. */
    ck_assert_int_eq(match(&f, "POST", "/d/me"), -405);
    ck_assert_str_eq(f.m.allow, "GET, HEAD, DELETE");
    ck_assert_int_eq(match(&f, "POST", "/d/you"), -405);
    ck_assert_str_eq(f.m.allow, "DELETE");
    /* The first pattern in precedence order with a row for the method wins. */
    ck_assert_int_eq(match(&f, "DELETE", "/d/me"), 6);
    ck_assert_str_eq(f.m.params[0].value, "me");
    ck_assert_int_eq(match(&f, "GET", "/d/me"), 7);
    teardown(&f);
}
END_TEST

START_TEST(test_router_head_from_get)
{
    struct fixture f;
    setup_rows(&f, methods, N(methods));
    ck_assert_int_eq(match(&f, "HEAD", "/a"), 0);
    ck_assert_int_eq(match(&f, "HEAD", "/b"), 2);
    ck_assert_int_eq(match(&f, "HEAD", "/h"), 4); /* a HEAD row of its own wins */
    ck_assert_int_eq(match(&f, "HEAD", "/c"), -405);
    ck_assert_str_eq(f.m.allow, "POST");
    ck_assert_int_eq(match(&f, "HEAD", "/d/x"), -405);
    ck_assert_str_eq(f.m.allow, "DELETE");
    teardown(&f);
}
END_TEST

static const struct mr_route_row decoding[] = {
    {"GET", "/u/{name}"},
    {"GET", "/f/{p*}"},
    {"GET", "/s/a%20b"},
};

START_TEST(test_router_values_are_percent_decoded)
{
    struct fixture f;
    setup_rows(&f, decoding, N(decoding));
    ck_assert_int_eq(match(&f, "GET", "/u/a%20b"), 0);
    ck_assert_str_eq(f.m.params[0].value, "a b");
    ck_assert_uint_eq(f.m.params[0].value_len, 3);
    ck_assert_int_eq(match(&f, "GET", "/u/caf%C3%A9"), 0);
    ck_assert_str_eq(f.m.params[0].value, "caf\xc3\xa9");
    ck_assert_int_eq(match(&f, "GET", "/u/a+b"), 0); /* '+' is a '+' in a path */
    ck_assert_str_eq(f.m.params[0].value, "a+b");
    ck_assert_int_eq(match(&f, "GET", "/f/x%2Dy/z%41"), 1);
    ck_assert_str_eq(f.m.params[0].value, "x-y/zA");
    ck_assert_int_eq(match(&f, "GET", "/s/a%20b"), 2); /* static: raw bytes */
    ck_assert_int_eq(match(&f, "GET", "/s/a b"), -404);
    teardown(&f);
}
END_TEST

START_TEST(test_router_bad_encoding_is_400)
{
    struct fixture f;
    setup_rows(&f, decoding, N(decoding));
    static const char *const bad[] = {
        "/u/%",    "/u/%4",  "/u/%zz", "/u/a%g0",  "/u/%00",  "/u/%FF",       "/u/%C3",
        "/u/\xff", "/u/%2F", "/u/%2f", "/f/a%2Fb", "/f/ok/%", "/f/%ED%A0%80", /* a surrogate */
    };
    for (size_t i = 0; i < N(bad); i++) {
        ck_assert_msg(match(&f, "GET", bad[i]) == -400, "%s", bad[i]);
        ck_assert_int_eq(f.m.route, -1);
    }
    ck_assert_int_eq(mr_router_match(f.r, "GET", "/u/a\0b", 6, &f.a, &f.m), -400);
    /* Only the winning route's values are decoded: a 404 stays a 404. */
    ck_assert_int_eq(match(&f, "GET", "/nope/%zz"), -404);
    teardown(&f);
}
END_TEST

START_TEST(test_router_arena_exhausted_is_500)
{
    struct fixture f;
    setup_rows(&f, decoding, N(decoding));
    mr_arena_fini(&f.a);
    mr_arena_init(&f.a, 64, 64);
    char path[256] = "/u/";
    memset(path + 3, 'x', 200);
    path[203] = '\0';
    ck_assert_int_eq(match(&f, "GET", path), -500);
    ck_assert_int_eq(match(&f, "GET", "/u/short"), 0);
    teardown(&f);
}
END_TEST

/* A level wide enough for the hash table (router.c's HASH_MIN): every sibling found, no
 * near miss taken for one. */
START_TEST(test_router_wide_level)
{
    enum { WIDE = 60 };
    struct mr_route_row rows[WIDE + 1];
    char names[WIDE][32];
    for (int i = 0; i < WIDE; i++) {
        (void)snprintf(names[i], sizeof(names[i]), "/v1/res%d/x", i * 7);
        rows[i] = (struct mr_route_row){"GET", names[i]};
    }
    rows[WIDE] = (struct mr_route_row){"POST", "/v1/{other}/x"};
    struct fixture f;
    setup_rows(&f, rows, WIDE + 1);
    char path[64];
    for (int i = 0; i < WIDE; i++) {
        ck_assert_int_eq(match(&f, "GET", names[i]), i);
        (void)snprintf(path, sizeof(path), "/v1/res%d/x", i * 7 + 1); /* not a sibling */
        ck_assert_int_eq(match(&f, "GET", path), -405); /* only POST /v1/{other}/x has it */
        ck_assert_int_eq(match(&f, "POST", names[i]), WIDE);
    }
    ck_assert_int_eq(match(&f, "GET", "/v1/res/x"), -405);
    ck_assert_int_eq(match(&f, "GET", "/v1/"), -404);
    teardown(&f);
}
END_TEST

START_TEST(test_router_refuses_conflicts_naming_both_rows)
{
    REFUSED("GET /users/{id} conflicts with GET /users/{name}", {"GET", "/users/{id}"},
            {"GET", "/users/{name}"});
    REFUSED("GET /a/{x:int}/b conflicts with GET /a/{y:int}/b", {"POST", "/a/{x:int}/b"},
            {"GET", "/a/{x:int}/b"}, {"GET", "/a/{y:int}/b"});
    REFUSED("PUT /f/{p*} conflicts with PUT /f/{q*}", {"PUT", "/f/{p*}"}, {"PUT", "/f/{q*}"});
    REFUSED("GET / conflicts with GET /", {"GET", "/"}, {"GET", "/"});
    REFUSED("DELETE /x conflicts with DELETE /x", {"DELETE", "/x"}, {"GET", "/x"},
            {"DELETE", "/x"});
}
END_TEST

START_TEST(test_router_different_shapes_coexist)
{
    struct fixture f;
    static const struct mr_route_row rows[] = {
        {"GET", "/a"},         {"GET", "/a/"},     {"GET", "/a/{x}"},
        {"GET", "/a/{x:int}"}, {"GET", "/a/{x*}"}, {"POST", "/a/{x}"},
        {"HEAD", "/a/{x}"},    {"GET", "/{x}/a"},  {"GET", "/{x}/{y}"},
    };
    setup_rows(&f, rows, N(rows));
    ck_assert_int_eq(match(&f, "GET", "/a/"), 1);
    ck_assert_int_eq(match(&f, "HEAD", "/a/q"), 6);
    ck_assert_int_eq(match(&f, "GET", "/q/a"), 7);
    ck_assert_int_eq(match(&f, "GET", "/q/b"), 8);
    teardown(&f);
}
END_TEST

START_TEST(test_router_refuses_bad_patterns)
{
    REFUSED("GET /a/{x*}/b: {x*} must be the last segment", {"GET", "/a/{x*}/b"});
    REFUSED("GET /a/{x*}/: {x*} must be the last segment", {"GET", "/a/{x*}/"});
    REFUSED("GET /a/{}: empty braces", {"GET", "/a/{}"});
    REFUSED("GET /a/{x: malformed braces in '{x'", {"GET", "/a/{x"});
    REFUSED("GET /a/x}: malformed braces in 'x}'", {"GET", "/a/x}"});
    REFUSED("GET /a/a{x}b: malformed braces in 'a{x}b'", {"GET", "/a/a{x}b"});
    REFUSED("GET /{{x}}: malformed braces in '{{x}}'", {"GET", "/{{x}}"});
    REFUSED("GET /a/{id:float}: unknown parameter type 'float' (int is the only one)",
            {"GET", "/a/{id:float}"});
    REFUSED("GET /a/{id:}: unknown parameter type '' (int is the only one)", {"GET", "/a/{id:}"});
    REFUSED("GET /a/{:int}: bad parameter name '' (want [A-Za-z_][A-Za-z0-9_]*)",
            {"GET", "/a/{:int}"});
    REFUSED("GET /a/{*}: bad parameter name '' (want [A-Za-z_][A-Za-z0-9_]*)", {"GET", "/a/{*}"});
    REFUSED("GET /a/{1x}: bad parameter name '1x' (want [A-Za-z_][A-Za-z0-9_]*)",
            {"GET", "/a/{1x}"});
    REFUSED("GET /a/{a-b}: bad parameter name 'a-b' (want [A-Za-z_][A-Za-z0-9_]*)",
            {"GET", "/a/{a-b}"});
    REFUSED("GET /{id}/{id:int}: duplicate parameter name 'id'", {"GET", "/{id}/{id:int}"});
    REFUSED("GET /{p}/x/{p*}: duplicate parameter name 'p'", {"GET", "/{p}/x/{p*}"});
    REFUSED("GET users: a pattern starts with '/'", {"GET", "users"});
    REFUSED("GET : a pattern starts with '/'", {"GET", ""});
    REFUSED("GET (no pattern): a pattern starts with '/'", {"GET", NULL});
    REFUSED("GET /a//b: empty segment", {"GET", "/a//b"});
    REFUSED("GET //: empty segment", {"GET", "//"});
}
END_TEST

START_TEST(test_router_refuses_unknown_methods)
{
    const char *want = "unknown method (GET HEAD POST PUT PATCH DELETE OPTIONS)";
    char msg[128];
    static const char *const bad[] = {"get", "BREW", "", "TRACE", "GET "};
    for (size_t i = 0; i < N(bad); i++) {
        (void)snprintf(msg, sizeof(msg), "%s /a: %s", bad[i], want);
        refused(ROWS({"GET", "/ok"}, {bad[i], "/a"}), 2, msg);
    }
    (void)snprintf(msg, sizeof(msg), "(no method) /a: %s", want);
    refused(ROWS({NULL, "/a"}), 1, msg);
}
END_TEST

START_TEST(test_router_parameter_and_segment_limits)
{
    struct fixture f;
    static const struct mr_route_row eight[] = {{"GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h*}"}};
    setup_rows(&f, eight, 1);
    ck_assert_int_eq(match(&f, "GET", "/1/2/3/4/5/6/7/8/9"), 0);
    ck_assert_int_eq(f.m.n_params, MR_ROUTE_MAX_PARAMS);
    ck_assert_str_eq(f.m.params[7].value, "8/9");
    teardown(&f);
    REFUSED("GET /{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}: more than 8 parameters",
            {"GET", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}"});
    char deep[3 * (MR_ROUTE_MAX_SEGMENTS + 1) + 1];
    for (int i = 0; i <= MR_ROUTE_MAX_SEGMENTS; i++)
        memcpy(deep + 3 * i, "/ab", 3);
    deep[3 * (MR_ROUTE_MAX_SEGMENTS + 1)] = '\0';
    char want[200];
    (void)snprintf(want, sizeof(want), "GET %s: more than %d segments", deep,
                   MR_ROUTE_MAX_SEGMENTS);
    refused(ROWS({"GET", deep}), 1, want);
    deep[3 * MR_ROUTE_MAX_SEGMENTS] = '\0';
    setup_rows(&f, ROWS({"GET", deep}), 1);
    ck_assert_int_eq(match(&f, "GET", deep), 0);
    teardown(&f);
}
END_TEST

START_TEST(test_router_one_route_and_none)
{
    struct fixture f;
    static const struct mr_route_row one[] = {{"GET", "/only"}};
    setup_rows(&f, one, 1);
    ck_assert_int_eq(match(&f, "GET", "/only"), 0);
    ck_assert_int_eq(match(&f, "GET", "/"), -404);
    ck_assert_int_eq(match(&f, "PUT", "/only"), -405);
    teardown(&f);

    setup_rows(&f, NULL, 0);
    ck_assert_int_eq(match(&f, "GET", "/"), -404);
    ck_assert_int_eq(match(&f, "GET", "/a"), -404);
    ck_assert_int_eq(match(&f, "HEAD", ""), -404);
    teardown(&f);
}
END_TEST

/* A caller's bigger row type, passed directly with its stride. */
struct wide_row {
    struct mr_route_row row;
    char pad[40];
    int tag;
};

START_TEST(test_router_rows_with_a_stride)
{
    static const struct wide_row rows[] = {
        {{"GET", "/w/{id:int}"}, "", 10}, {{"POST", "/w"}, "", 11}, {{"GET", "/w/x"}, "", 12}};
    struct mr_router *r = NULL;
    struct mr_err err;
    ck_assert_int_eq(mr_router_build(&rows[0].row, 3, sizeof(rows[0]), &r, &err), 0);
    struct mr_arena a;
    mr_arena_init(&a, 1024, 4096);
    struct mr_match m;
    ck_assert_int_eq(rows[mr_router_match(r, "GET", "/w/5", 4, &a, &m)].tag, 10);
    ck_assert_int_eq(rows[mr_router_match(r, "POST", "/w", 2, &a, &m)].tag, 11);
    ck_assert_int_eq(rows[mr_router_match(r, "GET", "/w/x", 4, &a, &m)].tag, 12);
    mr_router_free(&r);
    mr_router_free(&r); /* harmless twice */
    mr_arena_fini(&a);
    ck_assert_int_eq(mr_router_build(&rows[0].row, 3, sizeof(struct mr_route_row) - 1, &r, &err),
                     -EINVAL);
    ck_assert_int_eq(mr_router_build(NULL, 3, sizeof(rows[0]), &r, &err), -EINVAL);
    ck_assert_ptr_null(r);
}
END_TEST

Suite *
router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("match");
    tcase_add_test(tc, test_router_static_paths);
    tcase_add_test(tc, test_router_static_near_misses_are_404);
    tcase_add_test(tc, test_router_trailing_slash_is_another_path);
    tcase_add_test(tc, test_router_path_len_bounds_the_path);
    tcase_add_test(tc, test_router_plain_params);
    tcase_add_test(tc, test_router_param_names_are_the_rows);
    tcase_add_test(tc, test_router_param_needs_a_non_empty_segment);
    tcase_add_test(tc, test_router_int_params);
    tcase_add_test(tc, test_router_not_an_int_does_not_match);
    tcase_add_test(tc, test_router_rest_param);
    tcase_add_test(tc, test_router_rest_param_may_be_empty);
    tcase_add_test(tc, test_router_precedence_static_int_param_rest);
    tcase_add_test(tc, test_router_backtracks_to_the_next_kind);
    tcase_add_test(tc, test_router_wrong_method_is_405_with_allow);
    tcase_add_test(tc, test_router_allow_joins_every_matching_pattern);
    tcase_add_test(tc, test_router_head_from_get);
    tcase_add_test(tc, test_router_values_are_percent_decoded);
    tcase_add_test(tc, test_router_bad_encoding_is_400);
    tcase_add_test(tc, test_router_arena_exhausted_is_500);
    tcase_add_test(tc, test_router_wide_level);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("build");
    tcase_add_test(tb, test_router_refuses_conflicts_naming_both_rows);
    tcase_add_test(tb, test_router_different_shapes_coexist);
    tcase_add_test(tb, test_router_refuses_bad_patterns);
    tcase_add_test(tb, test_router_refuses_unknown_methods);
    tcase_add_test(tb, test_router_parameter_and_segment_limits);
    tcase_add_test(tb, test_router_one_route_and_none);
    tcase_add_test(tb, test_router_rows_with_a_stride);
    suite_add_tcase(s, tb);
    return s;
}
