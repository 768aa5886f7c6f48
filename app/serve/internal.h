/* SPDX-License-Identifier: BSD-2-Clause */
/* internal: what the request path's files share inside app/serve/: the worker's state and
 * the steps of one request cycle (dispatch.c, account.c), called by the loop in worker.c. */
#ifndef MR_SERVE_INTERNAL_H
#define MR_SERVE_INTERNAL_H

#include <fcgiapp.h>
#include <stdbool.h>
#include <stdint.h>

#include "app/serve/ctx.h"
#include "app/serve/conns.h"
#include "app/serve/router.h"

/* One per worker process, on the stack of mr_worker_run. */
struct mr_worker {
    const struct mr_cfg *cfg;
    const struct mr_route *routes;
    size_t n_routes;
    const struct mr_router *router;
    const struct mr_app *app; /* NULL: no hooks to run */
    bool app_ready;           /* its init succeeded: fini runs at exit */
    const struct mr_tpl_set *templates;
    struct mr_valid *const *inputs;
    bool is_pool;
    struct mr_sb *sb;
    struct mr_sb_worker *me;
    const struct mr_clients *clients; /* who may connect; NULL: anyone */
    int slot;
    struct mr_arena arena;
    struct mr_db *db;
    struct mr_cache *cache;
    struct mr_rand rng;
    struct mr_req_limits limits;
    struct mr_conns conns; /* the FastCGI connections it holds (conns.h) */
    FCGX_Request *fcgx;    /* the request being served: one of conns' */
    int listen_fd;
    int epfd;              /* its connections and, while it takes more, listen_fd */
    int listen_watch;      /* how listen_fd is in epfd (worker.c) */
    bool stopping;         /* takes no new connection */
    int64_t relook_ms;     /* full: look at the listening socket again then; 0 = no */
    int wake[2];           /* self-pipe: the SIGQUIT handler wakes epoll_wait */
    uint64_t served;       /* requests answered */
    uint64_t max_requests; /* 0 = never recycle */
    struct mr_db_stats db_seen[MR_DB_MAX_REPLICAS + 1]; /* already added to the scoreboard */
};

/* dispatch.c: parse, read the body, route, shed, set the deadline, run the handler. Fills
 * ctx->resp. Returns the route index for the counters (MR_SB_MAX_ROUTES when none). */
int mr_serve__dispatch(struct mr_worker *w, struct mr_ctx *ctx);
/* Reads and discards the body of a request answered before its body was read (a limit), so
 * that libfcgi does not take its STDIN records for the next request's. Returns false when
 * the connection cannot be kept (too large to drain, or the read failed). */
bool mr_serve__drain_unread(struct mr_worker *w, const struct mr_ctx *ctx);
/* Writes the response head and body to libfcgi's stream (sent by FCGX_Finish_r). */
void mr_serve__send(struct mr_worker *w, struct mr_ctx *ctx);

/* account.c: the worker's slot and the pool counters around one request. */
void mr_serve__set_state(struct mr_worker *w, enum mr_worker_state s);
/* Shows what the worker is serving in its slot (/status). */
void mr_serve__note_request(struct mr_worker *w, const struct mr_req *req);
/* Adds the worker's new database counts to the pool's (before the response leaves). */
void mr_serve__publish_db_stats(struct mr_worker *w);
/* Records a finished request (took `us`): route and status counters, the slot's counters,
 * and the failure or slow-request log line. request_id outlives the FastCGI params. */
void mr_serve__account(struct mr_worker *w, const struct mr_ctx *ctx, int route,
                       const char *request_id, int64_t us);

#endif
