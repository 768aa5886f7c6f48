/* SPDX-License-Identifier: BSD-2-Clause */
/* status_page: rendering. Field names and meanings follow php-fpm's status page so existing
 * dashboards and habits carry over; "pool" is the config file's name. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app/lib/clock.h"
#include "app/lib/json.h"
#include "app/board/status_page.h"

static const char *
pm_name(enum mr_pm pm)
{
    static const char *names[] = {"static", "dynamic", "ondemand", "adaptive"};
    return names[pm];
}

static const char *
state_name(int s)
{
    static const char *names[] = {"Free",    "Starting", "Idle", "Reading headers",
                                  "Running", "Finishing"};
    return s >= 0 && s < 6 ? names[s] : "Unknown";
}

struct field {
    const char *name;
    long long v;
};

static void
pool_fields(const struct mr_sb *sb, struct field *f, struct mr_sb_census c)
{
    time_t start = (time_t)MR_SB_LOAD(sb->pool.start_time);
    struct field v[] = {
        {"start since", (long long)(time(NULL) - start)},
        {"accepted conn", (long long)MR_SB_LOAD(sb->pool.accepted)},
        {"listen queue", MR_SB_LOAD(sb->pool.listen_queue)},
        {"max listen queue", MR_SB_LOAD(sb->pool.max_listen_queue)},
        {"idle processes", c.idle},
        {"active processes", c.active},
        {"total processes", c.live},
        /* Sampled every 100 ms: never show less than what is active right now. */
        {"max active processes",
         MR_SB_LOAD(sb->pool.max_active) > c.active ? MR_SB_LOAD(sb->pool.max_active) : c.active},
        {"max children reached", (long long)MR_SB_LOAD(sb->pool.max_children_reached)},
        {"slow requests", (long long)MR_SB_LOAD(sb->pool.slow_requests)},
        {NULL, 0},
    };
    memcpy(f, v, sizeof(v));
}

static void
route_name(char *dst, size_t cap, const struct mr_sb *sb, size_t i)
{
    if (i < (size_t)sb->n_labels)
        (void)snprintf(dst, cap, "%s %s", sb->labels[i].method, sb->labels[i].path);
    else
        (void)snprintf(dst, cap, "unmatched");
}

static uint64_t
route_count(const struct mr_sb_route *r)
{
    uint64_t n = 0;
    for (int k = 0; k < MR_HIST_BUCKETS; k++)
        n += MR_SB_LOAD(r->hist[k]);
    return n;
}

/* The next route after `after` (-1: from the start) that has served a request, the unmatched
 * row last, with its name in `name`; -1 when none is left. */
static int
next_served_route(const struct mr_sb *sb, int after, char *name, size_t cap)
{
    for (int i = after + 1; i <= MR_SB_MAX_ROUTES; i++) {
        if ((i >= sb->n_labels && i != MR_SB_MAX_ROUTES) || route_count(&sb->routes[i]) == 0)
            continue;
        route_name(name, cap, sb, (size_t)i);
        return i;
    }
    return -1;
}

static void
render_text(const struct mr_sb *sb, const struct mr_cfg *cfg, const struct mr_status_opts *o,
            struct mr_buf *b)
{
    struct field f[16];
    pool_fields(sb, f, mr_sb_census(sb, 0, 0));
    char when[64];
    time_t start = (time_t)MR_SB_LOAD(sb->pool.start_time);
    struct tm tm;
    (void)strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", localtime_r(&start, &tm));
    mr_buf_printf(b,
                  "pool:                 %s\nprocess manager:      %s\nstart time:           %s\n",
                  cfg->path, pm_name(cfg->pm), when);
    for (int i = 0; f[i].name; i++)
        mr_buf_printf(b, "%s:%*s%lld\n", f[i].name, (int)(21 - strlen(f[i].name)), "", f[i].v);
    mr_buf_printf(b, "max children:         %d\n", cfg->workers);
    char name[96];
    for (int i = next_served_route(sb, -1, name, sizeof(name)); i >= 0;
         i = next_served_route(sb, i, name, sizeof(name))) {
        const atomic_uint_fast64_t *h = sb->routes[i].hist;
        mr_buf_printf(
            b, "route %s: requests %llu p50_ms %.3f p95_ms %.3f p99_ms %.3f\n", name,
            (unsigned long long)route_count(&sb->routes[i]), (double)mr_sb_quantile(h, 0.50) / 1000,
            (double)mr_sb_quantile(h, 0.95) / 1000, (double)mr_sb_quantile(h, 0.99) / 1000);
    }
    if (!o->full)
        return;
    int64_t now_us = mr_clock_us(), now_ms = now_us / 1000;
    for (int i = mr_sb_next_live(sb, -1); i >= 0; i = mr_sb_next_live(sb, i)) {
        const struct mr_sb_worker *w = &sb->workers[i];
        int s = MR_SB_LOAD(w->state);
        bool busy = s == MR_W_READING || s == MR_W_BUSY || s == MR_W_FINISHING;
        mr_buf_printf(b,
                      "\n************************\npid:                  %d\nstate:                "
                      "%s\nstart since:          %lld\nrequests:             %llu\nrequest "
                      "duration:     %lld\nrequest method:       %s\nrequest URI:          %s\n"
                      "last backend time:    %lld\n",
                      MR_SB_LOAD(w->pid), state_name(s),
                      (long long)(now_ms - MR_SB_LOAD(w->started_ms)) / 1000,
                      (unsigned long long)MR_SB_LOAD(w->requests),
                      (long long)(busy ? now_us - MR_SB_LOAD(w->req_start_us)
                                       : MR_SB_LOAD(w->last_duration_us)),
                      w->method[0] ? w->method : "-", w->uri[0] ? w->uri : "-",
                      (long long)MR_SB_LOAD(w->last_backend_us));
    }
}

static void
render_json_routes(const struct mr_sb *sb, struct mr_json *j)
{
    mr_json_key(j, "routes");
    mr_json_arr(j);
    char name[96];
    for (int i = next_served_route(sb, -1, name, sizeof(name)); i >= 0;
         i = next_served_route(sb, i, name, sizeof(name))) {
        const atomic_uint_fast64_t *h = sb->routes[i].hist;
        mr_json_obj(j);
        mr_json_key(j, "route");
        mr_json_cstr(j, name);
        mr_json_key(j, "requests");
        mr_json_int(j, (int64_t)route_count(&sb->routes[i]));
        mr_json_key(j, "p50_us");
        mr_json_int(j, mr_sb_quantile(h, 0.50));
        mr_json_key(j, "p95_us");
        mr_json_int(j, mr_sb_quantile(h, 0.95));
        mr_json_key(j, "p99_us");
        mr_json_int(j, mr_sb_quantile(h, 0.99));
        mr_json_obj_end(j);
    }
    mr_json_arr_end(j);
}

static void
render_json_workers(const struct mr_sb *sb, struct mr_json *j)
{
    int64_t now_us = mr_clock_us();
    mr_json_key(j, "processes");
    mr_json_arr(j);
    for (int i = mr_sb_next_live(sb, -1); i >= 0; i = mr_sb_next_live(sb, i)) {
        const struct mr_sb_worker *w = &sb->workers[i];
        int s = MR_SB_LOAD(w->state);
        bool busy = s == MR_W_READING || s == MR_W_BUSY || s == MR_W_FINISHING;
        mr_json_obj(j);
        mr_json_key(j, "pid");
        mr_json_int(j, MR_SB_LOAD(w->pid));
        mr_json_key(j, "state");
        mr_json_cstr(j, state_name(s));
        mr_json_key(j, "requests");
        mr_json_int(j, (int64_t)MR_SB_LOAD(w->requests));
        mr_json_key(j, "request duration");
        mr_json_int(j,
                    busy ? now_us - MR_SB_LOAD(w->req_start_us) : MR_SB_LOAD(w->last_duration_us));
        mr_json_key(j, "request method");
        mr_json_str(j, w->method, strnlen(w->method, sizeof(w->method)));
        mr_json_key(j, "request uri");
        mr_json_str(j, w->uri, strnlen(w->uri, sizeof(w->uri)));
        mr_json_obj_end(j);
    }
    mr_json_arr_end(j);
}

void
mr_status_render(const struct mr_sb *sb, const struct mr_cfg *cfg, const struct mr_status_opts *o,
                 struct mr_buf *b)
{
    if (!o->json) {
        render_text(sb, cfg, o, b);
        return;
    }
    struct field f[16];
    pool_fields(sb, f, mr_sb_census(sb, 0, 0));
    struct mr_json j;
    mr_json_init(&j, b);
    mr_json_obj(&j);
    mr_json_key(&j, "pool");
    mr_json_cstr(&j, cfg->path);
    mr_json_key(&j, "process manager");
    mr_json_cstr(&j, pm_name(cfg->pm));
    mr_json_key(&j, "start time");
    mr_json_int(&j, MR_SB_LOAD(sb->pool.start_time));
    for (int i = 0; f[i].name; i++) {
        mr_json_key(&j, f[i].name);
        mr_json_int(&j, f[i].v);
    }
    mr_json_key(&j, "max children");
    mr_json_int(&j, cfg->workers);
    render_json_routes(sb, &j);
    if (o->full)
        render_json_workers(sb, &j);
    mr_json_obj_end(&j);
}
