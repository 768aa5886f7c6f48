/* SPDX-License-Identifier: BSD-2-Clause */
/* buf: growth doubles inside the arena; the old copy stays in the arena until the request
 * ends, which is the price of never calling free on the request path. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/buf.h"

void
mr_buf_init(struct mr_buf *b, struct mr_arena *a, size_t initial_cap)
{
    b->arena = a;
    b->len = 0;
    b->failed = false;
    b->cap = initial_cap ? initial_cap : 64;
    b->data = mr_arena_alloc(a, b->cap);
    if (b->data == NULL) {
        b->failed = true;
        b->cap = 0;
    }
}

char *
mr_buf__grow(struct mr_buf *b, size_t n)
{
    if (b->failed)
        return NULL;
    if (b->cap - b->len > n)
        return b->data + b->len;
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->len <= n) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = true;
            return NULL;
        }
        cap *= 2;
    }
    char *p = mr_arena_alloc(b->arena, cap);
    if (p == NULL) {
        b->failed = true;
        return NULL;
    }
    if (b->len)
        memcpy(p, b->data, b->len);
    b->data = p;
    b->cap = cap;
    return b->data + b->len;
}

void
mr_buf_append(struct mr_buf *b, const void *p, size_t n)
{
    char *dst = mr_buf_reserve(b, n);
    if (dst == NULL)
        return;
    memcpy(dst, p, n);
    b->len += n;
}

void
mr_buf_puts(struct mr_buf *b, const char *s)
{
    mr_buf_append(b, s, strlen(s));
}

/* Two digits at a time, from a table: half the divisions of one digit at a time. */
void
mr_buf_int(struct mr_buf *b, int64_t v)
{
    static const char pairs[] = "0001020304050607080910111213141516171819"
                                "2021222324252627282930313233343536373839"
                                "4041424344454647484950515253545556575859"
                                "6061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    char tmp[20]; /* "-9223372036854775808" */
    char *end = tmp + sizeof(tmp), *p = end;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    for (; u >= 100; u /= 100) {
        const char *d = pairs + 2 * (u % 100);
        *--p = d[1];
        *--p = d[0];
    }
    if (u >= 10) {
        *--p = pairs[2 * u + 1];
        *--p = pairs[2 * u];
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    mr_buf_append(b, p, (size_t)(end - p));
}

void
mr_buf_printf(struct mr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mr_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void
mr_buf_vprintf(struct mr_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap); /* a second pass when the first did not fit */
    char *dst = mr_buf_reserve(b, 128);
    int w = dst ? vsnprintf(dst, b->cap - b->len, fmt, ap) : -1;
    if (w < 0) {
        b->failed = true;
        va_end(again);
        return;
    }
    if ((size_t)w >= b->cap - b->len) {
        dst = mr_buf_reserve(b, (size_t)w + 1);
        if (dst == NULL) {
            va_end(again);
            return;
        }
        (void)vsnprintf(dst, b->cap - b->len, fmt, again);
    }
    va_end(again);
    b->len += (size_t)w;
}

const char *
mr_buf_cstr(struct mr_buf *b)
{
    char *dst = mr_buf_reserve(b, 1);
    if (dst == NULL)
        return NULL;
    *dst = '\0';
    return b->data;
}
