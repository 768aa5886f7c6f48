/* SPDX-License-Identifier: BSD-2-Clause */
/* manager: the supervision loop. Signal handlers only set flags; the loop blocks those
 * signals and waits in ppoll() with them unblocked, so a signal can never slip in between a
 * flag check and the wait. Every 100 ms (or on a signal) the loop reaps children, applies
 * reload and stop requests, kills stuck workers and tops the pool up.
 *
 * The pool rule that makes reloads lossless: with T the wanted number of workers, a new
 * worker is started while new ones number fewer than T and the non-quitting total is at most
 * T; an old one is asked to quit (SIGQUIT: finish, then exit) only once a new one is ready and
 * the non-quitting total exceeds T. Capacity never drops below T during a reload. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "app/supervise/manager.h"
#include "app/lib/notify.h"
#include "app/lib/signals.h"
#include "app/supervise/pool.h"
#include "app/prober/prober.h"
#include "app/board/scoreboard.h"
#include "app/serve/worker.h"
#include "handlers/handlers.h"

#define TICK_MS 100
#define STARTING_LIMIT_MS 10000

struct mr_mgr {
    pid_t pid;
    struct mr_cfg cfg;
    struct mr_listen *ls;
    struct mr_listen *status_ls;
    pid_t status_pid;
    int64_t status_started_ms;
    int64_t last_full_warn_ms;
    bool was_full;
    int reload_target;                   /* workers to keep while old ones are replaced */
    uint64_t prev_hist[MR_HIST_BUCKETS]; /* all routes, at the last STATUS= */
    uint64_t prev_accepted;
    int64_t last_rss_ms;
    struct mr_sb *sb;
    unsigned generation;
    pid_t prober;
    int64_t prober_started_ms;
    bool prober_stop_planned; /* we sent it SIGTERM (reload, log reopen) */
    bool stopping;
    int64_t stop_deadline_ms;
    int64_t spawn_window_ms; /* start of the current 1 s spawn-rate window */
    int spawned_in_window;
    int64_t crash_times[64]; /* ring, for emergency_restart_threshold */
    int crash_next;
    int64_t last_status_ms;
    bool status_sent;
    int64_t last_watchdog_ms;
};

static volatile sig_atomic_t got_chld, got_term, got_quit, got_reload, got_usr1;

static void
on_signal(int sig)
{
    switch (sig) {
    case SIGCHLD:
        got_chld = 1;
        break;
    case SIGTERM:
    case SIGINT:
        got_term = 1;
        break;
    case SIGQUIT:
        got_quit = 1;
        break;
    case SIGHUP:
    case SIGUSR2:
        got_reload = 1;
        break;
    case SIGUSR1:
        got_usr1 = 1;
        break;
    }
}

static const struct mr_signal_rule manager_signals[] = {
    {SIGCHLD, on_signal}, {SIGTERM, on_signal}, {SIGINT, on_signal},  {SIGQUIT, on_signal},
    {SIGHUP, on_signal},  {SIGUSR2, on_signal}, {SIGUSR1, on_signal}, {SIGPIPE, SIG_IGN},
};

/* The handled signals stay blocked except inside ppoll(), which takes `wait_mask`: a signal
 * can never arrive between the loop's flag check and its wait. */
static void
install_signals(sigset_t *wait_mask)
{
    size_t n = sizeof(manager_signals) / sizeof(manager_signals[0]);
    (void)sigprocmask(SIG_SETMASK, NULL, wait_mask);
    sigset_t block = *wait_mask;
    for (size_t i = 0; i < n; i++)
        if (manager_signals[i].handler == on_signal)
            sigaddset(&block, manager_signals[i].sig);
    mr_signals_install(manager_signals, n, 0, &block);
    for (size_t i = 0; i < n; i++)
        if (manager_signals[i].handler == on_signal)
            sigdelset(wait_mask, manager_signals[i].sig);
}

static int
free_slot(struct mr_mgr *m)
{
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++)
        if (atomic_load(&m->sb->workers[i].pid) == 0)
            return i;
    return -1;
}

/* In a child just forked by the manager: die with the manager (an orphaned worker must not
 * serve on with an old config), and catch the case where it died before prctl ran. */
static void
die_with_manager(pid_t manager)
{
    (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != manager)
        _exit(0);
}

/* fork() for every child of the manager: logs a failure (-1), and in the child (0) ties its
 * life to the manager's. */
static pid_t
fork_child(struct mr_mgr *m)
{
    pid_t pid = fork();
    if (pid < 0)
        mr_log(MR_LOG_ERR, "fork_failed", "err=\"%s\"", strerror(errno));
    else if (pid == 0)
        die_with_manager(m->pid);
    return pid;
}

static bool
spawn_allowed(struct mr_mgr *m, int64_t now)
{
    if (now - m->spawn_window_ms >= 1000) {
        m->spawn_window_ms = now;
        m->spawned_in_window = 0;
    }
    return m->spawned_in_window < m->cfg.max_spawn_rate;
}

static void
spawn_worker(struct mr_mgr *m, int64_t now)
{
    int slot = free_slot(m);
    if (slot < 0 || !spawn_allowed(m, now))
        return;
    struct mr_sb_worker *w = &m->sb->workers[slot];
    atomic_store(&w->generation, m->generation);
    atomic_store(&w->state, MR_W_STARTING);
    atomic_store(&w->quitting, 0);
    atomic_store(&w->started_ms, now);
    atomic_store(&w->requests, 0);
    atomic_store(&w->req_start_us, 0);
    w->method[0] = w->uri[0] = '\0';
    pid_t pid = fork_child(m);
    if (pid < 0) {
        atomic_store(&w->state, MR_W_FREE);
        return;
    }
    if (pid == 0) {
        if (m->status_ls->fd >= 0)
            (void)close(m->status_ls->fd);
        struct mr_worker_args a = {&m->cfg,          m->sb, slot, w, m->ls->fd, mr_handler_table,
                                   mr_handler_count, true};
        _exit(mr_worker_run(&a));
    }
    atomic_store(&w->pid, pid);
    m->spawned_in_window++;
}

static void
spawn_prober(struct mr_mgr *m, int64_t now)
{
    pid_t pid = fork_child(m);
    if (pid < 0)
        return;
    if (pid == 0) {
        (void)close(m->ls->fd); /* the prober serves nothing; only workers hold the socket */
        _exit(mr_prober_run(&m->cfg, m->sb));
    }
    m->prober = pid;
    m->prober_started_ms = now;
}

/* The status process is a worker with its own socket, its own small table (/status,
 * /metrics, /healthz) and no load shedding, so that it answers when every worker is busy
 * (php-fpm's pm.status_listen). */
static void
spawn_status(struct mr_mgr *m, int64_t now)
{
    m->status_started_ms = now;
    struct mr_sb_worker *w = &m->sb->status_proc;
    atomic_store(&w->state, MR_W_STARTING);
    atomic_store(&w->started_ms, now);
    pid_t pid = fork_child(m);
    if (pid < 0)
        return;
    if (pid == 0) {
        (void)close(m->ls->fd);
        struct mr_worker_args a = {&m->cfg,         m->sb,           -1,   w, m->status_ls->fd,
                                   mr_status_table, mr_status_count, false};
        _exit(mr_worker_run(&a));
    }
    m->status_pid = pid;
}

/* Counts workers by role in the reload rule (see the top of this file). */
struct census {
    int new_live, new_ready, old_active, total;
};

static struct census
take_census(struct mr_mgr *m)
{
    struct census c = {0};
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        struct mr_sb_worker *w = &m->sb->workers[i];
        if (atomic_load(&w->pid) == 0)
            continue;
        c.total++;
        if (atomic_load(&w->quitting))
            continue;
        if (atomic_load(&w->generation) == m->generation) {
            c.new_live++;
            c.new_ready += atomic_load(&w->state) != MR_W_STARTING;
        } else {
            c.old_active++;
        }
    }
    return c;
}

static void
quit_worker(struct mr_sb_worker *w, int64_t now)
{
    atomic_store(&w->quitting, 1);
    atomic_store(&w->started_ms, now); /* from now on: the start of its grace period */
    (void)kill(atomic_load(&w->pid), SIGQUIT);
}

static void
quit_one_old(struct mr_mgr *m, int64_t now)
{
    /* Prefer an idle one: it leaves at once. */
    struct mr_sb_worker *pick = NULL;
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        struct mr_sb_worker *w = &m->sb->workers[i];
        if (atomic_load(&w->pid) == 0 || atomic_load(&w->quitting) ||
            atomic_load(&w->generation) == m->generation)
            continue;
        if (pick == NULL || atomic_load(&w->state) == MR_W_IDLE)
            pick = w;
    }
    if (pick != NULL)
        quit_worker(pick, now);
}

/* The reload rule (top of this file), with T = reload_target. */
static void
replace_old(struct mr_mgr *m, int64_t now, struct census c)
{
    int target = m->reload_target;
    /* Quit an old worker once a new one is ready to take its place, or at once while the
     * pool is above the target anyway (a reload that lowers `workers`). */
    if ((c.new_ready > 0 && c.new_ready + c.old_active > target) ||
        c.new_live + c.old_active > target)
        quit_one_old(m, now);
    c = take_census(m);
    while (c.new_live < target && c.new_live + c.old_active <= target) {
        int before = c.new_live;
        spawn_worker(m, now);
        c = take_census(m);
        if (c.new_live == before)
            break; /* rate limit or no slot: next tick */
    }
}

static bool
is_idle_expired(const struct mr_mgr *m, struct mr_sb_worker *w, int64_t now)
{
    return atomic_load(&w->state) == MR_W_IDLE &&
           now - atomic_load(&w->idle_since_ms) > m->cfg.idle_timeout_ms;
}

static struct mr_pool_view
take_view(struct mr_mgr *m, int64_t now)
{
    struct mr_pool_view v = {.queue = atomic_load(&m->sb->pool.listen_queue)};
    long rss_kb = 0;
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        struct mr_sb_worker *w = &m->sb->workers[i];
        if (atomic_load(&w->pid) == 0 || atomic_load(&w->quitting))
            continue;
        int s = atomic_load(&w->state);
        v.total++;
        v.idle += s == MR_W_IDLE;
        v.starting += s == MR_W_STARTING;
        v.idle_expired += is_idle_expired(m, w, now);
        rss_kb += atomic_load(&w->rss_kb);
    }
    v.rss_mb = rss_kb / 1024;
    return v;
}

/* Asks up to n idle workers to quit, the longest idle first. */
static void
retire_idle(struct mr_mgr *m, int n, int64_t now)
{
    while (n-- > 0) {
        struct mr_sb_worker *pick = NULL;
        for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
            struct mr_sb_worker *w = &m->sb->workers[i];
            if (atomic_load(&w->pid) == 0 || atomic_load(&w->quitting) ||
                atomic_load(&w->state) != MR_W_IDLE)
                continue;
            if (pick == NULL || atomic_load(&w->idle_since_ms) < atomic_load(&pick->idle_since_ms))
                pick = w;
        }
        if (pick == NULL)
            return;
        quit_worker(pick, now);
    }
}

static void
manage_pool(struct mr_mgr *m, int64_t now)
{
    struct census c = take_census(m);
    if (c.old_active > 0) {
        replace_old(m, now, c);
        return;
    }
    struct mr_pool_view v = take_view(m, now);
    struct mr_pool_plan p = mr_pool_plan(&m->cfg, &v);
    for (int i = 0; i < p.spawn; i++)
        spawn_worker(m, now);
    retire_idle(m, p.retire, now);
}

/* RSS of each worker from /proc, once a second: the adaptive mode's memory budget and
 * /status read it. */
static void
sample_rss(struct mr_mgr *m, int64_t now)
{
    if (now - m->last_rss_ms < 1000)
        return;
    m->last_rss_ms = now;
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        struct mr_sb_worker *w = &m->sb->workers[i];
        pid_t pid = atomic_load(&w->pid);
        if (pid == 0)
            continue;
        char path[64];
        (void)snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
        FILE *f = fopen(path, "re");
        long size = 0, resident = 0;
        if (f != NULL) {
            if (fscanf(f, "%ld %ld", &size, &resident) == 2)
                atomic_store(&w->rss_kb, resident * page_kb);
            (void)fclose(f);
        }
    }
}

static void
note_crash(struct mr_mgr *m, int64_t now)
{
    int threshold = m->cfg.emergency_restart_threshold;
    m->crash_times[m->crash_next] = now;
    m->crash_next = (m->crash_next + 1) % 64;
    if (threshold <= 0)
        return;
    int recent = 0;
    for (int i = 0; i < 64; i++)
        recent += m->crash_times[i] != 0 &&
                  now - m->crash_times[i] <= m->cfg.emergency_restart_interval_ms;
    if (recent < threshold || threshold > 64)
        return;
    mr_log(MR_LOG_ERR, "emergency_restart", "crashes=%d interval_ms=%d", recent,
           m->cfg.emergency_restart_interval_ms);
    memset(m->crash_times, 0, sizeof(m->crash_times));
    m->reload_target = take_census(m).new_live;
    m->generation++; /* every worker is now "old": replaced one at a time */
    atomic_store(&m->sb->pool.generation, m->generation);
}

static void
log_exit(int slot, pid_t pid, int status, bool planned)
{
    if (WIFSIGNALED(status))
        mr_log(planned ? MR_LOG_INFO : MR_LOG_ERR, "worker_exited",
               "worker=%d pid=%d signal=%d planned=%s", slot, pid, WTERMSIG(status),
               planned ? "yes" : "no");
    else if (!planned || WEXITSTATUS(status) != 0)
        mr_log(WEXITSTATUS(status) ? MR_LOG_ERR : MR_LOG_INFO, "worker_exited",
               "worker=%d pid=%d status=%d planned=%s", slot, pid, WEXITSTATUS(status),
               planned ? "yes" : "no");
}

static void
reap(struct mr_mgr *m, int64_t now)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == m->status_pid) {
            m->status_pid = 0;
            if (!m->stopping)
                mr_log(MR_LOG_WARNING, "status_process_exited", "pid=%d status=%d", pid, status);
            continue;
        }
        if (pid == m->prober) {
            m->prober = 0;
            if (!m->stopping && !m->prober_stop_planned)
                mr_log(MR_LOG_WARNING, "prober_exited", "pid=%d status=%d", pid, status);
            m->prober_stop_planned = false;
            continue;
        }
        for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
            struct mr_sb_worker *w = &m->sb->workers[i];
            if (atomic_load(&w->pid) != pid)
                continue;
            /* Planned: asked to quit, killed by us for a timeout (logged then), or a clean
             * exit after max_requests. */
            bool planned = atomic_load(&w->quitting) || m->stopping ||
                           (WIFEXITED(status) && WEXITSTATUS(status) == 0);
            if (!m->stopping)
                log_exit(i, pid, status, planned);
            if (WIFSIGNALED(status) && !planned)
                note_crash(m, now);
            if (!m->stopping && !atomic_load(&w->quitting))
                atomic_fetch_add(&m->sb->pool.respawns, 1);
            atomic_store(&w->state, MR_W_FREE);
            atomic_store(&w->pid, 0);
            break;
        }
    }
}

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
watch_workers(struct mr_mgr *m, int64_t now)
{
    const struct mr_cfg *c = &m->cfg;
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        struct mr_sb_worker *w = &m->sb->workers[i];
        pid_t pid = atomic_load(&w->pid);
        if (pid == 0)
            continue;
        int state = atomic_load(&w->state);
        int64_t busy_ms = (mr_clock_us() - atomic_load(&w->req_start_us)) / 1000;
        if (atomic_load(&w->quitting)) {
            if (now - atomic_load(&w->started_ms) > c->process_control_timeout_ms)
                (void)kill(pid, SIGKILL);
        } else if (state == MR_W_STARTING) {
            if (now - atomic_load(&w->started_ms) > STARTING_LIMIT_MS)
                kill_stuck(m, w, i, "start_timeout", now - atomic_load(&w->started_ms));
        } else if (state == MR_W_READING) {
            /* libfcgi's reads time out per read; this catches a client dripping bytes. */
            if (busy_ms > c->read_timeout_ms + 1000)
                kill_stuck(m, w, i, "read_timeout", busy_ms);
        } else if (state == MR_W_BUSY || state == MR_W_FINISHING) {
            if (c->request_terminate_timeout_ms > 0 && busy_ms > c->request_terminate_timeout_ms)
                kill_stuck(m, w, i, "request_terminate_timeout", busy_ms);
        }
    }
}

static void
reload(struct mr_mgr *m)
{
    (void)mr_notify("RELOADING=1");
    struct mr_cfg next;
    struct mr_err err;
    if (mr_cfg_load(&next, m->cfg.path, &err) < 0) {
        mr_log(MR_LOG_ERR, "reload_failed", "err=\"%s\" action=\"kept the running config\"",
               err.msg);
        (void)mr_notify("READY=1");
        return;
    }
    if (strcmp(next.listen, m->cfg.listen) != 0 && m->ls->origin == MR_LISTEN_BOUND)
        mr_log(MR_LOG_WARNING, "reload_listen_unchanged",
               "listen=\"%s\" action=\"restart to change the socket\"", next.listen);
    for (int i = m->sb->n_pg; i <= next.db.n_replicas; i++) {
        char name[MR_BACKEND_NAME];
        (void)snprintf(name, sizeof(name), "replica%d", i);
        mr_backend_slot_init(&m->sb->pg[i], name);
    }
    m->sb->n_pg = next.db.n_replicas + 1;
    mr_cfg_fini(&m->cfg);
    m->cfg = next;
    mr_log_setup((enum mr_log_level)m->cfg.log_level, m->cfg.log_timestamps);
    int live = take_census(m).new_live;
    m->reload_target = m->cfg.pm == MR_PM_STATIC ? m->cfg.workers
                                                 : (live < 1                ? 1
                                                    : live > m->cfg.workers ? m->cfg.workers
                                                                            : live);
    m->generation++;
    atomic_store(&m->sb->pool.generation, m->generation);
    if (m->prober > 0) {
        m->prober_stop_planned = true;
        (void)kill(m->prober, SIGTERM); /* restarted with the new backends */
    }
    mr_log(MR_LOG_INFO, "config_reloaded", "path=%s generation=%u workers=%d", m->cfg.path,
           m->generation, m->cfg.workers);
    (void)mr_notify("READY=1");
}

static void
signal_all(struct mr_mgr *m, int sig)
{
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        pid_t pid = atomic_load(&m->sb->workers[i].pid);
        if (pid > 0)
            (void)kill(pid, sig);
    }
    if (m->prober > 0)
        (void)kill(m->prober, SIGTERM);
    if (m->status_pid > 0)
        (void)kill(m->status_pid, sig == SIGQUIT ? SIGQUIT : SIGTERM);
}

static void
begin_stop(struct mr_mgr *m, bool graceful, int64_t now)
{
    if (m->stopping && graceful)
        return; /* already stopping; a second SIGQUIT changes nothing */
    m->stopping = true;
    (void)mr_notify("STOPPING=1");
    mr_log(MR_LOG_INFO, "stopping", "mode=%s", graceful ? "graceful" : "immediate");
    signal_all(m, graceful ? SIGQUIT : SIGTERM);
    m->stop_deadline_ms = now + (graceful ? m->cfg.process_control_timeout_ms : 1000);
}

static int
children_left(struct mr_mgr *m)
{
    return take_census(m).total + (m->prober > 0) + (m->status_pid > 0);
}

/* Requests per second and P99 over the last interval, from the difference between two
 * snapshots of the routes' histograms: what `systemctl status` shows. */
static void
status_line(struct mr_mgr *m, int64_t interval_ms, char *line, size_t cap)
{
    atomic_uint_fast64_t delta[MR_HIST_BUCKETS];
    for (int k = 0; k < MR_HIST_BUCKETS; k++) {
        uint64_t sum = 0;
        for (int r = 0; r <= MR_SB_MAX_ROUTES; r++)
            sum += atomic_load_explicit(&m->sb->routes[r].hist[k], memory_order_relaxed);
        atomic_init(&delta[k], sum - m->prev_hist[k]);
        m->prev_hist[k] = sum;
    }
    uint64_t accepted = atomic_load(&m->sb->pool.accepted);
    double rps =
        interval_ms > 0 ? (double)(accepted - m->prev_accepted) * 1000.0 / (double)interval_ms : 0;
    m->prev_accepted = accepted;
    int active = 0, idle = 0;
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        struct mr_sb_worker *w = &m->sb->workers[i];
        if (atomic_load(&w->pid) == 0)
            continue;
        int s = atomic_load(&w->state);
        idle += s == MR_W_IDLE;
        active += s == MR_W_READING || s == MR_W_BUSY || s == MR_W_FINISHING;
    }
    (void)snprintf(line, cap, "STATUS=active %d, idle %d, requests %llu, %.1f req/s, p99 %.1f ms",
                   active, idle, (unsigned long long)accepted, rps,
                   (double)mr_sb_quantile(delta, 0.99) / 1000.0);
}

static void
report_status(struct mr_mgr *m, int64_t now)
{
    int64_t wd = mr_notify_watchdog_ms();
    if (wd > 0 && now - m->last_watchdog_ms >= wd) {
        (void)mr_notify("WATCHDOG=1");
        m->last_watchdog_ms = now;
    }
    /* The first line right away (systemctl status shows something at once), then every
     * 10 s; each covers the time since the one before (the first: since start). */
    if (m->status_sent && now - m->last_status_ms < 10000)
        return;
    m->status_sent = true;
    char line[192];
    status_line(m, now - m->last_status_ms, line, sizeof(line));
    m->last_status_ms = now;
    (void)mr_notify(line);
}

/* Samples the accept queue and busy workers, and says so when the pool is saturated: every
 * worker busy while connections wait. php-fpm's "server reached pm.max_children" is its most
 * reported warning; here it carries the numbers and repeats at most every 10 s, and
 * /metrics counts each episode. */
static void
sample_load(struct mr_mgr *m, int64_t now)
{
    struct mr_sb_pool *p = &m->sb->pool;
    int q = mr_listen_queue_len(m->ls);
    if (q >= 0) {
        atomic_store(&p->listen_queue, q);
        if (q > atomic_load(&p->max_listen_queue))
            atomic_store(&p->max_listen_queue, q);
    }
    struct mr_sb_counts c = mr_sb_count(m->sb);
    int active = c.active, total = c.total - c.quitting;
    if (active > atomic_load(&p->max_active))
        atomic_store(&p->max_active, active);
    /* Saturated: connections wait, every worker is busy, and the pool may not grow, because
     * it is at `workers` or (adaptive) over its memory budget. */
    long rss_mb = 0;
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++)
        if (atomic_load(&m->sb->workers[i].pid) != 0)
            rss_mb += atomic_load(&m->sb->workers[i].rss_kb);
    rss_mb /= 1024;
    bool over_budget =
        m->cfg.pm == MR_PM_ADAPTIVE && m->cfg.max_memory_mb > 0 && rss_mb >= m->cfg.max_memory_mb;
    bool full = q > 0 && active >= total && (total >= m->cfg.workers || over_budget);
    if (full && !m->was_full)
        atomic_fetch_add(&p->max_children_reached, 1);
    if (full && now - m->last_full_warn_ms >= 10000) {
        m->last_full_warn_ms = now;
        mr_log(MR_LOG_WARNING, "max_children_reached",
               "limit=%s workers=%d active=%d listen_queue=%d rss_mb=%ld max_memory_mb=%d "
               "action=\"raise %s if this persists\"",
               over_budget ? "max_memory_mb" : "workers", m->cfg.workers, active, q, rss_mb,
               m->cfg.max_memory_mb, over_budget ? "max_memory_mb" : "workers");
    }
    m->was_full = full;
}

/* SIGUSR1: the manager reopens log.file, then asks every child to do the same between
 * requests (each holds its own dup of the old file). */
static void
reopen_logs(struct mr_mgr *m)
{
    if (*m->cfg.log_file == '\0') {
        mr_log(MR_LOG_INFO, "reopen_logs", "note=\"logging to stderr: nothing to reopen\"");
        return;
    }
    int rc = mr_log_reopen(m->cfg.log_file);
    if (rc < 0) {
        mr_log(MR_LOG_ERR, "reopen_logs_failed", "file=%s err=\"%s\"", m->cfg.log_file,
               strerror(-rc));
        return;
    }
    mr_log(MR_LOG_INFO, "logs_reopened", "file=%s", m->cfg.log_file);
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        pid_t pid = atomic_load(&m->sb->workers[i].pid);
        if (pid > 0)
            (void)kill(pid, SIGUSR1);
    }
    if (m->status_pid > 0)
        (void)kill(m->status_pid, SIGUSR1);
    if (m->prober > 0) {
        m->prober_stop_planned = true;
        (void)kill(m->prober, SIGTERM); /* restarted within a second, with the new file */
    }
}

static void
tick(struct mr_mgr *m, int64_t now)
{
    if (got_chld) {
        got_chld = 0;
        reap(m, now);
    }
    if (got_term) {
        got_term = 0;
        begin_stop(m, false, now);
    }
    if (got_quit) {
        got_quit = 0;
        begin_stop(m, true, now);
    }
    if (got_usr1) {
        got_usr1 = 0;
        reopen_logs(m);
    }
    if (got_reload && !m->stopping) {
        got_reload = 0;
        reload(m);
    }
    if (m->stopping) {
        if (now >= m->stop_deadline_ms)
            signal_all(m, SIGKILL);
        return;
    }
    watch_workers(m, now);
    manage_pool(m, now);
    if (m->prober == 0 && now - m->prober_started_ms >= 1000)
        spawn_prober(m, now);
    if (m->status_ls->fd >= 0 && m->status_pid == 0 && now - m->status_started_ms >= 1000)
        spawn_status(m, now);
    sample_load(m, now);
    sample_rss(m, now);
    report_status(m, now);
}

int
mr_mgr_run(struct mr_cfg *cfg, struct mr_listen *l, struct mr_listen *status_l)
{
    struct mr_mgr m = {
        .pid = getpid(), .cfg = *cfg, .ls = l, .status_ls = status_l, .generation = 1};
    struct mr_err err;
    m.sb = mr_sb_new(cfg->db.n_replicas, &err);
    if (m.sb == NULL) {
        mr_log(MR_LOG_ERR, "start_failed", "err=\"%s\"", err.msg);
        return 1;
    }
    atomic_store(&m.sb->pool.generation, m.generation);
    sigset_t wait_mask;
    install_signals(&wait_mask);
    int64_t now = mr_clock_ms();
    m.last_status_ms = now; /* the first STATUS= interval starts here, not at boot */
    spawn_prober(&m, now);
    if (status_l->fd >= 0)
        spawn_status(&m, now);
    manage_pool(&m, now);
    mr_log(MR_LOG_INFO, "started", "pid=%d workers=%d listen=%s", getpid(), m.cfg.workers,
           l->origin == MR_LISTEN_BOUND ? m.cfg.listen
                                        : (l->origin == MR_LISTEN_SYSTEMD ? "systemd" : "fd0"));
    (void)mr_notify("READY=1");
    for (;;) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = TICK_MS * 1000000L};
        (void)ppoll(NULL, 0, &ts, &wait_mask);
        now = mr_clock_ms();
        tick(&m, now);
        if (m.stopping && children_left(&m) == 0)
            break;
        if (m.stopping) /* reap promptly while stopping even without SIGCHLD coalescing */
            got_chld = 1;
    }
    mr_log(MR_LOG_INFO, "stopped", "pid=%d", getpid());
    mr_sb_free(&m.sb);
    mr_listen_close(l);
    mr_listen_close(status_l);
    mr_cfg_fini(&m.cfg);
    return 0;
}
