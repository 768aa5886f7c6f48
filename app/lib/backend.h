/* SPDX-License-Identifier: BSD-2-Clause */
/* backend: the one failure policy of a backend connection, shared by db/ and cache/. Per
 * connection: a reconnect backoff that doubles from a minimum to a cap, void as soon as the
 * prober has seen the backend come back; the reports of each call into the shared breaker
 * slot; and the state-change lines (conn_lost, conn_restored, breaker_open, breaker_closed,
 * and the prober's backend_up/backend_down), formatted here and nowhere else.
 *
 * The client keeps its connection (PGconn, redisContext) and decides what a failure is; this
 * module only decides what follows from it. A policy with no breaker config is a probe's: it
 * never backs off, feeds no breaker and logs nothing (the prober logs through
 * mr_backend_probed). */
#ifndef MR_BACKEND_H
#define MR_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "app/lib/breaker.h"

struct mr_backend_policy {
    struct mr_backend_slot *slot;         /* shared health; its name names the backend */
    const struct mr_breaker_cfg *breaker; /* NULL: a probe's connection */
    int backoff_min_ms;                   /* 0: no backoff */
    int backoff_max_ms;
    int backoff_ms;       /* the wait armed by the next failure */
    int64_t retry_at_ms;  /* closed: no connect attempt before this */
    int64_t failed_at_ms; /* when that backoff was armed */
    bool is_down;         /* conn_lost logged and conn_restored not yet */
    /* Log conn_lost/conn_restored per connection (cache/: a worker's one Redis link). Off for
     * db/, whose outages the prober's backend_down/backend_up lines tell once for the pool. */
    bool is_conn_logged;
};

/* The caller owns p; slot and breaker (may be NULL) must outlive it. is_conn_logged starts
 * false. */
void mr_backend_policy_init(struct mr_backend_policy *p, struct mr_backend_slot *slot,
                            const struct mr_breaker_cfg *breaker, int backoff_min_ms,
                            int backoff_max_ms);

/* Must a closed connection wait before connecting? True while the backoff runs, unless the
 * prober has seen the backend come up (slot up_since_ms) after the failure that armed it. */
bool mr_backend_waiting(const struct mr_backend_policy *p, int64_t now_ms);
/* Time left of the backoff, 0 when none. */
int64_t mr_backend_wait_ms(const struct mr_backend_policy *p, int64_t now_ms);

/* The connection is gone (closed after a failure, or a connect failed): arms the backoff,
 * doubles the next one up to the cap, and logs conn_lost once per outage (is_conn_logged).
 * reason may be NULL. */
void mr_backend_lost(struct mr_backend_policy *p, int64_t now_ms, const char *reason);
/* The connection was closed for no fault of the backend (found stale while idle): the next
 * call may connect at once. */
void mr_backend_retry_now(struct mr_backend_policy *p);
/* A call failed in a way that indicts the backend: counts into the breaker, logs
 * breaker_open when this call opened it. */
void mr_backend_failed(struct mr_backend_policy *p, int64_t now_ms, const char *reason);
/* The backend answered: resets the backoff, closes the breaker (breaker_closed when it was
 * not closed), and logs conn_restored after a conn_lost. */
void mr_backend_ok(struct mr_backend_policy *p);

/* The prober's verdict on one backend: publishes up and probed_ms, and logs a change once.
 * Back from down, it sets up_since_ms (voiding every worker's backoff) and closes the breaker:
 * the cooldown was for the outage the prober has just seen end. reason may be NULL. */
void mr_backend_probed(struct mr_backend_slot *s, bool is_up, int64_t now_ms, const char *reason);

#endif
