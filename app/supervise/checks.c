/* SPDX-License-Identifier: BSD-2-Clause */
/* checks: what the manager looks at every tick besides the pool size. The watchdog kills a
 * worker stuck past its limits; RSS is sampled from /proc once a second (the adaptive mode's
 * memory budget and /status read it); the accept queue and busy workers are sampled, with a
 * warning when the pool is saturated; and systemd gets WATCHDOG=1 and a STATUS= line. Each
 * check only reads the scoreboard and signals processes; reaping is procs.c's. */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "app/lib/notify.h"
#include "app/supervise/internal.h"

#define STARTING_LIMIT_MS 10000

static void
kill_stuck(struct mr_mgr *m, struct mr_sb_worker *w, int slot, const char *why, int64_t ms)
{
    char uri[160];
    (void)mr_log_quote(uri, sizeof(uri), w->uri);
    mr_log(MR_LOG_ERR, "worker_killed", "worker=%d pid=%d reason=%s method=%s uri=%s ms=%lld", slot,
           atomic_load(&w->pid), why, w->method, uri, (long long)ms);
    atomic_store(&w->quitting, 1); /* planned: no second log line at reap */
    atomic_fetch_add(&m->sb->pool.killed_timeout, 1);
    (void)kill(atomic_load(&w->pid), SIGKILL);
}

static void
watch_one(struct mr_mgr *m, int slot, int64_t now)
{
    const struct mr_cfg *c = &m->cfg;
    struct mr_sb_worker *w = &m->sb->workers[slot];
    pid_t pid = atomic_load(&w->pid);
    int state = atomic_load(&w->state);
    int64_t busy_ms = (mr_clock_us() - atomic_load(&w->req_start_us)) / 1000;
    if (atomic_load(&w->quitting)) {
        if (now - atomic_load(&w->started_ms) > c->process_control_timeout_ms)
            (void)kill(pid, SIGKILL);
    } else if (state == MR_W_STARTING) {
        if (now - atomic_load(&w->started_ms) > STARTING_LIMIT_MS)
            kill_stuck(m, w, slot, "start_timeout", now - atomic_load(&w->started_ms));
    } else if (state == MR_W_READING) {
        /* libfcgi's reads time out per read; this catches a client dripping bytes. */
        if (busy_ms > c->read_timeout_ms + 1000)
            kill_stuck(m, w, slot, "read_timeout", busy_ms);
    } else if (state == MR_W_BUSY || state == MR_W_FINISHING) {
        if (c->request_terminate_timeout_ms > 0 && busy_ms > c->request_terminate_timeout_ms)
            kill_stuck(m, w, slot, "request_terminate_timeout", busy_ms);
    }
}

void
mr_mgr__watch_workers(struct mr_mgr *m, int64_t now)
{
    for (int i = mr_sb_next_live(m->sb, -1); i >= 0; i = mr_sb_next_live(m->sb, i)) {
        watch_one(m, i, now);
    }
}

void
mr_mgr__sample_rss(struct mr_mgr *m, int64_t now)
{
    if (now - m->checks.last_rss_ms < 1000)
        return;
    m->checks.last_rss_ms = now;
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    for (int i = mr_sb_next_live(m->sb, -1); i >= 0; i = mr_sb_next_live(m->sb, i)) {
        struct mr_sb_worker *w = &m->sb->workers[i];
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/statm", (int)atomic_load(&w->pid));
        FILE *f = fopen(path, "re");
        long size = 0, resident = 0;
        if (f != NULL) {
            if (fscanf(f, "%ld %ld", &size, &resident) == 2)
                atomic_store(&w->rss_kb, resident * page_kb);
            (void)fclose(f);
        }
    }
}

/* Samples the accept queue and busy workers, and says so when the pool is saturated: every
 * worker busy while connections wait. php-fpm's "server reached pm.max_children" is its most
 * reported warning; here it carries the numbers and repeats at most every 10 s, and
 * /metrics counts each episode. */
void
mr_mgr__sample_load(struct mr_mgr *m, int64_t now)
{
    struct mr_sb_pool *p = &m->sb->pool;
    int q = mr_listen_queue_len(m->ls);
    if (q >= 0) {
        atomic_store(&p->listen_queue, q);
        if (q > atomic_load(&p->max_listen_queue))
            atomic_store(&p->max_listen_queue, q);
    }
    struct mr_sb_census c = mr_mgr__census(m, now);
    int active = c.active, total = c.serving;
    if (active > atomic_load(&p->max_active))
        atomic_store(&p->max_active, active);
    /* Saturated: connections wait, every worker is busy, and the pool may not grow, because
     * it is at `workers` or (adaptive) over its memory budget. */
    long rss_mb = c.rss_kb / 1024;
    bool over_budget =
        m->cfg.pm == MR_PM_ADAPTIVE && m->cfg.max_memory_mb > 0 && rss_mb >= m->cfg.max_memory_mb;
    bool full = q > 0 && active >= total && (total >= m->cfg.workers || over_budget);
    if (full && !m->checks.was_full)
        atomic_fetch_add(&p->max_children_reached, 1);
    if (full && now - m->checks.last_full_warn_ms >= 10000) {
        m->checks.last_full_warn_ms = now;
        mr_log(MR_LOG_WARNING, "max_children_reached",
               "limit=%s workers=%d active=%d listen_queue=%d rss_mb=%ld max_memory_mb=%d "
               "action=\"raise %s if this persists\"",
               over_budget ? "max_memory_mb" : "workers", m->cfg.workers, active, q, rss_mb,
               m->cfg.max_memory_mb, over_budget ? "max_memory_mb" : "workers");
    }
    m->checks.was_full = full;
}

/* Requests per second and P99 over the last interval, from the difference between two
 * snapshots of the routes' histograms: what `systemctl status` shows. */
static void
systemd_status_line(struct mr_mgr *m, int64_t now, char *line, size_t cap)
{
    struct mr_mgr_checks *k = &m->checks;
    int64_t interval_ms = now - k->last_systemd_status_ms;
    atomic_uint_fast64_t delta[MR_HIST_BUCKETS];
    for (int b = 0; b < MR_HIST_BUCKETS; b++) {
        uint64_t sum = 0;
        for (int r = 0; r <= MR_SB_MAX_ROUTES; r++)
            sum += MR_SB_LOAD(m->sb->routes[r].hist[b]);
        /* A deploy that changed the route table zeroes the changed rows' counters. */
        atomic_init(&delta[b], sum >= k->prev_hist[b] ? sum - k->prev_hist[b] : 0);
        k->prev_hist[b] = sum;
    }
    uint64_t accepted = atomic_load(&m->sb->pool.accepted);
    double rps =
        interval_ms > 0 ? (double)(accepted - k->prev_accepted) * 1000.0 / (double)interval_ms : 0;
    k->prev_accepted = accepted;
    struct mr_sb_census c = mr_mgr__census(m, now);
    (void)snprintf(line, cap, "STATUS=active %d, idle %d, requests %llu, %.1f req/s, p99 %.1f ms",
                   c.active, c.idle, (unsigned long long)accepted, rps,
                   (double)mr_sb_quantile(delta, 0.99) / 1000.0);
}

void
mr_mgr__notify_systemd_status(struct mr_mgr *m, int64_t now)
{
    struct mr_mgr_checks *k = &m->checks;
    int64_t wd = mr_notify_watchdog_ms();
    if (wd > 0 && now - k->last_watchdog_ms >= wd) {
        (void)mr_notify("WATCHDOG=1");
        k->last_watchdog_ms = now;
    }
    /* The first line right away (systemctl status shows something at once), then every
     * 10 s; each covers the time since the one before (the first: since start). */
    if (k->systemd_status_sent && now - k->last_systemd_status_ms < 10000)
        return;
    k->systemd_status_sent = true;
    char line[192];
    systemd_status_line(m, now, line, sizeof(line));
    k->last_systemd_status_ms = now;
    (void)mr_notify(line);
}
