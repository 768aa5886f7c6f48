/* SPDX-License-Identifier: BSD-2-Clause */
/* conn: the worker's one Redis connection, and the policy for when Redis misbehaves.
 *
 * hiredis 0.14 has one timeout per socket (SO_RCVTIMEO/SO_SNDTIMEO) and a connect timeout
 * only as an argument of the connect call, so both are applied here by hand: the connect gets
 * min(connect_timeout_ms, time to the request deadline), and every command min(command_
 * timeout_ms, time to the deadline), set on the socket just before it is sent. The socket
 * timeout bounds each read(2), not the whole reply; a Redis that drips a large reply byte by
 * byte could stretch a call past it, which a local Redis does not do.
 *
 * After any I/O error or timeout the context is unusable (a reply may be half read), so it is
 * freed, and no new connect is tried before a backoff that doubles from reconnect_backoff_ms
 * to reconnect_backoff_max_ms and resets after a successful command (not a successful
 * connect: a stopped Redis still completes the TCP handshake from its listen backlog), or
 * ends as soon as the prober sees Redis back. During the backoff calls fail at once, so a
 * dead Redis costs no connect per request. One exception: a connection that served earlier
 * calls and reads EOF or a reset before this call's first reply was closed while idle (Redis
 * restarted); it is dropped quietly and the call is sent once more on a new connection. Failures
 * also feed the breaker in shared memory, which spares the other workers the same discovery. That
 * policy and its state-change lines (conn_lost, conn_restored, breaker_open, breaker_closed) are
 * app/lib/backend.c's, shared with db/. The failing call itself returns its reason to the caller,
 * which logs it. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <sys/time.h>

#include "hiredis.h"

#include "app/lib/clock.h"
#include "cache/internal.h"

static struct timeval
ms_tv(int ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

void
mr_cache__conn_drop(struct mr_cache *c)
{
    if (c->ctx != NULL)
        redisFree(c->ctx);
    c->ctx = NULL;
    c->timeout_set_ms = 0;
    /* Tracking belongs to the connection: what it read is no longer watched. */
    mr_cache__track_reset(c, NULL);
}

/* The connection is gone: free it, push the next connect back, count the failure. The
 * prober owns the up/down state of a backend and logs it; its pings stay quiet. */
static int
conn_failed(struct mr_cache *c, bool is_probe, int code, const char *reason, struct mr_err *err)
{
    mr_cache__conn_drop(c);
    (void)snprintf(c->down_reason, sizeof(c->down_reason), "%s", reason);
    if (!is_probe) {
        int64_t now_ms = mr_clock_ms();
        mr_backend_lost(&c->policy, now_ms, reason);
        mr_backend_failed(&c->policy, now_ms, reason);
    }
    return mr_err_set(err, code, "redis: %s", reason);
}

redisContext *
mr_cache__dial(const struct mr_cache *c, int *code, char *reason, size_t reason_len)
{
    const struct mr_cache_cfg *cfg = c->cfg;
    int ms = mr_clock_left_ms(c->deadline_ms, cfg->connect_timeout_ms);
    if (ms == 0) {
        *code = -ETIMEDOUT;
        (void)snprintf(reason, reason_len, "request deadline passed before connecting");
        return NULL;
    }
    bool is_unix = cfg->host[0] == '/';
    errno = 0;
    redisContext *ctx = is_unix ? redisConnectUnixWithTimeout(cfg->host, ms_tv(ms))
                                : redisConnectWithTimeout(cfg->host, cfg->port, ms_tv(ms));
    int saved_errno = errno;
    /* Keepalive makes a peer that vanished (host down, NAT entry dropped) fail the next
     * command at once with a reset, instead of after a full command timeout. */
    if (ctx != NULL && ctx->err == 0 && !is_unix && redisEnableKeepAlive(ctx) != REDIS_OK)
        saved_errno = errno;
    if (ctx != NULL && ctx->err == 0)
        return ctx;
    char port[16] = "";
    if (!is_unix)
        (void)snprintf(port, sizeof(port), ":%d", cfg->port);
    (void)snprintf(reason, reason_len, "connect to %s%s failed: %s", cfg->host, port,
                   ctx != NULL ? ctx->errstr : "out of memory");
    /* hiredis reports a connect timeout as errno ETIMEDOUT from its poll. */
    *code = saved_errno == ETIMEDOUT || saved_errno == EAGAIN ? -ETIMEDOUT : -ECONNREFUSED;
    if (ctx != NULL)
        redisFree(ctx);
    return NULL;
}

static int
conn_open(struct mr_cache *c, bool is_probe, struct mr_err *err)
{
    /* The request's fault, not Redis's: no backoff, no breaker. */
    if (mr_clock_left_ms(c->deadline_ms, c->cfg->connect_timeout_ms) == 0)
        return mr_err_set(err, -ETIMEDOUT, "redis: request deadline passed before connecting");
    char reason[MR_CACHE__REASON_LEN];
    int code = 0;
    redisContext *ctx = mr_cache__dial(c, &code, reason, sizeof(reason));
    if (ctx == NULL)
        return conn_failed(c, is_probe, code, reason, err);
    c->ctx = ctx;
    /* Unknown: whatever hiredis left on the socket is replaced before the first command. */
    c->timeout_set_ms = 0;
    return 0;
}

static int
set_timeout(struct mr_cache *c, bool is_probe, struct mr_err *err)
{
    int ms = mr_clock_left_ms(c->deadline_ms, c->cfg->command_timeout_ms);
    /* A zero timeval means "wait forever" to SO_RCVTIMEO: a spent deadline sends nothing. */
    if (ms == 0)
        return mr_err_set(err, -ETIMEDOUT, "redis: request deadline passed before the call");
    /* Two setsockopt calls saved per request when no deadline changes the value. */
    if (ms == c->timeout_set_ms)
        return 0;
    if (redisSetTimeout(c->ctx, ms_tv(ms)) != REDIS_OK)
        return mr_cache__call_io_failed(c, is_probe, errno, err);
    c->timeout_set_ms = ms;
    return 0;
}

/* Connects when needed, sets the socket timeout, and (L1 on, not a probe) has the connection
 * tracked before its first read. -EAGAIN: as mr_cache__call_io_failed. */
static int
open_and_track(struct mr_cache *c, bool is_probe, struct mr_err *err)
{
    if (c->ctx == NULL) {
        int rc = conn_open(c, is_probe, err);
        if (rc < 0)
            return rc;
    }
    int rc = set_timeout(c, is_probe, err);
    if (rc < 0 || is_probe)
        return rc;
    return mr_cache__track_on(c, err);
}

int
mr_cache__call_begin(struct mr_cache *c, bool is_probe, struct mr_err *err)
{
    int64_t now_ms = mr_clock_ms();
    if (c->deadline_ms != 0 && now_ms >= c->deadline_ms)
        return mr_err_set(err, -ETIMEDOUT, "redis: request deadline passed before the call");
    if (c->ctx == NULL && !is_probe && mr_backend_waiting(&c->policy, now_ms))
        return mr_err_set(err, -ECONNREFUSED, "redis: reconnect in %lldms; last error: %s",
                          (long long)mr_backend_wait_ms(&c->policy, now_ms), c->down_reason);
    if (!is_probe && !mr_breaker_allow(c->health, &c->cfg->breaker, now_ms))
        return mr_err_set(err, -ECONNREFUSED, "redis: circuit breaker open");
    c->is_reused = c->ctx != NULL;
    int rc = open_and_track(c, is_probe, err);
    if (rc == -EAGAIN) { /* tracking found the idle connection closed: once more, afresh */
        c->is_reused = false;
        rc = open_and_track(c, is_probe, err);
    }
    assert(rc != -EAGAIN);
    return rc;
}

void
mr_cache__call_ok(struct mr_cache *c, bool is_probe)
{
    if (!is_probe)
        mr_backend_ok(&c->policy);
}

/* Whether the peer closed the connection (EOF, a reset, a broken pipe): what a connection
 * left idle across a Redis restart meets first. A timeout is not this: Redis is slow now. */
static bool
peer_closed(const redisContext *ctx, int saved_errno)
{
    return ctx->err == REDIS_ERR_EOF ||
           (ctx->err == REDIS_ERR_IO && (saved_errno == ECONNRESET || saved_errno == EPIPE));
}

int
mr_cache__call_io_failed(struct mr_cache *c, bool is_probe, int saved_errno, struct mr_err *err)
{
    assert(c->ctx != NULL);
    /* No evidence that Redis is down now: without this, the first call of every worker after
     * a Redis restart would fail, and an invalidation among them would be lost. */
    if (!is_probe && c->is_reused && peer_closed(c->ctx, saved_errno)) {
        mr_cache__conn_drop(c);
        c->is_reused = false;
        return -EAGAIN;
    }
    char reason[MR_CACHE__REASON_LEN];
    int code = -EIO;
    /* A socket timeout reaches hiredis as read(2) or write(2) failing with EAGAIN. */
    if (c->ctx->err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == ETIMEDOUT)) {
        code = -ETIMEDOUT;
        (void)snprintf(reason, sizeof(reason), "command timed out after %dms", c->timeout_set_ms);
    } else {
        (void)snprintf(reason, sizeof(reason), "connection failed: %s", c->ctx->errstr);
    }
    return conn_failed(c, is_probe, code, reason, err);
}

int
mr_cache__call_desync(struct mr_cache *c, bool is_probe, const char *what, struct mr_err *err)
{
    return conn_failed(c, is_probe, -EIO, what, err);
}

int
mr_cache__call_stalled(struct mr_cache *c, const char *what, struct mr_err *err)
{
    return conn_failed(c, false, -ETIMEDOUT, what, err);
}

int
mr_cache__call_reply_failed(struct mr_cache *c, bool is_probe, const char *what, struct mr_err *err)
{
    if (!is_probe)
        mr_backend_failed(&c->policy, mr_clock_ms(), what);
    return mr_err_set(err, -EIO, "redis: %s", what);
}
