/* SPDX-License-Identifier: BSD-2-Clause */
/* metrics_page: rendering only; every number is read from the scoreboard with relaxed loads, so a
 * scrape sees each counter at some recent moment, not all at one instant (as with any
 * Prometheus exporter of live counters). Names follow Prometheus conventions: base units
 * (seconds, bytes), _total for counters, millrace_ prefix. */
#include <stdio.h>
#include <string.h>

#include "app/lib/clock.h"
#include "app/board/metrics_page.h"

static void
head(struct mr_buf *b, const char *name, const char *type, const char *help)
{
    mr_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
route_label(struct mr_buf *b, const struct mr_sb *sb, size_t i)
{
    if (i < (size_t)sb->n_labels)
        mr_buf_printf(b, "method=\"%s\",route=\"%s\"", sb->labels[i].method, sb->labels[i].path);
    else
        mr_buf_puts(b, "method=\"\",route=\"unmatched\"");
}

static void
render_requests(const struct mr_sb *sb, struct mr_buf *b)
{
    size_t n = (size_t)sb->n_labels;
    head(b, "millrace_requests_total", "counter", "Requests answered, by route and status class.");
    for (size_t i = 0; i <= MR_SB_MAX_ROUTES; i++) {
        if (i >= n && i != MR_SB_MAX_ROUTES)
            continue;
        for (int c = 1; c <= 5; c++) {
            uint64_t v = MR_SB_LOAD(sb->routes[i].by_class[c]);
            /* 2xx, 4xx and 5xx always exist (at 0), so that rate() sees the first errors; 1xx
             * and 3xx only once seen. */
            if (v == 0 && (c == 1 || c == 3))
                continue;
            mr_buf_puts(b, "millrace_requests_total{");
            route_label(b, sb, i);
            mr_buf_printf(b, ",status=\"%dxx\"} %llu\n", c, (unsigned long long)v);
        }
    }
}

/* Only the application's routes: the unmatched row runs no handler. */
static void
render_crashes(const struct mr_sb *sb, struct mr_buf *b)
{
    head(b, "millrace_route_crashes_total", "counter",
         "Workers that died (a signal) while running this route's handler.");
    for (int i = 0; i < sb->n_labels; i++) {
        mr_buf_puts(b, "millrace_route_crashes_total{");
        route_label(b, sb, (size_t)i);
        mr_buf_printf(b, "} %llu\n", (unsigned long long)MR_SB_LOAD(sb->routes[i].crashes));
    }
}

static void
render_histograms(const struct mr_sb *sb, struct mr_buf *b)
{
    size_t n = (size_t)sb->n_labels;
    head(b, "millrace_request_duration_seconds", "histogram",
         "Time from reading a request to sending its response, by route.");
    for (size_t i = 0; i <= MR_SB_MAX_ROUTES; i++) {
        if (i >= n && i != MR_SB_MAX_ROUTES)
            continue;
        const struct mr_sb_route *r = &sb->routes[i];
        uint64_t cum = 0;
        for (int k = 0; k < MR_HIST_BUCKETS; k++) {
            cum += MR_SB_LOAD(r->hist[k]);
            mr_buf_puts(b, "millrace_request_duration_seconds_bucket{");
            route_label(b, sb, i);
            if (k == MR_HIST_BUCKETS - 1)
                mr_buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
            else
                mr_buf_printf(b, ",le=\"%.6f\"} %llu\n", (double)mr_sb_bucket_le(k) / 1e6,
                              (unsigned long long)cum);
        }
        mr_buf_puts(b, "millrace_request_duration_seconds_sum{");
        route_label(b, sb, i);
        mr_buf_printf(b, "} %.6f\n", (double)MR_SB_LOAD(r->sum_us) / 1e6);
        mr_buf_puts(b, "millrace_request_duration_seconds_count{");
        route_label(b, sb, i);
        mr_buf_printf(b, "} %llu\n", (unsigned long long)cum);
    }
}

static void
counter(struct mr_buf *b, const char *name, const char *help, uint64_t v)
{
    head(b, name, "counter", help);
    mr_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void
gauge(struct mr_buf *b, const char *name, const char *help, long long v)
{
    head(b, name, "gauge", help);
    mr_buf_printf(b, "%s %lld\n", name, v);
}

/* One series of one value, for the tables below. */
struct sample {
    const char *name;
    const char *type; /* "gauge" or "counter" */
    const char *help;
    long long value;
};

static const struct mr_backend_slot *
backend_at(const struct mr_sb *sb, int i, const char **role)
{
    if (i == 0) {
        *role = "cache";
        return &sb->redis;
    }
    *role = i == 1 ? "primary" : "replica";
    return &sb->pg[i - 1];
}

static long long
slot_up(const struct mr_backend_slot *s)
{
    return MR_SB_LOAD(s->up) == 1;
}
static long long
slot_breaker(const struct mr_backend_slot *s)
{
    return MR_SB_LOAD(s->breaker);
}
static long long
slot_opened(const struct mr_backend_slot *s)
{
    return (long long)MR_SB_LOAD(s->opened_total);
}
static long long
slot_failures(const struct mr_backend_slot *s)
{
    return (long long)MR_SB_LOAD(s->failures_total);
}

/* The whole-number series every backend has, one row each: the table keeps the four alike. */
static const struct {
    const char *name, *type, *help;
    long long (*value)(const struct mr_backend_slot *s);
} backend_series[] = {
    {"millrace_backend_up", "gauge", "1 when the prober's last probe succeeded.", slot_up},
    {"millrace_breaker_state", "gauge", "Circuit breaker: 0 closed, 1 open, 2 half-open.",
     slot_breaker},
    {"millrace_breaker_opened_total", "counter", "Times a circuit breaker opened.", slot_opened},
    {"millrace_backend_failures_total", "counter", "Calls to a backend that failed or timed out.",
     slot_failures},
};

static void
render_backends(const struct mr_sb *sb, struct mr_buf *b)
{
    const char *role;
    for (size_t k = 0; k < sizeof(backend_series) / sizeof(backend_series[0]); k++) {
        head(b, backend_series[k].name, backend_series[k].type, backend_series[k].help);
        for (int i = 0; i <= sb->n_pg; i++) {
            const struct mr_backend_slot *s = backend_at(sb, i, &role);
            mr_buf_printf(b, "%s{backend=\"%s\",role=\"%s\"} %lld\n", backend_series[k].name,
                          s->name, role, backend_series[k].value(s));
        }
    }
    head(b, "millrace_backend_probe_age_seconds", "gauge",
         "Time since the prober last probed the backend (a hung prober shows here).");
    int64_t now = mr_clock_ms();
    for (int i = 0; i <= sb->n_pg; i++) {
        const struct mr_backend_slot *s = backend_at(sb, i, &role);
        int64_t at = MR_SB_LOAD(s->probed_ms);
        mr_buf_printf(b, "millrace_backend_probe_age_seconds{backend=\"%s\",role=\"%s\"} %.3f\n",
                      s->name, role, at ? (double)(now - at) / 1000.0 : -1.0);
    }
    head(b, "millrace_replica_lag_seconds", "gauge",
         "How far a replica's replay is behind the primary, in time.");
    for (int i = 1; i < sb->n_pg; i++)
        mr_buf_printf(b, "millrace_replica_lag_seconds{backend=\"%s\"} %.3f\n", sb->pg[i].name,
                      (double)MR_SB_LOAD(sb->pg[i].lag_ms) / 1000.0);
    head(b, "millrace_replica_lag_bytes", "gauge", "Primary WAL position minus replica replay.");
    for (int i = 1; i < sb->n_pg; i++)
        mr_buf_printf(b, "millrace_replica_lag_bytes{backend=\"%s\"} %lld\n", sb->pg[i].name,
                      (long long)MR_SB_LOAD(sb->pg[i].lag_bytes));
}

static void
render_db(const struct mr_sb *sb, struct mr_buf *b)
{
    head(b, "millrace_db_queries_total", "counter", "Statements sent to PostgreSQL, by backend.");
    for (int i = 0; i < sb->n_pg; i++)
        mr_buf_printf(b, "millrace_db_queries_total{backend=\"%s\",role=\"%s\"} %llu\n",
                      sb->pg[i].name, i == 0 ? "primary" : "replica",
                      (unsigned long long)MR_SB_LOAD(sb->db_queries[i]));
    head(b, "millrace_db_errors_total", "counter", "Failed PostgreSQL calls, by backend.");
    for (int i = 0; i < sb->n_pg; i++)
        mr_buf_printf(b, "millrace_db_errors_total{backend=\"%s\",role=\"%s\"} %llu\n",
                      sb->pg[i].name, i == 0 ? "primary" : "replica",
                      (unsigned long long)MR_SB_LOAD(sb->db_errors[i]));
    counter(b, "millrace_cache_hits_total", "Keys found in Redis.", MR_SB_LOAD(sb->cache_hits));
    counter(b, "millrace_cache_misses_total", "Keys not found in Redis (or refreshed early).",
            MR_SB_LOAD(sb->cache_misses));
    counter(b, "millrace_cache_errors_total", "Redis calls that failed.",
            MR_SB_LOAD(sb->cache_errors));
    counter(b, "millrace_cache_l1_hits_total", "Keys served from a worker's L1.",
            MR_SB_LOAD(sb->l1_hits));
    counter(b, "millrace_cache_l1_misses_total", "L1 lookups that went on to Redis.",
            MR_SB_LOAD(sb->l1_misses));
    counter(b, "millrace_cache_l1_evictions_total", "L1 entries evicted to make room.",
            MR_SB_LOAD(sb->l1_evictions));
    counter(b, "millrace_cache_l1_invalidations_total", "Keys Redis invalidated in an L1.",
            MR_SB_LOAD(sb->l1_invalidations));
    counter(b, "millrace_cache_l1_flushes_total", "Whole L1s dropped (tracking lost).",
            MR_SB_LOAD(sb->l1_flushes));
}

static void
render_pool(const struct mr_sb *sb, struct mr_buf *b)
{
    static const char *names[] = {"free", "starting", "idle", "reading", "busy", "finishing"};
    struct mr_sb_census c = mr_sb_census(sb, 0, 0);
    gauge(b, "millrace_workers_rss_bytes", "Resident memory of all workers (sampled each second).",
          (long long)c.rss_kb * 1024);
    head(b, "millrace_workers", "gauge", "Worker processes by state.");
    for (int s = 1; s < 6; s++)
        mr_buf_printf(b, "millrace_workers{state=\"%s\"} %d\n", names[s], c.by_state[s]);
    gauge(b, "millrace_fcgi_connections",
          "FastCGI connections the workers hold (fresh, partly read or kept).", c.conns);
    static const char *const closed[MR_SB_CLOSE_NREASONS] = {
        [MR_SB_CLOSE_IDLE] = "idle",
        [MR_SB_CLOSE_UNANSWERED] = "unanswered",
        [MR_SB_CLOSE_GIVEN_UP] = "given_up",
        [MR_SB_CLOSE_STOPPING] = "stopping",
    };
    head(b, "millrace_fcgi_connections_closed_total", "counter",
         "FastCGI connections a worker closed before nginx did, by reason.");
    for (int r = 0; r < MR_SB_CLOSE_NREASONS; r++)
        mr_buf_printf(b, "millrace_fcgi_connections_closed_total{reason=\"%s\"} %llu\n", closed[r],
                      (unsigned long long)MR_SB_LOAD(sb->pool.conns_closed[r]));
    /* One line each: the pool's single-valued series. */
    const struct sample pool[] = {
        {"millrace_listen_queue", "gauge", "Connections waiting in the accept queue (last sample).",
         MR_SB_LOAD(sb->pool.listen_queue)},
        {"millrace_listen_queue_max", "gauge", "Most connections seen waiting in the accept queue.",
         MR_SB_LOAD(sb->pool.max_listen_queue)},
        {"millrace_active_workers_max", "gauge", "Most workers seen busy at once.",
         MR_SB_LOAD(sb->pool.max_active)},
        {"millrace_respawns_total", "counter", "Workers replaced after an unplanned exit.",
         (long long)MR_SB_LOAD(sb->pool.respawns)},
        {"millrace_killed_timeout_total", "counter", "Workers killed for exceeding a time limit.",
         (long long)MR_SB_LOAD(sb->pool.killed_timeout)},
        {"millrace_slow_requests_total", "counter", "Requests slower than log.slow_ms.",
         (long long)MR_SB_LOAD(sb->pool.slow_requests)},
        {"millrace_max_children_reached_total", "counter",
         "Times every worker was busy while connections waited.",
         (long long)MR_SB_LOAD(sb->pool.max_children_reached)},
        {"millrace_shed_total", "counter", "Requests answered 503 by load shedding.",
         (long long)MR_SB_LOAD(sb->pool.shed)},
        {"millrace_clients_refused_total", "counter",
         "TCP connections closed at accept: the peer is not in listen_allowed_clients.",
         (long long)MR_SB_LOAD(sb->pool.clients_refused)},
        {"millrace_fcgi_refused_total", "counter",
         "Connections closed because their FastCGI records broke the protocol.",
         (long long)MR_SB_LOAD(sb->pool.fcgi_refused)},
        {"millrace_start_time_seconds", "gauge", "Unix time the manager started.",
         (long long)MR_SB_LOAD(sb->pool.start_time)},
    };
    for (size_t i = 0; i < sizeof(pool) / sizeof(pool[0]); i++) {
        head(b, pool[i].name, pool[i].type, pool[i].help);
        mr_buf_printf(b, "%s %lld\n", pool[i].name, pool[i].value);
    }
}

void
mr_metrics_render(const struct mr_sb *sb, struct mr_buf *out)
{
    render_requests(sb, out);
    render_crashes(sb, out);
    render_histograms(sb, out);
    render_backends(sb, out);
    render_db(sb, out);
    render_pool(sb, out);
}
