/* SPDX-License-Identifier: BSD-2-Clause */
/* db: PostgreSQL for one worker process. Persistent connections to the primary and to each
 * replica, opened after fork, with prepared statements; reads go to a healthy replica whose
 * lag is under the limit (round-robin), else to the primary when configured; writes only to
 * the primary. Multi-row work uses libpq pipeline mode: one round trip per call.
 *
 * Every call is bounded: by query_timeout_ms and by the deadline set with mr_db_deadline,
 * whichever comes first. A connection that failed is closed and reopened on a later call
 * after a backoff, never on every request. Failures feed the shared circuit breakers.
 * No libpq type crosses this header. */
#ifndef MR_DB_H
#define MR_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/lib/arena.h"
#include "app/lib/err.h"
#include "app/lib/breaker.h"

#define MR_DB_MAX_REPLICAS 8

struct mr_db;

struct mr_db_cfg {
    const char *primary;                      /* libpq connection string */
    const char *replicas[MR_DB_MAX_REPLICAS]; /* libpq connection strings */
    int n_replicas;
    int connect_timeout_ms;
    int query_timeout_ms;
    int max_replica_lag_ms;
    bool reads_fallback_to_primary; /* no usable replica: read the primary */
    int reconnect_backoff_ms;       /* first wait after a failure; doubles */
    int reconnect_backoff_max_ms;
    struct mr_breaker_cfg breaker;
    int txn_retries;          /* re-runs of a transaction after a serialization failure */
    int txn_retry_backoff_ms; /* the first re-run's wait, doubled per retry, jittered */
};

/* Shared health slots, indexed like the backends: [0] primary, [1..n_replicas] replicas. */
struct mr_db_health {
    struct mr_backend_slot *slots; /* n_replicas + 1 slots in shared memory */
};

/* A statement of the application: prepared under its index on every connection after
 * connect (and reconnect). name is the application's, for messages only; both strings must
 * outlive the handle (a module's static data). */
struct mr_db_stmt {
    const char *name;
    const char *sql;
};

/* Where mr_db_run sends its calls. The transaction modes come last, from MR_DB_TXN on. */
enum mr_db_mode {
    MR_DB_READ,  /* a usable replica (round-robin), else the primary, as route.c says */
    MR_DB_WRITE, /* the primary; each statement commits on its own */
    MR_DB_TXN,   /* the primary, between BEGIN and COMMIT */
    MR_DB_TXN_REPEATABLE_READ, /* MR_DB_TXN at ISOLATION LEVEL REPEATABLE READ */
    MR_DB_TXN_SERIALIZABLE,    /* MR_DB_TXN at ISOLATION LEVEL SERIALIZABLE */
};

/* One statement to run: its index in mr_db_open's stmts and its parameters, as text (NULL:
 * SQL NULL). Borrowed for the call only: libpq copies them into its send buffer. */
struct mr_db_call {
    int stmt;
    int n_params;
    const char *const *params;
};

/* One statement's result (millrace.h's opaque struct mr_rows is this type): in binary when
 * every column is an integer, boolean or string type, else in text (run.c). It is copied
 * into the caller's arena (rows.c) and valid until its reset. */
struct mr_rows;

/* The longest SQLSTATE and its NUL. */
#define MR_DB_SQLSTATE_LEN 6

/* Per-backend counters kept by this worker (for /metrics, summed by the reader). */
struct mr_db_stats {
    uint64_t queries; /* statements sent (a pipeline of 20 counts 20) */
    uint64_t errors;  /* calls that failed (timeouts included) */
};

/* Opens nothing yet: connections are made on first use (so a worker starts even with every
 * database down), and each prepares the n_stmts statements of stmts after connecting. cfg,
 * health and the statements' strings must outlive the handle; the array itself is copied.
 * Returns 0 or -ENOMEM/-EINVAL. */
MR_MUST_CHECK int mr_db_open(const struct mr_db_cfg *cfg, struct mr_db_health health,
                             const struct mr_db_stmt *stmts, int n_stmts, struct mr_db **out,
                             struct mr_err *err);
/* Closes every connection and frees the handle; sets *db to NULL. */
void mr_db_close(struct mr_db **db);

/* Sets the absolute monotonic deadline (ms, app/clock.h) for the calls of the current
 * request; 0 removes it. */
void mr_db_deadline(struct mr_db *db, int64_t deadline_ms);

/* Runs the n calls in one pipeline (one round trip) on one backend chosen by mode; for
 * MR_DB_TXN between BEGIN and COMMIT, and 0 only when the COMMIT succeeded. out[i] (in
 * arena, valid until its reset) is the result of calls[i]. A failed read is retried on the
 * next usable backend (route.c). Returns 0, or -ECONNREFUSED (no usable backend),
 * -ETIMEDOUT (deadline, timeout, or the server's statement_timeout), -EIO (the connection
 * failed, or the server refused a statement: then sqlstate holds its SQLSTATE),
 * -EINVAL (a bad statement index or parameter count: nothing was sent) or -ENOMEM (the
 * arena's ceiling), with the reason in err, naming the backend and the statement.
 * sqlstate (MR_DB_SQLSTATE_LEN bytes, may be NULL) is "" unless the server refused. */
MR_MUST_CHECK int mr_db_run(struct mr_db *db, enum mr_db_mode mode, const struct mr_db_call *calls,
                            int n, struct mr_arena *arena, struct mr_rows **out, char *sqlstate,
                            struct mr_err *err);

/* ---- Transactions whose statements depend on each other's results (txn.c) ---- */

/* A transaction open on the primary, handed to the callback of mr_db_txn. */
struct mr_db_txn;
typedef int (*mr_db_txn_fn)(struct mr_db_txn *t, void *arg);

/* Runs fn inside one transaction on the primary's connection, held for the whole of it: mode
 * is MR_DB_TXN (the server's default isolation, read committed), MR_DB_TXN_REPEATABLE_READ or
 * MR_DB_TXN_SERIALIZABLE. fn runs statements with mr_db_txn_run; BEGIN goes out with the
 * first of them, and COMMIT after fn returns 0, so a transaction of k runs costs k + 1 round
 * trips. fn returning non-zero, or any failure inside, rolls it back. Every run is bounded by
 * query_timeout_ms and the deadline, and the server's statement_timeout is set to what is
 * left, so that a statement past the deadline is stopped by the server and the connection
 * kept. While fn runs, mr_db_run and a nested mr_db_txn refuse (-EINVAL). Returns 0 when the
 * transaction ended as fn asked (committed when *fn_rc is 0, rolled back when not), or a
 * failure as mr_db_run's (the first one, inside fn or of the COMMIT), with sqlstate and err.
 * Nothing is retried here. */
MR_MUST_CHECK int mr_db_txn(struct mr_db *db, enum mr_db_mode mode, mr_db_txn_fn fn, void *arg,
                            struct mr_arena *arena, int *fn_rc, char *sqlstate, struct mr_err *err);
/* Runs n calls inside t in one round trip; out[i] as for mr_db_run, in t's arena. Returns 0
 * or a failure as mr_db_run's (sqlstate likewise), after which the transaction is aborted: every
 * later run returns the same failure at once, and mr_db_txn rolls back. */
MR_MUST_CHECK int mr_db_txn_run(struct mr_db_txn *t, const struct mr_db_call *calls, int n,
                                struct mr_rows **out, char *sqlstate, struct mr_err *err);

/* A result's rows and columns; 0 for a statement that returns none (an UPDATE). */
size_t mr_db_rows_count(const struct mr_rows *r);
int mr_db_rows_columns(const struct mr_rows *r);
/* Rows the statement changed (INSERT, UPDATE, DELETE), or returned for a SELECT. */
long long mr_db_rows_affected(const struct mr_rows *r);
/* An integer value (int2, int4, int8, or text that is a decimal integer): 0 with *out set,
 * -ENODATA for SQL NULL or out of range, -EINVAL for anything else. */
MR_MUST_CHECK int mr_db_rows_int(const struct mr_rows *r, size_t row, int col, long long *out);
/* The text form of a value, NUL-terminated, owned by the result (or, for a binary integer or
 * boolean, formatted into its arena); NULL when the value is SQL NULL, row/col is out of
 * range, or the arena is full. *len (if not NULL) is its length, 0 with NULL. */
const char *mr_db_rows_text(const struct mr_rows *r, size_t row, int col, size_t *len);

/* Which backend a result came from: true for the primary, false for a replica. */
bool mr_db_rows_primary(const struct mr_rows *r);

/* ---- Read-your-writes (positions as text: lsn.c; the statements: exec.c, run.c, route.c) ----
 * A WAL position is PostgreSQL's pg_lsn as a number; 0 means none. A call that commits (a
 * MR_DB_WRITE or MR_DB_TXN mr_db_run) reads pg_current_wal_insert_lsn() on the same
 * connection right after its COMMIT, in the same round trip; a read given a floor runs only
 * where that position has been replayed (route.c). */

/* The longest text of a position ("FFFFFFFF/FFFFFFFF") and its NUL. */
#define MR_DB_LSN_LEN 18

/* Parses s[0..len) as pg_lsn's text: 1 to 8 hex digits, '/', 1 to 8 hex digits, nothing
 * else (no spaces, no sign). Returns 0 with *out set, or -EINVAL. */
MR_MUST_CHECK int mr_db_lsn_parse(const char *s, size_t len, uint64_t *out);
/* Writes lsn as pg_lsn's text ("16/B374D848", upper case) into buf; returns its length, 0
 * when size is too small (MR_DB_LSN_LEN always suffices). */
size_t mr_db_lsn_format(uint64_t lsn, char *buf, size_t size);
/* The next mr_db_run's reads must see WAL position lsn (a token the client presented, or a
 * commit of the same request): only a replica that has replayed it runs them, else the
 * primary. 0: no floor. Applies to that one call (mr_db_run clears it). */
void mr_db_read_after(struct mr_db *db, uint64_t lsn);
/* The WAL insert position read right after the last mr_db_run's commit: the token of that
 * write. 0 when that call did not commit (a read, a failure) or the position could not be
 * read after the commit (the commit stands). */
uint64_t mr_db_committed(const struct mr_db *db);

/* Checks that every statement prepares on the primary, on a connection of its own, bounded
 * by connect_timeout_ms and then query_timeout_ms. Returns 0; -EINVAL when the server
 * refused a statement, with err as `statement "name": reason (sqlstate S)`; or
 * -ECONNREFUSED/-ETIMEDOUT/-EIO when the primary could not be reached or asked, which says
 * nothing about the statements. For the module check (app/module/). */
MR_MUST_CHECK int mr_db_check_stmts(const struct mr_db_cfg *cfg, const struct mr_db_stmt *stmts,
                                    int n_stmts, struct mr_err *err);

/* `millrace migrate`: applies every *.sql file of dir, in byte order of their names, that is
 * not yet recorded in the primary's millrace_migrations table (made when missing), each file
 * and its record in one transaction, all under a session advisory lock, on a connection of its
 * own. done(name, arg) (may be NULL) is called after each file commits. Every wait is bounded
 * by timeout_ms per file (also the session's statement_timeout). Returns 0, or a negative
 * errno with err naming the file and the server's reason ("002_x.sql: ERROR: ... (SQLSTATE
 * 42601)"), or "primary: ..." when it could not be reached or locked; the failed file left
 * nothing behind, the ones before it stay applied. */
typedef void (*mr_db_migrated_fn)(const char *name, void *arg);
MR_MUST_CHECK int mr_db_migrate(const struct mr_db_cfg *cfg, const char *dir, int timeout_ms,
                                mr_db_migrated_fn done, void *arg, struct mr_err *err);

/* This worker's counters for backend i (0 primary, 1.. replicas). */
const struct mr_db_stats *mr_db_stats(const struct mr_db *db, int i);

/* ---- The probe, for the prober (app/prober/), which publishes what it answers ---- */

struct mr_db_probe;

/* Connects nothing yet; its connections never back off and feed no breaker. health's slots
 * receive only the replicas' lag. Returns 0 or -EINVAL. */
MR_MUST_CHECK int mr_db_probe_open(const struct mr_db_cfg *cfg, struct mr_db_health health,
                                   struct mr_db_probe **out, struct mr_err *err);
/* Backends to probe each round: 1 + n_replicas, indexed like the health slots. */
int mr_db_probe_count(const struct mr_db_probe *p);
/* Probes backend i: connects if needed (bounded by connect_timeout_ms), then one statement
 * (query_timeout_ms). On the primary it samples pg_current_wal_lsn(); on a replica it reads
 * pg_last_wal_replay_lsn() and writes lag_bytes/lag_ms into slot i, measured against the
 * primary's samples, so probe 0 first in each round; either position goes to slot i's wal_lsn.
 * Returns 0 when the backend is usable in its role, else -ECONNREFUSED/-ETIMEDOUT/-EIO with the
 * reason in err (a primary in recovery or a promoted replica is not usable). Logs nothing. */
MR_MUST_CHECK int mr_db_probe_backend(struct mr_db_probe *p, int i, struct mr_err *err);
void mr_db_probe_close(struct mr_db_probe **p);

#endif
