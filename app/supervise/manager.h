/* SPDX-License-Identifier: BSD-2-Clause */
/* manager: the parent process. It owns the listening socket, the scoreboard and the signals;
 * forks the prober and the workers, replaces any that exits, kills a worker stuck past its
 * limits, and reloads by replacing workers one at a time. It never blocks on the network.
 *
 * Signals: SIGTERM/SIGINT stop at once; SIGQUIT stops after in-flight requests (bounded by
 * process_control_timeout_ms); SIGHUP/SIGUSR2 re-read and validate the config, then replace
 * workers one at a time (an invalid file is logged and the old config keeps serving);
 * SIGUSR1 is accepted and logged (logs go to stderr, which journald or the caller owns). */
#ifndef MR_MANAGER_H
#define MR_MANAGER_H

#include "app/config/config.h"
#include "app/serve/listen.h"

/* Takes ownership of cfg, l and status_l (status_l->fd is -1 when status_listen is off).
 * Returns the process exit code. */
int mr_mgr_run(struct mr_cfg *cfg, struct mr_listen *l, struct mr_listen *status_l);

#endif
