/* SPDX-License-Identifier: BSD-2-Clause */
/* track: what keeps a worker's L1 (cache/l1.c) coherent with Redis, by Redis's client-side
 * caching in its RESP2 form (Redis >= 6; hiredis 0.14 speaks only RESP2). A second connection
 * per worker, the invalidation connection, SUBSCRIBEs to __redis__:invalidate; the cache
 * connection sends CLIENT TRACKING on REDIRECT <its CLIENT ID>. From then on Redis remembers
 * every key the cache connection reads, and when any client changes one (or it expires or is
 * evicted) publishes a `message` on that channel to the invalidation connection whose payload
 * is an array of the keys, or nil after FLUSHALL/FLUSHDB (drop everything). Redis forgets a
 * key once it has sent its invalidation, so L1 only ever holds values the cache connection
 * read, and reads again after an invalidation.
 *
 * Tracking is state of a connection, and in RESP2 Redis says nothing when the redirect target
 * goes away (RESP3's tracking-redir-broken has no RESP2 form), so any loss flushes all of L1:
 * the invalidation connection reading EOF or an error (CLIENT KILL, a Redis restart), the
 * cache connection being dropped (conn.c), or a drain that read so much that Redis may still
 * hold more of it in its output buffer. L1 then serves and fills nothing until both
 * connections are back and tracking points at the new invalidation connection.
 *
 * The drain never waits: poll(2) with a zero timeout, then one read(2) of what is there. The
 * other calls (connect, CLIENT ID, SUBSCRIBE, CLIENT TRACKING) are bounded by the cache's
 * connect and command timeouts and the request's deadline, and are only made when tracking is
 * off, at most once per reconnect_backoff_ms after a failure. A failure of the invalidation
 * connection never fails a call: the call goes to Redis as it would without L1. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "hiredis.h"

#include "app/lib/clock.h"
#include "app/lib/log.h"
#include "cache/internal.h"

/* A drain that read this much flushes L1: Redis writes to a subscriber as much as its socket
 * takes, so a backlog this large means the socket was full and more may wait in Redis's
 * output buffer, unread, past the keys we saw. Loopback's default receive buffer is 128 KiB. */
#define DRAIN_BEHIND_BYTES ((size_t)32 * 1024)

static struct timeval
ms_tv(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

/* An empty L1 is not flushed, so that the flush counter counts copies lost, not the
 * connections' first setup. The epoch moves in any case: a fill in flight must not land. */
static void
flush_l1(struct mr_cache *c)
{
    if (c->l1 != NULL && mr_cache_l1_count(c->l1) > 0)
        mr_cache_l1_flush(c->l1);
    c->track.epoch++;
}

bool
mr_cache__track_ready(const struct mr_cache *c)
{
    const struct mr_cache__track *t = &c->track;
    return c->l1 != NULL && t->ctx != NULL && c->ctx != NULL && t->id != 0 &&
           t->redirect_id == t->id;
}

static void
close_inval(struct mr_cache *c)
{
    if (c->track.ctx != NULL)
        redisFree(c->track.ctx);
    c->track.ctx = NULL;
    c->track.id = 0;
}

void
mr_cache__track_reset(struct mr_cache *c, const char *why)
{
    if (c->l1 == NULL)
        return;
    flush_l1(c);
    c->track.redirect_id = 0;
    if (why == NULL)
        return;
    close_inval(c);
    c->track.retry_ms = mr_clock_ms() + c->cfg->reconnect_backoff_ms;
    if (!c->track.is_down_logged)
        mr_log(MR_LOG_WARNING, "l1_tracking_lost", "pid=%d err=\"%s\"", (int)getpid(), why);
    c->track.is_down_logged = true;
}

void
mr_cache__track_close(struct mr_cache *c)
{
    close_inval(c);
    c->track.redirect_id = 0;
}

/* One command on the invalidation connection, under the command timeout. */
static redisReply *
inval_command(struct mr_cache *c, const char *cmd)
{
    int ms = mr_clock_left_ms(c->deadline_ms, c->cfg->command_timeout_ms);
    if (ms == 0 || redisSetTimeout(c->track.ctx, ms_tv(ms)) != REDIS_OK)
        return NULL;
    return redisCommand(c->track.ctx, cmd);
}

/* Connects, learns the connection's id and subscribes. Returns 0, -1 with why written (Redis
 * refused a command), or INVAL_NO_ANSWER (no connection, or no reply in time). */
#define INVAL_NO_ANSWER (-2)
static int
open_inval(struct mr_cache *c, char *why, size_t why_len)
{
    int code = 0;
    c->track.ctx = mr_cache__dial(c, &code, why, why_len);
    if (c->track.ctx == NULL)
        return INVAL_NO_ANSWER;
    int failed = -1;
    redisReply *r = inval_command(c, "CLIENT ID");
    if (r == NULL)
        failed = INVAL_NO_ANSWER;
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer <= 0) {
        (void)snprintf(why, why_len, "CLIENT ID: %s",
                       r == NULL                      ? c->track.ctx->errstr
                       : r->type == REDIS_REPLY_ERROR ? r->str
                                                      : "?");
        goto fail;
    }
    c->track.id = r->integer;
    freeReplyObject(r);
    r = inval_command(c, "SUBSCRIBE " MR_CACHE__INVAL_CHANNEL);
    if (r == NULL)
        failed = INVAL_NO_ANSWER;
    /* ["subscribe", channel, 1]: from now on only pubsub messages come on this connection. */
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        (void)snprintf(why, why_len, "SUBSCRIBE: %s",
                       r == NULL ? c->track.ctx->errstr : "unexpected reply");
        goto fail;
    }
    freeReplyObject(r);
    return 0;
fail:
    if (r != NULL)
        freeReplyObject(r);
    close_inval(c);
    return failed;
}

/* CLIENT TRACKING on REDIRECT id on the cache connection (allowed while tracking is already
 * on: only the target changes). Returns 0 (tracked, or refused by Redis: L1 stays off) or the
 * cache connection's failure. */
static int
redirect(struct mr_cache *c, struct mr_err *err)
{
    char cmd[64];
    (void)snprintf(cmd, sizeof(cmd), "CLIENT TRACKING on REDIRECT %lld", c->track.id);
    redisReply *r = redisCommand(c->ctx, cmd);
    if (r == NULL)
        return mr_cache__call_io_failed(c, false, errno, err);
    bool is_ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0;
    if (!is_ok) {
        char why[MR_CACHE__REASON_LEN];
        (void)snprintf(why, sizeof(why), "CLIENT TRACKING: %s",
                       r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        mr_cache__track_reset(c, why);
        return 0;
    }
    freeReplyObject(r);
    c->track.redirect_id = c->track.id;
    if (c->track.is_down_logged)
        mr_log(MR_LOG_INFO, "l1_tracking_restored", "pid=%d client_id=%lld", (int)getpid(),
               c->track.id);
    c->track.is_down_logged = false;
    return 0;
}

int
mr_cache__track_on(struct mr_cache *c, struct mr_err *err)
{
    if (c->l1 == NULL || mr_cache__track_ready(c) || c->ctx == NULL)
        return 0;
    /* The invalidation connection may have died unnoticed (no L1 lookup read it since): a
     * Redis restart. Find out before redirecting to it; and when the cache connection has
     * just been opened, Redis is up, so open the new one now rather than after the backoff. */
    bool had_inval = c->track.ctx != NULL;
    mr_cache__track_drain(c);
    if (had_inval && c->track.ctx == NULL && !c->is_reused)
        c->track.retry_ms = 0;
    int64_t now_ms = mr_clock_ms();
    if (now_ms < c->track.retry_ms)
        return 0;
    if (c->track.ctx == NULL) {
        char why[MR_CACHE__REASON_LEN];
        int rc = open_inval(c, why, sizeof(why));
        if (rc < 0) {
            mr_cache__track_reset(c, why);
            /* Redis did not answer the second connection in time: the call would now wait
             * once more on the first, so it fails here (one timeout per request, not two). */
            if (rc == INVAL_NO_ANSWER)
                return mr_cache__call_stalled(c, why, err);
            return 0;
        }
        /* Whatever this connection was tracked for went to a connection that is gone. */
        flush_l1(c);
    }
    return redirect(c, err);
}

/* Parses and applies every complete reply hiredis holds. Returns 0, or -1 on a protocol
 * error (the connection is then out of step). */
static int
apply_buffered(struct mr_cache *c)
{
    for (;;) {
        void *r = NULL;
        if (redisGetReplyFromReader(c->track.ctx, &r) != REDIS_OK)
            return -1;
        if (r == NULL)
            return 0;
        if (mr_cache__inval_apply(c->l1, c->cfg->key_prefix, c->prefix_len, r) == 1)
            flush_l1(c);
        freeReplyObject(r);
    }
}

void
mr_cache__track_drain(struct mr_cache *c)
{
    struct mr_cache__track *t = &c->track;
    if (c->l1 == NULL || t->ctx == NULL)
        return;
    size_t read_bytes = 0;
    for (;;) {
        if (apply_buffered(c) < 0) {
            mr_cache__track_reset(c, "invalidation connection: protocol error");
            return;
        }
        if (read_bytes >= DRAIN_BEHIND_BYTES) {
            flush_l1(c); /* behind: see DRAIN_BEHIND_BYTES; the connection itself is fine */
            return;
        }
        struct pollfd p = {.fd = t->ctx->fd, .events = POLLIN};
        int n = poll(&p, 1, 0);
        if (n == 0 || (n < 0 && errno == EINTR))
            return; /* nothing more has arrived: every invalidation sent so far is applied */
        if (n < 0) {
            mr_cache__track_reset(c, "invalidation connection: poll failed");
            return;
        }
        size_t before = t->ctx->reader->len;
        /* Readable (or closed): this read(2) returns at once. */
        if (redisBufferRead(t->ctx) != REDIS_OK) {
            char why[MR_CACHE__REASON_LEN];
            (void)snprintf(why, sizeof(why), "invalidation connection: %s",
                           t->ctx->err == REDIS_ERR_EOF ? "closed by Redis" : t->ctx->errstr);
            mr_cache__track_reset(c, why);
            return;
        }
        read_bytes += t->ctx->reader->len - before;
    }
}
