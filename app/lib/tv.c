/* SPDX-License-Identifier: BSD-2-Clause */
/* tv: arrays grow by doubling inside the arena, and an object is searched linearly: the
 * objects a page is built from have a handful of keys, where a scan of 32-bit hashes beats
 * any table. */
#include <errno.h>
#include <string.h>

#include "app/lib/tv.h"

#define FIRST_CAP 4

uint32_t
mr_tv_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static struct mr_tv *
make(struct mr_arena *a, enum mr_tv_kind kind)
{
    struct mr_tv *v = mr_arena_calloc(a, 1, sizeof(*v));
    if (v != NULL) {
        v->kind = kind;
        v->arena = a;
    }
    return v;
}

struct mr_tv *
mr_tv_null(struct mr_arena *a)
{
    return make(a, MR_TV_NULL);
}

struct mr_tv *
mr_tv_bool(struct mr_arena *a, bool b)
{
    struct mr_tv *v = make(a, MR_TV_BOOL);
    if (v != NULL)
        v->u.b = b;
    return v;
}

struct mr_tv *
mr_tv_int(struct mr_arena *a, int64_t i)
{
    struct mr_tv *v = make(a, MR_TV_INT);
    if (v != NULL)
        v->u.i = i;
    return v;
}

struct mr_tv *
mr_tv_str(struct mr_arena *a, const char *s, size_t len)
{
    struct mr_tv *v = make(a, MR_TV_STR);
    if (v != NULL) {
        v->u.str.s = s;
        v->u.str.len = len;
    }
    return v;
}

struct mr_tv *
mr_tv_list(struct mr_arena *a)
{
    return make(a, MR_TV_LIST);
}

struct mr_tv *
mr_tv_obj(struct mr_arena *a)
{
    return make(a, MR_TV_OBJ);
}

/* Makes room for one more element of `size` bytes in *arr (n used, *cap allocated). */
static int
grow(struct mr_arena *a, void **arr, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : FIRST_CAP;
    void *p = mr_arena_calloc(a, ncap, size);
    if (p == NULL)
        return -ENOMEM;
    if (n > 0)
        memcpy(p, *arr, n * size);
    *arr = p;
    *cap = ncap;
    return 0;
}

int
mr_tv_set(struct mr_tv *obj, const char *key, struct mr_tv *val)
{
    if (obj == NULL || obj->kind != MR_TV_OBJ || key == NULL || val == NULL)
        return -EINVAL;
    size_t len = strlen(key);
    uint32_t h = mr_tv_hash(key, len);
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        struct mr_tv_pair *p = &obj->u.obj.pairs[i];
        if (p->hash == h && p->key_len == len && memcmp(p->key, key, len) == 0) {
            p->val = val;
            return 0;
        }
    }
    void *arr = obj->u.obj.pairs;
    if (grow(obj->arena, &arr, obj->u.obj.n, &obj->u.obj.cap, sizeof(struct mr_tv_pair)) < 0)
        return -ENOMEM;
    obj->u.obj.pairs = arr;
    obj->u.obj.pairs[obj->u.obj.n++] = (struct mr_tv_pair){key, len, h, val};
    return 0;
}

/* A failed constructor gives NULL, which mr_tv_set would call -EINVAL; it is -ENOMEM. */
static int
set_made(struct mr_tv *obj, const char *key, struct mr_tv *val)
{
    if (obj == NULL || obj->kind != MR_TV_OBJ)
        return -EINVAL;
    if (val == NULL)
        return -ENOMEM;
    return mr_tv_set(obj, key, val);
}

int
mr_tv_set_str(struct mr_tv *obj, const char *key, const char *s, size_t len)
{
    return set_made(obj, key, obj ? mr_tv_str(obj->arena, s, len) : NULL);
}

int
mr_tv_set_int(struct mr_tv *obj, const char *key, int64_t i)
{
    return set_made(obj, key, obj ? mr_tv_int(obj->arena, i) : NULL);
}

int
mr_tv_set_bool(struct mr_tv *obj, const char *key, bool b)
{
    return set_made(obj, key, obj ? mr_tv_bool(obj->arena, b) : NULL);
}

int
mr_tv_push(struct mr_tv *list, struct mr_tv *val)
{
    if (list == NULL || list->kind != MR_TV_LIST || val == NULL)
        return -EINVAL;
    void *arr = list->u.list.items;
    if (grow(list->arena, &arr, list->u.list.n, &list->u.list.cap, sizeof(struct mr_tv *)) < 0)
        return -ENOMEM;
    list->u.list.items = arr;
    list->u.list.items[list->u.list.n++] = val;
    return 0;
}

struct mr_tv *
mr_tv_push_obj(struct mr_tv *list)
{
    if (list == NULL)
        return NULL;
    struct mr_tv *v = mr_tv_obj(list->arena);
    return v != NULL && mr_tv_push(list, v) == 0 ? v : NULL;
}

struct mr_tv *
mr_tv_set_obj(struct mr_tv *obj, const char *key)
{
    if (obj == NULL)
        return NULL;
    struct mr_tv *v = mr_tv_obj(obj->arena);
    return v != NULL && mr_tv_set(obj, key, v) == 0 ? v : NULL;
}

struct mr_tv *
mr_tv_set_list(struct mr_tv *obj, const char *key)
{
    if (obj == NULL)
        return NULL;
    struct mr_tv *v = mr_tv_list(obj->arena);
    return v != NULL && mr_tv_set(obj, key, v) == 0 ? v : NULL;
}

const struct mr_tv *
mr_tv_get(const struct mr_tv *obj, const char *key, size_t key_len, uint32_t hash)
{
    if (obj == NULL || obj->kind != MR_TV_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->u.obj.n; i++) {
        const struct mr_tv_pair *p = &obj->u.obj.pairs[i];
        if (p->hash == hash && p->key_len == key_len && memcmp(p->key, key, key_len) == 0)
            return p->val;
    }
    return NULL;
}
