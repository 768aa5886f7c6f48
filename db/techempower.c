/* SPDX-License-Identifier: BSD-2-Clause */
/* techempower: the TechEmpower queries (World by id, every Fortune, the batched update) as
 * pipelines of prepared statements, run where route.c says.
 *
 * Parameters: a world id goes in binary (4 bytes, no formatting); the update's two int[]
 * arrays go as text ("{1,2,3}"), formatted into the handle's worker-lifetime scratch, which
 * grows to the largest batch seen and is then reused: no allocation per request. The update
 * sorts its ids so that concurrent workers lock rows in one order and cannot deadlock, and
 * sends each id once (the caller's last value wins), since UPDATE ... FROM with a duplicate id
 * would apply an unpredictable one of them. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/internal.h"

/* Past this an update batch is a caller's bug (TechEmpower clamps to 500), not a reason to
 * grow the scratch without end. */
#define MAX_UPDATE_ROWS 10000

const struct mr_db__stmt mr_db__stmts[] = {
    {MR_DB__STMT_WORLD, "SELECT id, randomnumber FROM world WHERE id = $1"},
    {MR_DB__STMT_FORTUNES, "SELECT id, message FROM fortune"},
    {MR_DB__STMT_UPDATE, "UPDATE world SET randomnumber = v.r FROM unnest($1::int[], $2::int[]) "
                         "AS v(id, r) WHERE world.id = v.id"},
    {MR_DB__STMT_BEGIN, "BEGIN"},
    {MR_DB__STMT_COMMIT, "COMMIT"},
};
const int mr_db__n_stmts = (int)(sizeof(mr_db__stmts) / sizeof(mr_db__stmts[0]));

struct worlds_job {
    const int32_t *ids;
    size_t n;
    struct mr_world *out;
};

struct fortunes_job {
    struct mr_arena *arena;
    struct mr_fortune *rows;
    size_t n;
};

struct update_job {
    const struct mr_world *rows; /* the caller's, read once each */
    size_t n;
    const char *ids_text; /* the sorted, unique ids and their values, as int[] literals */
    const char *values_text;
};

static int
send_world(struct mr_db__conn *c, int32_t id, struct mr_err *err)
{
    uint32_t be = htonl((uint32_t)id);
    const char *values[1] = {(const char *)&be};
    static const int lengths[1] = {4};
    static const int formats[1] = {1};
    /* libpq copies the value into its output buffer here, so `be` may go out of scope. */
    return mr_db__send(c, MR_DB__STMT_WORLD, 1, values, lengths, formats, err);
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

static int
world_from(const PGresult *r, struct mr_world *out, struct mr_err *err)
{
    out->id = 0;
    out->randomnumber = 0;
    if (PQntuples(r) == 0)
        return 0;
    if (mr_db__get_int4(r, 0, 0, &out->id) != 0 ||
        mr_db__get_int4(r, 0, 1, &out->randomnumber) != 0)
        return mr_err_set(err, -EIO, "malformed world row");
    return 0;
}

static int
worlds_run(struct mr_db__conn *c, void *arg, int64_t deadline_ms, struct mr_err *err)
{
    struct worlds_job *job = arg;
    int rc = mr_db__pipeline_enter(c, err);
    for (size_t i = 0; rc == 0 && i < job->n; i++)
        rc = send_world(c, job->ids[i], err);
    if (rc == 0)
        rc = mr_db__sync(c, deadline_ms, err);
    for (size_t i = 0; rc == 0 && i < job->n; i++) {
        PGresult *r = NULL;
        rc = mr_db__result(c, deadline_ms, PGRES_TUPLES_OK, &r, err);
        if (rc == 0)
            rc = world_from(r, &job->out[i], err);
        PQclear(r);
    }
    return mr_db__pipeline_exit(c, deadline_ms, rc, err);
}

int
mr_db_worlds_get(struct mr_db *db, const int32_t *ids, size_t n, struct mr_world *out,
                 struct mr_err *err)
{
    if (n == 0)
        return 0;
    struct worlds_job job = {.ids = ids, .n = n, .out = out};
    return mr_db__read(db, worlds_run, &job, err);
}

/* Copies the fortune rows into the arena. */
static int
fortunes_from(const PGresult *r, struct fortunes_job *job, struct mr_err *err)
{
    int n = PQntuples(r);
    job->n = 0;
    job->rows = mr_arena_calloc(job->arena, n > 0 ? (size_t)n : 1, sizeof(*job->rows));
    if (job->rows == NULL)
        return mr_err_set(err, -ENOMEM, "arena full");
    for (int i = 0; i < n; i++) {
        struct mr_fortune *f = &job->rows[i];
        if (mr_db__get_int4(r, i, 0, &f->id) != 0 || PQgetisnull(r, i, 1) || PQfformat(r, 1) != 1)
            return mr_err_set(err, -EIO, "malformed fortune row");
        f->message_len = (size_t)PQgetlength(r, i, 1);
        f->message = mr_arena_strndup(job->arena, PQgetvalue(r, i, 1), f->message_len);
        if (f->message == NULL)
            return mr_err_set(err, -ENOMEM, "arena full");
    }
    job->n = (size_t)n;
    return 0;
}

static int
fortunes_run(struct mr_db__conn *c, void *arg, int64_t deadline_ms, struct mr_err *err)
{
    struct fortunes_job *job = arg;
    int rc = mr_db__pipeline_enter(c, err);
    if (rc == 0)
        rc = mr_db__send(c, MR_DB__STMT_FORTUNES, 0, NULL, NULL, NULL, err);
    if (rc == 0)
        rc = mr_db__sync(c, deadline_ms, err);
    if (rc == 0) {
        PGresult *r = NULL;
        rc = mr_db__result(c, deadline_ms, PGRES_TUPLES_OK, &r, err);
        if (rc == 0)
            rc = fortunes_from(r, job, err);
        PQclear(r);
    }
    return mr_db__pipeline_exit(c, deadline_ms, rc, err);
}

int
mr_db_fortunes_get(struct mr_db *db, struct mr_arena *arena, struct mr_fortune **out, size_t *n,
                   struct mr_err *err)
{
    struct fortunes_job job = {.arena = arena};
    *out = NULL;
    *n = 0;
    int rc = mr_db__read(db, fortunes_run, &job, err);
    if (rc == 0) {
        *out = job.rows;
        *n = job.n;
    }
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

static int
send_update(struct mr_db__conn *c, const struct update_job *job, struct mr_err *err)
{
    int rc = mr_db__send(c, MR_DB__STMT_BEGIN, 0, NULL, NULL, NULL, err);
    for (size_t i = 0; rc == 0 && i < job->n; i++)
        rc = send_world(c, job->rows[i].id, err);
    const char *params[2] = {job->ids_text, job->values_text};
    if (rc == 0)
        rc = mr_db__send(c, MR_DB__STMT_UPDATE, 2, params, NULL, NULL, err);
    if (rc == 0)
        rc = mr_db__send(c, MR_DB__STMT_COMMIT, 0, NULL, NULL, NULL, err);
    return rc;
}

/* BEGIN, a SELECT per row, one UPDATE, COMMIT, sync: one round trip, one transaction. */
static int
update_run(struct mr_db__conn *c, void *arg, int64_t deadline_ms, struct mr_err *err)
{
    struct update_job *job = arg;
    int rc = mr_db__pipeline_enter(c, err);
    if (rc == 0)
        rc = send_update(c, job, err);
    if (rc == 0)
        rc = mr_db__sync(c, deadline_ms, err);
    if (rc == 0)
        rc = expect(c, deadline_ms, PGRES_COMMAND_OK, err);
    for (size_t i = 0; rc == 0 && i < job->n; i++)
        rc = expect(c, deadline_ms, PGRES_TUPLES_OK, err);
    if (rc == 0)
        rc = expect(c, deadline_ms, PGRES_COMMAND_OK, err);
    if (rc == 0)
        rc = expect_commit(c, deadline_ms, err);
    return mr_db__pipeline_exit(c, deadline_ms, rc, err);
}

/* Makes room for n pairs and their text. Worker lifetime: grows, never shrinks. */
static void
reserve(struct mr_db *db, size_t n)
{
    /* "-2147483648," is 12 bytes; two arrays, each with braces and a terminator. */
    size_t text = 2 * (n * 12 + 3);
    if (n > db->pairs_cap) {
        free(db->pairs);
        db->pairs = mr_xcalloc(n, sizeof(*db->pairs));
        db->pairs_cap = n;
    }
    if (text > db->text_cap) {
        free(db->text);
        db->text = mr_xmalloc(text);
        db->text_cap = text;
    }
}

static int
pair_cmp(const void *a, const void *b)
{
    const struct mr_db__pair *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Writes "{a,b,...}" for one field of the m pairs at dst; returns the bytes used with NUL. */
static size_t
format_array(char *dst, const struct mr_db__pair *p, size_t m, bool ids)
{
    size_t len = 0;
    dst[len++] = '{';
    for (size_t i = 0; i < m; i++) {
        /* Room is reserved for the widest int32 per value, so this never truncates. */
        len += (size_t)snprintf(dst + len, 13, "%s%d", i ? "," : "",
                                ids ? p[i].id : p[i].randomnumber);
    }
    dst[len++] = '}';
    dst[len++] = '\0';
    return len;
}

/* Sorts a copy of rows by id, keeps the last value of each id, and formats both arrays. */
static void
prepare_update(struct mr_db *db, const struct mr_world *rows, size_t n, struct update_job *job)
{
    reserve(db, n);
    for (size_t i = 0; i < n; i++)
        db->pairs[i] = (struct mr_db__pair){rows[i].id, rows[i].randomnumber, (uint32_t)i};
    qsort(db->pairs, n, sizeof(*db->pairs), pair_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && db->pairs[m - 1].id == db->pairs[i].id)
            m--; /* a later position of the same id replaces the earlier */
        db->pairs[m++] = db->pairs[i];
    }
    size_t used = format_array(db->text, db->pairs, m, true);
    (void)format_array(db->text + used, db->pairs, m, false);
    *job = (struct update_job){rows, n, db->text, db->text + used};
}

int
mr_db_worlds_update(struct mr_db *db, const struct mr_world *rows, size_t n, struct mr_err *err)
{
    if (n == 0)
        return 0;
    if (n > MAX_UPDATE_ROWS)
        return mr_err_set(err, -EINVAL, "update of %zu rows, at most %d", n, MAX_UPDATE_ROWS);
    struct update_job job;
    prepare_update(db, rows, n, &job);
    return mr_db__write(db, update_run, &job, err);
}
