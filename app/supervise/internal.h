/* SPDX-License-Identifier: BSD-2-Clause */
/* supervise/internal: the manager's state and the calls between its files, private to
 * app/supervise. manager.c runs the loop and applies the pool and reload rules; procs.c owns
 * the process table (fork, reap, crash counting); checks.c the periodic checks (stuck
 * workers, RSS, saturation, the systemd STATUS= line). */
#ifndef MR_SUPERVISE_INTERNAL_H
#define MR_SUPERVISE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "app/board/scoreboard.h"
#include "app/config/config.h"
#include "app/module/module.h"
#include "app/serve/listen.h"
#include "app/supervise/manager.h"

#define MR_MGR_CRASH_RING 64

/* procs.c's state beyond the scoreboard's slots: the manager's other children, the spawn
 * rate window and the crash ring (emergency_restart_threshold). */
struct mr_mgr_procs {
    pid_t prober;
    int64_t prober_started_ms;
    bool prober_stop_planned; /* we sent it SIGTERM (reload, log reopen) */
    pid_t status_pid;
    int64_t status_started_ms;
    int64_t spawn_window_ms; /* start of the current 1 s spawn-rate window */
    int spawned_in_window;
    int64_t crash_times[MR_MGR_CRASH_RING];
    int crash_next;
};

/* checks.c's state: when each check last ran, and what the last STATUS= line saw. */
struct mr_mgr_checks {
    int64_t last_full_warn_ms;
    bool was_full;
    int64_t last_rss_ms;
    uint64_t prev_hist[MR_HIST_BUCKETS]; /* all routes, at the last STATUS= */
    uint64_t prev_accepted;
    int64_t last_systemd_status_ms;
    bool systemd_status_sent;
    int64_t last_watchdog_ms;
};

struct mr_mgr {
    pid_t pid;
    struct mr_cfg cfg;
    struct mr_listen *ls;
    struct mr_listen *status_ls;
    struct mr_mgr_tables tables;
    struct mr_served served;         /* what new workers serve (the current generation's build) */
    struct mr_router *status_router; /* over tables.status */
    struct mr_sb *sb;
    unsigned generation;
    int reload_target; /* workers to keep while old ones are replaced (reload.h) */
    bool stopping;
    int64_t stop_deadline_ms;
    struct mr_mgr_procs procs;
    struct mr_mgr_checks checks;
};

/* The census as the manager sees it: new means this generation, idle_expired uses
 * idle_timeout_ms. */
struct mr_sb_census mr_mgr__census(const struct mr_mgr *m, int64_t now);
/* Makes every running worker old, to be replaced one at a time down to target. */
void mr_mgr__new_generation(struct mr_mgr *m, int target);

/* procs.c */
void mr_mgr__spawn_worker(struct mr_mgr *m, int64_t now);
void mr_mgr__spawn_prober(struct mr_mgr *m, int64_t now);
void mr_mgr__spawn_status(struct mr_mgr *m, int64_t now);
/* Asks one old-generation worker to quit, an idle one if any. */
void mr_mgr__quit_one_old(struct mr_mgr *m, int64_t now);
/* Asks up to n idle workers to quit, the longest idle first. */
void mr_mgr__retire_idle(struct mr_mgr *m, int n, int64_t now);
/* Collects every exited child, logs the unplanned exits, counts crashes. */
void mr_mgr__reap(struct mr_mgr *m, int64_t now);
/* Sends sig to every worker; the prober always gets SIGTERM, the status process SIGQUIT
 * or SIGTERM. */
void mr_mgr__signal_all(struct mr_mgr *m, int sig);
/* Sends sig to every worker and the status process only. */
void mr_mgr__signal_servers(struct mr_mgr *m, int sig);
/* Stops the prober on purpose (it is restarted within a second, unlogged). */
void mr_mgr__restart_prober(struct mr_mgr *m);

/* checks.c */
void mr_mgr__watch_workers(struct mr_mgr *m, int64_t now);
void mr_mgr__sample_load(struct mr_mgr *m, int64_t now);
void mr_mgr__sample_rss(struct mr_mgr *m, int64_t now);
void mr_mgr__notify_systemd_status(struct mr_mgr *m, int64_t now);

#endif
