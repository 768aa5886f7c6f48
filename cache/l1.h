/* SPDX-License-Identifier: BSD-2-Clause */
/* l1: a worker's in-process copy of hot Redis values (the store only: what keeps it coherent
 * with Redis is cache/track.c). One block of a fixed number of bytes, allocated when the
 * store is made, holds the handle, a chained hash index and equal slots; an entry (its key,
 * value and expiry) lives in one slot, so an entry larger than a slot is not kept. Eviction is
 * CLOCK (a referenced bit set on each hit, cleared by the hand). Nothing is allocated per
 * lookup or per fill; a hit is copied into the caller's arena, so it stays valid for the whole
 * request even if a later call of the same request evicts or invalidates the entry. No clock
 * and no I/O: the caller passes the time, so the unit tests drive expiry. */
#ifndef MR_CACHE_L1_H
#define MR_CACHE_L1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/lib/arena.h"
#include "app/lib/err.h"

struct mr_cache_l1;

/* Counters since the store was made; monotonic (a flush does not reset them). */
struct mr_cache_l1_stats {
    uint64_t hits;
    uint64_t misses;        /* not found, expired, or early (the caller's XFetch) */
    uint64_t evictions;     /* live entries pushed out by the hand to make room */
    uint64_t invalidations; /* keys Redis invalidated (mr_cache_l1_del with is_counted) */
    uint64_t flushes;
};

/* What a hit carries besides the value: the Redis envelope's XFetch inputs. */
struct mr_cache_l1_meta {
    int64_t wall_expiry_ms; /* the envelope's expiry (wall clock, ms since the epoch) */
    uint32_t delta_us;      /* the envelope's compute time */
};

/* The smallest slot, and the slot header's size: a slot holds key_len + val_len bytes less. */
#define MR_CACHE_L1_MIN_SLOT 64u
size_t mr_cache_l1_slot_overhead(void);

/* One block of `bytes` (the handle, index and slots inside it) cut into slots of slot_bytes
 * (rounded up to 8). Returns 0, or -EINVAL when bytes cannot hold 16 slots or slot_bytes is
 * below MR_CACHE_L1_MIN_SLOT. Free with mr_cache_l1_free. */
MR_MUST_CHECK int mr_cache_l1_new(size_t bytes, size_t slot_bytes, struct mr_cache_l1 **out,
                                  struct mr_err *err);
void mr_cache_l1_free(struct mr_cache_l1 **l);

/* Looks key up at time now_ms (monotonic). A live entry: its value is copied into arena
 * (NUL-terminated, like a Redis hit), val, val_len and meta set, returns 1. An expired entry
 * is dropped and, like a missing one, returns 0. -ENOMEM at the arena's ceiling (the entry
 * stays). */
MR_MUST_CHECK int mr_cache_l1_get(struct mr_cache_l1 *l, const char *key, size_t key_len,
                                  int64_t now_ms, struct mr_arena *arena, const char **val,
                                  size_t *val_len, struct mr_cache_l1_meta *meta);
/* Stores key -> val until expiry_ms (monotonic), replacing any entry of the key; evicts one
 * entry when every slot is taken (expired ones first met by the hand go regardless of their
 * bit). Returns false, storing nothing and dropping any old entry of the key, when the entry
 * does not fit in a slot or expiry_ms <= now_ms. */
bool mr_cache_l1_put(struct mr_cache_l1 *l, const char *key, size_t key_len, const char *val,
                     size_t val_len, int64_t now_ms, int64_t expiry_ms,
                     const struct mr_cache_l1_meta *meta);
/* Drops key's entry; returns whether there was one. is_counted: Redis invalidated the key
 * (counted, held or not), rather than this worker's own write. */
bool mr_cache_l1_del(struct mr_cache_l1 *l, const char *key, size_t key_len, bool is_counted);
/* Drops every entry, in time proportional to the index, not to the slots. */
void mr_cache_l1_flush(struct mr_cache_l1 *l);

size_t mr_cache_l1_capacity(const struct mr_cache_l1 *l); /* slots */
size_t mr_cache_l1_count(const struct mr_cache_l1 *l);    /* entries held */
const struct mr_cache_l1_stats *mr_cache_l1_stats(const struct mr_cache_l1 *l);

#endif
