/* SPDX-License-Identifier: BSD-2-Clause */
/* run: the application's statements, any number of them as one pipeline (one round trip)
 * on the backend route.c picks, in a transaction when asked; and the results' accessors.
 *
 * Parameters go as text. libpq takes one result format for every column of a statement, so
 * each statement gets one, chosen when it is prepared from its description: binary when every
 * column is an integer, a boolean or a string type (whose binary form is its text), which
 * measured ~10% more /queries?queries=20 than text (the server's int4out and our strtoll);
 * text otherwise, the only form readable for every type (numeric, timestamp, uuid...) without
 * a decoder per type. mr_db_rows_text gives the text form either way: a binary integer is
 * formatted into the arena when asked. A result is the PGresult itself, cleared when the
 * request's arena is reset: nothing is copied, and the values stay valid until the response
 * has been sent. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"

struct run_job {
    enum mr_db_mode mode;
    const struct mr_db__stmt *stmts; /* the handle's: [MR_DB__N_OWN + call.stmt] */
    const struct mr_db_call *calls;
    int n;
    struct mr_arena *arena;
    struct mr_rows **out;
};

static void
clear_result(void *res)
{
    PQclear(res);
}

/* Hands r to the arena: cleared at its reset. Clears it at once when the arena is full. */
static int
keep(struct mr_arena *arena, PGresult *r, struct mr_rows **out, struct mr_err *err)
{
    struct mr_rows *rows = mr_arena_alloc(arena, sizeof(*rows));
    if (rows == NULL || mr_arena_defer(arena, clear_result, r) != 0) {
        PQclear(r);
        return mr_err_set(err, -ENOMEM, "arena full: result not kept");
    }
    rows->res = r;
    rows->arena = arena;
    *out = rows;
    return 0;
}

/* Reads a result of `want` status and clears it. */
static int
expect(struct mr_db__conn *c, int64_t deadline_ms, ExecStatusType want, struct mr_err *err)
{
    PGresult *r = NULL;
    int rc = mr_db__result(c, deadline_ms, want, &r, err);
    PQclear(r);
    return rc;
}

/* Reads the COMMIT's result: an aborted transaction "commits" as ROLLBACK without error. */
static int
expect_commit(struct mr_db__conn *c, int64_t deadline_ms, struct mr_err *err)
{
    PGresult *r = NULL;
    int rc = mr_db__result(c, deadline_ms, PGRES_COMMAND_OK, &r, err);
    if (rc == 0 && strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = mr_err_set(err, -EIO, "transaction not committed: %s", PQcmdStatus(r));
    PQclear(r);
    return rc;
}

/* Refuses a parameter count the statement does not take, before anything is sent: the
 * server's answer (SQLSTATE 08P01, a protocol violation) would count against the backend.
 * The counts are known once the connection, which is ready here, has prepared them. */
static int
check_params(const struct run_job *job, struct mr_err *err)
{
    for (int i = 0; i < job->n; i++) {
        const struct mr_db__stmt *st = &job->stmts[MR_DB__N_OWN + job->calls[i].stmt];
        if (st->n_params >= 0 && job->calls[i].n_params != st->n_params)
            return mr_err_set(err, -EINVAL, "statement \"%s\" takes %d parameters, given %d",
                              st->label, st->n_params, job->calls[i].n_params);
    }
    return 0;
}

static int
send_all(struct mr_db__conn *c, const struct run_job *job, struct mr_err *err)
{
    bool txn = job->mode == MR_DB_TXN;
    int rc = txn ? mr_db__send(c, MR_DB__STMT_BEGIN, 0, NULL, NULL, NULL, 0, err) : 0;
    for (int i = 0; rc == 0 && i < job->n; i++) {
        const struct mr_db_call *k = &job->calls[i];
        /* libpq copies the values into its output buffer here. */
        const struct mr_db__stmt *st = &job->stmts[MR_DB__N_OWN + k->stmt];
        rc = mr_db__send(c, st->name, k->n_params, k->params, NULL, NULL, st->result_format, err);
    }
    if (rc == 0 && txn)
        rc = mr_db__send(c, MR_DB__STMT_COMMIT, 0, NULL, NULL, NULL, 0, err);
    return rc;
}

/* [BEGIN,] the statements, [COMMIT,] sync: one round trip, and for MR_DB_TXN one
 * transaction. A failed statement is named in err; the server skips the rest up to the sync,
 * and pipeline_exit reads past them and rolls back the transaction it leaves open. */
static int
run_pipeline(struct mr_db__conn *c, void *arg, int64_t deadline_ms, struct mr_err *err)
{
    struct run_job *job = arg;
    bool txn = job->mode == MR_DB_TXN;
    int rc = check_params(job, err);
    if (rc != 0)
        return rc;
    rc = mr_db__pipeline_enter(c, err);
    if (rc == 0)
        rc = send_all(c, job, err);
    if (rc == 0)
        rc = mr_db__sync(c, deadline_ms, err);
    if (rc == 0 && txn)
        rc = expect(c, deadline_ms, PGRES_COMMAND_OK, err);
    for (int i = 0; rc == 0 && i < job->n; i++) {
        PGresult *r = NULL;
        rc = mr_db__result_any(c, deadline_ms, &r, err);
        if (rc == 0)
            rc = keep(job->arena, r, &job->out[i], err);
        else if (c->sqlstate[0] != '\0' && err != NULL) {
            struct mr_err why = *err;
            (void)mr_err_set(err, rc, "statement \"%s\": %s",
                             job->stmts[MR_DB__N_OWN + job->calls[i].stmt].label, why.msg);
        }
    }
    if (rc == 0 && txn)
        rc = expect_commit(c, deadline_ms, err);
    return mr_db__pipeline_exit(c, deadline_ms, rc, err);
}

/* Refuses a statement index the application did not declare. */
static int
check_calls(const struct mr_db *db, const struct mr_db_call *calls, int n, struct mr_err *err)
{
    int n_app = db->n_stmts - MR_DB__N_OWN;
    for (int i = 0; i < n; i++) {
        if (calls[i].stmt < 0 || calls[i].stmt >= n_app)
            return mr_err_set(err, -EINVAL, "no statement %d (the application declares %d)",
                              calls[i].stmt, n_app);
        if (calls[i].n_params < 0 || (calls[i].n_params > 0 && calls[i].params == NULL))
            return mr_err_set(err, -EINVAL, "statement %d: %d parameters and no array",
                              calls[i].stmt, calls[i].n_params);
    }
    return 0;
}

int
mr_db_run(struct mr_db *db, enum mr_db_mode mode, const struct mr_db_call *calls, int n,
          struct mr_arena *arena, struct mr_rows **out, char *sqlstate, struct mr_err *err)
{
    db->sqlstate[0] = '\0';
    if (sqlstate != NULL)
        sqlstate[0] = '\0';
    int rc = n < 0 ? mr_err_set(err, -EINVAL, "%d calls", n) : check_calls(db, calls, n, err);
    if (rc != 0 || n == 0)
        return rc;
    struct run_job job = {mode, db->stmts, calls, n, arena, out};
    rc = mode == MR_DB_READ ? mr_db__read(db, run_pipeline, &job, err)
                            : mr_db__write(db, run_pipeline, &job, err);
    if (rc != 0 && sqlstate != NULL)
        memcpy(sqlstate, db->sqlstate, MR_DB_SQLSTATE_LEN);
    return rc;
}

size_t
mr_db_rows_count(const struct mr_rows *r)
{
    int n = PQntuples(r->res);
    return n > 0 ? (size_t)n : 0;
}

int
mr_db_rows_columns(const struct mr_rows *r)
{
    return PQnfields(r->res);
}

long long
mr_db_rows_affected(const struct mr_rows *r)
{
    const char *n = PQcmdTuples(r->res);
    return *n != '\0' ? strtoll(n, NULL, 10) : 0;
}

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

/* A binary integer or boolean value: 0 with *out set, or -1 for any other column. */
static int
binary_int(const PGresult *res, int row, int col, long long *out)
{
    const unsigned char *v = (const unsigned char *)PQgetvalue(res, row, col);
    int len = PQgetlength(res, row, col);
    Oid t = PQftype(res, col);
    uint64_t u = 0;
    if (!((t == OID_INT2 && len == 2) || (t == OID_INT4 && len == 4) ||
          (t == OID_INT8 && len == 8) || (t == OID_BOOL && len == 1)))
        return -1;
    for (int i = 0; i < len; i++)
        u = (u << 8) | v[i];
    if (t == OID_INT2)
        *out = (int16_t)u;
    else if (t == OID_INT4)
        *out = (int32_t)u;
    else
        *out = (long long)u; /* int8's two's complement, or bool's 0/1 */
    return 0;
}

/* Whether the value is there: in range and not SQL NULL. */
static bool
present(const struct mr_rows *r, size_t row, int col)
{
    return row < mr_db_rows_count(r) && col >= 0 && col < PQnfields(r->res) &&
           !PQgetisnull(r->res, (int)row, col);
}

int
mr_db_rows_int(const struct mr_rows *r, size_t row, int col, long long *out)
{
    if (!present(r, row, col))
        return -ENODATA;
    if (PQfformat(r->res, col) == 1)
        return binary_int(r->res, (int)row, col, out) == 0 && PQftype(r->res, col) != OID_BOOL
                   ? 0
                   : -EINVAL;
    const char *v = PQgetvalue(r->res, (int)row, col);
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || errno != 0)
        return -EINVAL;
    *out = n;
    return 0;
}

const char *
mr_db_rows_text(const struct mr_rows *r, size_t row, int col, size_t *len)
{
    if (len != NULL)
        *len = 0;
    if (!present(r, row, col))
        return NULL;
    long long n;
    if (PQfformat(r->res, col) == 1 && binary_int(r->res, (int)row, col, &n) == 0) {
        /* The server's text form: "t"/"f" for a boolean, the decimal for an integer. */
        char buf[24];
        int k = PQftype(r->res, col) == OID_BOOL ? snprintf(buf, sizeof(buf), "%s", n ? "t" : "f")
                                                 : snprintf(buf, sizeof(buf), "%lld", n);
        char *t = r->arena != NULL ? mr_arena_strndup(r->arena, buf, (size_t)k) : NULL;
        if (t != NULL && len != NULL)
            *len = (size_t)k;
        return t;
    }
    if (len != NULL)
        *len = (size_t)PQgetlength(r->res, (int)row, col);
    return PQgetvalue(r->res, (int)row, col); /* text, or a string type's binary: the same */
}
