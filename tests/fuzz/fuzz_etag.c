/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_etag: mr_etag (millrace.h) against an arbitrary If-None-Match header. Input: the tag
 * up to the first NUL byte, then the header value (NULs cut it, as a CGI param is a C
 * string). Invariants: the answer is a 304 exactly when a reference scan of the list finds
 * the tag (quoted, optionally W/-prefixed, comma-separated; "*" matches anything; a
 * malformed element ends the scan without a match), only for a tag of printable ASCII
 * without '"'; a 304 has an empty body and the response carries ETag: "<tag>". */
#include <stdlib.h>
#include <string.h>

#include "app/include/millrace.h"
#include "app/serve/ctx.h"
#include "tests/fuzz/ref.h"

static bool
tag_ok(const char *t)
{
    for (; *t != '\0'; t++)
        if (*t == '"' || (unsigned char)*t < 0x21 || (unsigned char)*t > 0x7e)
            return false;
    return true;
}

static bool
ref_listed(const char *p, const char *tag)
{
    size_t n = strlen(tag);
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            return false;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"')
            return false;
        const char *end = strchr(p + 1, '"');
        if (end == NULL)
            return false;
        if ((size_t)(end - p - 1) == n && memcmp(p + 1, tag, n) == 0)
            return true;
        p = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const struct mr_req_limits lim = {64, 1 << 16, 1024, 16, 1 << 16, 1024};
    const unsigned char *nul = memchr(data, 0, size);
    size_t tag_len = nul != NULL ? (size_t)(nul - data) : size;
    char *tag = malloc(tag_len + 1);
    FUZZ_CHECK(tag != NULL);
    memcpy(tag, data, tag_len);
    tag[tag_len] = '\0';
    size_t rest = nul != NULL ? size - tag_len - 1 : 0;
    char *param = malloc(rest + sizeof("HTTP_IF_NONE_MATCH="));
    FUZZ_CHECK(param != NULL);
    memcpy(param, "HTTP_IF_NONE_MATCH=", 19);
    memcpy(param + 19, nul != NULL ? nul + 1 : data, rest);
    param[19 + rest] = '\0';
    char *envp[] = {"REQUEST_METHOD=GET", "DOCUMENT_URI=/", param, NULL};
    struct mr_arena a;
    mr_arena_init(&a, 256, 1 << 20);
    struct mr_ctx ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.arena = &a;
    struct mr_err err;
    if (mr_req_parse(&ctx.req, envp, &a, &lim, &err) == 0) {
        mr_resp_init(&ctx.resp, &a);
        mr_write(&ctx, "x", 1);
        const char *inm = ctx.req.envp[2] + 19;
        bool want = tag_ok(tag) && ref_listed(inm, tag);
        bool got = mr_etag(&ctx, tag);
        FUZZ_CHECK(got == want);
        FUZZ_CHECK(ctx.resp.status == (got ? 304 : 200));
        FUZZ_CHECK(ctx.resp.body.len == (got ? 0u : 1u));
        if (tag_ok(tag))
            FUZZ_CHECK(ctx.resp.headers.len == strlen(tag) + 10 &&
                       memcmp(ctx.resp.headers.data, "ETag: \"", 7) == 0);
        else
            FUZZ_CHECK(ctx.resp.headers.len == 0);
    }
    mr_arena_fini(&a);
    free(param);
    free(tag);
    return 0;
}
