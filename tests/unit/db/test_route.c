/* SPDX-License-Identifier: BSD-2-Clause */
/* test_route: where a read goes. The round-robin pick over the replicas (skipping tried and
 * unusable ones, asking no further than the one it picks), and what makes a replica usable:
 * lag, this worker's reconnect backoff, the shared breaker, the prober's verdict. No
 * connection is opened: these are the rules route.c applies before libpq is called. */
#include <stdatomic.h>
#include <string.h>

#include "db/internal.h"
#include "tests/unit/suites.h"

#define T0 1000000 /* an arbitrary monotonic "now", ms */

/* A usable() stand-in: bit i of *mask says replica i is usable; every question is recorded. */
struct asked {
    unsigned usable;
    int order[8];
    int n;
};

static bool
usable_by_mask(void *arg, int i)
{
    struct asked *a = arg;
    a->order[a->n++] = i;
    return (a->usable & (1u << i)) != 0;
}

START_TEST(test_route_pick_rotates_over_usable_replicas)
{
    struct asked a = {.usable = 0xe}; /* replicas 1, 2, 3 */
    int cursor = 0;
    ck_assert_int_eq(mr_db__next_replica(3, &cursor, 0, usable_by_mask, &a), 1);
    ck_assert_int_eq(mr_db__next_replica(3, &cursor, 0, usable_by_mask, &a), 2);
    ck_assert_int_eq(mr_db__next_replica(3, &cursor, 0, usable_by_mask, &a), 3);
    ck_assert_int_eq(mr_db__next_replica(3, &cursor, 0, usable_by_mask, &a), 1);
    ck_assert_int_eq(cursor, 1);
}
END_TEST

START_TEST(test_route_pick_skips_unusable_and_tried)
{
    struct asked a = {.usable = 0xa}; /* replicas 1 and 3; 2 is not usable */
    int cursor = 1;                   /* replica 2 is next in turn */
    ck_assert_int_eq(mr_db__next_replica(3, &cursor, 0, usable_by_mask, &a), 3);
    ck_assert_int_eq(cursor, 0);
    /* The retry after replica 3 failed: 3 is tried, so 1. */
    ck_assert_int_eq(mr_db__next_replica(3, &cursor, 1u << 3, usable_by_mask, &a), 1);
    /* Both usable ones tried: none left, and the cursor stays. */
    cursor = 0;
    ck_assert_int_eq(mr_db__next_replica(3, &cursor, (1u << 1) | (1u << 3), usable_by_mask, &a),
                     -1);
    ck_assert_int_eq(cursor, 0);
}
END_TEST

/* usable() may claim a breaker's one half-open probe, so it must be asked of no replica
 * after the one picked, and never of a tried one. */
START_TEST(test_route_pick_asks_no_further_than_it_picks)
{
    struct asked a = {.usable = 0x4}; /* replica 2 only */
    int cursor = 0;
    ck_assert_int_eq(mr_db__next_replica(3, &cursor, 0, usable_by_mask, &a), 2);
    ck_assert_int_eq(a.n, 2);
    ck_assert_int_eq(a.order[0], 1);
    ck_assert_int_eq(a.order[1], 2);
    a.n = 0;
    cursor = 0;
    ck_assert_int_eq(mr_db__next_replica(3, &cursor, 1u << 1, usable_by_mask, &a), 2);
    ck_assert_int_eq(a.n, 1);
    ck_assert_int_eq(a.order[0], 2);
}
END_TEST

START_TEST(test_route_pick_without_replicas)
{
    struct asked a = {.usable = ~0u};
    int cursor = 0;
    ck_assert_int_eq(mr_db__next_replica(0, &cursor, 0, usable_by_mask, &a), -1);
    ck_assert_int_eq(a.n, 0);
}
END_TEST

/* One primary and one replica, never connected: only the routing state is set. */
struct fixture {
    struct mr_db_cfg cfg;
    struct mr_backend_slot slots[2];
    struct mr_db db;
};

static void
fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->cfg.n_replicas = 1;
    f->cfg.max_replica_lag_ms = 500;
    f->cfg.breaker = (struct mr_breaker_cfg){.failures = 2, .cooldown_ms = 1000};
    f->db.cfg = &f->cfg;
    f->db.n_conns = 2;
    mr_backend_slot_init(&f->slots[0], "primary");
    mr_backend_slot_init(&f->slots[1], "replica1");
    for (int i = 0; i < 2; i++) {
        f->db.conns[i].slot = &f->slots[i];
        mr_backend_policy_init(&f->db.conns[i].policy, &f->slots[i], &f->cfg.breaker, 100, 1000);
    }
}

START_TEST(test_route_replica_usable_by_lag)
{
    struct fixture f;
    fixture_init(&f);
    ck_assert(mr_db__replica_usable(&f.db, 1, T0, false));
    atomic_store(&f.slots[1].lag_ms, 500); /* at the limit: still usable */
    ck_assert(mr_db__replica_usable(&f.db, 1, T0, false));
    atomic_store(&f.slots[1].lag_ms, 501);
    ck_assert(!mr_db__replica_usable(&f.db, 1, T0, false));
    /* The last resort, with the primary out, ignores lag. */
    ck_assert(mr_db__replica_usable(&f.db, 1, T0, true));
}
END_TEST

START_TEST(test_route_replica_in_backoff_is_skipped)
{
    struct fixture f;
    fixture_init(&f);
    mr_backend_lost(&f.db.conns[1].policy, T0, "refused");
    ck_assert(!mr_db__replica_usable(&f.db, 1, T0 + 99, false));
    ck_assert(!mr_db__replica_usable(&f.db, 1, T0 + 99, true));
    ck_assert(mr_db__replica_usable(&f.db, 1, T0 + 100, false));
}
END_TEST

START_TEST(test_route_replica_with_open_breaker_is_skipped)
{
    struct fixture f;
    fixture_init(&f);
    mr_backend_failed(&f.db.conns[1].policy, T0, "timeout");
    ck_assert(mr_db__replica_usable(&f.db, 1, T0, false)); /* one failure: still closed */
    mr_backend_failed(&f.db.conns[1].policy, T0, "timeout");
    ck_assert(!mr_db__replica_usable(&f.db, 1, T0 + 999, false));
    /* After the cooldown one caller gets the half-open probe, the next does not. */
    ck_assert(mr_db__replica_usable(&f.db, 1, T0 + 1000, false));
    ck_assert(!mr_db__replica_usable(&f.db, 1, T0 + 1000, false));
}
END_TEST

START_TEST(test_route_replica_the_prober_saw_down_is_skipped)
{
    struct fixture f;
    fixture_init(&f);
    mr_backend_probed(&f.slots[1], false, T0, "refused");
    ck_assert(!mr_db__replica_usable(&f.db, 1, T0, false));
    mr_backend_probed(&f.slots[1], true, T0 + 100, NULL);
    ck_assert(mr_db__replica_usable(&f.db, 1, T0 + 100, false));
}
END_TEST

START_TEST(test_route_deadline_is_the_earlier_limit)
{
    ck_assert_int_eq(mr_db__deadline(T0, 100, 0), T0 + 100);
    ck_assert_int_eq(mr_db__deadline(T0, 100, T0 + 50), T0 + 50);
    ck_assert_int_eq(mr_db__deadline(T0, 100, T0 + 200), T0 + 100);
}
END_TEST

Suite *
route_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_route_pick_rotates_over_usable_replicas);
    tcase_add_test(tc, test_route_pick_skips_unusable_and_tried);
    tcase_add_test(tc, test_route_pick_asks_no_further_than_it_picks);
    tcase_add_test(tc, test_route_pick_without_replicas);
    tcase_add_test(tc, test_route_replica_usable_by_lag);
    tcase_add_test(tc, test_route_replica_in_backoff_is_skipped);
    tcase_add_test(tc, test_route_replica_with_open_breaker_is_skipped);
    tcase_add_test(tc, test_route_replica_the_prober_saw_down_is_skipped);
    tcase_add_test(tc, test_route_deadline_is_the_earlier_limit);
    suite_add_tcase(s, tc);
    return s;
}
