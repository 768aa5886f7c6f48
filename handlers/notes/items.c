/* SPDX-License-Identifier: BSD-2-Clause */
/* items: the HTML pages of the board: the list, one note, and the forms that create and edit
 * one. A form that fails validation is shown again with the user's text and each field's
 * reason (422: the route is MR_ROUTE_INPUT_ERRORS); a saved note answers 303 to its page,
 * whose read carries the write's token, so the author sees it even while the replica lags. */
#include <stdio.h>
#include <string.h>

#include "notes.h"

static int
set_str(struct mr_view *v, const char *key, const char *s)
{
    return s == NULL ? 0 : mr_view_set_string(v, key, s, strlen(s));
}

int
notes_note_get(struct mr_ctx *ctx, long long id, struct notes_note *out, bool *found)
{
    char ids[24];
    (void)snprintf(ids, sizeof(ids), "%lld", id);
    const char *params[1] = {ids};
    struct mr_rows *r;
    int rc = mr_sql_read(ctx, ST_NOTE, params, 1, &r);
    *found = rc == 0 && mr_rows_count(r) == 1;
    if (!*found)
        return rc;
    *out = (struct notes_note){
        .id = mr_rows_int(r, 0, 0),
        .author_id = mr_rows_int(r, 0, 1),
        .author = mr_rows_text(r, 0, 2, NULL),
        .title = mr_rows_text(r, 0, 3, NULL),
        .body = mr_rows_text(r, 0, 4, NULL),
        .created = mr_rows_text(r, 0, 5, NULL),
        .updated = mr_rows_text(r, 0, 6, NULL),
        .edited = mr_rows_bool(r, 0, 7),
        .source = mr_rows_source(r),
    };
    return out->body != NULL && out->updated != NULL ? 0 : 500;
}

bool
notes_note_of_path(struct mr_ctx *ctx, const char *missing, struct notes_note *out, int *rc)
{
    bool found;
    *rc = notes_note_get(ctx, mr_path_param_int(ctx, "id"), out, &found);
    if (*rc == 0 && !found)
        *rc = mr_error(ctx, 404, missing);
    return *rc == 0 && found;
}

int
notes_note_save(struct mr_ctx *ctx, long long uid, long long id, const char *title,
                const char *body, long long *new_id)
{
    char uids[24], ids[24];
    (void)snprintf(uids, sizeof(uids), "%lld", uid);
    (void)snprintf(ids, sizeof(ids), "%lld", id);
    const char *ins[3] = {uids, title, body};
    const char *upd[4] = {ids, uids, title, body};
    struct mr_rows *r;
    int rc = id == 0 ? mr_sql_write(ctx, ST_NOTE_INSERT, ins, 3, &r)
                     : mr_sql_write(ctx, ST_NOTE_UPDATE, upd, 4, &r);
    if (rc != 0)
        return rc;
    if (mr_rows_count(r) != 1)
        return 404; /* deleted, or not theirs, since it was read */
    *new_id = mr_rows_int(r, 0, 0);
    return notes_pages_stale(ctx);
}

int
notes_list(struct mr_ctx *ctx)
{
    long long page = mr_input_int(ctx, "page");
    struct notes_page p;
    int rc = notes_page_get(ctx, page, &p);
    if (rc != 0)
        return rc;
    struct mr_view *v = notes_view(ctx, page == 1 ? "Notes" : "Older notes");
    struct mr_view *list = mr_view_set_list(v, "notes");
    if (list == NULL || mr_view_set_int(v, "page", page) != 0)
        return 500;
    if ((page > 1 && mr_view_set_int(v, "prev", page - 1) != 0) ||
        (p.has_next && mr_view_set_int(v, "next", page + 1) != 0))
        return 500;
    for (int i = 0; i < p.n; i++) {
        struct mr_view *o = mr_view_push_object(list);
        if (mr_view_set_int(o, "id", p.rows[i].id) != 0 ||
            set_str(o, "author", p.rows[i].author) != 0 ||
            set_str(o, "title", p.rows[i].title) != 0 ||
            set_str(o, "created", p.rows[i].created) != 0)
            return 500;
    }
    return mr_render(ctx, "list", v);
}

int
notes_show(struct mr_ctx *ctx)
{
    struct notes_note n;
    int rc;
    if (!notes_note_of_path(ctx, "There is no such note.", &n, &rc))
        return rc;
    struct mr_view *v = notes_view(ctx, n.title);
    if (v == NULL || mr_view_set_int(v, "id", n.id) != 0 || set_str(v, "author", n.author) != 0 ||
        set_str(v, "body", n.body) != 0 || set_str(v, "created", n.created) != 0 ||
        set_str(v, "updated", n.updated) != 0 || mr_view_set_bool(v, "edited", n.edited) != 0 ||
        mr_view_set_bool(v, "mine", notes_user(ctx, NULL) == n.author_id) != 0)
        return 500;
    (void)mr_add_header(ctx, "X-Notes-Source", n.source); /* where it was read, for the curious */
    return mr_render(ctx, "item", v);
}

/* The form, empty, filled from a note, or shown again with the user's input and reasons. */
static int
form(struct mr_ctx *ctx, const char *heading, const char *action, const char *title,
     const char *body, bool with_errors)
{
    struct mr_view *v = notes_view(ctx, heading);
    if (v == NULL || set_str(v, "action", action) != 0 || set_str(v, "note_title", title) != 0 ||
        set_str(v, "note_body", body) != 0)
        return 500;
    if (with_errors) {
        if (mr_view_set_bool(v, "errors", true) != 0 ||
            set_str(v, "title_error", mr_input_error(ctx, "title")) != 0 ||
            set_str(v, "body_error", mr_input_error(ctx, "body")) != 0)
            return 500;
        mr_set_status(ctx, 422);
    }
    return mr_render(ctx, "form", v);
}

static int
to_signin(struct mr_ctx *ctx)
{
    return mr_redirect(ctx, 303, "/signin") == 0 ? 0 : 500;
}

int
notes_new(struct mr_ctx *ctx)
{
    if (notes_user(ctx, NULL) == 0)
        return to_signin(ctx);
    return form(ctx, "New note", "/items", NULL, NULL, false);
}

/* The author's note id for its edit form and update; 0 with the answer made otherwise. */
static long long
own_note(struct mr_ctx *ctx, long long uid, struct notes_note *n, int *rc)
{
    if (!notes_note_of_path(ctx, "There is no such note.", n, rc))
        return 0;
    if (n->author_id != uid) {
        *rc = mr_error(ctx, 403, "Only its author can edit this note.");
        return 0;
    }
    return n->id;
}

int
notes_edit(struct mr_ctx *ctx)
{
    long long uid = notes_user(ctx, NULL);
    if (uid == 0)
        return to_signin(ctx);
    struct notes_note n;
    int rc;
    if (own_note(ctx, uid, &n, &rc) == 0)
        return rc;
    char action[40];
    (void)snprintf(action, sizeof(action), "/items/%lld", n.id);
    return form(ctx, "Edit note", action, n.title, n.body, false);
}

/* A write's outcome: 303 to the note, the 503 page, or the status. */
static int
saved(struct mr_ctx *ctx, int rc, long long id)
{
    if (rc == 503 || rc == 504)
        return notes_unavailable(ctx, rc);
    if (rc == 404)
        return mr_error(ctx, 404, "There is no such note.");
    if (rc != 0)
        return rc;
    char *to = mr_alloc(ctx, 40);
    if (to == NULL)
        return 500;
    (void)snprintf(to, 40, "/items/%lld", id);
    return mr_redirect(ctx, 303, to) == 0 ? 0 : 500;
}

int
notes_create(struct mr_ctx *ctx)
{
    long long uid = notes_user(ctx, NULL), id = 0;
    if (uid == 0)
        return to_signin(ctx);
    if (mr_input_errors(ctx) > 0)
        return form(ctx, "New note", "/items", mr_field(ctx, "title"), mr_field(ctx, "body"), true);
    int rc = notes_note_save(ctx, uid, 0, mr_input_str(ctx, "title", NULL),
                             mr_input_str(ctx, "body", NULL), &id);
    return saved(ctx, rc, id);
}

int
notes_update(struct mr_ctx *ctx)
{
    long long uid = notes_user(ctx, NULL), id = 0;
    if (uid == 0)
        return to_signin(ctx);
    struct notes_note n;
    int rc;
    if (own_note(ctx, uid, &n, &rc) == 0)
        return rc;
    if (mr_input_errors(ctx) > 0) {
        char action[40];
        (void)snprintf(action, sizeof(action), "/items/%lld", n.id);
        return form(ctx, "Edit note", action, mr_field(ctx, "title"), mr_field(ctx, "body"), true);
    }
    rc = notes_note_save(ctx, uid, n.id, mr_input_str(ctx, "title", NULL),
                         mr_input_str(ctx, "body", NULL), &id);
    return saved(ctx, rc, id);
}
