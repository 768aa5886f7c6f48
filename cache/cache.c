/* SPDX-License-Identifier: BSD-2-Clause */
/* cache: the handle's lifetime. Opening connects nothing (conn.c connects on first use), so
 * a worker starts even while Redis is down; it only checks the config and seeds the RNG.
 * The handle lives as long as the worker; close frees the connection and the scratch
 * buffers and is safe to call twice. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/lib/arena.h"
#include "cache/internal.h"

static int
check_cfg(const struct mr_cache_cfg *cfg, struct mr_err *err)
{
    if (cfg->host == NULL || cfg->host[0] == '\0')
        return mr_err_set(err, -EINVAL, "cache: host is empty");
    if (cfg->host[0] != '/' && (cfg->port <= 0 || cfg->port > 65535))
        return mr_err_set(err, -EINVAL, "cache: port %d out of range", cfg->port);
    if (cfg->connect_timeout_ms <= 0 || cfg->command_timeout_ms <= 0)
        return mr_err_set(err, -EINVAL, "cache: timeouts must be positive");
    if (cfg->ttl_ms <= 0)
        return mr_err_set(err, -EINVAL, "cache: ttl_ms must be positive");
    if (cfg->ttl_jitter_pct < 0 || cfg->ttl_jitter_pct > 100)
        return mr_err_set(err, -EINVAL, "cache: ttl_jitter_pct must be in [0, 100]");
    if (cfg->reconnect_backoff_ms <= 0 || cfg->reconnect_backoff_max_ms < cfg->reconnect_backoff_ms)
        return mr_err_set(err, -EINVAL, "cache: reconnect backoff must be 0 < first <= max");
    return 0;
}

int
mr_cache_open(const struct mr_cache_cfg *cfg, struct mr_backend_slot *health, struct mr_cache **out,
              struct mr_err *err)
{
    *out = NULL;
    int rc = check_cfg(cfg, err);
    if (rc < 0)
        return rc;
    struct mr_cache *c = mr_xcalloc(1, sizeof(*c));
    c->cfg = cfg;
    c->health = health;
    c->prefix_len = cfg->key_prefix != NULL ? strlen(cfg->key_prefix) : 0;
    mr_backend_policy_init(&c->policy, health, &cfg->breaker, cfg->reconnect_backoff_ms,
                           cfg->reconnect_backoff_max_ms);
    c->policy.is_conn_logged = true;
    mr_rand_init(&c->rng);
    *out = c;
    return 0;
}

void
mr_cache_close(struct mr_cache **cp)
{
    struct mr_cache *c = *cp;
    if (c == NULL)
        return;
    mr_cache__conn_drop(c);
    mr_cache__track_close(c);
    mr_cache_l1_free(&c->l1);
    mr_cache__scratch_fini(&c->scratch);
    free(c);
    *cp = NULL;
}

void
mr_cache_deadline(struct mr_cache *c, int64_t deadline_ms)
{
    c->deadline_ms = deadline_ms;
}

int
mr_cache_local_open(struct mr_cache *c, struct mr_err *err)
{
    if (c->l1 != NULL || c->cfg->l1_bytes <= 0)
        return 0;
    return mr_cache_l1_new((size_t)c->cfg->l1_bytes, (size_t)c->cfg->l1_slot_bytes, &c->l1, err);
}

void
mr_cache_local_drop(struct mr_cache *c, const char *key, size_t key_len)
{
    if (c->l1 != NULL)
        (void)mr_cache_l1_del(c->l1, key, key_len, false);
}

void
mr_cache_local_take(struct mr_cache *c, struct mr_cache_l1_stats *d)
{
    *d = (struct mr_cache_l1_stats){0};
    if (c->l1 == NULL)
        return;
    const struct mr_cache_l1_stats *s = mr_cache_l1_stats(c->l1);
    struct mr_cache_l1_stats *t = &c->l1_taken;
    *d = (struct mr_cache_l1_stats){s->hits - t->hits, s->misses - t->misses,
                                    s->evictions - t->evictions,
                                    s->invalidations - t->invalidations, s->flushes - t->flushes};
    *t = *s;
}

const struct mr_cache_stats *
mr_cache_stats(const struct mr_cache *c)
{
    return &c->stats;
}
