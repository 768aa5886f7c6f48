/* SPDX-License-Identifier: BSD-2-Clause */
/* route: which backend runs a call, and what its outcome tells the others.
 *
 * Reads go round-robin over the replicas that are usable now: lag_ms (from the prober) at
 * most max_replica_lag_ms, this worker's connection not in reconnect backoff, and the shared
 * breaker routable. A failed read tries the next usable replica once, then the primary (when
 * reads_fallback_to_primary, or always when no replica is configured), all within the
 * request's deadline. Writes go to the primary only.
 *
 * The order of the checks matters: mr_breaker_routable may make this caller the breaker's one
 * half-open probe, so it is asked last, only of a backend we will then really use, and every
 * attempt reports success or failure. Connection-level errors feed the breaker; a statement
 * error (is_fault false) counts as the backend answering. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "db/internal.h"

/* Prefixes the reason with the backend's name, so the handler's one log line says which. */
static void
name_err(struct mr_err *err, const char *name)
{
    if (err == NULL)
        return;
    struct mr_err copy = *err;
    (void)mr_err_set(err, 0, "%s: %s", name, copy.msg);
}

static void
report(struct mr_db *db, int i, int rc, struct mr_err *err)
{
    struct mr_db__conn *c = &db->conns[i];
    struct mr_backend_slot *s = c->slot;
    if (rc != 0) {
        db->stats[i].errors++;
        name_err(err, s->name);
    }
    if (rc != 0 && c->is_fault)
        mr_backend_failed(&c->policy, mr_clock_ms(), err ? err->msg : NULL);
    else
        mr_backend_ok(&c->policy);
}

/* One try on backend i: connect if needed, then fn, each bounded by its timeout and by the
 * request's deadline. */
static int
attempt(struct mr_db *db, int i, mr_db__run_fn fn, void *arg, struct mr_err *err)
{
    struct mr_db__conn *c = &db->conns[i];
    c->is_fault = false;
    c->sqlstate[0] = '\0';
    int rc = mr_db__conn_ready(c, db->deadline_ms, err);
    if (rc == 0) {
        int64_t dl = mr_db__deadline(mr_clock_ms(), db->cfg->query_timeout_ms, db->deadline_ms);
        rc = fn(c, arg, dl, err);
    }
    if (rc != 0)
        memcpy(db->sqlstate, c->sqlstate, sizeof(db->sqlstate));
    else
        db->sqlstate[0] = '\0';
    report(db, i, rc, err);
    return rc;
}

bool
mr_db__replica_usable(struct mr_db *db, int i, int64_t now_ms, bool ignore_lag)
{
    struct mr_backend_slot *s = db->conns[i].slot;
    if (!ignore_lag &&
        atomic_load_explicit(&s->lag_ms, memory_order_relaxed) > db->cfg->max_replica_lag_ms)
        return false;
    if (mr_db__conn_waiting(&db->conns[i], now_ms))
        return false;
    return mr_breaker_routable(s, &db->cfg->breaker, now_ms);
}

struct mr_db__pick_arg {
    struct mr_db *db;
    int64_t now_ms;
    bool ignore_lag;
};

static bool
replica_usable_now(void *arg, int i)
{
    struct mr_db__pick_arg *a = arg;
    return mr_db__replica_usable(a->db, i, a->now_ms, a->ignore_lag);
}

int
mr_db__next_replica(int n, int *cursor, unsigned tried, mr_db__usable_fn usable, void *arg)
{
    for (int k = 0; k < n; k++) {
        int r = (*cursor + k) % n;
        int i = 1 + r;
        if ((tried & (1u << i)) == 0 && usable(arg, i)) {
            *cursor = (r + 1) % n;
            return i;
        }
    }
    return -1;
}

/* The next usable replica not in `tried` (a bit per backend index), or -1. */
static int
pick_replica(struct mr_db *db, unsigned tried, int64_t now_ms, bool ignore_lag)
{
    struct mr_db__pick_arg a = {db, now_ms, ignore_lag};
    return mr_db__next_replica(db->cfg->n_replicas, &db->next_replica, tried, replica_usable_now,
                               &a);
}

static bool
deadline_passed(const struct mr_db *db)
{
    return db->deadline_ms != 0 && mr_clock_ms() >= db->deadline_ms;
}

/* Whether the primary may be tried now; the reason in err when not. */
static int
primary_usable(struct mr_db *db, struct mr_err *err)
{
    int64_t now = mr_clock_ms();
    if (mr_db__conn_waiting(&db->conns[0], now))
        return mr_err_set(err, -ECONNREFUSED, "primary unavailable: reconnect backoff");
    if (!mr_breaker_routable(db->conns[0].slot, &db->cfg->breaker, now))
        return mr_err_set(err, -ECONNREFUSED, "primary unavailable: down or breaker open");
    return 0;
}

/* A failure worth another backend: the backend's trouble, not ours (-ENOMEM: the arena, or
 * -EINVAL: the call). A statement the server refused for its own sake (a constraint, bad
 * input: SQLSTATE set, not a fault of the backend) fails the same way everywhere, but for
 * class 40, which on a replica is a conflict with recovery, and may pass on another. */
static bool
is_retryable(const struct mr_db *db, int rc)
{
    if (db->sqlstate[0] != '\0' && !mr_db__is_fault_sqlstate(db->sqlstate) &&
        strncmp(db->sqlstate, "40", 2) != 0)
        return false;
    return rc == -ETIMEDOUT || rc == -EIO || rc == -ECONNREFUSED;
}

int
mr_db__read(struct mr_db *db, mr_db__run_fn fn, void *arg, struct mr_err *err)
{
    unsigned tried = 0;
    int rc = 0;
    for (int k = 0; k < 2; k++) {
        if (deadline_passed(db))
            return rc != 0 ? rc : mr_err_set(err, -ETIMEDOUT, "deadline passed");
        int i = pick_replica(db, tried, mr_clock_ms(), false);
        if (i < 0)
            break;
        tried |= 1u << i;
        rc = attempt(db, i, fn, arg, err);
        if (rc == 0 || !is_retryable(db, rc))
            return rc;
    }
    if (db->cfg->n_replicas > 0 && !db->cfg->reads_fallback_to_primary)
        return rc != 0 ? rc : mr_err_set(err, -ECONNREFUSED, "no usable replica");
    if (deadline_passed(db))
        return rc != 0 ? rc : mr_err_set(err, -ETIMEDOUT, "deadline passed");
    /* A replica's failure is the better reason when the primary is not even tried. */
    struct mr_err why;
    int prc = primary_usable(db, rc != 0 ? &why : err);
    if (prc == 0) {
        rc = attempt(db, 0, fn, arg, err);
        if (rc == 0 || !is_retryable(db, rc) || deadline_passed(db))
            return rc;
    }
    /* The primary is out too. A replica past the lag limit is the only source left, and its
     * lag cannot shrink while the primary is away: without this, a primary outage under
     * write load would become a read outage. Its answer may be up to its lag old. */
    int i = pick_replica(db, tried, mr_clock_ms(), true);
    if (i < 0)
        return rc != 0 ? rc : prc;
    return attempt(db, i, fn, arg, err);
}

/* Read-your-writes: a replica serves a token's read only when it has replayed the token.
 * What this worker knows of a replica's position: the prober's (every health interval) or its
 * own last guard's answer, whichever is further. */
static bool
replica_reached(struct mr_db *db, int i, uint64_t lsn)
{
    uint64_t seen = atomic_load_explicit(&db->conns[i].slot->wal_lsn, memory_order_relaxed);
    return seen >= lsn || db->conns[i].replay_lsn >= lsn;
}

struct reached_arg {
    struct mr_db *db;
    int64_t now_ms;
};

static bool
reached_usable(void *arg, int i)
{
    struct reached_arg *a = arg;
    return replica_reached(a->db, i, a->db->rw.floor) &&
           mr_db__replica_usable(a->db, i, a->now_ms, false);
}

/* The prober read the replicas' positions after the primary's in each round: once that is at
 * or past the token, the token's commit came before, and a replica not at the token then is
 * really behind; asking it again would only cost a wasted read. Before that (a token younger
 * than the last round, the usual case for the read right after a write) the prober cannot
 * know, so the replica itself is asked. */
static bool
prober_predates(const struct mr_db *db, uint64_t lsn)
{
    return atomic_load_explicit(&db->conns[0].slot->wal_lsn, memory_order_relaxed) < lsn;
}

/* The guard rides in the same pipeline as the reads, ahead of them, so a replica that has
 * caught up costs no extra round trip; one that has not runs reads whose results are dropped
 * (cheaper, for the reads a web request makes, than a round trip more for every token read,
 * and no error in the server's log as a failing guard would leave). */
static int
ask_replica(struct mr_db *db, int i, mr_db__run_fn fn, void *arg, struct mr_err *err)
{
    db->rw.ask = true;
    db->rw.behind = false;
    int rc = attempt(db, i, fn, arg, err);
    db->rw.ask = false;
    return rc;
}

int
mr_db__read_after(struct mr_db *db, mr_db__run_fn fn, void *arg, struct mr_err *err)
{
    unsigned tried = 0;
    int rc = 0;
    struct reached_arg ra = {db, mr_clock_ms()};
    int i = mr_db__next_replica(db->cfg->n_replicas, &db->next_replica, tried, reached_usable, &ra);
    if (i >= 0) {
        tried |= 1u << i;
        rc = attempt(db, i, fn, arg, err);
        if (rc == 0 || !is_retryable(db, rc))
            return rc;
    }
    if (prober_predates(db, db->rw.floor) && !deadline_passed(db) &&
        (i = pick_replica(db, tried, mr_clock_ms(), false)) >= 0) {
        rc = ask_replica(db, i, fn, arg, err);
        bool behind = db->rw.behind;
        db->rw.behind = false;
        if (rc == 0 && !behind)
            return 0;
        if (rc != 0 && !is_retryable(db, rc))
            return rc;
        rc = behind ? 0 : rc;
    }
    /* The primary has every commit. Also when reads_fallback_to_primary is off: these are the
     * reads no replica can answer correctly yet. Never a replica short of the token, even with
     * the primary down: the caller asked to see its write. */
    if (deadline_passed(db))
        return rc != 0 ? rc : mr_err_set(err, -ETIMEDOUT, "deadline passed");
    struct mr_err why;
    int prc = primary_usable(db, rc != 0 ? &why : err);
    if (prc != 0)
        return rc != 0 ? rc : prc;
    return attempt(db, 0, fn, arg, err);
}

int
mr_db__write(struct mr_db *db, mr_db__run_fn fn, void *arg, struct mr_err *err)
{
    if (deadline_passed(db))
        return mr_err_set(err, -ETIMEDOUT, "deadline passed");
    int rc = primary_usable(db, err);
    return rc != 0 ? rc : attempt(db, 0, fn, arg, err);
}
