/* SPDX-License-Identifier: BSD-2-Clause */
/* db: PostgreSQL for one worker process. Persistent connections to the primary and to each
 * replica, opened after fork, with prepared statements; reads go to a healthy replica whose
 * lag is under the limit (round-robin), else to the primary when configured; writes only to
 * the primary. Multi-row work uses libpq pipeline mode: one round trip per call.
 *
 * Every call is bounded: by query_timeout_ms and by the deadline set with mr_db_deadline,
 * whichever comes first. A connection that failed is closed and reopened on a later call
 * after a backoff, never on every request. Failures feed the shared circuit breakers.
 * No libpq type crosses this header. */
#ifndef MR_DB_H
#define MR_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/lib/arena.h"
#include "app/lib/err.h"
#include "app/lib/breaker.h"

#define MR_DB_MAX_REPLICAS 8

struct mr_db;

struct mr_db_cfg {
    const char *primary;                      /* libpq connection string */
    const char *replicas[MR_DB_MAX_REPLICAS]; /* libpq connection strings */
    int n_replicas;
    int connect_timeout_ms;
    int query_timeout_ms;
    int max_replica_lag_ms;
    bool reads_fallback_to_primary; /* no usable replica: read the primary */
    int reconnect_backoff_ms;       /* first wait after a failure; doubles */
    int reconnect_backoff_max_ms;
    struct mr_breaker_cfg breaker;
};

/* Shared health slots, indexed like the backends: [0] primary, [1..n_replicas] replicas. */
struct mr_db_health {
    struct mr_backend_slot *slots; /* n_replicas + 1 slots in shared memory */
};

struct mr_world {
    int32_t id;
    int32_t randomnumber;
};

struct mr_fortune {
    int32_t id;
    const char *message; /* in the caller's arena */
    size_t message_len;
};

/* Per-backend counters kept by this worker (for /metrics, summed by the reader). */
struct mr_db_stats {
    uint64_t queries; /* statements sent (a pipeline of 20 counts 20) */
    uint64_t errors;  /* calls that failed (timeouts included) */
};

/* Opens nothing yet: connections are made on first use (so a worker starts even with every
 * database down). cfg and health must outlive the handle. Returns 0 or -ENOMEM/-EINVAL. */
MR_MUST_CHECK int mr_db_open(const struct mr_db_cfg *cfg, struct mr_db_health health,
                             struct mr_db **out, struct mr_err *err);
/* Closes every connection and frees the handle; sets *db to NULL. */
void mr_db_close(struct mr_db **db);

/* Sets the absolute monotonic deadline (ms, app/clock.h) for the calls of the current
 * request; 0 removes it. */
void mr_db_deadline(struct mr_db *db, int64_t deadline_ms);

/* n World rows, one statement each, pipelined in one round trip on one backend. out[i]
 * matches ids[i]; a missing row gives out[i].id = 0. */
MR_MUST_CHECK int mr_db_worlds_get(struct mr_db *db, const int32_t *ids, size_t n,
                                   struct mr_world *out, struct mr_err *err);
/* Every Fortune row, messages copied into arena. */
MR_MUST_CHECK int mr_db_fortunes_get(struct mr_db *db, struct mr_arena *arena,
                                     struct mr_fortune **out, size_t *n, struct mr_err *err);
/* The TechEmpower update on the primary only: reads each row, then writes rows[i].randomnumber
 * for every rows[i].id, in one pipeline (one round trip) and one transaction. Returns 0 only
 * when the write committed. -ECONNREFUSED when the primary is unusable. */
MR_MUST_CHECK int mr_db_worlds_update(struct mr_db *db, const struct mr_world *rows, size_t n,
                                      struct mr_err *err);

/* This worker's counters for backend i (0 primary, 1.. replicas). */
const struct mr_db_stats *mr_db_stats(const struct mr_db *db, int i);

/* ---- The probe, for the prober (app/prober/), which publishes what it answers ---- */

struct mr_db_probe;

/* Connects nothing yet; its connections never back off and feed no breaker. health's slots
 * receive only the replicas' lag. Returns 0 or -EINVAL. */
MR_MUST_CHECK int mr_db_probe_open(const struct mr_db_cfg *cfg, struct mr_db_health health,
                                   struct mr_db_probe **out, struct mr_err *err);
/* Backends to probe each round: 1 + n_replicas, indexed like the health slots. */
int mr_db_probe_count(const struct mr_db_probe *p);
/* Probes backend i: connects if needed (bounded by connect_timeout_ms), then one statement
 * (query_timeout_ms). On the primary it samples pg_current_wal_lsn(); on a replica it reads
 * pg_last_wal_replay_lsn() and writes lag_bytes/lag_ms into slot i, measured against the
 * primary's samples, so probe 0 first in each round. Returns 0 when the backend is usable in
 * its role, else -ECONNREFUSED/-ETIMEDOUT/-EIO with the reason in err (a primary in recovery
 * or a promoted replica is not usable). Logs nothing. */
MR_MUST_CHECK int mr_db_probe_backend(struct mr_db_probe *p, int i, struct mr_err *err);
void mr_db_probe_close(struct mr_db_probe **p);

#endif
