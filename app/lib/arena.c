/* SPDX-License-Identifier: BSD-2-Clause */
/* arena: a bump allocator over a list of blocks. Large requests get a block of their own
 * sized to fit, so one big row set does not waste a standard block. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/lib/arena.h"

#define ALIGN 16

struct mr_arena_block {
    struct mr_arena_block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(ALIGN) unsigned char data[];
};

struct mr_arena_defer {
    struct mr_arena_defer *next;
    void (*fn)(void *);
    void *arg;
};

static void
oom(size_t n)
{
    static const char msg[] = "<2>event=out_of_memory\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)w;
    (void)n;
    abort();
}

void *
mr_xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL)
        oom(n);
    return p;
}

void *
mr_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);
    if (p == NULL)
        oom(n * size);
    return p;
}

char *
mr_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = mr_xmalloc(n);
    memcpy(p, s, n);
    return p;
}

static struct mr_arena_block *
block_new(size_t size)
{
    struct mr_arena_block *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

void
mr_arena_init(struct mr_arena *a, size_t first_size, size_t max_bytes)
{
    a->head = block_new(first_size);
    if (a->head == NULL)
        oom(first_size);
    a->defers = NULL;
    a->first_size = first_size;
    a->max_bytes = max_bytes < first_size ? first_size : max_bytes;
    a->used_bytes = first_size;
}

static void
run_defers(struct mr_arena *a)
{
    while (a->defers != NULL) {
        struct mr_arena_defer *d = a->defers;
        a->defers = d->next;
        d->fn(d->arg);
    }
}

void
mr_arena_reset(struct mr_arena *a)
{
    run_defers(a);
    if (a->head == NULL)
        return;
    while (a->head->next != NULL) {
        struct mr_arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
    a->head->used = 0;
    a->used_bytes = a->first_size;
}

void
mr_arena_fini(struct mr_arena *a)
{
    run_defers(a);
    while (a->head != NULL) {
        struct mr_arena_block *b = a->head;
        a->head = b->next;
        free(b);
    }
    a->used_bytes = 0;
}

void *
mr_arena_alloc(struct mr_arena *a, size_t n)
{
    if (n > SIZE_MAX - ALIGN)
        return NULL;
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    struct mr_arena_block *b = a->head;
    if (b != NULL && b->size - b->used >= n) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    size_t size = n > a->first_size ? n : a->first_size;
    if (size > a->max_bytes - a->used_bytes)
        return NULL;
    b = block_new(size);
    if (b == NULL)
        return NULL;
    b->next = a->head;
    a->head = b;
    a->used_bytes += size;
    b->used = n;
    return b->data;
}

void *
mr_arena_calloc(struct mr_arena *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = mr_arena_alloc(a, n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

char *
mr_arena_strndup(struct mr_arena *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *p = mr_arena_alloc(a, len + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

int
mr_arena_defer(struct mr_arena *a, void (*fn)(void *), void *arg)
{
    struct mr_arena_defer *d = mr_arena_alloc(a, sizeof(*d));
    if (d == NULL)
        return -ENOMEM;
    d->fn = fn;
    d->arg = arg;
    d->next = a->defers;
    a->defers = d;
    return 0;
}
