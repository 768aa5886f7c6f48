/* SPDX-License-Identifier: BSD-2-Clause */
/* cache/internal.h: what the files of cache/ share, and nothing outside cache/ may use.
 * cache.c owns the handle, conn.c the connection and its failure policy, commands.c the
 * commands, queue.c a request's deferred writes, xfetch.c the value envelope and the expiry
 * decisions, l1.c the store of the worker's in-process cache (its own header, cache/l1.h),
 * track.c its coherence (the invalidation connection and CLIENT TRACKING), inval.c what one
 * invalidation message means; the randomness is app/lib/rand's, one state per handle.
 *
 * The pure functions at the end (envelope, XFetch decision, TTL jitter) are declared here,
 * not static, so that tests/unit/cache/test_cache.c can check them without a Redis; they
 * touch no connection, clock or global state. hiredis types stay out of this header too
 * (a forward declaration suffices), so the unit test needs no hiredis include. */
#ifndef MR_CACHE_INTERNAL_H
#define MR_CACHE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/lib/backend.h"
#include "app/lib/rand.h"
#include "cache/cache.h"
#include "cache/l1.h"

struct redisContext;
struct redisReply;

#define MR_CACHE__REASON_LEN 200

/* Buffers reused by every command, so that a steady-state call allocates nothing of ours:
 * `bytes` holds the prefixed keys, envelopes and TTL digits, `argv`/`argvlen` point into it.
 * They grow to the largest call seen and are trimmed back after an unusually large one. */
struct mr_cache__scratch {
    char *bytes;
    size_t bytes_cap;
    const char **argv;
    size_t *argvlen;
    size_t argv_cap;
};

/* The invalidation connection of L1 (track.c): subscribed to __redis__:invalidate, the target
 * of the cache connection's CLIENT TRACKING ... REDIRECT. L1 serves and fills only while
 * mr_cache__track_ready: both connections up and the current cache connection redirecting to
 * the current invalidation connection. */
struct mr_cache__track {
    struct redisContext *ctx; /* NULL while down */
    long long id;             /* its CLIENT ID */
    long long redirect_id;    /* where the cache connection's tracking points; 0: not tracked */
    int64_t retry_ms;         /* monotonic: no new attempt before (after a failure) */
    uint64_t epoch;           /* bumped by every flush of L1 */
    bool is_down_logged;      /* l1_tracking_lost was logged; l1_tracking_restored is due */
};

struct mr_cache {
    const struct mr_cache_cfg *cfg;
    struct mr_backend_slot *health;
    struct redisContext *ctx; /* NULL while not connected */
    size_t prefix_len;
    int64_t deadline_ms;             /* monotonic, from mr_cache_deadline; 0 for none */
    struct mr_backend_policy policy; /* backoff, breaker reports, conn_lost/_restored lines */
    int timeout_set_ms; /* the socket timeout ctx has now, so that it is set only on change */
    bool is_reused;     /* the current call began on a connection an earlier call opened */
    char down_reason[MR_CACHE__REASON_LEN]; /* why the connection last failed */
    struct mr_rand rng; /* TTL jitter and XFetch draws; seeded when the handle opens */
    struct mr_cache__scratch scratch;
    struct mr_cache_stats stats;
    struct mr_cache_l1 *l1; /* NULL: L1 off (mr_cache_local_open not called, or l1_bytes 0) */
    struct mr_cache__track track;
    struct mr_cache_l1_stats l1_taken; /* what mr_cache_local_take has handed out so far */
    /* Whether the MGET in flight may fill L1: tracking was on when it was sent, and stays so
     * (the same epoch) when its reply is read. */
    bool is_fill_ok;
    uint64_t fill_epoch;
};

/* conn.c: every command goes begin -> (send, read) -> ok | io_failed | reply_failed.
 * A probe (mr_cache_ping) skips the backoff and the breaker and reports into neither: the
 * prober calls it on its own interval and publishes the backend's state itself. */

/* Checks the deadline, the backoff and the breaker, connects when needed and sets the socket
 * timeout. Returns 0 with c->ctx ready, or -ETIMEDOUT/-ECONNREFUSED with nothing sent. */
MR_MUST_CHECK int mr_cache__call_begin(struct mr_cache *c, bool is_probe, struct mr_err *err);
/* The call succeeded: closes the breaker, resets the backoff, logs a restored connection. */
void mr_cache__call_ok(struct mr_cache *c, bool is_probe);
/* hiredis failed on c->ctx (saved_errno is errno right after): drops the connection, starts
 * the backoff, feeds the breaker. Returns -ETIMEDOUT or -EIO with the reason in err; or
 * -EAGAIN, with nothing reported, when a connection earlier calls used turns out closed by
 * the peer before any reply of this call was read (Redis restarted while it was idle): the
 * caller then sends the whole call once more, on a new connection, and only once: that
 * attempt connects afresh, so it cannot be told to retry. */
MR_MUST_CHECK int mr_cache__call_io_failed(struct mr_cache *c, bool is_probe, int saved_errno,
                                           struct mr_err *err);
/* Redis answered, but not what the command must answer (an error reply such as LOADING or
 * OOM): the connection is kept, the breaker is fed. Returns -EIO with `what` in err. */
MR_MUST_CHECK int mr_cache__call_reply_failed(struct mr_cache *c, bool is_probe, const char *what,
                                              struct mr_err *err);
/* Like call_io_failed for a Redis that answered another connection of this worker not at
 * all or not in time (the invalidation connection, track.c): the call fails with -ETIMEDOUT
 * rather than wait out a second timeout on the cache connection. */
MR_MUST_CHECK int mr_cache__call_stalled(struct mr_cache *c, const char *what, struct mr_err *err);
/* Like call_io_failed for a reply that leaves the stream out of step (wrong type or count). */
MR_MUST_CHECK int mr_cache__call_desync(struct mr_cache *c, bool is_probe, const char *what,
                                        struct mr_err *err);
/* Frees the connection, if any (and flushes L1: its tracking went with it). */
void mr_cache__conn_drop(struct mr_cache *c);
/* A new connection with the connect timeout (bounded by the deadline), keepalive on; NULL
 * with *code (-ETIMEDOUT, -ECONNREFUSED) and the reason written. Reports nothing. */
struct redisContext *mr_cache__dial(const struct mr_cache *c, int *code, char *reason,
                                    size_t reason_len);

/* track.c: L1's coherence. */
/* Flushes L1 and marks the cache connection untracked; why != NULL: the invalidation
 * connection failed too, so it is closed (and the loss logged once). No-op with L1 off. */
void mr_cache__track_reset(struct mr_cache *c, const char *why);
/* Makes sure the current cache connection is tracked: opens the invalidation connection if
 * needed, then CLIENT TRACKING on REDIRECT <its id> on c->ctx. Returns 0 also when L1 is off
 * or tracking cannot be had now (L1 then neither serves nor fills; retried after the
 * reconnect backoff); -EAGAIN, -ETIMEDOUT or -EIO only when c->ctx itself failed, as
 * mr_cache__call_io_failed says. Every call bounded by the cache's timeouts. */
MR_MUST_CHECK int mr_cache__track_on(struct mr_cache *c, struct mr_err *err);
/* Reads every invalidation already received, without waiting, and applies it to L1. */
void mr_cache__track_drain(struct mr_cache *c);
bool mr_cache__track_ready(const struct mr_cache *c);
void mr_cache__track_close(struct mr_cache *c);

/* inval.c: one reply read on the invalidation connection, applied to l1 (keys carry the
 * configured prefix, which is stripped). Returns 0 (applied, or not an invalidation), or 1:
 * flush all of L1 (nil payload, or a message we cannot read). */
#define MR_CACHE__INVAL_CHANNEL "__redis__:invalidate"
int mr_cache__inval_apply(struct mr_cache_l1 *l1, const char *prefix, size_t prefix_len,
                          const struct redisReply *r);

/* commands.c */
void mr_cache__scratch_fini(struct mr_cache__scratch *s);
/* The n ops in order in one pipeline (SET without NX, DEL); every reply read. Returns 0 or
 * the failure, as mr_cache_queue_flush says. */
MR_MUST_CHECK int mr_cache__apply(struct mr_cache *c, const struct mr_cache_op *ops, size_t n,
                                  struct mr_err *err);

/* xfetch.c: the value envelope. All integers little-endian, byte by byte (no alignment):
 *
 *   offset size  field
 *   0      1     magic 0xF5 (never a byte of valid UTF-8, so no text value looks like one)
 *   1      1     version 1
 *   2      4     delta_us   u32: time the source took to compute the payload, saturated
 *   6      8     expiry_ms  i64: absolute wall-clock expiry, ms since the Unix epoch, > 0
 *   14     4     payload_len u32: must equal the bytes that follow, exactly
 *   18     n     payload
 *
 * Wall-clock, not monotonic, because other processes, hosts and restarts read the value.
 * Anything else (too short, wrong magic or version, length mismatch, expiry <= 0) is
 * rejected and the read is a miss. */
#define MR_CACHE__ENV_MAGIC 0xF5u
/* A mask: the magic and 'M', two bytes, so never an envelope. A key holding it reads as a
 * miss (not an early refresh), and a fill's SET NX cannot replace it: mr_cache_stale stores
 * one for as long as a lagging replica could still hand a reader the old value. */
#define MR_CACHE__MASK "\xf5M"
#define MR_CACHE__ENV_VERSION 1u
#define MR_CACHE__ENV_HEADER 18u

struct mr_cache__env {
    uint32_t delta_us;
    int64_t expiry_ms;
    const char *payload; /* borrowed from the parsed buffer */
    size_t payload_len;
};

/* Writes the envelope into dst, which has room for MR_CACHE__ENV_HEADER + payload_len bytes
 * (the caller checked payload_len <= UINT32_MAX). Returns the bytes written. */
size_t mr_cache__env_encode(char *dst, int64_t delta_us, int64_t expiry_ms, const char *payload,
                            size_t payload_len);
/* Returns 0 and fills out, or -EINVAL for anything that is not a well-formed envelope. */
MR_MUST_CHECK int mr_cache__env_parse(const char *buf, size_t len, struct mr_cache__env *out);

/* XFetch: true when a hit should be served as a miss so that this reader recomputes early:
 * now - delta * beta * ln(rnd) >= expiry, with rnd in (0, 1]. beta <= 0 (or NaN) disables
 * it entirely, even past the envelope's expiry: Redis's TTL is then the only expiry. */
bool mr_cache__xfetch_early(int64_t now_ms, uint32_t delta_us, int64_t expiry_ms, double beta,
                            double rnd);
/* ttl_ms +- jitter_pct percent: rnd 0 gives the low end, 1 the high end, uniform between;
 * the result is at least 1. jitter_pct is clamped to [0, 100]. */
int mr_cache__ttl_jitter(int ttl_ms, int jitter_pct, double rnd);

#endif
