/* SPDX-License-Identifier: BSD-2-Clause */
/* test_log: logfmt quoting (bare when safe, else quoted and escaped, always inside the
 * buffer and NUL-terminated) and level names. */
#include <errno.h>
#include <string.h>

#include "app/lib/log.h"
#include "tests/unit/suites.h"

static void
assert_quotes(const char *in, const char *want)
{
    char dst[128];
    ck_assert_ptr_eq(mr_log_quote(dst, sizeof(dst), in), dst);
    ck_assert_str_eq(dst, want);
}

START_TEST(test_log_quote_leaves_bare_values)
{
    assert_quotes("abc", "abc");
    assert_quotes("/updates?queries=5", "\"/updates?queries=5\""); /* '=' must be quoted */
    assert_quotes("/updates", "/updates");
    assert_quotes("127.0.0.1:9000", "127.0.0.1:9000");
    assert_quotes("9f2c0a-1", "9f2c0a-1");
    assert_quotes("\xe3\x83\x95", "\xe3\x83\x95"); /* UTF-8 is not a control byte */
}
END_TEST

START_TEST(test_log_quote_quotes_and_escapes)
{
    assert_quotes("", "\"\"");
    assert_quotes("primary unavailable", "\"primary unavailable\"");
    assert_quotes("say \"hi\"", "\"say \\\"hi\\\"\"");
    assert_quotes("a\\b", "\"a\\\\b\"");
    assert_quotes("line1\nline2", "\"line1\\nline2\"");
    assert_quotes("a\rb\tc", "\"a\\rb\\tc\"");
    assert_quotes("k=v", "\"k=v\"");
    assert_quotes("\x01", "\"\\x01\"");
    assert_quotes("a\037b", "\"a\\x1fb\"");
    assert_quotes("\x7f", "\"\\x7f\"");
    assert_quotes("\x1b[31mred", "\"\\x1b[31mred\"");
}
END_TEST

/* Every cap from 0 up: nothing written past cap, always terminated (cap > 0), and a quoted
 * value keeps both quotes and never ends inside an escape. */
START_TEST(test_log_quote_truncates_within_cap)
{
    static const char *inputs[] = {
        "plain-value-that-is-long-enough-to-truncate",
        "a value with spaces and \"quotes\" and \\backslashes\\ and more",
        "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13",
        "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
        "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"",
    };
    for (size_t k = 0; k < sizeof(inputs) / sizeof(inputs[0]); k++) {
        for (size_t cap = 0; cap < 80; cap++) {
            char dst[96];
            memset(dst, 'Z', sizeof(dst));
            mr_log_quote(dst, cap, inputs[k]);
            for (size_t i = cap; i < sizeof(dst); i++)
                ck_assert_msg(dst[i] == 'Z', "input %zu cap %zu: byte %zu written", k, cap, i);
            if (cap == 0)
                continue;
            size_t n = strnlen(dst, cap);
            ck_assert_msg(n < cap, "input %zu cap %zu: not terminated", k, cap);
            if (k == 0 || n < 2)
                continue;
            ck_assert_int_eq(dst[0], '"');
            ck_assert_int_eq(dst[n - 1], '"');
            size_t bs = 0; /* backslashes right before the closing quote */
            while (bs < n - 2 && dst[n - 2 - bs] == '\\')
                bs++;
            ck_assert_msg(bs % 2 == 0, "input %zu cap %zu: ends inside an escape: %s", k, cap, dst);
        }
    }
}
END_TEST

START_TEST(test_log_quote_fits_untruncated_when_room)
{
    char dst[16];
    mr_log_quote(dst, sizeof(dst), "a b");
    ck_assert_str_eq(dst, "\"a b\"");
    mr_log_quote(dst, 4, "abcdef");
    ck_assert_str_eq(dst, "abc");
}
END_TEST

START_TEST(test_log_level_parse_names)
{
    enum mr_log_level l = MR_LOG_INFO;
    ck_assert_int_eq(mr_log_level_parse("err", &l), 0);
    ck_assert_int_eq(l, MR_LOG_ERR);
    ck_assert_int_eq(mr_log_level_parse("warning", &l), 0);
    ck_assert_int_eq(l, MR_LOG_WARNING);
    ck_assert_int_eq(mr_log_level_parse("info", &l), 0);
    ck_assert_int_eq(l, MR_LOG_INFO);
    ck_assert_int_eq(mr_log_level_parse("debug", &l), 0);
    ck_assert_int_eq(l, MR_LOG_DEBUG);
}
END_TEST

START_TEST(test_log_level_parse_refuses_others)
{
    static const char *bad[] = {"", "warn", "error", "INFO", "debug ", "notice", "7"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum mr_log_level l = MR_LOG_DEBUG;
        ck_assert_msg(mr_log_level_parse(bad[i], &l) == -EINVAL, "\"%s\" accepted", bad[i]);
        ck_assert_int_eq(l, MR_LOG_DEBUG); /* untouched on error */
    }
}
END_TEST

Suite *
log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, test_log_quote_leaves_bare_values);
    tcase_add_test(tc, test_log_quote_quotes_and_escapes);
    tcase_add_test(tc, test_log_quote_truncates_within_cap);
    tcase_add_test(tc, test_log_quote_fits_untruncated_when_room);
    tcase_add_test(tc, test_log_level_parse_names);
    tcase_add_test(tc, test_log_level_parse_refuses_others);
    suite_add_tcase(s, tc);
    return s;
}
