/* SPDX-License-Identifier: BSD-2-Clause */
/* sessdata: a session's data, a small map of string keys to string values, and the bytes it
 * is stored as in Redis. The map lives in the request's arena; nothing is freed one by one.
 *
 * The stored form, all integers little-endian:
 *
 *   offset size  field
 *   0      1     magic 0xF6 (never a byte of UTF-8, so no text value looks like one)
 *   1      1     version 1
 *   2      2     count u16: the entries that follow, at most MR_SESSDATA_MAX_ENTRIES
 *   then per entry:
 *          1     key_len u8, 1..MR_SESSDATA_MAX_KEY
 *          k     key
 *          4     value_len u32
 *          v     value
 *
 * and nothing after the last entry. Keys and values hold no NUL byte (they are C strings)
 * and a key appears once. Anything else is refused whole: a corrupt session is an empty one. */
#ifndef MR_SESSDATA_H
#define MR_SESSDATA_H

#include <stdbool.h>
#include <stddef.h>

#include "app/lib/arena.h"
#include "app/lib/err.h"

#define MR_SESSDATA_MAGIC 0xF6u
#define MR_SESSDATA_VERSION 1u
#define MR_SESSDATA_HEADER 4u
#define MR_SESSDATA_ENTRY_OVERHEAD 5u /* key_len and value_len */
#define MR_SESSDATA_MAX_KEY 64u
#define MR_SESSDATA_MAX_ENTRIES 256u

struct mr_sessdata_pair {
    const char *key; /* NUL-terminated, in the arena */
    const char *value;
    size_t key_len;
    size_t value_len;
};

struct mr_sessdata {
    struct mr_sessdata_pair *v; /* in the arena; NULL when empty */
    size_t n;
    size_t cap;
};

/* The value of key, or NULL. */
const char *mr_sessdata_get(const struct mr_sessdata *m, const char *key);
/* Sets key to value (both copied into a). Returns 0, -EINVAL for a key that is empty or over
 * MR_SESSDATA_MAX_KEY bytes, -E2BIG past MR_SESSDATA_MAX_ENTRIES or when the stored form
 * would pass max_bytes (m is then unchanged), -ENOMEM past the arena's ceiling. */
MR_MUST_CHECK int mr_sessdata_set(struct mr_sessdata *m, const char *key, const char *value,
                                  size_t max_bytes, struct mr_arena *a);
/* Removes key; whether it was there. */
bool mr_sessdata_del(struct mr_sessdata *m, const char *key);
/* Bytes of the stored form of m. */
size_t mr_sessdata_size(const struct mr_sessdata *m);
/* The stored form of m, in a (*out, *len). Returns 0 or -ENOMEM. */
MR_MUST_CHECK int mr_sessdata_encode(const struct mr_sessdata *m, struct mr_arena *a, char **out,
                                     size_t *len);
/* Parses buf[0..len) into m (copies in a). Returns 0, -EINVAL for anything that is not the
 * stored form above (m is then empty), -ENOMEM past the arena's ceiling. */
MR_MUST_CHECK int mr_sessdata_decode(const char *buf, size_t len, struct mr_arena *a,
                                     struct mr_sessdata *m);

#endif
