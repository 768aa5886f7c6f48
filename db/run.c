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
    struct mr_db__rw *rw; /* the handle's: the floor's guard, the commit's position */
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

/* Everything of the call up to its last sync: [the replay guard,] [BEGIN,] the statements,
 * and for a write what reads the commit's WAL position after it. A MR_DB_WRITE commits at the
 * pipeline's sync (the implicit transaction), so its position is asked after a first sync;
 * a MR_DB_TXN commits at its COMMIT, so after that. Either way, one round trip. */
static int
send_all(struct mr_db__conn *c, const struct run_job *job, int64_t deadline_ms, struct mr_err *err)
{
    bool txn = job->mode >= MR_DB_TXN;
    int rc = 0;
    if (job->mode == MR_DB_READ && job->rw->ask)
        rc = mr_db__lsn_send(c, MR_DB__STMT_REPLAY, err);
    if (rc == 0 && txn)
        rc = mr_db__send(c, mr_db__begin_stmt(job->mode), 0, NULL, NULL, NULL, 0, err);
    for (int i = 0; rc == 0 && i < job->n; i++) {
        const struct mr_db_call *k = &job->calls[i];
        /* libpq copies the values into its output buffer here. */
        const struct mr_db__stmt *st = &job->stmts[MR_DB__N_OWN + k->stmt];
        rc = mr_db__send(c, st->name, k->n_params, k->params, NULL, NULL, st->result_format, err);
    }
    if (rc == 0 && txn)
        rc = mr_db__commit_send(c, err);
    if (rc == 0 && job->mode == MR_DB_WRITE)
        rc = mr_db__sync(c, deadline_ms, err);
    if (rc == 0 && job->mode != MR_DB_READ)
        rc = mr_db__lsn_send(c, MR_DB__STMT_LSN, err);
    if (rc == 0)
        rc = mr_db__sync(c, deadline_ms, err);
    return rc;
}

/* The guard's answer: whether this replica has replayed the floor. When not, the reads that
 * follow in the pipeline are left unread (pipeline_exit drains them) and the caller tries the
 * primary. The position is kept for this worker's next token reads (route.c). */
static int
read_guard(struct mr_db__conn *c, const struct run_job *job, int64_t deadline_ms,
           struct mr_err *err)
{
    uint64_t replayed = 0;
    int rc = mr_db__lsn_read(c, deadline_ms, &replayed, err);
    if (rc == 0 && replayed > c->replay_lsn)
        c->replay_lsn = replayed;
    if (rc == 0)
        job->rw->behind = replayed < job->rw->floor;
    return rc;
}

/* After the commit: its WAL position, the write's token. The commit stands whatever happens
 * here; a failure (the connection lost in between) only leaves the write without a token. */
static void
read_commit_lsn(struct mr_db__conn *c, const struct run_job *job, int64_t deadline_ms)
{
    struct mr_err scratch;
    uint64_t lsn = 0;
    if (mr_db__lsn_read(c, deadline_ms, &lsn, &scratch) == 0)
        job->rw->committed = lsn;
}

/* [BEGIN,] the statements, [COMMIT,] sync: one round trip, and for MR_DB_TXN* one
 * transaction. A failed statement is named in err; the server skips the rest up to the sync,
 * and pipeline_exit reads past them and rolls back the transaction it leaves open. */
static int
run_pipeline(struct mr_db__conn *c, void *arg, int64_t deadline_ms, struct mr_err *err)
{
    struct run_job *job = arg;
    bool txn = job->mode >= MR_DB_TXN;
    bool committed = false;
    int rc = check_params(job, err);
    if (rc != 0)
        return rc;
    rc = mr_db__pipeline_enter(c, err);
    if (rc == 0)
        rc = send_all(c, job, deadline_ms, err);
    if (rc == 0 && job->mode == MR_DB_READ && job->rw->ask)
        rc = read_guard(c, job, deadline_ms, err);
    if (job->rw->behind)
        return mr_db__pipeline_exit(c, deadline_ms, rc, err);
    if (rc == 0 && txn)
        rc = expect(c, deadline_ms, PGRES_COMMAND_OK, err);
    for (int i = 0; rc == 0 && i < job->n; i++) {
        PGresult *r = NULL;
        rc = mr_db__result_any(c, deadline_ms, &r, err);
        if (rc == 0) {
            rc = mr_db__rows_copy(job->arena, r, &job->out[i], err);
            PQclear(r);
            if (rc == 0)
                mr_db__rows_from(job->out[i], c->is_primary);
        } else if (c->sqlstate[0] != '\0' && err != NULL) {
            struct mr_err why = *err;
            (void)mr_err_set(err, rc, "statement \"%s\": %s",
                             job->stmts[MR_DB__N_OWN + job->calls[i].stmt].label, why.msg);
        }
    }
    if (rc == 0 && txn)
        rc = mr_db__commit_read(c, deadline_ms, err);
    /* The implicit transaction of a MR_DB_WRITE commits at the first sync: its result says
     * so (an error there, a deferred constraint say, is the statement's failure). */
    if (rc == 0 && job->mode == MR_DB_WRITE)
        rc = expect(c, deadline_ms, PGRES_PIPELINE_SYNC, err);
    committed = rc == 0 && job->mode != MR_DB_READ;
    if (committed)
        read_commit_lsn(c, job, deadline_ms);
    rc = mr_db__pipeline_exit(c, deadline_ms, rc, err);
    return committed ? 0 : rc; /* a cleanup's failure cannot undo the commit */
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
    /* The floor is this call's only (lsn.c); the commit position is this call's own. */
    uint64_t floor = db->rw.floor;
    db->rw = (struct mr_db__rw){.floor = 0};
    int rc = n < 0 ? mr_err_set(err, -EINVAL, "%d calls", n) : check_calls(db, calls, n, err);
    if (rc == 0 && n > 0 && db->in_txn) /* the primary's connection is in the callback's BEGIN */
        rc = mr_err_set(err, -EINVAL, "inside a transaction: run statements with mr_txn_run");
    if (rc != 0 || n == 0)
        return rc;
    struct run_job job = {mode, db->stmts, calls, n, arena, out, &db->rw};
    db->rw.floor = mode == MR_DB_READ ? floor : 0;
    if (mode != MR_DB_READ)
        rc = mr_db__write(db, run_pipeline, &job, err);
    else if (floor != 0)
        rc = mr_db__read_after(db, run_pipeline, &job, err);
    else
        rc = mr_db__read(db, run_pipeline, &job, err);
    db->rw.floor = 0;
    db->rw.ask = false;
    db->rw.behind = false;
    if (rc != 0 && sqlstate != NULL)
        memcpy(sqlstate, db->sqlstate, MR_DB_SQLSTATE_LEN);
    return rc;
}
