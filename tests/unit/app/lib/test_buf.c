/* SPDX-License-Identifier: BSD-2-Clause */
/* test_buf: growth inside the arena, printf and integer formatting, and the `failed` state a
 * buffer enters past the arena's ceiling, after which it ignores appends. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "tests/unit/suites.h"

START_TEST(test_buf_append_grows)
{
    struct mr_arena a;
    struct mr_buf b;
    mr_arena_init(&a, 1024, 1 << 20);
    mr_buf_init(&b, &a, 4);
    for (int i = 0; i < 1000; i++)
        mr_buf_putc(&b, (char)('a' + i % 26));
    mr_buf_append(&b, "0123456789", 10);
    mr_buf_puts(&b, "end");
    ck_assert(!b.failed);
    ck_assert_uint_eq(b.len, 1013);
    ck_assert_uint_ge(b.cap, b.len);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(b.data[i], 'a' + i % 26);
    ck_assert_mem_eq(b.data + 1000, "0123456789end", 13);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_buf_zero_initial_cap_defaults)
{
    struct mr_arena a;
    struct mr_buf b;
    mr_arena_init(&a, 1024, 1 << 20);
    mr_buf_init(&b, &a, 0);
    ck_assert(!b.failed);
    ck_assert_uint_eq(b.cap, 64);
    mr_buf_append(&b, "", 0);
    ck_assert_str_eq(mr_buf_cstr(&b), "");
    ck_assert_uint_eq(b.len, 0);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_buf_printf_short_and_long)
{
    struct mr_arena a;
    struct mr_buf b;
    char big[600];
    mr_arena_init(&a, 1024, 1 << 20);
    mr_buf_init(&b, &a, 8);
    mr_buf_printf(&b, "%s=%d;", "id", 42);
    ck_assert_str_eq(mr_buf_cstr(&b), "id=42;");
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mr_buf_printf(&b, "[%s]", big);
    ck_assert_uint_eq(b.len, 6 + 2 + 599);
    const char *s = mr_buf_cstr(&b);
    ck_assert_int_eq(s[6], '[');
    ck_assert_int_eq(s[7], 'x');
    ck_assert_int_eq(s[605], 'x');
    ck_assert_int_eq(s[606], ']');
    ck_assert_int_eq(s[607], '\0');
    mr_buf_printf(&b, "%s", "");
    ck_assert_uint_eq(b.len, 607);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_buf_int_formats)
{
    struct mr_arena a;
    struct mr_buf b;
    mr_arena_init(&a, 1024, 1 << 20);
    mr_buf_init(&b, &a, 2);
    mr_buf_int(&b, 0);
    mr_buf_putc(&b, ' ');
    mr_buf_int(&b, -1);
    mr_buf_putc(&b, ' ');
    mr_buf_int(&b, 1234567890);
    mr_buf_putc(&b, ' ');
    mr_buf_int(&b, INT64_MIN);
    mr_buf_putc(&b, ' ');
    mr_buf_int(&b, INT64_MAX);
    ck_assert_str_eq(mr_buf_cstr(&b), "0 -1 1234567890 -9223372036854775808 9223372036854775807");
    mr_arena_fini(&a);
}
END_TEST

/* Every digit count and its boundaries, both signs, against printf's %lld. */
START_TEST(test_buf_int_matches_printf_at_every_length)
{
    struct mr_arena a;
    mr_arena_init(&a, 1024, 1 << 20);
    int64_t p10 = 1; /* 10^(digits - 1) */
    for (int digits = 1; digits <= 19; digits++) {
        const int64_t around[] = {p10 - 1, p10, p10 + 1, p10 * 5 + 7};
        for (size_t k = 0; k < sizeof(around) / sizeof(around[0]); k++) {
            for (int sign = -1; sign <= 1; sign += 2) {
                int64_t v = around[k] * sign;
                char want[32];
                (void)snprintf(want, sizeof(want), "%lld", (long long)v);
                struct mr_buf b;
                mr_buf_init(&b, &a, 1);
                mr_buf_int(&b, v);
                ck_assert_str_eq(mr_buf_cstr(&b), want);
            }
        }
        if (digits < 19)
            p10 *= 10;
    }
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_buf_reserve_and_commit)
{
    struct mr_arena a;
    struct mr_buf b;
    mr_arena_init(&a, 1024, 1 << 20);
    mr_buf_init(&b, &a, 4);
    mr_buf_puts(&b, "ab");
    char *p = mr_buf_reserve(&b, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_gt(b.cap - b.len, 100);
    memcpy(p, "cde", 3);
    mr_buf_commit(&b, 3);
    ck_assert_str_eq(mr_buf_cstr(&b), "abcde");
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_buf_cstr_terminates_without_counting)
{
    struct mr_arena a;
    struct mr_buf b;
    mr_arena_init(&a, 1024, 1 << 20);
    mr_buf_init(&b, &a, 3);
    mr_buf_append(&b, "abc", 3); /* exactly the initial capacity */
    const char *s = mr_buf_cstr(&b);
    ck_assert_str_eq(s, "abc");
    ck_assert_uint_eq(b.len, 3);
    mr_buf_putc(&b, 'd');
    ck_assert_str_eq(mr_buf_cstr(&b), "abcd");
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_buf_fails_past_ceiling_and_ignores_appends)
{
    struct mr_arena a;
    struct mr_buf b;
    char chunk[100];
    memset(chunk, 'c', sizeof(chunk));
    mr_arena_init(&a, 1024, 4096);
    mr_buf_init(&b, &a, 64);
    for (int i = 0; i < 100 && !b.failed; i++)
        mr_buf_append(&b, chunk, sizeof(chunk));
    ck_assert(b.failed);
    size_t len = b.len;
    ck_assert_uint_lt(len, 4096);
    mr_buf_append(&b, "x", 1);
    mr_buf_putc(&b, 'y');
    mr_buf_puts(&b, "z");
    mr_buf_int(&b, 7);
    mr_buf_printf(&b, "%d", 8);
    ck_assert_ptr_null(mr_buf_reserve(&b, 1));
    mr_buf_commit(&b, 5);
    ck_assert_uint_eq(b.len, len);
    ck_assert_ptr_null(mr_buf_cstr(&b));
    ck_assert(b.failed);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_buf_printf_past_ceiling_fails)
{
    struct mr_arena a;
    struct mr_buf b;
    char big[3000];
    memset(big, 'p', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mr_arena_init(&a, 1024, 2048);
    mr_buf_init(&b, &a, 64);
    mr_buf_printf(&b, "%s", big);
    ck_assert(b.failed);
    ck_assert_ptr_null(mr_buf_cstr(&b));
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_buf_init_past_ceiling_is_failed)
{
    struct mr_arena a;
    struct mr_buf b;
    mr_arena_init(&a, 256, 256);
    mr_buf_init(&b, &a, 1024);
    ck_assert(b.failed);
    ck_assert_uint_eq(b.cap, 0);
    mr_buf_puts(&b, "ignored");
    ck_assert_uint_eq(b.len, 0);
    ck_assert_ptr_null(mr_buf_cstr(&b));
    mr_arena_fini(&a);
}
END_TEST

Suite *
buf_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("buf");
    tcase_add_test(tc, test_buf_append_grows);
    tcase_add_test(tc, test_buf_zero_initial_cap_defaults);
    tcase_add_test(tc, test_buf_printf_short_and_long);
    tcase_add_test(tc, test_buf_int_formats);
    tcase_add_test(tc, test_buf_int_matches_printf_at_every_length);
    tcase_add_test(tc, test_buf_reserve_and_commit);
    tcase_add_test(tc, test_buf_cstr_terminates_without_counting);
    tcase_add_test(tc, test_buf_fails_past_ceiling_and_ignores_appends);
    tcase_add_test(tc, test_buf_printf_past_ceiling_fails);
    tcase_add_test(tc, test_buf_init_past_ceiling_is_failed);
    suite_add_tcase(s, tc);
    return s;
}
