/* SPDX-License-Identifier: BSD-2-Clause */
/* probe: the PostgreSQL half of the prober (app/prober/), which publishes up/down for every
 * backend alike; this file answers "is backend i usable?" and writes each replica's lag into
 * its slot. Its connections are its own (no backoff, no breaker: it tries each backend once
 * per round, which is its job), with one prepared statement that answers on both roles: whether the
 * server is in recovery, and its WAL position (the current LSN on the primary, the last replayed
 * LSN on a replica).
 *
 * Lag in time without trusting clocks: each round that sees the primary's LSN move records
 * (monotonic now, LSN) in a small ring. A replica that has replayed up to R lags by
 * now - (time of the oldest sample whose LSN is > R): the primary was first seen past R then,
 * and the replica has not caught up since. A replica at or past the newest sample lags 0; a
 * replica paused while the primary is idle is still correct at 0. The estimate is short by
 * at most one probe interval, and saturates at the ring's span (64 moves).
 *
 * Primary down: no new samples, but the formula keeps running on the ones we have. A replica
 * that had replayed everything the primary was last seen to write stays at 0 and keeps
 * serving reads (the design's "primary down: reads still answer"); one that had not keeps a
 * growing lag, which is the truth about how stale it is, and drops out once past the limit.
 * Before the first primary sample (the prober started while the primary was down), lag is
 * unknown and the slot's value is left as it was (0 at start).
 *
 * A "primary" in recovery, or a "replica" that is not (promoted), is reported down: writes
 * would fail on the first, and the second's data may have diverged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/lib/clock.h"
#include "db/internal.h"

#define RING_LEN 64

struct lsn_sample {
    int64_t ms;
    int64_t lsn;
};

struct mr_db_probe {
    const struct mr_db_cfg *cfg;
    struct mr_db_health health;
    int n_conns;
    struct mr_db__conn conns[1 + MR_DB_MAX_REPLICAS];
    struct lsn_sample ring[RING_LEN]; /* oldest at ring[head], len entries */
    int head;
    int len;
};

static struct mr_db__stmt probe_stmt = {
    "mr_probe",
    "SELECT pg_is_in_recovery(), (CASE WHEN pg_is_in_recovery() "
    "THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END - '0/0')::int8",
    "probe", -1, 1};

struct probe {
    bool in_recovery;
    int64_t lsn; /* -1: NULL */
};

static int
probe_run(struct mr_db__conn *c, void *arg, int64_t deadline_ms, struct mr_err *err)
{
    struct probe *out = arg;
    int rc = mr_db__pipeline_enter(c, err);
    if (rc == 0)
        rc = mr_db__send(c, probe_stmt.name, 0, NULL, NULL, NULL, 1, err);
    if (rc == 0)
        rc = mr_db__sync(c, deadline_ms, err);
    if (rc == 0) {
        PGresult *r = NULL;
        rc = mr_db__result(c, deadline_ms, PGRES_TUPLES_OK, &r, err);
        if (rc == 0 && mr_db__get_bool(r, 0, 0, &out->in_recovery) != 0)
            rc = mr_err_set(err, -EIO, "malformed probe row");
        if (rc == 0) {
            int g = mr_db__get_int8(r, 0, 1, &out->lsn);
            if (g == -ENODATA)
                out->lsn = -1;
            else if (g != 0)
                rc = mr_err_set(err, -EIO, "malformed probe row");
        }
        PQclear(r);
    }
    return mr_db__pipeline_exit(c, deadline_ms, rc, err);
}

/* Probes backend i: connect if needed, one statement, each bounded by its timeout. */
static int
probe_one(struct mr_db_probe *p, int i, struct probe *out, struct mr_err *err)
{
    struct mr_db__conn *c = &p->conns[i];
    int rc = mr_db__conn_ready(c, 0, err);
    if (rc == 0)
        rc = probe_run(c, out, mr_db__deadline(mr_clock_ms(), p->cfg->query_timeout_ms, 0), err);
    if (rc != 0 && c->pg != NULL)
        mr_db__conn_fail(c, mr_clock_ms()); /* start afresh next round */
    if (rc == 0 && out->in_recovery != (i > 0))
        rc = mr_err_set(err, -EIO, i == 0 ? "in recovery" : "not in recovery");
    if (rc == 0 && out->lsn < 0)
        rc = mr_err_set(err, -EIO, "no WAL position");
    return rc;
}

static void
ring_push(struct mr_db_probe *p, int64_t now_ms, int64_t lsn)
{
    if (p->len > 0 && p->ring[(p->head + p->len - 1) % RING_LEN].lsn == lsn)
        return; /* not moved: the first time it was seen at this LSN is the one that counts */
    if (p->len == RING_LEN) {
        p->head = (p->head + 1) % RING_LEN;
        p->len--;
    }
    p->ring[(p->head + p->len) % RING_LEN] = (struct lsn_sample){now_ms, lsn};
    p->len++;
}

/* Lag of a replica at replay LSN `replay`; false when there is no sample to measure by. */
static bool
ring_lag(const struct mr_db_probe *p, int64_t now_ms, int64_t replay, int64_t *lag_ms,
         int64_t *lag_bytes)
{
    if (p->len == 0)
        return false;
    int64_t newest = p->ring[(p->head + p->len - 1) % RING_LEN].lsn;
    *lag_bytes = newest > replay ? newest - replay : 0;
    *lag_ms = 0;
    for (int k = 0; k < p->len; k++) {
        const struct lsn_sample *s = &p->ring[(p->head + k) % RING_LEN];
        if (s->lsn > replay) {
            *lag_ms = now_ms - s->ms;
            break;
        }
    }
    return true;
}

int
mr_db_probe_count(const struct mr_db_probe *p)
{
    return p->n_conns;
}

int
mr_db_probe_backend(struct mr_db_probe *p, int i, struct mr_err *err)
{
    if (i < 0 || i >= p->n_conns)
        return mr_err_set(err, -EINVAL, "no backend %d", i);
    struct probe pr = {false, -1};
    int rc = probe_one(p, i, &pr, err);
    if (rc != 0)
        return rc;
    int64_t lag_ms, lag_bytes;
    /* For read-your-writes (route.c): the primary's position says whether this round's
     * replica positions were read after a token's commit. */
    atomic_store_explicit(&p->health.slots[i].wal_lsn, (uint_fast64_t)pr.lsn, memory_order_relaxed);
    if (i == 0) {
        ring_push(p, mr_clock_ms(), pr.lsn);
    } else if (ring_lag(p, mr_clock_ms(), pr.lsn, &lag_ms, &lag_bytes)) {
        struct mr_backend_slot *s = &p->health.slots[i];
        atomic_store_explicit(&s->lag_ms, lag_ms, memory_order_relaxed);
        atomic_store_explicit(&s->lag_bytes, lag_bytes, memory_order_relaxed);
    }
    return 0;
}

int
mr_db_probe_open(const struct mr_db_cfg *cfg, struct mr_db_health health, struct mr_db_probe **out,
                 struct mr_err *err)
{
    *out = NULL;
    if (cfg->primary == NULL || health.slots == NULL || cfg->n_replicas < 0 ||
        cfg->n_replicas > MR_DB_MAX_REPLICAS)
        return mr_err_set(err, -EINVAL, "db probe: bad config");
    struct mr_db_probe *p = mr_xcalloc(1, sizeof(*p));
    p->cfg = cfg;
    p->health = health;
    p->n_conns = 1 + cfg->n_replicas;
    int rc = mr_db__conns_init(p->conns, cfg, health.slots, &probe_stmt, 1, true, err);
    if (rc != 0) {
        p->n_conns = 0; /* finished already */
        mr_db_probe_close(&p);
        return rc;
    }
    *out = p;
    return 0;
}

void
mr_db_probe_close(struct mr_db_probe **pp)
{
    struct mr_db_probe *p = *pp;
    if (p == NULL)
        return;
    mr_db__conns_fini(p->conns, p->n_conns);
    free(p);
    *pp = NULL;
}
