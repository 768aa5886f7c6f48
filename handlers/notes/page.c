/* SPDX-License-Identifier: BSD-2-Clause */
/* page: the list, newest first, NOTES_PAGE_SIZE notes a page, read through the cache. Pages
 * 1..NOTES_CACHED_PAGES live in Redis under notes:page:N; every write masks them all
 * (notes_pages_stale), since a new note shifts every page and an edited title shows on one of
 * them. The masking (mr_cache_stale) keeps a replica that has not replayed the write from
 * putting the old page back, and the writer's token sends their own reads to the primary, so
 * the author sees the new list at once. A Redis outage costs nothing but the cache: every page
 * is then read from the database. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notes.h"

static int
page_key(char *buf, size_t size, long long page)
{
    return snprintf(buf, size, "notes:page:%lld", page);
}

/* The page from the database: NOTES_PAGE_SIZE + 1 rows tell whether there is a next one. */
static int
page_load(struct mr_ctx *ctx, long long page, struct notes_page *out)
{
    char offset[24];
    (void)snprintf(offset, sizeof(offset), "%lld", (page - 1) * NOTES_PAGE_SIZE);
    const char *params[1] = {offset};
    struct mr_rows *r;
    int rc = mr_sql_read(ctx, ST_PAGE, params, 1, &r);
    if (rc != 0)
        return rc;
    size_t n = mr_rows_count(r);
    out->has_next = n > NOTES_PAGE_SIZE;
    out->n = (int)(n > NOTES_PAGE_SIZE ? NOTES_PAGE_SIZE : n);
    for (int i = 0; i < out->n; i++) {
        struct notes_row *row = &out->rows[i];
        row->id = mr_rows_int(r, (size_t)i, 0);
        row->author = mr_rows_text(r, (size_t)i, 1, NULL);
        row->title = mr_rows_text(r, (size_t)i, 2, NULL);
        row->created = mr_rows_text(r, (size_t)i, 3, NULL);
        if (row->author == NULL || row->title == NULL || row->created == NULL)
            return 500; /* NOT NULL columns: only the arena's ceiling gets here */
    }
    return 0;
}

struct fill {
    long long page;
    struct notes_page *page_out;
};

static int
load_cached(struct mr_ctx *ctx, struct mr_cache_entry **misses, size_t n, void *arg)
{
    struct fill *f = arg;
    if (n != 1)
        return 500;
    int rc = page_load(ctx, f->page, f->page_out);
    if (rc != 0)
        return rc;
    misses[0]->value = notes_page_encode(ctx, f->page_out, &misses[0]->value_len);
    return misses[0]->value != NULL ? 0 : 500;
}

int
notes_page_get(struct mr_ctx *ctx, long long page, struct notes_page *out)
{
    if (page > NOTES_CACHED_PAGES)
        return page_load(ctx, page, out);
    char key[40];
    int len = page_key(key, sizeof(key), page);
    struct mr_cache_entry e = {.key = key, .key_len = (size_t)len};
    struct fill f = {page, out};
    int rc = mr_cache_fetch(ctx, &e, 1, NOTES_PAGE_TTL_MS, load_cached, &f);
    if (rc != 0)
        return rc;
    if (!e.hit)
        return 0; /* *out is what the loader read */
    if (e.value != NULL && notes_page_decode(e.value, e.value_len, out) == 0)
        return 0;
    /* Not a page this code wrote (another version's, say): read it afresh. */
    mr_logf(ctx, MR_WARNING, "notes_page_unreadable", "key=%s", key);
    return page_load(ctx, page, out);
}

int
notes_pages_stale(struct mr_ctx *ctx)
{
    for (long long p = 1; p <= NOTES_CACHED_PAGES; p++) {
        char key[40];
        int len = page_key(key, sizeof(key), p);
        int rc = mr_cache_stale(ctx, key, (size_t)len);
        if (rc != 0)
            return rc;
    }
    return 0;
}

char *
notes_page_encode(struct mr_ctx *ctx, const struct notes_page *p, size_t *len)
{
    size_t need = 2;
    char ids[NOTES_PAGE_SIZE][24];
    for (int i = 0; i < p->n; i++) {
        const struct notes_row *r = &p->rows[i];
        (void)snprintf(ids[i], sizeof(ids[i]), "%lld", r->id);
        need += strlen(ids[i]) + strlen(r->author) + strlen(r->title) + strlen(r->created) + 4;
    }
    char *buf = mr_alloc(ctx, need), *w = buf;
    if (buf == NULL)
        return NULL;
    *w++ = p->has_next ? '1' : '0';
    *w++ = '\0';
    for (int i = 0; i < p->n; i++) {
        const char *f[4] = {ids[i], p->rows[i].author, p->rows[i].title, p->rows[i].created};
        for (int k = 0; k < 4; k++) {
            size_t n = strlen(f[k]) + 1;
            memcpy(w, f[k], n);
            w += n;
        }
    }
    *len = (size_t)(w - buf);
    return buf;
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
