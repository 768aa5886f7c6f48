/* SPDX-License-Identifier: BSD-2-Clause */
/* notes: the application's statements, inputs, routes and entry point. Every statement takes
 * its values as parameters; none is ever built from text. Times are formatted by the server
 * (ISO 8601 in UTC), so a cached page and a fresh one read the same. */
#include <errno.h>
#include <sodium.h>

#include "notes.h"

static const struct mr_statement statements[] = {
    [ST_PAGE] = {"notes_page",
                 "SELECT n.id, u.name, n.title,"
                 " to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                 " FROM notes n JOIN users u ON u.id = n.author"
                 " ORDER BY n.id DESC LIMIT 11 OFFSET $1::int",
                 false},
    [ST_NOTE] = {"notes_get",
                 "SELECT n.id, n.author, u.name, n.title, n.body,"
                 " to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                 " to_char(n.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                 " n.updated_at > n.created_at"
                 " FROM notes n JOIN users u ON u.id = n.author WHERE n.id = $1::bigint",
                 false},
    [ST_NOTE_INSERT] = {"notes_insert",
                        "INSERT INTO notes (author, title, body) VALUES ($1::bigint, $2, $3)"
                        " RETURNING id",
                        true},
    [ST_NOTE_UPDATE] = {"notes_update",
                        "UPDATE notes SET title = $3, body = $4, updated_at = now()"
                        " WHERE id = $1::bigint AND author = $2::bigint RETURNING id",
                        true},
    [ST_USER_INSERT] = {"users_insert",
                        "INSERT INTO users (name, password_hash) VALUES ($1, $2) RETURNING id",
                        true},
    [ST_USER_BY_NAME] = {"users_by_name", "SELECT id, password_hash FROM users WHERE name = $1",
                         false},
};

/* A title has a visible character and no control characters; a body is any text. */
#define TITLE_RE "[^[:cntrl:]]*[^[:space:][:cntrl:]][^[:cntrl:]]*"

static const struct mr_input page_inputs[] = {
    MR_IN_INT("page", MR_FROM_QUERY, 1, 100000, MR_DEFAULT("1")),
    MR_IN_END,
};
static const struct mr_input form_inputs[] = {
    MR_IN_STR("title", MR_FROM_FORM, 1, 200, TITLE_RE, MR_REQUIRED),
    MR_IN_STR("body", MR_FROM_FORM, 1, 20000, NULL, MR_REQUIRED),
    MR_IN_END,
};
static const struct mr_input json_inputs[] = {
    MR_IN_STR("title", MR_FROM_JSON, 1, 200, TITLE_RE, MR_REQUIRED),
    MR_IN_STR("body", MR_FROM_JSON, 1, 20000, NULL, MR_REQUIRED),
    MR_IN_END,
};
static const struct mr_input signup_inputs[] = {
    MR_IN_STR("name", MR_FROM_FORM, 3, 32, "[a-z0-9_]+", MR_REQUIRED),
    MR_IN_STR("password", MR_FROM_FORM, 8, 128, NULL, MR_REQUIRED),
    MR_IN_END,
};
static const struct mr_input signin_inputs[] = {
    MR_IN_STR("name", MR_FROM_FORM, 1, 32, NULL, MR_REQUIRED),
    MR_IN_STR("password", MR_FROM_FORM, 1, 128, NULL, MR_REQUIRED),
    MR_IN_END,
};

#define HTML MR_ROUTE_HTML
#define FORM (MR_ROUTE_HTML | MR_ROUTE_CSRF | MR_ROUTE_INPUT_ERRORS)

static const struct mr_route routes[] = {
    MR_ROUTE("GET", "/", notes_list, .inputs = page_inputs, .flags = HTML),
    MR_ROUTE("GET", "/items", notes_list, .inputs = page_inputs, .flags = HTML),
    MR_ROUTE("GET", "/items/new", notes_new, .flags = HTML),
    MR_ROUTE("POST", "/items", notes_create, .inputs = form_inputs, .flags = FORM),
    MR_ROUTE("GET", "/items/{id:int}", notes_show, .flags = HTML),
    MR_ROUTE("GET", "/items/{id:int}/edit", notes_edit, .flags = HTML),
    MR_ROUTE("POST", "/items/{id:int}", notes_update, .inputs = form_inputs, .flags = FORM),
    MR_ROUTE("GET", "/signup", notes_signup_form, .flags = HTML),
    MR_ROUTE("POST", "/signup", notes_signup, .inputs = signup_inputs, .flags = FORM),
    MR_ROUTE("GET", "/signin", notes_signin_form, .flags = HTML),
    MR_ROUTE("POST", "/signin", notes_signin, .inputs = signin_inputs, .flags = FORM),
    MR_ROUTE("POST", "/signout", notes_signout, .flags = HTML | MR_ROUTE_CSRF),
    MR_ROUTE("GET", "/api/items", notes_api_list, .inputs = page_inputs),
    MR_ROUTE("GET", "/api/items/{id:int}", notes_api_show),
    MR_ROUTE("POST", "/api/items", notes_api_create, .inputs = json_inputs,
             .flags = MR_ROUTE_CSRF | MR_ROUTE_INPUT_ERRORS),
    MR_ROUTE("GET", "/api/session", notes_api_session),
};

/* libsodium picks its implementations once per process; sodium_init is safe to repeat. */
static int
notes_init(const struct mr_worker_info *w)
{
    (void)w;
    if (sodium_init() < 0) {
        mr_logf(NULL, MR_ERROR, "notes_init_failed", "err=\"sodium_init failed\"");
        return -EIO;
    }
    return 0;
}

/* templates/, compiled in by the Makefile (scripts/embed.py --template-rows). */
static const struct mr_template templates[] = {
#include <notes_templates.inc>
};

MR_APP(.name = "notes", .version = "1.0.0", .routes = routes,
       .n_routes = sizeof(routes) / sizeof(routes[0]), .init = notes_init, .templates = templates,
       .n_templates = sizeof(templates) / sizeof(templates[0]), .statements = statements,
       .n_statements = sizeof(statements) / sizeof(statements[0]));
