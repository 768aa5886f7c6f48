/* SPDX-License-Identifier: BSD-2-Clause */
/* status_page: php-fpm's status page from the scoreboard, in its plain format (default) or JSON,
 * with ?full adding a row per worker; plus millrace's per-route P50/P95/P99 computed from the
 * latency histograms. */
#ifndef MR_STATUS_H
#define MR_STATUS_H

#include <stdbool.h>

#include "app/lib/buf.h"
#include "app/config/config.h"
#include "app/board/scoreboard.h"

struct mr_status_opts {
    bool json;
    bool full;
};

/* Routes are named by the scoreboard's labels (mr_sb_label_route). */
void mr_status_render(const struct mr_sb *sb, const struct mr_cfg *cfg,
                      const struct mr_status_opts *o, struct mr_buf *out);

#endif
