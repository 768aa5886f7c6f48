/* SPDX-License-Identifier: BSD-2-Clause */
/* test_response: millrace.h's request and response calls on a request parsed from hand-made
 * FastCGI params: repeated query keys, headers CGI passes unprefixed, the status clamp, header
 * refusals, redirects, and ETag / If-None-Match (weak tags, lists, "*", malformed lists). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/include/millrace.h"
#include "app/serve/ctx.h"
#include "tests/unit/suites.h"

static const struct mr_req_limits limits = {
    .max_params = 32,
    .max_params_bytes = 4096,
    .max_query_bytes = 1024,
    .max_query_params = 16,
    .max_header_bytes = 1024,
    .max_body_bytes = 1024,
};

struct fixture {
    struct mr_arena arena;
    struct mr_ctx ctx;
    char qs[512];
    char extra[256];
    char *envp[8]; /* the request keeps pointers into these */
};

/* A GET of uri (with its query string) and, when not NULL, an extra "NAME=value" param. */
static void
setup(struct fixture *f, const char *query, const char *extra)
{
    memset(f, 0, sizeof(*f));
    mr_arena_init(&f->arena, 4096, 1 << 20);
    snprintf(f->qs, sizeof(f->qs), "QUERY_STRING=%s", query);
    snprintf(f->extra, sizeof(f->extra), "%s", extra != NULL ? extra : "X_NONE=1");
    char *envp[] = {"REQUEST_METHOD=GET",
                    "DOCUMENT_URI=/page",
                    f->qs,
                    "CONTENT_TYPE=text/plain",
                    f->extra,
                    NULL};
    memcpy(f->envp, envp, sizeof(envp));
    f->ctx.arena = &f->arena;
    struct mr_err err;
    ck_assert_int_eq(mr_req_parse(&f->ctx.req, f->envp, &f->arena, &limits, &err), 0);
    mr_resp_init(&f->ctx.resp, &f->arena);
}

static void
teardown(struct fixture *f)
{
    mr_arena_fini(&f->arena);
}

static bool
has_header(struct fixture *f, const char *line)
{
    struct mr_buf *h = &f->ctx.resp.headers;
    return memmem(h->data, h->len, line, strlen(line)) != NULL;
}

START_TEST(test_api_query_keeps_repeated_keys)
{
    struct fixture f;
    setup(&f, "tag=a&x=1&tag=b%20c&tag=", NULL);
    ck_assert_str_eq(mr_query(&f.ctx, "tag"), "a");
    ck_assert_str_eq(mr_query_at(&f.ctx, "tag", 1), "b c");
    ck_assert_str_eq(mr_query_at(&f.ctx, "tag", 2), "");
    ck_assert_ptr_null(mr_query_at(&f.ctx, "tag", 3));
    ck_assert_ptr_null(mr_query(&f.ctx, "nope"));
    teardown(&f);
}
END_TEST

START_TEST(test_api_headers_and_request_facts)
{
    struct fixture f;
    setup(&f, "", "HTTP_USER_AGENT=curl/8");
    ck_assert_str_eq(mr_header(&f.ctx, "user-agent"), "curl/8");
    ck_assert_str_eq(mr_header(&f.ctx, "Content-Type"), "text/plain");
    ck_assert_ptr_null(mr_header(&f.ctx, "X-Missing"));
    ck_assert_str_eq(mr_method(&f.ctx), "GET");
    size_t len;
    ck_assert_str_eq(mr_path(&f.ctx, &len), "/page");
    ck_assert_uint_eq(len, 5);
    ck_assert_str_eq(mr_request_id(&f.ctx), "-");
    ck_assert(!mr_is_https(&f.ctx));
    ck_assert_str_eq(mr_remote_addr(&f.ctx), "");
    ck_assert_ptr_null(mr_body(&f.ctx, &len));
    ck_assert_uint_eq(len, 0);
    teardown(&f);
    setup(&f, "", "HTTPS=on");
    ck_assert(mr_is_https(&f.ctx));
    teardown(&f);
}
END_TEST

START_TEST(test_api_status_and_headers_are_checked)
{
    struct fixture f;
    setup(&f, "", NULL);
    mr_set_status(&f.ctx, 201);
    ck_assert_int_eq(f.ctx.resp.status, 201);
    mr_set_status(&f.ctx, 42);
    ck_assert_int_eq(f.ctx.resp.status, 500);
    ck_assert_int_eq(mr_add_header(&f.ctx, "X-Ok", "yes"), 0);
    ck_assert(has_header(&f, "X-Ok: yes\r\n"));
    ck_assert_int_eq(mr_add_header(&f.ctx, "Bad Name", "v"), -EINVAL);
    ck_assert_int_eq(mr_add_header(&f.ctx, "", "v"), -EINVAL);
    ck_assert_int_eq(mr_add_header(&f.ctx, "X-Split", "a\r\nSet-Cookie: x=1"), -EINVAL);
    ck_assert(!has_header(&f, "Set-Cookie"));
    teardown(&f);
}
END_TEST

START_TEST(test_api_redirect)
{
    struct fixture f;
    setup(&f, "", NULL);
    ck_assert_int_eq(mr_redirect(&f.ctx, 200, "/x"), -EINVAL);
    ck_assert_int_eq(mr_redirect(&f.ctx, 303, "/x\n"), -EINVAL);
    ck_assert_int_eq(f.ctx.resp.status, 200);
    ck_assert_int_eq(mr_redirect(&f.ctx, 303, "/thanks"), 0);
    ck_assert_int_eq(f.ctx.resp.status, 303);
    ck_assert(has_header(&f, "Location: /thanks\r\n"));
    teardown(&f);
}
END_TEST

/* mr_etag with If-None-Match `inm` (NULL: no header); returns whether it answered 304. */
static bool
etag(const char *inm, const char *tag)
{
    struct fixture f;
    char param[256];
    snprintf(param, sizeof(param), "HTTP_IF_NONE_MATCH=%s", inm != NULL ? inm : "");
    setup(&f, "", inm != NULL ? param : NULL);
    mr_write(&f.ctx, "body", 4);
    bool is_304 = mr_etag(&f.ctx, tag);
    ck_assert_int_eq(f.ctx.resp.status, is_304 ? 304 : 200);
    ck_assert_uint_eq(f.ctx.resp.body.len, is_304 ? 0 : 4);
    char line[64];
    snprintf(line, sizeof(line), "ETag: \"%s\"\r\n", tag);
    bool tagged = has_header(&f, line);
    teardown(&f);
    return is_304 && tagged;
}

START_TEST(test_api_etag_if_none_match)
{
    ck_assert(!etag(NULL, "v1"));
    ck_assert(etag("\"v1\"", "v1"));
    ck_assert(etag("W/\"v1\"", "v1"));
    ck_assert(etag("\"v0\", \"v1\"", "v1"));
    ck_assert(etag("*", "v1"));
    ck_assert(!etag("\"v2\"", "v1"));
    ck_assert(!etag("\"v1", "v1"));    /* unterminated */
    ck_assert(!etag("v1", "v1"));      /* not quoted */
    ck_assert(!etag("\"v10\"", "v1")); /* a prefix is not the tag */
    ck_assert(!etag("", "v1"));
}
END_TEST

START_TEST(test_api_etag_refuses_unsafe_tags)
{
    struct fixture f;
    setup(&f, "", "HTTP_IF_NONE_MATCH=*");
    ck_assert(!mr_etag(&f.ctx, "a\"b"));
    ck_assert(!mr_etag(&f.ctx, "a b"));
    ck_assert(!has_header(&f, "ETag"));
    ck_assert_int_eq(f.ctx.resp.status, 200);
    teardown(&f);
}
END_TEST

Suite *
api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_api_query_keeps_repeated_keys);
    tcase_add_test(tc, test_api_headers_and_request_facts);
    tcase_add_test(tc, test_api_status_and_headers_are_checked);
    tcase_add_test(tc, test_api_redirect);
    tcase_add_test(tc, test_api_etag_if_none_match);
    tcase_add_test(tc, test_api_etag_refuses_unsafe_tags);
    suite_add_tcase(s, tc);
    return s;
}
