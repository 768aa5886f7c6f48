/* SPDX-License-Identifier: BSD-2-Clause */
/* template_bench: the Fortunes page (13 rows) rendered three ways, ns per page: directly
 * with mr_buf/mr_html_escape as handlers/fortunes.c does, through the compiled template
 * with the value tree built once, and with the tree built per page as a handler would. Each
 * page resets the arena, as a request does. make bench-template links it with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, so it also counts the allocator calls the
 * render loops make: in steady state, zero. Not part of make test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/lib/html.h"
#include "app/lib/template.h"
#include "app/lib/tv.h"

void *__wrap_malloc(size_t n);
void *__real_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__real_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__real_realloc(void *p, size_t n);

static unsigned long mallocs;

void *
__wrap_malloc(size_t n)
{
    mallocs++;
    return __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
    mallocs++;
    return __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
    mallocs++;
    return __real_realloc(p, n);
}

struct fortune {
    int id;
    const char *message;
};

/* Already in the handler's order (byte order of message). */
static const struct fortune rows[] = {
    {11, "<script>alert(\"This should not be displayed in a browser alert box.\");</script>"},
    {4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"},
    {5, "A computer program does what you tell it to do, not what you want it to do."},
    {2, "A computer scientist is someone who fixes things that aren't broken."},
    {8, "A list is only as strong as its weakest link. — Donald Knuth"},
    {0, "Additional fortune added at request time."},
    {3, "After enough decimal places, nobody gives a damn."},
    {7, "Any program that runs right is obsolete."},
    {10, "Computers make very fast, very accurate mistakes."},
    {6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"},
    {9, "Feature: A bug with seniority."},
    {1, "fortune: No such file or directory"},
    {12, "フレームワークのベンチマーク"},
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))
#define PAGES 200000

static int64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
direct(struct mr_buf *b)
{
    mr_buf_puts(b, "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                   "<tr><th>id</th><th>message</th></tr>");
    for (size_t i = 0; i < NROWS; i++) {
        mr_buf_puts(b, "<tr><td>");
        mr_buf_int(b, rows[i].id);
        mr_buf_puts(b, "</td><td>");
        mr_html_escape(b, rows[i].message, strlen(rows[i].message));
        mr_buf_puts(b, "</td></tr>");
    }
    mr_buf_puts(b, "</table></body></html>");
}

static struct mr_tv *
tree(struct mr_arena *a)
{
    struct mr_tv *root = mr_tv_obj(a);
    struct mr_tv *list = mr_tv_set_list(root, "fortunes");
    for (size_t i = 0; i < NROWS; i++) {
        struct mr_tv *row = mr_tv_push_obj(list);
        if (mr_tv_set_int(row, "id", rows[i].id) < 0 ||
            mr_tv_set_str(row, "message", rows[i].message, strlen(rows[i].message)) < 0)
            return NULL;
    }
    return root;
}

/* Runs PAGES pages of `way` (0 direct, 1 template, 2 tree + template); prints ns per page. */
static int
run(const char *label, int way, const struct mr_tpl *t, struct mr_arena *a, size_t *len)
{
    struct mr_arena fixed;
    mr_arena_init(&fixed, 1 << 16, 1 << 20);
    const struct mr_tv *once = tree(&fixed);
    unsigned long m0 = mallocs;
    int64_t t0 = now_ns();
    for (int i = 0; i < PAGES; i++) {
        struct mr_buf b;
        mr_buf_init(&b, a, 4096);
        if (way == 0) {
            direct(&b);
        } else {
            const struct mr_tv *root = way == 1 ? once : tree(a);
            if (root == NULL || mr_tpl_render(t, root, &b) != 0)
                return -1;
        }
        *len = b.len;
        mr_arena_reset(a);
    }
    int64_t ns = now_ns() - t0;
    printf("%-28s %7.1f ns/page  %lu allocator calls in %d pages\n", label, (double)ns / PAGES,
           mallocs - m0, PAGES);
    mr_arena_fini(&fixed);
    return 0;
}

int
main(void)
{
    struct mr_tpl_set *set = mr_tpl_set_new();
    struct mr_err err;
    if (mr_tpl_set_load_dir(set, "handlers/templates", &err) < 0 ||
        mr_tpl_set_compile(set, &err) < 0) {
        fprintf(stderr, "template_bench: %s\n", err.msg);
        return 1;
    }
    const struct mr_tpl *t = mr_tpl_get(set, "fortunes");
    /* Shows that the counter sees the library's calls: loading does allocate. */
    printf("loading the set: %lu allocator calls\n", mallocs);
    struct mr_arena a;
    mr_arena_init(&a, 1 << 16, 1 << 20);
    size_t l0 = 0, l1 = 0, l2 = 0;
    int rc = run("direct (handlers/fortunes.c)", 0, t, &a, &l0) |
             run("template, tree built once", 1, t, &a, &l1) |
             run("template + tree per page", 2, t, &a, &l2);
    printf("page bytes: %zu %zu %zu\n", l0, l1, l2);
    mr_arena_fini(&a);
    mr_tpl_set_free(set);
    return rc != 0 || l0 != l1 || l1 != l2;
}
