/* SPDX-License-Identifier: BSD-2-Clause */
/* txn: a transaction held open on the primary's connection while the caller's callback runs
 * statements that depend on each other's results (mr_db_txn), as opposed to run.c's, whose
 * statements all go in one pipeline. Retrying a serialization failure is the caller's
 * (app/api/txn.c), which knows the request's deadline and how to wait.
 *
 * The connection stays in pipeline mode for the whole transaction: each run sends its
 * statements and a sync, and reads up to that sync, so a run is one round trip; the BEGIN
 * travels with the first run and the COMMIT after the callback, so nothing is spent on a
 * transaction that runs nothing. pipeline_exit (exec.c) ends it all: it reads what an error
 * left unread and rolls back a transaction still open, whether the callback asked for it or a
 * statement failed.
 *
 * Every run starts with `SELECT set_config('statement_timeout', left, true)`, local to the
 * transaction: the server then stops a statement at our deadline (SQLSTATE 57014) and the
 * connection survives, where our own poll() timing out first would have to close it (conn.c:
 * no PQcancel). The server's limit is a few milliseconds short of ours so that it wins. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/clock.h"
#include "db/internal.h"

/* How much earlier than our deadline the server stops a statement, so that its answer (and
 * not our poll()'s timeout, which costs the connection) ends a run that is too long. */
#define SERVER_MARGIN_MS 20
/* The longest wait for the rollback (and the reading of what an error left) after a failure. */
#define ROLLBACK_MS 200

struct mr_db_txn {
    struct mr_db *db;
    struct mr_db__conn *c;
    struct mr_arena *arena;
    enum mr_db_mode mode;
    bool is_begun; /* BEGIN sent */
    int rc;        /* the first failure; every later run returns it */
    struct mr_err why;
    char sqlstate[MR_DB_SQLSTATE_LEN]; /* of that failure; "" when the server said nothing */
};

struct txn_job {
    enum mr_db_mode mode;
    mr_db_txn_fn fn;
    void *arg;
    struct mr_arena *arena;
    int fn_rc;
    struct mr_db_txn t;
};

const char *
mr_db__begin_stmt(enum mr_db_mode mode)
{
    switch (mode) {
    case MR_DB_TXN_REPEATABLE_READ:
        return MR_DB__STMT_BEGIN_RR;
    case MR_DB_TXN_SERIALIZABLE:
        return MR_DB__STMT_BEGIN_SER;
    default:
        return MR_DB__STMT_BEGIN;
    }
}

/* As run.c's checks, before anything is sent: a statement the application declares, with
 * the parameter count the server learned when the connection prepared it. */
static int
check_run(const struct mr_db_txn *t, const struct mr_db_call *calls, int n, struct mr_err *err)
{
    int n_app = t->db->n_stmts - MR_DB__N_OWN;
    if (n < 0 || (n > 0 && calls == NULL))
        return mr_err_set(err, -EINVAL, "%d calls", n);
    for (int i = 0; i < n; i++) {
        if (calls[i].stmt < 0 || calls[i].stmt >= n_app)
            return mr_err_set(err, -EINVAL, "no statement %d (the application declares %d)",
                              calls[i].stmt, n_app);
        const struct mr_db__stmt *st = &t->db->stmts[MR_DB__N_OWN + calls[i].stmt];
        if (calls[i].n_params < 0 || (calls[i].n_params > 0 && calls[i].params == NULL) ||
            (st->n_params >= 0 && calls[i].n_params != st->n_params))
            return mr_err_set(err, -EINVAL, "statement \"%s\" takes %d parameters, given %d",
                              st->label, st->n_params, calls[i].n_params);
    }
    return 0;
}

static int
send_run(struct mr_db_txn *t, const struct mr_db_call *calls, int n, const char *timeout,
         struct mr_err *err)
{
    struct mr_db__conn *c = t->c;
    int rc = 0;
    if (!t->is_begun) {
        rc = mr_db__send(c, mr_db__begin_stmt(t->mode), 0, NULL, NULL, NULL, 0, err);
        t->is_begun = true; /* pipeline_exit rolls back whatever the server made of it */
    }
    if (rc == 0)
        rc = mr_db__send(c, MR_DB__STMT_TXN_TIMEOUT, 1, &timeout, NULL, NULL, 0, err);
    for (int i = 0; rc == 0 && i < n; i++) {
        const struct mr_db__stmt *st = &t->db->stmts[MR_DB__N_OWN + calls[i].stmt];
        rc = mr_db__send(c, st->name, calls[i].n_params, calls[i].params, NULL, NULL,
                         st->result_format, err);
    }
    return rc;
}

/* Reads a run's results up to its sync: [BEGIN's,] set_config's, then one per call. */
static int
read_run(struct mr_db_txn *t, bool with_begin, const struct mr_db_call *calls, int n,
         struct mr_rows **out, int64_t deadline_ms, struct mr_err *err)
{
    struct mr_db__conn *c = t->c;
    PGresult *r = NULL;
    int rc = with_begin ? mr_db__result(c, deadline_ms, PGRES_COMMAND_OK, &r, err) : 0;
    PQclear(r);
    r = NULL;
    if (rc == 0)
        rc = mr_db__result(c, deadline_ms, PGRES_TUPLES_OK, &r, err);
    PQclear(r);
    for (int i = 0; rc == 0 && i < n; i++) {
        r = NULL;
        rc = mr_db__result_any(c, deadline_ms, &r, err);
        if (rc == 0) {
            rc = mr_db__rows_copy(t->arena, r, &out[i], err);
            PQclear(r);
        } else if (c->sqlstate[0] != '\0' && err != NULL) {
            struct mr_err why = *err;
            (void)mr_err_set(err, rc, "statement \"%s\": %s",
                             t->db->stmts[MR_DB__N_OWN + calls[i].stmt].label, why.msg);
        }
    }
    r = NULL;
    if (rc == 0)
        rc = mr_db__result(c, deadline_ms, PGRES_PIPELINE_SYNC, &r, err);
    PQclear(r);
    return rc;
}

/* Keeps the transaction's first failure, which every later run and the end report. */
static int
txn_failed(struct mr_db_txn *t, int rc, char *sqlstate, struct mr_err *err)
{
    t->rc = rc;
    if (err != NULL)
        t->why = *err;
    memcpy(t->sqlstate, t->c->sqlstate, sizeof(t->sqlstate));
    if (sqlstate != NULL)
        memcpy(sqlstate, t->sqlstate, MR_DB_SQLSTATE_LEN);
    return rc;
}

int
mr_db_txn_run(struct mr_db_txn *t, const struct mr_db_call *calls, int n, struct mr_rows **out,
              char *sqlstate, struct mr_err *err)
{
    if (sqlstate != NULL)
        sqlstate[0] = '\0';
    if (t->rc != 0) {
        if (err != NULL)
            *err = t->why;
        if (sqlstate != NULL)
            memcpy(sqlstate, t->sqlstate, MR_DB_SQLSTATE_LEN);
        return t->rc;
    }
    int rc = check_run(t, calls, n, err);
    if (rc != 0)
        return rc; /* nothing was sent: the transaction is as it was */
    if (n > 0 && out == NULL)
        return mr_err_set(err, -EINVAL, "%d statements: no result array", n);
    int64_t now = mr_clock_ms();
    int64_t dl = mr_db__deadline(now, t->db->cfg->query_timeout_ms, t->db->deadline_ms);
    if (dl - now <= SERVER_MARGIN_MS)
        return txn_failed(t, mr_err_set(err, -ETIMEDOUT, "deadline passed in a transaction"),
                          sqlstate, err);
    char timeout[24];
    (void)snprintf(timeout, sizeof(timeout), "%lld", (long long)(dl - now - SERVER_MARGIN_MS));
    bool with_begin = !t->is_begun;
    rc = send_run(t, calls, n, timeout, err);
    if (rc == 0)
        rc = mr_db__sync(t->c, dl, err);
    if (rc == 0)
        rc = read_run(t, with_begin, calls, n, out, dl, err);
    return rc == 0 ? 0 : txn_failed(t, rc, sqlstate, err);
}

/* Sends the COMMIT of a transaction fn left without a failure, and reads its answer. */
static int
commit(struct mr_db_txn *t, struct mr_err *err)
{
    int64_t now = mr_clock_ms();
    int64_t dl = mr_db__deadline(now, t->db->cfg->query_timeout_ms, t->db->deadline_ms);
    /* The commit's WAL position in the same round trip: the response's read-your-writes
     * token (run.c does the same for batches). */
    int rc = mr_db__commit_send(t->c, err);
    if (rc == 0)
        rc = mr_db__lsn_send(t->c, MR_DB__STMT_LSN, err);
    if (rc == 0)
        rc = mr_db__sync(t->c, dl, err);
    if (rc == 0)
        rc = mr_db__commit_read(t->c, dl, err);
    if (rc == 0) {
        struct mr_err scratch; /* the commit stands: a lost position only costs the token */
        uint64_t lsn = 0;
        if (mr_db__lsn_read(t->c, dl, &lsn, &scratch) == 0)
            t->db->rw.committed = lsn;
    }
    return rc;
}

/* route.c's attempt on the primary's ready connection: fn between BEGIN and COMMIT. The
 * deadline route.c computed is not used: each run and the COMMIT take their own, since fn may
 * spend time of its own between them. */
static int
txn_attempt(struct mr_db__conn *c, void *arg, int64_t deadline_ms, struct mr_err *err)
{
    (void)deadline_ms;
    struct txn_job *job = arg;
    struct mr_db_txn *t = &job->t;
    *t = (struct mr_db_txn){.db = t->db, .c = c, .arena = job->arena, .mode = job->mode};
    int rc = mr_db__pipeline_enter(c, err);
    if (rc != 0)
        return rc;
    t->db->in_txn = true;
    job->fn_rc = job->fn(t, job->arg);
    t->db->in_txn = false;
    rc = t->rc;
    if (rc != 0 && err != NULL)
        *err = t->why; /* it was written to the failed run's own err */
    if (rc == 0 && job->fn_rc == 0 && t->is_begun)
        rc = commit(t, err);
    /* The rollback has a bound of its own, even past the request's deadline (a statement the
     * server stopped at the deadline leaves just SERVER_MARGIN_MS): the request is late
     * already, and closing the connection instead would cost the next one a reconnect. */
    int q = t->db->cfg->query_timeout_ms;
    return mr_db__pipeline_exit(c, mr_clock_ms() + (q < ROLLBACK_MS ? q : ROLLBACK_MS), rc, err);
}

int
mr_db_txn(struct mr_db *db, enum mr_db_mode mode, mr_db_txn_fn fn, void *arg,
          struct mr_arena *arena, int *fn_rc, char *sqlstate, struct mr_err *err)
{
    db->sqlstate[0] = '\0';
    if (sqlstate != NULL)
        sqlstate[0] = '\0';
    *fn_rc = 0;
    if (mode < MR_DB_TXN || mode > MR_DB_TXN_SERIALIZABLE || fn == NULL)
        return mr_err_set(err, -EINVAL, "transaction: mode %d, fn %s", (int)mode,
                          fn != NULL ? "set" : "NULL");
    if (db->in_txn)
        return mr_err_set(err, -EINVAL, "a transaction inside a transaction");
    db->rw.committed = 0;
    struct txn_job job = {.mode = mode, .fn = fn, .arg = arg, .arena = arena};
    job.t.db = db;
    int rc = mr_db__write(db, txn_attempt, &job, err);
    *fn_rc = job.fn_rc;
    if (rc != 0 && sqlstate != NULL)
        memcpy(sqlstate, db->sqlstate, MR_DB_SQLSTATE_LEN);
    return rc;
}
