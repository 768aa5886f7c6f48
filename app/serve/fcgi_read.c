/* SPDX-License-Identifier: BSD-2-Clause */
/* fcgi_read: the OS_Read that libfcgi calls (fcgi_read.h). */
#include <dlfcn.h>
#include <errno.h>
#include <fcgiapp.h>
#include <fcgios.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/serve/fcgi_guard.h"
#include "app/serve/fcgi_read.h"

static int (*libfcgi_read)(int fd, char *buf, size_t len);
static struct mr_fcgi_guard guard;
static int guard_fd = -1;
static int limit_params, limit_params_bytes;
static unsigned long reads_seen; /* for the self-check */

void
mr_fcgi_read_start(int fd)
{
    mr_fcgi_guard_reset(&guard, limit_params, limit_params_bytes);
    guard_fd = fd;
}

bool
mr_fcgi_read_pipelined(void)
{
    return mr_fcgi_guard_pipelined(&guard);
}

const char *
mr_fcgi_read_refused(void)
{
    return guard.reason;
}

/* Exported from the executable (-rdynamic), so that it interposes libfcgi's. */
__attribute__((visibility("default"))) int
OS_Read(int fd, char *buf, size_t len)
{
    if (libfcgi_read == NULL) /* before mr_fcgi_read_init */
        libfcgi_read = (int (*)(int, char *, size_t))dlsym(RTLD_NEXT, "OS_Read");
    if (libfcgi_read == NULL) {
        errno = ENOSYS;
        return -1;
    }
    reads_seen++;
    for (;;) {
        int n = libfcgi_read(fd, buf, len);
        if (n <= 0)
            return n;
        if (fd != guard_fd)
            mr_fcgi_read_start(fd); /* a stream nobody announced: it starts here */
        size_t kept = (size_t)n;
        if (mr_fcgi_guard_filter(&guard, (unsigned char *)buf, &kept) != 0) {
            errno = EPROTO;
            return -1;
        }
        if (kept > 0)
            return (int)kept;
        /* Every byte was padding the filter left out: read on (0 would mean EOF). */
    }
}

/* One request on a socketpair whose first record has version 0: libfcgi must read it
 * through OS_Read above, which refuses it. */
static int
self_check(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return -1;
    static const char bad[8] = {0, 1, 0, 1, 0, 0, 0, 0};
    ssize_t w = write(sv[1], bad, sizeof(bad));
    (void)close(sv[1]); /* EOF after it: libfcgi's close does not wait */
    if (w != (ssize_t)sizeof(bad)) {
        (void)close(sv[0]);
        return -1;
    }
    FCGX_Request req;
    if (FCGX_InitRequest(&req, -1, 0) != 0) {
        (void)close(sv[0]);
        return -1;
    }
    req.ipcFd = sv[0];
    req.keepConnection = 1; /* FCGX_Accept_r's opening finish must not close it */
    unsigned long before = reads_seen;
    mr_fcgi_read_start(sv[0]);
    int rc = FCGX_Accept_r(&req); /* fails: refused, and libfcgi closes sv[0] */
    bool refused = guard.reason != NULL;
    if (req.ipcFd >= 0)
        FCGX_Free(&req, 1);
    guard_fd = -1;
    return rc < 0 && reads_seen > before && refused ? 0 : -1;
}

int
mr_fcgi_read_init(int max_params, int max_params_bytes)
{
    limit_params = max_params;
    limit_params_bytes = max_params_bytes;
    libfcgi_read = (int (*)(int, char *, size_t))dlsym(RTLD_NEXT, "OS_Read");
    if (libfcgi_read == NULL)
        return -1;
    return self_check();
}
