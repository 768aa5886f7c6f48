/* SPDX-License-Identifier: BSD-2-Clause */
/* test_l1: the store of a worker's L1 (cache/l1.h) through its header: the byte bound,
 * CLOCK eviction (a referenced entry survives a turn of the hand), expiry, one key's
 * invalidation, the flush, and the copy into the arena that outlives the entry. Coherence
 * with Redis (track.c) needs a Redis and is tested through nginx
 * (tests/integration/test_data_l1.py). Defines l1_suite for tests/unit/main.c. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/arena.h"
#include "cache/l1.h"
#include "tests/unit/suites.h"

#define SLOT 64u
#define NOW 1000
#define LATER 100000

static const struct mr_cache_l1_meta meta = {1700000000000, 10};

struct fix {
    struct mr_cache_l1 *l;
    struct mr_arena arena;
};

static void
fix_init(struct fix *f, size_t bytes)
{
    struct mr_err err;
    ck_assert_int_eq(mr_cache_l1_new(bytes, SLOT, &f->l, &err), 0);
    mr_arena_init(&f->arena, 4096, 1 << 20);
}

static void
fix_fini(struct fix *f)
{
    mr_cache_l1_free(&f->l);
    ck_assert_ptr_null(f->l);
    mr_arena_fini(&f->arena);
}

static bool
put(struct fix *f, const char *key, const char *val)
{
    return mr_cache_l1_put(f->l, key, strlen(key), val, strlen(val), NOW, LATER, &meta);
}

/* The value held for key at time now, or NULL. */
static const char *
get_at(struct fix *f, const char *key, int64_t now)
{
    const char *v = NULL;
    size_t len = 0;
    struct mr_cache_l1_meta m;
    int rc = mr_cache_l1_get(f->l, key, strlen(key), now, &f->arena, &v, &len, &m);
    ck_assert_int_ge(rc, 0);
    if (rc == 0)
        return NULL;
    ck_assert_uint_eq(len, strlen(v));
    ck_assert_int_eq(m.wall_expiry_ms, meta.wall_expiry_ms);
    return v;
}

static const char *
get(struct fix *f, const char *key)
{
    return get_at(f, key, NOW + 1);
}

START_TEST(test_l1_refuses_sizes_it_cannot_hold)
{
    struct mr_cache_l1 *l = NULL;
    struct mr_err err;
    ck_assert_int_eq(mr_cache_l1_new(1024, SLOT, &l, &err), -EINVAL);
    ck_assert_ptr_null(l);
    ck_assert_int_eq(mr_cache_l1_new(65536, 32, &l, &err), -EINVAL);
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(test_l1_stays_within_its_bytes)
{
    struct fix f;
    fix_init(&f, 65536);
    size_t cap = mr_cache_l1_capacity(f.l);
    /* The slots, one bucket each at least half of them, inside the block. */
    ck_assert_uint_le(cap * SLOT + cap / 2 * sizeof(uint32_t), 65536);
    ck_assert_uint_ge(cap, 65536 / (SLOT + 8) - 8);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        (void)snprintf(key, sizeof(key), "k%d", i);
        ck_assert(put(&f, key, "value"));
        ck_assert_uint_le(mr_cache_l1_count(f.l), cap);
    }
    ck_assert_uint_eq(mr_cache_l1_count(f.l), cap);
    ck_assert_uint_eq(mr_cache_l1_stats(f.l)->evictions, 5000 - cap);
    ck_assert_str_eq(get(&f, "k4999"), "value");
    fix_fini(&f);
}
END_TEST

START_TEST(test_l1_keeps_nothing_larger_than_a_slot)
{
    struct fix f;
    fix_init(&f, 65536);
    char big[SLOT];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert(put(&f, "k", "small"));
    ck_assert(!put(&f, "k", big)); /* and the old value must not stay behind */
    ck_assert_ptr_null(get(&f, "k"));
    size_t room = SLOT - mr_cache_l1_slot_overhead();
    big[room - 1] = '\0'; /* one byte of key, room - 1 of value: exactly full */
    ck_assert(put(&f, "k", big));
    ck_assert_str_eq(get(&f, "k"), big);
    fix_fini(&f);
}
END_TEST

START_TEST(test_l1_clock_spares_a_referenced_entry)
{
    struct fix f;
    fix_init(&f, 65536);
    size_t cap = mr_cache_l1_capacity(f.l);
    char key[32];
    for (size_t i = 0; i < cap; i++) {
        (void)snprintf(key, sizeof(key), "k%zu", i);
        ck_assert(put(&f, key, "v"));
    }
    ck_assert_ptr_nonnull(get(&f, "k0")); /* referenced: the hand passes over it once */
    ck_assert(put(&f, "new", "v"));
    ck_assert_ptr_nonnull(get(&f, "k0"));
    ck_assert_ptr_null(get(&f, "k1")); /* the first unreferenced slot the hand met */
    ck_assert_ptr_nonnull(get(&f, "new"));
    ck_assert_uint_eq(mr_cache_l1_stats(f.l)->evictions, 1);
    fix_fini(&f);
}
END_TEST

START_TEST(test_l1_entry_expires)
{
    struct fix f;
    fix_init(&f, 65536);
    ck_assert(mr_cache_l1_put(f.l, "k", 1, "v", 1, NOW, NOW + 50, &meta));
    ck_assert_ptr_nonnull(get_at(&f, "k", NOW + 49));
    ck_assert_ptr_null(get_at(&f, "k", NOW + 50));
    ck_assert_uint_eq(mr_cache_l1_count(f.l), 0); /* dropped, not just hidden */
    /* Already expired: not stored at all. */
    ck_assert(!mr_cache_l1_put(f.l, "k", 1, "v", 1, NOW, NOW, &meta));
    ck_assert_uint_eq(mr_cache_l1_count(f.l), 0);
    fix_fini(&f);
}
END_TEST

START_TEST(test_l1_invalidates_one_key)
{
    struct fix f;
    fix_init(&f, 65536);
    ck_assert(put(&f, "a", "1"));
    ck_assert(put(&f, "b", "2"));
    ck_assert(mr_cache_l1_del(f.l, "a", 1, true));
    ck_assert(!mr_cache_l1_del(f.l, "a", 1, true)); /* counted though no longer held */
    ck_assert_ptr_null(get(&f, "a"));
    ck_assert_str_eq(get(&f, "b"), "2");
    ck_assert_uint_eq(mr_cache_l1_stats(f.l)->invalidations, 2);
    ck_assert(mr_cache_l1_del(f.l, "b", 1, false)); /* our own write: not an invalidation */
    ck_assert_uint_eq(mr_cache_l1_stats(f.l)->invalidations, 2);
    /* The freed slots are reused. */
    ck_assert(put(&f, "c", "3"));
    ck_assert_str_eq(get(&f, "c"), "3");
    fix_fini(&f);
}
END_TEST

START_TEST(test_l1_replaces_a_value_in_place)
{
    struct fix f;
    fix_init(&f, 65536);
    ck_assert(put(&f, "k", "old"));
    ck_assert(put(&f, "k", "newer"));
    ck_assert_str_eq(get(&f, "k"), "newer");
    ck_assert_uint_eq(mr_cache_l1_count(f.l), 1);
    fix_fini(&f);
}
END_TEST

START_TEST(test_l1_flush_drops_everything)
{
    struct fix f;
    fix_init(&f, 65536);
    size_t cap = mr_cache_l1_capacity(f.l);
    char key[32];
    for (size_t i = 0; i < cap; i++) {
        (void)snprintf(key, sizeof(key), "k%zu", i);
        ck_assert(put(&f, key, "v"));
    }
    mr_cache_l1_flush(f.l);
    ck_assert_uint_eq(mr_cache_l1_count(f.l), 0);
    ck_assert_uint_eq(mr_cache_l1_stats(f.l)->flushes, 1);
    ck_assert_ptr_null(get(&f, "k0"));
    /* Filled again to capacity without evicting: every slot is free after a flush. */
    for (size_t i = 0; i < cap; i++) {
        (void)snprintf(key, sizeof(key), "n%zu", i);
        ck_assert(put(&f, key, "w"));
    }
    ck_assert_uint_eq(mr_cache_l1_stats(f.l)->evictions, 0);
    ck_assert_str_eq(get(&f, "n0"), "w");
    fix_fini(&f);
}
END_TEST

START_TEST(test_l1_hit_is_a_copy_that_outlives_the_entry)
{
    struct fix f;
    fix_init(&f, 65536);
    ck_assert(put(&f, "k", "first"));
    const char *v = get(&f, "k");
    ck_assert(put(&f, "k", "other"));
    mr_cache_l1_flush(f.l);
    ck_assert_str_eq(v, "first");
    ck_assert_uint_eq(mr_cache_l1_stats(f.l)->hits, 1);
    fix_fini(&f);
}
END_TEST

Suite *
l1_suite(void)
{
    Suite *s = suite_create("l1");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_l1_refuses_sizes_it_cannot_hold);
    tcase_add_test(tc, test_l1_stays_within_its_bytes);
    tcase_add_test(tc, test_l1_keeps_nothing_larger_than_a_slot);
    tcase_add_test(tc, test_l1_clock_spares_a_referenced_entry);
    tcase_add_test(tc, test_l1_entry_expires);
    tcase_add_test(tc, test_l1_invalidates_one_key);
    tcase_add_test(tc, test_l1_replaces_a_value_in_place);
    tcase_add_test(tc, test_l1_flush_drops_everything);
    tcase_add_test(tc, test_l1_hit_is_a_copy_that_outlives_the_entry);
    suite_add_tcase(s, tc);
    return s;
}
