/* SPDX-License-Identifier: BSD-2-Clause */
/* rows: a statement's result, copied out of its PGresult into the request's arena, and the
 * accessors of db/db.h.
 *
 * One arena block per result holds the header, the columns' types and formats, a (pointer,
 * length) per value and the values' bytes, each NUL-terminated: two passes over the
 * PGresult, one to size it, one to copy. The PGresult is cleared by the caller right after,
 * so libpq's allocation is reused by the next statement while it is still in cache. A value
 * in binary (an integer or boolean column; run.c decides) is decoded when it is read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"

/* PostgreSQL's type oids (pg_type.dat) of the columns that may come back in binary. */
enum {
    OID_BOOL = 16,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
};

#define VALUE_NULL (-1)

struct rows_col {
    uint32_t oid;
    int32_t binary; /* 1 when the column came in binary */
};

struct rows_value {
    const char *bytes; /* NUL-terminated; NULL for SQL NULL */
    int32_t len;       /* VALUE_NULL for SQL NULL */
};

struct mr_rows {
    size_t n_rows;
    int n_cols;
    long long affected;
    bool is_primary;        /* which backend answered (run.c marks it) */
    struct mr_arena *arena; /* for the text form of a binary value */
    const struct rows_col *cols;
    const struct rows_value *values; /* row-major, n_rows * n_cols */
};

static size_t
align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

int
mr_db__rows_copy(struct mr_arena *arena, const PGresult *res, struct mr_rows **out,
                 struct mr_err *err)
{
    int n_rows = PQntuples(res), n_cols = PQnfields(res);
    size_t cells = (size_t)n_rows * (size_t)n_cols;
    size_t head = align8(sizeof(struct mr_rows));
    size_t cols = align8((size_t)n_cols * sizeof(struct rows_col));
    size_t values = cells * sizeof(struct rows_value);
    size_t bytes = 0;
    for (int i = 0; i < n_rows; i++)
        for (int j = 0; j < n_cols; j++)
            if (!PQgetisnull(res, i, j))
                bytes += (size_t)PQgetlength(res, i, j) + 1;
    char *block = mr_arena_alloc(arena, head + cols + values + bytes);
    if (block == NULL)
        return mr_err_set(err, -ENOMEM, "arena full: a result of %d rows not kept", n_rows);

    struct mr_rows *r = (struct mr_rows *)block;
    struct rows_col *c = (struct rows_col *)(block + head);
    struct rows_value *v = (struct rows_value *)(block + head + cols);
    char *data = block + head + cols + values;
    for (int j = 0; j < n_cols; j++)
        c[j] = (struct rows_col){PQftype(res, j), PQfformat(res, j) == 1};
    for (int i = 0; i < n_rows; i++) {
        for (int j = 0; j < n_cols; j++, v++) {
            if (PQgetisnull(res, i, j)) {
                *v = (struct rows_value){NULL, VALUE_NULL};
                continue;
            }
            int len = PQgetlength(res, i, j);
            memcpy(data, PQgetvalue(res, i, j), (size_t)len);
            data[len] = '\0';
            *v = (struct rows_value){data, len};
            data += len + 1;
        }
    }
    const char *affected = PQcmdTuples((PGresult *)res); /* libpq's prototype lacks const */
    *r = (struct mr_rows){
        .n_rows = (size_t)n_rows,
        .n_cols = n_cols,
        .affected = *affected != '\0' ? strtoll(affected, NULL, 10) : 0,
        .arena = arena,
        .cols = c,
        .values = (const struct rows_value *)(block + head + cols),
    };
    *out = r;
    return 0;
}

bool
mr_db__binary_ok(const PGresult *r)
{
    for (int i = 0; i < PQnfields(r); i++) {
        switch (PQftype(r, i)) {
        case OID_BOOL:
        case OID_NAME:
        case OID_INT8:
        case OID_INT2:
        case OID_INT4:
        case OID_TEXT:
        case OID_BPCHAR:
        case OID_VARCHAR:
            break;
        default:
            return false;
        }
    }
    return true;
}

void
mr_db__rows_from(struct mr_rows *r, bool is_primary)
{
    r->is_primary = is_primary;
}

bool
mr_db_rows_primary(const struct mr_rows *r)
{
    return r->is_primary;
}

size_t
mr_db_rows_count(const struct mr_rows *r)
{
    return r->n_rows;
}

int
mr_db_rows_columns(const struct mr_rows *r)
{
    return r->n_cols;
}

long long
mr_db_rows_affected(const struct mr_rows *r)
{
    return r->affected;
}

/* The value at (row, col), or NULL when out of range or SQL NULL. */
static const struct rows_value *
value_at(const struct mr_rows *r, size_t row, int col)
{
    if (row >= r->n_rows || col < 0 || col >= r->n_cols)
        return NULL;
    const struct rows_value *v = &r->values[row * (size_t)r->n_cols + (size_t)col];
    return v->len != VALUE_NULL ? v : NULL;
}

/* A binary integer or boolean value: 0 with *out set, or -1 for any other column. */
static int
binary_int(const struct rows_col *c, const struct rows_value *v, long long *out)
{
    const unsigned char *b = (const unsigned char *)v->bytes;
    uint32_t t = c->oid;
    int len = v->len;
    uint64_t u = 0;
    if (!((t == OID_INT2 && len == 2) || (t == OID_INT4 && len == 4) ||
          (t == OID_INT8 && len == 8) || (t == OID_BOOL && len == 1)))
        return -1;
    for (int i = 0; i < len; i++)
        u = (u << 8) | b[i];
    if (t == OID_INT2)
        *out = (int16_t)u;
    else if (t == OID_INT4)
        *out = (int32_t)u;
    else
        *out = (long long)u; /* int8's two's complement, or bool's 0/1 */
    return 0;
}

int
mr_db_rows_int(const struct mr_rows *r, size_t row, int col, long long *out)
{
    const struct rows_value *v = value_at(r, row, col);
    if (v == NULL)
        return -ENODATA;
    const struct rows_col *c = &r->cols[col];
    if (c->binary)
        return binary_int(c, v, out) == 0 && c->oid != OID_BOOL ? 0 : -EINVAL;
    char *end;
    errno = 0;
    long long n = strtoll(v->bytes, &end, 10);
    if (end == v->bytes || *end != '\0' || errno != 0)
        return -EINVAL;
    *out = n;
    return 0;
}

const char *
mr_db_rows_text(const struct mr_rows *r, size_t row, int col, size_t *len)
{
    if (len != NULL)
        *len = 0;
    const struct rows_value *v = value_at(r, row, col);
    if (v == NULL)
        return NULL;
    const struct rows_col *c = &r->cols[col];
    long long n;
    if (c->binary && binary_int(c, v, &n) == 0) {
        /* The server's text form: "t"/"f" for a boolean, the decimal for an integer. */
        char buf[24];
        int k = c->oid == OID_BOOL ? snprintf(buf, sizeof(buf), "%s", n ? "t" : "f")
                                   : snprintf(buf, sizeof(buf), "%lld", n);
        char *t = mr_arena_strndup(r->arena, buf, (size_t)k);
        if (t != NULL && len != NULL)
            *len = (size_t)k;
        return t;
    }
    if (len != NULL)
        *len = (size_t)v->len;
    return v->bytes; /* text, or a string type's binary: the same */
}
