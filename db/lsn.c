/* SPDX-License-Identifier: BSD-2-Clause */
/* lsn: WAL positions for read-your-writes: the text form (PostgreSQL's pg_lsn, "16/B374D848")
 * parsed and written, and db/'s two statements that read a position on a connection: where
 * the primary's WAL insertion is, right after a commit (the token a write hands back), and how
 * far a replica has replayed (the guard a token's read sends ahead of its statements).
 *
 * Why the insert position and not pg_current_wal_lsn(): that is the position written out to
 * the kernel, and with synchronous_commit = off (the local stack) a commit record may sit in
 * the WAL buffers behind it for up to wal_writer_delay. The insert position, read after the
 * COMMIT on the same connection, is at or past the end of the commit record (other sessions'
 * records may follow it: the token is then a little late, never early).
 *
 * Both statements answer one int8 in binary (LSN - '0/0', exact: real positions are far below
 * 2^63). The replay statement answers NULL on a server not in recovery. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db/internal.h"

/* pg_lsn_in's rule: 1..8 hex digits, '/', 1..8 hex digits, nothing else. */
#define HALF_DIGITS 8

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* One half: its digits from s, at most HALF_DIGITS; returns how many, 0 when none. */
static size_t
hex_half(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;
    size_t n = 0;
    while (n < len && n <= HALF_DIGITS && hex_value(s[n]) >= 0)
        v = (v << 4) | (uint32_t)hex_value(s[n++]);
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

void
mr_db_read_after(struct mr_db *db, uint64_t lsn)
{
    db->rw.floor = lsn;
}

uint64_t
mr_db_committed(const struct mr_db *db)
{
    return db->rw.committed;
}

int
mr_db__lsn_send(struct mr_db__conn *c, const char *stmt, struct mr_err *err)
{
    return mr_db__send(c, stmt, 0, NULL, NULL, NULL, 1, err);
}

int
mr_db__lsn_read(struct mr_db__conn *c, int64_t deadline_ms, uint64_t *out, struct mr_err *err)
{
    PGresult *r = NULL;
    int rc = mr_db__result(c, deadline_ms, PGRES_TUPLES_OK, &r, err);
    int64_t v = 0;
    if (rc == 0) {
        int g = mr_db__get_int8(r, 0, 0, &v);
        if (g == -ENODATA || (g == 0 && v < 0))
            v = 0; /* not in recovery (replay), or a position we cannot hold: none */
        else if (g != 0)
            rc = mr_err_set(err, -EIO, "malformed WAL position row");
    }
    PQclear(r);
    *out = rc == 0 ? (uint64_t)v : 0;
    return rc;
}
