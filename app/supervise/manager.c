/* SPDX-License-Identifier: BSD-2-Clause */
/* manager: the supervision loop. Signal handlers only set flags; the loop blocks those
 * signals and waits in ppoll() with them unblocked, so a signal can never slip in between a
 * flag check and the wait. Every 100 ms (or on a signal) the loop reaps children, applies
 * reload and stop requests, runs the checks (checks.c) and sizes the pool: by the reload rule
 * (reload.h) while old-generation workers serve, else by the pool rule (pool.h). Forking and
 * reaping are procs.c's. */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "app/lib/notify.h"
#include "app/lib/signals.h"
#include "app/supervise/internal.h"
#include "app/supervise/pool.h"
#include "app/supervise/reload.h"

#define TICK_MS 100

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

struct mr_sb_census
mr_mgr__census(const struct mr_mgr *m, int64_t now)
{
    return mr_sb_census(m->sb, m->generation, now - m->cfg.idle_timeout_ms);
}

void
mr_mgr__new_generation(struct mr_mgr *m, int target)
{
    m->reload_target = target;
    m->generation++;
    atomic_store(&m->sb->pool.generation, m->generation);
}

void
mr_mgr_label_routes(struct mr_sb *sb, const struct mr_route *routes, size_t n)
{
    for (size_t i = 0; i < n && i < MR_SB_MAX_ROUTES; i++)
        mr_sb_label_route(sb, (int)i, routes[i].method, routes[i].pattern);
    sb->n_labels = n < MR_SB_MAX_ROUTES ? (int)n : MR_SB_MAX_ROUTES; /* a shorter table */
}

/* Loads what the next generation serves (cfg->app, checked first in a throwaway child) and
 * labels its routes. On failure nothing changes and err says why. */
static int
load_served(struct mr_mgr *m, const struct mr_cfg *cfg, struct mr_err *err)
{
    if (*cfg->app != '\0') {
        int rc = mr_module_check(cfg->app, m->tables.own, m->tables.n_own, &cfg->db,
                                 MR_MODULE_CHECK_MS, err);
        if (rc != 0)
            return rc;
        if (err->msg[0] != '\0') {
            char q[MR_ERR_LEN + 8];
            mr_log(MR_LOG_WARNING, "app_statements_unchecked", "err=%s",
                   mr_log_quote(q, sizeof(q), err->msg));
        }
    }
    struct mr_served next;
    int rc =
        mr_served_open(cfg->app, m->tables.builtin, m->tables.own, m->tables.n_own, &next, err);
    if (rc != 0)
        return rc;
    /* The old build's code stays mapped in its workers; the manager needs none of it. */
    mr_served_close(&m->served);
    m->served = next;
    mr_mgr_label_routes(m->sb, next.routes, next.n_routes);
    return 0;
}

/* One tick of the reload rule: at most one old worker retired, then as many new ones started
 * as the rule and max_spawn_rate allow. Returns false once no old worker serves. */
static bool
replace_old(struct mr_mgr *m, int64_t now)
{
    struct mr_sb_census c = mr_mgr__census(m, now);
    enum mr_reload_step step = mr_reload_next(&c, m->reload_target);
    if (step == MR_RELOAD_DONE)
        return false;
    if (step == MR_RELOAD_RETIRE_OLD) {
        mr_mgr__quit_one_old(m, now);
        c = mr_mgr__census(m, now);
        step = mr_reload_next(&c, m->reload_target);
    }
    while (step == MR_RELOAD_SPAWN) {
        int before = c.new_serving;
        mr_mgr__spawn_worker(m, now);
        c = mr_mgr__census(m, now);
        if (c.new_serving == before)
            break; /* rate limit or no slot: next tick */
        step = mr_reload_next(&c, m->reload_target);
    }
    return true;
}

static void
manage_pool(struct mr_mgr *m, int64_t now)
{
    if (replace_old(m, now))
        return;
    struct mr_sb_census c = mr_mgr__census(m, now);
    struct mr_pool_view v = {
        .total = c.serving,
        .idle = c.serving_idle,
        .starting = c.serving_starting,
        .queue = atomic_load(&m->sb->pool.listen_queue),
        .idle_expired = c.idle_expired,
        .rss_mb = c.serving_rss_kb / 1024,
    };
    struct mr_pool_plan p = mr_pool_plan(&m->cfg, &v);
    for (int i = 0; i < p.spawn; i++)
        mr_mgr__spawn_worker(m, now);
    mr_mgr__retire_idle(m, p.retire, now);
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
    struct mr_listen ls_next = *m->ls, status_next = *m->status_ls;
    if (mr_listen_settle_clients(&ls_next, &next.clients, "listen", &err) < 0 ||
        (m->status_ls->fd >= 0 &&
         mr_listen_settle_clients(&status_next, &next.clients, "status_listen", &err) < 0)) {
        mr_log(MR_LOG_ERR, "reload_failed", "err=\"%s\" action=\"kept the running config\"",
               err.msg);
        mr_cfg_fini(&next);
        (void)mr_notify("READY=1");
        return;
    }
    if (load_served(m, &next, &err) < 0) {
        char q[MR_ERR_LEN + 8];
        mr_log(MR_LOG_ERR, "reload_failed",
               "err=%s action=\"kept the running config and application\"",
               mr_log_quote(q, sizeof(q), err.msg));
        mr_cfg_fini(&next);
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
    m->ls->clients = ls_next.clients;
    m->status_ls->clients = status_next.clients;
    mr_cfg_fini(&m->cfg);
    m->cfg = next;
    mr_log_setup((enum mr_log_level)m->cfg.log_level, m->cfg.log_timestamps);
    int serving = mr_mgr__census(m, mr_clock_ms()).new_serving;
    mr_mgr__new_generation(m, mr_reload_target(&m->cfg, serving));
    mr_mgr__restart_prober(m); /* restarted with the new backends */
    mr_log(MR_LOG_INFO, "config_reloaded", "path=%s generation=%u workers=%d app=%s version=%s",
           m->cfg.path, m->generation, m->cfg.workers, m->served.app->name,
           m->served.app->version != NULL ? m->served.app->version : "-");
    (void)mr_notify("READY=1");
}

static void
begin_stop(struct mr_mgr *m, bool graceful, int64_t now)
{
    if (m->stopping && graceful)
        return; /* already stopping; a second SIGQUIT changes nothing */
    m->stopping = true;
    (void)mr_notify("STOPPING=1");
    mr_log(MR_LOG_INFO, "stopping", "mode=%s", graceful ? "graceful" : "immediate");
    mr_mgr__signal_all(m, graceful ? SIGQUIT : SIGTERM);
    m->stop_deadline_ms = now + (graceful ? m->cfg.process_control_timeout_ms : 1000);
}

/* Children still running: workers, the prober, the status process. */
static int
children_left(struct mr_mgr *m)
{
    return mr_sb_census(m->sb, m->generation, 0).live + (m->procs.prober > 0) +
           (m->procs.status_pid > 0);
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
    mr_mgr__signal_servers(m, SIGUSR1);
    mr_mgr__restart_prober(m); /* restarted within a second, with the new file */
}

static void
tick(struct mr_mgr *m, int64_t now)
{
    if (got_chld) {
        got_chld = 0;
        mr_mgr__reap(m, now);
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
            mr_mgr__signal_all(m, SIGKILL);
        return;
    }
    mr_mgr__watch_workers(m, now);
    manage_pool(m, now);
    if (m->procs.prober == 0 && now - m->procs.prober_started_ms >= 1000)
        mr_mgr__spawn_prober(m, now);
    if (m->status_ls->fd >= 0 && m->procs.status_pid == 0 &&
        now - m->procs.status_started_ms >= 1000)
        mr_mgr__spawn_status(m, now);
    mr_mgr__sample_load(m, now);
    mr_mgr__sample_rss(m, now);
    mr_mgr__notify_systemd_status(m, now);
}

int
mr_mgr_run(struct mr_cfg *cfg, struct mr_listen *l, struct mr_listen *status_l,
           const struct mr_mgr_tables *tables)
{
    struct mr_mgr m = {.pid = getpid(),
                       .cfg = *cfg,
                       .ls = l,
                       .status_ls = status_l,
                       .tables = *tables,
                       .generation = 1};
    struct mr_err err;
    m.sb = mr_sb_new(cfg->db.n_replicas, &err);
    if (m.sb == NULL) {
        mr_log(MR_LOG_ERR, "start_failed", "err=\"%s\"", err.msg);
        return 1;
    }
    atomic_store(&m.sb->pool.generation, m.generation);
    if (mr_routes_compile(tables->status, tables->n_status, &m.status_router, &err) < 0 ||
        load_served(&m, cfg, &err) < 0) {
        char q[MR_ERR_LEN + 8];
        mr_log(MR_LOG_ERR, "start_failed", "err=%s", mr_log_quote(q, sizeof(q), err.msg));
        mr_sb_free(&m.sb);
        return MR_EX_CONFIG;
    }
    sigset_t wait_mask;
    install_signals(&wait_mask);
    int64_t now = mr_clock_ms();
    m.checks.last_systemd_status_ms = now; /* the first STATUS= interval starts here, not at boot */
    mr_mgr__spawn_prober(&m, now);
    if (status_l->fd >= 0)
        mr_mgr__spawn_status(&m, now);
    manage_pool(&m, now);
    mr_log(MR_LOG_INFO, "started", "pid=%d workers=%d listen=%s app=%s version=%s", getpid(),
           m.cfg.workers,
           l->origin == MR_LISTEN_BOUND ? m.cfg.listen
                                        : (l->origin == MR_LISTEN_SYSTEMD ? "systemd" : "fd0"),
           m.served.app->name, m.served.app->version != NULL ? m.served.app->version : "-");
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
    mr_served_close(&m.served);
    mr_router_free(&m.status_router);
    mr_sb_free(&m.sb);
    mr_listen_close(l);
    mr_listen_close(status_l);
    mr_cfg_fini(&m.cfg);
    return 0;
}
