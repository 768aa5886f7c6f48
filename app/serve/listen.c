/* SPDX-License-Identifier: BSD-2-Clause */
/* listen: parsing of the address forms, binding, and the inheritance protocols.
 * The accept queue length comes from TCP_INFO for TCP (tcpi_unacked of a listener is its
 * queue) and from sock_diag for unix sockets (UDIAG_SHOW_RQLEN). */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/serve/listen.h"

static bool
is_listening_socket(int fd)
{
    int yes = 0;
    socklen_t len = sizeof(yes);
    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &yes, &len) == 0 && yes;
}

static void
describe(struct mr_listen *l)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    l->is_unix = getsockname(l->fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_UNIX;
    l->path[0] = '\0'; /* inherited: not ours to unlink */
}

/* systemd passes fds 3.. and, with FileDescriptorName=, their names colon-separated in
 * LISTEN_FDNAMES. The one named "status" is the status socket; the first other one serves. */
static void
inherit_systemd(struct mr_listen *l, struct mr_listen *status, long n)
{
    const char *names = getenv("LISTEN_FDNAMES");
    for (long k = 0; k < n && k < 64; k++) {
        int fd = 3 + (int)k;
        size_t len = names ? strcspn(names, ":") : 0;
        bool is_status = names && len == 6 && strncmp(names, "status", 6) == 0;
        if (names)
            names = names[len] == ':' ? names + len + 1 : NULL;
        if (!is_listening_socket(fd))
            continue;
        struct mr_listen *dst = is_status ? status : l;
        if (dst->fd >= 0)
            continue;
        dst->fd = fd;
        dst->origin = MR_LISTEN_SYSTEMD;
        describe(dst);
    }
}

int
mr_listen_inherit(struct mr_listen *l, struct mr_listen *status)
{
    l->fd = status->fd = -1;
    const char *pid = getenv("LISTEN_PID");
    const char *fds = getenv("LISTEN_FDS");
    long n = fds ? strtol(fds, NULL, 10) : 0;
    if (pid != NULL && strtol(pid, NULL, 10) == (long)getpid() && n >= 1)
        inherit_systemd(l, status, n);
    (void)unsetenv("LISTEN_PID");
    (void)unsetenv("LISTEN_FDS");
    (void)unsetenv("LISTEN_FDNAMES");
    if (l->fd >= 0)
        return 1;
    if (is_listening_socket(0)) {
        l->fd = 0;
        l->origin = MR_LISTEN_STDIN;
        describe(l);
        return 1;
    }
    return 0;
}

/* A unix path where a live server answers must not be taken over; a stale file is removed. */
static int
unix_path_free(const char *path, struct mr_err *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (!S_ISSOCK(st.st_mode))
        return mr_err_set(err, -EEXIST, "listen: %s exists and is not a socket", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return mr_err_set(err, -errno, "listen: socket: %s", strerror(errno));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    (void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    int saved = errno;
    (void)close(fd);
    if (rc == 0 || saved == EAGAIN)
        return mr_err_set(err, -EADDRINUSE,
                          "listen: %s is in use by another process (is millrace already "
                          "running?)",
                          path);
    if (unlink(path) != 0 && errno != ENOENT)
        return mr_err_set(err, -errno, "listen: unlink stale %s: %s", path, strerror(errno));
    return 0;
}

static int
set_unix_perms(const char *path, const struct mr_listen_opts *o, struct mr_err *err)
{
    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    if (o->owner && *o->owner) {
        struct passwd *pw = getpwnam(o->owner);
        if (pw == NULL)
            return mr_err_set(err, -EINVAL, "listen_owner: no user %s", o->owner);
        uid = pw->pw_uid;
    }
    if (o->group && *o->group) {
        struct group *gr = getgrnam(o->group);
        if (gr == NULL)
            return mr_err_set(err, -EINVAL, "listen_group: no group %s", o->group);
        gid = gr->gr_gid;
    }
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) != 0)
        return mr_err_set(err, -errno, "listen: chown %s: %s", path, strerror(errno));
    if (chmod(path, (mode_t)o->mode) != 0)
        return mr_err_set(err, -errno, "listen: chmod %s: %s", path, strerror(errno));
    return 0;
}

static int
open_unix(struct mr_listen *l, const struct mr_listen_opts *o, const char *path, struct mr_err *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (*path == '\0' || strlen(path) >= sizeof(sa.sun_path))
        return mr_err_set(err, -EINVAL, "listen: unix path empty or longer than %zu bytes",
                          sizeof(sa.sun_path) - 1);
    int rc = unix_path_free(path, err);
    if (rc < 0)
        return rc;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0)
        return mr_err_set(err, -errno, "listen: socket: %s", strerror(errno));
    if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        rc = mr_err_set(err, -errno, "listen: bind %s: %s", path, strerror(errno));
        goto fail;
    }
    (void)snprintf(l->path, sizeof(l->path), "%s", path);
    l->is_unix = true;
    rc = set_unix_perms(path, o, err);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    mr_listen_close(l);
    return rc;
}

int
mr_listen_inet_addr(const char *addr, struct sockaddr_storage *out, socklen_t *out_len,
                    struct mr_err *err)
{
    char host[64];
    const char *colon = strrchr(addr, ':');
    if (colon == NULL || colon == addr || colon[1] == '\0')
        return mr_err_set(err, -EINVAL, "listen: %s: expected unix:/path, host:port or [v6]:port",
                          addr);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
        return mr_err_set(err, -EINVAL, "listen: %s: bad port", addr);
    size_t hlen = (size_t)(colon - addr);
    if (addr[0] == '[') {
        if (hlen < 3 || addr[hlen - 1] != ']')
            return mr_err_set(err, -EINVAL, "listen: %s: bad IPv6 form", addr);
        addr++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host))
        return mr_err_set(err, -EINVAL, "listen: %s: host too long", addr);
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    struct sockaddr_storage ss = {0};
    socklen_t sl;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        sl = sizeof(*s4);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*s6);
    } else {
        return mr_err_set(err, -EINVAL, "listen: %s: host must be a numeric address", host);
    }
    *out = ss;
    *out_len = sl;
    return 0;
}

static int
open_inet(struct mr_listen *l, const char *addr, struct mr_err *err)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    int rc = mr_listen_inet_addr(addr, &ss, &sl, err);
    if (rc < 0)
        return rc;
    l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0)
        return mr_err_set(err, -errno, "listen: socket: %s", strerror(errno));
    /* SO_REUSEADDR only skips TIME_WAIT; a live listener still gives EADDRINUSE. */
    int one = 1;
    (void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(l->fd, (struct sockaddr *)&ss, sl) != 0) {
        rc = mr_err_set(err, -errno, "listen: bind %s: %s", addr, strerror(errno));
        mr_listen_close(l);
        return rc;
    }
    return 0;
}

int
mr_listen_open(struct mr_listen *l, const struct mr_listen_opts *o, struct mr_err *err)
{
    memset(l, 0, sizeof(*l));
    l->fd = -1;
    l->origin = MR_LISTEN_BOUND;
    int rc = strncmp(o->addr, "unix:", 5) == 0 ? open_unix(l, o, o->addr + 5, err)
                                               : open_inet(l, o->addr, err);
    if (rc < 0)
        return rc;
    if (listen(l->fd, o->backlog) != 0) {
        rc = mr_err_set(err, -errno, "listen: listen: %s", strerror(errno));
        mr_listen_close(l);
        return rc;
    }
    return 0;
}

int
mr_listen_settle_clients(struct mr_listen *l, const struct mr_clients *configured, const char *what,
                         struct mr_err *err)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    if (getsockname(l->fd, (struct sockaddr *)&ss, &len) != 0)
        return mr_err_set(err, -errno, "%s: getsockname: %s", what, strerror(errno));
    struct mr_clients c = *configured;
    int rc = mr_clients_for_listener(&c, (struct sockaddr *)&ss, what, err);
    if (rc == 0)
        l->clients = c;
    return rc;
}

void
mr_listen_close(struct mr_listen *l)
{
    if (l->fd >= 0)
        (void)close(l->fd);
    l->fd = -1;
    if (l->path[0] != '\0')
        (void)unlink(l->path);
    l->path[0] = '\0';
}

static int
unix_queue_len(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0)
        return -1;
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req req;
    } msg = {
        .nlh = {.nlmsg_len = sizeof(msg),
                .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                .nlmsg_flags = NLM_F_REQUEST},
        .req = {.sdiag_family = AF_UNIX,
                .udiag_states = 1 << 10 /* TCP_LISTEN */,
                .udiag_ino = (unsigned)st.st_ino,
                .udiag_show = UDIAG_SHOW_RQLEN,
                .udiag_cookie = {~0U, ~0U}},
    };
    int result = -1;
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    (void)setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (send(nl, &msg, sizeof(msg), 0) != (ssize_t)sizeof(msg))
        goto out;
    long buf[1024];
    ssize_t n = recv(nl, buf, sizeof(buf), 0);
    for (struct nlmsghdr *h = (struct nlmsghdr *)buf; n > 0 && NLMSG_OK(h, (size_t)n);
         h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
            break;
        struct unix_diag_msg *m = NLMSG_DATA(h);
        int len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*m)));
        for (struct rtattr *a = (struct rtattr *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len))
            if (a->rta_type == UNIX_DIAG_RQLEN)
                result = (int)((struct unix_diag_rqlen *)RTA_DATA(a))->udiag_rqueue;
        break;
    }
out:
    (void)close(nl);
    return result;
}

int
mr_listen_queue_len(const struct mr_listen *l)
{
    if (l->fd < 0)
        return -1;
    if (l->is_unix)
        return unix_queue_len(l->fd);
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(l->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return -1;
    return (int)ti.tcpi_unacked;
}
