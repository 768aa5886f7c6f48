/* SPDX-License-Identifier: BSD-2-Clause */
/* tv: template values, the small tree a handler builds in its request arena for
 * app/lib/template.h to render: null, bool, int, string (with length), list and object. An
 * object is a short array of (key, value) pairs whose keys are hashed when set, so a lookup
 * by a compiled template's pre-hashed name compares hashes before bytes. Nothing here calls
 * malloc: every node, and every growth of a list or object, comes from the arena given to the
 * constructor (old arrays stay in the arena until it is reset). Strings and keys are borrowed,
 * not copied: they must live at least as long as the tree (arena or static storage). */
#ifndef MR_TV_H
#define MR_TV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/lib/arena.h"

enum mr_tv_kind { MR_TV_NULL, MR_TV_BOOL, MR_TV_INT, MR_TV_STR, MR_TV_LIST, MR_TV_OBJ };

struct mr_tv_pair {
    const char *key; /* borrowed */
    size_t key_len;
    uint32_t hash; /* mr_tv_hash(key, key_len) */
    struct mr_tv *val;
};

/* Read-only outside tv.c: build and change values with the functions below. */
struct mr_tv {
    enum mr_tv_kind kind;
    struct mr_arena *arena; /* where a list or object grows */
    union {
        bool b;
        int64_t i;
        struct {
            const char *s; /* borrowed, not NUL-terminated */
            size_t len;
        } str;
        struct {
            struct mr_tv **items;
            size_t n, cap;
        } list;
        struct {
            struct mr_tv_pair *pairs;
            size_t n, cap;
        } obj;
    } u;
};

/* Constructors: a new value in arena a, or NULL past the arena's ceiling. */
struct mr_tv *mr_tv_null(struct mr_arena *a);
struct mr_tv *mr_tv_bool(struct mr_arena *a, bool b);
struct mr_tv *mr_tv_int(struct mr_arena *a, int64_t i);
/* s[0..len) is borrowed, not copied. */
struct mr_tv *mr_tv_str(struct mr_arena *a, const char *s, size_t len);
struct mr_tv *mr_tv_list(struct mr_arena *a);
struct mr_tv *mr_tv_obj(struct mr_arena *a);

/* Sets obj[key] = val (replacing an earlier value of the same key), key NUL-terminated and
 * borrowed. Returns 0, -EINVAL when obj is not an object or val is NULL (so a failed
 * constructor passed straight in is caught here), or -ENOMEM past the arena's ceiling. */
MR_MUST_CHECK int mr_tv_set(struct mr_tv *obj, const char *key, struct mr_tv *val);
/* mr_tv_set with a value made in obj's arena; same returns (-ENOMEM when that fails). */
MR_MUST_CHECK int mr_tv_set_str(struct mr_tv *obj, const char *key, const char *s, size_t len);
MR_MUST_CHECK int mr_tv_set_int(struct mr_tv *obj, const char *key, int64_t i);
MR_MUST_CHECK int mr_tv_set_bool(struct mr_tv *obj, const char *key, bool b);
/* Appends val to list. Returns 0, -EINVAL (list not a list, val NULL) or -ENOMEM. */
MR_MUST_CHECK int mr_tv_push(struct mr_tv *list, struct mr_tv *val);
/* A new empty object or list in the parent's arena, already pushed onto `list` or set as
 * obj[key]; returns it, or NULL on any of the failures above. */
struct mr_tv *mr_tv_push_obj(struct mr_tv *list);
struct mr_tv *mr_tv_set_obj(struct mr_tv *obj, const char *key);
struct mr_tv *mr_tv_set_list(struct mr_tv *obj, const char *key);

/* obj[key] by a key and its hash, or NULL when missing or obj is not an object. Borrowed. */
const struct mr_tv *mr_tv_get(const struct mr_tv *obj, const char *key, size_t key_len,
                              uint32_t hash);
/* The hash objects and compiled names use (32-bit FNV-1a). */
uint32_t mr_tv_hash(const char *s, size_t len);

#endif
