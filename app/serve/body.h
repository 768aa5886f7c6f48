/* SPDX-License-Identifier: BSD-2-Clause */
/* body: the request body read by its Content-Type before the handler runs: urlencoded and
 * multipart/form-data fields (and files), JSON documents; anything else stays raw. The
 * limits come from the config (max_body_bytes bounds everything, max_params the fields). */
#ifndef MR_BODY_H
#define MR_BODY_H

#include "app/config/config.h"
#include "app/serve/ctx.h"

#define MR_BODY_MAX_PARTS 64
#define MR_BODY_SPILL_BYTES (64 * 1024) /* a larger file goes to an unlinked temp file */
#define MR_BODY_JSON_DEPTH 32

/* Parses ctx->req's body into ctx->form, ctx->multipart or ctx->json_body. Returns 0, or
 * the HTTP status it answered with (400 malformed, 413 over a limit, 415 a multipart type
 * without a boundary, 500 no memory), the response made and the reason in err_detail. */
int mr_body_parse(struct mr_ctx *ctx, const struct mr_cfg *cfg);

/* The value of a declared input from its source (validate.h's get function; arg is the
 * ctx): path parameters, the query, form fields, JSON scalars (as their text), cookies. */
const char *mr_body_input(void *arg, enum mr_source from, const char *name, size_t *len);
/* The path parameter `name` of the matched route, or NULL. */
const struct mr_route_param *mr_body_path_param(const struct mr_ctx *ctx, const char *name);
/* The i-th value of form field `name` (urlencoded, or a multipart part without a filename),
 * or NULL. */
const char *mr_body_field(const struct mr_ctx *ctx, const char *name, size_t i);
/* The request's cookie `name`, parsing the Cookie header on first use; NULL when absent. */
const char *mr_body_cookie(struct mr_ctx *ctx, const char *name);

#endif
