/* SPDX-License-Identifier: BSD-2-Clause */
/* jsonbody: an application/json request body parsed with jansson under limits (size before
 * parsing, nesting depth, no duplicate keys, an object or array at the top), and typed
 * getters by dotted path ("user.address.zip", "items.0.id") for validation.
 *
 * Ownership: the json_t tree is malloc'd by jansson and freed by json_decref, which
 * mr_jsonbody_parse registers on the request arena (mr_arena_defer): the tree lives until
 * the arena is reset and the caller frees nothing. Do not keep a pointer into it past the
 * request, and do not json_decref the root yourself.
 *
 * Why malloc and not the arena (json_set_alloc_funcs): measured on a 1.2 KB body (an
 * object with 20 items), jansson makes 339 allocations totalling 13.6 KB per parse; with
 * the arena behind it a parse took 18.4-20.3 us against 21.4-22.4 us with malloc and
 * json_decref (-O2, 200,000 parses). The 10-15% is not worth what comes with it: the hook
 * is process-global, so every other jansson use in the worker would land in whatever arena
 * is current; jansson frees its growth buffers as it goes, which an arena cannot take back,
 * so a body costs about 11 times its size in arena and a large valid body would hit the
 * arena ceiling; and a tree kept past the reset would be read after free, silently. With
 * malloc the memory per request is bounded by max_bytes times that factor and returned by
 * the deferred json_decref. */
#ifndef MR_JSONBODY_H
#define MR_JSONBODY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "app/lib/arena.h"
#include "app/lib/err.h"

struct mr_jsonbody_limits {
    size_t max_bytes; /* checked before parsing */
    int max_depth;    /* arrays and objects nested at most this deep (jansson stops at 2048) */
};

struct mr_jsonbody {
    json_t *root;      /* an object or an array; NULL after a failed parse */
    struct mr_err err; /* why it failed: "line:column: text" where there is a position */
};

/* Parses body[0..len) into jb->root. Returns 0; -E2BIG past max_bytes (413); -EINVAL for a
 * syntax error, a duplicate key, a scalar at the top, nesting past max_depth or a \u0000
 * (400); -ENOMEM when the arena cannot hold the deferred free (500; nothing is left
 * allocated). The tree is freed at the arena's next reset or fini. */
MR_MUST_CHECK int mr_jsonbody_parse(struct mr_jsonbody *jb, const char *body, size_t len,
                                    const struct mr_jsonbody_limits *lim, struct mr_arena *a);

/* Getters by dotted path from `root` (any object or array in the tree): each segment is an
 * object key, or a decimal index into an array; keys containing '.' cannot be named. Each
 * returns 0 with *out set, -ENOENT when a segment is missing, or -EINVAL when a value has
 * the wrong type ("items.0.qty: expected integer, got string"); the reason is in err. */
MR_MUST_CHECK int mr_jsonbody_get_string(const json_t *root, const char *path, const char **out,
                                         struct mr_err *err); /* borrowed, NUL-terminated */
MR_MUST_CHECK int mr_jsonbody_get_int(const json_t *root, const char *path, long long *out,
                                      struct mr_err *err);
MR_MUST_CHECK int mr_jsonbody_get_bool(const json_t *root, const char *path, bool *out,
                                       struct mr_err *err);
/* Accepts an integer as well as a real. */
MR_MUST_CHECK int mr_jsonbody_get_double(const json_t *root, const char *path, double *out,
                                         struct mr_err *err);

#endif
