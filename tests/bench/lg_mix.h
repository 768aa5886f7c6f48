/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_mix: loadgen's request mix. A mix file has one `weight path` per line (weight a
 * positive integer, path starting with '/', printable ASCII without spaces); blank lines and
 * lines starting with '#' are skipped. Each path gets its request bytes built once, so that
 * choosing and sending a request allocates nothing. The caller owns the struct. */
#ifndef LG_MIX_H
#define LG_MIX_H

#include <stddef.h>
#include <stdint.h>

#define LG_MIX_MAX 64
#define LG_MIX_PATH_MAX 512
#define LG_MIX_WEIGHT_MAX 1000000
#define LG_MIX_REQ_MAX (LG_MIX_PATH_MAX + 128)

struct lg_mix_entry {
    uint32_t weight;
    uint64_t cumulative; /* sum of the weights up to and including this one */
    char path[LG_MIX_PATH_MAX + 1];
    char request[LG_MIX_REQ_MAX]; /* the whole GET, ready to send */
    size_t request_len;
};

struct lg_mix {
    size_t n;
    uint64_t total_weight;
    struct lg_mix_entry entry[LG_MIX_MAX];
};

/* Parses a mix file's text (text[0..len), not NUL-terminated). Returns 0, or -1 with a reason
 * naming the line in err[0..err_len). */
int lg_mix_parse(struct lg_mix *m, const char *text, size_t len, char *err, size_t err_len);
/* A mix of one path, weight 1. Returns 0, or -1 with the reason in err. */
int lg_mix_single(struct lg_mix *m, const char *path, char *err, size_t err_len);
/* Builds every entry's request for Host 127.0.0.1:port. */
void lg_mix_build(struct lg_mix *m, unsigned port);
/* The entry that a uniform random 64-bit number picks, by weight. */
size_t lg_mix_pick(const struct lg_mix *m, uint64_t random);

/* A seeded generator (splitmix64): the same seed gives the same sequence of choices. */
uint64_t lg_rand_next(uint64_t *state);

#endif
