/* SPDX-License-Identifier: BSD-2-Clause */
/* session: the sessions' store. A session is one Redis string, `<key_prefix>session:<id>`,
 * holding bytes the caller encodes (app/serve/sessdata). A load is one GETEX that also slides
 * the expiry (Redis >= 6.2); a save is one pipeline of at most a DEL (the id given up by a
 * regeneration or a destroy) and a SET ... EX or a DEL of the current id. Both go through
 * conn.c like every other command, so the breaker, the backoff and the request's deadline
 * apply, and a failure is an error code, never a wait. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hiredis.h"

#include "cache/internal.h"

#define KEY_NS "session:"
#define KEY_MAX 256

/* prefix + "session:" + id into buf. Returns the length, or -EINVAL when it does not fit. */
static int
session_key(const struct mr_cache *c, const char *id, char buf[KEY_MAX], struct mr_err *err)
{
    int n = snprintf(buf, KEY_MAX, "%s%s%s", c->cfg->key_prefix != NULL ? c->cfg->key_prefix : "",
                     KEY_NS, id);
    if (n < 0 || n >= KEY_MAX)
        return mr_err_set(err, -EINVAL, "redis: session key too long");
    return n;
}

/* Like commands.c's error replies: an error reply keeps the connection, any other surprise
 * means the stream is out of step. Frees r. */
static int
bad_reply(struct mr_cache *c, const char *cmd, redisReply *r, struct mr_err *err)
{
    char what[MR_CACHE__REASON_LEN];
    int rc;
    if (r->type == REDIS_REPLY_ERROR) {
        (void)snprintf(what, sizeof(what), "%s failed: %.*s", cmd, (int)r->len, r->str);
        rc = mr_cache__call_reply_failed(c, false, what, err);
    } else {
        (void)snprintf(what, sizeof(what), "%s: unexpected reply type %d", cmd, r->type);
        rc = mr_cache__call_desync(c, false, what, err);
    }
    freeReplyObject(r);
    return rc;
}

int
mr_cache_session_load(struct mr_cache *c, const char *id, int ttl_s, struct mr_arena *arena,
                      struct mr_cache_value *out, struct mr_err *err)
{
    *out = (struct mr_cache_value){0};
    char key[KEY_MAX], ttl[16];
    int key_len = session_key(c, id, key, err);
    if (key_len < 0)
        return key_len;
    int ttl_len = snprintf(ttl, sizeof(ttl), "%d", ttl_s);
    const char *argv[4] = {"GETEX", key, "EX", ttl};
    size_t argvlen[4] = {5, (size_t)key_len, 2, (size_t)ttl_len};
    int rc = mr_cache__call_begin(c, false, err);
    if (rc < 0)
        return rc;
    void *v = NULL;
    if (redisAppendCommandArgv(c->ctx, 4, argv, argvlen) != REDIS_OK ||
        redisGetReply(c->ctx, &v) != REDIS_OK)
        return mr_cache__call_io_failed(c, false, errno, err);
    redisReply *r = v;
    if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)
        return bad_reply(c, "GETEX", r, err);
    mr_cache__call_ok(c, false);
    if (r->type == REDIS_REPLY_STRING) {
        out->data = mr_arena_strndup(arena, r->str, r->len);
        out->len = r->len;
        out->found = true;
        if (out->data == NULL)
            rc = mr_err_set(err, -ENOMEM, "cache: arena full copying a %zu-byte session", r->len);
    }
    freeReplyObject(r);
    if (rc < 0)
        *out = (struct mr_cache_value){0};
    return rc;
}

/* Appends DEL key or SET key data EX ttl. Returns 0 or the I/O failure. */
static int
append_op(struct mr_cache *c, const char *id, const struct mr_cache_value *data, int ttl_s,
          struct mr_err *err)
{
    char key[KEY_MAX], ttl[16];
    int key_len = session_key(c, id, key, err);
    if (key_len < 0)
        return key_len;
    int ttl_len = snprintf(ttl, sizeof(ttl), "%d", ttl_s);
    const char *argv[5] = {"SET", key, NULL, "EX", ttl};
    size_t argvlen[5] = {3, (size_t)key_len, 0, 2, (size_t)ttl_len};
    int argc = 5;
    if (data == NULL) {
        argv[0] = "DEL";
        argc = 2;
    } else {
        argv[2] = data->data;
        argvlen[2] = data->len;
    }
    if (redisAppendCommandArgv(c->ctx, argc, argv, argvlen) != REDIS_OK)
        return mr_cache__call_io_failed(c, false, errno, err);
    return 0;
}

int
mr_cache_session_save(struct mr_cache *c, const char *old_id, const char *id,
                      const struct mr_cache_value *data, int ttl_s, struct mr_err *err)
{
    int n = (old_id != NULL) + (id != NULL);
    if (n == 0)
        return 0;
    int rc = mr_cache__call_begin(c, false, err);
    if (rc < 0)
        return rc;
    if (old_id != NULL && (rc = append_op(c, old_id, NULL, ttl_s, err)) < 0)
        return rc;
    if (id != NULL && (rc = append_op(c, id, data, ttl_s, err)) < 0)
        return rc;
    /* Every reply is read, whatever it holds, so the connection stays in step. */
    char what[MR_CACHE__REASON_LEN] = "";
    for (int i = 0; i < n; i++) {
        void *v = NULL;
        if (redisGetReply(c->ctx, &v) != REDIS_OK)
            return mr_cache__call_io_failed(c, false, errno, err);
        const redisReply *r = v;
        if (r->type == REDIS_REPLY_ERROR && what[0] == '\0')
            (void)snprintf(what, sizeof(what), "session save failed: %.*s", (int)r->len, r->str);
        freeReplyObject(v);
    }
    if (what[0] != '\0')
        return mr_cache__call_reply_failed(c, false, what, err);
    mr_cache__call_ok(c, false);
    return 0;
}
