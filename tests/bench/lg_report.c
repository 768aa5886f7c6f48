/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_report: what loadgen prints at the end. stdout gets one logfmt line per path and one
 * for the total (path=*), which scripts parse; stderr gets the same as a table for people.
 * Latencies are in microseconds in the lines and in milliseconds in the table. */
#include <stdio.h>

#include "tests/bench/lg_run.h"

static void
line(const struct lg_opts *o, const char *path, const struct lg_path_stats *ps, double wall_s)
{
    const struct lg_hist *h = &ps->hist;
    uint64_t answered = ps->ok + ps->non2xx;
    if (o->label != NULL)
        printf("loadgen label=%s ", o->label);
    else
        printf("loadgen ");
    printf("mode=%s path=%s requests=%llu ok=%llu non2xx=%llu errors=%llu p50_us=%llu "
           "p99_us=%llu p999_us=%llu max_us=%llu mean_us=%llu wall_s=%.3f rps=%.1f",
           o->is_open ? "open" : "closed", path, (unsigned long long)(answered + ps->errors),
           (unsigned long long)ps->ok, (unsigned long long)ps->non2xx,
           (unsigned long long)ps->errors, (unsigned long long)lg_hist_percentile(h, 50),
           (unsigned long long)lg_hist_percentile(h, 99),
           (unsigned long long)lg_hist_percentile(h, 99.9), (unsigned long long)h->max_us,
           (unsigned long long)(h->count ? h->sum_us / h->count : 0), wall_s,
           wall_s > 0 ? (double)answered / wall_s : 0.0);
}

static void
row(const char *path, const struct lg_path_stats *ps)
{
    const struct lg_hist *h = &ps->hist;
    fprintf(stderr, "%-30.30s %10llu %8llu %7llu %9.3f %9.3f %9.3f %9.3f\n", path,
            (unsigned long long)(ps->ok + ps->non2xx + ps->errors), (unsigned long long)ps->non2xx,
            (unsigned long long)ps->errors, (double)lg_hist_percentile(h, 50) / 1e3,
            (double)lg_hist_percentile(h, 99) / 1e3, (double)lg_hist_percentile(h, 99.9) / 1e3,
            (double)h->max_us / 1e3);
}

static void
total_of(const struct lg_stats *st, struct lg_path_stats *t)
{
    lg_hist_init(&t->hist);
    t->ok = t->non2xx = t->errors = 0;
    for (size_t i = 0; i < st->n_paths; i++) {
        lg_hist_merge(&t->hist, &st->path[i].hist);
        t->ok += st->path[i].ok;
        t->non2xx += st->path[i].non2xx;
        t->errors += st->path[i].errors;
    }
}

void
lg_report(const struct lg_opts *o, const struct lg_mix *mix, const struct lg_stats *st)
{
    static struct lg_path_stats total; /* a histogram is 10 KiB: not on the stack */
    double wall_s = (double)st->wall_ns / 1e9;
    total_of(st, &total);
    for (size_t i = 0; i < st->n_paths; i++) {
        line(o, mix->entry[i].path, &st->path[i], wall_s);
        putchar('\n');
    }
    line(o, "*", &total, wall_s);
    printf(" connect_errors=%llu read_errors=%llu write_errors=%llu timeouts=%llu "
           "unfinished=%llu late_sends=%llu lag_p99_us=%llu lag_max_us=%llu conns_opened=%llu "
           "conns_max=%zu\n",
           (unsigned long long)st->connect_errors, (unsigned long long)st->read_errors,
           (unsigned long long)st->write_errors, (unsigned long long)st->timeouts,
           (unsigned long long)st->unfinished, (unsigned long long)st->late_sends,
           (unsigned long long)lg_hist_percentile(&st->lag, 99), (unsigned long long)st->lag.max_us,
           (unsigned long long)st->opened, st->max_open);
    fflush(stdout);

    fprintf(stderr, "%-30s %10s %8s %7s %9s %9s %9s %9s\n", "path", "requests", "non-2xx", "errors",
            "p50 ms", "p99 ms", "p99.9 ms", "max ms");
    for (size_t i = 0; i < st->n_paths; i++)
        row(mix->entry[i].path, &st->path[i]);
    row("total", &total);
    uint64_t answered = total.ok + total.non2xx;
    fprintf(stderr, "%s loop, %.3f s, %.0f answers/s", o->is_open ? "open" : "closed", wall_s,
            wall_s > 0 ? (double)answered / wall_s : 0.0);
    if (o->is_open)
        fprintf(stderr, " (schedule %.0f/s), %llu late sends (send lag p99 %.3f ms, max %.3f ms)",
                o->rate, (unsigned long long)st->late_sends,
                (double)lg_hist_percentile(&st->lag, 99) / 1e3, (double)st->lag.max_us / 1e3);
    fprintf(stderr,
            "; connections %llu opened, %zu at most; errors: connect %llu, read %llu, "
            "write %llu, timeout %llu; unfinished %llu\n",
            (unsigned long long)st->opened, st->max_open, (unsigned long long)st->connect_errors,
            (unsigned long long)st->read_errors, (unsigned long long)st->write_errors,
            (unsigned long long)st->timeouts, (unsigned long long)st->unfinished);
}

bool
lg_stats_clean(const struct lg_stats *st)
{
    for (size_t i = 0; i < st->n_paths; i++)
        if (st->path[i].non2xx != 0 || st->path[i].errors != 0)
            return false;
    return st->unfinished == 0 && st->connect_errors == 0 && st->read_errors == 0 &&
           st->write_errors == 0 && st->timeouts == 0;
}
