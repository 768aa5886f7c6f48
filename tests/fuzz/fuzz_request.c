/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_request: mr_req_parse on FastCGI params built from the input: the bytes are split on
 * NUL into strings, each one "NAME=value" param in a heap block of exactly its size, so
 * ASan sees a read past any of them. The limits are fixed and small so that every refusal
 * (400, 414, 431, 500) is reachable. Invariants: the status is 0 or one of those, with a
 * message; on 0 the request is consistent (path within the param it came from, at most
 * max_query_params valid UTF-8 params, is_head matches the method), and the lookups
 * (mr_req_query, mr_req_param, mr_req_header) are safe on names taken from the input. */
#include <string.h>

#include "app/lib/arena.h"
#include "app/serve/request.h"
#include "tests/fuzz/ref.h"

static const struct mr_req_limits limits = {
    .max_params = 16,
    .max_params_bytes = 1024,
    .max_query_bytes = 256,
    .max_query_params = 8,
    .max_header_bytes = 128,
    .max_body_bytes = 1024,
};

static struct mr_arena arena;
static bool arena_ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!arena_ready) {
        mr_arena_init(&arena, 256, 4096); /* 8 params of up to 256 bytes fit; more may not */
        arena_ready = true;
    }
    size_t n = 1;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\0';
    char **envp = calloc(n + 1, sizeof(*envp));
    FUZZ_CHECK(envp != NULL);
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\0')
            continue;
        envp[k] = malloc(i - start + 1);
        FUZZ_CHECK(envp[k] != NULL);
        memcpy(envp[k], data + start, i - start);
        envp[k][i - start] = '\0';
        k++;
        start = i + 1;
    }
    FUZZ_CHECK(k == n);

    struct mr_req r;
    struct mr_err err;
    memset(&err, 0, sizeof(err));
    int status = mr_req_parse(&r, envp, &arena, &limits, &err);
    FUZZ_CHECK(status == 0 || status == 400 || status == 414 || status == 431 || status == 500);
    if (status != 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        FUZZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
    } else {
        /* libfcgi's own FCGI_ROLE entry, always first, is not the client's and not counted. */
        size_t own = n > 0 && strncmp(envp[0], "FCGI_ROLE=", 10) == 0;
        FUZZ_CHECK(n - own <= (size_t)limits.max_params);
        FUZZ_CHECK(r.method != NULL && r.query_string != NULL && r.request_id != NULL);
        FUZZ_CHECK(r.path != NULL && r.path_len <= strlen(r.path));
        FUZZ_CHECK(r.is_head == (strcmp(r.method, "HEAD") == 0));
        FUZZ_CHECK(strlen(r.query_string) <= (size_t)limits.max_query_bytes);
        FUZZ_CHECK(r.n_query <= (size_t)limits.max_query_params);
        FUZZ_CHECK(r.content_length >= -1);
        for (size_t i = 0; i < r.n_query; i++) {
            const struct mr_param *p = &r.query[i];
            FUZZ_CHECK(p->name[p->name_len] == '\0' && p->value[p->value_len] == '\0');
            FUZZ_CHECK(mr_utf8_valid(p->name, p->name_len));
            FUZZ_CHECK(mr_utf8_valid(p->value, p->value_len));
            FUZZ_CHECK(mr_req_query(&r, p->name) != NULL);
            (void)mr_req_param(&r, p->value);
            (void)mr_req_header(&r, p->value);
        }
        for (size_t i = 0; i < n; i++) { /* every param's own name finds a param */
            const char *eq = strchr(envp[i], '=');
            if (eq == NULL || eq == envp[i])
                continue;
            char name[64];
            size_t len = (size_t)(eq - envp[i]);
            if (len >= sizeof(name))
                continue;
            memcpy(name, envp[i], len);
            name[len] = '\0';
            FUZZ_CHECK(mr_req_param(&r, name) != NULL);
            if (len > 5 && memcmp(name, "HTTP_", 5) == 0 &&
                strspn(name + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == len - 5)
                FUZZ_CHECK(mr_req_header(&r, name + 5) != NULL);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(envp[i]);
    free(envp);
    mr_arena_reset(&arena);
    return 0;
}
