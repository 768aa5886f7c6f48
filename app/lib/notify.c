/* SPDX-License-Identifier: BSD-2-Clause */
/* notify: the sd_notify datagram. An abstract socket name starts with '@'. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "app/lib/notify.h"

static struct sockaddr_un notify_addr;
static socklen_t notify_len;
static int64_t watchdog_ms;

void
mr_notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path != NULL && (path[0] == '/' || path[0] == '@') &&
        strlen(path) < sizeof(notify_addr.sun_path)) {
        notify_addr.sun_family = AF_UNIX;
        memcpy(notify_addr.sun_path, path, strlen(path));
        if (path[0] == '@')
            notify_addr.sun_path[0] = '\0';
        notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
    }
    const char *wd = getenv("WATCHDOG_USEC");
    const char *wpid = getenv("WATCHDOG_PID");
    if (wd != NULL && (wpid == NULL || strtol(wpid, NULL, 10) == (long)getpid()))
        watchdog_ms = strtoll(wd, NULL, 10) / 2000;
    (void)unsetenv("NOTIFY_SOCKET");
    (void)unsetenv("WATCHDOG_USEC");
    (void)unsetenv("WATCHDOG_PID");
}

int
mr_notify(const char *state)
{
    if (notify_len == 0)
        return 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t n =
        sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&notify_addr, notify_len);
    int rc = n < 0 ? -errno : 0;
    (void)close(fd);
    return rc;
}

int64_t
mr_notify_watchdog_ms(void)
{
    return watchdog_ms;
}
