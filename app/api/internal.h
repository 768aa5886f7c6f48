/* SPDX-License-Identifier: BSD-2-Clause */
/* api/internal.h: what the files of app/api share with each other and their unit tests, and
 * nothing else uses. */
#ifndef MR_API_INTERNAL_H
#define MR_API_INTERNAL_H

#include <stdbool.h>

#include "app/serve/ctx.h"

/* millrace.h's batch: the calls so far, in the request's arena. */
struct mr_batch {
    struct mr_ctx *ctx;
    struct mr_db_call *calls; /* each with its params array copied, the strings borrowed */
    int n;
    int cap;
    int failed;  /* the status of a failed add, which the run returns; 0 */
    bool is_run; /* a batch runs once */
};

/* sql.c: the HTTP status millrace.h's data calls return for db/'s outcome: rc (0 or a
 * negative errno from mr_db_run) and the server's SQLSTATE ("" or NULL when none). */
int mr_api__sql_status(int rc, const char *sqlstate);

#endif
