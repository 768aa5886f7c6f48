/* SPDX-License-Identifier: BSD-2-Clause */
/* buf: a length-carrying byte buffer that grows inside a request arena. Appends never fail
 * loudly: past the arena's ceiling the buffer turns `failed` and ignores further appends,
 * so a writer checks once, at the end (the response code does). */
#ifndef MR_BUF_H
#define MR_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/lib/arena.h"

struct mr_buf {
    char *data; /* not NUL-terminated unless mr_buf_cstr is called */
    size_t len;
    size_t cap;
    struct mr_arena *arena;
    bool failed;
};

void mr_buf_init(struct mr_buf *b, struct mr_arena *a, size_t initial_cap);
void mr_buf_append(struct mr_buf *b, const void *p, size_t n);
void mr_buf_puts(struct mr_buf *b, const char *s);
void mr_buf_printf(struct mr_buf *b, const char *fmt, ...) MR_PRINTF(2, 3);
void mr_buf_vprintf(struct mr_buf *b, const char *fmt, va_list ap) MR_PRINTF(2, 0);
void mr_buf_int(struct mr_buf *b, int64_t v);
/* mr_buf_reserve's growth, when the room is short: doubles into the arena. */
char *mr_buf__grow(struct mr_buf *b, size_t n);
/* Ensures room for n more bytes and returns a pointer to it (NULL when failed); the caller
 * then calls mr_buf_commit with the bytes it wrote. Inline, like mr_buf_putc: a JSON
 * document of twenty rows takes this path a few hundred times. */
static inline char *
mr_buf_reserve(struct mr_buf *b, size_t n)
{
    if (!b->failed && b->cap - b->len > n)
        return b->data + b->len;
    return mr_buf__grow(b, n);
}

static inline void
mr_buf_commit(struct mr_buf *b, size_t n)
{
    if (!b->failed)
        b->len += n;
}

static inline void
mr_buf_putc(struct mr_buf *b, char c)
{
    char *dst = mr_buf_reserve(b, 1);
    if (dst != NULL) {
        *dst = c;
        b->len++;
    }
}
/* NUL-terminates (without counting the NUL in len) and returns data, or NULL when failed. */
const char *mr_buf_cstr(struct mr_buf *b);

#endif
