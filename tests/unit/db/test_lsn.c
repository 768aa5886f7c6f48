/* SPDX-License-Identifier: BSD-2-Clause */
/* test_lsn: read-your-writes tokens as text. A token is a WAL position in pg_lsn's form
 * ("16/B374D848"): what parses (exactly what PostgreSQL's pg_lsn_in takes), what is refused
 * (anything a client could send that is not one), how two positions compare once parsed (the
 * high half first, so "1/0" is past "0/FFFFFFFF"), and the text written back. */
#include <errno.h>
#include <string.h>

#include "db/db.h"
#include "tests/unit/suites.h"

static int
parse(const char *s, uint64_t *out)
{
    return mr_db_lsn_parse(s, strlen(s), out);
}

START_TEST(test_lsn_parses_pg_lsn_text)
{
    uint64_t v = 1;
    ck_assert_int_eq(parse("0/0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(parse("0/16B3748", &v), 0);
    ck_assert_uint_eq(v, 0x16B3748u);
    ck_assert_int_eq(parse("16/B374D848", &v), 0);
    ck_assert_uint_eq(v, (0x16ull << 32) | 0xB374D848u);
    ck_assert_int_eq(parse("ffffffff/ffffffff", &v), 0); /* either case, as pg_lsn_in */
    ck_assert_uint_eq(v, UINT64_MAX);
    ck_assert_int_eq(parse("00000001/0000000a", &v), 0); /* leading zeros: 8 digits a half */
    ck_assert_uint_eq(v, (1ull << 32) | 10);
}
END_TEST

START_TEST(test_lsn_refuses_what_is_not_a_position)
{
    static const char *const bad[] = {
        "",         "/",     "0",           "0/",          "/0",    "0//0",  "0/0/0",
        "G/0",      "0/G",   "-1/0",        "+1/0",        " 0/0",  "0/0 ",  "0 /0",
        "0/ 0",     "0x1/0", "123456789/0", "0/123456789", "1.5/0", "0/0\n", "16/B374D848;",
        "0/0, 0/1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v = 7;
        ck_assert_msg(parse(bad[i], &v) == -EINVAL, "accepted \"%s\"", bad[i]);
        ck_assert_uint_eq(v, 7); /* untouched */
    }
    uint64_t v;
    ck_assert_int_eq(mr_db_lsn_parse(NULL, 0, &v), -EINVAL);
}
END_TEST

START_TEST(test_lsn_parse_stops_at_len)
{
    /* A header value is NUL-terminated, a cookie's is not necessarily: len is the end. */
    const char s[] = "0/16B3748XYZ";
    uint64_t v;
    ck_assert_int_eq(mr_db_lsn_parse(s, 9, &v), 0);
    ck_assert_uint_eq(v, 0x16B3748u);
    ck_assert_int_eq(mr_db_lsn_parse(s, 10, &v), -EINVAL);
    ck_assert_int_eq(mr_db_lsn_parse("0/1", 2, &v), -EINVAL); /* "0/" */
}
END_TEST

START_TEST(test_lsn_compares_high_half_first)
{
    static const char *const ordered[] = {"0/0",         "0/1",  "0/FF",       "0/16B3748",
                                          "0/FFFFFFFF",  "1/0",  "1/1",        "16/B374D847",
                                          "16/B374D848", "17/0", "FFFFFFFF/0", "FFFFFFFF/FFFFFFFF"};
    size_t n = sizeof(ordered) / sizeof(ordered[0]);
    for (size_t i = 0; i + 1 < n; i++) {
        uint64_t a, b;
        ck_assert_int_eq(parse(ordered[i], &a), 0);
        ck_assert_int_eq(parse(ordered[i + 1], &b), 0);
        ck_assert_msg(a < b, "%s should be before %s", ordered[i], ordered[i + 1]);
    }
    uint64_t a, b;
    ck_assert_int_eq(parse("0/A", &a), 0);
    ck_assert_int_eq(parse("00/0000000a", &b), 0);
    ck_assert_uint_eq(a, b); /* one position, two spellings */
}
END_TEST

START_TEST(test_lsn_formats_as_postgres_does)
{
    char buf[MR_DB_LSN_LEN];
    ck_assert_uint_eq(mr_db_lsn_format(0x16B3748u, buf, sizeof(buf)), 9);
    ck_assert_str_eq(buf, "0/16B3748");
    ck_assert_uint_eq(mr_db_lsn_format(UINT64_MAX, buf, sizeof(buf)), 17);
    ck_assert_str_eq(buf, "FFFFFFFF/FFFFFFFF");
    ck_assert_uint_eq(mr_db_lsn_format(0, buf, sizeof(buf)), 3);
    ck_assert_str_eq(buf, "0/0");
    ck_assert_uint_eq(mr_db_lsn_format(UINT64_MAX, buf, 17), 0); /* no room for the NUL */
    /* What it writes parses back to the same position. */
    uint64_t samples[] = {1, 0xFFFFFFFFu, 1ull << 32, (0x16ull << 32) | 0xB374D848u, UINT64_MAX};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        uint64_t v;
        size_t n = mr_db_lsn_format(samples[i], buf, sizeof(buf));
        ck_assert_int_eq(mr_db_lsn_parse(buf, n, &v), 0);
        ck_assert_uint_eq(v, samples[i]);
    }
}
END_TEST

Suite *
lsn_suite(void)
{
    Suite *s = suite_create("lsn");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_lsn_parses_pg_lsn_text);
    tcase_add_test(tc, test_lsn_refuses_what_is_not_a_position);
    tcase_add_test(tc, test_lsn_parse_stops_at_len);
    tcase_add_test(tc, test_lsn_compares_high_half_first);
    tcase_add_test(tc, test_lsn_formats_as_postgres_does);
    suite_add_tcase(s, tc);
    return s;
}
