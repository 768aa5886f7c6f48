/* SPDX-License-Identifier: BSD-2-Clause */
/* api/internal.h: what the files of app/api share with each other and their unit tests, and
 * nothing else uses. */
#ifndef MR_API_INTERNAL_H
#define MR_API_INTERNAL_H

/* sql.c: the HTTP status millrace.h's data calls return for db/'s outcome: rc (0 or a
 * negative errno from mr_db_run) and the server's SQLSTATE ("" or NULL when none). */
int mr_api__sql_status(int rc, const char *sqlstate);

#endif
