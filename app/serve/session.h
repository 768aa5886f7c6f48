/* SPDX-License-Identifier: BSD-2-Clause */
/* session: one request's server-side session, behind millrace.h's mr_session_* and
 * mr_csrf_token, and the two steps dispatch.c adds around a handler: the CSRF check of an
 * MR_ROUTE_CSRF route before it, the save after it. Nothing happens until a handler (or the
 * CSRF check) asks: a request that never touches its session reads no cookie and makes no
 * Redis round trip. The first access reads the signed cookie; the first access to the data
 * is one GETEX; the save, only when something changed, is one pipeline. */
#ifndef MR_SESSION_H
#define MR_SESSION_H

#include <stdbool.h>

#include "app/serve/sessdata.h"
#include "app/serve/sesstoken.h"

struct mr_ctx;

/* In struct mr_ctx, zeroed per request. */
struct mr_session {
    bool is_identified; /* the cookie was read */
    bool is_loaded;     /* the data was read, or there was none to read */
    bool is_found;      /* the store held data under id */
    bool is_unreadable; /* the store failed at load: never overwrite what could not be read */
    bool is_dirty;      /* the data changed */
    bool is_new_id;     /* id was made by this request (new or regenerated) */
    bool is_destroyed;
    char id[MR_SESSION_ID_LEN + 1];     /* "" while there is none */
    char old_id[MR_SESSION_ID_LEN + 1]; /* stored data to delete (regenerate, destroy); "" */
    struct mr_sessdata data;
};

/* The value of key, or NULL (absent, no session, sessions off). */
const char *mr_sess_get(struct mr_ctx *ctx, const char *key);
/* Returns 0, or 413 past sessions.max_bytes or the entry limit, 500 for a bad key, sessions
 * off or the arena's ceiling; the reason in ctx->err_detail. */
int mr_sess_set(struct mr_ctx *ctx, const char *key, const char *value);
int mr_sess_del(struct mr_ctx *ctx, const char *key);
/* A new id for the same data; the old one is deleted at the save. 0 or 500. */
int mr_sess_regenerate(struct mr_ctx *ctx);
/* Drops the data and the id; the save deletes it and expires the cookie. 0 or 500. */
int mr_sess_destroy(struct mr_ctx *ctx);
/* The session's CSRF token (in the arena), making a session id when there is none; NULL
 * when sessions are off or no id can be made. */
const char *mr_sess_csrf_token(struct mr_ctx *ctx);

/* dispatch.c: whether an unsafe request (POST, PUT, PATCH, DELETE) carries its session's CSRF
 * token in the csrf_token field or the X-CSRF-Token header; safe methods pass. */
bool mr_sess_csrf_ok(struct mr_ctx *ctx);
/* dispatch.c, after the handler: stores what changed and sets or expires the cookie. A
 * store failure is a log line; the response stands. */
void mr_sess_finish(struct mr_ctx *ctx);

#endif
