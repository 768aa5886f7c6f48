/* SPDX-License-Identifier: BSD-2-Clause */
/* notes: a small notes board written on millrace.h alone, what its files share. app.c holds
 * the statements, routes and entry point; page.c the cached list pages (codec.c their bytes);
 * site.c what every page shares; items.c the HTML pages and forms; accounts.c sign-up, sign-in and
 * sign-out; api.c the JSON API. */
#ifndef NOTES_H
#define NOTES_H

#include <millrace.h>
#include <stdbool.h>
#include <stddef.h>

/* The statements, by index in app.c's table. */
enum {
    ST_PAGE,        /* one list page: $1 offset */
    ST_NOTE,        /* one note with its author's name: $1 id */
    ST_NOTE_INSERT, /* $1 author, $2 title, $3 body; RETURNING id */
    ST_NOTE_UPDATE, /* $1 id, $2 author, $3 title, $4 body; RETURNING id */
    ST_USER_INSERT, /* $1 name, $2 password hash; RETURNING id */
    ST_USER_BY_NAME /* $1 name: id, password hash */
};

#define NOTES_PAGE_SIZE 10
/* Pages 1..NOTES_CACHED_PAGES are cached in Redis (every write masks them all); later pages
 * are read from the database each time, rarely enough. */
#define NOTES_CACHED_PAGES 5
#define NOTES_PAGE_TTL_MS 60000

/* One row of a list page; strings NUL-terminated, in the request's arena. */
struct notes_row {
    long long id;
    const char *author;
    const char *title;
    const char *created; /* ISO 8601, UTC */
};

struct notes_page {
    int n;
    bool has_next;
    struct notes_row rows[NOTES_PAGE_SIZE];
};

/* page.c: list page `page` (1-based), from Redis or the database. Returns 0 or a status. */
int notes_page_get(struct mr_ctx *ctx, long long page, struct notes_page *out);
/* Masks every cached page, after a write that committed (mr_cache_stale). */
int notes_pages_stale(struct mr_ctx *ctx);
/* codec.c: the cached form of a page (its bytes are described there). encode writes
 * notes_page_encoded_len(p) bytes into buf; decode reads them back, pointing into v, and
 * returns 0, or -EINVAL for bytes this code did not write (then read the page afresh). */
size_t notes_page_encoded_len(const struct notes_page *p);
void notes_page_encode(const struct notes_page *p, char *buf);
int notes_page_decode(const char *v, size_t len, struct notes_page *out);

/* One note, as ST_NOTE reads it; strings in the request's arena. */
struct notes_note {
    long long id, author_id;
    const char *author, *title, *body, *created, *updated;
    bool edited;
    const char *source; /* "primary" or "replica" */
};
/* items.c: note id; *found false when there is none. Returns 0 or a status. */
int notes_note_get(struct mr_ctx *ctx, long long id, struct notes_note *out, bool *found);
/* items.c: the note the path's {id} names. true with *out filled; false with the answer
 * made and what the handler returns in *rc (the data call's status, or 0 after the 404 page
 * with the message `missing`). */
bool notes_note_of_path(struct mr_ctx *ctx, const char *missing, struct notes_note *out, int *rc);
/* items.c: INSERT (id 0) or UPDATE note id by author uid, then masks the list pages. Sets
 * *new_id. Returns 0, 404 (no such note of theirs) or the data call's status. */
int notes_note_save(struct mr_ctx *ctx, long long uid, long long id, const char *title,
                    const char *body, long long *new_id);

/* The signed-in user from the session: their id (0 when signed out, or when Redis cannot be
 * read) and, when name is not NULL, their name. */
long long notes_user(struct mr_ctx *ctx, const char **name);
/* A view for a page of the site: title, the signed-in user and the CSRF token (header.html).
 * NULL past the arena's ceiling. */
struct mr_view *notes_view(struct mr_ctx *ctx, const char *title);
/* The database could not take a write: the 503 page (HTML). Returns 0. */
int notes_unavailable(struct mr_ctx *ctx, int status);

/* The handlers. */
int notes_list(struct mr_ctx *ctx);
int notes_show(struct mr_ctx *ctx);
int notes_new(struct mr_ctx *ctx);
int notes_create(struct mr_ctx *ctx);
int notes_edit(struct mr_ctx *ctx);
int notes_update(struct mr_ctx *ctx);
int notes_signup_form(struct mr_ctx *ctx);
int notes_signup(struct mr_ctx *ctx);
int notes_signin_form(struct mr_ctx *ctx);
int notes_signin(struct mr_ctx *ctx);
int notes_signout(struct mr_ctx *ctx);
int notes_api_list(struct mr_ctx *ctx);
int notes_api_show(struct mr_ctx *ctx);
int notes_api_create(struct mr_ctx *ctx);
int notes_api_session(struct mr_ctx *ctx);

#endif
