/* SPDX-License-Identifier: BSD-2-Clause */
/* exec: statements on a ready connection, always in libpq pipeline mode, and every wait our
 * own poll() against a deadline. A call is: pipeline_enter, send x N, sync, result x N,
 * pipeline_exit; one round trip whatever N is.
 *
 * pipeline_exit leaves the connection clean for the next call: it reads what is left up to
 * the sync (after an error the server skips the rest, libpq still hands us a result per
 * statement), leaves pipeline mode, and rolls back a transaction an error left open. A
 * connection whose transport failed or timed out cannot be cleaned (results of the abandoned
 * statements may still arrive), so it is closed and its backoff armed instead.
 *
 * Failures say whether they indict the backend (is_fault): a lost connection, a timeout, or
 * a server error of SQLSTATE class 08 (connection), 53 (resources), 57 (operator
 * intervention: shutdown, statement_timeout) or 58 (system). Any other server error (a
 * recovery conflict on a replica, a serialization failure) is the statement's problem and
 * leaves the breaker alone. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/clock.h"
#include "db/internal.h"

int
mr_db__wait_fd(int fd, short events, int64_t deadline_ms)
{
    if (fd < 0)
        return -EBADF;
    struct pollfd pfd = {.fd = fd, .events = events};
    for (;;) {
        int64_t left = deadline_ms - mr_clock_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int n = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 0; /* POLLERR/POLLHUP too: libpq reports the detail on its next read */
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

int
mr_db__broken(struct mr_db__conn *c, int code, struct mr_err *err, const char *what)
{
    c->is_broken = true;
    c->is_fault = true;
    if (code == -ETIMEDOUT || c->pg == NULL)
        return mr_err_set(err, code, "%s", what);
    /* libpq's message ends in a newline and may hold a tab-indented hint line: keep one
     * line of plain text, which the caller's log line then quotes. */
    (void)mr_err_set(err, code, "%s: %s", what, PQerrorMessage(c->pg));
    if (err != NULL) {
        size_t n = strlen(err->msg);
        while (n > 0 && (unsigned char)err->msg[n - 1] <= ' ')
            err->msg[--n] = '\0';
        for (char *p = err->msg; *p != '\0'; p++)
            if ((unsigned char)*p < ' ')
                *p = ' ';
    }
    return code;
}

/* Sends what libpq has buffered. Reads input meanwhile, so that a server blocked on sending
 * us results never deadlocks with us blocked on sending it statements. */
static int
flush(struct mr_db__conn *c, int64_t deadline_ms, struct mr_err *err)
{
    for (;;) {
        int n = PQflush(c->pg);
        if (n == 0)
            return 0;
        if (n < 0)
            return mr_db__broken(c, -EIO, err, "send");
        int rc = mr_db__wait_fd(PQsocket(c->pg), POLLOUT | POLLIN, deadline_ms);
        if (rc == -ETIMEDOUT)
            return mr_db__broken(c, rc, err, "send timed out");
        if (rc < 0 || !PQconsumeInput(c->pg))
            return mr_db__broken(c, -EIO, err, "receive");
    }
}

/* Waits until libpq can hand out the next result without blocking. */
static int
await(struct mr_db__conn *c, int64_t deadline_ms, struct mr_err *err)
{
    while (PQisBusy(c->pg)) {
        int rc = mr_db__wait_fd(PQsocket(c->pg), POLLIN, deadline_ms);
        if (rc == -ETIMEDOUT)
            return mr_db__broken(c, rc, err, "query timed out");
        if (rc < 0 || !PQconsumeInput(c->pg))
            return mr_db__broken(c, -EIO, err, "receive");
    }
    return 0;
}

int
mr_db__pipeline_enter(struct mr_db__conn *c, struct mr_err *err)
{
    c->syncs = 0;
    c->sqlstate[0] = '\0';
    if (!PQenterPipelineMode(c->pg))
        return mr_db__broken(c, -EIO, err, "enter pipeline mode");
    return 0;
}

int
mr_db__send(struct mr_db__conn *c, const char *stmt, int n_params, const char *const *values,
            const int *lengths, const int *formats, int result_format, struct mr_err *err)
{
    if (!PQsendQueryPrepared(c->pg, stmt, n_params, values, lengths, formats, result_format))
        return mr_db__broken(c, -EIO, err, "send");
    if (c->stats != NULL)
        c->stats->queries++;
    return 0;
}

int
mr_db__sync(struct mr_db__conn *c, int64_t deadline_ms, struct mr_err *err)
{
    if (!PQpipelineSync(c->pg))
        return mr_db__broken(c, -EIO, err, "pipeline sync");
    c->syncs++;
    return flush(c, deadline_ms, err);
}

/* The next result, skipping the NULL that ends each statement's results. A sync result is
 * counted off here. Two NULLs in a row mean nothing is pending: a bug of ours, not a hang. */
static int
next_result(struct mr_db__conn *c, int64_t deadline_ms, PGresult **out, struct mr_err *err)
{
    for (int nulls = 0; nulls < 2;) {
        int rc = await(c, deadline_ms, err);
        if (rc != 0)
            return rc;
        PGresult *r = PQgetResult(c->pg);
        if (r == NULL) {
            nulls++;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC)
            c->syncs--;
        *out = r;
        return 0;
    }
    return mr_db__broken(c, -EIO, err, "no result pending");
}

bool
mr_db__is_fault_sqlstate(const char *state)
{
    static const char *const classes[] = {"08", "53", "57", "58"};
    if (state == NULL)
        return true; /* made by libpq itself: the connection */
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (strncmp(state, classes[i], 2) == 0)
            return true;
    return false;
}

/* Copies the reason out of r, clears r, and returns -EIO, or -ETIMEDOUT when the server's
 * statement_timeout (set to query_timeout_ms, conn.c) fired first: the same timeout, seen
 * from the other side, on a connection that stays usable. */
static int
result_error(struct mr_db__conn *c, PGresult *r, struct mr_err *err)
{
    ExecStatusType st = PQresultStatus(r);
    int code = -EIO;
    if (st == PGRES_FATAL_ERROR) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        if (state != NULL && strcmp(state, "57014") == 0)
            code = -ETIMEDOUT;
        (void)snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", state ? state : "");
        (void)mr_err_set(err, code, "%s (sqlstate %s)", msg ? msg : "error",
                         state ? state : "none");
        c->is_fault = mr_db__is_fault_sqlstate(state);
        if (PQstatus(c->pg) == CONNECTION_BAD)
            c->is_broken = true;
    } else {
        c->is_fault = false;
        (void)mr_err_set(err, code, "unexpected result: %s", PQresStatus(st));
    }
    PQclear(r);
    return code;
}

int
mr_db__result(struct mr_db__conn *c, int64_t deadline_ms, ExecStatusType want, PGresult **out,
              struct mr_err *err)
{
    PGresult *r = NULL;
    *out = NULL;
    int rc = next_result(c, deadline_ms, &r, err);
    if (rc != 0)
        return rc;
    if (PQresultStatus(r) == want) {
        *out = r;
        return 0;
    }
    return result_error(c, r, err);
}

int
mr_db__result_any(struct mr_db__conn *c, int64_t deadline_ms, PGresult **out, struct mr_err *err)
{
    PGresult *r = NULL;
    *out = NULL;
    int rc = next_result(c, deadline_ms, &r, err);
    if (rc != 0)
        return rc;
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        *out = r;
        return 0;
    }
    return result_error(c, r, err);
}

/* Reads up to the last sync and leaves pipeline mode. */
static int
leave(struct mr_db__conn *c, int64_t deadline_ms, struct mr_err *err)
{
    while (c->syncs > 0) {
        PGresult *r = NULL;
        int rc = next_result(c, deadline_ms, &r, err);
        PQclear(r);
        if (rc != 0)
            return rc;
    }
    if (!PQexitPipelineMode(c->pg))
        return mr_db__broken(c, -EIO, err, "leave pipeline mode");
    return 0;
}

/* Rolls back the transaction a failed statement left open (after a sync, an explicit BEGIN
 * stays open, aborted). Rare: only after an error inside a MR_DB_TXN call (run.c). The statement
 * is a constant, so it is not worth a prepared name. */
static int
settle(struct mr_db__conn *c, int64_t deadline_ms, struct mr_err *err)
{
    /* The failure's SQLSTATE (a unique violation, a serialization failure) is what the caller
     * acts on; pipeline_enter would clear it. */
    char why[MR_DB_SQLSTATE_LEN];
    memcpy(why, c->sqlstate, sizeof(why));
    int rc = mr_db__pipeline_enter(c, err);
    if (rc == 0 && !PQsendQueryParams(c->pg, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 1))
        rc = mr_db__broken(c, -EIO, err, "send rollback");
    if (rc == 0)
        rc = mr_db__sync(c, deadline_ms, err);
    if (rc == 0)
        rc = leave(c, deadline_ms, err);
    if (rc == 0 && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        rc = mr_db__broken(c, -EIO, err, "rollback left a transaction open");
    if (c->sqlstate[0] == '\0')
        memcpy(c->sqlstate, why, sizeof(why));
    return rc;
}

int
mr_db__pipeline_exit(struct mr_db__conn *c, int64_t deadline_ms, int rc, struct mr_err *err)
{
    if (c->pg == NULL)
        return rc;
    /* After a failure, the cleanup's own error must not replace the reason the call failed. */
    struct mr_err scratch = {{0}};
    struct mr_err *e = rc == 0 ? err : &scratch;
    int r = 0;
    if (!c->is_broken)
        r = leave(c, deadline_ms, e);
    if (r == 0 && !c->is_broken && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        r = settle(c, deadline_ms, e);
    if (c->is_broken)
        mr_db__conn_fail(c, mr_clock_ms());
    return rc != 0 ? rc : r;
}

/* Read-your-writes: db/'s two position statements (db.c prepares them). Why the insert
 * position after a commit and not pg_current_wal_lsn(): that is the position written out to
 * the kernel, and with synchronous_commit = off (the local stack) a commit record may sit in
 * the WAL buffers past it for up to wal_writer_delay. The insert position, read after the
 * COMMIT on the same connection, is at or past the end of the commit record (other sessions'
 * records may follow it: the token is then a little late, never early). Both answer one int8
 * in binary (LSN - '0/0', exact: real positions are far below 2^63); the replay position is
 * NULL on a server not in recovery. */
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

/* Binary-format column readers: each checks NULL, format and width, never trusts them. */
static const char *
column(const PGresult *r, int row, int col, int width)
{
    if (row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
        return NULL;
    if (PQfformat(r, col) != 1 || PQgetlength(r, row, col) != width)
        return NULL;
    return PQgetvalue(r, row, col);
}

int
mr_db__get_int8(const PGresult *r, int row, int col, int64_t *out)
{
    if (row < PQntuples(r) && col < PQnfields(r) && PQgetisnull(r, row, col))
        return -ENODATA;
    const char *v = column(r, row, col, 8);
    if (v == NULL)
        return -EIO;
    uint32_t hi, lo;
    memcpy(&hi, v, 4);
    memcpy(&lo, v + 4, 4);
    *out = (int64_t)(((uint64_t)ntohl(hi) << 32) | ntohl(lo));
    return 0;
}

int
mr_db__get_bool(const PGresult *r, int row, int col, bool *out)
{
    const char *v = column(r, row, col, 1);
    if (v == NULL)
        return -EIO;
    *out = *v != 0;
    return 0;
}
