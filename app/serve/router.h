/* SPDX-License-Identifier: BSD-2-Clause */
/* router: method + exact path -> route row, over a table of struct mr_route (millrace.h). A path
 * that exists with another method gives 405 and the Allow list; HEAD is answered wherever GET is.
 */
#ifndef MR_ROUTER_H
#define MR_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "app/include/millrace.h" /* struct mr_route: the rows are the application's */

/* Index of the route for method and path[0..path_len), or -404 when no route has the path,
 * or -405 when some do but not for this method; then `allow` holds "GET, HEAD" etc. */
int mr_router_match(const struct mr_route *table, size_t n, const char *method, const char *path,
                    size_t path_len, char *allow, size_t allow_cap);

#endif
