/* SPDX-License-Identifier: BSD-2-Clause */
/* token: read-your-writes over HTTP. A request that committed a write answers with its token,
 * the WAL position of the commit (db/lsn.c), as the X-Millrace-Token header and the
 * millrace_token cookie; a request that presents one (the header wins over the cookie) gets
 * its reads served only where that position has been replayed (db/route.c). The request's
 * own commits raise its floor too, so a read after a write in one handler sees it.
 *
 * A malformed header is the client's mistake and answers 400; a malformed cookie may be an
 * old or foreign one the user cannot easily clear, so it is ignored with a log line. */
#ifndef MR_TOKEN_H
#define MR_TOKEN_H

#include <stdint.h>

#include "app/serve/ctx.h"

#define MR_TOKEN_HEADER "X-Millrace-Token"
#define MR_TOKEN_COOKIE "millrace_token"

/* Before the handler: parses the X-Millrace-Token header when the request has one. Returns 0,
 * or 400 with the JSON error page made (the handler must not run). */
int mr_token_check_header(struct mr_ctx *ctx);
/* The floor of the request's next read: the token presented (the cookie is looked at on the
 * first call, when there was no header) or the request's own last commit, the higher. 0: none. */
uint64_t mr_token_floor(struct mr_ctx *ctx);
/* A data call committed at WAL position lsn (0: unknown, ignored). */
void mr_token_committed(struct mr_ctx *ctx, uint64_t lsn);
/* The request's token as text (in the arena), or NULL when nothing committed. */
const char *mr_token_text(struct mr_ctx *ctx);
/* After the handler: the header and the cookie (Max-Age token_max_age_ms, rounded up to whole
 * seconds), when the request committed; whatever the status, since the write stands. */
void mr_token_emit(struct mr_ctx *ctx);

#endif
