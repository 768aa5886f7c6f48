/* SPDX-License-Identifier: BSD-2-Clause */
/* accounts: sign-up, sign-in and sign-out, by server-side session. Passwords are hashed with
 * libsodium's crypto_pwhash_str (argon2id at the INTERACTIVE limits: 64 MiB and about a tenth
 * of a second per hash, the salt and parameters inside the stored string) and checked with
 * crypto_pwhash_str_verify. Signing in regenerates the session id, so an id known before
 * (planted by an attacker, say) is worthless after. */
#include <sodium.h>
#include <string.h>

#include "notes.h"

/* The sign-up or sign-in form, shown again (422) with the name and the reasons when error or
 * any field's reason is set; the password is never sent back. */
static int
account_form(struct mr_ctx *ctx, const char *heading, const char *action, const char *error,
             const char *name_error)
{
    struct mr_view *v = notes_view(ctx, heading);
    const char *name = mr_field(ctx, "name");
    const char *pw_error = mr_input_error(ctx, "password");
    name_error = name_error != NULL ? name_error : mr_input_error(ctx, "name");
    if (v == NULL || mr_view_set_string(v, "action", action, strlen(action)) != 0 ||
        (name != NULL && mr_view_set_string(v, "account_name", name, strlen(name)) != 0) ||
        (error != NULL && mr_view_set_string(v, "error", error, strlen(error)) != 0) ||
        (name_error != NULL &&
         mr_view_set_string(v, "name_error", name_error, strlen(name_error)) != 0) ||
        (pw_error != NULL &&
         mr_view_set_string(v, "password_error", pw_error, strlen(pw_error)) != 0))
        return 500;
    if (error != NULL || name_error != NULL || pw_error != NULL)
        mr_set_status(ctx, 422);
    return mr_render(ctx, "account", v);
}

/* Starts the signed-in session: a new id, then who it is. */
static int
sign_in_as(struct mr_ctx *ctx, const char *uid, const char *name)
{
    if (uid == NULL)
        return 500; /* RETURNING id gave no text: only the arena's ceiling gets here */
    int rc = mr_session_regenerate(ctx);
    if (rc == 0)
        rc = mr_session_set(ctx, "uid", uid);
    if (rc == 0)
        rc = mr_session_set(ctx, "name", name);
    if (rc != 0)
        return rc;
    return mr_redirect(ctx, 303, "/") == 0 ? 0 : 500;
}

int
notes_signup_form(struct mr_ctx *ctx)
{
    return account_form(ctx, "Sign up", "/signup", NULL, NULL);
}

int
notes_signup(struct mr_ctx *ctx)
{
    if (mr_input_errors(ctx) > 0)
        return account_form(ctx, "Sign up", "/signup", NULL, NULL);
    const char *name = mr_input_str(ctx, "name", NULL);
    size_t pw_len;
    const char *pw = mr_input_str(ctx, "password", &pw_len);
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, pw, pw_len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        mr_logf(ctx, MR_ERROR, "notes_hash_failed", "err=\"crypto_pwhash_str: out of memory\"");
        return 500;
    }
    const char *params[2] = {name, hash};
    struct mr_rows *r;
    int rc = mr_sql_write(ctx, ST_USER_INSERT, params, 2, &r);
    if (rc == 409)
        return account_form(ctx, "Sign up", "/signup", NULL, "is taken: choose another");
    if (rc == 503 || rc == 504)
        return notes_unavailable(ctx, rc);
    if (rc != 0)
        return rc;
    const char *uid = mr_rows_text(r, 0, 0, NULL);
    return uid != NULL ? sign_in_as(ctx, uid, name) : 500;
}

int
notes_signin_form(struct mr_ctx *ctx)
{
    return account_form(ctx, "Sign in", "/signin", NULL, NULL);
}

int
notes_signin(struct mr_ctx *ctx)
{
    static const char wrong[] = "That name and password do not match an account.";
    if (mr_input_errors(ctx) > 0)
        return account_form(ctx, "Sign in", "/signin", NULL, NULL);
    const char *name = mr_input_str(ctx, "name", NULL);
    size_t pw_len;
    const char *pw = mr_input_str(ctx, "password", &pw_len);
    const char *params[1] = {name};
    struct mr_rows *r;
    int rc = mr_sql_read(ctx, ST_USER_BY_NAME, params, 1, &r);
    if (rc != 0)
        return rc;
    struct mr_rows *on_primary;
    /* A replica may not have replayed a sign-up of a moment ago (made in another browser,
     * without its token): a name it does not know is asked of the primary, when it answers. */
    if (mr_rows_count(r) != 1 && mr_sql_write(ctx, ST_USER_BY_NAME, params, 1, &on_primary) == 0)
        r = on_primary;
    if (mr_rows_count(r) != 1) {
        /* Costs what a check costs, so that the time does not tell which names exist. */
        char hash[crypto_pwhash_STRBYTES];
        if (crypto_pwhash_str(hash, pw, pw_len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            return 500;
        return account_form(ctx, "Sign in", "/signin", wrong, NULL);
    }
    const char *hash = mr_rows_text(r, 0, 1, NULL);
    if (hash == NULL || crypto_pwhash_str_verify(hash, pw, pw_len) != 0)
        return account_form(ctx, "Sign in", "/signin", wrong, NULL);
    return sign_in_as(ctx, mr_rows_text(r, 0, 0, NULL), name);
}

int
notes_signout(struct mr_ctx *ctx)
{
    int rc = mr_session_destroy(ctx);
    if (rc != 0)
        return rc;
    return mr_redirect(ctx, 303, "/") == 0 ? 0 : 500;
}
