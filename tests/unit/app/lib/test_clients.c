/* SPDX-License-Identifier: BSD-2-Clause */
/* test_clients: the listener allow-list: entries parsed or refused with the reason, ranges
 * matched bit by bit, IPv4 peers on a dual-stack socket matched as IPv4, and the defaults of
 * a loopback, a public and a unix listener. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "app/lib/clients.h"
#include "tests/unit/suites.h"

static struct sockaddr_storage
addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &s4->sin_addr) == 1)
        s4->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1)
        s6->sin6_family = AF_INET6;
    else
        ck_abort_msg("bad test address %s", text);
    return ss;
}

static bool
allows(const struct mr_clients *c, const char *text)
{
    struct sockaddr_storage ss = addr(text);
    return mr_clients_allow(c, (struct sockaddr *)&ss);
}

START_TEST(test_clients_match_addresses_and_ranges)
{
    const char *list[] = {"127.0.0.1", "10.1.0.0/16", "192.168.7.128/25", "::1", "fd00::/8"};
    struct mr_clients c;
    struct mr_err err;
    ck_assert_int_eq(mr_clients_parse(list, 5, &c, &err), 0);
    struct sockaddr_storage bound = addr("0.0.0.0");
    ck_assert_int_eq(mr_clients_for_listener(&c, (struct sockaddr *)&bound, "listen", &err), 0);
    ck_assert(allows(&c, "127.0.0.1"));
    ck_assert(!allows(&c, "127.0.0.2"));
    ck_assert(allows(&c, "10.1.255.3"));
    ck_assert(!allows(&c, "10.2.0.1"));
    ck_assert(allows(&c, "192.168.7.200"));
    ck_assert(!allows(&c, "192.168.7.127"));
    ck_assert(allows(&c, "::1"));
    ck_assert(allows(&c, "fd12:3456::1"));
    ck_assert(!allows(&c, "fe80::1"));
    ck_assert(allows(&c, "::ffff:10.1.2.3")); /* an IPv4 peer on a dual-stack socket */
    ck_assert(!allows(&c, "::ffff:10.9.2.3"));
}
END_TEST

START_TEST(test_clients_refuse_bad_entries)
{
    struct mr_clients c;
    struct mr_err err;
    const char *bad[][2] = {{"10.0.0.0/33", "prefix must be 0..32"},
                            {"::/129", "prefix must be 0..128"},
                            {"10.1.2.3/16", "bits set past /16"},
                            {"10.0.0.0/", "prefix"},
                            {"10.0.0.0/-1", "prefix"},
                            {"host.example", "not a numeric"},
                            {"", "expected an address"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(mr_clients_parse(bad[i], 1, &c, &err), -EINVAL);
        ck_assert_msg(strstr(err.msg, bad[i][1]) != NULL, "%s: %s", bad[i][0], err.msg);
    }
    const char *any_and_more[] = {"any", "127.0.0.1"};
    ck_assert_int_eq(mr_clients_parse(any_and_more, 2, &c, &err), -EINVAL);
    const char *any[] = {"any"};
    ck_assert_int_eq(mr_clients_parse(any, 1, &c, &err), 0);
    struct sockaddr_storage bound = addr("0.0.0.0");
    ck_assert_int_eq(mr_clients_for_listener(&c, (struct sockaddr *)&bound, "listen", &err), 0);
    ck_assert(allows(&c, "203.0.113.9"));
}
END_TEST

START_TEST(test_clients_defaults_by_listener)
{
    struct mr_clients c;
    struct mr_err err;
    ck_assert_int_eq(mr_clients_parse(NULL, 0, &c, &err), 0);
    struct sockaddr_storage lo = addr("127.0.0.1");
    ck_assert_int_eq(mr_clients_for_listener(&c, (struct sockaddr *)&lo, "listen", &err), 0);
    ck_assert(allows(&c, "127.0.0.9"));
    ck_assert(allows(&c, "::1"));
    ck_assert(!allows(&c, "10.0.0.1"));

    ck_assert_int_eq(mr_clients_parse(NULL, 0, &c, &err), 0);
    struct sockaddr_storage pub = addr("::");
    ck_assert_int_eq(mr_clients_for_listener(&c, (struct sockaddr *)&pub, "status_listen", &err),
                     -EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "status_listen"));
    ck_assert_ptr_nonnull(strstr(err.msg, "listen_allowed_clients"));

    ck_assert_int_eq(mr_clients_parse(NULL, 0, &c, &err), 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    ck_assert_int_eq(mr_clients_for_listener(&c, (struct sockaddr *)&un, "listen", &err), 0);
    ck_assert(!c.check);
}
END_TEST

Suite *
clients_suite(void)
{
    Suite *s = suite_create("clients");
    TCase *tc = tcase_create("allow");
    tcase_add_test(tc, test_clients_match_addresses_and_ranges);
    tcase_add_test(tc, test_clients_refuse_bad_entries);
    tcase_add_test(tc, test_clients_defaults_by_listener);
    suite_add_tcase(s, tc);
    return s;
}
