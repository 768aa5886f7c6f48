/* SPDX-License-Identifier: BSD-2-Clause */
/* params: TechEmpower's rule for the count parameter of /queries, /cached-queries and
 * /updates: missing, empty, not an integer or below 1 gives 1; above 500 gives 500. */
#ifndef MR_HANDLERS_PARAMS_H
#define MR_HANDLERS_PARAMS_H

#define MR_QUERIES_MAX 500

int mr_clamp_queries(const char *value);

#endif
