/* SPDX-License-Identifier: BSD-2-Clause */
/* test_module: what a generation of workers serves, without loading a shared object: the
 * built-in application with millrace's own routes (routes, router, templates and inputs all
 * compile), the status process's table, and the refusals of a table, each naming its rows. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/module/module.h"
#include "handlers/handlers.h"
#include "tests/unit/suites.h"

static int
nothing(struct mr_ctx *ctx)
{
    (void)ctx;
    return 0;
}

START_TEST(test_module_builtin_application_compiles)
{
    struct mr_served s;
    struct mr_err err = {{0}};
    ck_assert_msg(mr_served_open("", mr_techempower_app(), mr_ops_table, mr_ops_count, &s, &err) ==
                      0,
                  "%s", err.msg);
    ck_assert_ptr_null(s.module);
    ck_assert_ptr_nonnull(s.router);
    ck_assert_ptr_nonnull(s.templates);
    ck_assert_ptr_nonnull(mr_tpl_get(s.templates, "fortunes"));
    ck_assert_uint_eq(s.n_routes, mr_techempower_app()->n_routes + mr_ops_count);
    ck_assert_str_eq(s.routes[0].pattern, "/plaintext"); /* the application's rows first */
    mr_served_close(&s);
    ck_assert_ptr_null(s.routes);
    struct mr_router *r = NULL;
    ck_assert_msg(mr_routes_compile(mr_status_table, mr_status_count, &r, &err) == 0, "%s",
                  err.msg);
    mr_router_free(&r);
}
END_TEST

static int
served_error(const struct mr_route *routes, size_t n, const struct mr_route *own, size_t n_own,
             struct mr_err *err)
{
    struct mr_app app = {
        .api_version = MR_API_VERSION, .name = "t", .routes = routes, .n_routes = n};
    struct mr_served s;
    int rc = mr_served_open("", &app, own, n_own, &s, err);
    if (rc == 0)
        mr_served_close(&s);
    return rc;
}

START_TEST(test_module_refusals_name_the_rows)
{
    struct mr_err err = {{0}};
    const struct mr_route own[] = {MR_ROUTE("GET", "/metrics", nothing)};
    const struct mr_route taken[] = {MR_ROUTE("GET", "/metrics", nothing)};
    ck_assert_int_eq(served_error(taken, 1, own, 1, &err), -EINVAL);
    ck_assert_msg(strstr(err.msg, "GET /metrics (route 1 of the application) conflicts with "
                                  "GET /metrics (served by millrace itself)") != NULL,
                  "%s", err.msg);
    const struct mr_route shape[] = {MR_ROUTE("GET", "/u/{id}", nothing),
                                     MR_ROUTE("GET", "/u/{name}", nothing)};
    ck_assert_int_eq(served_error(shape, 2, NULL, 0, &err), -EINVAL);
    ck_assert_msg(strstr(err.msg, "GET /u/{id}") != NULL && strstr(err.msg, "GET /u/{name}"), "%s",
                  err.msg);
    const struct mr_route head[] = {MR_ROUTE("HEAD", "/x", nothing)};
    ck_assert_int_eq(served_error(head, 1, NULL, 0, &err), -EINVAL);
    ck_assert_msg(strstr(err.msg, "HEAD is answered by the GET row") != NULL, "%s", err.msg);
    const struct mr_route nohandler[] = {MR_ROUTE("GET", "/x", NULL)};
    ck_assert_int_eq(served_error(nohandler, 1, NULL, 0, &err), -EINVAL);
    const struct mr_input bad[] = {MR_IN_INT("n", MR_FROM_QUERY, 5, 1, MR_REQUIRED), MR_IN_END};
    const struct mr_route inputs[] = {MR_ROUTE("GET", "/x", nothing, .inputs = bad)};
    ck_assert_int_eq(served_error(inputs, 1, NULL, 0, &err), -EINVAL);
    ck_assert_msg(strstr(err.msg, "GET /x: ") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_module_template_errors_refuse)
{
    static const struct mr_template bad[] = {{"page", "<p>\n{{#open}}\n"}};
    const struct mr_route routes[] = {MR_ROUTE("GET", "/x", nothing)};
    struct mr_app app = {.api_version = MR_API_VERSION,
                         .name = "t",
                         .routes = routes,
                         .n_routes = 1,
                         .templates = bad,
                         .n_templates = 1};
    struct mr_served s;
    struct mr_err err = {{0}};
    ck_assert_int_eq(mr_served_open("", &app, NULL, 0, &s, &err), -EINVAL);
    ck_assert_msg(strstr(err.msg, "page:2") != NULL, "%s", err.msg);
}
END_TEST

START_TEST(test_module_open_refuses_what_is_not_a_module)
{
    struct mr_module *m = NULL;
    struct mr_err err = {{0}};
    ck_assert_int_lt(mr_module_open("/nonexistent/site.so", &m, &err), 0);
    ck_assert_msg(strstr(err.msg, "/nonexistent/site.so: cannot open") != NULL, "%s", err.msg);
    /* A file that is not a shared object: the loader's reason, under the file's own name. */
    char path[] = "/tmp/mr-test-not-a-module-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "not an ELF file\n", 16), 16);
    (void)close(fd);
    ck_assert_int_eq(mr_module_open(path, &m, &err), -EINVAL);
    (void)unlink(path);
    ck_assert_ptr_null(m);
    ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0 && strstr(err.msg, "/proc/") == NULL,
                  "%s", err.msg);
}
END_TEST

Suite *
module_suite(void)
{
    Suite *s = suite_create("module");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_module_builtin_application_compiles);
    tcase_add_test(tc, test_module_refusals_name_the_rows);
    tcase_add_test(tc, test_module_template_errors_refuse);
    tcase_add_test(tc, test_module_open_refuses_what_is_not_a_module);
    suite_add_tcase(s, tc);
    return s;
}
