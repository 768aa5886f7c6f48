/* SPDX-License-Identifier: BSD-2-Clause */
/* backend: the reconnect backoff, the breaker reports and the state-change log lines of every
 * backend connection (see backend.h). Per-connection state is the caller's and unshared; only
 * the slot is shared memory, touched with relaxed atomics as breaker.c does. */
#include <stdio.h>
#include <unistd.h>

#include "app/lib/backend.h"
#include "app/lib/err.h"
#include "app/lib/log.h"

void
mr_backend_policy_init(struct mr_backend_policy *p, struct mr_backend_slot *slot,
                       const struct mr_breaker_cfg *breaker, int backoff_min_ms, int backoff_max_ms)
{
    p->slot = slot;
    p->breaker = breaker;
    p->backoff_min_ms = backoff_min_ms;
    p->backoff_max_ms = backoff_max_ms;
    p->backoff_ms = backoff_min_ms;
    p->retry_at_ms = 0;
    p->failed_at_ms = 0;
    p->is_down = false;
    p->is_conn_logged = false;
}

bool
mr_backend_waiting(const struct mr_backend_policy *p, int64_t now_ms)
{
    if (now_ms >= p->retry_at_ms)
        return false;
    /* A restarted backend is used at once, not after up to backoff_max_ms. */
    return atomic_load_explicit(&p->slot->up_since_ms, memory_order_relaxed) <= p->failed_at_ms;
}

int64_t
mr_backend_wait_ms(const struct mr_backend_policy *p, int64_t now_ms)
{
    return mr_backend_waiting(p, now_ms) ? p->retry_at_ms - now_ms : 0;
}

void
mr_backend_lost(struct mr_backend_policy *p, int64_t now_ms, const char *reason)
{
    p->retry_at_ms = now_ms + p->backoff_ms;
    p->failed_at_ms = now_ms;
    p->backoff_ms = p->backoff_ms > p->backoff_max_ms / 2 ? p->backoff_max_ms : p->backoff_ms * 2;
    if (p->breaker == NULL || !p->is_conn_logged || p->is_down)
        return;
    p->is_down = true;
    char q[MR_ERR_LEN + 8];
    mr_log(MR_LOG_WARNING, "conn_lost", "pid=%d backend=%s retry_ms=%d err=%s", (int)getpid(),
           p->slot->name, (int)(p->retry_at_ms - now_ms),
           mr_log_quote(q, sizeof(q), reason != NULL ? reason : ""));
}

void
mr_backend_retry_now(struct mr_backend_policy *p)
{
    p->retry_at_ms = 0;
}

void
mr_backend_failed(struct mr_backend_policy *p, int64_t now_ms, const char *reason)
{
    if (p->breaker == NULL || !mr_breaker_failure(p->slot, p->breaker, now_ms))
        return;
    char q[MR_ERR_LEN + 8];
    mr_log(MR_LOG_WARNING, "breaker_open", "pid=%d backend=%s cooldown_ms=%d err=%s", (int)getpid(),
           p->slot->name, p->breaker->cooldown_ms,
           mr_log_quote(q, sizeof(q), reason != NULL ? reason : ""));
}

void
mr_backend_ok(struct mr_backend_policy *p)
{
    p->backoff_ms = p->backoff_min_ms;
    if (p->breaker == NULL)
        return;
    int was = atomic_load_explicit(&p->slot->breaker, memory_order_relaxed);
    mr_breaker_success(p->slot);
    if (was != MR_BREAKER_CLOSED)
        mr_log(MR_LOG_INFO, "breaker_closed", "pid=%d backend=%s", (int)getpid(), p->slot->name);
    if (p->is_down) {
        p->is_down = false;
        mr_log(MR_LOG_INFO, "conn_restored", "pid=%d backend=%s", (int)getpid(), p->slot->name);
    }
}

void
mr_backend_probed(struct mr_backend_slot *s, bool is_up, int64_t now_ms, const char *reason)
{
    int up = is_up ? 1 : 0;
    int was = atomic_exchange_explicit(&s->up, up, memory_order_relaxed);
    atomic_store_explicit(&s->probed_ms, now_ms, memory_order_relaxed);
    if (was == up)
        return;
    if (up) {
        /* Not on the first probe (was -1): no outage has been seen to end. */
        if (was == 0)
            mr_breaker_success(s);
        atomic_store_explicit(&s->up_since_ms, now_ms, memory_order_relaxed);
        mr_log(MR_LOG_INFO, "backend_up", "backend=%s", s->name);
        return;
    }
    char q[MR_ERR_LEN + 8];
    mr_log(MR_LOG_WARNING, "backend_down", "backend=%s err=%s", s->name,
           mr_log_quote(q, sizeof(q), reason != NULL ? reason : ""));
}
