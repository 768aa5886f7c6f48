/* SPDX-License-Identifier: BSD-2-Clause */
/* test_request: mr_req_parse over synthetic FastCGI params (the envp libfcgi hands the
 * worker), including every input limit and the HTTP status it earns. The urlencoded codec
 * it calls is tested in test_form.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/serve/request.h"
#include "tests/unit/suites.h"

static const struct mr_req_limits limits = {
    .max_params = 16,
    .max_params_bytes = 1024,
    .max_query_bytes = 64,
    .max_query_params = 4,
    .max_header_bytes = 32,
    .max_body_bytes = 1024,
};

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
