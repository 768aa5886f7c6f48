/* SPDX-License-Identifier: BSD-2-Clause */
/* commands: the commands (MGET, pipelined SET PX and DEL, PING) and their replies. Each public call
 * is one round trip: conn.c decides whether it may be sent and what a failure means; this
 * file builds binary-safe argv vectors in the handle's scratch buffers (so a steady-state
 * call allocates nothing of its own; hiredis still allocates its output buffer and replies),
 * wraps values in the XFetch envelope, and copies hits into the caller's arena before the
 * reply is freed. A pipeline reads every reply it asked for, even after an error reply, so
 * the stream stays in step for the next call. */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hiredis.h"

#include "app/lib/clock.h"
#include "cache/internal.h"

/* A call larger than this frees its scratch afterwards, so one huge mset does not pin
 * memory in every worker for the rest of its life. */
#define SCRATCH_KEEP_BYTES ((size_t)64 * 1024)
#define SCRATCH_KEEP_ARGS ((size_t)1024)
/* Redis refuses bulk strings over 512 MiB (proto-max-bulk-len); refuse them before sending. */
#define MAX_VALUE_BYTES ((size_t)512 * 1024 * 1024 - MR_CACHE__ENV_HEADER)

static const char cmd_set[] = "SET";
static const char cmd_px[] = "PX";

static char *
scratch_bytes(struct mr_cache__scratch *s, size_t need)
{
    if (need > s->bytes_cap) {
        size_t cap = s->bytes_cap < 512 ? 1024 : 2 * s->bytes_cap;
        free(s->bytes);
        s->bytes_cap = need > cap ? need : cap;
        s->bytes = mr_xmalloc(s->bytes_cap);
    }
    return s->bytes;
}

static void
scratch_args(struct mr_cache__scratch *s, size_t need)
{
    if (need <= s->argv_cap)
        return;
    size_t cap = s->argv_cap < 8 ? 16 : 2 * s->argv_cap;
    cap = need > cap ? need : cap;
    free(s->argv);
    free(s->argvlen);
    s->argv = mr_xcalloc(cap, sizeof(*s->argv));
    s->argvlen = mr_xcalloc(cap, sizeof(*s->argvlen));
    s->argv_cap = cap;
}

void
mr_cache__scratch_fini(struct mr_cache__scratch *s)
{
    free(s->bytes);
    free(s->argv);
    free(s->argvlen);
    *s = (struct mr_cache__scratch){0};
}

static void
scratch_trim(struct mr_cache__scratch *s)
{
    if (s->bytes_cap > SCRATCH_KEEP_BYTES || s->argv_cap > SCRATCH_KEEP_ARGS)
        mr_cache__scratch_fini(s);
}

static int64_t
wall_ms(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes prefix + key at p; returns the bytes written. */
static size_t
put_key(const struct mr_cache *c, char *p, const char *key, size_t key_len)
{
    if (c->prefix_len > 0)
        memcpy(p, c->cfg->key_prefix, c->prefix_len);
    if (key_len > 0)
        memcpy(p + c->prefix_len, key, key_len);
    return c->prefix_len + key_len;
}

/* argv = cmd, then the prefixed keys of the n items not yet a hit (L1 served the others).
 * Returns argc, or -EINVAL when it cannot be sent. */
static int
build_keys(struct mr_cache *c, const char *cmd, const struct mr_cache_item *items, size_t n,
           struct mr_err *err)
{
    if (n > (size_t)INT_MAX - 1)
        return mr_err_set(err, -EINVAL, "redis: %zu keys in one %s", n, cmd);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = c->prefix_len + items[i].key_len;
        if (k < items[i].key_len || total + k < total)
            return mr_err_set(err, -EINVAL, "redis: keys too long");
        total += k;
    }
    char *p = scratch_bytes(&c->scratch, total);
    scratch_args(&c->scratch, n + 1);
    c->scratch.argv[0] = cmd;
    c->scratch.argvlen[0] = strlen(cmd);
    size_t argc = 1;
    for (size_t i = 0; i < n; i++) {
        if (items[i].hit)
            continue;
        c->scratch.argv[argc] = p;
        c->scratch.argvlen[argc] = put_key(c, p, items[i].key, items[i].key_len);
        p += c->scratch.argvlen[argc++];
    }
    return (int)argc;
}

/* One command, one reply. Returns 0 with *out to be freed by the caller, or the failure. */
static int
roundtrip(struct mr_cache *c, int argc, bool is_probe, redisReply **out, struct mr_err *err)
{
    *out = NULL;
    int rc = mr_cache__call_begin(c, is_probe, err);
    if (rc < 0)
        return rc;
    /* Decided now, after call_begin has (re)connected and tracking is on or not: a read sent
     * while tracked is watched by Redis from the moment it executes. */
    c->is_fill_ok = mr_cache__track_ready(c);
    c->fill_epoch = c->track.epoch;
    void *r = NULL;
    if (redisAppendCommandArgv(c->ctx, argc, c->scratch.argv, c->scratch.argvlen) != REDIS_OK ||
        redisGetReply(c->ctx, &r) != REDIS_OK) {
        rc = mr_cache__call_io_failed(c, is_probe, errno, err);
        assert(rc < 0);
        return rc;
    }
    *out = r;
    return 0;
}

/* An error reply keeps the connection; any other unexpected type means we are out of step. */
static int
bad_reply(struct mr_cache *c, bool is_probe, const char *cmd, redisReply *r, struct mr_err *err)
{
    char what[MR_CACHE__REASON_LEN];
    int rc;
    if (r->type == REDIS_REPLY_ERROR) {
        (void)snprintf(what, sizeof(what), "%s failed: %.*s", cmd, (int)r->len, r->str);
        rc = mr_cache__call_reply_failed(c, is_probe, what, err);
    } else {
        (void)snprintf(what, sizeof(what), "%s: unexpected reply type %d", cmd, r->type);
        rc = mr_cache__call_desync(c, is_probe, what, err);
    }
    freeReplyObject(r);
    return rc;
}

/* Monotonic time at which a value whose envelope says wall_expiry_ms expires. */
static int64_t
mono_expiry(int64_t now_mono_ms, int64_t now_wall_ms, int64_t wall_expiry_ms)
{
    return now_mono_ms + (wall_expiry_ms - now_wall_ms);
}

/* A Redis hit of a use_l1 item goes into L1, if the read was tracked and nothing was lost
 * since it was sent. The envelope's expiry is the one Redis was given (PX), so the copy
 * never outlives the Redis value by more than the two clocks' drift over the call. An
 * invalidation that Redis sent for this key after the MGET ran has not been read yet (only a
 * drain reads them, and none runs between the send and here), so it drops this copy at the
 * next lookup: the copy cannot outlive a later write. */
static void
fill_l1(struct mr_cache *c, const struct mr_cache_item *it, const struct mr_cache__env *env,
        int64_t now_wall_ms)
{
    if (!it->use_l1 || c->l1 == NULL || !c->is_fill_ok || !mr_cache__track_ready(c) ||
        c->fill_epoch != c->track.epoch)
        return;
    int64_t now_ms = mr_clock_ms();
    struct mr_cache_l1_meta meta = {env->expiry_ms, env->delta_us};
    (void)mr_cache_l1_put(c->l1, it->key, it->key_len, env->payload, env->payload_len, now_ms,
                          mono_expiry(now_ms, now_wall_ms, env->expiry_ms), &meta);
}

/* Unwraps each value, decides XFetch, copies hits into the arena, fills L1. Reply element j
 * belongs to the j-th item that was not already a hit. */
static int
take_values(struct mr_cache *c, const redisReply *r, struct mr_cache_item *items, size_t n,
            struct mr_arena *arena, struct mr_err *err)
{
    int64_t now_ms = wall_ms();
    uint64_t hits = 0, asked = 0;
    for (size_t i = 0, j = 0; i < n; i++) {
        if (items[i].hit)
            continue;
        asked++;
        const redisReply *e = r->element[j++];
        struct mr_cache__env env;
        /* nil, a foreign value or a corrupt one: all misses, never errors. */
        if (e->type != REDIS_REPLY_STRING || mr_cache__env_parse(e->str, e->len, &env) < 0)
            continue;
        double rnd = mr_rand_unit(&c->rng);
        if (mr_cache__xfetch_early(now_ms, env.delta_us, env.expiry_ms, c->cfg->xfetch_beta, rnd)) {
            /* The caller's refill overwrites this very value, and no other (append_set). */
            items[i].early = true;
            items[i].seen = mr_arena_strndup(arena, e->str, MR_CACHE__ENV_HEADER);
            if (items[i].seen == NULL)
                return mr_err_set(err, -ENOMEM, "cache: arena full copying a header");
            continue;
        }
        char *v = mr_arena_strndup(arena, env.payload, env.payload_len);
        if (v == NULL)
            return mr_err_set(err, -ENOMEM, "cache: arena full copying %zu bytes", env.payload_len);
        items[i].val = v;
        items[i].val_len = env.payload_len;
        items[i].hit = true;
        hits++;
        fill_l1(c, &items[i], &env, now_ms);
    }
    c->stats.hits += hits;
    c->stats.misses += asked - hits;
    return 0;
}

static size_t
count_asked(const struct mr_cache_item *items, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += !items[i].hit;
    return m;
}

static int
mget(struct mr_cache *c, struct mr_cache_item *items, size_t n, struct mr_arena *arena,
     struct mr_err *err)
{
    int argc = build_keys(c, "MGET", items, n, err);
    if (argc < 0)
        return argc;
    redisReply *r;
    int rc = roundtrip(c, argc, false, &r, err);
    if (rc < 0)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != count_asked(items, n))
        return bad_reply(c, false, "MGET", r, err);
    mr_cache__call_ok(c, false);
    rc = take_values(c, r, items, n, arena, err);
    freeReplyObject(r);
    return rc;
}

/* The use_l1 items L1 holds become hits (is_local), once every invalidation received so far
 * is applied; none while tracking is not on. A copy near its Redis expiry goes to Redis
 * instead when XFetch says so, as the Redis copy itself would. Returns how many remain. */
static size_t
local_lookup(struct mr_cache *c, struct mr_cache_item *items, size_t n, struct mr_arena *arena)
{
    bool any = false;
    for (size_t i = 0; i < n && !any; i++)
        any = items[i].use_l1;
    if (!any || c->l1 == NULL)
        return n;
    mr_cache__track_drain(c);
    if (!mr_cache__track_ready(c))
        return n;
    int64_t now_ms = mr_clock_ms(), now_wall_ms = wall_ms();
    size_t left = n;
    for (size_t i = 0; i < n; i++) {
        struct mr_cache_l1_meta meta;
        if (!items[i].use_l1 ||
            mr_cache_l1_get(c->l1, items[i].key, items[i].key_len, now_ms, arena, &items[i].val,
                            &items[i].val_len, &meta) != 1)
            continue;
        if (mr_cache__xfetch_early(now_wall_ms, meta.delta_us, meta.wall_expiry_ms,
                                   c->cfg->xfetch_beta, mr_rand_unit(&c->rng))) {
            items[i].val = NULL;
            items[i].val_len = 0;
            continue;
        }
        items[i].hit = items[i].is_local = true;
        left--;
    }
    return left;
}

static void
clear_items(struct mr_cache_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        items[i].val = NULL;
        items[i].val_len = 0;
        items[i].hit = false;
        items[i].early = false;
        items[i].seen = NULL;
        items[i].is_local = false;
    }
}

int
mr_cache_mget(struct mr_cache *c, struct mr_cache_item *items, size_t n, struct mr_arena *arena,
              struct mr_err *err)
{
    clear_items(items, n);
    if (n == 0 || local_lookup(c, items, n, arena) == 0)
        return 0;
    int rc = mget(c, items, n, arena, err);
    if (rc == -EAGAIN) /* the connection was closed while idle: once more, on a new one */
        rc = mget(c, items, n, arena, err);
    if (rc < 0) {
        /* Some values may already be in the arena; the contract says all misses. */
        clear_items(items, n);
        c->stats.errors++;
    }
    scratch_trim(&c->scratch);
    return rc;
}

/* Checks one SET or DEL before anything is sent and raises *need to the scratch bytes it
 * takes (key, envelope and TTL digits side by side). Returns 0 or -EINVAL. */
static int
size_check(const struct mr_cache *c, size_t i, size_t key_len, size_t val_len, size_t *need,
           struct mr_err *err)
{
    if (val_len > MAX_VALUE_BYTES || key_len > MAX_VALUE_BYTES)
        return mr_err_set(err, -EINVAL, "redis: item %zu too large (%zu bytes)", i, val_len);
    size_t k = c->prefix_len + key_len + MR_CACHE__ENV_HEADER + val_len + 16; /* TTL digits */
    *need = k > *need ? k : *need;
    return 0;
}

/* An early refresh's SET, as one atomic step in Redis: the value is stored only while the
 * key still holds what the refresher read (ARGV[3] = "1", ARGV[4] its envelope header), or,
 * when that is not known, anything but a mask (ARGV[3] = "0", ARGV[4] the mask). A plain SET
 * would put a value loaded before an update's commit back over the update's mask or new
 * value, for a whole TTL. A missing key (expired meanwhile) is filled. Replies: OK or 0. */
static const char refresh_script[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if v and ((ARGV[3] == '1' and string.sub(v, 1, #ARGV[4]) ~= ARGV[4]) or "
    "(ARGV[3] == '0' and v == ARGV[4])) then return 0 end "
    "return redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])";

/* Appends SET key envelope PX ttl [NX], or for an early refresh (`early`) the guarded SET
 * above. One key, envelope and TTL live in scratch at a time: hiredis copies each command
 * into its output buffer as it is appended. */
static int
append_set(struct mr_cache *c, const char *key, size_t key_len, const char *val, size_t val_len,
           int ttl_ms, int64_t compute_us, bool is_nx, const struct mr_cache_item *early,
           struct mr_err *err)
{
    static const char cmd_nx[] = "NX";
    static const char cmd_eval[] = "EVAL";
    static const char mask[] = MR_CACHE__MASK;
    const struct mr_cache_cfg *cfg = c->cfg;
    int ttl = mr_cache__ttl_jitter(ttl_ms > 0 ? ttl_ms : cfg->ttl_ms, cfg->ttl_jitter_pct,
                                   mr_rand_unit(&c->rng));
    char *k = c->scratch.bytes;
    size_t k_len = put_key(c, k, key, key_len);
    char *env = k + k_len;
    /* The envelope's expiry is the jittered one, so XFetch aims at the real expiry. */
    size_t env_len = mr_cache__env_encode(env, compute_us, wall_ms() + ttl, val, val_len);
    char *ttl_s = env + env_len;
    int ttl_len = snprintf(ttl_s, 16, "%d", ttl);
    int rc;
    if (early != NULL) {
        bool is_cas = early->seen != NULL;
        const char *argv[8] = {cmd_eval,
                               refresh_script,
                               "1",
                               k,
                               env,
                               ttl_s,
                               is_cas ? "1" : "0",
                               is_cas ? early->seen : mask};
        size_t argvlen[8] = {sizeof(cmd_eval) - 1,
                             sizeof(refresh_script) - 1,
                             1,
                             k_len,
                             env_len,
                             (size_t)ttl_len,
                             1,
                             is_cas ? MR_CACHE__ENV_HEADER : sizeof(mask) - 1};
        rc = redisAppendCommandArgv(c->ctx, 8, argv, argvlen);
    } else {
        const char *argv[6] = {cmd_set, k, env, cmd_px, ttl_s, cmd_nx};
        size_t argvlen[6] = {sizeof(cmd_set) - 1, k_len,           env_len,
                             sizeof(cmd_px) - 1,  (size_t)ttl_len, sizeof(cmd_nx) - 1};
        rc = redisAppendCommandArgv(c->ctx, is_nx ? 6 : 5, argv, argvlen);
    }
    if (rc != REDIS_OK)
        return mr_cache__call_io_failed(c, false, errno, err);
    return 0;
}

/* Appends SET key <mask> PX ttl_ms, without jitter: the mask's time is a bound to cover. */
static int
append_mask(struct mr_cache *c, const char *key, size_t key_len, int ttl_ms, struct mr_err *err)
{
    static const char mask[] = MR_CACHE__MASK;
    char *k = c->scratch.bytes;
    size_t k_len = put_key(c, k, key, key_len);
    char *ttl_s = k + k_len;
    int ttl_len = snprintf(ttl_s, 16, "%d", ttl_ms);
    const char *argv[5] = {cmd_set, k, mask, cmd_px, ttl_s};
    size_t argvlen[5] = {sizeof(cmd_set) - 1, k_len, sizeof(mask) - 1, sizeof(cmd_px) - 1,
                         (size_t)ttl_len};
    if (redisAppendCommandArgv(c->ctx, 5, argv, argvlen) != REDIS_OK)
        return mr_cache__call_io_failed(c, false, errno, err);
    return 0;
}

static int
append_del(struct mr_cache *c, const char *key, size_t key_len, struct mr_err *err)
{
    static const char cmd_del[] = "DEL";
    char *k = c->scratch.bytes;
    size_t k_len = put_key(c, k, key, key_len);
    const char *argv[2] = {cmd_del, k};
    size_t argvlen[2] = {sizeof(cmd_del) - 1, k_len};
    if (redisAppendCommandArgv(c->ctx, 2, argv, argvlen) != REDIS_OK)
        return mr_cache__call_io_failed(c, false, errno, err);
    return 0;
}

/* Reads all n replies of a pipeline of SETs and DELs whatever they hold, so the connection
 * stays in step. */
static int
pipeline_read(struct mr_cache *c, size_t n, struct mr_err *err)
{
    char what[MR_CACHE__REASON_LEN] = "";
    bool is_desync = false;
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        if (redisGetReply(c->ctx, &v) != REDIS_OK) {
            c->is_reused = c->is_reused && i == 0; /* a reply read: the peer was there */
            return mr_cache__call_io_failed(c, false, errno, err);
        }
        const redisReply *r = v;
        if (r->type == REDIS_REPLY_ERROR) {
            if (what[0] == '\0')
                (void)snprintf(what, sizeof(what), "write failed: %.*s", (int)r->len, r->str);
        } else if (r->type != REDIS_REPLY_STATUS && r->type != REDIS_REPLY_NIL &&
                   r->type != REDIS_REPLY_INTEGER) {
            /* NIL: a SET NX that found the key already there; INTEGER: DEL's count, or a
             * refresh that found another value (refresh_script). */
            is_desync = true;
        }
        freeReplyObject(v);
    }
    if (is_desync)
        return mr_cache__call_desync(c, false, "SET/DEL: unexpected reply type", err);
    if (what[0] != '\0')
        return mr_cache__call_reply_failed(c, false, what, err);
    mr_cache__call_ok(c, false);
    return 0;
}

static int
mset(struct mr_cache *c, const struct mr_cache_item *items, size_t n, int64_t compute_us,
     bool only_if_absent, struct mr_err *err)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = size_check(c, i, items[i].key_len, items[i].val_len, &need, err);
        if (rc < 0)
            return rc;
        mr_cache_local_drop(c, items[i].key, items[i].key_len); /* our own write: at once */
    }
    (void)scratch_bytes(&c->scratch, need);
    int rc = mr_cache__call_begin(c, false, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        /* An early refresh replaces the value it refreshes, so it never takes NX. */
        bool is_nx = only_if_absent && !items[i].early;
        rc = append_set(c, items[i].key, items[i].key_len, items[i].val, items[i].val_len,
                        items[i].ttl_ms, compute_us, is_nx, items[i].early ? &items[i] : NULL, err);
    }
    return rc < 0 ? rc : pipeline_read(c, n, err);
}

int
mr_cache_mset(struct mr_cache *c, const struct mr_cache_item *items, size_t n, int64_t compute_us,
              bool only_if_absent, struct mr_err *err)
{
    if (n == 0)
        return 0;
    int rc = mset(c, items, n, compute_us, only_if_absent, err);
    if (rc == -EAGAIN)
        rc = mset(c, items, n, compute_us, only_if_absent, err);
    if (rc < 0)
        c->stats.errors++;
    scratch_trim(&c->scratch);
    return rc;
}

/* The queue's ops, in order: SETs overwrite (a new value after a commit replaces whatever a
 * reader filled), with no compute time, since nothing was computed to know them; a mask
 * stands in for a value for a while (cache/internal.h). */
static int
apply(struct mr_cache *c, const struct mr_cache_op *ops, size_t n, struct mr_err *err)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = size_check(c, i, ops[i].key_len, ops[i].val_len, &need, err);
        if (rc < 0)
            return rc;
        mr_cache_local_drop(c, ops[i].key, ops[i].key_len); /* our own write: at once */
    }
    (void)scratch_bytes(&c->scratch, need);
    int rc = mr_cache__call_begin(c, false, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct mr_cache_op *o = &ops[i];
        if (o->kind == MR_CACHE_OP_DEL)
            rc = append_del(c, o->key, o->key_len, err);
        else if (o->kind == MR_CACHE_OP_MASK)
            rc = append_mask(c, o->key, o->key_len, o->ttl_ms, err);
        else
            rc = append_set(c, o->key, o->key_len, o->val, o->val_len, o->ttl_ms, 0, false, NULL,
                            err);
    }
    return rc < 0 ? rc : pipeline_read(c, n, err);
}

int
mr_cache__apply(struct mr_cache *c, const struct mr_cache_op *ops, size_t n, struct mr_err *err)
{
    if (n == 0)
        return 0;
    int rc = apply(c, ops, n, err);
    if (rc == -EAGAIN)
        rc = apply(c, ops, n, err);
    if (rc < 0)
        c->stats.errors++;
    scratch_trim(&c->scratch);
    return rc;
}

int
mr_cache_ping(struct mr_cache *c, struct mr_err *err)
{
    scratch_args(&c->scratch, 1);
    c->scratch.argv[0] = "PING";
    c->scratch.argvlen[0] = 4;
    redisReply *r;
    int rc = roundtrip(c, 1, true, &r, err);
    if (rc == 0 && (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0))
        rc = bad_reply(c, true, "PING", r, err);
    else if (rc == 0)
        freeReplyObject(r);
    if (rc < 0)
        c->stats.errors++;
    else
        mr_cache__call_ok(c, true);
    return rc;
}
