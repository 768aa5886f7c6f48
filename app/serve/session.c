/* SPDX-License-Identifier: BSD-2-Clause */
/* session: the request's session over the signed cookie (sesstoken), the map (sessdata) and
 * the store (cache/session.c). States, all in ctx->session and all starting false:
 *   identified  the cookie was verified (or found missing or bad: then there is no id);
 *   loaded      the data was read: one GETEX, which also slides the expiry;
 *   dirty       the data changed: the save SETs it (or DELs an emptied session).
 * A bad cookie, a missing session, data that does not decode and a store that fails all
 * read as an empty session; each but the first two is one log line, none is an error. After
 * a store failure at load nothing is saved, so that what could not be read is not replaced
 * by a partial copy. */
#include <errno.h>
#include <string.h>

#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "app/serve/body.h"
#include "app/serve/ctx.h"
#include "app/serve/session.h"

static bool
is_on(const struct mr_ctx *ctx)
{
    return ctx->cfg != NULL && ctx->cfg->sessions.is_on;
}

static void
identify(struct mr_ctx *ctx)
{
    struct mr_session *s = &ctx->session;
    if (s->is_identified)
        return;
    s->is_identified = true;
    const char *v = mr_body_cookie(ctx, ctx->cfg->sessions.cookie);
    if (v != NULL && !mr_sesstoken_verify(&ctx->cfg->sessions, v, strlen(v), s->id))
        s->id[0] = '\0'; /* tampered, another key's, or not ours: a new visitor */
}

static void
log_store(const struct mr_ctx *ctx, const char *event, const char *why)
{
    mr_log(MR_LOG_WARNING, event, "req=%s uri=%s err=\"%s\"", ctx->req.request_id,
           ctx->req.path != NULL ? ctx->req.path : "-", why);
}

/* Reads the data once per request. Returns 0, or 500 when sessions are off. */
static int
load(struct mr_ctx *ctx)
{
    struct mr_session *s = &ctx->session;
    if (!is_on(ctx)) {
        ctx->err_detail = "sessions are off: the config has no sessions group";
        return 500;
    }
    identify(ctx);
    if (s->is_loaded)
        return 0;
    s->is_loaded = true;
    if (s->id[0] == '\0')
        return 0;
    struct mr_cache_value v;
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    int rc =
        mr_cache_session_load(ctx->cache, s->id, ctx->cfg->sessions.ttl_s, ctx->arena, &v, &err);
    ctx->backend_us += mr_clock_us() - t0;
    if (rc < 0) {
        s->is_unreadable = true;
        log_store(ctx, "session_unreadable", err.msg);
        return 0;
    }
    s->is_found = v.found;
    if (v.found && mr_sessdata_decode(v.data, v.len, ctx->arena, &s->data) < 0)
        log_store(ctx, "session_corrupt", "stored data does not decode: an empty session");
    return 0;
}

const char *
mr_sess_get(struct mr_ctx *ctx, const char *key)
{
    if (key == NULL || load(ctx) != 0)
        return NULL;
    return mr_sessdata_get(&ctx->session.data, key);
}

/* A new id for this request's session. Returns 0 or 500. */
static int
new_id(struct mr_ctx *ctx)
{
    struct mr_session *s = &ctx->session;
    if (mr_sesstoken_new_id(s->id) < 0) {
        s->id[0] = '\0';
        ctx->err_detail = "session: libsodium could not start (no entropy source)";
        return 500;
    }
    s->is_new_id = true;
    return 0;
}

int
mr_sess_set(struct mr_ctx *ctx, const char *key, const char *value)
{
    int rc = load(ctx);
    if (rc != 0)
        return rc;
    if (key == NULL || value == NULL) {
        ctx->err_detail = "mr_session_set: NULL key or value";
        return 500;
    }
    struct mr_session *s = &ctx->session;
    rc = mr_sessdata_set(&s->data, key, value, (size_t)ctx->cfg->sessions.max_bytes, ctx->arena);
    switch (rc) {
    case 0:
        break;
    case -EINVAL:
        ctx->err_detail = "mr_session_set: a key must be 1 to 64 bytes";
        return 500;
    case -E2BIG:
        ctx->err_detail = "mr_session_set: the session would pass sessions.max_bytes or 256 keys";
        return 413;
    default:
        ctx->err_detail = "mr_session_set: request arena exhausted";
        return 500;
    }
    s->is_dirty = true;
    return s->id[0] == '\0' ? new_id(ctx) : 0;
}

int
mr_sess_del(struct mr_ctx *ctx, const char *key)
{
    int rc = load(ctx);
    if (rc != 0 || key == NULL)
        return rc;
    if (mr_sessdata_del(&ctx->session.data, key))
        ctx->session.is_dirty = true;
    return 0;
}

/* The id whose stored data must go at the save (the first one stored, if several). */
static void
retire_id(struct mr_session *s)
{
    if (s->old_id[0] == '\0' && s->id[0] != '\0' && !s->is_new_id)
        memcpy(s->old_id, s->id, sizeof(s->id));
    s->id[0] = '\0';
    s->is_new_id = false;
}

int
mr_sess_regenerate(struct mr_ctx *ctx)
{
    int rc = load(ctx);
    if (rc != 0)
        return rc;
    struct mr_session *s = &ctx->session;
    retire_id(s);
    s->is_dirty = true; /* the data moves to the new id */
    s->is_destroyed = false;
    return new_id(ctx);
}

int
mr_sess_destroy(struct mr_ctx *ctx)
{
    if (!is_on(ctx)) {
        ctx->err_detail = "sessions are off: the config has no sessions group";
        return 500;
    }
    identify(ctx);
    struct mr_session *s = &ctx->session;
    retire_id(s);
    s->data = (struct mr_sessdata){0};
    s->is_loaded = true; /* nothing left to read */
    s->is_found = false;
    s->is_dirty = false;
    s->is_destroyed = true;
    return 0;
}

const char *
mr_sess_csrf_token(struct mr_ctx *ctx)
{
    if (!is_on(ctx))
        return NULL;
    identify(ctx);
    struct mr_session *s = &ctx->session;
    /* A visitor's first form: the new id needs no stored data, only the cookie. */
    if (s->id[0] == '\0' && new_id(ctx) != 0)
        return NULL;
    char *t = mr_arena_alloc(ctx->arena, MR_CSRF_TOKEN_LEN + 1);
    if (t != NULL)
        mr_sesstoken_csrf(&ctx->cfg->sessions, s->id, t);
    return t;
}

static bool
is_unsafe(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

bool
mr_sess_csrf_ok(struct mr_ctx *ctx)
{
    if (!is_unsafe(ctx->req.method))
        return true;
    if (!is_on(ctx)) {
        /* A 403 is not logged by default; this one is the config's fault, not the client's. */
        ctx->err_detail = "MR_ROUTE_CSRF route, but sessions are off (no sessions group)";
        log_store(ctx, "csrf_without_sessions", ctx->err_detail);
        return false;
    }
    identify(ctx);
    const char *token = mr_req_header(&ctx->req, "X-CSRF-Token");
    if (token == NULL)
        token = mr_body_field(ctx, "csrf_token", 0);
    if (token == NULL || ctx->session.id[0] == '\0' ||
        !mr_sesstoken_csrf_ok(&ctx->cfg->sessions, ctx->session.id, token, strlen(token))) {
        ctx->err_detail = token == NULL                ? "CSRF token missing"
                          : ctx->session.id[0] == '\0' ? "CSRF token without a valid session"
                                                       : "CSRF token does not match the session";
        return false;
    }
    return true;
}

/* Sets the session cookie (id signed, Max-Age the TTL) or expires it (id NULL). */
static void
set_cookie(struct mr_ctx *ctx, const char *id)
{
    const struct mr_session_cfg *sc = &ctx->cfg->sessions;
    char value[MR_SESSION_COOKIE_LEN + 1] = "";
    if (id != NULL)
        mr_sesstoken_sign(sc, id, value);
    struct mr_cookie_opts o = {
        .has_max_age = true,
        .max_age_s = id != NULL ? sc->ttl_s : 0,
        .is_https = mr_req_is_https(&ctx->req),
    };
    if (mr_resp_set_cookie(&ctx->resp, ctx->arena, sc->cookie, value, &o) != 0)
        log_store(ctx, "session_cookie_failed", "the Set-Cookie header could not be added");
}

/* What the store must do: old_id to delete, id to write (data) or delete (data NULL). */
static void
save(struct mr_ctx *ctx)
{
    struct mr_session *s = &ctx->session;
    const char *old_id = s->old_id[0] != '\0' ? s->old_id : NULL;
    const char *id = NULL;
    struct mr_cache_value v = {0}, *data = NULL;
    if (s->id[0] != '\0' && s->is_dirty && s->data.n > 0) {
        char *bytes;
        if (mr_sessdata_encode(&s->data, ctx->arena, &bytes, &v.len) < 0) {
            log_store(ctx, "session_not_saved", "request arena exhausted encoding the session");
            return;
        }
        v.data = bytes;
        id = s->id;
        data = &v;
    } else if (s->id[0] != '\0' && s->is_dirty && s->is_found) {
        id = s->id; /* every key deleted: so is the session */
    }
    if (old_id == NULL && id == NULL)
        return;
    if (s->is_unreadable) {
        log_store(ctx, "session_not_saved", "the store failed when the session was read");
        return;
    }
    struct mr_err err;
    int64_t t0 = mr_clock_us();
    int rc = mr_cache_session_save(ctx->cache, old_id, id, data, ctx->cfg->sessions.ttl_s, &err);
    ctx->backend_us += mr_clock_us() - t0;
    if (rc < 0)
        log_store(ctx, "session_not_saved", err.msg);
}

void
mr_sess_finish(struct mr_ctx *ctx)
{
    struct mr_session *s = &ctx->session;
    if (!s->is_identified)
        return; /* never touched: the lean path */
    save(ctx);
    if (s->id[0] != '\0' && (s->is_new_id || s->is_found || s->is_dirty))
        set_cookie(ctx, s->id); /* new, or sliding the cookie's expiry with the store's */
    else if (s->is_destroyed && s->id[0] == '\0')
        set_cookie(ctx, NULL);
}
