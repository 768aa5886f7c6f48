/* SPDX-License-Identifier: BSD-2-Clause */
/* test_form: the urlencoded codec: percent-decoding and UTF-8 validation, query-string
 * parsing, urlencoded bodies behind their Content-Type check, and the lookups of repeated
 * names. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/serve/form.h"
#include "tests/unit/suites.h"

/* Decodes the C string src; returns the code, the result in dst and its length in *n. */
static int
decode(const char *src, bool plus, char *dst, size_t *n)
{
    *n = (size_t)-1;
    return mr_pct_decode(src, strlen(src), plus, dst, n);
}

static void
assert_decodes(const char *src, bool plus, const char *want, size_t want_len)
{
    char dst[64];
    size_t n;
    ck_assert_msg(strlen(src) < sizeof(dst), "test input too long");
    ck_assert_int_eq(decode(src, plus, dst, &n), 0);
    ck_assert_uint_eq(n, want_len);
    ck_assert_mem_eq(dst, want, want_len);
    ck_assert_int_eq(dst[n], '\0');
}

static void
assert_refused(const char *src)
{
    char dst[64];
    size_t n;
    ck_assert_msg(decode(src, false, dst, &n) == -EINVAL, "\"%s\" was not refused", src);
}

START_TEST(test_pct_decode_plain)
{
    assert_decodes("hello/world-1.2_~", false, "hello/world-1.2_~", 17);
    assert_decodes("", false, "", 0);
}
END_TEST

START_TEST(test_pct_decode_hex_either_case)
{
    assert_decodes("a%2Fb%2fc", false, "a/b/c", 5);
    assert_decodes("%41%4a%4A%7e", false, "AJJ~", 4);
    assert_decodes("100%25", false, "100%", 4);
}
END_TEST

START_TEST(test_pct_decode_plus_is_space_only_when_asked)
{
    assert_decodes("a+b", true, "a b", 3);
    assert_decodes("a+b", false, "a+b", 3);
    assert_decodes("a%2Bb", true, "a+b", 3); /* an encoded plus stays a plus */
}
END_TEST

START_TEST(test_pct_decode_rejects_bad_percent)
{
    assert_refused("%");
    assert_refused("a%");
    assert_refused("a%4");
    assert_refused("%G1");
    assert_refused("%1G");
    assert_refused("%%41");
    assert_refused("% 41");
}
END_TEST

/* %00 would decode to an embedded NUL, and every consumer compares C strings: "id%00x"
 * would match "id". It is refused (400) instead. */
START_TEST(test_pct_decode_rejects_encoded_nul)
{
    assert_refused("a%00b");
    assert_refused("%00");
}
END_TEST

START_TEST(test_pct_decode_rejects_invalid_utf8)
{
    assert_refused("%80");          /* lone continuation byte */
    assert_refused("a%BFb");        /* lone continuation byte */
    assert_refused("%C0%80");       /* overlong NUL */
    assert_refused("%C1%BF");       /* overlong */
    assert_refused("%E0%80%80");    /* overlong 3-byte */
    assert_refused("%F0%80%80%80"); /* overlong 4-byte */
    assert_refused("%ED%A0%80");    /* surrogate U+D800 */
    assert_refused("%ED%BF%BF");    /* surrogate U+DFFF */
    assert_refused("%F4%90%80%80"); /* U+110000 */
    assert_refused("%F5%80%80%80"); /* never a lead byte */
    assert_refused("%FF");          /* never a lead byte */
    assert_refused("%C3");          /* truncated 2-byte */
    assert_refused("%E3%83");       /* truncated 3-byte */
    assert_refused("%F0%9F%98");    /* truncated 4-byte */
    assert_refused("%E3%83x");      /* continuation replaced by ASCII */
    assert_refused("\xc3");         /* raw bytes are checked as well as decoded ones */
}
END_TEST

START_TEST(test_pct_decode_accepts_valid_utf8)
{
    assert_decodes("%C3%A9", false, "\xc3\xa9", 2);               /* U+00E9 */
    assert_decodes("%C2%80", false, "\xc2\x80", 2);               /* U+0080 */
    assert_decodes("%E3%83%95", false, "\xe3\x83\x95", 3);        /* U+30D5 */
    assert_decodes("%E0%A0%80", false, "\xe0\xa0\x80", 3);        /* U+0800 */
    assert_decodes("%ED%9F%BF", false, "\xed\x9f\xbf", 3);        /* U+D7FF */
    assert_decodes("%EE%80%80", false, "\xee\x80\x80", 3);        /* U+E000 */
    assert_decodes("%F0%9F%98%80", false, "\xf0\x9f\x98\x80", 4); /* U+1F600 */
    assert_decodes("%F4%8F%BF%BF", false, "\xf4\x8f\xbf\xbf", 4); /* U+10FFFF */
    assert_decodes("\xe3\x83\x95x", false, "\xe3\x83\x95x", 4);   /* raw */
    ck_assert(mr_utf8_valid("\xf0\x9f\x98\x80", 4));
    ck_assert(!mr_utf8_valid("\xf0\x9f\x98\x80", 3));
}
END_TEST

/* Parses s with room for max params; the arena outlives the call, the caller resets it. */
static int
parse(struct mr_arena *a, const char *s, int max, struct mr_param **p, size_t *n)
{
    return mr_query_parse(s, strlen(s), a, max, p, n);
}

START_TEST(test_query_empty_string_has_no_params)
{
    struct mr_arena a;
    struct mr_param *p;
    size_t n = 99;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(parse(&a, "", 4, &p, &n), 0);
    ck_assert_uint_eq(n, 0);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_query_two_params_in_order)
{
    struct mr_arena a;
    struct mr_param *p;
    size_t n;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(parse(&a, "a=1&b=2", 4, &p, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(p[0].name, "a");
    ck_assert_str_eq(p[0].value, "1");
    ck_assert_uint_eq(p[0].name_len, 1);
    ck_assert_uint_eq(p[0].value_len, 1);
    ck_assert_str_eq(p[1].name, "b");
    ck_assert_str_eq(p[1].value, "2");
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_query_name_without_value)
{
    struct mr_arena a;
    struct mr_param *p;
    size_t n;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(parse(&a, "a", 4, &p, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(p[0].name, "a");
    ck_assert_str_eq(p[0].value, "");
    ck_assert_uint_eq(p[0].value_len, 0);
    ck_assert_int_eq(parse(&a, "a=", 4, &p, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(p[0].name, "a");
    ck_assert_str_eq(p[0].value, "");
    ck_assert_int_eq(parse(&a, "=1", 4, &p, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(p[0].name, "");
    ck_assert_str_eq(p[0].value, "1");
    ck_assert_int_eq(parse(&a, "a=b=c", 4, &p, &n), 0); /* the first '=' splits */
    ck_assert_str_eq(p[0].value, "b=c");
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_query_skips_empty_pieces)
{
    struct mr_arena a;
    struct mr_param *p;
    size_t n;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(parse(&a, "&&a=1&&", 8, &p, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(p[0].name, "a");
    ck_assert_str_eq(p[0].value, "1");
    mr_arena_fini(&a);
}
END_TEST

/* The limit is on parameters; empty pieces are skipped, so they must not count against it.
 * "&&a=1&&" holds one parameter and must parse with max_params = 1; likewise "a=1&" (a
 * trailing '&', as some clients send) must parse with max_params = 1. */
START_TEST(test_query_limit_counts_params_not_separators)
{
    struct mr_arena a;
    struct mr_param *p;
    size_t n;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(parse(&a, "a=1&", 1, &p, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(parse(&a, "&&a=1&&", 1, &p, &n), 0);
    ck_assert_uint_eq(n, 1);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_query_decodes_names_and_values)
{
    struct mr_arena a;
    struct mr_param *p;
    size_t n;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(parse(&a, "first+name=J%C3%BCrgen+M&a%26b=1%3D2", 4, &p, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(p[0].name, "first name");
    ck_assert_str_eq(p[0].value, "J\xc3\xbcrgen M");
    ck_assert_uint_eq(p[0].value_len, 9); /* \xc3\xbc is two bytes */
    ck_assert_str_eq(p[1].name, "a&b");
    ck_assert_str_eq(p[1].value, "1=2");
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_query_max_params_is_e2big)
{
    struct mr_arena a;
    struct mr_param *p;
    size_t n;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(parse(&a, "a=1&b=2&c=3", 3, &p, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(parse(&a, "a=1&b=2&c=3&d=4", 3, &p, &n), -E2BIG);
    ck_assert_uint_eq(n, 0);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_query_rejects_bad_percent)
{
    struct mr_arena a;
    struct mr_param *p;
    size_t n;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(parse(&a, "a=1&b=%zz", 4, &p, &n), -EINVAL);
    ck_assert_int_eq(parse(&a, "a%=1", 4, &p, &n), -EINVAL);
    ck_assert_int_eq(parse(&a, "a=%C0%80", 4, &p, &n), -EINVAL);
    ck_assert_int_eq(parse(&a, "a=%ED%A0%80", 4, &p, &n), -EINVAL);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_query_past_arena_ceiling_is_enomem)
{
    struct mr_arena a;
    struct mr_param *p;
    size_t n;
    char big[2048];
    memset(big, 'x', sizeof(big) - 1);
    big[0] = 'a';
    big[1] = '=';
    big[sizeof(big) - 1] = '\0';
    mr_arena_init(&a, 256, 1024);
    ck_assert_int_eq(parse(&a, big, 4, &p, &n), -ENOMEM);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_form_content_type_check)
{
    ck_assert(mr_form_is_urlencoded("application/x-www-form-urlencoded"));
    ck_assert(mr_form_is_urlencoded("Application/X-WWW-Form-URLEncoded"));
    ck_assert(mr_form_is_urlencoded("application/x-www-form-urlencoded; charset=UTF-8"));
    ck_assert(mr_form_is_urlencoded(" application/x-www-form-urlencoded ;charset=utf-8"));
    ck_assert(!mr_form_is_urlencoded(NULL));
    ck_assert(!mr_form_is_urlencoded(""));
    ck_assert(!mr_form_is_urlencoded("application/x-www-form-urlencodedx"));
    ck_assert(!mr_form_is_urlencoded("application/json"));
    ck_assert(!mr_form_is_urlencoded("multipart/form-data; boundary=x"));
}
END_TEST

START_TEST(test_form_parse_body_like_a_query)
{
    struct mr_arena a;
    struct mr_form f;
    static const char body[] = "name=J%C3%BCrgen+M&tag=a&tag=b&&empty=&tag=c";
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(
        mr_form_parse(&f, "application/x-www-form-urlencoded", body, sizeof(body) - 1, &a, 8), 0);
    ck_assert_uint_eq(f.n, 5);
    ck_assert_str_eq(mr_form_get(&f, "name"), "J\xc3\xbcrgen M");
    ck_assert_str_eq(mr_form_get(&f, "tag"), "a");
    ck_assert_str_eq(mr_form_get(&f, "empty"), "");
    ck_assert_ptr_null(mr_form_get(&f, "nope"));
    ck_assert_ptr_null(mr_form_get(&f, "Name")); /* names are case-sensitive */
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_form_values_returns_every_repeat_in_order)
{
    struct mr_arena a;
    struct mr_form f;
    static const char body[] = "tag=a&x=1&tag=b&tag=c";
    const char *v[2] = {NULL, NULL};
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(
        mr_form_parse(&f, "application/x-www-form-urlencoded", body, sizeof(body) - 1, &a, 8), 0);
    ck_assert_uint_eq(mr_form_values(&f, "tag", v, 2), 3); /* all three counted */
    ck_assert_str_eq(v[0], "a");
    ck_assert_str_eq(v[1], "b");
    const char *all[4];
    ck_assert_uint_eq(mr_form_values(&f, "tag", all, 4), 3);
    ck_assert_str_eq(all[2], "c");
    ck_assert_uint_eq(mr_form_values(&f, "x", all, 4), 1);
    ck_assert_uint_eq(mr_form_values(&f, "none", all, 4), 0);
    ck_assert_uint_eq(mr_form_values(&f, "tag", NULL, 0), 3);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_form_parse_refusals)
{
    struct mr_arena a;
    struct mr_form f;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(mr_form_parse(&f, "application/json", "a=1", 3, &a, 8), -EMEDIUMTYPE);
    ck_assert_int_eq(mr_form_parse(&f, NULL, "a=1", 3, &a, 8), -EMEDIUMTYPE);
    ck_assert_uint_eq(f.n, 0);
    ck_assert_int_eq(
        mr_form_parse(&f, "application/x-www-form-urlencoded", "a=1&b=2&c=3", 11, &a, 2), -E2BIG);
    ck_assert_int_eq(mr_form_parse(&f, "application/x-www-form-urlencoded", "a=%zz", 5, &a, 8),
                     -EINVAL);
    ck_assert_int_eq(mr_form_parse(&f, "application/x-www-form-urlencoded", "a=%00", 5, &a, 8),
                     -EINVAL);
    ck_assert_int_eq(mr_form_parse(&f, "application/x-www-form-urlencoded", "a=%C0%80", 8, &a, 8),
                     -EINVAL);
    ck_assert_uint_eq(f.n, 0);
    ck_assert_ptr_null(mr_form_get(&f, "a"));
    /* An empty or absent body is an empty form, not an error. */
    ck_assert_int_eq(mr_form_parse(&f, "application/x-www-form-urlencoded", NULL, 0, &a, 8), 0);
    ck_assert_uint_eq(f.n, 0);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_form_body_past_arena_ceiling_is_enomem)
{
    struct mr_arena a;
    struct mr_form f;
    char big[4096];
    memset(big, 'v', sizeof(big));
    big[0] = 'k';
    big[1] = '=';
    mr_arena_init(&a, 256, 1024);
    ck_assert_int_eq(
        mr_form_parse(&f, "application/x-www-form-urlencoded", big, sizeof(big), &a, 8), -ENOMEM);
    mr_arena_fini(&a);
}
END_TEST

Suite *
form_suite(void)
{
    Suite *s = suite_create("form");
    TCase *pct = tcase_create("pct_decode");
    tcase_add_test(pct, test_pct_decode_plain);
    tcase_add_test(pct, test_pct_decode_hex_either_case);
    tcase_add_test(pct, test_pct_decode_plus_is_space_only_when_asked);
    tcase_add_test(pct, test_pct_decode_rejects_bad_percent);
    tcase_add_test(pct, test_pct_decode_rejects_encoded_nul);
    tcase_add_test(pct, test_pct_decode_rejects_invalid_utf8);
    tcase_add_test(pct, test_pct_decode_accepts_valid_utf8);
    suite_add_tcase(s, pct);
    TCase *query = tcase_create("query");
    tcase_add_test(query, test_query_empty_string_has_no_params);
    tcase_add_test(query, test_query_two_params_in_order);
    tcase_add_test(query, test_query_name_without_value);
    tcase_add_test(query, test_query_skips_empty_pieces);
    tcase_add_test(query, test_query_limit_counts_params_not_separators);
    tcase_add_test(query, test_query_decodes_names_and_values);
    tcase_add_test(query, test_query_max_params_is_e2big);
    tcase_add_test(query, test_query_rejects_bad_percent);
    tcase_add_test(query, test_query_past_arena_ceiling_is_enomem);
    suite_add_tcase(s, query);
    TCase *body = tcase_create("body");
    tcase_add_test(body, test_form_content_type_check);
    tcase_add_test(body, test_form_parse_body_like_a_query);
    tcase_add_test(body, test_form_values_returns_every_repeat_in_order);
    tcase_add_test(body, test_form_parse_refusals);
    tcase_add_test(body, test_form_body_past_arena_ceiling_is_enomem);
    suite_add_tcase(s, body);
    return s;
}
