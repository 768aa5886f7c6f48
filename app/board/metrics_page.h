/* SPDX-License-Identifier: BSD-2-Clause */
/* metrics_page: the scoreboard as Prometheus text exposition format 0.0.4: request counts and
 * latency histograms by route and status class, cache and database counters, backend health,
 * breakers, replica lag, workers by state, the listen queue and the pool's counters. */
#ifndef MR_METRICS_H
#define MR_METRICS_H

#include "app/lib/buf.h"
#include "app/board/scoreboard.h"

/* Routes are named by the scoreboard's labels (mr_sb_label_route). */
void mr_metrics_render(const struct mr_sb *sb, struct mr_buf *out);

#endif
