/* SPDX-License-Identifier: BSD-2-Clause */
/* codec: a list page as the bytes cached in Redis, and back. Fields each end in a NUL: "1" or
 * "0" (is there a next page), then id, author, title and created for each row; the strings
 * then read in place as C strings, and none of them can hold a NUL (the inputs refuse it).
 * Bytes this code did not write (another version's, a damaged value) decode as -EINVAL, and
 * the page is read from the database instead. Pure C: fuzzed by tests/fuzz/fuzz_notes_page.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "notes.h"

/* A row's id as text, in buf (24 bytes). */
static size_t
id_text(long long id, char *buf)
{
    int n = snprintf(buf, 24, "%lld", id);
    return n > 0 ? (size_t)n : 0;
}

size_t
notes_page_encoded_len(const struct notes_page *p)
{
    size_t need = 2;
    for (int i = 0; i < p->n; i++) {
        const struct notes_row *r = &p->rows[i];
        char id[24];
        need += id_text(r->id, id) + strlen(r->author) + strlen(r->title) + strlen(r->created) + 4;
    }
    return need;
}

void
notes_page_encode(const struct notes_page *p, char *buf)
{
    char *w = buf;
    *w++ = p->has_next ? '1' : '0';
    *w++ = '\0';
    for (int i = 0; i < p->n; i++) {
        char id[24];
        (void)id_text(p->rows[i].id, id);
        const char *f[4] = {id, p->rows[i].author, p->rows[i].title, p->rows[i].created};
        for (int k = 0; k < 4; k++) {
            size_t n = strlen(f[k]) + 1;
            memcpy(w, f[k], n);
            w += n;
        }
    }
}

/* The field starting at *at (it ends in a NUL before end), or NULL; *at moves past it. */
static const char *
field(const char **at, const char *end)
{
    const char *s = *at;
    if (s >= end)
        return NULL;
    const char *nul = memchr(s, '\0', (size_t)(end - s));
    if (nul == NULL)
        return NULL;
    *at = nul + 1;
    return s;
}

static bool
parse_id(const char *s, long long *out)
{
    if (*s < '1' || *s > '9')
        return false;
    long long v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > (9223372036854775807LL - (*s - '0')) / 10)
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

int
notes_page_decode(const char *v, size_t len, struct notes_page *out)
{
    const char *at = v, *end = v + len;
    const char *next = field(&at, end);
    if (next == NULL || (strcmp(next, "0") != 0 && strcmp(next, "1") != 0))
        return -EINVAL;
    out->has_next = next[0] == '1';
    out->n = 0;
    while (at < end) {
        if (out->n == NOTES_PAGE_SIZE)
            return -EINVAL;
        struct notes_row *r = &out->rows[out->n];
        const char *id = field(&at, end);
        r->author = field(&at, end);
        r->title = field(&at, end);
        r->created = field(&at, end);
        if (id == NULL || r->created == NULL || !parse_id(id, &r->id))
            return -EINVAL;
        out->n++;
    }
    return out->has_next && out->n < NOTES_PAGE_SIZE ? -EINVAL : 0;
}
