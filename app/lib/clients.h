/* SPDX-License-Identifier: BSD-2-Clause */
/* clients: who may connect to a TCP listener (listen_allowed_clients, php-fpm's
 * listen.allowed_clients). Each entry is an address or a CIDR range, IPv4 or IPv6, or the one
 * word "any". A connection from any other address is closed right after accept, before a
 * byte is read (app/serve/worker.c). An IPv4 peer on a dual-stack IPv6 socket (::ffff:a.b.c.d) is
 * matched as IPv4.
 *
 * The default, when the list is empty: a listener bound to a loopback address (127.0.0.0/8,
 * ::1) admits loopback peers only; one bound to any other address is refused at start, since
 * every host that reaches it could send FastCGI records (and libfcgi 2.4.2 has aborted on
 * some). Unix sockets are guarded by their owner, group and mode instead. Pure but for the
 * address of a socket. */
#ifndef MR_CLIENTS_H
#define MR_CLIENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "app/lib/err.h"

#define MR_CLIENTS_MAX 64

struct mr_client_rule {
    uint8_t family; /* AF_INET or AF_INET6 */
    uint8_t prefix; /* bits that must match */
    uint8_t addr[16];
};

struct mr_clients {
    bool any;   /* "any": every peer */
    bool check; /* false: not a TCP listener, nothing to check */
    int n;
    struct mr_client_rule rules[MR_CLIENTS_MAX];
};

/* Parses n entries into c (check off until mr_clients_for_listener). Returns 0, or -EINVAL
 * with `entry "X": reason` in err. */
MR_MUST_CHECK int mr_clients_parse(const char *const *entries, int n, struct mr_clients *c,
                                   struct mr_err *err);
/* Settles the list for a listener bound to `bound` (AF_UNIX: no check; loopback with no
 * entries: loopback only). Returns 0, or -EINVAL when the listener is reachable from other
 * hosts and the list is empty, with the reason naming `what` (e.g. "listen"). */
MR_MUST_CHECK int mr_clients_for_listener(struct mr_clients *c, const struct sockaddr *bound,
                                          const char *what, struct mr_err *err);
/* May the peer at sa connect? */
bool mr_clients_allow(const struct mr_clients *c, const struct sockaddr *sa);

#endif
