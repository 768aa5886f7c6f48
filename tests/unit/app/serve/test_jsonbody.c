/* SPDX-License-Identifier: BSD-2-Clause */
/* test_jsonbody: application/json bodies under their limits (size, depth, duplicate keys,
 * scalars at the top), jansson's line:column errors, the tree freed by the arena (a leak
 * would fail the test under ASan), and the typed getters by dotted path. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/serve/jsonbody.h"
#include "tests/unit/suites.h"

static struct mr_arena arena;
static const struct mr_jsonbody_limits lim = {.max_bytes = 4096, .max_depth = 4};

static void
setup(void)
{
    mr_arena_init(&arena, 1024, 64 * 1024);
}

static void
teardown(void)
{
    mr_arena_fini(&arena); /* runs the deferred json_decref */
}

static int
parse(struct mr_jsonbody *jb, const char *s)
{
    return mr_jsonbody_parse(jb, s, strlen(s), &lim, &arena);
}

static const char doc[] = "{\"user\": {\"name\": \"Ann\", \"age\": 42, \"admin\": false,"
                          " \"score\": 9.5},"
                          " \"items\": [{\"id\": 7, \"qty\": \"three\"}, {\"id\": 8}],"
                          " \"none\": null}";

START_TEST(test_jsonbody_object_and_array)
{
    struct mr_jsonbody jb;
    ck_assert_int_eq(parse(&jb, doc), 0);
    ck_assert(json_is_object(jb.root));
    ck_assert_int_eq(parse(&jb, " [1, 2, {\"a\": []}] \n"), 0);
    ck_assert(json_is_array(jb.root));
    ck_assert_uint_eq(json_array_size(jb.root), 3);
    /* Both trees are freed by the teardown's mr_arena_fini; ASan's leak check proves it. */
}
END_TEST

START_TEST(test_jsonbody_tree_freed_at_reset)
{
    struct mr_jsonbody jb;
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(parse(&jb, doc), 0);
        ck_assert_uint_eq(jb.root->refcount, 1);
        mr_arena_reset(&arena);
    }
}
END_TEST

START_TEST(test_jsonbody_top_level_scalar_refused)
{
    struct mr_jsonbody jb;
    const char *scalars[] = {"1", "\"s\"", "true", "null", ""};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
        ck_assert_int_eq(parse(&jb, scalars[i]), -EINVAL);
        ck_assert_ptr_null(jb.root);
        ck_assert_str_ne(jb.err.msg, "");
    }
}
END_TEST

START_TEST(test_jsonbody_syntax_error_has_line_and_column)
{
    struct mr_jsonbody jb;
    ck_assert_int_eq(parse(&jb, "{\n  \"a\": 1,\n  \"b\": tru\n}"), -EINVAL);
    ck_assert_msg(strncmp(jb.err.msg, "3:", 2) == 0, "%s", jb.err.msg);
    ck_assert_ptr_nonnull(strstr(jb.err.msg, "invalid token"));
    ck_assert_int_eq(parse(&jb, "[1, 2] x"), -EINVAL);      /* trailing garbage */
    ck_assert_int_eq(parse(&jb, "[\"\\u0000\"]"), -EINVAL); /* NUL stays out of C strings */
    ck_assert_int_eq(parse(&jb, "[\"\xff\"]"), -EINVAL);    /* not UTF-8 */
}
END_TEST

START_TEST(test_jsonbody_duplicate_keys_refused)
{
    struct mr_jsonbody jb;
    ck_assert_int_eq(parse(&jb, "{\"a\": 1, \"b\": {\"c\": 1, \"c\": 2}}"), -EINVAL);
    ck_assert_ptr_nonnull(strstr(jb.err.msg, "duplicate object key"));
    ck_assert_int_eq(parse(&jb, "{\"a\": 1, \"A\": 2}"), 0); /* keys are case-sensitive */
}
END_TEST

START_TEST(test_jsonbody_size_limit_before_parsing)
{
    struct mr_jsonbody jb;
    char big[5000];
    memset(big, ' ', sizeof(big));
    big[0] = '[';
    big[sizeof(big) - 1] = ']';
    ck_assert_int_eq(mr_jsonbody_parse(&jb, big, sizeof(big), &lim, &arena), -E2BIG);
    ck_assert_ptr_null(jb.root);
    ck_assert_int_eq(mr_jsonbody_parse(&jb, big + sizeof(big) - 4096, 4096, &lim, &arena),
                     -EINVAL); /* at the limit it is parsed (and is not JSON) */
    big[sizeof(big) - 4096] = '[';
    ck_assert_int_eq(mr_jsonbody_parse(&jb, big + sizeof(big) - 4096, 4096, &lim, &arena), 0);
}
END_TEST

START_TEST(test_jsonbody_depth_limit)
{
    struct mr_jsonbody jb;
    ck_assert_int_eq(parse(&jb, "[[[{\"a\": 1}]]]"), 0); /* depth 4 */
    ck_assert_int_eq(parse(&jb, "[[[{\"a\": []}]]]"), -EINVAL);
    ck_assert_str_eq(jb.err.msg, "1:10: nesting deeper than 4");
    ck_assert_int_eq(parse(&jb, "[\n[\n[\n[\n{}]]]]"), -EINVAL);
    ck_assert_str_eq(jb.err.msg, "5:1: nesting deeper than 4");
    /* brackets inside strings, escaped quotes included, do not count */
    ck_assert_int_eq(parse(&jb, "[\"[[[[[\\\"[[[[\", {\"k\\\\\": \"{{{{{\"}]"), 0);
    /* siblings do not add up */
    ck_assert_int_eq(parse(&jb, "[[[[]]], [[[]]], [[[]]]]"), 0);
}
END_TEST

START_TEST(test_jsonbody_deep_nesting_past_jansson_limit)
{
    /* 100,000 levels: refused by the pre-scan without recursing. */
    static char deep[100001];
    struct mr_jsonbody jb;
    const struct mr_jsonbody_limits big = {.max_bytes = sizeof(deep), .max_depth = 64};
    memset(deep, '[', sizeof(deep));
    ck_assert_int_eq(mr_jsonbody_parse(&jb, deep, sizeof(deep), &big, &arena), -EINVAL);
    ck_assert_str_eq(jb.err.msg, "1:65: nesting deeper than 64");
}
END_TEST

START_TEST(test_jsonbody_getters)
{
    struct mr_jsonbody jb;
    struct mr_err err;
    ck_assert_int_eq(parse(&jb, doc), 0);
    const char *s;
    long long i;
    bool b;
    double d;
    ck_assert_int_eq(mr_jsonbody_get_string(jb.root, "user.name", &s, &err), 0);
    ck_assert_str_eq(s, "Ann");
    ck_assert_int_eq(mr_jsonbody_get_int(jb.root, "user.age", &i, &err), 0);
    ck_assert_int_eq(i, 42);
    ck_assert_int_eq(mr_jsonbody_get_bool(jb.root, "user.admin", &b, &err), 0);
    ck_assert(!b);
    ck_assert_int_eq(mr_jsonbody_get_double(jb.root, "user.score", &d, &err), 0);
    ck_assert_double_eq(d, 9.5);
    ck_assert_int_eq(mr_jsonbody_get_double(jb.root, "user.age", &d, &err), 0); /* int ok */
    ck_assert_double_eq(d, 42.0);
    ck_assert_int_eq(mr_jsonbody_get_int(jb.root, "items.1.id", &i, &err), 0);
    ck_assert_int_eq(i, 8);
    const json_t *item = json_array_get(json_object_get(jb.root, "items"), 0);
    ck_assert_int_eq(mr_jsonbody_get_int(item, "id", &i, &err), 0); /* from a subtree */
    ck_assert_int_eq(i, 7);
}
END_TEST

START_TEST(test_jsonbody_getter_errors)
{
    struct mr_jsonbody jb;
    struct mr_err err;
    ck_assert_int_eq(parse(&jb, doc), 0);
    const char *s = "untouched";
    long long i = -1;
    bool b;
    double d;
    ck_assert_int_eq(mr_jsonbody_get_int(jb.root, "items.0.qty", &i, &err), -EINVAL);
    ck_assert_str_eq(err.msg, "items.0.qty: expected integer, got string");
    ck_assert_int_eq(i, -1);
    ck_assert_int_eq(mr_jsonbody_get_string(jb.root, "user.age", &s, &err), -EINVAL);
    ck_assert_str_eq(err.msg, "user.age: expected string, got integer");
    ck_assert_str_eq(s, "untouched");
    ck_assert_int_eq(mr_jsonbody_get_bool(jb.root, "none", &b, &err), -EINVAL);
    ck_assert_str_eq(err.msg, "none: expected boolean, got null");
    ck_assert_int_eq(mr_jsonbody_get_double(jb.root, "user.name", &d, &err), -EINVAL);
    ck_assert_str_eq(err.msg, "user.name: expected number, got string");
    ck_assert_int_eq(mr_jsonbody_get_int(jb.root, "user.agee", &i, &err), -ENOENT);
    ck_assert_str_eq(err.msg, "user.agee: missing");
    ck_assert_int_eq(mr_jsonbody_get_int(jb.root, "items.2.id", &i, &err), -ENOENT);
    ck_assert_int_eq(mr_jsonbody_get_int(jb.root, "items.x.id", &i, &err), -ENOENT);
    ck_assert_int_eq(mr_jsonbody_get_int(jb.root, "items.-1.id", &i, &err), -ENOENT);
    ck_assert_int_eq(mr_jsonbody_get_int(jb.root, "user.name.first", &i, &err), -EINVAL);
    ck_assert_str_eq(err.msg, "user.name.first: user.name is string, not an object or array");
    ck_assert_int_eq(mr_jsonbody_get_int(NULL, "a", &i, &err), -ENOENT);
}
END_TEST

Suite *
jsonbody_suite(void)
{
    Suite *s = suite_create("jsonbody");
    TCase *parse_tc = tcase_create("parse");
    tcase_add_checked_fixture(parse_tc, setup, teardown);
    tcase_add_test(parse_tc, test_jsonbody_object_and_array);
    tcase_add_test(parse_tc, test_jsonbody_tree_freed_at_reset);
    tcase_add_test(parse_tc, test_jsonbody_top_level_scalar_refused);
    tcase_add_test(parse_tc, test_jsonbody_syntax_error_has_line_and_column);
    tcase_add_test(parse_tc, test_jsonbody_duplicate_keys_refused);
    tcase_add_test(parse_tc, test_jsonbody_size_limit_before_parsing);
    tcase_add_test(parse_tc, test_jsonbody_depth_limit);
    tcase_add_test(parse_tc, test_jsonbody_deep_nesting_past_jansson_limit);
    suite_add_tcase(s, parse_tc);
    TCase *get = tcase_create("get");
    tcase_add_checked_fixture(get, setup, teardown);
    tcase_add_test(get, test_jsonbody_getters);
    tcase_add_test(get, test_jsonbody_getter_errors);
    suite_add_tcase(s, get);
    return s;
}
