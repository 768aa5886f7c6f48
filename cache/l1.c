/* SPDX-License-Identifier: BSD-2-Clause */
/* l1: the store of a worker's in-process cache (contract in cache/l1.h). The block is laid
 * out as
 *
 *   [struct mr_cache_l1][buckets: n_buckets x u32][slots: n_slots x slot_bytes]
 *
 * and nothing else is ever allocated. A bucket holds the first slot of its chain (NONE when
 * empty); a slot's `next` links the chain, or the free list once the slot is dropped. Slots
 * are handed out in order first (n_bumped), then from the free list, then by the CLOCK hand,
 * so a flush only resets the buckets and the counters: slots past n_bumped are unused by
 * definition and need no clearing. The block comes from malloc, so its pages are touched (and
 * count as the worker's memory) only as slots are used; the buckets are touched at once.
 *
 * Why CLOCK rather than LRU: a hit then writes one byte of the slot it read, instead of
 * unlinking and relinking a list (two more cache lines per hit); it keeps the hot set about as
 * well for a cache that only ever sees point lookups. Why chaining: deleting (invalidations
 * are frequent) needs no tombstones, and the chains stay short since there are at least as
 * many buckets as half the slots. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/l1.h"

#define NONE UINT32_MAX
#define MIN_SLOTS 16u

struct slot {
    uint64_t hash;
    int64_t expiry_ms; /* monotonic: the entry is dead from this time on */
    struct mr_cache_l1_meta meta;
    uint32_t next; /* the bucket's chain, or the free list */
    uint32_t val_len;
    uint16_t key_len;
    uint8_t is_used;
    uint8_t is_referenced; /* CLOCK's bit: set by a hit, cleared as the hand passes */
    /* key_len bytes of key, then val_len bytes of value */
};

struct mr_cache_l1 {
    uint32_t *buckets;
    char *slots;
    size_t slot_bytes;
    uint32_t bucket_mask;
    uint32_t n_slots;
    uint32_t n_bumped; /* slots [0, n_bumped) have been handed out since the last flush */
    uint32_t free_head;
    uint32_t hand;
    uint32_t n_used;
    struct mr_cache_l1_stats stats;
};

size_t
mr_cache_l1_slot_overhead(void)
{
    return sizeof(struct slot);
}

static struct slot *
slot_at(const struct mr_cache_l1 *l, uint32_t i)
{
    assert(i < l->n_slots);
    return (struct slot *)(void *)(l->slots + (size_t)i * l->slot_bytes);
}

static char *
slot_key(struct slot *s)
{
    return (char *)(s + 1);
}

/* FNV-1a, 64 bits: keys are short, and one multiply per byte is cheaper than setting up a
 * block hash. */
static uint64_t
hash_key(const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int
mr_cache_l1_new(size_t bytes, size_t slot_bytes, struct mr_cache_l1 **out, struct mr_err *err)
{
    *out = NULL;
    slot_bytes = (slot_bytes + 7u) & ~(size_t)7u;
    if (slot_bytes < MR_CACHE_L1_MIN_SLOT || slot_bytes > (size_t)1024 * 1024)
        return mr_err_set(err, -EINVAL, "cache: l1 slot of %zu bytes out of range", slot_bytes);
    size_t head = (sizeof(struct mr_cache_l1) + 63u) & ~(size_t)63u;
    if (bytes < head + MIN_SLOTS * (slot_bytes + sizeof(uint32_t)))
        return mr_err_set(err, -EINVAL, "cache: l1 of %zu bytes holds fewer than %u slots", bytes,
                          MIN_SLOTS);
    size_t room = bytes - head;
    /* The largest power of two of buckets not above the slots that would fit without them,
     * then as many slots as fit beside: between 1 and 2 slots per bucket. */
    size_t guess = room / (slot_bytes + sizeof(uint32_t));
    if (guess > NONE / 2)
        guess = NONE / 2;
    uint32_t n_buckets = 1;
    while ((size_t)n_buckets * 2 <= guess)
        n_buckets *= 2;
    size_t n_slots = (room - (size_t)n_buckets * sizeof(uint32_t)) / slot_bytes;
    if (n_slots >= NONE)
        n_slots = NONE - 1;
    char *block = mr_xmalloc(bytes);
    struct mr_cache_l1 *l = (struct mr_cache_l1 *)(void *)block;
    *l = (struct mr_cache_l1){
        .buckets = (uint32_t *)(void *)(block + head),
        .slot_bytes = slot_bytes,
        .bucket_mask = n_buckets - 1,
        .n_slots = (uint32_t)n_slots,
    };
    /* Slots start 8-aligned: head is 64-aligned and the buckets are a power of two of u32s
     * (at least 16 of them, since n_slots >= MIN_SLOTS keeps guess >= 16). */
    l->slots = block + head + (size_t)n_buckets * sizeof(uint32_t);
    mr_cache_l1_flush(l);
    l->stats.flushes = 0;
    *out = l;
    return 0;
}

void
mr_cache_l1_free(struct mr_cache_l1 **lp)
{
    free(*lp);
    *lp = NULL;
}

void
mr_cache_l1_flush(struct mr_cache_l1 *l)
{
    memset(l->buckets, 0xff, ((size_t)l->bucket_mask + 1) * sizeof(uint32_t));
    l->n_bumped = 0;
    l->free_head = NONE;
    l->hand = 0;
    l->n_used = 0;
    l->stats.flushes++;
}

/* The slot holding key, or NONE; *prev_out is the slot before it in the chain (NONE: the
 * bucket points at it). */
static uint32_t
find(const struct mr_cache_l1 *l, uint64_t h, const char *key, size_t key_len, uint32_t *prev_out)
{
    uint32_t prev = NONE;
    for (uint32_t i = l->buckets[h & l->bucket_mask]; i != NONE;) {
        struct slot *s = slot_at(l, i);
        if (s->hash == h && s->key_len == key_len && memcmp(slot_key(s), key, key_len) == 0) {
            *prev_out = prev;
            return i;
        }
        prev = i;
        i = s->next;
    }
    *prev_out = NONE;
    return NONE;
}

/* Takes slot i, whose predecessor in its chain is prev, out of the index onto the free list. */
static void
unlink_slot(struct mr_cache_l1 *l, uint32_t i, uint32_t prev)
{
    struct slot *s = slot_at(l, i);
    assert(s->is_used);
    if (prev == NONE)
        l->buckets[s->hash & l->bucket_mask] = s->next;
    else
        slot_at(l, prev)->next = s->next;
    s->is_used = 0;
    s->next = l->free_head;
    l->free_head = i;
    l->n_used--;
}

/* Drops slot i, finding its predecessor by walking its chain (the hand knows only i). */
static void
drop_slot(struct mr_cache_l1 *l, uint32_t i)
{
    struct slot *s = slot_at(l, i);
    uint32_t prev = NONE;
    for (uint32_t j = l->buckets[s->hash & l->bucket_mask]; j != i; j = slot_at(l, j)->next) {
        assert(j != NONE);
        prev = j;
    }
    unlink_slot(l, i, prev);
}

/* Frees one slot by CLOCK. Every handed-out slot is in use when this runs (the free list is
 * empty), so two turns of the hand always find one: the first clears every bit it passes. */
static void
evict_one(struct mr_cache_l1 *l, int64_t now_ms)
{
    for (uint64_t step = 0; step < 2ull * l->n_bumped + 1; step++) {
        uint32_t i = l->hand;
        l->hand = l->hand + 1 < l->n_bumped ? l->hand + 1 : 0;
        struct slot *s = slot_at(l, i);
        if (!s->is_used)
            continue;
        if (s->expiry_ms <= now_ms) {
            drop_slot(l, i); /* dead already: not an eviction of anything worth keeping */
            return;
        }
        if (s->is_referenced) {
            s->is_referenced = 0;
            continue;
        }
        drop_slot(l, i);
        l->stats.evictions++;
        return;
    }
    assert(!"CLOCK found no slot in two turns");
}

static uint32_t
take_slot(struct mr_cache_l1 *l, int64_t now_ms)
{
    if (l->free_head == NONE && l->n_bumped < l->n_slots)
        return l->n_bumped++;
    if (l->free_head == NONE)
        evict_one(l, now_ms);
    uint32_t i = l->free_head;
    assert(i != NONE);
    l->free_head = slot_at(l, i)->next;
    return i;
}

int
mr_cache_l1_get(struct mr_cache_l1 *l, const char *key, size_t key_len, int64_t now_ms,
                struct mr_arena *arena, const char **val, size_t *val_len,
                struct mr_cache_l1_meta *meta)
{
    uint64_t h = hash_key(key, key_len);
    uint32_t prev;
    uint32_t i = find(l, h, key, key_len, &prev);
    if (i == NONE) {
        l->stats.misses++;
        return 0;
    }
    struct slot *s = slot_at(l, i);
    if (s->expiry_ms <= now_ms) {
        unlink_slot(l, i, prev);
        l->stats.misses++;
        return 0;
    }
    char *v = mr_arena_strndup(arena, slot_key(s) + s->key_len, s->val_len);
    if (v == NULL)
        return -ENOMEM;
    s->is_referenced = 1;
    *val = v;
    *val_len = s->val_len;
    *meta = s->meta;
    l->stats.hits++;
    return 1;
}

bool
mr_cache_l1_put(struct mr_cache_l1 *l, const char *key, size_t key_len, const char *val,
                size_t val_len, int64_t now_ms, int64_t expiry_ms,
                const struct mr_cache_l1_meta *meta)
{
    uint64_t h = hash_key(key, key_len);
    uint32_t prev;
    uint32_t i = find(l, h, key, key_len, &prev);
    size_t room = l->slot_bytes - sizeof(struct slot);
    if (key_len > UINT16_MAX || key_len > room || val_len > room - key_len || expiry_ms <= now_ms) {
        if (i != NONE)
            unlink_slot(l, i, prev); /* the old value must not outlive the new one */
        return false;
    }
    if (i == NONE) {
        i = take_slot(l, now_ms);
        struct slot *s = slot_at(l, i);
        s->hash = h;
        s->key_len = (uint16_t)key_len;
        memcpy(slot_key(s), key, key_len);
        uint32_t *bucket = &l->buckets[h & l->bucket_mask];
        s->next = *bucket;
        *bucket = i;
        s->is_used = 1;
        s->is_referenced = 0; /* a new entry must earn its bit, so a scan cannot flood it */
        l->n_used++;
    }
    struct slot *s = slot_at(l, i);
    s->expiry_ms = expiry_ms;
    s->meta = *meta;
    s->val_len = (uint32_t)val_len;
    if (val_len > 0)
        memcpy(slot_key(s) + key_len, val, val_len);
    return true;
}

bool
mr_cache_l1_del(struct mr_cache_l1 *l, const char *key, size_t key_len, bool is_counted)
{
    if (is_counted)
        l->stats.invalidations++;
    uint32_t prev;
    uint32_t i = find(l, hash_key(key, key_len), key, key_len, &prev);
    if (i == NONE)
        return false;
    unlink_slot(l, i, prev);
    return true;
}

size_t
mr_cache_l1_capacity(const struct mr_cache_l1 *l)
{
    return l->n_slots;
}

size_t
mr_cache_l1_count(const struct mr_cache_l1 *l)
{
    return l->n_used;
}

const struct mr_cache_l1_stats *
mr_cache_l1_stats(const struct mr_cache_l1 *l)
{
    return &l->stats;
}
