/* SPDX-License-Identifier: BSD-2-Clause */
/* scoreboard: the one shared-memory region, mapped by the manager before the first fork.
 * It holds a slot per worker (written only by that worker, read by the manager and by
 * /status), pool counters, per-route request counters, latency histograms and labels
 * (atomic, relaxed, no lock on the request path), and the backend health slots
 * (app/lib/breaker.h). Readers outside app/board go through the census and the slot iterator
 * below rather than scanning the slots themselves.
 * A worker never writes another worker's slot; the manager writes a slot only while no live
 * process owns it (before fork, after reap). */
#ifndef MR_SCOREBOARD_H
#define MR_SCOREBOARD_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "app/lib/err.h"
#include "app/lib/breaker.h"
#include "db/db.h"

#define MR_SB_MAX_WORKERS 512
#define MR_SB_MAX_ROUTES 32
#define MR_SB_URI 128
/* Latency buckets: upper bounds 2^k microseconds, k = 0..MR_HIST_BUCKETS-2 (1 µs .. ~67 s),
 * the last bucket is +Inf. Log scale keeps the relative error per bucket at most 2x. */
#define MR_HIST_BUCKETS 28
#define MR_SB_LABEL 64 /* a route's path as /status and /metrics name it */

/* The one way the board's readers load a counter: relaxed, a moment's view: nothing on the request
 * path waits for it. */
#define MR_SB_LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

enum mr_worker_state {
    MR_W_FREE = 0,     /* slot unused */
    MR_W_STARTING = 1, /* forked, not yet accepting */
    MR_W_IDLE = 2,     /* waiting in accept() */
    MR_W_READING = 3,  /* reading a request from nginx */
    MR_W_BUSY = 4,     /* running the handler */
    MR_W_FINISHING = 5 /* writing the response */
};
#define MR_W_NSTATES 6

struct mr_sb_worker {
    atomic_int pid;                   /* manager: set at fork, cleared at reap */
    atomic_uint generation;           /* manager: the config generation it was started with */
    atomic_int state;                 /* worker */
    atomic_int quitting;              /* manager: SIGQUIT sent */
    atomic_int room;                  /* worker: 1 while it can take another pool connection */
    atomic_int route;                 /* worker: the route whose handler runs now, -1 outside one */
    atomic_int conns;                 /* worker: FastCGI connections it holds (app/serve/conns.h) */
    atomic_int_fast64_t started_ms;   /* manager: monotonic */
    atomic_int_fast64_t req_start_us; /* worker: monotonic start of the current request */
    atomic_int_fast64_t idle_since_ms; /* worker: monotonic time it last became idle */
    atomic_uint_fast64_t requests;     /* worker: requests served */
    atomic_int_fast64_t last_duration_us;
    atomic_int_fast64_t last_backend_us;
    atomic_long rss_kb; /* manager: sampled */
    char method[8];     /* worker; may be read torn by /status, display only */
    char uri[MR_SB_URI];
};

/* Why a worker closed a FastCGI connection nginx had not closed, for
 * millrace_fcgi_connections_closed_total{reason}. A connection nginx closes, or one it did not
 * ask to keep (connection per request), is not counted: that is the normal end of one. */
enum mr_sb_conn_close {
    MR_SB_CLOSE_IDLE,       /* kept, idle past conn_idle_timeout_ms */
    MR_SB_CLOSE_UNANSWERED, /* fresh or partly read, silent past read_timeout_ms */
    MR_SB_CLOSE_GIVEN_UP,   /* the worker was full: closed to take a newcomer */
    MR_SB_CLOSE_STOPPING,   /* the worker was stopping: reload, recycle, pool shrink, stop */
    MR_SB_CLOSE_NREASONS
};

#define MR_SB_REFUSALS 64
#define MR_SB_REFUSAL_LOG_MS 60000

struct mr_sb_route {
    atomic_uint_fast64_t by_class[6]; /* [1..5] = 1xx..5xx */
    atomic_uint_fast64_t hist[MR_HIST_BUCKETS];
    atomic_uint_fast64_t sum_us;
    atomic_uint_fast64_t crashes; /* manager: workers that died in this route's handler */
};

struct mr_sb_pool {
    atomic_int_fast64_t start_time; /* wall clock seconds */
    atomic_uint_fast64_t accepted;
    atomic_uint_fast64_t respawns;
    atomic_uint_fast64_t killed_timeout;
    atomic_uint_fast64_t slow_requests;
    atomic_uint_fast64_t max_children_reached;
    atomic_uint_fast64_t shed;
    atomic_uint_fast64_t clients_refused; /* connections from outside listen_allowed_clients */
    atomic_uint_fast64_t fcgi_refused;    /* connections whose record stream broke the protocol */
    atomic_uint_fast64_t conns_closed[MR_SB_CLOSE_NREASONS]; /* by enum mr_sb_conn_close */
    atomic_int listen_queue;
    atomic_int max_listen_queue;
    atomic_int max_active;
    atomic_uint generation;
};

/* A route's name for the renderers, copied in before the first fork so that the board needs
 * nothing from the request path to label its counters. */
struct mr_sb_label {
    char method[8];
    char path[MR_SB_LABEL];
};

struct mr_sb {
    struct mr_sb_pool pool;
    struct mr_sb_worker workers[MR_SB_MAX_WORKERS];
    struct mr_sb_worker status_proc; /* the manager's status process (status_listen) */
    struct mr_sb_route routes[MR_SB_MAX_ROUTES + 1]; /* the last one: unmatched (404/405) */
    struct mr_sb_label labels[MR_SB_MAX_ROUTES];     /* routes[i]'s name, i < n_labels */
    int n_labels;
    struct mr_backend_slot redis;
    struct mr_backend_slot pg[MR_DB_MAX_REPLICAS + 1]; /* [0] primary, [1..] replicas */
    int n_pg;
    /* Cache counters, summed over workers. */
    atomic_uint_fast64_t cache_hits, cache_misses, cache_errors;
    atomic_uint_fast64_t l1_hits, l1_misses, l1_evictions, l1_invalidations, l1_flushes;
    atomic_uint_fast64_t db_queries[MR_DB_MAX_REPLICAS + 1];
    atomic_uint_fast64_t db_errors[MR_DB_MAX_REPLICAS + 1];
    /* When a refused client address was last logged, by a hash of it (mr_sb_log_refusal). */
    struct mr_sb_refusal {
        atomic_uint_fast64_t addr_hash;
        atomic_int_fast64_t logged_ms;
    } refusals[MR_SB_REFUSALS];
};

/* Whether a refusal of the client whose address hashes to addr_hash should be logged now:
 * at most once a minute per address, across every worker (a table of MR_SB_REFUSALS slots;
 * two addresses that share a slot may each be logged more often, never less than once a
 * minute). */
bool mr_sb_log_refusal(struct mr_sb *sb, uint64_t addr_hash, int64_t now_ms);

/* Maps a zeroed shared (MAP_SHARED|MAP_ANONYMOUS) region; names the health slots.
 * Returns NULL with the reason in err. */
struct mr_sb *mr_sb_new(int n_replicas, struct mr_err *err);
void mr_sb_free(struct mr_sb **sb);

/* Names route i (0..MR_SB_MAX_ROUTES-1) for /status and /metrics; n_labels grows to cover it.
 * Called by the manager before it forks the workers of a table (at start and on reload); a
 * row that names another route than before has its counters zeroed. A longer method or path
 * is cut. */
void mr_sb_label_route(struct mr_sb *sb, int i, const char *method, const char *path);

/* One pass over the worker slots: everything the reload rule, the pool rule, the checks,
 * /status and /metrics count. Live: a slot with a process. Serving: live and not asked to quit.
 * Relaxed loads: a moment's view, exact only in the manager (the slots' pid/quitting writer). */
struct mr_sb_census {
    int live;
    int quitting;               /* live ones asked to quit */
    int by_state[MR_W_NSTATES]; /* live ones by enum mr_worker_state */
    int idle, active;           /* live: idle; reading, busy or finishing */
    long rss_kb;                /* summed over the live ones */
    int conns;                  /* FastCGI connections held, summed over the live ones */
    int serving;                /* live - quitting */
    int serving_idle, serving_starting;
    int idle_expired; /* serving idle ones idle since before idle_before_ms */
    long serving_rss_kb;
    int new_serving, new_ready; /* serving ones of `generation`; ready: past starting */
    int old_serving;            /* serving ones of any other generation */
};

/* The census. generation: the manager's current one (0 when the caller has none: every live
 * worker then counts as old). idle_before_ms: a monotonic time; 0 counts no idle worker expired. */
struct mr_sb_census mr_sb_census(const struct mr_sb *sb, unsigned generation,
                                 int64_t idle_before_ms);

/* The slot iterator: the index of the first live slot after `after` (-1 to start), or -1:
 *     for (int i = mr_sb_next_live(sb, -1); i >= 0; i = mr_sb_next_live(sb, i)) */
int mr_sb_next_live(const struct mr_sb *sb, int after);
/* The slot whose process is pid, or -1. */
int mr_sb_find_pid(const struct mr_sb *sb, pid_t pid);
/* The first slot with no process, or -1 when all MR_SB_MAX_WORKERS are taken. */
int mr_sb_free_slot(const struct mr_sb *sb);

/* Index of the latency bucket for a duration. */
int mr_sb_bucket(int64_t us);
/* Upper bound in µs of bucket i (INT64_MAX for the last). */
int64_t mr_sb_bucket_le(int i);
/* Records one finished request on a route (0..MR_SB_MAX_ROUTES). */
void mr_sb_record(struct mr_sb *sb, int route, int status, int64_t us);
/* The latency in µs below which a fraction q of the requests in hist fall, interpolated
 * inside the bucket; 0 when empty. */
int64_t mr_sb_quantile(const atomic_uint_fast64_t *hist, double q);

#endif
