/* SPDX-License-Identifier: BSD-2-Clause */
/* test_cookie: the Cookie header read (order, whitespace, quotes, malformed pairs skipped,
 * the max_cookies limit) and the Set-Cookie writer (defaults, every option, every refusal
 * leaving the buffer untouched). */
#include <errno.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/serve/cookie.h"
#include "tests/unit/suites.h"

static struct mr_arena arena;

static void
setup(void)
{
    mr_arena_init(&arena, 1024, 64 * 1024);
}

static void
teardown(void)
{
    mr_arena_fini(&arena);
}

START_TEST(test_cookie_parse_pairs_in_order)
{
    struct mr_cookies c;
    ck_assert_int_eq(mr_cookie_parse(&c, "sid=abc123; theme=dark; a=", 16, &arena), 0);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_str_eq(c.items[0].name, "sid");
    ck_assert_str_eq(c.items[0].value, "abc123");
    ck_assert_uint_eq(c.items[0].value_len, 6);
    ck_assert_str_eq(c.items[1].name, "theme");
    ck_assert_str_eq(c.items[2].value, "");
    ck_assert_uint_eq(c.n_skipped, 0);
    ck_assert_str_eq(mr_cookie_get(&c, "theme"), "dark");
    ck_assert_ptr_null(mr_cookie_get(&c, "Theme"));
    ck_assert_ptr_null(mr_cookie_get(&c, "none"));
}
END_TEST

START_TEST(test_cookie_parse_lenient_whitespace_and_quotes)
{
    struct mr_cookies c;
    ck_assert_int_eq(
        mr_cookie_parse(&c, "  a = 1 ;b=\"quoted\";\tc=\"\" ;;  ; d=x=y ;", 16, &arena), 0);
    ck_assert_uint_eq(c.n, 4);
    ck_assert_str_eq(mr_cookie_get(&c, "a"), "1");
    ck_assert_str_eq(mr_cookie_get(&c, "b"), "quoted");
    ck_assert_uint_eq(c.items[1].value_len, 6);
    ck_assert_str_eq(mr_cookie_get(&c, "c"), "");
    ck_assert_str_eq(mr_cookie_get(&c, "d"), "x=y"); /* '=' is a cookie-octet */
    ck_assert_uint_eq(c.n_skipped, 0);               /* empty pieces are not malformed */
}
END_TEST

START_TEST(test_cookie_parse_skips_malformed_pairs)
{
    struct mr_cookies c;
    /* no '=', empty name, name with a space, value with a space, a comma, a lone quote,
     * a backslash, a control byte: each skipped, the good ones around them kept */
    ck_assert_int_eq(mr_cookie_parse(&c,
                                     "ok1=1; novalue; =x; bad name=1; v=a b; w=a,b; q=\"x; "
                                     "s=a\\b; t=\x01; ok2=2",
                                     16, &arena),
                     0);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_str_eq(c.items[0].name, "ok1");
    ck_assert_str_eq(c.items[1].name, "ok2");
    ck_assert_uint_eq(c.n_skipped, 8);
    ck_assert_ptr_null(mr_cookie_get(&c, "v"));
}
END_TEST

START_TEST(test_cookie_parse_first_of_repeated_names_wins)
{
    struct mr_cookies c;
    ck_assert_int_eq(mr_cookie_parse(&c, "sid=specific; sid=general", 16, &arena), 0);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_str_eq(mr_cookie_get(&c, "sid"), "specific");
}
END_TEST

START_TEST(test_cookie_parse_max_cookies)
{
    struct mr_cookies c;
    ck_assert_int_eq(mr_cookie_parse(&c, "a=1; b=2; bad; c=3; d=4", 2, &arena), 0);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_str_eq(c.items[1].name, "b");
    ck_assert_uint_eq(c.n_dropped, 2);
    ck_assert_uint_eq(c.n_skipped, 1);
    ck_assert_ptr_null(mr_cookie_get(&c, "c"));
}
END_TEST

START_TEST(test_cookie_parse_empty_and_null)
{
    struct mr_cookies c;
    ck_assert_int_eq(mr_cookie_parse(&c, NULL, 8, &arena), 0);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_ptr_null(mr_cookie_get(&c, "a"));
    ck_assert_int_eq(mr_cookie_parse(&c, "", 8, &arena), 0);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_int_eq(mr_cookie_parse(&c, " ; ;", 8, &arena), 0);
    ck_assert_uint_eq(c.n, 0);
    ck_assert_uint_eq(c.n_skipped, 0);
}
END_TEST

START_TEST(test_cookie_parse_past_arena_ceiling_is_enomem)
{
    struct mr_arena small;
    struct mr_cookies c;
    char big[4096];
    memset(big, 'x', sizeof(big) - 1);
    big[0] = 'a';
    big[1] = '=';
    big[sizeof(big) - 1] = '\0';
    mr_arena_init(&small, 256, 1024);
    ck_assert_int_eq(mr_cookie_parse(&c, big, 8, &small), -ENOMEM);
    ck_assert_uint_eq(c.n, 0);
    mr_arena_fini(&small);
}
END_TEST

/* Formats into a fresh buffer; returns the code and the text in *out. */
static int
fmt(const char *name, const char *value, const struct mr_cookie_opts *o, const char **out)
{
    struct mr_buf b;
    mr_buf_init(&b, &arena, 16);
    int rc = mr_cookie_format(&b, name, value, o);
    *out = mr_buf_cstr(&b);
    return rc;
}

START_TEST(test_cookie_format_safe_defaults)
{
    const char *s;
    ck_assert_int_eq(fmt("sid", "abc", NULL, &s), 0);
    ck_assert_str_eq(s, "sid=abc; Path=/; HttpOnly; SameSite=Lax");
    struct mr_cookie_opts zero = {0};
    ck_assert_int_eq(fmt("sid", "", &zero, &s), 0);
    ck_assert_str_eq(s, "sid=; Path=/; HttpOnly; SameSite=Lax");
}
END_TEST

START_TEST(test_cookie_format_every_option)
{
    const char *s;
    struct mr_cookie_opts o = {
        .path = "/app",
        .domain = "example.com",
        .has_max_age = true,
        .max_age_s = 3600,
        .expires = 784111777, /* RFC 7231's example date */
        .samesite = MR_SAMESITE_STRICT,
        .is_https = true,
        .script_visible = true,
    };
    ck_assert_int_eq(fmt("pref", "a%20b", &o, &s), 0);
    ck_assert_str_eq(s, "pref=a%20b; Path=/app; Domain=example.com; Max-Age=3600; "
                        "Expires=Sun, 06 Nov 1994 08:49:37 GMT; Secure; SameSite=Strict");
    struct mr_cookie_opts del = {.has_max_age = true, .max_age_s = 0};
    ck_assert_int_eq(fmt("sid", "", &del, &s), 0);
    ck_assert_str_eq(s, "sid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    struct mr_cookie_opts none = {.samesite = MR_SAMESITE_NONE, .is_https = true};
    ck_assert_int_eq(fmt("x", "1", &none, &s), 0);
    ck_assert_str_eq(s, "x=1; Path=/; Secure; HttpOnly; SameSite=None");
}
END_TEST

static void
assert_refused(const char *name, const char *value, const struct mr_cookie_opts *o)
{
    struct mr_buf b;
    mr_buf_init(&b, &arena, 16);
    mr_buf_puts(&b, "before");
    ck_assert_msg(mr_cookie_format(&b, name, value, o) == -EINVAL, "%s=%s not refused", name,
                  value);
    ck_assert_str_eq(mr_buf_cstr(&b), "before"); /* nothing appended */
}

START_TEST(test_cookie_format_refuses_bad_names_and_values)
{
    assert_refused("", "v", NULL);
    assert_refused("a b", "v", NULL);
    assert_refused("a;b", "v", NULL);
    assert_refused("a=b", "v", NULL);
    assert_refused("a(b)", "v", NULL);
    assert_refused("n\xc3\xa9", "v", NULL);
    assert_refused("n", "a b", NULL);
    assert_refused("n", "a;b", NULL);
    assert_refused("n", "a,b", NULL);
    assert_refused("n", "\"q\"", NULL);
    assert_refused("n", "a\\b", NULL);
    assert_refused("n", "a\r\nSet-Cookie: x=1", NULL);
    assert_refused("n", "\x7f", NULL);
    assert_refused("n", "\xc3\xa9", NULL);
}
END_TEST

START_TEST(test_cookie_format_refuses_bad_options)
{
    struct mr_cookie_opts o = {.path = "/a; Domain=evil"};
    assert_refused("n", "v", &o);
    o = (struct mr_cookie_opts){.path = ""};
    assert_refused("n", "v", &o);
    o = (struct mr_cookie_opts){.domain = "x\n.com"};
    assert_refused("n", "v", &o);
    o = (struct mr_cookie_opts){.has_max_age = true, .max_age_s = -1};
    assert_refused("n", "v", &o);
    o = (struct mr_cookie_opts){.samesite = MR_SAMESITE_NONE}; /* without HTTPS */
    assert_refused("n", "v", &o);
    o = (struct mr_cookie_opts){.samesite = (enum mr_samesite)7, .is_https = true};
    assert_refused("n", "v", &o);
}
END_TEST

START_TEST(test_cookie_format_prefixes)
{
    const char *s;
    struct mr_cookie_opts https = {.is_https = true};
    assert_refused("__Secure-sid", "v", NULL);
    ck_assert_int_eq(fmt("__Secure-sid", "v", &https, &s), 0);
    assert_refused("__Host-sid", "v", NULL);
    struct mr_cookie_opts host_domain = {.is_https = true, .domain = "example.com"};
    assert_refused("__Host-sid", "v", &host_domain);
    struct mr_cookie_opts host_path = {.is_https = true, .path = "/app"};
    assert_refused("__Host-sid", "v", &host_path);
    ck_assert_int_eq(fmt("__Host-sid", "v", &https, &s), 0);
    ck_assert_str_eq(s, "__Host-sid=v; Path=/; Secure; HttpOnly; SameSite=Lax");
}
END_TEST

START_TEST(test_cookie_format_failed_buffer_is_enomem)
{
    struct mr_arena small;
    struct mr_buf b;
    char value[2048];
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    mr_arena_init(&small, 256, 1024);
    mr_buf_init(&b, &small, 16);
    ck_assert_int_eq(mr_cookie_format(&b, "n", value, NULL), -ENOMEM);
    mr_arena_fini(&small);
}
END_TEST

Suite *
cookie_suite(void)
{
    Suite *s = suite_create("cookie");
    TCase *parse = tcase_create("parse");
    tcase_add_checked_fixture(parse, setup, teardown);
    tcase_add_test(parse, test_cookie_parse_pairs_in_order);
    tcase_add_test(parse, test_cookie_parse_lenient_whitespace_and_quotes);
    tcase_add_test(parse, test_cookie_parse_skips_malformed_pairs);
    tcase_add_test(parse, test_cookie_parse_first_of_repeated_names_wins);
    tcase_add_test(parse, test_cookie_parse_max_cookies);
    tcase_add_test(parse, test_cookie_parse_empty_and_null);
    tcase_add_test(parse, test_cookie_parse_past_arena_ceiling_is_enomem);
    suite_add_tcase(s, parse);
    TCase *format = tcase_create("format");
    tcase_add_checked_fixture(format, setup, teardown);
    tcase_add_test(format, test_cookie_format_safe_defaults);
    tcase_add_test(format, test_cookie_format_every_option);
    tcase_add_test(format, test_cookie_format_refuses_bad_names_and_values);
    tcase_add_test(format, test_cookie_format_refuses_bad_options);
    tcase_add_test(format, test_cookie_format_prefixes);
    tcase_add_test(format, test_cookie_format_failed_buffer_is_enomem);
    suite_add_tcase(s, format);
    return s;
}
