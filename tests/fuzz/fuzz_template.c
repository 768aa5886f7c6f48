/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_template: the template compiler on arbitrary text, and the renderer on whatever
 * compiles. The input is split at NUL bytes into up to four templates named a, b, c and d,
 * compiled as one set (so partials between them resolve). Invariants: a compile error names
 * one of the templates and a line inside it ("b:3: ..."); a compiled template renders with
 * 0, -ELOOP (depth limit) or -ENOMEM (output ceiling) and the same bytes twice in a row; a
 * template without "{{" renders as its own text. Set and values are freed each run, so LSan
 * sees any leak in the compiler.
 *
 * Rendering is skipped when the input holds more than one "{{>": two self-includes per level
 * under a true section (`{{#t}}{{>a}}{{>a}}{{/t}}`) take 2^depth steps, which is the
 * template's cost, not a bug, and would only show as timeouts. For the same reason every
 * list item in the value tree shadows every list name with an empty list, so lists do not
 * multiply when sections over them nest. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/lib/template.h"
#include "app/lib/tv.h"
#include "tests/fuzz/ref.h"

#define NTPL 4

static const char *const names[NTPL] = {"a", "b", "c", "d"};
static struct mr_arena data_arena, arena;
static const struct mr_tv *root;

static struct mr_tv *
item(const char *name, int64_t id)
{
    struct mr_tv *o = mr_tv_obj(&data_arena);
    FUZZ_CHECK(mr_tv_set_str(o, "name", name, strlen(name)) == 0);
    FUZZ_CHECK(mr_tv_set_int(o, "id", id) == 0);
    FUZZ_CHECK(mr_tv_set_list(o, "items") != NULL && mr_tv_set_list(o, "rows") != NULL);
    return o;
}

/* {name, s, n, t, f, z, e, nil, user{name, id, self=user}, items[3], rows[1]} */
static void
build_tree(void)
{
    mr_arena_init(&data_arena, 4096, 1 << 20);
    struct mr_tv *r = mr_tv_obj(&data_arena);
    FUZZ_CHECK(mr_tv_set_str(r, "name", "<b>&amp;\"'", 11) == 0);
    FUZZ_CHECK(mr_tv_set_str(r, "s", "plain", 5) == 0);
    FUZZ_CHECK(mr_tv_set_int(r, "n", -12345) == 0);
    FUZZ_CHECK(mr_tv_set_bool(r, "t", true) == 0 && mr_tv_set_bool(r, "f", false) == 0);
    FUZZ_CHECK(mr_tv_set_int(r, "z", 0) == 0 && mr_tv_set_str(r, "e", "", 0) == 0);
    FUZZ_CHECK(mr_tv_set(r, "nil", mr_tv_null(&data_arena)) == 0);
    struct mr_tv *user = mr_tv_set_obj(r, "user");
    FUZZ_CHECK(mr_tv_set_str(user, "name", "u", 1) == 0 && mr_tv_set_int(user, "id", 7) == 0);
    FUZZ_CHECK(mr_tv_set(user, "self", user) == 0); /* a cycle: lookups must still end */
    struct mr_tv *items = mr_tv_set_list(r, "items"), *rows = mr_tv_set_list(r, "rows");
    FUZZ_CHECK(mr_tv_push(items, item("x", 1)) == 0 && mr_tv_push(items, item("y<", 2)) == 0);
    FUZZ_CHECK(mr_tv_push(items, item("", 0)) == 0 && mr_tv_push(rows, item("r", 9)) == 0);
    root = r;
}

/* A compile error is "<name>:<line>: reason" for one of the set's templates. */
static void
check_error(const char *msg, const char *const *text, const size_t *len)
{
    int k = 0;
    while (k < NTPL && !(msg[0] == names[k][0] && msg[1] == ':'))
        k++;
    FUZZ_CHECK(k < NTPL && text[k] != NULL);
    char *end = NULL;
    long line = strtol(msg + 2, &end, 10);
    FUZZ_CHECK(end != msg + 2 && end[0] == ':' && end[1] == ' ' && end[2] != '\0');
    long lines = 1;
    for (size_t i = 0; i < len[k]; i++)
        lines += text[k][i] == '\n';
    FUZZ_CHECK(line >= 1 && line <= lines);
}

static void
check_render(const struct mr_tpl *t, const char *text, size_t len)
{
    struct mr_buf b1, b2;
    mr_buf_init(&b1, &arena, 0);
    int rc1 = mr_tpl_render(t, root, &b1);
    FUZZ_CHECK(rc1 == 0 || rc1 == -ELOOP || rc1 == -ENOMEM);
    FUZZ_CHECK((rc1 == -ENOMEM) == b1.failed);
    if (rc1 == -ENOMEM)
        return;
    mr_buf_init(&b2, &arena, 0);
    int rc2 = mr_tpl_render(t, root, &b2);
    if (rc2 == -ENOMEM)
        return;
    FUZZ_CHECK(rc1 == rc2 && b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0);
    if (memmem(text, len, "{{", 2) == NULL)
        FUZZ_CHECK(rc1 == 0 && b1.len == len && memcmp(b1.data, text, len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (root == NULL) {
        build_tree();
        mr_arena_init(&arena, 4096, 1 << 22);
    }
    const char *text[NTPL] = {0};
    size_t len[NTPL] = {0};
    const char *p = (const char *)data, *end = p + size;
    for (int k = 0; k < NTPL; k++) {
        const char *z = k < NTPL - 1 ? memchr(p, '\0', (size_t)(end - p)) : NULL;
        text[k] = p;
        len[k] = z ? (size_t)(z - p) : (size_t)(end - p);
        if (z == NULL)
            break;
        p = z + 1;
    }
    struct mr_tpl_set *set = mr_tpl_set_new();
    struct mr_err err = {{0}};
    for (int k = 0; k < NTPL && text[k] != NULL; k++)
        FUZZ_CHECK(mr_tpl_set_add(set, names[k], text[k], len[k], &err) == 0);
    if (mr_tpl_set_compile(set, &err) != 0) {
        check_error(err.msg, text, len);
        FUZZ_CHECK(mr_tpl_get(set, "a") == NULL);
    } else {
        size_t partials = 0;
        for (const char *q = (const char *)data;
             (q = memmem(q, size - (size_t)(q - (const char *)data), "{{>", 3)) != NULL; q += 3)
            partials++;
        for (int k = 0; k < NTPL && text[k] != NULL && partials <= 1; k++) {
            const struct mr_tpl *t = mr_tpl_get(set, names[k]);
            FUZZ_CHECK(t != NULL);
            check_render(t, text[k], len[k]);
        }
    }
    mr_tpl_set_free(set);
    mr_arena_reset(&arena);
    return 0;
}
