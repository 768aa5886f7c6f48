/* SPDX-License-Identifier: BSD-2-Clause */
/* test_pool: the sizing rule of each pm mode, from hand-made views of the pool: how many
 * workers to start, how many idle ones to retire, and the caps that bound both. */
#include "app/supervise/pool.h"
#include "tests/unit/suites.h"

static struct mr_cfg
cfg_for(enum mr_pm pm, int workers)
{
    struct mr_cfg c = {0};
    c.pm = pm;
    c.workers = workers;
    c.start_servers = 2;
    c.min_spare = 1;
    c.max_spare = 3;
    return c;
}

static struct mr_pool_view
view(int total, int idle, int starting, int queue)
{
    struct mr_pool_view v = {0};
    v.total = total;
    v.idle = idle;
    v.starting = starting;
    v.queue = queue;
    return v;
}

#define ck_plan(cfg, v, want_spawn, want_retire)                                                   \
    do {                                                                                           \
        struct mr_pool_view v_ = (v);                                                              \
        struct mr_pool_plan p_ = mr_pool_plan(&(cfg), &v_);                                        \
        ck_assert_int_eq(p_.spawn, (want_spawn));                                                  \
        ck_assert_int_eq(p_.retire, (want_retire));                                                \
    } while (0)

START_TEST(test_pool_static_fills_to_workers)
{
    struct mr_cfg c = cfg_for(MR_PM_STATIC, 4);
    ck_plan(c, view(0, 0, 0, 0), 4, 0);
    ck_plan(c, view(3, 3, 0, 0), 1, 0);
    ck_plan(c, view(4, 4, 0, 9), 0, 0); /* a queue changes nothing */
    ck_plan(c, view(5, 5, 0, 0), 0, 0); /* over (a reload lowering it): the manager retires */
}
END_TEST

START_TEST(test_pool_dynamic_starts_with_start_servers)
{
    struct mr_cfg c = cfg_for(MR_PM_DYNAMIC, 4);
    ck_plan(c, view(0, 0, 0, 0), 2, 0);
    c.start_servers = 0; /* unset: one */
    ck_plan(c, view(0, 0, 0, 0), 1, 0);
    c.start_servers = 9; /* never above workers */
    ck_plan(c, view(0, 0, 0, 0), 4, 0);
}
END_TEST

START_TEST(test_pool_dynamic_keeps_spares_between_min_and_max)
{
    struct mr_cfg c = cfg_for(MR_PM_DYNAMIC, 8);
    c.min_spare = 2;
    c.max_spare = 4;
    ck_plan(c, view(3, 0, 0, 0), 2, 0); /* all busy: two spares */
    ck_plan(c, view(3, 1, 0, 0), 1, 0);
    ck_plan(c, view(3, 1, 1, 0), 0, 0); /* one starting counts as a spare */
    ck_plan(c, view(6, 4, 0, 0), 0, 0); /* at max_spare */
    ck_plan(c, view(7, 6, 0, 0), 0, 1); /* over: one per tick */
    ck_plan(c, view(7, 0, 0, 0), 1, 0); /* capped by workers */
    ck_plan(c, view(8, 0, 0, 0), 0, 0);
}
END_TEST

START_TEST(test_pool_ondemand_grows_only_when_connections_wait)
{
    struct mr_cfg c = cfg_for(MR_PM_ONDEMAND, 4);
    ck_plan(c, view(0, 0, 0, 0), 0, 0); /* none at rest */
    ck_plan(c, view(0, 0, 0, 3), 3, 0);
    ck_plan(c, view(2, 1, 0, 3), 0, 0); /* an idle worker will take it */
    ck_plan(c, view(2, 0, 1, 3), 0, 0); /* one is starting */
    ck_plan(c, view(2, 0, 0, 9), 2, 0); /* capped by workers */
    ck_plan(c, view(4, 0, 0, 9), 0, 0);
    ck_plan(c, view(2, 0, 0, -1), 0, 0); /* queue unknown: no growth */
}
END_TEST

START_TEST(test_pool_ondemand_retires_expired_idle_workers)
{
    struct mr_cfg c = cfg_for(MR_PM_ONDEMAND, 4);
    struct mr_pool_view v = view(3, 2, 0, 0);
    v.idle_expired = 2;
    ck_plan(c, v, 0, 2);
    v.queue = 1; /* nothing retires while connections wait... */
    v.idle = 0;
    ck_plan(c, v, 1, 0);
}
END_TEST

START_TEST(test_pool_adaptive_keeps_a_warm_floor)
{
    struct mr_cfg c = cfg_for(MR_PM_ADAPTIVE, 6);
    c.min_spare = 2;
    ck_plan(c, view(0, 0, 0, 0), 2, 0);
    ck_plan(c, view(1, 1, 0, 0), 1, 0);
    struct mr_pool_view v = view(4, 4, 0, 0);
    v.idle_expired = 4;
    ck_plan(c, v, 0, 2); /* retires down to the floor, not below */
    c.min_spare = 0;     /* the floor is at least one */
    ck_plan(c, view(0, 0, 0, 0), 1, 0);
}
END_TEST

START_TEST(test_pool_adaptive_growth_stops_over_memory_budget)
{
    struct mr_cfg c = cfg_for(MR_PM_ADAPTIVE, 6);
    c.max_memory_mb = 100;
    struct mr_pool_view v = view(2, 0, 0, 5);
    v.rss_mb = 99;
    ck_plan(c, v, 4, 0);
    v.rss_mb = 100;
    ck_plan(c, v, 0, 0);
    v.total = 0; /* the floor is kept even over budget */
    ck_plan(c, v, 1, 0);
}
END_TEST

Suite *
pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_pool_static_fills_to_workers);
    tcase_add_test(tc, test_pool_dynamic_starts_with_start_servers);
    tcase_add_test(tc, test_pool_dynamic_keeps_spares_between_min_and_max);
    tcase_add_test(tc, test_pool_ondemand_grows_only_when_connections_wait);
    tcase_add_test(tc, test_pool_ondemand_retires_expired_idle_workers);
    tcase_add_test(tc, test_pool_adaptive_keeps_a_warm_floor);
    tcase_add_test(tc, test_pool_adaptive_growth_stops_over_memory_budget);
    suite_add_tcase(s, tc);
    return s;
}
