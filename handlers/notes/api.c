/* SPDX-License-Identifier: BSD-2-Clause */
/* api: the board's data as JSON. The same pages, cache and statements as the HTML; a POST
 * needs the signed-in session and its CSRF token in X-CSRF-Token (GET /api/session gives it),
 * answers 201 with the note, or 422 naming each invalid field. */
#include <stdio.h>
#include <string.h>

#include "notes.h"

static void
note_json(struct mr_jw *j, const struct notes_note *n)
{
    mr_jw_object(j);
    mr_jw_key(j, "id");
    mr_jw_int(j, n->id);
    mr_jw_key(j, "author");
    mr_jw_string(j, n->author);
    mr_jw_key(j, "title");
    mr_jw_string(j, n->title);
    mr_jw_key(j, "body");
    mr_jw_string(j, n->body);
    mr_jw_key(j, "created_at");
    mr_jw_string(j, n->created);
    mr_jw_key(j, "updated_at");
    mr_jw_string(j, n->updated);
    mr_jw_object_end(j);
}

int
notes_api_list(struct mr_ctx *ctx)
{
    long long page = mr_input_int(ctx, "page");
    struct notes_page p;
    int rc = notes_page_get(ctx, page, &p);
    if (rc != 0)
        return rc;
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "page");
    mr_jw_int(j, page);
    mr_jw_key(j, "page_size");
    mr_jw_int(j, NOTES_PAGE_SIZE);
    mr_jw_key(j, "next");
    if (p.has_next)
        mr_jw_int(j, page + 1);
    else
        mr_jw_null(j);
    mr_jw_key(j, "items");
    mr_jw_array(j);
    for (int i = 0; i < p.n; i++) {
        mr_jw_object(j);
        mr_jw_key(j, "id");
        mr_jw_int(j, p.rows[i].id);
        mr_jw_key(j, "author");
        mr_jw_string(j, p.rows[i].author);
        mr_jw_key(j, "title");
        mr_jw_string(j, p.rows[i].title);
        mr_jw_key(j, "created_at");
        mr_jw_string(j, p.rows[i].created);
        mr_jw_object_end(j);
    }
    mr_jw_array_end(j);
    mr_jw_object_end(j);
    return 0;
}

int
notes_api_show(struct mr_ctx *ctx)
{
    struct notes_note n;
    int rc;
    if (!notes_note_of_path(ctx, "no such note", &n, &rc))
        return rc;
    note_json(mr_json_begin(ctx), &n);
    return 0;
}

/* 422: {"error":"invalid input","fields":[{"name":"title","in":"json","reason":"..."}]}. */
static int
invalid(struct mr_ctx *ctx)
{
    static const char *const names[] = {"title", "body"};
    mr_set_status(ctx, 422);
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "error");
    mr_jw_string(j, "invalid input");
    mr_jw_key(j, "fields");
    mr_jw_array(j);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *why = mr_input_error(ctx, names[i]);
        if (why == NULL)
            continue;
        mr_jw_object(j);
        mr_jw_key(j, "name");
        mr_jw_string(j, names[i]);
        mr_jw_key(j, "in");
        mr_jw_string(j, "json");
        mr_jw_key(j, "reason");
        mr_jw_string(j, why);
        mr_jw_object_end(j);
    }
    mr_jw_array_end(j);
    mr_jw_object_end(j);
    return 0;
}

int
notes_api_create(struct mr_ctx *ctx)
{
    long long uid = notes_user(ctx, NULL), id = 0;
    if (uid == 0)
        return mr_error(ctx, 401, "sign in first");
    if (mr_input_errors(ctx) > 0)
        return invalid(ctx);
    int rc = notes_note_save(ctx, uid, 0, mr_input_str(ctx, "title", NULL),
                             mr_input_str(ctx, "body", NULL), &id);
    if (rc == 503 || rc == 504)
        return mr_error(ctx, rc, "the database cannot take writes now: nothing was saved");
    if (rc != 0)
        return rc;
    struct notes_note n;
    bool found;
    rc = notes_note_get(ctx, id, &n, &found); /* after the commit: the primary, or caught up */
    if (rc != 0)
        return rc;
    if (!found)
        return 500;
    char *where = mr_alloc(ctx, 40);
    if (where == NULL)
        return 500;
    (void)snprintf(where, 40, "/api/items/%lld", id);
    (void)mr_add_header(ctx, "Location", where);
    mr_set_status(ctx, 201);
    note_json(mr_json_begin(ctx), &n);
    return 0;
}

/* Who is signed in, and the CSRF token a script sends with its POSTs. */
int
notes_api_session(struct mr_ctx *ctx)
{
    const char *name = NULL;
    long long uid = notes_user(ctx, &name);
    const char *csrf = mr_csrf_token(ctx);
    if (csrf == NULL)
        return 500;
    (void)mr_cache_control(ctx, "no-store");
    struct mr_jw *j = mr_json_begin(ctx);
    mr_jw_object(j);
    mr_jw_key(j, "user");
    if (uid != 0)
        mr_jw_string(j, name);
    else
        mr_jw_null(j);
    mr_jw_key(j, "csrf_token");
    mr_jw_string(j, csrf);
    mr_jw_object_end(j);
    return 0;
}
