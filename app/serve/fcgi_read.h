/* SPDX-License-Identifier: BSD-2-Clause */
/* fcgi_read: libfcgi reads every byte of a connection through OS_Read (fcgios.h), called
 * through its PLT; millrace defines OS_Read in the executable, so the dynamic linker binds
 * libfcgi's calls to it. It reads with libfcgi's own OS_Read and passes the bytes through the
 * record guard (fcgi_guard.h) before libfcgi parses them: a stream that breaks the protocol
 * fails the read (EPROTO), libfcgi sees an error and the connection is closed.
 *
 * One stream per worker: libfcgi serves one connection at a time (worker.c). */
#ifndef MR_FCGI_READ_H
#define MR_FCGI_READ_H

#include <stdbool.h>

/* Looks up libfcgi's OS_Read and sets the limits; then checks, on a socketpair, that libfcgi
 * really reads through the guard. Returns 0, or -1 when it does not (a libfcgi built so that
 * its calls bypass the PLT): the worker then serves unguarded and says so in the log. */
int mr_fcgi_read_init(int max_params, int max_params_bytes);
/* A new connection: the guard starts over on fd. */
void mr_fcgi_read_start(int fd);
/* Whether the connection's client sent past a request's end before its answer: not to be
 * kept (fcgi_guard.h). */
bool mr_fcgi_read_pipelined(void);
/* Why the current connection's stream was refused, or NULL. */
const char *mr_fcgi_read_refused(void);

#endif
