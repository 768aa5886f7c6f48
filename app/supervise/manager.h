/* SPDX-License-Identifier: BSD-2-Clause */
/* manager: the parent process. It owns the listening socket, the scoreboard and the signals;
 * forks the prober and the workers, replaces any that exits, kills a worker stuck past its
 * limits, and reloads by replacing workers one at a time. It never blocks on the network.
 *
 * Signals: SIGTERM/SIGINT stop at once; SIGQUIT stops after in-flight requests (bounded by
 * process_control_timeout_ms); SIGHUP/SIGUSR2 re-read and validate the config, then replace
 * workers one at a time (an invalid file is logged and the old config keeps serving);
 * SIGUSR1 reopens log.file in every process. */
#ifndef MR_MANAGER_H
#define MR_MANAGER_H

#include <stddef.h>

#include "app/board/scoreboard.h"
#include "app/config/config.h"
#include "app/serve/listen.h"
#include "app/serve/router.h"

/* The route tables the manager's children serve, handed in by main.c: supervision knows
 * nothing of the handlers. Borrowed; they outlive the manager (static tables, and routers
 * main.c built from them before the first fork, which the children share read-only). */
struct mr_mgr_tables {
    const struct mr_route *serve; /* the pool workers'; /status and /metrics label these */
    size_t n_serve;
    const struct mr_router *serve_router;
    const struct mr_route *status; /* the status process's (status_listen) */
    size_t n_status;
    const struct mr_router *status_router;
};

/* Takes ownership of cfg, l and status_l (status_l->fd is -1 when status_listen is off).
 * Returns the process exit code. */
int mr_mgr_run(struct mr_cfg *cfg, struct mr_listen *l, struct mr_listen *status_l,
               const struct mr_mgr_tables *tables);

/* Copies a route table's names into the scoreboard, before the first fork, so that /status
 * and /metrics label its counters (the board knows no router). Routes past MR_SB_MAX_ROUTES
 * share the unmatched counter and get no label. */
void mr_mgr_label_routes(struct mr_sb *sb, const struct mr_route *routes, size_t n);

#endif
