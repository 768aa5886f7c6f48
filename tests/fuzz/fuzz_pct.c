/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_pct: mr_pct_decode in both modes, and mr_utf8_valid, against the reference decoder in
 * ref.h. Input: one mode byte (bit 0: '+' is a space), then the encoded bytes. The output
 * buffer is exactly len + 1 bytes, as the contract allows, so ASan catches a write past it.
 * Invariants: the result agrees with the reference (same verdict, same bytes); on success
 * the output is at most as long as the input and NUL-terminated. */
#include <errno.h>
#include <string.h>

#include "app/serve/form.h"
#include "tests/fuzz/ref.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool plus_is_space = (data[0] & 1) != 0;
    size_t len = size - 1;
    char *src = fuzz_dup_exact(data + 1, len);
    char *dst = malloc(len + 1);
    unsigned char *want = malloc(len + 1);
    FUZZ_CHECK(dst != NULL && want != NULL);

    /* The validator alone, on the raw bytes. */
    FUZZ_CHECK(mr_utf8_valid(src, len) == ref_utf8_valid((const unsigned char *)src, len));

    size_t out_len = (size_t)-1, want_len = 0;
    int rc = mr_pct_decode(src, len, plus_is_space, dst, &out_len);
    bool ok = ref_pct_decode((const unsigned char *)src, len, plus_is_space, want, &want_len);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    FUZZ_CHECK((rc == 0) == ok);
    if (rc == 0) {
        FUZZ_CHECK(out_len <= len);
        FUZZ_CHECK(dst[out_len] == '\0');
        FUZZ_CHECK(out_len == want_len);
        FUZZ_CHECK(memcmp(dst, want, out_len) == 0);
        FUZZ_CHECK(mr_utf8_valid(dst, out_len));
    }
    free(want);
    free(dst);
    free(src);
    return 0;
}
