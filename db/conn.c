/* SPDX-License-Identifier: BSD-2-Clause */
/* conn: one libpq connection's life: the connect parameters built once from the conninfo, a
 * non-blocking connect bounded by connect_timeout_ms, the prepared statements, and the
 * reconnect backoff after a failure.
 *
 * A connection is opened lazily by the first call that needs it. After a failure it is
 * closed and not tried again before its backoff ends; the backoff, the breaker reports and
 * the state-change lines are app/lib/backend.c's, the same policy as Redis's. So a dead
 * backend costs one connect attempt per backoff period, never one per request.
 *
 * Surprises: PQconnectStartParams resolves host names with a blocking getaddrinfo(), outside
 * our timeout; configure addresses (or /etc/hosts names) for the backends. statement_timeout
 * is set through the startup packet's options, so the server also stops a statement we gave
 * up on: we close the connection on a timeout instead of PQcancel(), which in libpq 15 makes
 * a blocking connect of its own. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/lib/clock.h"
#include "db/internal.h"

/* Notices (e.g. "there is no transaction in progress") would go to stderr unformatted;
 * nothing in them changes what a caller does. */
static void
quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Returns the options value with our statement_timeout appended to the caller's own. */
static char *
options_with_timeout(const char *theirs, int timeout_ms)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s%s-c statement_timeout=%d", theirs ? theirs : "",
                     theirs && *theirs ? " " : "", timeout_ms);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return NULL;
    return mr_xstrdup(buf);
}

/* Builds the keyword/value arrays for PQconnectStartParams from the conninfo, once, so that a
 * reconnect parses nothing. Returns 0 or -EINVAL (bad conninfo). */
static int
build_params(struct mr_db__conn *c, const char *conninfo, struct mr_err *err)
{
    char *msg = NULL;
    c->parsed = PQconninfoParse(conninfo, &msg);
    if (c->parsed == NULL) {
        int rc = mr_err_set(err, -EINVAL, "bad conninfo: %s", msg ? msg : "out of memory");
        PQfreemem(msg);
        return rc;
    }
    size_t n = 0;
    const char *theirs = NULL;
    for (PQconninfoOption *o = c->parsed; o->keyword != NULL; o++) {
        if (o->val != NULL && strcmp(o->keyword, "options") != 0)
            n++;
        else if (o->val != NULL)
            theirs = o->val;
    }
    c->options = options_with_timeout(theirs, c->query_timeout_ms);
    if (c->options == NULL)
        return mr_err_set(err, -EINVAL, "bad conninfo: options too long");
    /* Ours: options and fallback_application_name, then the NULL terminator. */
    c->keywords = mr_xcalloc(n + 3, sizeof(*c->keywords));
    c->values = mr_xcalloc(n + 3, sizeof(*c->values));
    size_t k = 0;
    for (PQconninfoOption *o = c->parsed; o->keyword != NULL; o++) {
        if (o->val != NULL && strcmp(o->keyword, "options") != 0) {
            c->keywords[k] = o->keyword;
            c->values[k++] = o->val;
        }
    }
    c->keywords[k] = "options";
    c->values[k++] = c->options;
    c->keywords[k] = "fallback_application_name";
    c->values[k++] = "millrace";
    return 0;
}

int
mr_db__conn_init(struct mr_db__conn *c, const char *conninfo, const struct mr_db_cfg *cfg,
                 struct mr_err *err)
{
    c->pg = NULL;
    c->connect_timeout_ms = cfg->connect_timeout_ms;
    c->query_timeout_ms = cfg->query_timeout_ms;
    mr_backend_policy_init(&c->policy, c->slot, &cfg->breaker, cfg->reconnect_backoff_ms,
                           cfg->reconnect_backoff_max_ms);
    c->syncs = 0;
    c->is_broken = false;
    c->is_fault = false;
    c->sqlstate[0] = '\0';
    if (conninfo == NULL)
        return mr_err_set(err, -EINVAL, "%s: no conninfo", c->slot->name);
    return build_params(c, conninfo, err);
}

void
mr_db__conn_fini(struct mr_db__conn *c)
{
    if (c->pg != NULL)
        PQfinish(c->pg);
    c->pg = NULL;
    PQconninfoFree(c->parsed);
    c->parsed = NULL;
    free(c->options);
    c->options = NULL;
    free(c->keywords);
    c->keywords = NULL;
    free(c->values);
    c->values = NULL;
}

int
mr_db__conns_init(struct mr_db__conn *conns, const struct mr_db_cfg *cfg,
                  struct mr_backend_slot *slots, struct mr_db__stmt *stmts, int n_stmts,
                  bool is_probe, struct mr_err *err)
{
    for (int i = 0; i < 1 + cfg->n_replicas; i++) {
        struct mr_db__conn *c = &conns[i];
        c->slot = &slots[i];
        c->stmts = stmts;
        c->n_stmts = n_stmts;
        int rc = mr_db__conn_init(c, i == 0 ? cfg->primary : cfg->replicas[i - 1], cfg, err);
        if (is_probe)
            mr_backend_policy_init(&c->policy, c->slot, NULL, 0, 0); /* see backend.h */
        if (rc != 0) {
            mr_db__conns_fini(conns, i + 1);
            return rc;
        }
    }
    return 0;
}

void
mr_db__conns_fini(struct mr_db__conn *conns, int n)
{
    for (int i = n - 1; i >= 0; i--)
        mr_db__conn_fini(&conns[i]);
}

/* Closed and in backoff (app/lib/backend.c, which voids it once the prober saw the database
 * come back). */
bool
mr_db__conn_waiting(const struct mr_db__conn *c, int64_t now_ms)
{
    return c->pg == NULL && mr_backend_waiting(&c->policy, now_ms);
}

void
mr_db__conn_fail(struct mr_db__conn *c, int64_t now_ms)
{
    if (c->pg != NULL)
        PQfinish(c->pg);
    c->pg = NULL;
    c->syncs = 0;
    c->is_broken = false;
    mr_backend_lost(&c->policy, now_ms, NULL);
}

/* Drives PQconnectPoll until the connection is made or deadline_ms passes. */
static int
connect_poll(struct mr_db__conn *c, int64_t deadline_ms, struct mr_err *err)
{
    c->pg = PQconnectStartParams(c->keywords, c->values, 0);
    if (c->pg == NULL)
        return mr_err_set(err, -ENOMEM, "connect: out of memory");
    if (PQstatus(c->pg) == CONNECTION_BAD)
        return mr_db__broken(c, -ECONNREFUSED, err, "connect");
    /* Per the libpq docs, start as if PQconnectPoll had returned PGRES_POLLING_WRITING. */
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED)
            return mr_db__broken(c, -ECONNREFUSED, err, "connect");
        /* The socket can change between polls (several hosts or addresses are tried). */
        int rc = mr_db__wait_fd(PQsocket(c->pg), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                                deadline_ms);
        if (rc == -ETIMEDOUT)
            return mr_db__broken(c, rc, err, "connect timed out");
        if (rc < 0)
            return mr_err_set(err, rc, "connect: poll: %s", strerror(-rc));
        st = PQconnectPoll(c->pg);
    }
    /* Non-blocking, so that a send never blocks outside our poll(); pipeline mode wants it. */
    if (PQsetnonblocking(c->pg, 1) != 0)
        return mr_db__broken(c, -EIO, err, "set non-blocking");
    (void)PQsetNoticeProcessor(c->pg, quiet_notice, NULL);
    return 0;
}

/* Names the statement a refusal was about, keeping the server's reason. */
static int
name_stmt(struct mr_err *err, int rc, const struct mr_db__stmt *st)
{
    if (err == NULL)
        return rc;
    struct mr_err why = *err;
    return mr_err_set(err, rc, "statement \"%s\": %s", st->label, why.msg);
}

/* Every statement of the connection prepared and described in one pipeline: one round trip.
 * The description gives the parameter count that mr_db_run checks calls against. */
int
mr_db__conn_prepare(struct mr_db__conn *c, int64_t deadline_ms, struct mr_err *err)
{
    int rc = mr_db__pipeline_enter(c, err);
    for (int i = 0; rc == 0 && i < c->n_stmts; i++) {
        if (!PQsendPrepare(c->pg, c->stmts[i].name, c->stmts[i].sql, 0, NULL) ||
            !PQsendDescribePrepared(c->pg, c->stmts[i].name))
            rc = mr_db__broken(c, -EIO, err, "prepare");
    }
    if (rc == 0)
        rc = mr_db__sync(c, deadline_ms, err);
    for (int i = 0; rc == 0 && i < c->n_stmts; i++) {
        PGresult *r = NULL;
        rc = mr_db__result(c, deadline_ms, PGRES_COMMAND_OK, &r, err);
        PQclear(r);
        r = NULL;
        if (rc == 0)
            rc = mr_db__result(c, deadline_ms, PGRES_COMMAND_OK, &r, err);
        if (rc == 0) {
            c->stmts[i].n_params = PQnparams(r);
            c->stmts[i].result_format = mr_db__binary_ok(r) ? 1 : 0;
        }
        PQclear(r);
        if (rc != 0 && c->sqlstate[0] != '\0')
            rc = name_stmt(err, rc, &c->stmts[i]);
    }
    return mr_db__pipeline_exit(c, deadline_ms, rc, err);
}

/* An idle connection has nothing to read. If its socket is readable, the server has said
 * something on its own, which after a restart or a fast shutdown is "terminating connection"
 * and EOF: drop it now, before a request is sent into it, and let the caller reconnect at
 * once. (libpq would not notice by itself: the message sits unparsed until the next query.)
 * The rare harmless unsolicited message (a ParameterStatus) costs one reconnect. One poll(2)
 * with no wait per call. */
static bool
conn_stale(const struct mr_db__conn *c)
{
    struct pollfd p = {PQsocket(c->pg), POLLIN, 0};
    return p.fd < 0 || poll(&p, 1, 0) != 0;
}

int
mr_db__conn_ready(struct mr_db__conn *c, int64_t limit_ms, struct mr_err *err)
{
    if (c->pg != NULL && conn_stale(c)) {
        PQfinish(c->pg); /* not a failure of this call: reconnect now, no backoff */
        c->pg = NULL;
        c->syncs = 0;
        mr_backend_retry_now(&c->policy);
    }
    if (c->pg != NULL)
        return 0;
    int64_t now = mr_clock_ms();
    if (mr_db__conn_waiting(c, now))
        return mr_err_set(err, -ECONNREFUSED, "reconnect backoff, %lld ms left",
                          (long long)mr_backend_wait_ms(&c->policy, now));
    c->is_broken = false;
    int rc = connect_poll(c, mr_db__deadline(now, c->connect_timeout_ms, limit_ms), err);
    if (rc == 0 && c->n_stmts > 0)
        rc = mr_db__conn_prepare(c, mr_db__deadline(mr_clock_ms(), c->query_timeout_ms, limit_ms),
                                 err);
    if (rc != 0) {
        /* Whatever the server said, the connection cannot serve: not a statement's error. */
        c->sqlstate[0] = '\0';
        /* A failed connect or prepare indicts the backend, whatever the detail. pipeline_exit
         * has already closed a broken connection and armed its backoff. */
        c->is_fault = true;
        if (c->pg != NULL)
            mr_db__conn_fail(c, mr_clock_ms());
    }
    return rc;
}
