/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_inval: what the invalidation connection reads (cache/inval.c), from arbitrary bytes:
 * hiredis's reader parses them into replies as it would off the socket, and each reply is
 * applied to an L1 holding a few keys. Invariants: no crash or sanitizer report; an
 * invalidation drops at most the keys it names (a key it does not name, under the prefix,
 * stays unless the verdict is a flush); L1's count never exceeds its capacity. */
#include <hiredis/hiredis.h>
#include <string.h>

#include "app/lib/arena.h"
#include "cache/internal.h"
#include "tests/fuzz/ref.h"

#define PREFIX "mr:"

static struct mr_cache_l1 *l1;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct mr_err err;
    FUZZ_CHECK(mr_cache_l1_new(65536, 64, &l1, &err) == 0);
    return 0;
}

static void
fill(void)
{
    static const struct mr_cache_l1_meta meta = {1, 0};
    static const char *keys[] = {"w:1", "w:2", "a", ""};
    mr_cache_l1_flush(l1);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        FUZZ_CHECK(mr_cache_l1_put(l1, keys[i], strlen(keys[i]), "v", 1, 0, 1000, &meta));
}

/* Whether reply r names PREFIX + key among its payload's keys. */
static bool
names(const redisReply *r, const char *key)
{
    const redisReply *keys = r->element[2];
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *k = keys->element[i];
        if ((size_t)k->len == strlen(PREFIX) + strlen(key) &&
            memcmp(k->str, PREFIX, strlen(PREFIX)) == 0 &&
            memcmp(k->str + strlen(PREFIX), key, strlen(key)) == 0)
            return true;
    }
    return false;
}

static bool
held(const char *key)
{
    struct mr_arena a;
    mr_arena_init(&a, 256, 4096);
    const char *v;
    size_t len;
    struct mr_cache_l1_meta m;
    int rc = mr_cache_l1_get(l1, key, strlen(key), 1, &a, &v, &len, &m);
    mr_arena_fini(&a);
    return rc == 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *rd = redisReaderCreate();
    FUZZ_CHECK(rd != NULL);
    if (redisReaderFeed(rd, (const char *)data, size) != REDIS_OK)
        goto out;
    for (int n = 0; n < 64; n++) {
        void *v = NULL;
        if (redisReaderGetReply(rd, &v) != REDIS_OK || v == NULL)
            break;
        const redisReply *r = v;
        fill();
        int verdict = mr_cache__inval_apply(l1, PREFIX, strlen(PREFIX), r);
        FUZZ_CHECK(verdict == 0 || verdict == 1);
        FUZZ_CHECK(mr_cache_l1_count(l1) <= mr_cache_l1_capacity(l1));
        bool is_keys = r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                       r->element[2]->type == REDIS_REPLY_ARRAY;
        if (verdict == 0 && is_keys) {
            static const char *keys[] = {"w:1", "w:2", "a", ""};
            for (size_t i = 0; i < 4; i++)
                FUZZ_CHECK(held(keys[i]) || names(r, keys[i]));
        }
        freeReplyObject(v);
    }
out:
    redisReaderFree(rd);
    return 0;
}
