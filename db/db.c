/* SPDX-License-Identifier: BSD-2-Clause */
/* db: the worker's handle: one connection per backend (made lazily by route.c and conn.c),
 * the statements they prepare, the request deadline and the counters. Opened after fork;
 * opening connects to nothing, so a worker starts even with every database down. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "db/internal.h"

/* Checks what the config loader should already have checked: a bad value here would make
 * a timeout of zero (every call fails) or an index out of range. */
static int
check_cfg(const struct mr_db_cfg *cfg, struct mr_db_health health, struct mr_err *err)
{
    if (cfg->primary == NULL || health.slots == NULL)
        return mr_err_set(err, -EINVAL, "db: no primary or no health slots");
    if (cfg->n_replicas < 0 || cfg->n_replicas > MR_DB_MAX_REPLICAS)
        return mr_err_set(err, -EINVAL, "db: %d replicas, at most %d", cfg->n_replicas,
                          MR_DB_MAX_REPLICAS);
    if (cfg->connect_timeout_ms <= 0 || cfg->query_timeout_ms <= 0)
        return mr_err_set(err, -EINVAL, "db: timeouts must be positive");
    if (cfg->reconnect_backoff_ms <= 0 || cfg->reconnect_backoff_max_ms < cfg->reconnect_backoff_ms)
        return mr_err_set(err, -EINVAL, "db: bad reconnect backoff");
    if (cfg->breaker.failures < 1 || cfg->breaker.cooldown_ms < 0)
        return mr_err_set(err, -EINVAL, "db: bad breaker settings");
    return 0;
}

/* db/'s own statements, then the application's under their index. */
static int
build_stmts(struct mr_db *db, const struct mr_db_stmt *stmts, int n, struct mr_err *err)
{
    if (n < 0 || (n > 0 && stmts == NULL))
        return mr_err_set(err, -EINVAL, "db: %d statements", n);
    db->n_stmts = MR_DB__N_OWN + n;
    db->stmts = mr_xcalloc((size_t)db->n_stmts, sizeof(*db->stmts));
    db->names = mr_xcalloc(n > 0 ? (size_t)n : 1, sizeof(*db->names));
    db->stmts[0] = (struct mr_db__stmt){MR_DB__STMT_BEGIN, "BEGIN", "BEGIN", -1, 0};
    db->stmts[1] = (struct mr_db__stmt){MR_DB__STMT_COMMIT, "COMMIT", "COMMIT", -1, 0};
    db->stmts[2] = (struct mr_db__stmt){MR_DB__STMT_BEGIN_RR,
                                        "BEGIN ISOLATION LEVEL REPEATABLE READ", "BEGIN", -1, 0};
    db->stmts[3] = (struct mr_db__stmt){MR_DB__STMT_BEGIN_SER, "BEGIN ISOLATION LEVEL SERIALIZABLE",
                                        "BEGIN", -1, 0};
    db->stmts[4] = (struct mr_db__stmt){MR_DB__STMT_TXN_TIMEOUT,
                                        "SELECT set_config('statement_timeout', $1, true)",
                                        "statement_timeout", -1, 0};
    /* lsn.c: read-your-writes. Prepared on every role (each answers on the one it is for). */
    db->stmts[5] =
        (struct mr_db__stmt){MR_DB__STMT_LSN, "SELECT (pg_current_wal_insert_lsn() - '0/0')::int8",
                             "WAL position", -1, 1};
    db->stmts[6] =
        (struct mr_db__stmt){MR_DB__STMT_REPLAY, "SELECT (pg_last_wal_replay_lsn() - '0/0')::int8",
                             "replay position", -1, 1};
    for (int i = 0; i < n; i++) {
        if (stmts[i].name == NULL || stmts[i].sql == NULL)
            return mr_err_set(err, -EINVAL, "db: statement %d has no name or no SQL", i);
        (void)snprintf(db->names[i], sizeof(db->names[i]), "s%d", i);
        db->stmts[MR_DB__N_OWN + i] =
            (struct mr_db__stmt){db->names[i], stmts[i].sql, stmts[i].name, -1, 0};
    }
    return 0;
}

int
mr_db_open(const struct mr_db_cfg *cfg, struct mr_db_health health, const struct mr_db_stmt *stmts,
           int n_stmts, struct mr_db **out, struct mr_err *err)
{
    *out = NULL;
    int rc = check_cfg(cfg, health, err);
    if (rc != 0)
        return rc;
    struct mr_db *db = mr_xcalloc(1, sizeof(*db));
    rc = build_stmts(db, stmts, n_stmts, err);
    if (rc != 0) {
        mr_db_close(&db);
        return rc;
    }
    db->cfg = cfg;
    db->health = health;
    db->n_conns = 1 + cfg->n_replicas;
    for (int i = 0; i < db->n_conns; i++)
        db->conns[i].stats = &db->stats[i];
    rc = mr_db__conns_init(db->conns, cfg, health.slots, db->stmts, db->n_stmts, false, err);
    db->conns[0].is_primary = true;
    if (rc != 0) {
        db->n_conns = 0; /* finished already */
        mr_db_close(&db);
        return rc;
    }
    *out = db;
    return 0;
}

void
mr_db_close(struct mr_db **dbp)
{
    struct mr_db *db = *dbp;
    if (db == NULL)
        return;
    mr_db__conns_fini(db->conns, db->n_conns);
    free(db->names);
    free(db->stmts);
    free(db);
    *dbp = NULL;
}

void
mr_db_deadline(struct mr_db *db, int64_t deadline_ms)
{
    db->deadline_ms = deadline_ms;
}

void
mr_db_read_after(struct mr_db *db, uint64_t lsn)
{
    db->rw.floor = lsn;
}

uint64_t
mr_db_committed(const struct mr_db *db)
{
    return db->rw.committed;
}

const struct mr_db_stats *
mr_db_stats(const struct mr_db *db, int i)
{
    if (i < 0 || i >= db->n_conns)
        return NULL;
    return &db->stats[i];
}
