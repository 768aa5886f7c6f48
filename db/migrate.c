/* SPDX-License-Identifier: BSD-2-Clause */
/* migrate: an application's schema files applied to the primary, once each, in name order
 * (`millrace migrate DIR`). What has been applied is recorded in millrace_migrations(name,
 * applied_at) in the same transaction as the file itself, so a file either applied and was
 * recorded or left nothing behind; a session advisory lock (released when the connection
 * closes, even by a crash) keeps two migrations from interleaving.
 *
 * A file runs through the simple query protocol (it may hold many statements), so it must not
 * hold BEGIN, COMMIT or ROLLBACK of its own: a file that ends the transaction is refused after
 * the fact. The connection is a probe's (no backoff, no breaker, no log line), and every wait,
 * the lock's included, is bounded by timeout_ms per file: on the client and as the session's
 * statement_timeout, so a timed-out file is rolled back by the server. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/lib/clock.h"
#include "db/internal.h"

#define MAX_FILE_BYTES (16u << 20)
#define MAX_FILES 10000

/* The lock's key: any constant every millrace agrees on (the text's hash, spelt out). */
static const char SQL_LOCK[] = "SELECT pg_advisory_lock(hashtext('millrace_migrations'))";
static const char SQL_TABLE[] = "CREATE TABLE IF NOT EXISTS millrace_migrations ("
                                "name text PRIMARY KEY, "
                                "applied_at timestamptz NOT NULL DEFAULT now())";
static const char SQL_APPLIED[] = "SELECT name FROM millrace_migrations";
static const char SQL_RECORD[] = "INSERT INTO millrace_migrations (name) VALUES ($1)";

/* The server's reason, on one line: "ERROR: message (SQLSTATE 42P01)". */
static int
server_error(const PGresult *r, struct mr_err *err)
{
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return mr_err_set(err, -EIO, "%s: %s (SQLSTATE %s)", sev ? sev : "ERROR",
                      msg ? msg : PQresultErrorMessage(r), state ? state : "?");
}

/* Sends sql (with one text parameter when param is not NULL) and reads every result until the
 * last, by deadline_ms. The first error wins; *rows (when not NULL) gets the last rows
 * result, for the caller to PQclear. */
static int
exec_sql(struct mr_db__conn *c, const char *sql, const char *param, int64_t deadline_ms,
         PGresult **rows, struct mr_err *err)
{
    PGconn *pg = c->pg;
    int sent = param != NULL ? PQsendQueryParams(pg, sql, 1, NULL, &param, NULL, NULL, 0)
                             : PQsendQuery(pg, sql);
    if (!sent)
        return mr_db__broken(c, -EIO, err, "send");
    int f;
    while ((f = PQflush(pg)) == 1) {
        int rc = mr_db__wait_fd(PQsocket(pg), POLLOUT | POLLIN, deadline_ms);
        if (rc < 0)
            return mr_db__broken(c, rc, err, rc == -ETIMEDOUT ? "send timed out" : "send");
        if (!PQconsumeInput(pg))
            return mr_db__broken(c, -EIO, err, "receive");
    }
    if (f < 0)
        return mr_db__broken(c, -EIO, err, "send");
    int out = 0;
    for (;;) {
        while (PQisBusy(pg)) {
            int rc = mr_db__wait_fd(PQsocket(pg), POLLIN, deadline_ms);
            if (rc < 0)
                return mr_db__broken(c, rc, err, rc == -ETIMEDOUT ? "timed out" : "receive");
            if (!PQconsumeInput(pg))
                return mr_db__broken(c, -EIO, err, "receive");
        }
        PGresult *r = PQgetResult(pg);
        if (r == NULL)
            return out;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_FATAL_ERROR && out == 0)
            out = server_error(r, err);
        if (st == PGRES_TUPLES_OK && rows != NULL) {
            PQclear(*rows);
            *rows = r;
        } else {
            PQclear(r);
        }
    }
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.sql regular files of dir, sorted by name (bytes, not the locale), in *names (free
 * each and the array). */
static int
list_files(const char *dir, char ***names, int *n, struct mr_err *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return mr_err_set(err, -errno, "%s: %s", dir, strerror(errno));
    char **v = mr_xcalloc(MAX_FILES, sizeof(*v));
    int k = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".sql") != 0)
            continue;
        char path[4096];
        struct stat st;
        (void)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (k == MAX_FILES) {
            rc = mr_err_set(err, -E2BIG, "%s: more than %d files", dir, MAX_FILES);
            break;
        }
        v[k++] = mr_xstrdup(e->d_name);
    }
    (void)closedir(d);
    qsort(v, (size_t)k, sizeof(*v), by_name);
    *names = v;
    *n = k;
    return rc;
}

/* The whole of dir/name, NUL-terminated, in *text (free it). */
static int
read_file(const char *dir, const char *name, char **text, struct mr_err *err)
{
    char path[4096];
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return mr_err_set(err, -errno, "%s: %s", name, strerror(errno));
    char *buf = mr_xmalloc(MAX_FILE_BYTES + 1);
    size_t n = fread(buf, 1, MAX_FILE_BYTES + 1, f);
    int bad = ferror(f);
    (void)fclose(f);
    if (bad || n > MAX_FILE_BYTES || memchr(buf, '\0', n) != NULL) {
        free(buf);
        return mr_err_set(err, -EINVAL, "%s: %s", name,
                          bad                  ? "read failed"
                          : n > MAX_FILE_BYTES ? "over 16 MiB"
                                               : "holds a NUL byte");
    }
    buf[n] = '\0';
    *text = buf;
    return 0;
}

static bool
is_applied(const PGresult *applied, const char *name)
{
    for (int i = 0; applied != NULL && i < PQntuples(applied); i++)
        if (strcmp(PQgetvalue(applied, i, 0), name) == 0)
            return true;
    return false;
}

/* BEGIN, the file, its record, COMMIT; on any failure a ROLLBACK and the reason, named. */
static int
apply(struct mr_db__conn *c, const char *name, const char *text, int timeout_ms, struct mr_err *err)
{
    int64_t deadline = mr_clock_ms() + timeout_ms;
    int rc = exec_sql(c, "BEGIN", NULL, deadline, NULL, err);
    if (rc == 0)
        rc = exec_sql(c, text, NULL, deadline, NULL, err);
    if (rc == 0 && PQtransactionStatus(c->pg) != PQTRANS_INTRANS)
        rc = mr_err_set(err, -EINVAL,
                        "the file ends the transaction itself (BEGIN, COMMIT or "
                        "ROLLBACK inside it): take them out");
    if (rc == 0)
        rc = exec_sql(c, SQL_RECORD, name, deadline, NULL, err);
    if (rc == 0)
        rc = exec_sql(c, "COMMIT", NULL, deadline, NULL, err);
    if (rc != 0) {
        struct mr_err why = *err;
        if (c->pg != NULL && !c->is_broken)
            (void)exec_sql(c, "ROLLBACK", NULL, mr_clock_ms() + timeout_ms, NULL, err);
        return mr_err_set(err, rc, "%s: %s", name, why.msg);
    }
    return 0;
}

/* Lock, table, what is applied; then each file not yet applied. */
static int
migrate_on(struct mr_db__conn *c, const char *dir, int timeout_ms, mr_db_migrated_fn done,
           void *arg, struct mr_err *err)
{
    PGresult *applied = NULL;
    int rc = exec_sql(c, SQL_LOCK, NULL, mr_clock_ms() + timeout_ms, NULL, err);
    if (rc == 0)
        rc = exec_sql(c, SQL_TABLE, NULL, mr_clock_ms() + timeout_ms, NULL, err);
    if (rc == 0)
        rc = exec_sql(c, SQL_APPLIED, NULL, mr_clock_ms() + timeout_ms, &applied, err);
    if (rc != 0) {
        struct mr_err why = *err;
        PQclear(applied);
        return mr_err_set(err, rc, "primary: %s", why.msg);
    }
    char **names = NULL;
    int n = 0;
    rc = list_files(dir, &names, &n, err);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (is_applied(applied, names[i]))
            continue;
        char *text = NULL;
        rc = read_file(dir, names[i], &text, err);
        if (rc == 0)
            rc = apply(c, names[i], text, timeout_ms, err);
        free(text);
        if (rc == 0 && done != NULL)
            done(names[i], arg);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    PQclear(applied);
    return rc;
}

int
mr_db_migrate(const struct mr_db_cfg *cfg, const char *dir, int timeout_ms, mr_db_migrated_fn done,
              void *arg, struct mr_err *err)
{
    if (timeout_ms <= 0)
        return mr_err_set(err, -EINVAL, "timeout must be positive");
    struct mr_db_cfg mcfg = *cfg;
    mcfg.query_timeout_ms = timeout_ms; /* the session's statement_timeout */
    struct mr_backend_slot slot = {.name = "primary"};
    struct mr_db__conn c = {.slot = &slot};
    int rc = mr_db__conn_init(&c, mcfg.primary, &mcfg, err);
    mr_backend_policy_init(&c.policy, &slot, NULL, 0, 0); /* a probe's: see backend.h */
    if (rc == 0)
        rc = mr_db__conn_ready(&c, 0, err);
    if (rc != 0) {
        struct mr_err why = *err;
        mr_db__conn_fini(&c);
        return mr_err_set(err, rc, "primary: %s", why.msg);
    }
    rc = migrate_on(&c, dir, timeout_ms, done, arg, err);
    mr_db__conn_fini(&c); /* also releases the advisory lock */
    return rc;
}
