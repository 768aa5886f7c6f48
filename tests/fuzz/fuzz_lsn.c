/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_lsn: mr_db_lsn_parse (the read-your-writes token a client sends, in a header or a
 * cookie) against a reference written from pg_lsn_in's rule, in another shape: split at the
 * first '/', each side 1..8 hex digits and nothing else. The input is exactly `size` bytes
 * (no NUL), so ASan catches a read past len. Invariants: the same verdict and value as the
 * reference; what mr_db_lsn_format writes for the value parses back to it, is upper case, and
 * fits MR_DB_LSN_LEN. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "db/db.h"
#include "tests/fuzz/ref.h"

static bool
ref_half(const unsigned char *s, size_t n, uint64_t *out)
{
    if (n < 1 || n > 8)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit(s[i]))
            return false;
        v = v * 16 + (uint64_t)(isdigit(s[i]) ? s[i] - '0' : tolower(s[i]) - 'a' + 10);
    }
    *out = v;
    return true;
}

static bool
ref_lsn(const unsigned char *s, size_t len, uint64_t *out)
{
    const unsigned char *slash = memchr(s, '/', len);
    uint64_t hi, lo;
    if (slash == NULL)
        return false;
    size_t a = (size_t)(slash - s);
    if (!ref_half(s, a, &hi) || !ref_half(slash + 1, len - a - 1, &lo))
        return false;
    *out = hi << 32 | lo;
    return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_dup_exact(data, size);
    uint64_t got = 0, want = 0;
    int rc = mr_db_lsn_parse(s, size, &got);
    bool ok = ref_lsn(data, size, &want);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL);
    FUZZ_CHECK((rc == 0) == ok);
    if (rc == 0) {
        FUZZ_CHECK(got == want);
        char buf[MR_DB_LSN_LEN];
        size_t n = mr_db_lsn_format(got, buf, sizeof(buf));
        FUZZ_CHECK(n >= 3 && n < MR_DB_LSN_LEN && buf[n] == '\0');
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(!islower((unsigned char)buf[i]));
        uint64_t back = 0;
        FUZZ_CHECK(mr_db_lsn_parse(buf, n, &back) == 0 && back == got);
    }
    free(s);
    return 0;
}
