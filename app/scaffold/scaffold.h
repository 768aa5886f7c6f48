/* SPDX-License-Identifier: BSD-2-Clause */
/* scaffold: `millrace new DIR`, a minimal application to start from: one C file with two
 * routes, a Makefile that builds it against the installed millrace (pkg-config millrace), a
 * config, a public/ folder of static files, an nginx server block that serves public/ itself
 * and sends the rest to millrace, and a README whose two commands build and serve it. */
#ifndef MR_SCAFFOLD_H
#define MR_SCAFFOLD_H

#include "app/lib/err.h"

/* Creates dir (which must not exist, or be empty) and writes the application into it; the
 * nginx block listens on 127.0.0.1:port. Returns 0, or a negative errno with err naming the
 * file. Files already written are left for the user to see. */
MR_MUST_CHECK int mr_scaffold_new(const char *dir, int port, struct mr_err *err);

#endif
