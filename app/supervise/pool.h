/* SPDX-License-Identifier: BSD-2-Clause */
/* pool: how many workers to start or retire, given what the manager sees. A pure function of
 * the config and a snapshot, so every pm mode's rule is unit-tested without processes.
 *   static    exactly `workers`.
 *   dynamic   keep min_spare..max_spare idle workers, start with start_servers, at most
 *             `workers` (php-fpm's pm.max_children).
 *   ondemand  none at rest; one more whenever connections wait and no worker is idle or
 *             starting; idle ones exit after idle_timeout_ms.
 *   adaptive  like ondemand above a floor of max(1, min_spare) warm workers, and growth stops
 *             while the workers' RSS sum is over max_memory_mb. */
#ifndef MR_POOL_H
#define MR_POOL_H

#include "app/config/config.h"

struct mr_pool_view {
    int total; /* live, not quitting */
    int idle;
    int starting;
    int queue;        /* connections waiting in the accept queue; -1 unknown */
    int idle_expired; /* idle workers idle longer than idle_timeout_ms */
    long rss_mb;      /* sum over the workers */
};

struct mr_pool_plan {
    int spawn;  /* workers to start now (the manager also applies max_spawn_rate) */
    int retire; /* idle workers to ask to quit */
};

struct mr_pool_plan mr_pool_plan(const struct mr_cfg *cfg, const struct mr_pool_view *v);

#endif
