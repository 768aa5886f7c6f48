/* SPDX-License-Identifier: BSD-2-Clause */
/* clients: the allow-list of clients.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/lib/clients.h"

static int
parse_one(const char *entry, struct mr_client_rule *r, struct mr_err *err)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = strchr(entry, '/');
    size_t hlen = slash != NULL ? (size_t)(slash - entry) : strlen(entry);
    if (hlen == 0 || hlen >= sizeof(host))
        return mr_err_set(err, -EINVAL, "entry \"%s\": expected an address or a CIDR range", entry);
    memcpy(host, entry, hlen);
    host[hlen] = '\0';
    memset(r, 0, sizeof(*r));
    int max;
    if (inet_pton(AF_INET, host, r->addr) == 1) {
        r->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, host, r->addr) == 1) {
        r->family = AF_INET6;
        max = 128;
    } else {
        return mr_err_set(err, -EINVAL,
                          "entry \"%s\": \"%s\" is not a numeric IPv4 or IPv6 address", entry,
                          host);
    }
    int prefix = max;
    if (slash != NULL) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || p < 0 || p > max)
            return mr_err_set(err, -EINVAL, "entry \"%s\": prefix must be 0..%d", entry, max);
        prefix = (int)p;
    }
    r->prefix = (uint8_t)prefix;
    /* Bits past the prefix would never be compared: a range written with them set is
     * almost certainly not the range meant. */
    for (int bit = prefix; bit < max; bit++)
        if (r->addr[bit / 8] & (0x80 >> (bit % 8)))
            return mr_err_set(err, -EINVAL, "entry \"%s\": address has bits set past /%d", entry,
                              prefix);
    return 0;
}

int
mr_clients_parse(const char *const *entries, int n, struct mr_clients *c, struct mr_err *err)
{
    memset(c, 0, sizeof(*c));
    if (n > MR_CLIENTS_MAX)
        return mr_err_set(err, -EINVAL, "%d entries (at most %d)", n, MR_CLIENTS_MAX);
    for (int i = 0; i < n; i++) {
        if (strcmp(entries[i], "any") == 0) {
            if (n != 1)
                return mr_err_set(err, -EINVAL, "entry \"any\" must be the only one");
            c->any = true;
            return 0;
        }
        int rc = parse_one(entries[i], &c->rules[c->n], err);
        if (rc < 0)
            return rc;
        c->n++;
    }
    return 0;
}

static bool
is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return false;
}

int
mr_clients_for_listener(struct mr_clients *c, const struct sockaddr *bound, const char *what,
                        struct mr_err *err)
{
    c->check = bound->sa_family == AF_INET || bound->sa_family == AF_INET6;
    if (!c->check || c->any || c->n > 0)
        return 0;
    if (!is_loopback(bound))
        return mr_err_set(err, -EINVAL,
                          "%s is a TCP address other hosts can reach: set listen_allowed_clients "
                          "to the web servers' addresses (or [\"any\"]), since every client that "
                          "connects can send FastCGI records",
                          what);
    static const char *const loopback[] = {"127.0.0.0/8", "::1"};
    return mr_clients_parse(loopback, 2, c, err) < 0 ? -EINVAL : (c->check = true, 0);
}

static bool
rule_matches(const struct mr_client_rule *r, const uint8_t *addr)
{
    int full = r->prefix / 8, rest = r->prefix % 8;
    if (memcmp(r->addr, addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (r->addr[full] & mask) == (addr[full] & mask);
}

bool
mr_clients_allow(const struct mr_clients *c, const struct sockaddr *sa)
{
    if (!c->check || c->any)
        return true;
    uint8_t addr[16];
    int family = sa->sa_family;
    if (family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            memcpy(addr, a6->s6_addr + 12, 4);
        } else {
            memcpy(addr, a6, 16);
        }
    } else {
        return false; /* a TCP listener's peer is IPv4 or IPv6 */
    }
    for (int i = 0; i < c->n; i++)
        if (c->rules[i].family == family && rule_matches(&c->rules[i], addr))
            return true;
    return false;
}
