/* SPDX-License-Identifier: BSD-2-Clause */
/* reload: the rule that replaces old-generation workers with new ones after a reload or an
 * emergency restart. A pure function of a census and the target, like pool.h, so that it is
 * unit-tested without processes; the manager applies one step, takes a new census and asks
 * again. With T the target: an old worker is asked to quit (SIGQUIT: finish, then exit) while
 * the serving total exceeds T; a new one is started while new ones number fewer than T and
 * the serving total is at most T. So the serving total (workers still starting included)
 * never drops below T while old ones remain. */
#ifndef MR_RELOAD_H
#define MR_RELOAD_H

#include "app/board/scoreboard.h"
#include "app/config/config.h"

enum mr_reload_step {
    MR_RELOAD_DONE,      /* no old worker serves: the pool rule (pool.h) takes over */
    MR_RELOAD_SPAWN,     /* start one worker of the current generation */
    MR_RELOAD_RETIRE_OLD /* ask one old worker to quit */
};

/* The next step, from the census's new_serving and old_serving. */
enum mr_reload_step mr_reload_next(const struct mr_sb_census *c, int target);

/* The target T for a reload to cfg while `serving` current workers serve: `workers` in
 * static mode, else as many as serve now within 1..workers (a dynamic pool keeps its size). */
int mr_reload_target(const struct mr_cfg *cfg, int serving);

#endif
