/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_run: what one loadgen run is told (options, from the command line) and what it
 * counts (per path and in total), shared by the loop, the option reader and the report. */
#ifndef LG_RUN_H
#define LG_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/bench/lg_hist.h"
#include "tests/bench/lg_mix.h"

#define NS_PER_US UINT64_C(1000)
#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S UINT64_C(1000000000)

struct lg_opts {
    unsigned port;       /* of 127.0.0.1 */
    bool is_open;        /* -R given: open loop */
    size_t conns;        /* closed: connections; open: opened before the first send */
    size_t max_conns;    /* open: the bound (-C) */
    uint64_t count;      /* closed: requests (-n) */
    double rate;         /* open: requests per second (-R) */
    unsigned seconds;    /* open: how long the schedule runs (-d) */
    uint64_t timeout_ms; /* each connect, and each wait for the next byte of an answer (-t) */
    uint64_t limit_s;    /* the whole run (-T) */
    uint64_t seed;       /* of the path choice (-s) */
    const char *label;   /* added to every machine-readable line (-L) */
};

struct lg_path_stats {
    struct lg_hist hist; /* latency of every answer, whatever its status */
    uint64_t ok;         /* 2xx */
    uint64_t non2xx;
    uint64_t errors; /* socket errors, timeouts and malformed answers */
};

struct lg_stats {
    struct lg_path_stats *path; /* one per mix entry */
    size_t n_paths;
    uint64_t connect_errors, read_errors, write_errors, timeouts;
    uint64_t unfinished; /* cut off by the time limit (-T) */
    uint64_t late_sends; /* open loop: written more than 1 ms after the due time */
    struct lg_hist lag;  /* open loop: how late each write was, in us (the generator's own
                          * delay, or waiting for a connection under the bound) */
    uint64_t opened;     /* connections opened in all */
    size_t open_now, max_open;
    uint64_t wall_ns; /* from the first send to the last answer */
};

/* Reads the command line into o and the mix (a file's or the URL's one path). Prints the
 * usage or the reason on stderr and returns -1 when it is wrong. */
int lg_opts_parse(struct lg_opts *o, struct lg_mix *mix, int argc, char **argv);

/* One `key=value` line per path and one for the total on stdout; a table on stderr. */
void lg_report(const struct lg_opts *o, const struct lg_mix *mix, const struct lg_stats *st);
/* Whether every request was answered, with a 2xx. */
bool lg_stats_clean(const struct lg_stats *st);

#endif
