/* SPDX-License-Identifier: BSD-2-Clause */
/* run: the application's statements, any number of them as one pipeline (one round trip)
 * on the backend route.c picks, in a transaction when asked; and the results' accessors.
 *
 * Parameters go as text. libpq takes one result format for every column of a statement, so
 * each statement gets one, chosen when it is prepared from its description: binary when every
 * column is an integer, a boolean or a string type (whose binary form is its text), which
 * measured ~10% more /queries?queries=20 than text (the server's int4out and our strtoll);
 * text otherwise, the only form readable for every type (numeric, timestamp, uuid...) without
 * a decoder per type. Each result is copied into the request's arena and cleared at once
 * (rows.c), so libpq reuses one warm block per statement instead of keeping a pipeline's
 * worth alive until the response is sent. */
#include <errno.h>
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

/* Reads a result of `want` status and clears it. */
static int
expect(struct mr_db__conn *c, int64_t deadline_ms, ExecStatusType want, struct mr_err *err)
{
    PGresult *r = NULL;
    int rc = mr_db__result(c, deadline_ms, want, &r, err);
    PQclear(r);
    return rc;
}

int
mr_db__commit_send(struct mr_db__conn *c, struct mr_err *err)
{
    return mr_db__send(c, MR_DB__STMT_COMMIT, 0, NULL, NULL, NULL, 0, err);
}

/* Reads the COMMIT's result: an aborted transaction "commits" as ROLLBACK without error. */
int
mr_db__commit_read(struct mr_db__conn *c, int64_t deadline_ms, struct mr_err *err)
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
    bool txn = job->mode >= MR_DB_TXN;
    int rc = txn ? mr_db__send(c, mr_db__begin_stmt(job->mode), 0, NULL, NULL, NULL, 0, err) : 0;
    for (int i = 0; rc == 0 && i < job->n; i++) {
        const struct mr_db_call *k = &job->calls[i];
        /* libpq copies the values into its output buffer here. */
        const struct mr_db__stmt *st = &job->stmts[MR_DB__N_OWN + k->stmt];
        rc = mr_db__send(c, st->name, k->n_params, k->params, NULL, NULL, st->result_format, err);
    }
    if (rc == 0 && txn)
        rc = mr_db__commit_send(c, err);
    return rc;
}

/* [BEGIN,] the statements, [COMMIT,] sync: one round trip, and for MR_DB_TXN* one
 * transaction. A failed statement is named in err; the server skips the rest up to the sync,
 * and pipeline_exit reads past them and rolls back the transaction it leaves open. */
static int
run_pipeline(struct mr_db__conn *c, void *arg, int64_t deadline_ms, struct mr_err *err)
{
    struct run_job *job = arg;
    bool txn = job->mode >= MR_DB_TXN;
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
        if (rc == 0) {
            rc = mr_db__rows_copy(job->arena, r, &job->out[i], err);
            PQclear(r);
        } else if (c->sqlstate[0] != '\0' && err != NULL) {
            struct mr_err why = *err;
            (void)mr_err_set(err, rc, "statement \"%s\": %s",
                             job->stmts[MR_DB__N_OWN + job->calls[i].stmt].label, why.msg);
        }
    }
    if (rc == 0 && txn)
        rc = mr_db__commit_read(c, deadline_ms, err);
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
    if (rc == 0 && db->in_txn) /* the primary's connection is inside the callback's BEGIN */
        rc = mr_err_set(err, -EINVAL, "inside a transaction: run statements with mr_txn_run");
    if (rc != 0 || n == 0)
        return rc;
    struct run_job job = {mode, db->stmts, calls, n, arena, out};
    rc = mode == MR_DB_READ ? mr_db__read(db, run_pipeline, &job, err)
                            : mr_db__write(db, run_pipeline, &job, err);
    if (rc != 0 && sqlstate != NULL)
        memcpy(sqlstate, db->sqlstate, MR_DB_SQLSTATE_LEN);
    return rc;
}
