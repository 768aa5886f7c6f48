/* SPDX-License-Identifier: BSD-2-Clause */
/* test_arena: alignment, block spill, reset keeping the first block, the ceiling (NULL, never
 * an abort), overflow in calloc, strndup, and deferred cleanups. The struct's accounting
 * fields (used_bytes, first_size) are public and observed directly. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/lib/arena.h"
#include "tests/unit/suites.h"

/* A record of deferred calls, in the order they ran. */
struct calls {
    int order[8];
    int n;
};

struct call {
    struct calls *log;
    int id;
};

static void
record(void *arg)
{
    struct call *c = arg;
    ck_assert_int_lt(c->log->n, 8);
    c->log->order[c->log->n++] = c->id;
}

START_TEST(test_arena_alloc_is_16_byte_aligned)
{
    struct mr_arena a;
    mr_arena_init(&a, 1024, 1 << 20);
    static const size_t sizes[] = {1, 3, 7, 8, 15, 16, 17, 31, 33, 100, 1000, 5000, 1};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *p = mr_arena_alloc(&a, sizes[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        memset(p, 0xab, sizes[i]); /* the whole size is usable (ASan checks) */
    }
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_allocations_do_not_overlap)
{
    struct mr_arena a;
    unsigned char *p[64];
    mr_arena_init(&a, 256, 1 << 20);
    for (int i = 0; i < 64; i++) {
        p[i] = mr_arena_alloc(&a, 24);
        ck_assert_ptr_nonnull(p[i]);
        memset(p[i], i, 24);
    }
    for (int i = 0; i < 64; i++)
        for (int k = 0; k < 24; k++)
            ck_assert_int_eq(p[i][k], i);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_small_allocs_spill_into_new_blocks)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1 << 20);
    ck_assert_uint_eq(a.used_bytes, 256);
    for (int i = 0; i < 16; i++) /* 16 x 16 bytes fill the first block exactly */
        ck_assert_ptr_nonnull(mr_arena_alloc(&a, 16));
    ck_assert_uint_eq(a.used_bytes, 256);
    ck_assert_ptr_nonnull(mr_arena_alloc(&a, 16));
    ck_assert_uint_eq(a.used_bytes, 512); /* a second block of first_size */
    for (int i = 0; i < 40; i++)
        ck_assert_ptr_nonnull(mr_arena_alloc(&a, 16));
    ck_assert_uint_eq(a.used_bytes, 256 * 4);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_large_alloc_gets_block_sized_to_fit)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1 << 20);
    unsigned char *p = mr_arena_alloc(&a, 10000);
    ck_assert_ptr_nonnull(p);
    memset(p, 1, 10000);
    ck_assert_uint_eq(a.used_bytes, 256 + 10000);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_reset_keeps_first_block)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1 << 20);
    void *first = mr_arena_alloc(&a, 16);
    for (int i = 0; i < 100; i++)
        ck_assert_ptr_nonnull(mr_arena_alloc(&a, 48));
    ck_assert_ptr_nonnull(mr_arena_alloc(&a, 5000));
    ck_assert_uint_gt(a.used_bytes, 256);
    mr_arena_reset(&a);
    ck_assert_uint_eq(a.used_bytes, a.first_size);
    ck_assert_uint_eq(a.first_size, 256);
    /* The first block is kept and emptied: the next allocation starts at its beginning. */
    ck_assert_ptr_eq(mr_arena_alloc(&a, 16), first);
    mr_arena_reset(&a);
    mr_arena_reset(&a);
    ck_assert_ptr_eq(mr_arena_alloc(&a, 16), first);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_ceiling_returns_null)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1024);
    ck_assert_ptr_null(mr_arena_alloc(&a, 2048));
    ck_assert_uint_eq(a.used_bytes, 256);
    int got = 0;
    while (mr_arena_alloc(&a, 64) != NULL)
        got++;
    ck_assert_int_eq(got, 1024 / 64);
    ck_assert_uint_le(a.used_bytes, 1024);
    ck_assert_ptr_null(mr_arena_strndup(&a, "x", 1));
    ck_assert_ptr_null(mr_arena_calloc(&a, 1, 1));
    /* After a reset the arena serves again. */
    mr_arena_reset(&a);
    ck_assert_ptr_nonnull(mr_arena_alloc(&a, 64));
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_huge_sizes_return_null)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1 << 20);
    ck_assert_ptr_null(mr_arena_alloc(&a, SIZE_MAX));
    ck_assert_ptr_null(mr_arena_alloc(&a, SIZE_MAX - 15));
    ck_assert_ptr_null(mr_arena_alloc(&a, SIZE_MAX / 2));
    ck_assert_uint_eq(a.used_bytes, 256);
    mr_arena_fini(&a);
}
END_TEST

/* len + 1 must not wrap to 0 (a 0-byte allocation followed by a SIZE_MAX memcpy). */
START_TEST(test_arena_strndup_huge_len_returns_null)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1 << 20);
    ck_assert_ptr_null(mr_arena_strndup(&a, "", SIZE_MAX));
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_calloc_overflow_returns_null)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1 << 20);
    ck_assert_ptr_null(mr_arena_calloc(&a, SIZE_MAX / 2, 4));
    ck_assert_ptr_null(mr_arena_calloc(&a, SIZE_MAX, SIZE_MAX));
    ck_assert_ptr_null(mr_arena_calloc(&a, (SIZE_MAX >> 4) + 1, 16));
    ck_assert_uint_eq(a.used_bytes, 256);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_calloc_zeroes)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1 << 20);
    unsigned char *p = mr_arena_alloc(&a, 200);
    memset(p, 0xff, 200);
    mr_arena_reset(&a);
    unsigned char *z = mr_arena_calloc(&a, 25, 8);
    ck_assert_ptr_eq(z, p); /* the same, dirty memory */
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(z[i], 0);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_strndup_copies_and_terminates)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1 << 20);
    char *s = mr_arena_strndup(&a, "hello world", 5);
    ck_assert_str_eq(s, "hello");
    char *e = mr_arena_strndup(&a, "abc", 0);
    ck_assert_str_eq(e, "");
    char *nul = mr_arena_strndup(&a, "a\0b", 3);
    ck_assert_mem_eq(nul, "a\0b\0", 4);
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_defers_run_in_reverse_at_reset)
{
    struct mr_arena a;
    struct calls log = {.n = 0};
    struct call c[3] = {{&log, 1}, {&log, 2}, {&log, 3}};
    mr_arena_init(&a, 256, 1 << 20);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(mr_arena_defer(&a, record, &c[i]), 0);
    ck_assert_int_eq(log.n, 0);
    mr_arena_reset(&a);
    ck_assert_int_eq(log.n, 3);
    ck_assert_int_eq(log.order[0], 3);
    ck_assert_int_eq(log.order[1], 2);
    ck_assert_int_eq(log.order[2], 1);
    mr_arena_reset(&a); /* each runs once */
    ck_assert_int_eq(log.n, 3);
    mr_arena_fini(&a);
    ck_assert_int_eq(log.n, 3);
}
END_TEST

START_TEST(test_arena_defers_run_in_reverse_at_fini)
{
    struct mr_arena a;
    struct calls log = {.n = 0};
    struct call c[2] = {{&log, 1}, {&log, 2}};
    mr_arena_init(&a, 256, 1 << 20);
    ck_assert_int_eq(mr_arena_defer(&a, record, &c[0]), 0);
    for (int i = 0; i < 50; i++) /* spill, so the defers live in different blocks */
        ck_assert_ptr_nonnull(mr_arena_alloc(&a, 32));
    ck_assert_int_eq(mr_arena_defer(&a, record, &c[1]), 0);
    mr_arena_fini(&a);
    ck_assert_int_eq(log.n, 2);
    ck_assert_int_eq(log.order[0], 2);
    ck_assert_int_eq(log.order[1], 1);
}
END_TEST

START_TEST(test_arena_defer_past_ceiling_is_enomem)
{
    struct mr_arena a;
    struct calls log = {.n = 0};
    struct call c = {&log, 1};
    mr_arena_init(&a, 256, 256);
    while (mr_arena_alloc(&a, 16) != NULL)
        ;
    ck_assert_int_eq(mr_arena_defer(&a, record, &c), -ENOMEM);
    mr_arena_reset(&a);
    ck_assert_int_eq(log.n, 0); /* not registered, so not run */
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_fini_twice_is_harmless)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 1 << 20);
    ck_assert_ptr_nonnull(mr_arena_alloc(&a, 1000));
    mr_arena_fini(&a);
    ck_assert_ptr_null(a.head);
    ck_assert_uint_eq(a.used_bytes, 0);
    mr_arena_fini(&a);
    mr_arena_reset(&a); /* also harmless on a finalised arena */
    ck_assert_ptr_null(a.head);
}
END_TEST

START_TEST(test_arena_ceiling_below_first_size_is_raised)
{
    struct mr_arena a;
    mr_arena_init(&a, 512, 100);
    ck_assert_uint_eq(a.max_bytes, 512);
    ck_assert_ptr_nonnull(mr_arena_alloc(&a, 512));
    ck_assert_ptr_null(mr_arena_alloc(&a, 1));
    mr_arena_fini(&a);
}
END_TEST

START_TEST(test_arena_xstrdup_copies)
{
    char *s = mr_xstrdup("worker");
    ck_assert_str_eq(s, "worker");
    free(s);
    int *z = mr_xcalloc(4, sizeof(int));
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(z[i], 0);
    free(z);
}
END_TEST

Suite *
arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("arena");
    tcase_add_test(tc, test_arena_alloc_is_16_byte_aligned);
    tcase_add_test(tc, test_arena_allocations_do_not_overlap);
    tcase_add_test(tc, test_arena_small_allocs_spill_into_new_blocks);
    tcase_add_test(tc, test_arena_large_alloc_gets_block_sized_to_fit);
    tcase_add_test(tc, test_arena_reset_keeps_first_block);
    tcase_add_test(tc, test_arena_ceiling_returns_null);
    tcase_add_test(tc, test_arena_huge_sizes_return_null);
    tcase_add_test(tc, test_arena_strndup_huge_len_returns_null);
    tcase_add_test(tc, test_arena_calloc_overflow_returns_null);
    tcase_add_test(tc, test_arena_calloc_zeroes);
    tcase_add_test(tc, test_arena_strndup_copies_and_terminates);
    tcase_add_test(tc, test_arena_defers_run_in_reverse_at_reset);
    tcase_add_test(tc, test_arena_defers_run_in_reverse_at_fini);
    tcase_add_test(tc, test_arena_defer_past_ceiling_is_enomem);
    tcase_add_test(tc, test_arena_fini_twice_is_harmless);
    tcase_add_test(tc, test_arena_ceiling_below_first_size_is_raised);
    tcase_add_test(tc, test_arena_xstrdup_copies);
    suite_add_tcase(s, tc);
    return s;
}
