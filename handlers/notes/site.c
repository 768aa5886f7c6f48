/* SPDX-License-Identifier: BSD-2-Clause */
/* site: what every HTML page shares: the signed-in user (from the session), the view that
 * header.html reads (title, user, CSRF token) and the page for a write the database could not
 * take. */
#include <stdlib.h>
#include <string.h>

#include "notes.h"

long long
notes_user(struct mr_ctx *ctx, const char **name)
{
    const char *uid = mr_session_get(ctx, "uid"); /* NULL too when Redis cannot be read */
    const char *who = mr_session_get(ctx, "name");
    if (uid == NULL || who == NULL)
        return 0;
    char *end;
    long long id = strtoll(uid, &end, 10);
    if (*end != '\0' || id <= 0)
        return 0;
    if (name != NULL)
        *name = who;
    return id;
}

struct mr_view *
notes_view(struct mr_ctx *ctx, const char *title)
{
    struct mr_view *v = mr_view_object(ctx);
    const char *csrf = mr_csrf_token(ctx);
    if (mr_view_set_string(v, "title", title, strlen(title)) != 0 || csrf == NULL ||
        mr_view_set_string(v, "csrf", csrf, strlen(csrf)) != 0)
        return NULL;
    const char *name;
    if (notes_user(ctx, &name) != 0) {
        struct mr_view *u = mr_view_set_object(v, "user");
        if (mr_view_set_string(u, "name", name, strlen(name)) != 0)
            return NULL;
    }
    return v;
}

int
notes_unavailable(struct mr_ctx *ctx, int status)
{
    static const char busy[] = "The notes board cannot save anything right now: its database is "
                               "unavailable.";
    static const char slow[] = "The notes board's database did not answer in time, so nothing "
                               "was saved.";
    struct mr_view *v = notes_view(ctx, "Cannot save right now");
    const char *msg = status == 504 ? slow : busy;
    if (v == NULL || mr_view_set_string(v, "message", msg, strlen(msg)) != 0)
        return 500;
    mr_set_status(ctx, status);
    (void)mr_add_header(ctx, "Retry-After", "30");
    (void)mr_cache_control(ctx, "no-store");
    return mr_render(ctx, "unavailable", v);
}
