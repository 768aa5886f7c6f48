/* SPDX-License-Identifier: BSD-2-Clause */
/* db: the worker's handle: one connection per backend (made lazily by route.c and conn.c),
 * the request deadline, the counters and the update scratch. Opened after fork; opening
 * connects to nothing, so a worker starts even with every database down. */
#include <errno.h>
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

int
mr_db_open(const struct mr_db_cfg *cfg, struct mr_db_health health, struct mr_db **out,
           struct mr_err *err)
{
    *out = NULL;
    int rc = check_cfg(cfg, health, err);
    if (rc != 0)
        return rc;
    struct mr_db *db = mr_xcalloc(1, sizeof(*db));
    db->cfg = cfg;
    db->health = health;
    db->n_conns = 1 + cfg->n_replicas;
    for (int i = 0; i < db->n_conns; i++)
        db->conns[i].stats = &db->stats[i];
    rc = mr_db__conns_init(db->conns, cfg, health.slots, mr_db__stmts, mr_db__n_stmts, false, err);
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
    free(db->text);
    free(db->pairs);
    free(db);
    *dbp = NULL;
}

void
mr_db_deadline(struct mr_db *db, int64_t deadline_ms)
{
    db->deadline_ms = deadline_ms;
}

const struct mr_db_stats *
mr_db_stats(const struct mr_db *db, int i)
{
    if (i < 0 || i >= db->n_conns)
        return NULL;
    return &db->stats[i];
}
