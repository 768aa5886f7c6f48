/* SPDX-License-Identifier: BSD-2-Clause */
/* api/internal.h: what the files of app/api share with each other and their unit tests, and
 * nothing else uses. */
#ifndef MR_API_INTERNAL_H
#define MR_API_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "app/serve/ctx.h"

/* millrace.h's batch: the calls so far, in the request's arena. */
struct mr_batch {
    struct mr_ctx *ctx;
    struct mr_db_call *calls; /* each with its params array copied, the strings borrowed */
    int n;
    int cap;
    int failed;    /* the status of a failed add, which the run returns; 0 */
    bool is_run;   /* a batch runs once */
    int isolation; /* enum mr_isolation of its commit */
};

/* sql.c: the HTTP status millrace.h's data calls return for db/'s outcome: rc (0 or a
 * negative errno from mr_db_run) and the server's SQLSTATE ("" or NULL when none). */
int mr_api__sql_status(int rc, const char *sqlstate);

/* txn.c: mr_batch_commit's run, retried on a serialization failure as mr_txn is. */
int mr_api__batch_commit(struct mr_batch *b, struct mr_rows **out);
/* Whether a failure's SQLSTATE is worth re-running the whole transaction for: a
 * serialization failure (40001) or a deadlock (40P01). */
bool mr_api__txn_retryable(const char *sqlstate);
/* The wait in ms before re-run `retry` (1, 2, ...): base_ms doubled per earlier retry, taken
 * uniformly between half of it and all of it by `random`; -1 when the wait would use half or
 * more of left_ms (the time to the deadline), leaving the re-run too little. Pure. */
int mr_api__txn_backoff_ms(int retry, int base_ms, uint64_t random, int64_t left_ms);

#endif
