/* SPDX-License-Identifier: BSD-2-Clause */
/* reload: the replacement rule. It spawns before it retires, so a reload never lowers capacity
 * below the target; it retires one old worker per step, so in-flight requests drain over
 * several ticks instead of all old workers leaving at once. */
#include "app/supervise/reload.h"

enum mr_reload_step
mr_reload_next(const struct mr_sb_census *c, int target)
{
    if (c->old_serving == 0)
        return MR_RELOAD_DONE;
    /* Over the target (a new worker took an old one's place, or the reload lowered
     * `workers`): one old worker goes. */
    if (c->new_serving + c->old_serving > target)
        return MR_RELOAD_RETIRE_OLD;
    /* Here new + old <= target and old > 0, so new < target: there is room for one more. */
    return MR_RELOAD_SPAWN;
}

int
mr_reload_target(const struct mr_cfg *cfg, int serving)
{
    if (cfg->pm == MR_PM_STATIC)
        return cfg->workers;
    if (serving < 1)
        return 1;
    return serving > cfg->workers ? cfg->workers : serving;
}
