/* SPDX-License-Identifier: BSD-2-Clause */
/* prober: the loop, and one verdict path for every backend. Each client answers "usable?"
 * with its own library (db/'s mr_db_probe_backend over libpq, cache/'s mr_cache_ping over a
 * Redis handle of its own, whose breaker slot is private so that the prober's view never
 * trips the workers' breaker); mr_backend_probed then publishes the answer the same way for
 * all of them: up/down, and on recovery up_since_ms and a closed breaker. Each probe is
 * bounded by the configured timeouts. */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/lib/backend.h"
#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "app/lib/signals.h"
#include "app/prober/prober.h"
#include "cache/cache.h"
#include "db/db.h"

/* One probe round: PostgreSQL first (the primary before the replicas, as the lag measure
 * wants), then Redis. */
static void
probe_round(struct mr_db_probe *dbp, struct mr_cache *cache, struct mr_sb *sb)
{
    struct mr_err err;
    for (int i = 0; i < mr_db_probe_count(dbp); i++) {
        err.msg[0] = '\0';
        int rc = mr_db_probe_backend(dbp, i, &err);
        mr_backend_probed(&sb->pg[i], rc == 0, mr_clock_ms(), err.msg);
    }
    err.msg[0] = '\0';
    int rc = mr_cache_ping(cache, &err);
    mr_backend_probed(&sb->redis, rc == 0, mr_clock_ms(), err.msg);
}

/* The manager stops the prober with SIGTERM; reloads and log reopening are not its business. */
static const struct mr_signal_rule prober_signals[] = {
    {SIGTERM, SIG_DFL}, {SIGINT, SIG_DFL},  {SIGCHLD, SIG_DFL}, {SIGPIPE, SIG_IGN},
    {SIGHUP, SIG_IGN},  {SIGQUIT, SIG_IGN}, {SIGUSR1, SIG_IGN}, {SIGUSR2, SIG_IGN},
};

int
mr_prober_run(const struct mr_cfg *cfg, struct mr_sb *sb)
{
    mr_signals_install(prober_signals, sizeof(prober_signals) / sizeof(prober_signals[0]), 0, NULL);

    struct mr_err err;
    struct mr_db_probe *dbp = NULL;
    struct mr_cache *cache = NULL;
    struct mr_backend_slot own_redis_slot;
    memset(&own_redis_slot, 0, sizeof(own_redis_slot));
    mr_backend_slot_init(&own_redis_slot, "redis-prober");
    struct mr_db_health h = {.slots = sb->pg};
    if (mr_db_probe_open(&cfg->db, h, &dbp, &err) < 0 ||
        mr_cache_open(&cfg->cache, &own_redis_slot, &cache, &err) < 0) {
        mr_log(MR_LOG_ERR, "prober_failed", "err=\"%s\"", err.msg);
        mr_db_probe_close(&dbp);
        mr_cache_close(&cache);
        return 1;
    }
    for (;;) {
        int64_t start = mr_clock_ms();
        probe_round(dbp, cache, sb);
        int64_t left = cfg->health_interval_ms - (mr_clock_ms() - start);
        if (left > 0) {
            struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L};
            (void)nanosleep(&ts, NULL);
        }
    }
}
