/* SPDX-License-Identifier: BSD-2-Clause */
/* cache: Redis for one worker process (hiredis 0.14, blocking context with timeouts). One
 * persistent connection opened lazily after fork; on any error the connection is dropped and
 * a reconnect is tried only after a backoff, so a dead Redis costs no connect per request.
 * Many keys go in one round trip (MGET; pipelined SETs). Keys get the configured prefix.
 *
 * Stampede protection is XFetch (probabilistic early refresh): each stored value carries the
 * time its source took to compute and its expiry; a reader may see a hit as an early miss
 * with a probability that rises as expiry nears, so one reader refreshes a hot key before it
 * expires instead of every worker at once after. No lock and no extra round trip.
 * No hiredis type crosses this header. */
#ifndef MR_CACHE_H
#define MR_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/lib/arena.h"
#include "app/lib/err.h"
#include "app/lib/breaker.h"
#include "cache/l1.h"

struct mr_cache;

struct mr_cache_cfg {
    const char *host; /* or a unix socket path when it starts with '/' */
    int port;
    int connect_timeout_ms;
    int command_timeout_ms;
    const char *key_prefix;
    int ttl_ms;
    int ttl_jitter_pct; /* each SET's TTL is ttl_ms ± this percentage, at random */
    double xfetch_beta; /* 0 disables early refresh; 1 is the paper's default */
    int reconnect_backoff_ms;
    int reconnect_backoff_max_ms;
    struct mr_breaker_cfg breaker;
    int l1_bytes;      /* each worker's L1 (cache/l1.h); 0: off */
    int l1_slot_bytes; /* an L1 entry's room: key, value and 48 bytes of header */
};

struct mr_cache_item {
    const char *key; /* without the prefix */
    size_t key_len;
    const char *val; /* get: in the arena, NULL on miss; set: the payload */
    size_t val_len;
    bool hit;
    bool early; /* get: a hit that XFetch turned into a miss (the key still exists) */
    /* get: an early item's envelope header as read, in the arena; set: an early item is
     * stored only while the key still holds that header (NULL: while it holds no mask). */
    const char *seen;
    int ttl_ms;    /* set: this item's time to live before jitter; 0 is the configured ttl_ms */
    bool use_l1;   /* get: may be served from, and fill, the worker's L1 */
    bool is_local; /* get: a hit served from L1, without asking Redis */
};

struct mr_cache_stats {
    uint64_t hits;
    uint64_t misses; /* early refreshes (XFetch) count as misses */
    uint64_t errors;
};

/* Connects nothing yet. cfg and health must outlive the handle. */
MR_MUST_CHECK int mr_cache_open(const struct mr_cache_cfg *cfg, struct mr_backend_slot *health,
                                struct mr_cache **out, struct mr_err *err);
void mr_cache_close(struct mr_cache **c);
void mr_cache_deadline(struct mr_cache *c, int64_t deadline_ms);

/* One MGET for all n items. Sets hit/val/val_len per item (values in arena). Returns 0, or
 * -ECONNREFUSED (breaker open or in backoff: nothing was sent), -ETIMEDOUT, -EIO; on error
 * every item is a miss. Items marked use_l1 are first looked up in L1, after every
 * invalidation received so far is applied, and only the rest are asked of Redis (none at all
 * when L1 has them all); their Redis hits fill L1, until the value's Redis expiry. */
MR_MUST_CHECK int mr_cache_mget(struct mr_cache *c, struct mr_cache_item *items, size_t n,
                                struct mr_arena *arena, struct mr_err *err);
/* SET key val PX ttl±jitter (each item's ttl_ms, or the configured one) for all n items in
 * one pipeline. compute_us is how long the
 * source of these values took (the XFetch delta). only_if_absent adds NX to every item
 * not marked `early`: a fill after a miss must not overwrite a fresher value written
 * meanwhile by an update. An early refresh replaces the value it refreshes, and only that
 * value: a short script compares the key with `seen` first, so a mask or a new value that
 * an update left while the refresh was loading stays (without `seen`, only a mask stays). */
MR_MUST_CHECK int mr_cache_mset(struct mr_cache *c, const struct mr_cache_item *items, size_t n,
                                int64_t compute_us, bool only_if_absent, struct mr_err *err);
/* The Redis work a request defers to the end of its handler (invalidations after a commit,
 * and any other write that need not wait for the answer to be built), kept in the request's
 * arena and sent as ONE pipeline by mr_cache_queue_flush. A zeroed struct is an empty queue;
 * the arena's reset discards it, so it lives exactly as long as the request. */
enum mr_cache_op_kind {
    MR_CACHE_OP_SET,  /* SET key envelope PX ttl±jitter, overwriting */
    MR_CACHE_OP_DEL,  /* DEL key */
    MR_CACHE_OP_MASK, /* SET key <mask> PX ttl_ms exactly: reads miss, SET NX fills fail */
};
struct mr_cache_op {
    enum mr_cache_op_kind kind;
    const char *key; /* without the prefix */
    size_t key_len;
    const char *val; /* SET: the payload (wrapped in the envelope when sent); else unused */
    size_t val_len;
    int ttl_ms; /* SET: before jitter, 0 is the configured ttl_ms; MASK: > 0, no jitter */
};
struct mr_cache_queue {
    struct mr_cache_op *ops; /* in the arena */
    size_t n, cap;
};
/* Appends op, with its key and value copied into arena, so the caller's buffers may go at
 * once. Ops run in the order added (a DEL then a SET of one key leaves the SET's value).
 * Returns 0, -EINVAL (no key, a MASK without a positive ttl_ms) or -ENOMEM (the arena's
 * ceiling: nothing is added). */
MR_MUST_CHECK int mr_cache_queue_add(struct mr_cache_queue *q, struct mr_arena *arena,
                                     const struct mr_cache_op *op);
/* Sends every queued op in one pipeline (as its kind says) and reads every reply, under the
 * handle's deadline and timeouts. The queue is empty afterwards whatever happened. Returns 0
 * (nothing queued included), or -ECONNREFUSED (breaker open or in backoff: nothing was sent),
 * -ETIMEDOUT, -EIO, -EINVAL with the reason in err; after a failure some ops may have been applied
 * and others not. */
MR_MUST_CHECK int mr_cache_queue_flush(struct mr_cache *c, struct mr_cache_queue *q,
                                       struct mr_err *err);

/* Sessions' store (session.c): one Redis string per session, `<key_prefix>session:<id>`.
 * A value read, or to write (data NULL: delete instead). */
struct mr_cache_value {
    const char *data; /* read: in the arena, NUL-terminated */
    size_t len;
    bool found;
};
/* GETEX key EX ttl_s: reads the session and slides its expiry, in one round trip. Sets *out
 * (found false when there is no such session). Returns 0, or -ECONNREFUSED (breaker open or
 * in backoff: nothing was sent), -ETIMEDOUT, -EIO, -ENOMEM (the arena). */
MR_MUST_CHECK int mr_cache_session_load(struct mr_cache *c, const char *id, int ttl_s,
                                        struct mr_arena *arena, struct mr_cache_value *out,
                                        struct mr_err *err);
/* One round trip: DEL old_id (when not NULL), then for id (when not NULL) SET data EX ttl_s,
 * or DEL when data is NULL. Returns 0 or the errors of mr_cache_session_load. */
MR_MUST_CHECK int mr_cache_session_save(struct mr_cache *c, const char *old_id, const char *id,
                                        const struct mr_cache_value *data, int ttl_s,
                                        struct mr_err *err);
/* L1, the worker's in-process cache in front of Redis (cache/l1.c, kept coherent by
 * cache/track.c): one block of cfg->l1_bytes, made here, after fork, once; nothing when
 * l1_bytes is 0. Returns 0 or -EINVAL (sizes out of range). */
MR_MUST_CHECK int mr_cache_local_open(struct mr_cache *c, struct mr_err *err);
/* This worker is about to write key (a queued invalidation, a fill): its L1 copy goes now. */
void mr_cache_local_drop(struct mr_cache *c, const char *key, size_t key_len);
/* The counters' growth since the last call (all zero with L1 off). */
void mr_cache_local_take(struct mr_cache *c, struct mr_cache_l1_stats *delta);

/* PING with the connect/command timeouts, for the prober. */
MR_MUST_CHECK int mr_cache_ping(struct mr_cache *c, struct mr_err *err);

const struct mr_cache_stats *mr_cache_stats(const struct mr_cache *c);

#endif
