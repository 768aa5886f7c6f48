/* SPDX-License-Identifier: BSD-2-Clause */
/* queue: the Redis writes a request defers to the end of its handler, so that all of them
 * (the invalidations of every write the request committed, and any other end-of-request
 * work) cost one round trip, sent by the request path once the handler has returned. The
 * queue and the copies of its keys and values live in the request's arena; the array doubles
 * as it grows, the old one left to the arena's reset, like a batch's calls in app/api/sql.c. */
#include <errno.h>
#include <string.h>

#include "cache/internal.h"

#define QUEUE_FIRST_CAP 8

static int
grow(struct mr_cache_queue *q, struct mr_arena *arena)
{
    size_t cap = q->cap > 0 ? 2 * q->cap : QUEUE_FIRST_CAP;
    struct mr_cache_op *ops = mr_arena_alloc(arena, cap * sizeof(*ops));
    if (ops == NULL)
        return -ENOMEM;
    if (q->n > 0)
        memcpy(ops, q->ops, q->n * sizeof(*ops));
    q->ops = ops;
    q->cap = cap;
    return 0;
}

int
mr_cache_queue_add(struct mr_cache_queue *q, struct mr_arena *arena, const struct mr_cache_op *op)
{
    bool is_set = op->kind == MR_CACHE_OP_SET;
    if (op->key == NULL || op->key_len == 0 || (is_set && op->val == NULL && op->val_len > 0) ||
        (op->kind == MR_CACHE_OP_MASK && op->ttl_ms <= 0))
        return -EINVAL;
    if (q->n == q->cap && grow(q, arena) < 0)
        return -ENOMEM;
    char *key = mr_arena_strndup(arena, op->key, op->key_len);
    char *val =
        is_set ? mr_arena_strndup(arena, op->val != NULL ? op->val : "", op->val_len) : NULL;
    if (key == NULL || (is_set && val == NULL))
        return -ENOMEM;
    struct mr_cache_op *o = &q->ops[q->n++];
    *o = *op;
    o->key = key;
    o->val = val;
    o->val_len = is_set ? op->val_len : 0;
    return 0;
}

int
mr_cache_queue_flush(struct mr_cache *c, struct mr_cache_queue *q, struct mr_err *err)
{
    size_t n = q->n;
    q->n = 0; /* whatever happens, each op is tried once */
    return n > 0 ? mr_cache__apply(c, q->ops, n, err) : 0;
}
