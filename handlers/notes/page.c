/* SPDX-License-Identifier: BSD-2-Clause */
/* page: the list, newest first, NOTES_PAGE_SIZE notes a page, read through the cache. Pages
 * 1..NOTES_CACHED_PAGES live in Redis under notes:page:N; every write masks them all
 * (notes_pages_stale), since a new note shifts every page and an edited title shows on one of
 * them. The masking (mr_cache_stale) keeps a replica that has not replayed the write from
 * putting the old page back, and the writer's token sends their own reads to the primary, so
 * the author sees the new list at once. A Redis outage costs nothing but the cache: every page
 * is then read from the database. */
#include <stdio.h>
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
    size_t len = notes_page_encoded_len(f->page_out);
    char *buf = mr_alloc(ctx, len);
    if (buf == NULL)
        return 500;
    notes_page_encode(f->page_out, buf);
    misses[0]->value = buf;
    misses[0]->value_len = len;
    return 0;
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
