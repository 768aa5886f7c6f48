/* SPDX-License-Identifier: BSD-2-Clause */
/* fdio: a write that finishes: all n bytes to a file descriptor, across short writes and
 * EINTR. For files (uploads spilled to disk, `millrace new`), not sockets with deadlines. */
#ifndef MR_FDIO_H
#define MR_FDIO_H

#include <stddef.h>

#include "app/lib/err.h"

/* Returns 0, or -errno (-EIO when write returned 0). */
MR_MUST_CHECK int mr_write_all(int fd, const void *data, size_t n);

#endif
