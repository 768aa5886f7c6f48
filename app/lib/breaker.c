/* SPDX-License-Identifier: BSD-2-Clause */
/* breaker: the circuit breaker's transitions. Races between workers are settled by
 * compare-and-swap on `breaker`, so exactly one worker moves OPEN -> HALF_OPEN. */
#include <stdio.h>

#include "app/lib/breaker.h"

void
mr_backend_slot_init(struct mr_backend_slot *s, const char *name)
{
    (void)snprintf(s->name, sizeof(s->name), "%s", name);
    atomic_store(&s->up, -1);
    atomic_store(&s->lag_bytes, 0);
    atomic_store(&s->lag_ms, 0);
    atomic_store(&s->probed_ms, 0);
    atomic_store(&s->up_since_ms, 0);
    atomic_store(&s->breaker, MR_BREAKER_CLOSED);
    atomic_store(&s->fails, 0);
    atomic_store(&s->open_until_ms, 0);
    atomic_store(&s->failures_total, 0);
    atomic_store(&s->opened_total, 0);
}

bool
mr_breaker_allow(struct mr_backend_slot *s, const struct mr_breaker_cfg *cfg, int64_t now_ms)
{
    if (atomic_load_explicit(&s->breaker, memory_order_relaxed) == MR_BREAKER_CLOSED)
        return true;
    int_fast64_t until = atomic_load_explicit(&s->open_until_ms, memory_order_relaxed);
    if (now_ms < until)
        return false;
    /* Cooldown over: the caller that moves open_until_ms forward is the one half-open probe.
     * Should that probe never report (its worker died), another caller claims the slot after
     * one more cooldown. */
    if (!atomic_compare_exchange_strong(&s->open_until_ms, &until, now_ms + cfg->cooldown_ms))
        return false;
    atomic_store_explicit(&s->breaker, MR_BREAKER_HALF_OPEN, memory_order_relaxed);
    return true;
}

bool
mr_breaker_routable(struct mr_backend_slot *s, const struct mr_breaker_cfg *cfg, int64_t now_ms)
{
    if (atomic_load_explicit(&s->up, memory_order_relaxed) == 0)
        return false;
    return mr_breaker_allow(s, cfg, now_ms);
}

void
mr_breaker_success(struct mr_backend_slot *s)
{
    if (atomic_load_explicit(&s->fails, memory_order_relaxed) != 0)
        atomic_store_explicit(&s->fails, 0, memory_order_relaxed);
    if (atomic_load_explicit(&s->breaker, memory_order_relaxed) != MR_BREAKER_CLOSED)
        atomic_store_explicit(&s->breaker, MR_BREAKER_CLOSED, memory_order_relaxed);
}

bool
mr_breaker_failure(struct mr_backend_slot *s, const struct mr_breaker_cfg *cfg, int64_t now_ms)
{
    atomic_fetch_add_explicit(&s->failures_total, 1, memory_order_relaxed);
    int fails = atomic_fetch_add_explicit(&s->fails, 1, memory_order_relaxed) + 1;
    int state = atomic_load_explicit(&s->breaker, memory_order_relaxed);
    if (state == MR_BREAKER_OPEN)
        return false;
    if (state == MR_BREAKER_CLOSED && fails < cfg->failures)
        return false;
    /* CLOSED at the threshold, or the HALF_OPEN probe failed: (re)open. */
    if (!atomic_compare_exchange_strong(&s->breaker, &state, MR_BREAKER_OPEN))
        return false;
    atomic_store_explicit(&s->open_until_ms, now_ms + cfg->cooldown_ms, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->opened_total, 1, memory_order_relaxed);
    return true;
}
