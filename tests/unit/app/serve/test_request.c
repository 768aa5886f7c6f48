/* SPDX-License-Identifier: BSD-2-Clause */
/* test_request: percent-decoding and UTF-8 validation, query-string parsing, and mr_req_parse
 * over synthetic FastCGI params (the envp libfcgi hands the worker), including every input
 * limit and the HTTP status it earns. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/serve/request.h"
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

static const struct mr_req_limits limits = {
    .max_params = 16,
    .max_params_bytes = 1024,
    .max_query_bytes = 64,
    .max_query_params = 4,
    .max_header_bytes = 32,
    .max_body_bytes = 1024,
};

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

/* Runs mr_req_parse over envp with the limits above; the arena is the caller's. */
static int
req_parse(struct mr_req *r, char *const *envp, struct mr_arena *a, struct mr_err *err)
{
    err->msg[0] = '\0';
    return mr_req_parse(r, envp, a, &limits, err);
}

START_TEST(test_req_parse_basic_get)
{
    char *envp[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=/json", "QUERY_STRING=queries=5", NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 0);
    ck_assert_str_eq(r.method, "GET");
    ck_assert(!r.is_head);
    ck_assert_uint_eq(r.path_len, 5);
    ck_assert_mem_eq(r.path, "/json", 5);
    ck_assert_str_eq(r.query_string, "queries=5");
    ck_assert_uint_eq(r.n_query, 1);
    ck_assert_str_eq(mr_req_query(&r, "queries"), "5");
    ck_assert_ptr_null(mr_req_query(&r, "querie"));
    ck_assert_ptr_null(mr_req_query(&r, "queries5"));
    ck_assert_str_eq(r.request_id, "-");
    ck_assert_int_eq(r.content_length, -1);
    ck_assert_ptr_null(r.body);
    ck_assert_str_eq(mr_req_param(&r, "REQUEST_METHOD"), "GET");
    ck_assert_ptr_null(mr_req_param(&r, "REQUEST"));
    ck_assert_ptr_null(mr_req_param(&r, "REMOTE_ADDR"));
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_head_and_request_id)
{
    char *envp[] = {"REQUEST_METHOD=HEAD", "DOCUMENT_URI=/plaintext", "REQUEST_ID=9f2c0a", NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 0);
    ck_assert(r.is_head);
    ck_assert_str_eq(r.request_id, "9f2c0a");
    ck_assert_str_eq(r.query_string, "");
    ck_assert_uint_eq(r.n_query, 0);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_path_from_request_uri_stops_at_query)
{
    char *envp[] = {"REQUEST_METHOD=GET", "REQUEST_URI=/queries?queries=20", NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 0);
    ck_assert_uint_eq(r.path_len, 8);
    ck_assert_mem_eq(r.path, "/queries", 8);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_document_uri_wins_over_request_uri)
{
    char *envp[] = {"REQUEST_URI=/a?x=1", "DOCUMENT_URI=/b", NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 0);
    ck_assert_uint_eq(r.path_len, 2);
    ck_assert_mem_eq(r.path, "/b", 2);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_content_length)
{
    char *ok[] = {"REQUEST_METHOD=POST", "DOCUMENT_URI=/x", "CONTENT_LENGTH=42", NULL};
    char *empty[] = {"REQUEST_METHOD=GET", "CONTENT_LENGTH=", NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, ok, &a, &err), 0);
    ck_assert_int_eq(r.content_length, 42);
    ck_assert_int_eq(req_parse(&r, empty, &a, &err), 0);
    ck_assert_int_eq(r.content_length, -1);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_bad_content_length_is_400)
{
    static const char *bad[] = {"CONTENT_LENGTH=abc", "CONTENT_LENGTH=-1", "CONTENT_LENGTH=12x",
                                "CONTENT_LENGTH=99999999999999999999999"};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *envp[] = {"REQUEST_METHOD=POST", (char *)bad[i], NULL};
        ck_assert_msg(req_parse(&r, envp, &a, &err) == 400, "%s not refused", bad[i]);
        ck_assert_str_eq(err.msg, "bad CONTENT_LENGTH");
    }
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_too_many_params_is_431)
{
    char *envp[18];
    char names[17][16];
    for (int i = 0; i < 17; i++) {
        (void)snprintf(names[i], sizeof(names[i]), "P%d=v", i);
        envp[i] = names[i];
    }
    envp[17] = NULL;
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 431); /* 17 > 16 */
    envp[16] = NULL;
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 0); /* exactly 16 */
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_params_bytes_is_431)
{
    char h1[600], h2[600];
    (void)snprintf(h1, sizeof(h1), "A=%0590d", 0);
    (void)snprintf(h2, sizeof(h2), "B=%0590d", 0);
    char *envp[] = {"REQUEST_METHOD=GET", h1, h2, NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 431); /* 18 + 592 + 592 > 1024 */
    envp[2] = NULL;
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 0);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_long_header_is_431)
{
    /* max_header_bytes = 32 bytes of value. */
    char *at_limit[] = {"HTTP_X_A=01234567890123456789012345678901", NULL};
    char *over[] = {"HTTP_X_A=012345678901234567890123456789012", NULL};
    char *not_header[] = {"SCRIPT_NAME=012345678901234567890123456789012", NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, at_limit, &a, &err), 0);
    ck_assert_int_eq(req_parse(&r, over, &a, &err), 431);
    ck_assert_ptr_nonnull(strstr(err.msg, "HTTP_X_A"));
    ck_assert_int_eq(req_parse(&r, not_header, &a, &err), 0);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_long_query_is_414)
{
    char q[128];
    /* max_query_bytes = 64: "QUERY_STRING=" + 64 bytes passes, 65 does not. */
    (void)snprintf(q, sizeof(q), "QUERY_STRING=a=%062d", 0);
    char *envp[] = {"REQUEST_METHOD=GET", q, NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 0);
    (void)snprintf(q, sizeof(q), "QUERY_STRING=a=%063d", 0);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 414);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_too_many_query_params_is_400)
{
    char *four[] = {"QUERY_STRING=a=1&b=2&c=3&d=4", NULL};
    char *five[] = {"QUERY_STRING=a=1&b=2&c=3&d=4&e=5", NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, four, &a, &err), 0);
    ck_assert_uint_eq(r.n_query, 4);
    ck_assert_int_eq(req_parse(&r, five, &a, &err), 400);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_bad_percent_is_400)
{
    char *envp[] = {"REQUEST_METHOD=GET", "QUERY_STRING=queries=%G1", NULL};
    char *utf8[] = {"REQUEST_METHOD=GET", "QUERY_STRING=q=%ED%A0%80", NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 400);
    ck_assert_int_eq(req_parse(&r, utf8, &a, &err), 400);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_query_returns_first_of_repeated_names)
{
    char *envp[] = {"QUERY_STRING=id=1&id=2&x=%41", NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 0);
    ck_assert_uint_eq(r.n_query, 3);
    ck_assert_str_eq(mr_req_query(&r, "id"), "1");
    ck_assert_str_eq(mr_req_query(&r, "x"), "A");
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_header_maps_to_http_param)
{
    char *envp[] = {"HTTP_X_FORWARDED_FOR=203.0.113.7", "HTTP_HOST=example.com", NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 0);
    ck_assert_str_eq(mr_req_header(&r, "X-Forwarded-For"), "203.0.113.7");
    ck_assert_str_eq(mr_req_header(&r, "x-forwarded-for"), "203.0.113.7");
    ck_assert_str_eq(mr_req_header(&r, "Host"), "example.com");
    ck_assert_ptr_null(mr_req_header(&r, "X-Forwarded"));
    ck_assert_ptr_null(mr_req_header(&r, "Cookie"));
    /* A name too long for any header buffer is absent, not a crash. */
    char longname[300];
    memset(longname, 'A', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    ck_assert_ptr_null(mr_req_header(&r, longname));
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_req_parse_defaults_without_params)
{
    char *envp[] = {NULL};
    struct mr_arena a;
    struct mr_req r;
    struct mr_err err;
    mr_arena_init(&a, 1024, 8192);
    ck_assert_int_eq(req_parse(&r, envp, &a, &err), 0);
    ck_assert_str_eq(r.method, "");
    ck_assert_uint_eq(r.path_len, 1);
    ck_assert_mem_eq(r.path, "/", 1);
    ck_assert_str_eq(r.request_id, "-");
    mr_arena_fini(&a);
}
END_TEST

Suite *
request_suite(void)
{
    Suite *s = suite_create("request");
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
    TCase *req = tcase_create("parse");
    tcase_add_test(req, test_req_parse_basic_get);
    tcase_add_test(req, test_req_parse_head_and_request_id);
    tcase_add_test(req, test_req_parse_path_from_request_uri_stops_at_query);
    tcase_add_test(req, test_req_parse_document_uri_wins_over_request_uri);
    tcase_add_test(req, test_req_parse_content_length);
    tcase_add_test(req, test_req_parse_bad_content_length_is_400);
    tcase_add_test(req, test_req_parse_too_many_params_is_431);
    tcase_add_test(req, test_req_parse_params_bytes_is_431);
    tcase_add_test(req, test_req_parse_long_header_is_431);
    tcase_add_test(req, test_req_parse_long_query_is_414);
    tcase_add_test(req, test_req_parse_too_many_query_params_is_400);
    tcase_add_test(req, test_req_parse_bad_percent_is_400);
    tcase_add_test(req, test_req_query_returns_first_of_repeated_names);
    tcase_add_test(req, test_req_header_maps_to_http_param);
    tcase_add_test(req, test_req_parse_defaults_without_params);
    suite_add_tcase(s, req);
    return s;
}
