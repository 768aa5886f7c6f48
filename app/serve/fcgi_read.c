/* SPDX-License-Identifier: BSD-2-Clause */
/* fcgi_read: the OS_Read that libfcgi calls (fcgi_read.h). */
#include <dlfcn.h>
#include <errno.h>
#include <fcgiapp.h>
#include <fcgios.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/lib/clock.h"
#include "app/serve/fcgi_read.h"

static int (*libfcgi_read)(int fd, char *buf, size_t len);
static struct mr_fcgi_stream *current;           /* the stream libfcgi reads now */
static struct mr_fcgi_stream stray = {.fd = -1}; /* an fd nobody announced (self-check) */
static int limit_params, limit_params_bytes;
static unsigned long reads_seen; /* for the self-check */

void
mr_fcgi_read_start(struct mr_fcgi_stream *s, int fd)
{
    mr_fcgi_guard_reset(&s->guard, limit_params, limit_params_bytes);
    s->fd = fd;
    s->deadline_ms = 0;
    s->ahead_len = s->ahead_off = 0;
}

void
mr_fcgi_read_use(struct mr_fcgi_stream *s, int64_t deadline_ms)
{
    current = s;
    if (s != NULL)
        s->deadline_ms = deadline_ms;
}

bool
mr_fcgi_read_pending(const struct mr_fcgi_stream *s)
{
    return s->ahead_len > s->ahead_off;
}

int
mr_fcgi_read_ahead(struct mr_fcgi_stream *s)
{
    if (s->ahead_off == s->ahead_len)
        s->ahead_off = s->ahead_len = 0; /* all handed over: start again at the front */
    uint32_t room = MR_FCGI_AHEAD_BYTES - s->ahead_len;
    if (s->ahead == NULL || room == 0)
        return 1;
    ssize_t n;
    do
        n = recv(s->fd, s->ahead + s->ahead_len, room, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    if (n == 0)
        return -1; /* closed: nginx dropping an idle connection, or a peer giving up */
    size_t kept = (size_t)n;
    if (mr_fcgi_guard_filter(&s->guard, s->ahead + s->ahead_len, &kept) != 0)
        return -1;
    s->ahead_len += (uint32_t)kept;
    if (s->ahead_len == MR_FCGI_AHEAD_BYTES)
        return 1; /* larger than the read-ahead: libfcgi reads the rest, bounded */
    /* Between two requests again, with bytes read: a request (or a management record)
     * ended. Before its BEGIN_REQUEST a partial header leaves header_len > 0. */
    return s->ahead_len > s->ahead_off && mr_fcgi_guard_at_boundary(&s->guard) ? 1 : 0;
}

bool
mr_fcgi_read_pipelined(const struct mr_fcgi_stream *s)
{
    return mr_fcgi_guard_pipelined(&s->guard);
}

const char *
mr_fcgi_read_refused(const struct mr_fcgi_stream *s)
{
    return s->guard.reason;
}

/* Waits for bytes on s until its deadline: 0 when some came (or the peer closed), -1 with
 * errno ETIMEDOUT when the deadline passed first. */
static int
wait_bytes(struct mr_fcgi_stream *s)
{
    for (;;) {
        int64_t left = s->deadline_ms - mr_clock_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = {s->fd, POLLIN, 0};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* A read that fails the stream: libfcgi then closes the connection, and its close of a unix
 * socket reads on until the peer's EOF (up to 2 s); shutting our read side first makes that
 * EOF immediate, so a hostile peer cannot hold the worker (and its other connections) there.
 * The write side stays open: an answer already due still leaves. */
static int
give_up(int fd, int err)
{
    (void)shutdown(fd, SHUT_RD);
    errno = err;
    return -1;
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
    struct mr_fcgi_stream *s = current;
    if (s == NULL || s->fd != fd) {
        s = &stray;
        if (stray.fd != fd)
            mr_fcgi_read_start(&stray, fd); /* a stream nobody announced: it starts here */
    }
    if (s->ahead_off < s->ahead_len) {
        size_t k = s->ahead_len - s->ahead_off;
        k = k < len ? k : len;
        memcpy(buf, s->ahead + s->ahead_off, k); /* already through the guard */
        s->ahead_off += (uint32_t)k;
        return (int)k;
    }
    for (;;) {
        /* The read-ahead took what the socket had: wait, until the deadline, for more. */
        if (s != &stray && wait_bytes(s) != 0)
            return give_up(fd, ETIMEDOUT);
        int n = libfcgi_read(fd, buf, len);
        if (n <= 0)
            return n;
        size_t kept = (size_t)n;
        if (mr_fcgi_guard_filter(&s->guard, (unsigned char *)buf, &kept) != 0)
            return give_up(fd, EPROTO);
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
    struct mr_fcgi_stream s = {.ahead = NULL};
    mr_fcgi_read_start(&s, sv[0]);
    mr_fcgi_read_use(&s, mr_clock_ms() + 1000);
    int rc = FCGX_Accept_r(&req); /* fails: refused, and libfcgi closes sv[0] */
    bool refused = s.guard.reason != NULL;
    mr_fcgi_read_use(NULL, 0);
    if (req.ipcFd >= 0)
        FCGX_Free(&req, 1);
    return rc < 0 && reads_seen > before && refused ? 0 : -1;
}

int
mr_fcgi_read_init(int max_params, int max_params_bytes)
{
    limit_params = max_params;
    limit_params_bytes = max_params_bytes;
    stray.fd = -1;
    libfcgi_read = (int (*)(int, char *, size_t))dlsym(RTLD_NEXT, "OS_Read");
    if (libfcgi_read == NULL)
        return -1;
    return self_check();
}
