/* SPDX-License-Identifier: BSD-2-Clause */
/* sessdata: the session map and its stored form (see sessdata.h). A session holds a handful
 * of entries (a user id, a flash message), so lookups are linear and growth doubles in the
 * arena; the limits keep a hostile or corrupt value from costing more than max_bytes. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "app/serve/sessdata.h"

static struct mr_sessdata_pair *
find(const struct mr_sessdata *m, const char *key, size_t key_len)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->v[i].key_len == key_len && memcmp(m->v[i].key, key, key_len) == 0)
            return &m->v[i];
    return NULL;
}

const char *
mr_sessdata_get(const struct mr_sessdata *m, const char *key)
{
    const struct mr_sessdata_pair *p = find(m, key, strlen(key));
    return p != NULL ? p->value : NULL;
}

static size_t
entry_size(size_t key_len, size_t value_len)
{
    return MR_SESSDATA_ENTRY_OVERHEAD + key_len + value_len;
}

size_t
mr_sessdata_size(const struct mr_sessdata *m)
{
    size_t n = MR_SESSDATA_HEADER;
    for (size_t i = 0; i < m->n; i++)
        n += entry_size(m->v[i].key_len, m->v[i].value_len);
    return n;
}

/* Room for one more entry. Returns 0 or -ENOMEM. */
static int
grow(struct mr_sessdata *m, struct mr_arena *a)
{
    if (m->n < m->cap)
        return 0;
    size_t cap = m->cap == 0 ? 8 : 2 * m->cap;
    struct mr_sessdata_pair *v = mr_arena_alloc(a, cap * sizeof(*v));
    if (v == NULL)
        return -ENOMEM;
    if (m->n > 0)
        memcpy(v, m->v, m->n * sizeof(*v));
    m->v = v;
    m->cap = cap;
    return 0;
}

int
mr_sessdata_set(struct mr_sessdata *m, const char *key, const char *value, size_t max_bytes,
                struct mr_arena *a)
{
    size_t key_len = strlen(key), value_len = strlen(value);
    if (key_len == 0 || key_len > MR_SESSDATA_MAX_KEY)
        return -EINVAL;
    if (value_len > UINT32_MAX)
        return -E2BIG;
    struct mr_sessdata_pair *p = find(m, key, key_len);
    size_t size = mr_sessdata_size(m) + entry_size(key_len, value_len);
    if (p != NULL)
        size -= entry_size(p->key_len, p->value_len);
    if (size > max_bytes || (p == NULL && m->n >= MR_SESSDATA_MAX_ENTRIES))
        return -E2BIG;
    char *v = mr_arena_strndup(a, value, value_len);
    if (v == NULL)
        return -ENOMEM;
    if (p == NULL) {
        char *k = mr_arena_strndup(a, key, key_len);
        if (k == NULL || grow(m, a) < 0)
            return -ENOMEM;
        p = &m->v[m->n++];
        p->key = k;
        p->key_len = key_len;
    }
    p->value = v;
    p->value_len = value_len;
    return 0;
}

bool
mr_sessdata_del(struct mr_sessdata *m, const char *key)
{
    struct mr_sessdata_pair *p = find(m, key, strlen(key));
    if (p == NULL)
        return false;
    size_t i = (size_t)(p - m->v);
    memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*p));
    m->n--;
    return true;
}

static char *
put_le(char *p, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        *p++ = (char)((v >> (8 * i)) & 0xff);
    return p;
}

int
mr_sessdata_encode(const struct mr_sessdata *m, struct mr_arena *a, char **out, size_t *len)
{
    size_t n = mr_sessdata_size(m);
    char *buf = mr_arena_alloc(a, n);
    if (buf == NULL)
        return -ENOMEM;
    char *p = buf;
    *p++ = (char)MR_SESSDATA_MAGIC;
    *p++ = (char)MR_SESSDATA_VERSION;
    p = put_le(p, (uint32_t)m->n, 2);
    for (size_t i = 0; i < m->n; i++) {
        const struct mr_sessdata_pair *e = &m->v[i];
        *p++ = (char)e->key_len;
        memcpy(p, e->key, e->key_len);
        p = put_le(p + e->key_len, (uint32_t)e->value_len, 4);
        memcpy(p, e->value, e->value_len);
        p += e->value_len;
    }
    *out = buf;
    *len = n;
    return 0;
}

static uint32_t
get_le(const unsigned char *p, int bytes)
{
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

/* One entry at *pos of buf[0..len): checks it and copies it into m. Returns 0, -EINVAL or
 * -ENOMEM. */
static int
decode_entry(const unsigned char *buf, size_t len, size_t *pos, struct mr_arena *a,
             struct mr_sessdata *m)
{
    size_t at = *pos;
    if (len - at < 1)
        return -EINVAL;
    size_t key_len = buf[at++];
    if (key_len == 0 || key_len > MR_SESSDATA_MAX_KEY || len - at < key_len + 4)
        return -EINVAL;
    const char *key = (const char *)buf + at;
    at += key_len;
    size_t value_len = get_le(buf + at, 4);
    at += 4;
    if (len - at < value_len)
        return -EINVAL;
    const char *value = (const char *)buf + at;
    if (memchr(key, '\0', key_len) != NULL || memchr(value, '\0', value_len) != NULL ||
        find(m, key, key_len) != NULL)
        return -EINVAL;
    if (grow(m, a) < 0)
        return -ENOMEM;
    struct mr_sessdata_pair *p = &m->v[m->n];
    p->key = mr_arena_strndup(a, key, key_len);
    p->value = mr_arena_strndup(a, value, value_len);
    if (p->key == NULL || p->value == NULL)
        return -ENOMEM;
    p->key_len = key_len;
    p->value_len = value_len;
    m->n++;
    *pos = at + value_len;
    return 0;
}

int
mr_sessdata_decode(const char *buf, size_t len, struct mr_arena *a, struct mr_sessdata *m)
{
    *m = (struct mr_sessdata){0};
    const unsigned char *b = (const unsigned char *)buf;
    if (len < MR_SESSDATA_HEADER || b[0] != MR_SESSDATA_MAGIC || b[1] != MR_SESSDATA_VERSION)
        return -EINVAL;
    size_t count = get_le(b + 2, 2);
    if (count > MR_SESSDATA_MAX_ENTRIES)
        return -EINVAL;
    size_t pos = MR_SESSDATA_HEADER;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        rc = decode_entry(b, len, &pos, a, m);
    if (rc == 0 && pos != len)
        rc = -EINVAL;
    if (rc < 0)
        *m = (struct mr_sessdata){0};
    return rc;
}
