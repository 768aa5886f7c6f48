/* SPDX-License-Identifier: BSD-2-Clause */
/* prober: the loop. PostgreSQL checks live in db/ (mr_db_prober_*); Redis is checked here
 * with a PING over a handle of its own, whose breaker slot is private so that the prober's
 * view never trips the workers' breaker. Each probe is bounded by the configured timeouts. */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "app/lib/signals.h"
#include "app/prober/prober.h"
#include "cache/cache.h"
#include "db/db.h"

static void
probe_redis(struct mr_cache *c, struct mr_backend_slot *slot)
{
    struct mr_err err;
    int rc = mr_cache_ping(c, &err);
    int up = rc == 0;
    int was = atomic_exchange(&slot->up, up);
    atomic_store(&slot->probed_ms, mr_clock_ms());
    if (was == up)
        return;
    char q[MR_ERR_LEN + 8];
    if (up)
        mr_log(MR_LOG_INFO, "backend_up", "backend=redis");
    else
        mr_log(MR_LOG_WARNING, "backend_down", "backend=redis err=%s",
               mr_log_quote(q, sizeof(q), err.msg));
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
    struct mr_db_prober *dbp = NULL;
    struct mr_cache *cache = NULL;
    struct mr_backend_slot own_redis_slot;
    memset(&own_redis_slot, 0, sizeof(own_redis_slot));
    mr_backend_slot_init(&own_redis_slot, "redis-prober");
    struct mr_db_health h = {.slots = sb->pg};
    if (mr_db_prober_open(&cfg->db, h, &dbp, &err) < 0 ||
        mr_cache_open(&cfg->cache, &own_redis_slot, &cache, &err) < 0) {
        mr_log(MR_LOG_ERR, "prober_failed", "err=\"%s\"", err.msg);
        mr_db_prober_close(&dbp);
        mr_cache_close(&cache);
        return 1;
    }
    for (;;) {
        int64_t start = mr_clock_ms();
        mr_db_prober_run(dbp);
        probe_redis(cache, &sb->redis);
        int64_t left = cfg->health_interval_ms - (mr_clock_ms() - start);
        if (left > 0) {
            struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L};
            (void)nanosleep(&ts, NULL);
        }
    }
}
