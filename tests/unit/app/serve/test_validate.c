/* SPDX-License-Identifier: BSD-2-Clause */
/* test_validate: every type's rules, defaults and required fields, the exact 400 body, the
 * typed accessors, and every refusal of mr_valid_compile, through small local tables and a
 * get function over a fixed list of (source, name, value) triples. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/serve/validate.h"
#include "tests/unit/suites.h"

struct given {
    enum mr_source from;
    const char *name;
    const char *value;
    size_t len; /* 0: strlen(value) */
};

struct req {
    const struct given *g;
    size_t n;
};

static const char *
get(void *arg, enum mr_source from, const char *name, size_t *len)
{
    const struct req *r = arg;
    for (size_t i = 0; i < r->n; i++) {
        if (r->g[i].from == from && strcmp(r->g[i].name, name) == 0) {
            *len = r->g[i].len != 0 ? r->g[i].len : strlen(r->g[i].value);
            return r->g[i].value;
        }
    }
    return NULL;
}

struct fixture {
    struct mr_arena a;
    struct mr_buf errors;
    struct mr_valid *v;
    struct mr_values vals;
};

static void
setup(struct fixture *f, const struct mr_input *inputs)
{
    struct mr_err err = {{0}};
    mr_arena_init(&f->a, 4096, 1 << 20);
    mr_buf_init(&f->errors, &f->a, 64);
    ck_assert_msg(mr_valid_compile(inputs, &f->v, &err) == 0, "compile: %s", err.msg);
    ck_assert_ptr_nonnull(f->v);
}

static void
teardown(struct fixture *f)
{
    mr_valid_free(&f->v);
    ck_assert_ptr_null(f->v);
    mr_arena_fini(&f->a);
}

/* Runs with n given values; returns the code, leaving the values or errors in f. */
static int
run(struct fixture *f, const struct given *g, size_t n)
{
    struct req r = {g, n};
    f->errors.len = 0;
    mr_arena_reset(&f->a);
    mr_buf_init(&f->errors, &f->a, 64);
    return mr_valid_run(f->v, get, &r, &f->a, &f->vals, &f->errors);
}

/* The reason text when the only field, from the query, has value s; NULL when it is valid. */
static const char *
reason_for(struct fixture *f, const char *name, const char *s)
{
    static char out[256];
    struct given g = {MR_FROM_QUERY, name, s, 0};
    int rc = run(f, &g, 1);
    if (rc == 0)
        return NULL;
    ck_assert_int_eq(rc, 400);
    const char *body = mr_buf_cstr(&f->errors);
    ck_assert_ptr_nonnull(body);
    const char *p = strstr(body, "\"reason\":\"");
    ck_assert_ptr_nonnull(p);
    p += strlen("\"reason\":\"");
    const char *q = strchr(p, '"');
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_lt((size_t)(q - p), sizeof(out));
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return out;
}

#define ck_valid(f, name, s) ck_assert_ptr_null(reason_for((f), (name), (s)))
#define ck_reason(f, name, s, want) ck_assert_str_eq(reason_for((f), (name), (s)), (want))

/* The message of compiling inputs, which must be refused. */
static const char *
refusal(const struct mr_input *inputs)
{
    static struct mr_err err;
    struct mr_valid *v = (struct mr_valid *)&err; /* must be reset to NULL */
    memset(&err, 0, sizeof(err));
    ck_assert_int_eq(mr_valid_compile(inputs, &v, &err), -EINVAL);
    ck_assert_ptr_null(v);
    return err.msg;
}

#define ck_refused(inputs, want)                                                                   \
    do {                                                                                           \
        const char *msg_ = refusal(inputs);                                                        \
        ck_assert_msg(strstr(msg_, (want)) != NULL, "got \"%s\", want \"%s\"", msg_, (want));      \
    } while (0)

/* After a 400 the values stay filled (for MR_ROUTE_INPUT_ERRORS): each bad field reads as
 * absent with the reason the 400 named; good and absent fields have none. */
START_TEST(test_validate_reasons_kept_after_a_400)
{
    static const struct mr_input in[] = {
        MR_IN_STR("title", MR_FROM_FORM, 1, 5, NULL, MR_REQUIRED),
        MR_IN_INT("n", MR_FROM_FORM, 1, 9, MR_REQUIRED),
        MR_IN_STR("note", MR_FROM_FORM, 0, 0, NULL, MR_OPTIONAL),
        MR_IN_STR("ok", MR_FROM_FORM, 0, 0, NULL, MR_REQUIRED),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    const struct given g[] = {
        {MR_FROM_FORM, "title", "too long", 0},
        {MR_FROM_FORM, "ok", "fine", 0},
    };
    ck_assert_int_eq(run(&f, g, 2), 400);
    ck_assert_str_eq(mr_values_reason(&f.vals, 0), "must be at most 5 characters");
    ck_assert(!mr_values_has(&f.vals, 0));
    ck_assert_ptr_null(mr_values_str(&f.vals, 0, NULL));
    ck_assert_str_eq(mr_values_reason(&f.vals, 1), "required");
    ck_assert_ptr_null(mr_values_reason(&f.vals, 2));
    ck_assert_ptr_null(mr_values_reason(&f.vals, 3));
    ck_assert_str_eq(mr_values_str(&f.vals, 3, NULL), "fine");
    ck_assert_ptr_nonnull(strstr(mr_buf_cstr(&f.errors), "must be at most 5 characters"));
    teardown(&f);
}
END_TEST

START_TEST(test_validate_int_syntax_and_range)
{
    static const struct mr_input in[] = {
        MR_IN_INT("id", MR_FROM_QUERY, 1, 10000, MR_OPTIONAL),
        MR_IN_INT("any", MR_FROM_QUERY, 0, 0, MR_OPTIONAL),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    ck_valid(&f, "id", "1");
    ck_assert_int_eq(mr_values_int(&f.vals, 0), 1);
    ck_valid(&f, "id", "10000");
    ck_assert_int_eq(mr_values_int(&f.vals, 0), 10000);
    ck_valid(&f, "id", "+42");
    ck_assert_int_eq(mr_values_int(&f.vals, 0), 42);
    ck_valid(&f, "id", "007");
    ck_assert_int_eq(mr_values_int(&f.vals, 0), 7);
    ck_reason(&f, "id", "0", "must be between 1 and 10000");
    ck_reason(&f, "id", "10001", "must be between 1 and 10000");
    ck_reason(&f, "id", "-5", "must be between 1 and 10000");
    const char *bad[] = {"", "+", "-", "12a", " 1", "1 ", "0x10", "1.5", "1e3", "--1", "١"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_reason(&f, "id", bad[i], "must be an integer between 1 and 10000");
    ck_reason(&f, "any", "abc", "must be an integer");
    ck_valid(&f, "any", "9223372036854775807");
    ck_assert(mr_values_int(&f.vals, 1) == LLONG_MAX);
    ck_valid(&f, "any", "-9223372036854775808");
    ck_assert(mr_values_int(&f.vals, 1) == LLONG_MIN);
    ck_valid(&f, "any", "-0");
    ck_assert(mr_values_int(&f.vals, 1) == 0);
    ck_reason(&f, "any", "9223372036854775808", "must be an integer");
    ck_reason(&f, "any", "-9223372036854775809", "must be an integer");
    ck_reason(&f, "any", "99999999999999999999999", "must be an integer");
    teardown(&f);
}
END_TEST

START_TEST(test_validate_int_range_of_one_and_negative)
{
    static const struct mr_input in[] = {
        MR_IN_INT("one", MR_FROM_QUERY, 5, 5, MR_OPTIONAL),
        MR_IN_INT("neg", MR_FROM_QUERY, -10, -1, MR_OPTIONAL),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    ck_valid(&f, "one", "5");
    ck_reason(&f, "one", "4", "must be between 5 and 5");
    ck_valid(&f, "neg", "-10");
    ck_reason(&f, "neg", "0", "must be between -10 and -1");
    teardown(&f);
}
END_TEST

START_TEST(test_validate_string_length_counts_code_points)
{
    static const struct mr_input in[] = {
        MR_IN_STR("name", MR_FROM_FORM, 2, 5, NULL, MR_REQUIRED),
        MR_IN_STR("one", MR_FROM_FORM, 1, 1, NULL, MR_OPTIONAL),
        MR_IN_STR("free", MR_FROM_FORM, 0, 0, NULL, MR_OPTIONAL),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    struct given g = {MR_FROM_FORM, "name", "h\xc3\xa9llo", 0}; /* 5 code points, 6 bytes */
    ck_assert_int_eq(run(&f, &g, 1), 0);
    size_t len = 0;
    const char *s = mr_values_str(&f.vals, 0, &len);
    ck_assert_uint_eq(len, 6);
    ck_assert_str_eq(s, "h\xc3\xa9llo"); /* a NUL-terminated copy */
    ck_assert_ptr_ne(s, g.value);
    g.value = "h\xc3\xa9llos";
    ck_assert_int_eq(run(&f, &g, 1), 400);
    ck_assert_ptr_nonnull(strstr(mr_buf_cstr(&f.errors), "\"must be at most 5 characters\""));
    g.value = "\xf0\x9f\x98\x80"; /* one code point, four bytes */
    ck_assert_int_eq(run(&f, &g, 1), 400);
    ck_assert_ptr_nonnull(strstr(mr_buf_cstr(&f.errors), "\"must be at least 2 characters\""));
    g.name = "one";
    g.value = "";
    ck_assert_int_eq(run(&f, &g, 1), 400);
    ck_assert_ptr_nonnull(strstr(mr_buf_cstr(&f.errors), "\"must be at least 1 character\""));
    g.value = "ab";
    ck_assert_int_eq(run(&f, &g, 1), 400);
    ck_assert_ptr_nonnull(strstr(mr_buf_cstr(&f.errors), "\"must be at most 1 character\""));
    g.name = "free";
    g.value = "";
    ck_assert_int_eq(run(&f, &g, 1), 400); /* "name" is required */
    struct given two[] = {{MR_FROM_FORM, "name", "ok", 0}, {MR_FROM_FORM, "free", "", 0}};
    ck_assert_int_eq(run(&f, two, 2), 0);
    ck_assert(mr_values_has(&f.vals, 2));
    ck_assert_str_eq(mr_values_str(&f.vals, 2, &len), "");
    ck_assert_uint_eq(len, 0);
    teardown(&f);
}
END_TEST

START_TEST(test_validate_string_must_be_utf8_without_nul)
{
    static const struct mr_input in[] = {
        MR_IN_STR("s", MR_FROM_QUERY, 0, 100, NULL, MR_REQUIRED),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    const char *bad[] = {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_reason(&f, "s", bad[i], "must be valid UTF-8 text");
    struct given g = {MR_FROM_QUERY, "s", "a\0b", 3};
    ck_assert_int_eq(run(&f, &g, 1), 400);
    ck_assert_ptr_nonnull(strstr(mr_buf_cstr(&f.errors), "\"must be valid UTF-8 text\""));
    teardown(&f);
}
END_TEST

START_TEST(test_validate_pattern_is_anchored)
{
    static const struct mr_input in[] = {
        MR_IN_STR("slug", MR_FROM_PATH, 0, 0, "[a-z0-9-]+", MR_REQUIRED),
        MR_IN_STR("ab", MR_FROM_QUERY, 0, 0, "a|b", MR_OPTIONAL),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    struct given g[] = {{MR_FROM_PATH, "slug", "hello-42", 0}, {MR_FROM_QUERY, "ab", "b", 0}};
    ck_assert_int_eq(run(&f, g, 2), 0);
    const char *bad[] = {"Hello", "hello world", " hello", "hello!", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        g[0].value = bad[i];
        ck_assert_int_eq(run(&f, g, 2), 400);
        ck_assert_str_eq(mr_buf_cstr(&f.errors),
                         "{\"error\":\"invalid input\",\"fields\":[{\"name\":\"slug\",\"in\":"
                         "\"path\",\"reason\":\"must match the pattern\"}]}");
    }
    g[0].value = "ok";
    const char *ab_bad[] = {"ab", "ba", "xa", "bx", "aa"};
    for (size_t i = 0; i < sizeof(ab_bad) / sizeof(ab_bad[0]); i++) {
        g[1].value = ab_bad[i];
        ck_assert_int_eq(run(&f, g, 2), 400);
    }
    g[1].value = "a";
    ck_assert_int_eq(run(&f, g, 2), 0);
    teardown(&f);
}
END_TEST

START_TEST(test_validate_enum_index_and_reason)
{
    static const char *const sizes[] = {"small", "medium", "large", NULL};
    static const struct mr_input in[] = {
        MR_IN_ENUM("size", MR_FROM_JSON, sizes, MR_REQUIRED),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    struct given g = {MR_FROM_JSON, "size", "large", 0};
    ck_assert_int_eq(run(&f, &g, 1), 0);
    ck_assert_int_eq(mr_values_enum(&f.vals, 0), 2);
    g.value = "small";
    ck_assert_int_eq(run(&f, &g, 1), 0);
    ck_assert_int_eq(mr_values_enum(&f.vals, 0), 0);
    const char *bad[] = {"Small", "smal", "smalll", "", "small "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        g.value = bad[i];
        ck_assert_int_eq(run(&f, &g, 1), 400);
        ck_assert_str_eq(mr_buf_cstr(&f.errors),
                         "{\"error\":\"invalid input\",\"fields\":[{\"name\":\"size\",\"in\":"
                         "\"json\",\"reason\":\"must be one of: small, medium, large\"}]}");
    }
    teardown(&f);
}
END_TEST

START_TEST(test_validate_bool_words_in_any_case)
{
    static const struct mr_input in[] = {
        MR_IN_BOOL("b", MR_FROM_QUERY, MR_REQUIRED),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    const char *yes[] = {"true", "TRUE", "True", "1", "on", "ON", "yes", "YeS"};
    const char *no[] = {"false", "FALSE", "0", "off", "Off", "no", "NO"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        ck_valid(&f, "b", yes[i]);
        ck_assert(mr_values_bool(&f.vals, 0));
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        ck_valid(&f, "b", no[i]);
        ck_assert(!mr_values_bool(&f.vals, 0));
    }
    const char *bad[] = {"", "tru", "truee", "2", "y", "n", " true", "falsey", "01"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_reason(&f, "b", bad[i], "must be true or false");
    teardown(&f);
}
END_TEST

START_TEST(test_validate_email_pragmatic_check)
{
    static const struct mr_input in[] = {
        MR_IN_EMAIL("email", MR_FROM_FORM, MR_REQUIRED),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    const char *good[] = {"a@b.co",
                          "first.last@example.com",
                          "x+tag@sub.example.org",
                          "o'brien@xn--bcher-kva.example",
                          "a-b_c!#$%&*/=?^`{|}~@e-x.io",
                          "1@2.example3"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct given g = {MR_FROM_FORM, "email", good[i], 0};
        ck_assert_msg(run(&f, &g, 1) == 0, "%s", good[i]);
        ck_assert_str_eq(mr_values_str(&f.vals, 0, NULL), good[i]);
    }
    const char *bad[] = {"",
                         "plain",
                         "@example.com",
                         "a@",
                         "a@b",
                         "a@@b.com",
                         "a@b@c.com",
                         ".a@b.com",
                         "a.@b.com",
                         "a..b@c.com",
                         "a@.b.com",
                         "a@b..com",
                         "a@b.com.",
                         "a@-b.com",
                         "a@b-.com",
                         "a@b_c.com",
                         "a b@c.com",
                         "a@1.2",
                         "\"q\"@b.com",
                         "a@[127.0.0.1]",
                         "j\xc3\xb6@b.com",
                         "a@b\xc3\xb6.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct given g = {MR_FROM_FORM, "email", bad[i], 0};
        ck_assert_msg(run(&f, &g, 1) == 400, "%s", bad[i]);
        ck_assert_ptr_nonnull(strstr(mr_buf_cstr(&f.errors), "\"must be an email address\""));
    }
    teardown(&f);
}
END_TEST

START_TEST(test_validate_email_length_limits)
{
    static const struct mr_input in[] = {
        MR_IN_EMAIL("email", MR_FROM_FORM, MR_REQUIRED),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    char s[300];
    /* local part of 64 is the most; 65 is refused */
    memset(s, 'a', 64);
    memcpy(s + 64, "@b.co", 6);
    struct given g = {MR_FROM_FORM, "email", s, 0};
    ck_assert_int_eq(run(&f, &g, 1), 0);
    memset(s, 'a', 65);
    memcpy(s + 65, "@b.co", 6);
    ck_assert_int_eq(run(&f, &g, 1), 400);
    /* a label of 63 passes, 64 does not */
    memset(s, 'b', sizeof(s));
    memcpy(s, "a@", 2);
    memcpy(s + 2 + 63, ".co", 4);
    ck_assert_int_eq(run(&f, &g, 1), 0);
    memset(s, 'b', sizeof(s));
    memcpy(s, "a@", 2);
    memcpy(s + 2 + 64, ".co", 4);
    ck_assert_int_eq(run(&f, &g, 1), 400);
    /* 254 bytes in all pass, 255 do not: a@ + labels of 50 joined by dots */
    for (size_t total = 254; total <= 255; total++) {
        memset(s, 'c', total);
        memcpy(s, "a@", 2);
        for (size_t k = 2 + 50; k < total - 1; k += 51)
            s[k] = '.';
        s[total] = '\0';
        ck_assert_uint_eq(strlen(s), total);
        ck_assert_int_eq(run(&f, &g, 1), total == 254 ? 0 : 400);
    }
    teardown(&f);
}
END_TEST

START_TEST(test_validate_defaults_and_absent_optionals)
{
    static const char *const order[] = {"asc", "desc", NULL};
    static const struct mr_input in[] = {
        MR_IN_INT("page", MR_FROM_QUERY, 1, 500, MR_DEFAULT("1")),
        MR_IN_STR("q", MR_FROM_QUERY, 0, 10, "[a-z]*", MR_DEFAULT("all")),
        MR_IN_ENUM("order", MR_FROM_QUERY, order, MR_DEFAULT("desc")),
        MR_IN_BOOL("full", MR_FROM_QUERY, MR_DEFAULT("yes")),
        MR_IN_EMAIL("cc", MR_FROM_QUERY, MR_DEFAULT("ops@example.com")),
        MR_IN_INT("n", MR_FROM_QUERY, 0, 0, MR_OPTIONAL),
        MR_IN_STR("t", MR_FROM_QUERY, 0, 0, NULL, MR_OPTIONAL),
        MR_IN_ENUM("o", MR_FROM_QUERY, order, MR_OPTIONAL),
        MR_IN_BOOL("b", MR_FROM_QUERY, MR_OPTIONAL),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    ck_assert_int_eq(run(&f, NULL, 0), 0);
    size_t len = 0;
    for (int i = 0; i < 5; i++)
        ck_assert(mr_values_has(&f.vals, i));
    ck_assert_int_eq(mr_values_int(&f.vals, 0), 1);
    ck_assert_str_eq(mr_values_str(&f.vals, 1, &len), "all");
    ck_assert_uint_eq(len, 3);
    ck_assert_int_eq(mr_values_enum(&f.vals, 2), 1);
    ck_assert(mr_values_bool(&f.vals, 3));
    ck_assert_str_eq(mr_values_str(&f.vals, 4, NULL), "ops@example.com");
    for (int i = 5; i < 9; i++)
        ck_assert(!mr_values_has(&f.vals, i));
    ck_assert_int_eq(mr_values_int(&f.vals, 5), 0);
    ck_assert_ptr_null(mr_values_str(&f.vals, 6, &len));
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(mr_values_enum(&f.vals, 7), -1);
    ck_assert(!mr_values_bool(&f.vals, 8));
    /* A given value replaces the default and is checked like any other. */
    struct given g[] = {{MR_FROM_QUERY, "page", "7", 0}, {MR_FROM_QUERY, "order", "asc", 0}};
    ck_assert_int_eq(run(&f, g, 2), 0);
    ck_assert_int_eq(mr_values_int(&f.vals, 0), 7);
    ck_assert_int_eq(mr_values_enum(&f.vals, 2), 0);
    g[0].value = "0";
    ck_assert_int_eq(run(&f, g, 2), 400);
    teardown(&f);
}
END_TEST

START_TEST(test_validate_required_and_sources_are_distinct)
{
    static const struct mr_input in[] = {
        MR_IN_INT("id", MR_FROM_PATH, 1, 10, MR_REQUIRED),
        MR_IN_INT("id", MR_FROM_QUERY, 1, 10, MR_OPTIONAL),
        MR_IN_STR("sid", MR_FROM_COOKIE, 0, 0, NULL, MR_REQUIRED),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    struct given g[] = {{MR_FROM_QUERY, "id", "3", 0}, {MR_FROM_FORM, "sid", "x", 0}};
    ck_assert_int_eq(run(&f, g, 2), 400);
    ck_assert_str_eq(mr_buf_cstr(&f.errors),
                     "{\"error\":\"invalid input\",\"fields\":["
                     "{\"name\":\"id\",\"in\":\"path\",\"reason\":\"required\"},"
                     "{\"name\":\"sid\",\"in\":\"cookie\",\"reason\":\"required\"}]}");
    struct given ok[] = {{MR_FROM_PATH, "id", "4", 0},
                         {MR_FROM_QUERY, "id", "9", 0},
                         {MR_FROM_COOKIE, "sid", "", 0}};
    ck_assert_int_eq(run(&f, ok, 3), 0);
    ck_assert_int_eq(mr_values_int(&f.vals, 0), 4);
    ck_assert_int_eq(mr_values_int(&f.vals, 1), 9);
    ck_assert_uint_eq(f.errors.len, 0); /* nothing written when valid */
    teardown(&f);
}
END_TEST

START_TEST(test_validate_multi_field_error_body_exact)
{
    static const char *const colors[] = {"red", "green", "blue", NULL};
    static const struct mr_input in[] = {
        MR_IN_INT("id", MR_FROM_PATH, 1, 10000, MR_REQUIRED),
        MR_IN_STR("title", MR_FROM_FORM, 1, 64, NULL, MR_REQUIRED),
        MR_IN_STR("tag", MR_FROM_FORM, 0, 0, "[a-z]+", MR_OPTIONAL),
        MR_IN_ENUM("color", MR_FROM_JSON, colors, MR_OPTIONAL),
        MR_IN_BOOL("draft", MR_FROM_QUERY, MR_DEFAULT("false")),
        MR_IN_EMAIL("email", MR_FROM_FORM, MR_REQUIRED),
        MR_IN_INT("page", MR_FROM_QUERY, 0, 0, MR_OPTIONAL),
        MR_IN_STR("note", MR_FROM_COOKIE, 0, 0, NULL, MR_REQUIRED),
        MR_IN_END,
    };
    char long_title[66];
    memset(long_title, 'x', 65);
    long_title[65] = '\0';
    struct fixture f;
    setup(&f, in);
    struct given g[] = {
        {MR_FROM_PATH, "id", "abc", 0},       {MR_FROM_FORM, "title", long_title, 0},
        {MR_FROM_FORM, "tag", "Nope", 0},     {MR_FROM_JSON, "color", "purple", 0},
        {MR_FROM_QUERY, "draft", "maybe", 0}, {MR_FROM_FORM, "email", "not-an-email", 0},
        {MR_FROM_QUERY, "page", "1.5", 0},
    };
    ck_assert_int_eq(run(&f, g, sizeof(g) / sizeof(g[0])), 400);
    ck_assert_str_eq(
        mr_buf_cstr(&f.errors),
        "{\"error\":\"invalid input\",\"fields\":["
        "{\"name\":\"id\",\"in\":\"path\",\"reason\":\"must be an integer between 1 and 10000\"},"
        "{\"name\":\"title\",\"in\":\"form\",\"reason\":\"must be at most 64 characters\"},"
        "{\"name\":\"tag\",\"in\":\"form\",\"reason\":\"must match the pattern\"},"
        "{\"name\":\"color\",\"in\":\"json\",\"reason\":\"must be one of: red, green, blue\"},"
        "{\"name\":\"draft\",\"in\":\"query\",\"reason\":\"must be true or false\"},"
        "{\"name\":\"email\",\"in\":\"form\",\"reason\":\"must be an email address\"},"
        "{\"name\":\"page\",\"in\":\"query\",\"reason\":\"must be an integer\"},"
        "{\"name\":\"note\",\"in\":\"cookie\",\"reason\":\"required\"}]}");
    teardown(&f);
}
END_TEST

START_TEST(test_validate_names_are_json_escaped)
{
    static const struct mr_input in[] = {
        MR_IN_INT("a\"b\\c", MR_FROM_QUERY, 0, 0, MR_REQUIRED),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    ck_assert_int_eq(run(&f, NULL, 0), 400);
    ck_assert_str_eq(mr_buf_cstr(&f.errors),
                     "{\"error\":\"invalid input\",\"fields\":[{\"name\":\"a\\\"b\\\\c\",\"in\":"
                     "\"query\",\"reason\":\"required\"}]}");
    teardown(&f);
}
END_TEST

START_TEST(test_validate_lookups_by_name)
{
    static const struct mr_input in[] = {
        MR_IN_INT("id", MR_FROM_PATH, 1, 10, MR_REQUIRED),
        MR_IN_BOOL("id", MR_FROM_QUERY, MR_OPTIONAL),
        MR_IN_STR("name", MR_FROM_FORM, 0, 0, NULL, MR_OPTIONAL),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    ck_assert_int_eq(mr_valid_count(f.v), 3);
    ck_assert_int_eq(mr_valid_index(f.v, MR_FROM_PATH, "id"), 0);
    ck_assert_int_eq(mr_valid_index(f.v, MR_FROM_QUERY, "id"), 1);
    ck_assert_int_eq(mr_valid_index(f.v, MR_FROM_FORM, "name"), 2);
    ck_assert_int_eq(mr_valid_index(f.v, MR_FROM_QUERY, "name"), -1);
    struct given g = {MR_FROM_PATH, "id", "3", 0};
    ck_assert_int_eq(run(&f, &g, 1), 0);
    ck_assert_int_eq(mr_values_find(&f.vals, "id"), 0);
    ck_assert_int_eq(mr_values_find(&f.vals, "name"), 2);
    ck_assert_int_eq(mr_values_find(&f.vals, "nope"), -1);
    ck_assert_int_eq(mr_values_int(&f.vals, mr_values_find(&f.vals, "id")), 3);
    teardown(&f);
}
END_TEST

START_TEST(test_validate_empty_table_accepts_anything)
{
    static const struct mr_input in[] = {MR_IN_END};
    struct fixture f;
    setup(&f, in);
    struct given g = {MR_FROM_QUERY, "x", "y", 0};
    ck_assert_int_eq(run(&f, &g, 1), 0);
    ck_assert_int_eq(f.vals.n, 0);
    teardown(&f);
}
END_TEST

START_TEST(test_validate_arena_ceiling_is_enomem)
{
    static const struct mr_input in[] = {
        MR_IN_STR("s", MR_FROM_QUERY, 0, 0, NULL, MR_REQUIRED),
        MR_IN_INT("n", MR_FROM_QUERY, 0, 0, MR_REQUIRED),
        MR_IN_END,
    };
    struct mr_valid *v = NULL;
    struct mr_err err;
    ck_assert_int_eq(mr_valid_compile(in, &v, &err), 0);
    struct mr_arena a;
    mr_arena_init(&a, 64, 512);
    char big[600];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct given g = {MR_FROM_QUERY, "s", big, 0};
    struct req r = {&g, 1};
    struct mr_values vals;
    struct mr_buf b;
    mr_buf_init(&b, &a, 16);
    ck_assert_int_eq(mr_valid_run(v, get, &r, &a, &vals, &b), -ENOMEM); /* the string copy */
    mr_arena_reset(&a);
    /* The error body past the ceiling: many bad fields would not fit; one small one does. */
    mr_buf_init(&b, &a, 16);
    g.value = "ok";
    int rc = mr_valid_run(v, get, &r, &a, &vals, &b); /* n missing */
    ck_assert_int_eq(rc, 400);
    ck_assert_ptr_nonnull(strstr(mr_buf_cstr(&b), "\"required\""));
    mr_arena_fini(&a);
    mr_valid_free(&v);
    mr_valid_free(&v); /* harmless twice */
    mr_valid_free(NULL);
}
END_TEST

START_TEST(test_validate_compile_refusals)
{
    static const char *const none[] = {NULL};
    static const char *const twice[] = {"a", "b", "a", NULL};
    static const char *const ab[] = {"a", "b", NULL};
    {
        const struct mr_input in[] = {MR_IN_INT("n", MR_FROM_QUERY, 10, 1, MR_OPTIONAL), MR_IN_END};
        ck_refused(in, "input \"n\" (query): min 10 > max 1");
    }
    {
        const struct mr_input in[] = {MR_IN_STR("s", MR_FROM_FORM, 5, 2, NULL, MR_OPTIONAL),
                                      MR_IN_END};
        ck_refused(in, "input \"s\" (form): min 5 > max 2");
    }
    {
        const struct mr_input in[] = {MR_IN_STR("s", MR_FROM_FORM, -1, 2, NULL, MR_OPTIONAL),
                                      MR_IN_END};
        ck_refused(in, "input \"s\" (form): negative length");
    }
    {
        const struct mr_input in[] = {MR_IN_INT("n", MR_FROM_QUERY, 1, 5, MR_DEFAULT("9")),
                                      MR_IN_END};
        ck_refused(in, "input \"n\" (query): default \"9\" must be between 1 and 5");
    }
    {
        const struct mr_input in[] = {MR_IN_INT("n", MR_FROM_QUERY, 1, 5, MR_DEFAULT("x")),
                                      MR_IN_END};
        ck_refused(in, "default \"x\" must be an integer between 1 and 5");
    }
    {
        const struct mr_input in[] = {
            MR_IN_STR("s", MR_FROM_QUERY, 0, 0, "[0-9]+", MR_DEFAULT("abc")), MR_IN_END};
        ck_refused(in, "input \"s\" (query): default \"abc\" must match the pattern");
    }
    {
        const struct mr_input in[] = {MR_IN_ENUM("e", MR_FROM_QUERY, ab, MR_DEFAULT("c")),
                                      MR_IN_END};
        ck_refused(in, "default \"c\" must be one of: a, b");
    }
    {
        const struct mr_input in[] = {MR_IN_BOOL("b", MR_FROM_QUERY, MR_DEFAULT("maybe")),
                                      MR_IN_END};
        ck_refused(in, "default \"maybe\" must be true or false");
    }
    {
        const struct mr_input in[] = {MR_IN_EMAIL("m", MR_FROM_QUERY, MR_DEFAULT("x@y")),
                                      MR_IN_END};
        ck_refused(in, "default \"x@y\" must be an email address");
    }
    {
        const struct mr_input in[] = {
            MR_IN_INT("n", MR_FROM_QUERY, 1, 5, MR_REQUIRED, MR_DEFAULT("2")), MR_IN_END};
        ck_refused(in, "input \"n\" (query): a required input has no default");
    }
    {
        const struct mr_input in[] = {MR_IN_STR("s", MR_FROM_PATH, 0, 0, "a[b", MR_OPTIONAL),
                                      MR_IN_END};
        ck_refused(in, "input \"s\" (path): bad pattern \"a[b\": Unmatched [");
    }
    {
        const struct mr_input in[] = {MR_IN_STR("s", MR_FROM_PATH, 0, 0, "a)|(b", MR_OPTIONAL),
                                      MR_IN_END};
        ck_refused(in, "input \"s\" (path): bad pattern \"a)|(b\": Unmatched ( or \\(");
    }
    {
        const struct mr_input in[] = {MR_IN_STR("s", MR_FROM_PATH, 0, 0, "a)|b", MR_OPTIONAL),
                                      MR_IN_END};
        ck_refused(in, "input \"s\" (path): pattern \"a)|b\" has an unmatched )");
    }
    {
        const struct mr_input in[] = {MR_IN_STR("s", MR_FROM_PATH, 0, 0, "(x)a)", MR_OPTIONAL),
                                      MR_IN_END};
        ck_refused(in, "has an unmatched )");
    }
    {
        const struct mr_input in[] = {MR_IN_STR("s", MR_FROM_PATH, 0, 0, "(a)\\1", MR_OPTIONAL),
                                      MR_IN_END};
        ck_refused(in, "input \"s\" (path): pattern \"(a)\\1\" has a backreference");
    }
    {
        const struct mr_input in[] = {MR_IN_ENUM("e", MR_FROM_QUERY, NULL, MR_OPTIONAL), MR_IN_END};
        ck_refused(in, "input \"e\" (query): enum without choices");
    }
    {
        const struct mr_input in[] = {MR_IN_ENUM("e", MR_FROM_QUERY, none, MR_OPTIONAL), MR_IN_END};
        ck_refused(in, "input \"e\" (query): enum without choices");
    }
    {
        const struct mr_input in[] = {MR_IN_ENUM("e", MR_FROM_QUERY, twice, MR_OPTIONAL),
                                      MR_IN_END};
        ck_refused(in, "input \"e\" (query): choice \"a\" repeated");
    }
    {
        const struct mr_input in[] = {MR_IN_INT("id", MR_FROM_PATH, 0, 0, MR_OPTIONAL),
                                      MR_IN_BOOL("x", MR_FROM_PATH, MR_OPTIONAL),
                                      MR_IN_STR("id", MR_FROM_PATH, 0, 0, NULL, MR_OPTIONAL),
                                      MR_IN_END};
        ck_refused(in, "input \"id\" (path): declared twice");
    }
    {
        const struct mr_input in[] = {
            {.name = "t", .from = MR_FROM_QUERY, .type = (enum mr_vtype)99}, MR_IN_END};
        ck_refused(in, "input \"t\" (query): unknown type 99");
    }
    {
        const struct mr_input in[] = {{.name = "t", .from = (enum mr_source)7, .type = MR_V_INT},
                                      MR_IN_END};
        ck_refused(in, "input \"t\": unknown source 7");
    }
    {
        const struct mr_input in[] = {MR_IN_BOOL("", MR_FROM_QUERY, MR_OPTIONAL), MR_IN_END};
        ck_refused(in, "input 0: empty name");
    }
    {
        const struct mr_input in[] = {
            {.name = "b", .from = MR_FROM_QUERY, .type = MR_V_BOOL, .max = 3}, MR_IN_END};
        ck_refused(in, "input \"b\" (query): min/max apply only to int and string");
    }
    {
        const struct mr_input in[] = {
            {.name = "n", .from = MR_FROM_QUERY, .type = MR_V_INT, .pattern = "[0-9]+"}, MR_IN_END};
        ck_refused(in, "input \"n\" (query): a pattern applies only to strings");
    }
    {
        const struct mr_input in[] = {
            {.name = "n", .from = MR_FROM_QUERY, .type = MR_V_INT, .choices = ab}, MR_IN_END};
        ck_refused(in, "input \"n\" (query): choices apply only to enums");
    }
    struct mr_valid *v = NULL;
    struct mr_err err;
    ck_assert_int_eq(mr_valid_compile(NULL, &v, &err), -EINVAL);
    ck_assert_str_eq(err.msg, "no input table");
}
END_TEST

START_TEST(test_validate_parens_in_brackets_and_escaped_are_literal)
{
    static const struct mr_input in[] = {
        MR_IN_STR("a", MR_FROM_QUERY, 0, 0, "[)(]+|x", MR_OPTIONAL),
        MR_IN_STR("b", MR_FROM_QUERY, 0, 0, "\\)|y", MR_OPTIONAL),
        MR_IN_STR("c", MR_FROM_QUERY, 0, 0, "[[:digit:])]+", MR_OPTIONAL),
        MR_IN_STR("d", MR_FROM_QUERY, 0, 0, "[]a)]+", MR_OPTIONAL),
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    ck_valid(&f, "a", ")(");
    ck_valid(&f, "a", "x");
    ck_reason(&f, "a", ")x", "must match the pattern");
    ck_valid(&f, "b", ")");
    ck_reason(&f, "b", ")y", "must match the pattern");
    ck_valid(&f, "c", "1)2");
    ck_reason(&f, "c", "1)a", "must match the pattern");
    ck_valid(&f, "d", "]a)");
    ck_reason(&f, "d", "]b", "must match the pattern");
    teardown(&f);
}
END_TEST

START_TEST(test_validate_escaped_backslash_is_not_a_backreference)
{
    static const struct mr_input in[] = {
        MR_IN_STR("p", MR_FROM_QUERY, 0, 0, "[a-z]+\\\\1", MR_OPTIONAL), /* ERE [a-z]+\\1 */
        MR_IN_END,
    };
    struct fixture f;
    setup(&f, in);
    ck_valid(&f, "p", "abc\\1");
    ck_reason(&f, "p", "abc1", "must match the pattern");
    teardown(&f);
}
END_TEST

Suite *
validate_suite(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("validate");
    tcase_add_test(tc, test_validate_int_syntax_and_range);
    tcase_add_test(tc, test_validate_int_range_of_one_and_negative);
    tcase_add_test(tc, test_validate_string_length_counts_code_points);
    tcase_add_test(tc, test_validate_string_must_be_utf8_without_nul);
    tcase_add_test(tc, test_validate_pattern_is_anchored);
    tcase_add_test(tc, test_validate_enum_index_and_reason);
    tcase_add_test(tc, test_validate_bool_words_in_any_case);
    tcase_add_test(tc, test_validate_email_pragmatic_check);
    tcase_add_test(tc, test_validate_email_length_limits);
    tcase_add_test(tc, test_validate_defaults_and_absent_optionals);
    tcase_add_test(tc, test_validate_required_and_sources_are_distinct);
    tcase_add_test(tc, test_validate_multi_field_error_body_exact);
    tcase_add_test(tc, test_validate_names_are_json_escaped);
    tcase_add_test(tc, test_validate_lookups_by_name);
    tcase_add_test(tc, test_validate_empty_table_accepts_anything);
    tcase_add_test(tc, test_validate_arena_ceiling_is_enomem);
    tcase_add_test(tc, test_validate_compile_refusals);
    tcase_add_test(tc, test_validate_reasons_kept_after_a_400);
    tcase_add_test(tc, test_validate_parens_in_brackets_and_escaped_are_literal);
    tcase_add_test(tc, test_validate_escaped_backslash_is_not_a_backreference);
    suite_add_tcase(s, tc);
    return s;
}
