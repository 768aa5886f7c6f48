/* SPDX-License-Identifier: BSD-2-Clause */
/* listen: the FastCGI listening socket. Inherited from systemd (LISTEN_FDS/LISTEN_PID, fd 3)
 * or from spawn-fcgi / StandardInput=socket (fd 0 is a listening socket), else bound from
 * the config's `listen`. A unix socket that another process still answers on is an error,
 * never a silent takeover; a stale one (nobody answers) is replaced. Opened by the manager
 * before fork and shared by every worker. */
#ifndef MR_LISTEN_H
#define MR_LISTEN_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "app/lib/clients.h"
#include "app/lib/err.h"

enum mr_listen_origin {
    MR_LISTEN_BOUND,   /* we bound it from the config */
    MR_LISTEN_SYSTEMD, /* LISTEN_FDS, fd 3 */
    MR_LISTEN_STDIN,   /* fd 0 was a listening socket */
};

struct mr_listen {
    int fd;
    enum mr_listen_origin origin;
    bool is_unix;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix path we created, or "" */
    struct mr_clients clients; /* who may connect (TCP); settled by mr_listen_settle_clients */
};

struct mr_listen_opts {
    const char *addr; /* "unix:/path", "host:port", "[v6]:port" */
    int backlog;
    const char *owner; /* "" = unchanged */
    const char *group;
    int mode;
};

/* Finds inherited sockets (and unsets LISTEN_* so children do not see them). Returns 1 and
 * fills l when a serving socket was inherited, 0 when none. A systemd socket named "status"
 * (FileDescriptorName=status) fills `status` (else its fd is -1). */
int mr_listen_inherit(struct mr_listen *l, struct mr_listen *status);
/* Binds and listens per opts. Returns 0, or -EADDRINUSE/-EINVAL/-errno with the reason. */
MR_MUST_CHECK int mr_listen_open(struct mr_listen *l, const struct mr_listen_opts *opts,
                                 struct mr_err *err);
/* The address of a "host:port" or "[v6]:port" listen form (numeric hosts only). Returns 0, or
 * -EINVAL with the reason. */
MR_MUST_CHECK int mr_listen_inet_addr(const char *addr, struct sockaddr_storage *out,
                                      socklen_t *out_len, struct mr_err *err);
/* Settles l->clients from the configured list for the socket l is bound to (clients.h: a
 * loopback default, or a refusal for a TCP address other hosts reach with no list). what
 * names the setting in the message ("listen", "status_listen"). Returns 0 or -EINVAL. */
MR_MUST_CHECK int mr_listen_settle_clients(struct mr_listen *l, const struct mr_clients *configured,
                                           const char *what, struct mr_err *err);
/* Closes the fd and unlinks a unix path we created. Safe to call twice. */
void mr_listen_close(struct mr_listen *l);
/* Connections waiting in the accept queue now, or -1 when unknown. */
int mr_listen_queue_len(const struct mr_listen *l);

#endif
