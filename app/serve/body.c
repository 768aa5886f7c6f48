/* SPDX-License-Identifier: BSD-2-Clause */
/* body: dispatching a body to its parser by Content-Type, and the input sources of
 * validation. Only the detail of a failure goes to the log; the client gets a fixed text. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/serve/body.h"

static bool
type_is(const char *ct, const char *want)
{
    size_t n = strlen(want);
    return ct != NULL && strncasecmp(ct, want, n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int
refuse(struct mr_ctx *ctx, int status, const char *what, const struct mr_err *err)
{
    mr_resp_error(&ctx->resp, status, what);
    if (err != NULL)
        ctx->err_detail = mr_arena_strndup(ctx->arena, err->msg, strlen(err->msg));
    return status;
}

static const char *
spill_dir(void)
{
    const char *d = getenv("TMPDIR");
    return d != NULL && *d != '\0' ? d : "/tmp";
}

int
mr_body_parse(struct mr_ctx *ctx, const struct mr_cfg *cfg)
{
    const struct mr_req *r = &ctx->req;
    if (r->body == NULL || r->body_len == 0)
        return 0;
    const char *ct = mr_req_param(r, "CONTENT_TYPE");
    if (mr_form_is_urlencoded(ct)) {
        int rc = mr_form_parse(&ctx->form, ct, r->body, r->body_len, ctx->arena, cfg->max_params);
        if (rc == -E2BIG)
            return refuse(ctx, 413, "too many form fields", NULL);
        if (rc == -ENOMEM)
            return refuse(ctx, 500, "request too large", NULL);
        if (rc != 0)
            return refuse(ctx, 400, "malformed form body", NULL);
        return 0;
    }
    if (type_is(ct, "multipart/form-data")) {
        size_t max = (size_t)cfg->max_body_bytes;
        struct mr_multipart_limits lim = {
            .max_parts = MR_BODY_MAX_PARTS,
            .max_part_header_bytes = (size_t)cfg->max_header_bytes,
            .max_field_bytes = max,
            .max_file_bytes = max,
            .max_total_bytes = max,
            .spill_bytes = MR_BODY_SPILL_BYTES,
            .spill_dir = spill_dir(),
        };
        if (mr_multipart_parse(&ctx->multipart, ct, r->body, r->body_len, &lim, ctx->arena) == 0)
            return 0;
        int status = mr_multipart_http_status(&ctx->multipart);
        return refuse(ctx, status != 0 ? status : 400,
                      status == 413   ? "multipart body over its limits"
                      : status == 415 ? "unsupported multipart body"
                      : status == 500 ? "request too large"
                                      : "malformed multipart body",
                      &ctx->multipart.err);
    }
    if (type_is(ct, "application/json")) {
        struct mr_jsonbody_limits lim = {(size_t)cfg->max_body_bytes, MR_BODY_JSON_DEPTH};
        int rc = mr_jsonbody_parse(&ctx->json_body, r->body, r->body_len, &lim, ctx->arena);
        if (rc == -E2BIG)
            return refuse(ctx, 413, "JSON body too large", NULL);
        if (rc == -ENOMEM)
            return refuse(ctx, 500, "request too large", NULL);
        if (rc != 0)
            return refuse(ctx, 400, "malformed JSON body", &ctx->json_body.err);
    }
    return 0;
}

const struct mr_route_param *
mr_body_path_param(const struct mr_ctx *ctx, const char *name)
{
    for (int i = 0; i < ctx->match.n_params; i++)
        if (strcmp(ctx->match.params[i].name, name) == 0)
            return &ctx->match.params[i];
    return NULL;
}

const char *
mr_body_field(const struct mr_ctx *ctx, const char *name, size_t i)
{
    for (size_t k = 0; k < ctx->form.n; k++)
        if (strcmp(ctx->form.params[k].name, name) == 0 && i-- == 0)
            return ctx->form.params[k].value;
    for (size_t k = 0; k < ctx->multipart.n; k++) {
        const struct mr_multipart_part *p = &ctx->multipart.parts[k];
        if (p->filename == NULL && strcmp(p->name, name) == 0 && i-- == 0)
            return p->data;
    }
    return NULL;
}

/* A JSON scalar as the text validation reads: strings as they are, numbers and booleans
 * written out (into the arena). */
static const char *
json_text(struct mr_ctx *ctx, const char *name)
{
    const json_t *root = ctx->json_body.root;
    if (root == NULL)
        return NULL;
    struct mr_err err;
    const char *s;
    long long i;
    bool b;
    int rc = mr_jsonbody_get_string(root, name, &s, &err);
    if (rc == 0)
        return s;
    if (mr_jsonbody_get_bool(root, name, &b, &err) == 0)
        return b ? "true" : "false";
    if (mr_jsonbody_get_int(root, name, &i, &err) == 0) {
        char *t = mr_arena_alloc(ctx->arena, 24);
        if (t != NULL)
            (void)snprintf(t, 24, "%lld", i);
        return t;
    }
    /* Present with another type (a float, an object): a text validation refuses. */
    return rc == -EINVAL ? "" : NULL;
}

const char *
mr_body_cookie(struct mr_ctx *ctx, const char *name)
{
    if (!ctx->cookies_parsed) {
        ctx->cookies_parsed = true;
        if (mr_cookie_parse(&ctx->cookies, mr_req_header(&ctx->req, "Cookie"), 64, ctx->arena) != 0)
            return NULL;
    }
    return mr_cookie_get(&ctx->cookies, name);
}

const char *
mr_body_input(void *arg, enum mr_source from, const char *name, size_t *len)
{
    struct mr_ctx *ctx = arg;
    const char *v = NULL;
    switch (from) {
    case MR_FROM_PATH: {
        const struct mr_route_param *p = mr_body_path_param(ctx, name);
        if (p != NULL)
            *len = p->value_len;
        return p != NULL ? p->value : NULL;
    }
    case MR_FROM_QUERY:
        v = mr_req_query(&ctx->req, name);
        break;
    case MR_FROM_FORM:
        v = mr_body_field(ctx, name, 0);
        break;
    case MR_FROM_JSON:
        v = json_text(ctx, name);
        break;
    case MR_FROM_COOKIE:
        v = mr_body_cookie(ctx, name);
        break;
    }
    if (v != NULL)
        *len = strlen(v);
    return v;
}
