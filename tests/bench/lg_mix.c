/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_mix: the mix file reader, the weighted choice and the prebuilt requests (see lg_mix.h).
 * The choice is a binary search over cumulative weights; with at most LG_MIX_MAX entries that
 * is six comparisons a request. */
#include "tests/bench/lg_mix.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool
path_ok(const char *s, size_t n)
{
    if (n == 0 || n > LG_MIX_PATH_MAX || s[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    return true;
}

static int
add(struct lg_mix *m, uint32_t weight, const char *path, size_t n)
{
    if (m->n == LG_MIX_MAX)
        return -1;
    struct lg_mix_entry *e = &m->entry[m->n++];
    e->weight = weight;
    memcpy(e->path, path, n);
    e->path[n] = '\0';
    m->total_weight += weight;
    e->cumulative = m->total_weight;
    e->request_len = 0;
    return 0;
}

/* One non-blank, non-comment line: "weight path" with spaces or tabs around. */
static const char *
parse_line(struct lg_mix *m, const char *s, size_t n)
{
    size_t i = 0;
    uint64_t w = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        w = w * 10 + (uint64_t)(s[i] - '0');
        if (w > LG_MIX_WEIGHT_MAX)
            return "weight above 1000000";
        i++;
    }
    if (i == 0 || w == 0)
        return "expected a positive weight";
    if (i == n || (s[i] != ' ' && s[i] != '\t'))
        return "expected a space and a path after the weight";
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t start = i;
    while (i < n && s[i] != ' ' && s[i] != '\t')
        i++;
    if (!path_ok(s + start, i - start))
        return "the path must start with '/', be printable ASCII and at most 512 bytes";
    size_t end = i;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i != n)
        return "text after the path";
    if (add(m, (uint32_t)w, s + start, end - start) != 0)
        return "more than 64 paths";
    return NULL;
}

int
lg_mix_parse(struct lg_mix *m, const char *text, size_t len, char *err, size_t err_len)
{
    m->n = 0;
    m->total_weight = 0;
    size_t pos = 0;
    unsigned line_no = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *s = text + pos;
        pos += n + (nl != NULL);
        line_no++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        size_t lead = 0;
        while (lead < n && (s[lead] == ' ' || s[lead] == '\t'))
            lead++;
        if (lead == n || s[lead] == '#')
            continue;
        const char *why = parse_line(m, s + lead, n - lead);
        if (why != NULL) {
            snprintf(err, err_len, "line %u: %s", line_no, why);
            return -1;
        }
    }
    if (m->n == 0) {
        snprintf(err, err_len, "no paths");
        return -1;
    }
    return 0;
}

int
lg_mix_single(struct lg_mix *m, const char *path, char *err, size_t err_len)
{
    m->n = 0;
    m->total_weight = 0;
    size_t n = strlen(path);
    if (!path_ok(path, n)) {
        snprintf(err, err_len,
                 "path %.64s: must start with '/', be printable ASCII and at most 512 bytes", path);
        return -1;
    }
    return add(m, 1, path, n);
}

void
lg_mix_build(struct lg_mix *m, unsigned port)
{
    for (size_t i = 0; i < m->n; i++) {
        struct lg_mix_entry *e = &m->entry[i];
        int n = snprintf(e->request, sizeof(e->request),
                         "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                         "User-Agent: millrace-loadgen\r\nAccept: */*\r\n\r\n",
                         e->path, port);
        /* LG_MIX_REQ_MAX leaves room for the longest path and the fixed lines. */
        e->request_len = n > 0 && (size_t)n < sizeof(e->request) ? (size_t)n : 0;
    }
}

size_t
lg_mix_pick(const struct lg_mix *m, uint64_t random)
{
    uint64_t x = random % m->total_weight; /* bias under 2^-44 with weights <= 64 * 10^6 */
    size_t lo = 0, hi = m->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->entry[mid].cumulative > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

uint64_t
lg_rand_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}
