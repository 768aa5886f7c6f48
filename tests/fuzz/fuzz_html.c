/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_html: mr_html_escape on arbitrary bytes, appended after a prefix so that escaping
 * into a non-empty buffer is covered. Invariants: the escaped text holds no raw < > " ',
 * every & starts one of the five entities the escaper emits, and decoding those entities
 * gives back the input exactly. A buffer that failed (arena ceiling) is skipped. */
#include <string.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/lib/html.h"
#include "tests/fuzz/ref.h"

static struct mr_arena arena;
static bool arena_ready;

static const struct {
    const char *entity;
    char c;
} entities[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char prefix[] = "<td>";
    if (!arena_ready) {
        mr_arena_init(&arena, 64, 1 << 22);
        arena_ready = true;
    }
    char *in = fuzz_dup_exact(data, size);
    struct mr_buf b;
    mr_buf_init(&b, &arena, size % 2 ? 1 : 0); /* tiny and default first capacities */
    mr_buf_puts(&b, prefix);
    mr_html_escape(&b, in, size);
    const char *out = mr_buf_cstr(&b);
    if (out != NULL) {
        FUZZ_CHECK(b.len >= sizeof(prefix) - 1 && memcmp(out, prefix, sizeof(prefix) - 1) == 0);
        const char *e = out + sizeof(prefix) - 1;
        size_t elen = b.len - (sizeof(prefix) - 1), o = 0;
        for (size_t i = 0; i < elen;) {
            char c = e[i];
            FUZZ_CHECK(c != '<' && c != '>' && c != '"' && c != '\'');
            FUZZ_CHECK(o < size);
            if (c != '&') {
                FUZZ_CHECK(in[o++] == c);
                i++;
                continue;
            }
            size_t k = 0;
            while (k < 5 && !(strlen(entities[k].entity) <= elen - i &&
                              memcmp(e + i, entities[k].entity, strlen(entities[k].entity)) == 0))
                k++;
            FUZZ_CHECK(k < 5);
            FUZZ_CHECK(in[o++] == entities[k].c);
            i += strlen(entities[k].entity);
        }
        FUZZ_CHECK(o == size);
    }
    free(in);
    mr_arena_reset(&arena);
    return 0;
}
