/* SPDX-License-Identifier: BSD-2-Clause */
/* scoreboard: the one shared-memory region, mapped by the manager before the first fork.
 * It holds a slot per worker (written only by that worker, read by the manager and by
 * /status), pool counters, per-route request counters and latency histograms (atomic, relaxed,
 * no lock on the request path), and the backend health slots (app/lib/breaker.h).
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

enum mr_worker_state {
    MR_W_FREE = 0,     /* slot unused */
    MR_W_STARTING = 1, /* forked, not yet accepting */
    MR_W_IDLE = 2,     /* waiting in accept() */
    MR_W_READING = 3,  /* reading a request from nginx */
    MR_W_BUSY = 4,     /* running the handler */
    MR_W_FINISHING = 5 /* writing the response */
};

struct mr_sb_worker {
    atomic_int pid;         /* manager: set at fork, cleared at reap */
    atomic_uint generation; /* manager: the config generation it was started with */
    atomic_int state;       /* worker */
    atomic_int quitting;    /* manager: SIGQUIT sent */
    atomic_int kept;        /* worker: idle on a connection nginx keeps (so not in accept) */
    atomic_int_fast64_t started_ms;    /* manager: monotonic */
    atomic_int_fast64_t req_start_us;  /* worker: monotonic start of the current request */
    atomic_int_fast64_t idle_since_ms; /* worker: monotonic time it last became idle */
    atomic_uint_fast64_t requests;     /* worker: requests served */
    atomic_int_fast64_t last_duration_us;
    atomic_int_fast64_t last_backend_us;
    atomic_long rss_kb; /* manager: sampled */
    char method[8];     /* worker; may be read torn by /status, display only */
    char uri[MR_SB_URI];
};

struct mr_sb_route {
    atomic_uint_fast64_t by_class[6]; /* [1..5] = 1xx..5xx */
    atomic_uint_fast64_t hist[MR_HIST_BUCKETS];
    atomic_uint_fast64_t sum_us;
};

struct mr_sb_pool {
    atomic_int_fast64_t start_time; /* wall clock seconds */
    atomic_uint_fast64_t accepted;
    atomic_uint_fast64_t respawns;
    atomic_uint_fast64_t killed_timeout;
    atomic_uint_fast64_t slow_requests;
    atomic_uint_fast64_t max_children_reached;
    atomic_uint_fast64_t shed;
    atomic_int listen_queue;
    atomic_int max_listen_queue;
    atomic_int max_active;
    atomic_uint generation;
};

struct mr_sb {
    struct mr_sb_pool pool;
    struct mr_sb_worker workers[MR_SB_MAX_WORKERS];
    struct mr_sb_worker status_proc; /* the manager's status process (status_listen) */
    struct mr_sb_route routes[MR_SB_MAX_ROUTES + 1]; /* the last one: unmatched (404/405) */
    struct mr_backend_slot redis;
    struct mr_backend_slot pg[MR_DB_MAX_REPLICAS + 1]; /* [0] primary, [1..] replicas */
    int n_pg;
    /* Cache counters, summed over workers. */
    atomic_uint_fast64_t cache_hits, cache_misses, cache_errors;
    atomic_uint_fast64_t db_queries[MR_DB_MAX_REPLICAS + 1];
    atomic_uint_fast64_t db_errors[MR_DB_MAX_REPLICAS + 1];
};

/* Maps a zeroed shared (MAP_SHARED|MAP_ANONYMOUS) region; names the health slots.
 * Returns NULL with the reason in err. */
struct mr_sb *mr_sb_new(int n_replicas, struct mr_err *err);
void mr_sb_free(struct mr_sb **sb);

struct mr_sb_counts {
    int total;                  /* live workers */
    int quitting;               /* of which asked to quit */
    int starting, idle, active; /* active: reading, busy or finishing */
};

/* Counts the live workers by state (relaxed loads: a moment's view). */
struct mr_sb_counts mr_sb_count(const struct mr_sb *sb);

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
