/* SPDX-License-Identifier: BSD-2-Clause */
/* check: an application's statements prepared once on the primary, on a connection of the
 * module check's own (app/module/), so that a statement the server refuses (a missing table,
 * a syntax error) refuses the module at load with its name, not every request later.
 *
 * The connection is a probe's (no backoff, no breaker, no log line) and lives for the call
 * only; every wait is bounded by connect_timeout_ms, then query_timeout_ms. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/lib/clock.h"
#include "db/internal.h"

int
mr_db_check_stmts(const struct mr_db_cfg *cfg, const struct mr_db_stmt *stmts, int n_stmts,
                  struct mr_err *err)
{
    if (n_stmts <= 0)
        return 0;
    struct mr_backend_slot slot = {.name = "primary"};
    struct mr_db__conn c = {.slot = &slot};
    int rc = mr_db__conn_init(&c, cfg->primary, cfg, err);
    mr_backend_policy_init(&c.policy, &slot, NULL, 0, 0); /* a probe's: see backend.h */
    if (rc != 0) {
        mr_db__conn_fini(&c);
        return rc;
    }
    rc = mr_db__conn_ready(&c, 0, err);
    if (rc != 0 && err != NULL) {
        struct mr_err why = *err;
        (void)mr_err_set(err, rc, "primary: %s", why.msg);
    }
    if (rc != 0) {
        mr_db__conn_fini(&c);
        return rc;
    }
    struct mr_db__stmt *table = mr_xcalloc((size_t)n_stmts, sizeof(*table));
    char(*names)[16] = mr_xcalloc((size_t)n_stmts, sizeof(*names));
    for (int i = 0; i < n_stmts; i++) {
        (void)snprintf(names[i], sizeof(names[i]), "s%d", i);
        table[i] = (struct mr_db__stmt){names[i], stmts[i].sql, stmts[i].name, -1, 0};
    }
    c.stmts = table;
    c.n_stmts = n_stmts;
    rc = mr_db__conn_prepare(&c, mr_db__deadline(mr_clock_ms(), cfg->query_timeout_ms, 0), err);
    if (rc != 0 && c.sqlstate[0] != '\0' && !mr_db__is_fault_sqlstate(c.sqlstate))
        rc = -EINVAL; /* the statement's own fault, named in err by conn_prepare */
    mr_db__conn_fini(&c);
    free(names);
    free(table);
    return rc;
}
