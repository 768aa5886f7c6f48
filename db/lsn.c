/* SPDX-License-Identifier: BSD-2-Clause */
/* lsn: WAL positions as text, for read-your-writes tokens: PostgreSQL's pg_lsn form
 * ("16/B374D848") parsed exactly as pg_lsn_in takes it, and written as pg_lsn_out does. Pure
 * (no libpq), so that it is fuzzed on its own (tests/fuzz/fuzz_lsn.c). The statements that
 * read a position on a connection are exec.c's; what a position means for routing, route.c's. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/hex.h"
#include "db/db.h"

/* pg_lsn_in's rule: 1..8 hex digits, '/', 1..8 hex digits, nothing else. */
#define HALF_DIGITS 8

/* One half: its digits from s, at most HALF_DIGITS; returns how many, 0 when none. */
static size_t
hex_half(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;
    size_t n = 0;
    while (n < len && n <= HALF_DIGITS && mr_hex_digit((unsigned char)s[n]) >= 0)
        v = (v << 4) | (uint32_t)mr_hex_digit((unsigned char)s[n++]);
    *out = v;
    return n;
}

int
mr_db_lsn_parse(const char *s, size_t len, uint64_t *out)
{
    uint32_t hi, lo;
    if (s == NULL)
        return -EINVAL;
    size_t a = hex_half(s, len, &hi);
    if (a == 0 || a > HALF_DIGITS || a >= len || s[a] != '/')
        return -EINVAL;
    size_t b = hex_half(s + a + 1, len - a - 1, &lo);
    if (b == 0 || b > HALF_DIGITS || a + 1 + b != len)
        return -EINVAL;
    *out = ((uint64_t)hi << 32) | lo;
    return 0;
}

size_t
mr_db_lsn_format(uint64_t lsn, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%X/%X", (unsigned)(lsn >> 32), (unsigned)(lsn & 0xffffffffu));
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}
