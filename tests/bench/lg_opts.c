/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_opts: loadgen's command line. The target must be http://127.0.0.1:PORT: a benchmark
 * tool that could be pointed at someone else's host is refused that power here, once. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench/lg_run.h"

static const char usage[] =
    "usage: loadgen [options] http://127.0.0.1:PORT[/path]\n"
    "  closed loop:  -c CONNS -n COUNT   COUNT requests over CONNS connections\n"
    "  open loop:    -R RATE -d SECONDS  RATE requests/s on a fixed schedule for SECONDS\n"
    "  -m FILE       paths from a mix file (lines `weight path`); the URL's path is then\n"
    "                ignored\n"
    "  -C MAX        open loop: at most MAX connections (default 1024); -c opens the first\n"
    "                ones before the schedule starts (default 16)\n"
    "  -t MS         bound on each connect and each wait for an answer's next byte (5000)\n"
    "  -T SECONDS    bound on the whole run (closed: 600; open: -d + 2 * -t + 5)\n"
    "  -s SEED       seed of the weighted path choice (1)\n"
    "  -L LABEL      added as label=LABEL to every machine-readable line\n"
    "  --self-test   check the histogram, the response parser and the mix reader\n"
    "Exit: 0 all answered 2xx, 1 some non-2xx or errors, 2 usage, 3 the time limit hit.\n";

static int
number(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) {
        fprintf(stderr, "loadgen: %s %s: expected a number in %g..%g\n", flag, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* http://127.0.0.1:PORT[/path]: the port, and the path (default "/"). */
static int
parse_url(const char *url, unsigned *port, const char **path)
{
    static const char prefix[] = "http://127.0.0.1:";
    if (strncmp(url, prefix, sizeof(prefix) - 1) != 0) {
        fprintf(stderr, "loadgen: refusing %s: only http://127.0.0.1:PORT is allowed\n", url);
        return -1;
    }
    const char *p = url + sizeof(prefix) - 1;
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (errno != 0 || end == p || v < 1 || v > 65535 || (*end != '\0' && *end != '/')) {
        fprintf(stderr, "loadgen: %s: bad port\n", url);
        return -1;
    }
    *port = (unsigned)v;
    *path = *end == '/' ? end : "/";
    return 0;
}

static int
read_mix(const char *file, struct lg_mix *mix)
{
    static char text[1 << 16];
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "loadgen: %s: %s\n", file, strerror(errno));
        return -1;
    }
    size_t n = fread(text, 1, sizeof(text), f);
    bool too_long = n == sizeof(text) && fgetc(f) != EOF;
    bool failed = ferror(f) != 0;
    fclose(f);
    if (too_long || failed) {
        fprintf(stderr, "loadgen: %s: %s\n", file, too_long ? "longer than 64 KiB" : "read error");
        return -1;
    }
    char err[160];
    if (lg_mix_parse(mix, text, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "loadgen: %s: %s\n", file, err);
        return -1;
    }
    return 0;
}

struct raw {
    double c, n, rate, d, max, t, limit, seed;
    const char *mix, *label;
};

static int
read_flags(struct raw *w, int argc, char **argv)
{
    int ch, bad = 0;
    opterr = 1;
    while (!bad && (ch = getopt(argc, argv, "c:n:R:d:m:C:t:T:s:L:h")) != -1) {
        switch (ch) {
        case 'c':
            bad = number("-c", optarg, 1, 20000, &w->c);
            break;
        case 'n':
            bad = number("-n", optarg, 1, 1e10, &w->n);
            break;
        case 'R':
            bad = number("-R", optarg, 0.01, 1e6, &w->rate);
            break;
        case 'd':
            bad = number("-d", optarg, 1, 3600, &w->d);
            break;
        case 'C':
            bad = number("-C", optarg, 1, 20000, &w->max);
            break;
        case 't':
            bad = number("-t", optarg, 1, 600000, &w->t);
            break;
        case 'T':
            bad = number("-T", optarg, 1, 86400, &w->limit);
            break;
        case 's':
            bad = number("-s", optarg, 0, 9e15, &w->seed);
            break;
        case 'm':
            w->mix = optarg;
            break;
        case 'L':
            w->label = optarg;
            break;
        default:
            bad = -1;
            break;
        }
    }
    return bad;
}

int
lg_opts_parse(struct lg_opts *o, struct lg_mix *mix, int argc, char **argv)
{
    struct raw w = {.c = 0, .n = 0, .rate = 0, .d = 0, .max = 1024, .t = 5000, .seed = 1};
    const char *path;
    if (read_flags(&w, argc, argv) != 0 || optind != argc - 1) {
        fputs(usage, stderr);
        return -1;
    }
    memset(o, 0, sizeof(*o));
    if (parse_url(argv[optind], &o->port, &path) != 0)
        return -1;
    o->is_open = w.rate > 0;
    if (o->is_open ? (w.d == 0 || w.n != 0) : (w.n == 0 || w.d != 0)) {
        fprintf(stderr, "loadgen: give either -c CONNS -n COUNT or -R RATE -d SECONDS\n%s", usage);
        return -1;
    }
    o->conns = (size_t)(w.c > 0 ? w.c : o->is_open ? 16 : 64);
    o->max_conns = (size_t)w.max;
    if (o->is_open && o->conns > o->max_conns)
        o->conns = o->max_conns;
    o->count = (uint64_t)w.n;
    o->rate = w.rate;
    o->seconds = (unsigned)w.d;
    o->timeout_ms = (uint64_t)w.t;
    o->limit_s = w.limit > 0  ? (uint64_t)w.limit
                 : o->is_open ? o->seconds + 2 * (o->timeout_ms / 1000 + 1) + 5
                              : 600;
    o->seed = (uint64_t)w.seed;
    o->label = w.label;
    char err[160];
    if (w.mix != NULL)
        return read_mix(w.mix, mix);
    if (lg_mix_single(mix, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "loadgen: %s\n", err);
        return -1;
    }
    return 0;
}
