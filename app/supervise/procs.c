/* SPDX-License-Identifier: BSD-2-Clause */
/* procs: the manager's process table. It forks the workers (into scoreboard slots), the
 * prober and the status process, asks workers to quit, reaps every child, tells planned exits
 * from crashes, and turns a burst of crashes into an emergency restart (every worker
 * replaced, as after a reload). A slot's pid, generation and quitting are written here only,
 * before fork or after reap, so no live worker ever races the manager for them. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "app/lib/log.h"
#include "app/prober/prober.h"
#include "app/serve/worker.h"
#include "app/supervise/internal.h"

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
spawn_allowed(struct mr_mgr_procs *p, const struct mr_cfg *cfg, int64_t now)
{
    if (now - p->spawn_window_ms >= 1000) {
        p->spawn_window_ms = now;
        p->spawned_in_window = 0;
    }
    return p->spawned_in_window < cfg->max_spawn_rate;
}

void
mr_mgr__spawn_worker(struct mr_mgr *m, int64_t now)
{
    int slot = mr_sb_free_slot(m->sb);
    if (slot < 0 || !spawn_allowed(&m->procs, &m->cfg, now))
        return;
    struct mr_sb_worker *w = &m->sb->workers[slot];
    atomic_store(&w->generation, m->generation);
    atomic_store(&w->state, MR_W_STARTING);
    atomic_store(&w->quitting, 0);
    atomic_store(&w->started_ms, now);
    atomic_store(&w->requests, 0);
    atomic_store(&w->req_start_us, 0);
    atomic_store(&w->route, -1);
    w->method[0] = w->uri[0] = '\0';
    pid_t pid = fork_child(m);
    if (pid < 0) {
        atomic_store(&w->state, MR_W_FREE);
        return;
    }
    if (pid == 0) {
        if (m->status_ls->fd >= 0)
            (void)close(m->status_ls->fd);
        struct mr_worker_args a = {.cfg = &m->cfg,
                                   .sb = m->sb,
                                   .slot = slot,
                                   .me = w,
                                   .listen_fd = m->ls->fd,
                                   .clients = &m->ls->clients,
                                   .routes = m->served.routes,
                                   .n_routes = m->served.n_routes,
                                   .router = m->served.router,
                                   .app = m->served.app,
                                   .templates = m->served.templates,
                                   .inputs = m->served.inputs,
                                   .is_pool = true};
        _exit(mr_worker_run(&a));
    }
    atomic_store(&w->pid, pid);
    m->procs.spawned_in_window++;
}

void
mr_mgr__spawn_prober(struct mr_mgr *m, int64_t now)
{
    pid_t pid = fork_child(m);
    if (pid < 0)
        return;
    if (pid == 0) {
        (void)close(m->ls->fd); /* the prober serves nothing; only workers hold the socket */
        _exit(mr_prober_run(&m->cfg, m->sb));
    }
    m->procs.prober = pid;
    m->procs.prober_started_ms = now;
}

/* The status process is a worker with its own socket, its own small table (/status,
 * /metrics, /healthz) and no load shedding, so that it answers when every worker is busy
 * (php-fpm's pm.status_listen). */
void
mr_mgr__spawn_status(struct mr_mgr *m, int64_t now)
{
    m->procs.status_started_ms = now;
    struct mr_sb_worker *w = &m->sb->status_proc;
    atomic_store(&w->state, MR_W_STARTING);
    atomic_store(&w->started_ms, now);
    pid_t pid = fork_child(m);
    if (pid < 0)
        return;
    if (pid == 0) {
        (void)close(m->ls->fd);
        struct mr_worker_args a = {.cfg = &m->cfg,
                                   .sb = m->sb,
                                   .slot = -1,
                                   .me = w,
                                   .listen_fd = m->status_ls->fd,
                                   .clients = &m->status_ls->clients,
                                   .routes = m->tables.status,
                                   .n_routes = m->tables.n_status,
                                   .router = m->status_router,
                                   .is_pool = false};
        _exit(mr_worker_run(&a));
    }
    m->procs.status_pid = pid;
}

static void
quit_worker(struct mr_sb_worker *w, int64_t now)
{
    atomic_store(&w->quitting, 1);
    atomic_store(&w->started_ms, now); /* from now on: the start of its grace period */
    (void)kill(atomic_load(&w->pid), SIGQUIT);
}

void
mr_mgr__quit_one_old(struct mr_mgr *m, int64_t now)
{
    /* Prefer an idle one: it leaves at once. */
    struct mr_sb_worker *pick = NULL;
    for (int i = mr_sb_next_live(m->sb, -1); i >= 0; i = mr_sb_next_live(m->sb, i)) {
        struct mr_sb_worker *w = &m->sb->workers[i];
        if (atomic_load(&w->quitting) || atomic_load(&w->generation) == m->generation)
            continue;
        if (pick == NULL || atomic_load(&w->state) == MR_W_IDLE)
            pick = w;
    }
    if (pick != NULL)
        quit_worker(pick, now);
}

void
mr_mgr__retire_idle(struct mr_mgr *m, int n, int64_t now)
{
    while (n-- > 0) {
        struct mr_sb_worker *pick = NULL;
        for (int i = mr_sb_next_live(m->sb, -1); i >= 0; i = mr_sb_next_live(m->sb, i)) {
            struct mr_sb_worker *w = &m->sb->workers[i];
            if (atomic_load(&w->quitting) || atomic_load(&w->state) != MR_W_IDLE)
                continue;
            if (pick == NULL || atomic_load(&w->idle_since_ms) < atomic_load(&pick->idle_since_ms))
                pick = w;
        }
        if (pick == NULL)
            return;
        quit_worker(pick, now);
    }
}

/* Counts a crash; past emergency_restart_threshold crashes within
 * emergency_restart_interval_ms, every worker is replaced (php-fpm's emergency restart). */
static void
note_crash(struct mr_mgr *m, int64_t now)
{
    struct mr_mgr_procs *p = &m->procs;
    int threshold = m->cfg.emergency_restart_threshold;
    p->crash_times[p->crash_next] = now;
    p->crash_next = (p->crash_next + 1) % MR_MGR_CRASH_RING;
    if (threshold <= 0)
        return;
    int recent = 0;
    for (int i = 0; i < MR_MGR_CRASH_RING; i++)
        recent += p->crash_times[i] != 0 &&
                  now - p->crash_times[i] <= m->cfg.emergency_restart_interval_ms;
    if (recent < threshold || threshold > MR_MGR_CRASH_RING)
        return;
    mr_log(MR_LOG_ERR, "emergency_restart", "crashes=%d interval_ms=%d", recent,
           m->cfg.emergency_restart_interval_ms);
    memset(p->crash_times, 0, sizeof(p->crash_times));
    mr_mgr__new_generation(m, mr_mgr__census(m, now).new_serving);
}

static void
log_exit(const struct mr_sb *sb, int slot, pid_t pid, int status, bool planned, int route)
{
    if (WIFSIGNALED(status) && route >= 0 && route < sb->n_labels)
        mr_log(planned ? MR_LOG_INFO : MR_LOG_ERR, "worker_exited",
               "worker=%d pid=%d signal=%d planned=%s method=%s route=%s", slot, pid,
               WTERMSIG(status), planned ? "yes" : "no", sb->labels[route].method,
               sb->labels[route].path);
    else if (WIFSIGNALED(status))
        mr_log(planned ? MR_LOG_INFO : MR_LOG_ERR, "worker_exited",
               "worker=%d pid=%d signal=%d planned=%s", slot, pid, WTERMSIG(status),
               planned ? "yes" : "no");
    else if (!planned || WEXITSTATUS(status) != 0)
        mr_log(WEXITSTATUS(status) ? MR_LOG_ERR : MR_LOG_INFO, "worker_exited",
               "worker=%d pid=%d status=%d planned=%s", slot, pid, WEXITSTATUS(status),
               planned ? "yes" : "no");
}

/* The prober or the status process; false when pid is neither. */
static bool
reap_helper(struct mr_mgr *m, pid_t pid, int status)
{
    struct mr_mgr_procs *p = &m->procs;
    if (pid == p->status_pid) {
        p->status_pid = 0;
        if (!m->stopping)
            mr_log(MR_LOG_WARNING, "status_process_exited", "pid=%d status=%d", pid, status);
        return true;
    }
    if (pid == p->prober) {
        p->prober = 0;
        if (!m->stopping && !p->prober_stop_planned)
            mr_log(MR_LOG_WARNING, "prober_exited", "pid=%d status=%d", pid, status);
        p->prober_stop_planned = false;
        return true;
    }
    return false;
}

static void
reap_worker(struct mr_mgr *m, int slot, pid_t pid, int status, int64_t now)
{
    struct mr_sb_worker *w = &m->sb->workers[slot];
    /* Planned: asked to quit, killed by us for a timeout (logged then), or a clean exit
     * after max_requests. */
    bool planned =
        atomic_load(&w->quitting) || m->stopping || (WIFEXITED(status) && WEXITSTATUS(status) == 0);
    int route = atomic_load(&w->route); /* -1 unless it died inside a handler */
    if (!m->stopping)
        log_exit(m->sb, slot, pid, status, planned, route);
    if (WIFSIGNALED(status) && !planned) {
        note_crash(m, now);
        if (route >= 0 && route < MR_SB_MAX_ROUTES)
            atomic_fetch_add(&m->sb->routes[route].crashes, 1);
    }
    if (!m->stopping && !atomic_load(&w->quitting))
        atomic_fetch_add(&m->sb->pool.respawns, 1);
    atomic_store(&w->state, MR_W_FREE);
    atomic_store(&w->pid, 0);
}

void
mr_mgr__reap(struct mr_mgr *m, int64_t now)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (reap_helper(m, pid, status))
            continue;
        int slot = mr_sb_find_pid(m->sb, pid);
        if (slot >= 0)
            reap_worker(m, slot, pid, status, now);
    }
}

static void
signal_workers(struct mr_mgr *m, int sig)
{
    for (int i = mr_sb_next_live(m->sb, -1); i >= 0; i = mr_sb_next_live(m->sb, i)) {
        pid_t pid = atomic_load(&m->sb->workers[i].pid);
        if (pid > 0)
            (void)kill(pid, sig);
    }
}

void
mr_mgr__signal_servers(struct mr_mgr *m, int sig)
{
    signal_workers(m, sig);
    if (m->procs.status_pid > 0)
        (void)kill(m->procs.status_pid, sig);
}

void
mr_mgr__signal_all(struct mr_mgr *m, int sig)
{
    signal_workers(m, sig);
    if (m->procs.prober > 0)
        (void)kill(m->procs.prober, SIGTERM);
    if (m->procs.status_pid > 0)
        (void)kill(m->procs.status_pid, sig == SIGQUIT ? SIGQUIT : SIGTERM);
}

void
mr_mgr__restart_prober(struct mr_mgr *m)
{
    if (m->procs.prober > 0) {
        m->procs.prober_stop_planned = true;
        (void)kill(m->procs.prober, SIGTERM);
    }
}
