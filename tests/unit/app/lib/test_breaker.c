/* SPDX-License-Identifier: BSD-2-Clause */
/* test_breaker: the circuit breaker's transitions, driven with explicit times so that no test
 * sleeps: closed -> open at the threshold, open until the cooldown, exactly one half-open
 * probe, and the probe's report closing or reopening it. */
#include <stdatomic.h>
#include <string.h>

#include "app/lib/breaker.h"
#include "tests/unit/suites.h"

static const struct mr_breaker_cfg cfg = {.failures = 3, .cooldown_ms = 1000};

#define T0 1000000 /* an arbitrary monotonic "now", ms */

static int
state(struct mr_backend_slot *s)
{
    return atomic_load(&s->breaker);
}

/* Opens the breaker at T0 with cfg.failures failures in a row. */
static void
open_at_t0(struct mr_backend_slot *s)
{
    for (int i = 1; i < cfg.failures; i++)
        ck_assert(!mr_breaker_failure(s, &cfg, T0));
    ck_assert(mr_breaker_failure(s, &cfg, T0));
    ck_assert_int_eq(state(s), MR_BREAKER_OPEN);
}

START_TEST(test_health_init_is_closed_and_unknown)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "replica1");
    ck_assert_str_eq(s.name, "replica1");
    ck_assert_int_eq(atomic_load(&s.up), -1);
    ck_assert_int_eq(state(&s), MR_BREAKER_CLOSED);
    ck_assert(mr_breaker_allow(&s, &cfg, T0));
    ck_assert(mr_breaker_routable(&s, &cfg, T0)); /* not probed yet is not down */
}
END_TEST

START_TEST(test_health_init_truncates_long_name)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "a-very-long-backend-name-that-does-not-fit-the-slot");
    ck_assert_uint_eq(strlen(s.name), MR_BACKEND_NAME - 1);
}
END_TEST

START_TEST(test_health_opens_after_n_failures_once)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "primary");
    ck_assert(!mr_breaker_failure(&s, &cfg, T0));
    ck_assert(!mr_breaker_failure(&s, &cfg, T0));
    ck_assert_int_eq(state(&s), MR_BREAKER_CLOSED);
    ck_assert(mr_breaker_allow(&s, &cfg, T0));
    ck_assert(mr_breaker_failure(&s, &cfg, T0)); /* the third opens it */
    ck_assert_int_eq(state(&s), MR_BREAKER_OPEN);
    ck_assert(!mr_breaker_failure(&s, &cfg, T0)); /* later failures do not reopen */
    ck_assert(!mr_breaker_failure(&s, &cfg, T0 + 10));
    ck_assert_uint_eq(atomic_load(&s.opened_total), 1);
    ck_assert_uint_eq(atomic_load(&s.failures_total), 5);
}
END_TEST

START_TEST(test_health_success_resets_the_count)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "primary");
    ck_assert(!mr_breaker_failure(&s, &cfg, T0));
    ck_assert(!mr_breaker_failure(&s, &cfg, T0));
    mr_breaker_success(&s);
    ck_assert(!mr_breaker_failure(&s, &cfg, T0));
    ck_assert(!mr_breaker_failure(&s, &cfg, T0));
    ck_assert_int_eq(state(&s), MR_BREAKER_CLOSED); /* not 3 in a row */
}
END_TEST

START_TEST(test_health_open_blocks_until_cooldown)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "primary");
    open_at_t0(&s);
    ck_assert(!mr_breaker_allow(&s, &cfg, T0));
    ck_assert(!mr_breaker_allow(&s, &cfg, T0 + cfg.cooldown_ms - 1));
    ck_assert_int_eq(state(&s), MR_BREAKER_OPEN);
}
END_TEST

START_TEST(test_health_after_cooldown_exactly_one_probe)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "primary");
    open_at_t0(&s);
    int64_t t = T0 + cfg.cooldown_ms;
    ck_assert(mr_breaker_allow(&s, &cfg, t));
    ck_assert_int_eq(state(&s), MR_BREAKER_HALF_OPEN);
    ck_assert(!mr_breaker_allow(&s, &cfg, t));
    ck_assert(!mr_breaker_allow(&s, &cfg, t + 1));
    ck_assert(!mr_breaker_allow(&s, &cfg, t + cfg.cooldown_ms - 1));
}
END_TEST

START_TEST(test_health_lost_probe_is_replaced_after_another_cooldown)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "primary");
    open_at_t0(&s);
    int64_t t = T0 + cfg.cooldown_ms;
    ck_assert(mr_breaker_allow(&s, &cfg, t)); /* this probe never reports */
    ck_assert(mr_breaker_allow(&s, &cfg, t + cfg.cooldown_ms));
    ck_assert(!mr_breaker_allow(&s, &cfg, t + cfg.cooldown_ms));
}
END_TEST

START_TEST(test_health_success_in_half_open_closes)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "primary");
    open_at_t0(&s);
    ck_assert(mr_breaker_allow(&s, &cfg, T0 + cfg.cooldown_ms));
    mr_breaker_success(&s);
    ck_assert_int_eq(state(&s), MR_BREAKER_CLOSED);
    ck_assert_int_eq(atomic_load(&s.fails), 0);
    ck_assert(mr_breaker_allow(&s, &cfg, T0 + cfg.cooldown_ms));
    ck_assert(mr_breaker_allow(&s, &cfg, T0 + cfg.cooldown_ms));
    /* Closed again: it takes the full count to reopen. */
    ck_assert(!mr_breaker_failure(&s, &cfg, T0 + 2000));
    ck_assert_int_eq(state(&s), MR_BREAKER_CLOSED);
}
END_TEST

START_TEST(test_health_failure_in_half_open_reopens)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "primary");
    open_at_t0(&s);
    int64_t t = T0 + cfg.cooldown_ms;
    ck_assert(mr_breaker_allow(&s, &cfg, t));
    ck_assert(mr_breaker_failure(&s, &cfg, t + 5)); /* one failure suffices, and it reports */
    ck_assert_int_eq(state(&s), MR_BREAKER_OPEN);
    ck_assert_uint_eq(atomic_load(&s.opened_total), 2);
    ck_assert(!mr_breaker_allow(&s, &cfg, t + 5 + cfg.cooldown_ms - 1));
    ck_assert(mr_breaker_allow(&s, &cfg, t + 5 + cfg.cooldown_ms));
}
END_TEST

START_TEST(test_health_not_routable_when_down)
{
    struct mr_backend_slot s;
    mr_backend_slot_init(&s, "replica1");
    atomic_store(&s.up, 0);
    ck_assert(!mr_breaker_routable(&s, &cfg, T0));
    ck_assert(mr_breaker_allow(&s, &cfg, T0)); /* the breaker alone would allow it */
    atomic_store(&s.up, 1);
    ck_assert(mr_breaker_routable(&s, &cfg, T0));
    open_at_t0(&s);
    ck_assert(!mr_breaker_routable(&s, &cfg, T0)); /* up, but the breaker is open */
}
END_TEST

Suite *
breaker_suite(void)
{
    Suite *s = suite_create("health");
    TCase *tc = tcase_create("breaker");
    tcase_add_test(tc, test_health_init_is_closed_and_unknown);
    tcase_add_test(tc, test_health_init_truncates_long_name);
    tcase_add_test(tc, test_health_opens_after_n_failures_once);
    tcase_add_test(tc, test_health_success_resets_the_count);
    tcase_add_test(tc, test_health_open_blocks_until_cooldown);
    tcase_add_test(tc, test_health_after_cooldown_exactly_one_probe);
    tcase_add_test(tc, test_health_lost_probe_is_replaced_after_another_cooldown);
    tcase_add_test(tc, test_health_success_in_half_open_closes);
    tcase_add_test(tc, test_health_failure_in_half_open_reopens);
    tcase_add_test(tc, test_health_not_routable_when_down);
    suite_add_tcase(s, tc);
    return s;
}
