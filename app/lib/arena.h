/* SPDX-License-Identifier: BSD-2-Clause */
/* arena: the per-request allocator. Everything a request needs (parsed parameters, rows,
 * the response) comes from one arena and is released at once by mr_arena_reset after the
 * response is sent. The first block is kept between resets, so a steady-state request
 * calls malloc zero times. An arena has a ceiling: past it mr_arena_alloc returns NULL, and
 * the request gets an error status, not the process an abort. */
#ifndef MR_ARENA_H
#define MR_ARENA_H

#include <stddef.h>

#include "app/lib/err.h"

struct mr_arena_block;
struct mr_arena_defer;

struct mr_arena {
    struct mr_arena_block *head;   /* current block; the first block is the tail of the list */
    struct mr_arena_defer *defers; /* run in reverse order of registration by reset/fini */
    size_t first_size;             /* bytes in the first block, kept across resets */
    size_t max_bytes;              /* ceiling on all blocks together */
    size_t used_bytes;             /* bytes in all blocks now */
};

/* Caller owns `a`. Allocates the first block (mr_xmalloc: aborts on OOM). */
void mr_arena_init(struct mr_arena *a, size_t first_size, size_t max_bytes);
/* Runs the deferred cleanups and frees every block. Safe to call twice. */
void mr_arena_fini(struct mr_arena *a);
/* Runs the deferred cleanups, frees all blocks but the first and empties it. */
void mr_arena_reset(struct mr_arena *a);

/* n bytes aligned for any type, or NULL past the ceiling. Memory is not zeroed. */
void *mr_arena_alloc(struct mr_arena *a, size_t n);
/* Zeroed n * size bytes, or NULL on overflow or past the ceiling. */
void *mr_arena_calloc(struct mr_arena *a, size_t n, size_t size);
/* A NUL-terminated copy of s[0..len), or NULL past the ceiling. */
char *mr_arena_strndup(struct mr_arena *a, const char *s, size_t len);

/* Registers fn(arg) to run at the next reset or fini (nginx's pool cleanup). Returns 0 or
 * -ENOMEM past the ceiling, in which case fn has not been registered. */
MR_MUST_CHECK int mr_arena_defer(struct mr_arena *a, void (*fn)(void *), void *arg);

/* malloc that never returns NULL: on OOM it writes one line and aborts, and the manager
 * replaces the worker. For process- and worker-lifetime memory only. */
void *mr_xmalloc(size_t n);
void *mr_xcalloc(size_t n, size_t size);
char *mr_xstrdup(const char *s);

#endif
