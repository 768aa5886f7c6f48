/* SPDX-License-Identifier: BSD-2-Clause */
/* pool: the sizing rules. Retiring is gentle (one per tick in dynamic mode) so that a short
 * lull does not throw away warm workers that the next burst needs. */
#include "app/supervise/pool.h"

static int
min_int(int a, int b)
{
    return a < b ? a : b;
}

static int
max_int(int a, int b)
{
    return a > b ? a : b;
}

/* Connections wait and nobody is free or about to be: grow by what waits, within the cap. */
static int
demand(const struct mr_cfg *cfg, const struct mr_pool_view *v)
{
    if (v->queue <= 0 || v->idle > 0 || v->starting > 0 || v->total >= cfg->workers)
        return 0;
    return min_int(v->queue, cfg->workers - v->total);
}

struct mr_pool_plan
mr_pool_plan(const struct mr_cfg *cfg, const struct mr_pool_view *v)
{
    struct mr_pool_plan p = {0, 0};
    int room = max_int(0, cfg->workers - v->total);
    switch (cfg->pm) {
    case MR_PM_STATIC:
        p.spawn = room;
        break;
    case MR_PM_DYNAMIC:
        if (v->total == 0)
            p.spawn = min_int(cfg->start_servers > 0 ? cfg->start_servers : 1, room);
        else if (v->idle + v->starting < cfg->min_spare)
            p.spawn = min_int(cfg->min_spare - v->idle - v->starting, room);
        else if (v->idle > cfg->max_spare)
            p.retire = 1;
        break;
    case MR_PM_ONDEMAND:
        p.spawn = demand(cfg, v);
        p.retire = p.spawn ? 0 : v->idle_expired;
        break;
    case MR_PM_ADAPTIVE: {
        int floor = max_int(1, min_int(cfg->min_spare, cfg->workers));
        bool over_budget = cfg->max_memory_mb > 0 && v->rss_mb >= cfg->max_memory_mb;
        if (v->total < floor)
            p.spawn = floor - v->total;
        else if (!over_budget)
            p.spawn = demand(cfg, v);
        if (p.spawn == 0)
            p.retire = min_int(v->idle_expired, max_int(0, v->total - floor));
        break;
    }
    }
    return p;
}
