/* SPDX-License-Identifier: BSD-2-Clause */
/* scoreboard: the mapping, the census and slot iterator (the only loops over the worker
 * slots), and the histogram maths. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "app/board/scoreboard.h"

struct mr_sb *
mr_sb_new(int n_replicas, struct mr_err *err)
{
    struct mr_sb *sb =
        mmap(NULL, sizeof(*sb), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sb == MAP_FAILED) {
        (void)mr_err_set(err, -errno, "scoreboard: mmap: %s", strerror(errno));
        return NULL;
    }
    /* An anonymous mapping is zeroed, which is every atomic's initial state. */
    mr_backend_slot_init(&sb->redis, "redis");
    mr_backend_slot_init(&sb->pg[0], "primary");
    for (int i = 1; i <= n_replicas; i++) {
        char name[MR_BACKEND_NAME];
        (void)snprintf(name, sizeof(name), "replica%d", i);
        mr_backend_slot_init(&sb->pg[i], name);
    }
    sb->n_pg = n_replicas + 1;
    atomic_store(&sb->pool.start_time, (int_fast64_t)time(NULL));
    return sb;
}

void
mr_sb_free(struct mr_sb **sb)
{
    if (*sb != NULL)
        (void)munmap(*sb, sizeof(**sb));
    *sb = NULL;
}

void
mr_sb_label_route(struct mr_sb *sb, int i, const char *method, const char *path)
{
    if (i < 0 || i >= MR_SB_MAX_ROUTES)
        return;
    struct mr_sb_label *l = &sb->labels[i];
    if (i < sb->n_labels && (strcmp(l->method, method) != 0 || strcmp(l->path, path) != 0)) {
        /* Another route now: its series starts again (a lost increment of an old worker still
         * serving the previous build is the price of not locking the counters). */
        struct mr_sb_route *r = &sb->routes[i];
        for (int c = 0; c < 6; c++)
            atomic_store_explicit(&r->by_class[c], 0, memory_order_relaxed);
        for (int b = 0; b < MR_HIST_BUCKETS; b++)
            atomic_store_explicit(&r->hist[b], 0, memory_order_relaxed);
        atomic_store_explicit(&r->sum_us, 0, memory_order_relaxed);
        atomic_store_explicit(&r->crashes, 0, memory_order_relaxed);
    }
    (void)snprintf(sb->labels[i].method, sizeof(sb->labels[i].method), "%s", method);
    (void)snprintf(sb->labels[i].path, sizeof(sb->labels[i].path), "%s", path);
    if (i >= sb->n_labels)
        sb->n_labels = i + 1;
}

static bool
is_active(int s)
{
    return s == MR_W_READING || s == MR_W_BUSY || s == MR_W_FINISHING;
}

/* Adds one serving (live, not quitting) worker in state s to the census. */
static void
count_serving(struct mr_sb_census *c, const struct mr_sb_worker *w, int s, unsigned generation,
              int64_t idle_before_ms)
{
    c->serving++;
    c->serving_idle += s == MR_W_IDLE;
    c->serving_starting += s == MR_W_STARTING;
    c->idle_expired += s == MR_W_IDLE && MR_SB_LOAD(w->idle_since_ms) < idle_before_ms;
    c->serving_rss_kb += MR_SB_LOAD(w->rss_kb);
    if (generation != 0 && MR_SB_LOAD(w->generation) == generation) {
        c->new_serving++;
        c->new_ready += s != MR_W_STARTING;
    } else {
        c->old_serving++;
    }
}

struct mr_sb_census
mr_sb_census(const struct mr_sb *sb, unsigned generation, int64_t idle_before_ms)
{
    struct mr_sb_census c = {0};
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++) {
        const struct mr_sb_worker *w = &sb->workers[i];
        if (MR_SB_LOAD(w->pid) == 0)
            continue;
        int s = MR_SB_LOAD(w->state);
        c.live++;
        if (s >= 0 && s < MR_W_NSTATES)
            c.by_state[s]++;
        c.idle += s == MR_W_IDLE;
        c.active += is_active(s);
        c.rss_kb += MR_SB_LOAD(w->rss_kb);
        c.conns += MR_SB_LOAD(w->conns);
        if (MR_SB_LOAD(w->quitting))
            c.quitting++;
        else
            count_serving(&c, w, s, generation, idle_before_ms);
    }
    return c;
}

int
mr_sb_next_live(const struct mr_sb *sb, int after)
{
    for (int i = after < 0 ? 0 : after + 1; i < MR_SB_MAX_WORKERS; i++)
        if (MR_SB_LOAD(sb->workers[i].pid) != 0)
            return i;
    return -1;
}

int
mr_sb_find_pid(const struct mr_sb *sb, pid_t pid)
{
    for (int i = mr_sb_next_live(sb, -1); i >= 0; i = mr_sb_next_live(sb, i)) {
        if (MR_SB_LOAD(sb->workers[i].pid) == pid)
            return i;
    }
    return -1;
}

int
mr_sb_free_slot(const struct mr_sb *sb)
{
    for (int i = 0; i < MR_SB_MAX_WORKERS; i++)
        if (MR_SB_LOAD(sb->workers[i].pid) == 0)
            return i;
    return -1;
}

int
mr_sb_bucket(int64_t us)
{
    /* Bucket i holds durations <= 2^i µs: i = ceil(log2(us)), from the leading zeros. */
    if (us <= 1)
        return 0;
    int i = 64 - __builtin_clzll((unsigned long long)(us - 1));
    return i < MR_HIST_BUCKETS - 1 ? i : MR_HIST_BUCKETS - 1;
}

int64_t
mr_sb_bucket_le(int i)
{
    return i >= MR_HIST_BUCKETS - 1 ? INT64_MAX : (int64_t)1 << i;
}

void
mr_sb_record(struct mr_sb *sb, int route, int status, int64_t us)
{
    struct mr_sb_route *r = &sb->routes[route];
    int cls = status / 100;
    if (cls < 1 || cls > 5)
        cls = 5;
    atomic_fetch_add_explicit(&r->by_class[cls], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->hist[mr_sb_bucket(us)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_us, (uint_fast64_t)(us > 0 ? us : 0), memory_order_relaxed);
}

int64_t
mr_sb_quantile(const atomic_uint_fast64_t *hist, double q)
{
    uint64_t counts[MR_HIST_BUCKETS];
    uint64_t total = 0;
    for (int i = 0; i < MR_HIST_BUCKETS; i++) {
        counts[i] = atomic_load_explicit(&hist[i], memory_order_relaxed);
        total += counts[i];
    }
    if (total == 0)
        return 0;
    double rank = q * (double)total;
    uint64_t seen = 0;
    for (int i = 0; i < MR_HIST_BUCKETS; i++) {
        if (counts[i] == 0 || (double)(seen + counts[i]) < rank) {
            seen += counts[i];
            continue;
        }
        /* Linear interpolation inside (lo, hi]; the +Inf bucket reports its lower bound. */
        int64_t lo = i == 0 ? 0 : mr_sb_bucket_le(i - 1);
        if (i == MR_HIST_BUCKETS - 1)
            return lo;
        int64_t hi = mr_sb_bucket_le(i);
        double frac = (rank - (double)seen) / (double)counts[i];
        return lo + (int64_t)(frac * (double)(hi - lo));
    }
    return mr_sb_bucket_le(MR_HIST_BUCKETS - 2);
}

bool
mr_sb_log_refusal(struct mr_sb *sb, uint64_t addr_hash, int64_t now_ms)
{
    struct mr_sb_refusal *r = &sb->refusals[addr_hash % MR_SB_REFUSALS];
    int_fast64_t last = atomic_load_explicit(&r->logged_ms, memory_order_relaxed);
    uint_fast64_t who = atomic_load_explicit(&r->addr_hash, memory_order_relaxed);
    if (who == addr_hash && last != 0 && now_ms - last < MR_SB_REFUSAL_LOG_MS)
        return false;
    /* One worker wins the slot; the others, refusing the same client at the same moment, skip. */
    if (!atomic_compare_exchange_strong(&r->logged_ms, &last, now_ms))
        return false;
    atomic_store_explicit(&r->addr_hash, addr_hash, memory_order_relaxed);
    return true;
}
