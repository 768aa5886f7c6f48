/* SPDX-License-Identifier: BSD-2-Clause */
/* fdio: the write loop. */
#include <errno.h>
#include <unistd.h>

#include "app/lib/fdio.h"

int
mr_write_all(int fd, const void *data, size_t n)
{
    const char *s = data;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}
