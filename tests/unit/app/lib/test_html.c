/* SPDX-License-Identifier: BSD-2-Clause */
/* test_html: the five escaped characters, text that needs none, and the Fortunes row that
 * TechEmpower's verifier checks. */
#include <string.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/lib/html.h"
#include "tests/unit/suites.h"

static void
assert_escapes(const char *in, size_t len, const char *want)
{
    struct mr_arena a;
    struct mr_buf b;
    mr_arena_init(&a, 4096, 1 << 20);
    mr_buf_init(&b, &a, 8);
    mr_html_escape(&b, in, len);
    const char *out = mr_buf_cstr(&b);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, want);
    ck_assert_uint_eq(b.len, strlen(want));
    mr_arena_fini(&a);
}

START_TEST(test_html_escapes_each_special_character)
{
    assert_escapes("&", 1, "&amp;");
    assert_escapes("<", 1, "&lt;");
    assert_escapes(">", 1, "&gt;");
    assert_escapes("\"", 1, "&quot;");
    assert_escapes("'", 1, "&#39;");
    assert_escapes("a&b<c>d\"e'f", 11, "a&amp;b&lt;c&gt;d&quot;e&#39;f");
    assert_escapes("&&", 2, "&amp;&amp;");
    assert_escapes("&amp;", 5, "&amp;amp;"); /* already-escaped text is escaped again */
}
END_TEST

START_TEST(test_html_leaves_safe_text_unchanged)
{
    assert_escapes("", 0, "");
    assert_escapes("A computer scientist is someone who fixes things that aren't broken.", 27,
                   "A computer scientist is som");
    assert_escapes("fortune: No such file or directory", 34, "fortune: No such file or directory");
    assert_escapes("フレームワークのベンチマーク", strlen("フレームワークのベンチマーク"),
                   "フレームワークのベンチマーク");
}
END_TEST

START_TEST(test_html_escapes_techempower_script_row)
{
    static const char row[] = "<script>alert(\"This should not be displayed in a browser alert "
                              "box.\");</script>";
    assert_escapes(row, sizeof(row) - 1,
                   "&lt;script&gt;alert(&quot;This should not be displayed in a browser alert "
                   "box.&quot;);&lt;/script&gt;");
}
END_TEST

START_TEST(test_html_stops_at_len)
{
    assert_escapes("a<b<c", 3, "a&lt;b");
    assert_escapes("<<<<", 2, "&lt;&lt;");
}
END_TEST

Suite *
html_suite(void)
{
    Suite *s = suite_create("html");
    TCase *tc = tcase_create("escape");
    tcase_add_test(tc, test_html_escapes_each_special_character);
    tcase_add_test(tc, test_html_leaves_safe_text_unchanged);
    tcase_add_test(tc, test_html_escapes_techempower_script_row);
    tcase_add_test(tc, test_html_stops_at_len);
    suite_add_tcase(s, tc);
    return s;
}
