/* SPDX-License-Identifier: BSD-2-Clause */
/* breaker: the circuit breaker, and what every process knows about each backend (Redis, the
 * PostgreSQL primary, each replica), in shared memory. The prober writes `up`, the lag fields and
 * the probe time; every worker reads them to route, and reports its own failures into the circuit
 * breaker, so that one worker's discovery spares the others. All fields are C11 atomics, relaxed:
 * they are hints for routing, never the guard of another memory access.
 *
 * db/ and cache/ include this header (and otherwise only app/lib/): it holds no FastCGI and
 * no library type, only the shared numbers. */
#ifndef MR_BREAKER_H
#define MR_BREAKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MR_BACKEND_NAME 32

enum mr_breaker_state {
    MR_BREAKER_CLOSED = 0,    /* traffic flows */
    MR_BREAKER_OPEN = 1,      /* skip the backend until open_until_ms */
    MR_BREAKER_HALF_OPEN = 2, /* one request is probing it */
};

struct mr_backend_slot {
    char name[MR_BACKEND_NAME];      /* "redis", "primary", "replica1", ...; set before fork */
    atomic_int up;                   /* prober: 1 up, 0 down, -1 not probed yet */
    atomic_int_fast64_t lag_bytes;   /* prober, replicas: primary WAL LSN - replay LSN */
    atomic_int_fast64_t lag_ms;      /* prober, replicas: time since the primary was where the
                                        replica is now; 0 when caught up */
    atomic_uint_fast64_t wal_lsn;    /* prober: the primary's WAL position, a replica's replayed
                                        one, at the last good probe; 0 unknown (read-your-writes) */
    atomic_int_fast64_t probed_ms;   /* prober: monotonic time of the last probe */
    atomic_int_fast64_t up_since_ms; /* prober: when it last saw the backend come up; a
                                        worker's reconnect backoff older than this is void */
    atomic_int breaker;              /* enum mr_breaker_state */
    atomic_int fails;                /* consecutive failures seen by workers */
    atomic_int_fast64_t open_until_ms;
    atomic_uint_fast64_t failures_total; /* every failure reported, for /metrics */
    atomic_uint_fast64_t opened_total;   /* times the breaker opened */
};

struct mr_breaker_cfg {
    int failures;    /* consecutive failures that open the breaker */
    int cooldown_ms; /* how long it stays open before one request may probe */
};

/* Sets the name and the unknown state. Before fork. */
void mr_backend_slot_init(struct mr_backend_slot *s, const char *name);

/* May a request use this backend now? False while the breaker is open. After the cooldown
 * exactly one caller gets true (it becomes the half-open probe); the others keep false until
 * that probe reports. The prober's `up` is not consulted here: see mr_breaker_routable. */
bool mr_breaker_allow(struct mr_backend_slot *s, const struct mr_breaker_cfg *cfg, int64_t now_ms);
/* allow() and the prober does not say the backend is down. */
bool mr_breaker_routable(struct mr_backend_slot *s, const struct mr_breaker_cfg *cfg,
                         int64_t now_ms);
/* A call to the backend succeeded: closes the breaker. */
void mr_breaker_success(struct mr_backend_slot *s);
/* A call failed or timed out: counts, and opens the breaker at cfg->failures in a row. Returns
 * true when this call opened it (the caller may log the state change, once). */
bool mr_breaker_failure(struct mr_backend_slot *s, const struct mr_breaker_cfg *cfg,
                        int64_t now_ms);

#endif
