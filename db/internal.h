/* SPDX-License-Identifier: BSD-2-Clause */
/* db/internal.h: what the files of db/ share, and nothing outside db/ may use: one
 * connection (conn.c), the pipeline and its bounded waits (exec.c), backend choice (route.c),
 * the application's statements run as one pipeline (run.c), the handle (db.c), the load-time
 * check of the statements (check.c) and the probe (probe.c). libpq types may
 * appear here, never in db/db.h.
 *
 * Deadlines are absolute monotonic milliseconds (app/lib/clock.h); 0 means "none" only where a
 * comment says so. Every wait on a socket goes through mr_db__wait_fd with a deadline. */
#ifndef MR_DB_INTERNAL_H
#define MR_DB_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "app/lib/backend.h"
#include "db/db.h"

/* db/'s own statements, prepared on every worker connection before the application's, which
 * are prepared as "s0", "s1"... (their index): no application name can clash with these. */
#define MR_DB__STMT_BEGIN "mr_begin"
#define MR_DB__STMT_COMMIT "mr_commit"
#define MR_DB__STMT_BEGIN_RR "mr_begin_rr"
#define MR_DB__STMT_BEGIN_SER "mr_begin_ser"
#define MR_DB__STMT_TXN_TIMEOUT "mr_txn_timeout" /* $1: statement_timeout for the transaction */
/* Read-your-writes (exec.c): the WAL insert position (after a commit) and the replayed one. */
#define MR_DB__STMT_LSN "mr_lsn"
#define MR_DB__STMT_REPLAY "mr_replay"
#define MR_DB__N_OWN 7

/* A statement a connection prepares. n_params is learned from the server when it is
 * prepared (the same on every backend), -1 before; a call with another count is refused
 * before it is sent, since the server's answer to it (SQLSTATE 08P01, a protocol violation)
 * would count against the backend in the breaker. */
struct mr_db__stmt {
    const char *name; /* prepared as */
    const char *sql;
    const char *label; /* for messages: the application's name */
    int n_params;
    int result_format; /* 1 binary when every column is of a type rows.c decodes, else 0 */
};

/* Copies res (a statement's result) into arena as *out (rows.c); the caller still clears
 * res. Returns 0 or -ENOMEM past the arena's ceiling. */
MR_MUST_CHECK int mr_db__rows_copy(struct mr_arena *arena, const PGresult *res,
                                   struct mr_rows **out, struct mr_err *err);

/* Whether every column of a statement described by r may come back in binary (rows.c). */
bool mr_db__binary_ok(const PGresult *r);
/* Marks a copied result as the primary's or a replica's (millrace.h's mr_rows_source). */
void mr_db__rows_from(struct mr_rows *r, bool is_primary);

/* One libpq connection and its reconnect state. `pg` is NULL while closed; a closed
 * connection whose policy is waiting is in backoff and is not tried. */
struct mr_db__conn {
    PGconn *pg;
    struct mr_backend_slot *slot; /* shared health of this backend; its name names it */
    struct mr_db_stats *stats;    /* this worker's counters, or NULL (prober) */
    struct mr_db__stmt *stmts;    /* shared by the handle's connections; n_params written */
    int n_stmts;
    /* PQconnectStartParams arrays (NULL-terminated), built once from the conninfo. */
    const char **keywords;
    const char **values;
    PQconninfoOption *parsed; /* owns the strings the arrays point to, but `options` */
    char *options;            /* the caller's options plus our statement_timeout */
    int connect_timeout_ms;
    int query_timeout_ms;
    struct mr_backend_policy policy; /* backoff and breaker reports; a probe's has neither */
    int syncs;                       /* pipeline syncs sent whose PGRES_PIPELINE_SYNC is unread */
    bool is_broken;      /* transport failed or timed out: close it when the call ends */
    bool is_fault;       /* the last failure indicts the backend (feeds the breaker) */
    bool is_primary;     /* conns[0]: results are marked as the primary's (rows.c) */
    uint64_t replay_lsn; /* a replica's replayed position as this worker last asked it */
    char sqlstate[MR_DB_SQLSTATE_LEN]; /* of the last server error; "" when none */
};

/* Read-your-writes state of the next mr_db_run (db.c, route.c, run.c). */
struct mr_db__rw {
    uint64_t floor;     /* reads must see this WAL position; 0: any replica (set per call) */
    uint64_t committed; /* the WAL insert position after the last call's commit; 0: none */
    bool ask;           /* this attempt sends the replay guard ahead of the reads */
    bool behind;        /* the guard said the replica has not replayed floor: results void */
};

/* An attempt's work on a ready connection; returns 0 or -ERRNO with err set. */
typedef int (*mr_db__run_fn)(struct mr_db__conn *c, void *arg, int64_t deadline_ms,
                             struct mr_err *err);

struct mr_db {
    const struct mr_db_cfg *cfg;
    struct mr_db_health health;
    int n_conns; /* 1 + n_replicas; [0] is the primary */
    struct mr_db__conn conns[1 + MR_DB_MAX_REPLICAS];
    struct mr_db_stats stats[1 + MR_DB_MAX_REPLICAS];
    int next_replica;    /* round-robin cursor, 0..n_replicas-1 */
    int64_t deadline_ms; /* of the current request; 0: none */
    /* MR_DB__N_OWN of db/'s own, then the application's; names[i] is stmts[i]'s name when
     * it is the application's. Worker lifetime. */
    struct mr_db__stmt *stmts;
    int n_stmts;
    char (*names)[16];
    char sqlstate[MR_DB_SQLSTATE_LEN]; /* of the last attempt (route.c) */
    bool in_txn; /* a mr_db_txn callback runs: the primary's connection is taken (txn.c) */
    struct mr_db__rw rw;
};

/* min(now + timeout_ms, limit_ms), where limit_ms 0 means no limit. */
static inline int64_t
mr_db__deadline(int64_t now_ms, int timeout_ms, int64_t limit_ms)
{
    int64_t d = now_ms + timeout_ms;
    return limit_ms != 0 && limit_ms < d ? limit_ms : d;
}

/* conn.c */
MR_MUST_CHECK int mr_db__conn_init(struct mr_db__conn *c, const char *conninfo,
                                   const struct mr_db_cfg *cfg, struct mr_err *err);
void mr_db__conn_fini(struct mr_db__conn *c);
/* One connection per backend of cfg: conns[0] the primary, conns[i] replica i, on slots[i],
 * each preparing stmts after every connect; is_probe gives them a probe's policy
 * (backend.h). Connects to nothing. On failure the ones made are finished again. */
MR_MUST_CHECK int mr_db__conns_init(struct mr_db__conn *conns, const struct mr_db_cfg *cfg,
                                    struct mr_backend_slot *slots, struct mr_db__stmt *stmts,
                                    int n_stmts, bool is_probe, struct mr_err *err);
/* Finishes conns[n-1] down to conns[0]; harmless on a connection never initialised. */
void mr_db__conns_fini(struct mr_db__conn *conns, int n);
bool mr_db__conn_waiting(const struct mr_db__conn *c, int64_t now_ms);
MR_MUST_CHECK int mr_db__conn_ready(struct mr_db__conn *c, int64_t limit_ms, struct mr_err *err);
/* Prepares c's statements in one pipeline and learns their parameter counts. A refusal
 * names the statement by its label. Called by conn_ready after every connect. */
MR_MUST_CHECK int mr_db__conn_prepare(struct mr_db__conn *c, int64_t deadline_ms,
                                      struct mr_err *err);
void mr_db__conn_fail(struct mr_db__conn *c, int64_t now_ms);

/* exec.c */
MR_MUST_CHECK int mr_db__wait_fd(int fd, short events, int64_t deadline_ms);
MR_MUST_CHECK int mr_db__broken(struct mr_db__conn *c, int code, struct mr_err *err,
                                const char *what);
MR_MUST_CHECK int mr_db__pipeline_enter(struct mr_db__conn *c, struct mr_err *err);
/* result_format: 1 binary, 0 text (libpq allows one format for all columns). */
MR_MUST_CHECK int mr_db__send(struct mr_db__conn *c, const char *stmt, int n_params,
                              const char *const *values, const int *lengths, const int *formats,
                              int result_format, struct mr_err *err);
MR_MUST_CHECK int mr_db__sync(struct mr_db__conn *c, int64_t deadline_ms, struct mr_err *err);
MR_MUST_CHECK int mr_db__result(struct mr_db__conn *c, int64_t deadline_ms, ExecStatusType want,
                                PGresult **out, struct mr_err *err);
/* The next result of a statement of any kind: rows (PGRES_TUPLES_OK) or none
 * (PGRES_COMMAND_OK). */
MR_MUST_CHECK int mr_db__result_any(struct mr_db__conn *c, int64_t deadline_ms, PGresult **out,
                                    struct mr_err *err);
MR_MUST_CHECK int mr_db__pipeline_exit(struct mr_db__conn *c, int64_t deadline_ms, int rc,
                                       struct mr_err *err);
/* Whether a server error indicts the backend: SQLSTATE class 08, 53, 57 or 58, or none
 * (NULL: libpq's own, about the connection). */
bool mr_db__is_fault_sqlstate(const char *state);
MR_MUST_CHECK int mr_db__get_int8(const PGresult *r, int row, int col, int64_t *out);
MR_MUST_CHECK int mr_db__get_bool(const PGresult *r, int row, int col, bool *out);

/* run.c: the one place every transaction's COMMIT is sent and its answer read (mr_db_run's
 * MR_DB_TXN* calls and txn.c's): send it, sync, then read it. 0 only when it committed. */
MR_MUST_CHECK int mr_db__commit_send(struct mr_db__conn *c, struct mr_err *err);
MR_MUST_CHECK int mr_db__commit_read(struct mr_db__conn *c, int64_t deadline_ms,
                                     struct mr_err *err);

/* txn.c: the prepared BEGIN of a MR_DB_TXN* mode (its isolation level). */
const char *mr_db__begin_stmt(enum mr_db_mode mode);
/* exec.c: sends stmt (MR_DB__STMT_LSN or MR_DB__STMT_REPLAY) into the pipeline, and reads
 * its answer: a position, 0 for NULL (the replay position of a server not in recovery). */
MR_MUST_CHECK int mr_db__lsn_send(struct mr_db__conn *c, const char *stmt, struct mr_err *err);
MR_MUST_CHECK int mr_db__lsn_read(struct mr_db__conn *c, int64_t deadline_ms, uint64_t *out,
                                  struct mr_err *err);

/* route.c: run fn on a replica (round-robin, lag-checked), then the primary; or on the
 * primary only. Both report to the breaker and the counters. */
MR_MUST_CHECK int mr_db__read(struct mr_db *db, mr_db__run_fn fn, void *arg, struct mr_err *err);
MR_MUST_CHECK int mr_db__write(struct mr_db *db, mr_db__run_fn fn, void *arg, struct mr_err *err);
/* A read that must see db->rw.floor: a replica known to have replayed it (the prober's view
 * or this worker's last ask), else, when the prober's view predates the token, one replica
 * asked with the guard (db->rw.ask) in the same round trip, else the primary. */
MR_MUST_CHECK int mr_db__read_after(struct mr_db *db, mr_db__run_fn fn, void *arg,
                                    struct mr_err *err);

/* Whether replica i (1..n_replicas) may take a read now: lag within max_replica_lag_ms (unless
 * ignore_lag), not in reconnect backoff, breaker routable. The breaker is asked last: it may
 * make the caller its one half-open probe. */
bool mr_db__replica_usable(struct mr_db *db, int i, int64_t now_ms, bool ignore_lag);

/* The round-robin pick: from *cursor (0..n-1), the first replica index i (1..n) not in `tried`
 * (bit i) for which usable(arg, i) holds, asked in that order and no further; the cursor moves
 * past it. -1 when none. Pure given `usable`, so the rotation is unit-tested. */
typedef bool (*mr_db__usable_fn)(void *arg, int i);
int mr_db__next_replica(int n, int *cursor, unsigned tried, mr_db__usable_fn usable, void *arg);

#endif
