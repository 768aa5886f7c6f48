/* SPDX-License-Identifier: BSD-2-Clause */
/* ctx: the struct behind millrace.h's opaque struct mr_ctx: everything a handler gets for one
 * request: the parsed request, the response to fill, the request arena, and the worker's config,
 * connections, RNG and scoreboard. Owned by the worker; valid for the duration of the handler call.
 */
#ifndef MR_CTX_H
#define MR_CTX_H

#include <stdint.h>

#include "app/include/millrace.h"
#include "app/lib/arena.h"
#include "app/config/config.h"
#include "app/lib/json.h"
#include "app/lib/rand.h"
#include "app/lib/template.h"
#include "app/serve/validate.h"
#include "app/serve/cookie.h"
#include "app/serve/form.h"
#include "app/serve/jsonbody.h"
#include "app/serve/multipart.h"
#include "app/serve/request.h"
#include "app/serve/response.h"
#include "app/serve/router.h"
#include "app/serve/router.h"
#include "app/serve/session.h"
#include "app/board/scoreboard.h"
#include "cache/cache.h"
#include "db/db.h"

/* millrace.h's opaque JSON writer is the request's struct mr_json. */
struct mr_jw {
    struct mr_json w;
};

struct mr_ctx {
    struct mr_req req;
    struct mr_resp resp;
    struct mr_match match; /* the route and its path parameters (values in the arena) */
    struct mr_arena *arena;
    const struct mr_cfg *cfg;
    const struct mr_app *app; /* the served application (its statements); NULL: none */
    struct mr_db *db;
    struct mr_cache *cache;
    struct mr_sb *sb;
    struct mr_rand *rng;
    const struct mr_route *route;       /* the row being served; NULL before routing */
    const struct mr_tpl_set *templates; /* the app's, for mr_render; NULL when none */
    struct mr_values inputs;            /* the route's validated inputs (inputs.v NULL: none) */
    struct mr_form form;                /* an urlencoded body's fields (body.c) */
    struct mr_multipart multipart;      /* a multipart body's fields and files (body.c) */
    struct mr_jsonbody json_body;       /* a JSON body (root NULL: none) (body.c) */
    struct mr_cookies cookies;          /* parsed on first use */
    bool cookies_parsed;
    struct mr_jw json;   /* the writer mr_json_begin hands out */
    int slot;            /* this worker's scoreboard slot */
    int64_t start_us;    /* monotonic start of the request */
    int64_t deadline_ms; /* monotonic; every backend call gets what is left */
    int64_t backend_us;  /* time spent waiting on Redis and PostgreSQL */
    /* Read-your-writes (token.c): WAL positions, 0 for none. */
    uint64_t token_in;      /* presented by the client (header, else cookie) */
    uint64_t token_out;     /* the highest commit of this request: the response's token */
    bool token_resolved;    /* token_in is final (the header parsed, or the cookie looked at) */
    const char *err_detail; /* internal reason of a failure, for the log line only */
    /* Redis writes deferred to the end of the handler (mr_cache_stale, mr_cache_replace, and
     * any other end-of-request work that should share their one round trip); dispatch.c
     * sends them after the handler returns, before the response leaves. */
    struct mr_cache_queue cache_queue;

    struct mr_session session; /* read on first use, saved after the handler (session.c) */
};

#endif
