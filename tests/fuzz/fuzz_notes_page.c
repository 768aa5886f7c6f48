/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_notes_page: the example application's cached list page (handlers/notes/codec.c), the
 * bytes it reads back from Redis. The input is exactly `size` bytes, so ASan catches a read
 * past the value. Invariants: a page that decodes has at most NOTES_PAGE_SIZE rows, a next
 * page only when full, positive ids and strings inside the input; and it encodes back to
 * exactly the input bytes (the form is canonical, so nothing else decodes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/notes/notes.h"
#include "tests/fuzz/ref.h"

static bool
inside(const char *s, const uint8_t *data, size_t size)
{
    return s != NULL && (const uint8_t *)s >= data && (const uint8_t *)s < data + size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct notes_page p;
    if (notes_page_decode((const char *)data, size, &p) != 0)
        return 0;
    FUZZ_CHECK(p.n >= 0 && p.n <= NOTES_PAGE_SIZE);
    FUZZ_CHECK(!p.has_next || p.n == NOTES_PAGE_SIZE);
    for (int i = 0; i < p.n; i++) {
        FUZZ_CHECK(p.rows[i].id > 0);
        FUZZ_CHECK(inside(p.rows[i].author, data, size) && inside(p.rows[i].title, data, size) &&
                  inside(p.rows[i].created, data, size));
    }
    size_t len = notes_page_encoded_len(&p);
    FUZZ_CHECK(len == size);
    char *buf = malloc(len);
    FUZZ_CHECK(buf != NULL);
    notes_page_encode(&p, buf);
    FUZZ_CHECK(memcmp(buf, data, size) == 0);
    free(buf);
    return 0;
}
