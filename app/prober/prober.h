/* SPDX-License-Identifier: BSD-2-Clause */
/* prober: the one process that checks every backend on an interval (health.interval_ms) and
 * publishes the result in the scoreboard's health slots: Redis up/down; each PostgreSQL
 * backend up/down and each replica's lag in bytes and ms. Workers route by what it writes, so
 * that no worker has to probe on its own. A child of the manager; exits when the manager dies. */
#ifndef MR_PROBER_H
#define MR_PROBER_H

#include "app/config/config.h"
#include "app/board/scoreboard.h"

/* Runs until SIGTERM. Returns the process exit code. */
int mr_prober_run(const struct mr_cfg *cfg, struct mr_sb *sb);

#endif
