/* SPDX-License-Identifier: BSD-2-Clause */
/* worker: one process serving one request at a time over libfcgi (fcgiapp.h, never
 * fcgi_stdio.h). It accepts connections itself (so every wait has a timeout and a signal can
 * stop it), hands each to libfcgi to read the request, routes it, and writes the response.
 * After fork it opens its own Redis and PostgreSQL handles and seeds its RNG.
 * SIGQUIT: finish the request in flight, then exit 0. SIGTERM: exit at once. */
#ifndef MR_WORKER_H
#define MR_WORKER_H

#include <stdbool.h>

#include "app/config/config.h"
#include "app/lib/template.h"
#include "app/serve/validate.h"
#include "app/serve/router.h"
#include "app/board/scoreboard.h"
#include "app/lib/clients.h"

struct mr_worker_args {
    const struct mr_cfg *cfg;
    struct mr_sb *sb;
    int slot;                /* index for logs */
    struct mr_sb_worker *me; /* the slot this process writes */
    int listen_fd;
    const struct mr_clients *clients; /* who may connect (TCP); NULL: anyone */
    const struct mr_route *routes;    /* the handler table it serves */
    size_t n_routes;
    const struct mr_router *router; /* compiled from routes, before fork */
    const struct mr_app *app;       /* whose init runs after fork and fini before exit; or NULL */
    const struct mr_tpl_set *templates; /* the app's compiled templates, or NULL */
    struct mr_valid *const *inputs;     /* per route: compiled inputs or NULL; NULL: none */
    bool is_pool; /* a pool worker: counted in the route metrics, sheds load (the status
                   * process is neither) */
};

/* Runs until told to stop or max_requests is reached. Returns the process exit code. */
int mr_worker_run(const struct mr_worker_args *args);

#endif
