/* SPDX-License-Identifier: BSD-2-Clause */
/* test_multipart: multipart/form-data bodies: the boundary from the Content-Type, fields
 * and files, quoted names with escapes, preamble and epilogue, each limit and the error it
 * names, spilling to an unlinked temp file, and malformed framing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/lib/arena.h"
#include "app/serve/multipart.h"
#include "tests/unit/suites.h"

static struct mr_arena arena;
static char spill_dir[] = "/tmp/mr-test-multipart-XXXXXX";

static struct mr_multipart_limits lim;

static void
setup(void)
{
    mr_arena_init(&arena, 4096, 1 << 20);
    ck_assert_ptr_nonnull(mkdtemp(spill_dir));
    lim = (struct mr_multipart_limits){
        .max_parts = 8,
        .max_part_header_bytes = 256,
        .max_field_bytes = 64,
        .max_file_bytes = 4096,
        .max_total_bytes = 8192,
        .spill_bytes = 16,
        .spill_dir = spill_dir,
    };
}

static void
teardown(void)
{
    mr_arena_fini(&arena);
    ck_assert_int_eq(rmdir(spill_dir), 0); /* empty: nothing was left behind */
}

#define CT "multipart/form-data; boundary=XyZ"

/* Parses the C string body with CT and the limits above. */
static int
parse(struct mr_multipart *m, const char *ct, const char *body)
{
    return mr_multipart_parse(m, ct, body, strlen(body), &lim, &arena);
}

static const char two_parts[] = "--XyZ\r\n"
                                "Content-Disposition: form-data; name=\"title\"\r\n"
                                "\r\n"
                                "Hello\r\n"
                                "--XyZ\r\n"
                                "Content-Disposition: form-data; name=\"doc\"; "
                                "filename=\"a.txt\"\r\n"
                                "Content-Type: text/plain\r\n"
                                "\r\n"
                                "small\r\nfile\r\n"
                                "--XyZ--\r\n";

START_TEST(test_multipart_field_and_small_file)
{
    struct mr_multipart m;
    ck_assert_int_eq(parse(&m, CT, two_parts), 0);
    ck_assert_uint_eq(m.n, 2);
    const struct mr_multipart_part *f = mr_multipart_get(&m, "title");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_null(f->filename);
    ck_assert_ptr_null(f->content_type);
    ck_assert_str_eq(f->data, "Hello");
    ck_assert_uint_eq(f->size, 5);
    ck_assert_int_eq(f->fd, -1);
    const struct mr_multipart_part *d = mr_multipart_get(&m, "doc");
    ck_assert_str_eq(d->filename, "a.txt");
    ck_assert_str_eq(d->content_type, "text/plain");
    ck_assert_uint_eq(d->size, 11);
    ck_assert_mem_eq(d->data, "small\r\nfile", 11);
    ck_assert_int_eq(d->fd, -1);
    ck_assert_ptr_null(mr_multipart_get(&m, "nope"));
    ck_assert_int_eq(mr_multipart_http_status(&m), 0);
}
END_TEST

START_TEST(test_multipart_boundary_forms)
{
    struct mr_multipart m;
    static const char body[] = "--a b'()+_,-./:=?\r\n"
                               "Content-Disposition: form-data; name=x\r\n\r\n1\r\n"
                               "--a b'()+_,-./:=?--";
    ck_assert_int_eq(
        parse(&m, "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b'()+_,-./:=?\"", body), 0);
    ck_assert_uint_eq(m.n, 1);
    ck_assert_str_eq(m.parts[0].data, "1");
    /* unquoted, with a trailing ';' and space */
    ck_assert_int_eq(parse(&m, CT "; ", two_parts), 0);
    ck_assert_uint_eq(m.n, 2);
}
END_TEST

START_TEST(test_multipart_bad_boundaries)
{
    struct mr_multipart m;
    char ct[128];
    const char *bad[] = {
        "multipart/form-data",                         /* none */
        "multipart/form-data; boundary=",              /* empty */
        "multipart/form-data; boundary=\"\"",          /* empty, quoted */
        "multipart/form-data; boundary=\"a b \"",      /* ends in a space */
        "multipart/form-data; boundary=\"a\\\"b\"",    /* a quote is not a bchar */
        "multipart/form-data; boundary=a; boundary=b", /* two */
        "multipart/form-data; boundary=\"abc",         /* unterminated */
        "multipart/form-data; boundary",               /* no '=' */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse(&m, bad[i], two_parts) == -EINVAL, "%s accepted", bad[i]);
        ck_assert_int_eq(m.error, MR_MULTIPART_BAD_BOUNDARY);
        ck_assert_int_eq(mr_multipart_http_status(&m), 400);
    }
    /* 70 characters is the most RFC 2046 allows */
    char b70[71];
    memset(b70, 'b', 70);
    b70[70] = '\0';
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%s", b70);
    ck_assert_int_eq(parse(&m, ct,
                           "--bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                           "bbbbbbbbbb--"),
                     0);
    snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%sb", b70);
    ck_assert_int_eq(parse(&m, ct, two_parts), -EINVAL);
    ck_assert_int_eq(m.error, MR_MULTIPART_BAD_BOUNDARY);
}
END_TEST

START_TEST(test_multipart_not_multipart_is_415)
{
    struct mr_multipart m;
    ck_assert_int_eq(parse(&m, NULL, two_parts), -EMEDIUMTYPE);
    ck_assert_int_eq(m.error, MR_MULTIPART_NOT_MULTIPART);
    ck_assert_int_eq(mr_multipart_http_status(&m), 415);
    ck_assert_int_eq(parse(&m, "multipart/mixed; boundary=XyZ", two_parts), -EMEDIUMTYPE);
    ck_assert_int_eq(parse(&m, "multipart/form-datax; boundary=XyZ", two_parts), -EMEDIUMTYPE);
    ck_assert_int_eq(parse(&m, "application/x-www-form-urlencoded", two_parts), -EMEDIUMTYPE);
    ck_assert_str_eq(m.err.msg, "multipart: Content-Type is not multipart/form-data");
}
END_TEST

START_TEST(test_multipart_quoted_names_preamble_epilogue)
{
    struct mr_multipart m;
    static const char body[] =
        "This is the preamble.\r\n"
        "--XyZ  \t\r\n" /* transport padding */
        "content-disposition: FORM-DATA; filename=\"c:\\\\dir\\\\\\\"q\\\".txt\"; name=\"a;b\"\r\n"
        "X-Other: ignored\r\n"
        "\r\n"
        "\r\n"
        "--XyZ\r\n"
        "Content-Disposition: form-data; name=\"\"; filename=\"\"\r\n"
        "\r\n"
        "\r\n"
        "--XyZ--\r\nepilogue --XyZ\r\n garbage";
    ck_assert_int_eq(parse(&m, CT, body), 0);
    ck_assert_uint_eq(m.n, 2);
    ck_assert_str_eq(m.parts[0].name, "a;b");
    ck_assert_str_eq(m.parts[0].filename, "c:\\dir\\\"q\".txt");
    ck_assert_uint_eq(m.parts[0].size, 0);
    ck_assert_str_eq(m.parts[1].name, "");
    ck_assert_str_eq(m.parts[1].filename, ""); /* an empty file input: still a file */
    ck_assert_uint_eq(m.parts[1].size, 0);
}
END_TEST

START_TEST(test_multipart_zero_parts)
{
    struct mr_multipart m;
    ck_assert_int_eq(parse(&m, CT, "--XyZ--"), 0);
    ck_assert_uint_eq(m.n, 0);
    ck_assert_ptr_null(m.parts);
}
END_TEST

START_TEST(test_multipart_large_file_spills_to_unlinked_temp_file)
{
    struct mr_multipart m;
    char body[1024], content[200];
    for (size_t i = 0; i < sizeof(content); i++)
        content[i] = (char)('a' + i % 26);
    int n = snprintf(body, sizeof(body),
                     "--XyZ\r\nContent-Disposition: form-data; name=up; filename=big.bin\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n%.*s\r\n--XyZ--",
                     (int)sizeof(content), content);
    ck_assert_int_eq(mr_multipart_parse(&m, CT, body, (size_t)n, &lim, &arena), 0);
    ck_assert_uint_eq(m.n, 1);
    const struct mr_multipart_part *p = &m.parts[0];
    ck_assert_ptr_null(p->data);
    ck_assert_uint_eq(p->size, sizeof(content));
    ck_assert_int_ge(p->fd, 0);
    char back[256];
    ck_assert_int_eq(read(p->fd, back, sizeof(back)), (ssize_t)sizeof(content));
    ck_assert_mem_eq(back, content, sizeof(content));
    struct stat st;
    ck_assert_int_eq(fstat(p->fd, &st), 0);
    ck_assert_int_eq(st.st_nlink, 0); /* unlinked right after mkostemp */
    DIR *d = opendir(spill_dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        entries += e->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(entries, 0);
    int fd = p->fd;
    mr_arena_reset(&arena); /* closes the temp file */
    ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
    ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(test_multipart_spill_dir_missing_is_500)
{
    struct mr_multipart m;
    char body[512];
    lim.spill_dir = "/nonexistent/millrace";
    int n = snprintf(body, sizeof(body),
                     "--XyZ\r\nContent-Disposition: form-data; name=up; filename=b\r\n\r\n"
                     "0123456789abcdefghijkl\r\n--XyZ--");
    ck_assert_int_eq(mr_multipart_parse(&m, CT, body, (size_t)n, &lim, &arena), -EIO);
    ck_assert_int_eq(m.error, MR_MULTIPART_SPILL_FAILED);
    ck_assert_int_eq(mr_multipart_http_status(&m), 500);
    ck_assert_ptr_nonnull(strstr(m.err.msg, "/nonexistent/millrace"));
}
END_TEST

/* Asserts that body fails with rc and error e (and status 413 or 400). */
static void
assert_fails(const char *body, int rc, enum mr_multipart_error e)
{
    struct mr_multipart m;
    ck_assert_int_eq(parse(&m, CT, body), rc);
    ck_assert_msg(m.error == e, "error %d, wanted %d (%s)", m.error, e, m.err.msg);
    ck_assert_uint_eq(m.n, 0);
    ck_assert_int_eq(mr_multipart_http_status(&m), rc == -E2BIG ? 413 : 400);
    ck_assert_str_ne(m.err.msg, "");
}

#define FIELD(name, value)                                                                         \
    "--XyZ\r\nContent-Disposition: form-data; name=" name "\r\n\r\n" value "\r\n"
#define FILE_PART(name, value)                                                                     \
    "--XyZ\r\nContent-Disposition: form-data; name=" name "; filename=f\r\n\r\n" value "\r\n"

START_TEST(test_multipart_limits_each_name_themselves)
{
    lim.max_parts = 2;
    assert_fails(FIELD("a", "1") FIELD("b", "2") FIELD("c", "3") "--XyZ--", -E2BIG,
                 MR_MULTIPART_TOO_MANY_PARTS);
    lim.max_parts = 8;
    lim.max_field_bytes = 4;
    assert_fails(FIELD("a", "12345") "--XyZ--", -E2BIG, MR_MULTIPART_FIELD_TOO_LARGE);
    lim.max_field_bytes = 64;
    lim.max_file_bytes = 8;
    assert_fails(FILE_PART("a", "123456789") "--XyZ--", -E2BIG, MR_MULTIPART_FILE_TOO_LARGE);
    lim.max_file_bytes = 4096;
    lim.max_total_bytes = 10;
    assert_fails(FIELD("a", "123456") FILE_PART("b", "123456") "--XyZ--", -E2BIG,
                 MR_MULTIPART_TOTAL_TOO_LARGE);
    lim.max_total_bytes = 8192;
    lim.max_part_header_bytes = 40;
    assert_fails(FIELD("a_rather_long_name_for_a_field", "1") "--XyZ--", -E2BIG,
                 MR_MULTIPART_HEADER_TOO_LARGE);
    /* exactly at each limit passes */
    struct mr_multipart m;
    lim.max_part_header_bytes = 256;
    lim.max_parts = 2;
    lim.max_field_bytes = 5;
    lim.max_total_bytes = 10;
    ck_assert_int_eq(parse(&m, CT, FIELD("a", "12345") FIELD("b", "12345") "--XyZ--"), 0);
    ck_assert_uint_eq(m.n, 2);
}
END_TEST

START_TEST(test_multipart_malformed_bodies)
{
    static const char *const bodies[] = {
        "",
        "no boundary at all",
        "--XyZ",                        /* neither CRLF nor "--" after the delimiter */
        "--XyZx\r\n",                   /* a longer boundary */
        "--XyZ\r\n\r\nbody\r\n--XyZ--", /* no headers */
        FIELD("a", "1"),                /* no close delimiter */
        "--XyZ\r\nContent-Disposition: form-data; name=a\r\n",      /* headers never end */
        "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n1", /* content never ends */
        "--XyZ\r\nContent-Disposition: attachment; name=a\r\n\r\n1\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XyZ--", /* no name */
        "--XyZ\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n1\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data; name=\r\n\r\n1\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data; name=a b\r\n\r\n1\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data; "
        "name=b\r\n\r\n1\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\n1\r\n--XyZ--", /* folded */
        "--XyZ\r\nContent-Disposition: form-data; name=a\nX: y\r\n\r\n1\r\n--XyZ--",
        "--XyZ\r\nNo-Colon\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--XyZ--",
        "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\n--XyZ--", /* CRLF missing */
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct mr_multipart m;
        int rc = parse(&m, CT, bodies[i]);
        ck_assert_msg(rc == -EINVAL && m.error == MR_MULTIPART_MALFORMED,
                      "body %zu: rc %d error %d (%s)", i, rc, m.error, m.err.msg);
        ck_assert_int_eq(mr_multipart_http_status(&m), 400);
    }
}
END_TEST

START_TEST(test_multipart_nul_in_name_is_malformed)
{
    struct mr_multipart m;
    static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\0b\"\r\n\r\n1"
                               "\r\n--XyZ--";
    ck_assert_int_eq(mr_multipart_parse(&m, CT, body, sizeof(body) - 1, &lim, &arena), -EINVAL);
    ck_assert_int_eq(m.error, MR_MULTIPART_MALFORMED);
    /* NUL in content is fine: content is bytes */
    static const char ok[] = "--XyZ\r\nContent-Disposition: form-data; name=f; filename=x\r\n"
                             "\r\na\0b\r\n--XyZ--";
    ck_assert_int_eq(mr_multipart_parse(&m, CT, ok, sizeof(ok) - 1, &lim, &arena), 0);
    ck_assert_uint_eq(m.parts[0].size, 3);
}
END_TEST

START_TEST(test_multipart_past_arena_ceiling_is_500)
{
    struct mr_arena small;
    struct mr_multipart m;
    mr_arena_init(&small, 64, 256);
    ck_assert_int_eq(mr_multipart_parse(&m, CT, two_parts, sizeof(two_parts) - 1, &lim, &small),
                     -ENOMEM);
    ck_assert_int_eq(m.error, MR_MULTIPART_NO_MEMORY);
    ck_assert_int_eq(mr_multipart_http_status(&m), 500);
    mr_arena_fini(&small);
}
END_TEST

Suite *
multipart_suite(void)
{
    Suite *s = suite_create("multipart");
    TCase *t = tcase_create("parse");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, test_multipart_field_and_small_file);
    tcase_add_test(t, test_multipart_boundary_forms);
    tcase_add_test(t, test_multipart_bad_boundaries);
    tcase_add_test(t, test_multipart_not_multipart_is_415);
    tcase_add_test(t, test_multipart_quoted_names_preamble_epilogue);
    tcase_add_test(t, test_multipart_zero_parts);
    tcase_add_test(t, test_multipart_large_file_spills_to_unlinked_temp_file);
    tcase_add_test(t, test_multipart_spill_dir_missing_is_500);
    tcase_add_test(t, test_multipart_limits_each_name_themselves);
    tcase_add_test(t, test_multipart_malformed_bodies);
    tcase_add_test(t, test_multipart_nul_in_name_is_malformed);
    tcase_add_test(t, test_multipart_past_arena_ceiling_is_500);
    suite_add_tcase(s, t);
    return s;
}
