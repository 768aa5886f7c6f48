/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_jsonbody: mr_jsonbody_parse and the getters on arbitrary bytes. Input: a byte
 * choosing max_depth (1..64), then the body, in a heap block of exactly its size. The
 * verdict is compared with jansson called directly (same flags, no depth pre-scan) and the
 * depth of the tree it builds: accepted exactly when jansson accepts and the tree is no
 * deeper than max_depth. The getters are called on every member of the root with its key
 * as the path and must agree with the member's type. The arena's reset runs the deferred
 * json_decref, so LeakSanitizer catches a tree that is not freed. */
#include <errno.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/serve/jsonbody.h"
#include "tests/fuzz/ref.h"

static struct mr_arena arena;
static bool arena_ready;

static int
tree_depth(const json_t *v)
{
    int max = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach((json_t *)v, k, m)
        {
            int d = tree_depth(m);
            max = d > max ? d : max;
        }
        return max + 1;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int d = tree_depth(json_array_get(v, i));
            max = d > max ? d : max;
        }
        return max + 1;
    }
    return 0;
}

static void
check_getters(const json_t *root)
{
    const char *key;
    json_t *v;
    struct mr_err err;
    if (!json_is_object(root))
        return;
    json_object_foreach((json_t *)root, key, v)
    {
        if (strchr(key, '.') != NULL)
            continue;
        const char *s;
        long long i;
        bool b;
        double d;
        int rs = mr_jsonbody_get_string(root, key, &s, &err);
        int ri = mr_jsonbody_get_int(root, key, &i, &err);
        int rb = mr_jsonbody_get_bool(root, key, &b, &err);
        int rd = mr_jsonbody_get_double(root, key, &d, &err);
        FUZZ_CHECK((rs == 0) == json_is_string(v) && (rs == 0 || rs == -EINVAL));
        FUZZ_CHECK((ri == 0) == json_is_integer(v) && (ri == 0 || ri == -EINVAL));
        FUZZ_CHECK((rb == 0) == json_is_boolean(v) && (rb == 0 || rb == -EINVAL));
        FUZZ_CHECK((rd == 0) == json_is_number(v) && (rd == 0 || rd == -EINVAL));
        if (rs == 0)
            FUZZ_CHECK(s == json_string_value(v));
        if (ri == 0)
            FUZZ_CHECK(i == json_integer_value(v));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!arena_ready) {
        mr_arena_init(&arena, 256, 1 << 20);
        arena_ready = true;
    }
    const struct mr_jsonbody_limits lim = {.max_bytes = 2048, .max_depth = 1 + data[0] % 64};
    size_t len = size - 1;
    char *body = fuzz_dup_exact(data + 1, len);

    struct mr_jsonbody jb;
    int rc = mr_jsonbody_parse(&jb, body, len, &lim, &arena);
    FUZZ_CHECK(rc == 0 || rc == -E2BIG || rc == -EINVAL);
    FUZZ_CHECK((rc == 0) == (jb.root != NULL));
    FUZZ_CHECK(rc == 0 || jb.err.msg[0] != '\0');
    FUZZ_CHECK((rc == -E2BIG) == (len > lim.max_bytes));
    if (rc != -E2BIG) {
        json_error_t e;
        json_t *ref = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
        bool want = ref != NULL && tree_depth(ref) <= lim.max_depth;
        FUZZ_CHECK((rc == 0) == want);
        if (rc == 0) {
            FUZZ_CHECK(json_is_object(jb.root) || json_is_array(jb.root));
            FUZZ_CHECK(json_equal(ref, jb.root));
            check_getters(jb.root);
        }
        json_decref(ref);
    }
    free(body);
    mr_arena_reset(&arena);
    return 0;
}
