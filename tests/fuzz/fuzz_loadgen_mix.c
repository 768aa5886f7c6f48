/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_loadgen_mix: loadgen's mix file reader (tests/bench/lg_mix.h). The input is the file.
 * Invariants: on success there are 1..LG_MIX_MAX entries, each weight in 1..1000000, the
 * cumulative weights strictly rise to the total, every path starts with '/' and is printable
 * ASCII without spaces, every built request ends with an empty line, and the weighted pick
 * of any number names an entry whose cumulative range holds it; on failure the reason names
 * a line or says there are no paths. */
#include <stdint.h>
#include <string.h>

#include "tests/bench/lg_mix.h"
#include "tests/fuzz/ref.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lg_mix m;
    char err[160];
    char *text = fuzz_dup_exact(data, size);
    int rc = lg_mix_parse(&m, text, size, err, sizeof(err));
    if (rc != 0) {
        FUZZ_CHECK(strncmp(err, "line ", 5) == 0 || strcmp(err, "no paths") == 0);
        free(text);
        return 0;
    }
    FUZZ_CHECK(m.n >= 1 && m.n <= LG_MIX_MAX);
    uint64_t sum = 0;
    lg_mix_build(&m, 65535);
    for (size_t i = 0; i < m.n; i++) {
        const struct lg_mix_entry *e = &m.entry[i];
        FUZZ_CHECK(e->weight >= 1 && e->weight <= LG_MIX_WEIGHT_MAX);
        sum += e->weight;
        FUZZ_CHECK(e->cumulative == sum);
        size_t n = strlen(e->path);
        FUZZ_CHECK(n >= 1 && n <= LG_MIX_PATH_MAX && e->path[0] == '/');
        for (size_t k = 0; k < n; k++)
            FUZZ_CHECK(e->path[k] > ' ' && e->path[k] <= '~');
        FUZZ_CHECK(e->request_len > 4 &&
                   memcmp(e->request + e->request_len - 4, "\r\n\r\n", 4) == 0);
    }
    FUZZ_CHECK(sum == m.total_weight);
    uint64_t probes[] = {0, 1, sum - 1, sum, sum * 3 + 7, UINT64_MAX};
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        size_t k = lg_mix_pick(&m, probes[i]);
        uint64_t x = probes[i] % sum;
        FUZZ_CHECK(k < m.n && x < m.entry[k].cumulative);
        FUZZ_CHECK(k == 0 || x >= m.entry[k - 1].cumulative);
    }
    free(text);
    return 0;
}
