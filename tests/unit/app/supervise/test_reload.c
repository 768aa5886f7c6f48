/* SPDX-License-Identifier: BSD-2-Clause */
/* test_reload: the reload rule step by step, driven by hand-made censuses, and the reload
 * target per pm mode. A small simulator applies each step as the manager does (a spawned
 * worker counts as new at once; a retired one stops serving at once) to check whole reloads. */
#include <stdbool.h>

#include "app/supervise/reload.h"
#include "tests/unit/suites.h"

static struct mr_sb_census
census(int new_serving, int old_serving)
{
    struct mr_sb_census c = {0};
    c.new_serving = new_serving;
    c.old_serving = old_serving;
    c.serving = new_serving + old_serving;
    return c;
}

static enum mr_reload_step
next(int new_serving, int old_serving, int target)
{
    struct mr_sb_census c = census(new_serving, old_serving);
    return mr_reload_next(&c, target);
}

START_TEST(test_reload_done_without_old_workers)
{
    ck_assert_int_eq(next(0, 0, 4), MR_RELOAD_DONE);
    ck_assert_int_eq(next(4, 0, 4), MR_RELOAD_DONE);
    ck_assert_int_eq(next(2, 0, 4), MR_RELOAD_DONE); /* the pool rule grows it from here */
}
END_TEST

START_TEST(test_reload_spawns_before_retiring)
{
    ck_assert_int_eq(next(0, 4, 4), MR_RELOAD_SPAWN);
    ck_assert_int_eq(next(1, 3, 4), MR_RELOAD_SPAWN);
    ck_assert_int_eq(next(1, 4, 4), MR_RELOAD_RETIRE_OLD);
}
END_TEST

START_TEST(test_reload_lowering_workers_retires_at_once)
{
    ck_assert_int_eq(next(0, 6, 2), MR_RELOAD_RETIRE_OLD);
    ck_assert_int_eq(next(0, 3, 2), MR_RELOAD_RETIRE_OLD);
    ck_assert_int_eq(next(0, 2, 2), MR_RELOAD_SPAWN);
}
END_TEST

START_TEST(test_reload_raising_workers_spawns_up_to_target)
{
    ck_assert_int_eq(next(0, 2, 4), MR_RELOAD_SPAWN);
    ck_assert_int_eq(next(2, 2, 4), MR_RELOAD_SPAWN);
    ck_assert_int_eq(next(3, 2, 4), MR_RELOAD_RETIRE_OLD);
}
END_TEST

/* Runs a whole reload from `old` old workers to `target`, one step at a time. Returns the
 * steps taken; *min_serving is the fewest serving workers seen between steps. */
static int
simulate(int old, int target, int *min_serving, int *max_serving)
{
    int new_serving = 0, steps = 0;
    *min_serving = *max_serving = old;
    for (;;) {
        enum mr_reload_step s = next(new_serving, old, target);
        if (s == MR_RELOAD_DONE)
            break;
        if (s == MR_RELOAD_SPAWN)
            new_serving++;
        else
            old--;
        int total = new_serving + old;
        *min_serving = total < *min_serving ? total : *min_serving;
        *max_serving = total > *max_serving ? total : *max_serving;
        ck_assert_int_lt(++steps, 1000);
    }
    ck_assert_int_eq(old, 0);
    return steps;
}

START_TEST(test_reload_keeps_capacity_and_ends_at_target)
{
    int lo, hi;
    int steps = simulate(4, 4, &lo, &hi);
    ck_assert_int_eq(steps, 8); /* 4 spawns, 4 retirements */
    ck_assert_int_ge(lo, 4);    /* capacity never below the target */
    ck_assert_int_le(hi, 5);    /* and at most one extra worker at a time */
    simulate(6, 2, &lo, &hi);
    ck_assert_int_ge(lo, 2);
    ck_assert_int_le(hi, 6);
    simulate(2, 5, &lo, &hi);
    ck_assert_int_ge(lo, 2);
    ck_assert_int_le(hi, 6);
}
END_TEST

static struct mr_cfg
cfg_with(enum mr_pm pm, int workers)
{
    struct mr_cfg c = {0};
    c.pm = pm;
    c.workers = workers;
    return c;
}

START_TEST(test_reload_target_static_is_workers)
{
    struct mr_cfg c = cfg_with(MR_PM_STATIC, 8);
    ck_assert_int_eq(mr_reload_target(&c, 0), 8);
    ck_assert_int_eq(mr_reload_target(&c, 3), 8);
    ck_assert_int_eq(mr_reload_target(&c, 20), 8);
}
END_TEST

START_TEST(test_reload_target_others_keep_size_within_bounds)
{
    enum mr_pm modes[] = {MR_PM_DYNAMIC, MR_PM_ONDEMAND, MR_PM_ADAPTIVE};
    for (int i = 0; i < 3; i++) {
        struct mr_cfg c = cfg_with(modes[i], 8);
        ck_assert_int_eq(mr_reload_target(&c, 0), 1);
        ck_assert_int_eq(mr_reload_target(&c, 3), 3);
        ck_assert_int_eq(mr_reload_target(&c, 8), 8);
        ck_assert_int_eq(mr_reload_target(&c, 12), 8); /* a reload that lowered `workers` */
    }
}
END_TEST

Suite *
reload_suite(void)
{
    Suite *s = suite_create("reload");
    TCase *rule = tcase_create("rule");
    tcase_add_test(rule, test_reload_done_without_old_workers);
    tcase_add_test(rule, test_reload_spawns_before_retiring);
    tcase_add_test(rule, test_reload_lowering_workers_retires_at_once);
    tcase_add_test(rule, test_reload_raising_workers_spawns_up_to_target);
    tcase_add_test(rule, test_reload_keeps_capacity_and_ends_at_target);
    suite_add_tcase(s, rule);
    TCase *target = tcase_create("target");
    tcase_add_test(target, test_reload_target_static_is_workers);
    tcase_add_test(target, test_reload_target_others_keep_size_within_bounds);
    suite_add_tcase(s, target);
    return s;
}
