/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_form: mr_form_parse and its lookups on arbitrary bytes. Input: a byte choosing
 * max_params (1..32), the Content-Type up to the first '\n', then the body. Invariants: the
 * type check agrees with a reference (case-insensitive media type, then end, blanks or
 * ';'); a form parses exactly as mr_query_parse parses the same bytes; mr_form_get is the
 * first value of a name and mr_form_values counts and orders every value of it. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "app/lib/arena.h"
#include "app/serve/form.h"
#include "tests/fuzz/ref.h"

static struct mr_arena arena;
static bool arena_ready;

static bool
ref_is_urlencoded(const char *ct)
{
    static const char type[] = "application/x-www-form-urlencoded";
    size_t i = strspn(ct, " \t");
    if (strncasecmp(ct + i, type, sizeof(type) - 1) != 0)
        return false;
    i += sizeof(type) - 1;
    i += strspn(ct + i, " \t");
    return ct[i] == '\0' || ct[i] == ';';
}

static void
check_lookups(const struct mr_form *f)
{
    const char *vals[4];
    for (size_t i = 0; i < f->n; i++) {
        const char *name = f->params[i].name;
        size_t want = 0, first = f->n;
        for (size_t k = 0; k < f->n; k++)
            if (strcmp(f->params[k].name, name) == 0) {
                if (first == f->n)
                    first = k;
                want++;
            }
        FUZZ_CHECK(mr_form_get(f, name) == f->params[first].value);
        FUZZ_CHECK(mr_form_values(f, name, vals, 4) == want);
        for (size_t k = first, j = 0; k < f->n && j < 4; k++)
            if (strcmp(f->params[k].name, name) == 0)
                FUZZ_CHECK(vals[j++] == f->params[k].value);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!arena_ready) {
        mr_arena_init(&arena, 64, 1 << 20);
        arena_ready = true;
    }
    int max_params = 1 + data[0] % 32;
    const uint8_t *nl = memchr(data + 1, '\n', size - 1);
    size_t ct_len = nl ? (size_t)(nl - data - 1) : size - 1;
    char *ct = fuzz_dup_exact(data + 1, ct_len);
    char *ct_z = strndup(ct, ct_len); /* the C string a header would be */
    size_t body_len = nl ? size - 2 - ct_len : 0;
    char *body = fuzz_dup_exact(nl ? nl + 1 : data + size, body_len);
    FUZZ_CHECK(ct_z != NULL);

    FUZZ_CHECK(mr_form_is_urlencoded(ct_z) == ref_is_urlencoded(ct_z));
    struct mr_form f;
    int rc = mr_form_parse(&f, ct_z, body, body_len, &arena, max_params);
    FUZZ_CHECK(rc == 0 || rc == -EMEDIUMTYPE || rc == -E2BIG || rc == -EINVAL);
    FUZZ_CHECK((rc == -EMEDIUMTYPE) == !ref_is_urlencoded(ct_z));
    if (rc != 0) {
        FUZZ_CHECK(f.n == 0 && f.params == NULL);
    } else {
        struct mr_param *p;
        size_t n;
        FUZZ_CHECK(mr_query_parse(body, body_len, &arena, max_params, &p, &n) == 0);
        FUZZ_CHECK(n == f.n);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(strcmp(p[i].name, f.params[i].name) == 0);
            FUZZ_CHECK(p[i].value_len == f.params[i].value_len);
            FUZZ_CHECK(memcmp(p[i].value, f.params[i].value, p[i].value_len) == 0);
        }
        check_lookups(&f);
    }
    free(body);
    free(ct_z);
    free(ct);
    mr_arena_reset(&arena);
    return 0;
}
