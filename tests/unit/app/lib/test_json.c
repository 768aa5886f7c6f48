/* SPDX-License-Identifier: BSD-2-Clause */
/* test_json: the streaming writer's structure (commas, colons, nesting) and its string
 * escaping per RFC 8259, compared byte for byte with the expected text. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/lib/json.h"
#include "tests/unit/suites.h"

struct fixture {
    struct mr_arena a;
    struct mr_buf b;
    struct mr_json j;
};

static void
setup(struct fixture *f)
{
    mr_arena_init(&f->a, 4096, 1 << 20);
    mr_buf_init(&f->b, &f->a, 16);
    mr_json_init(&f->j, &f->b);
}

/* The text written so far, NUL-terminated; its length is f->b.len. */
static const char *
text(struct fixture *f)
{
    const char *s = mr_buf_cstr(&f->b);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* The escaping of s[0..len) alone, into a fresh buffer in f's arena. */
static const char *
escaped(struct fixture *f, const char *s, size_t len)
{
    struct mr_buf b;
    mr_buf_init(&b, &f->a, 8);
    mr_json_escape(&b, s, len);
    const char *out = mr_buf_cstr(&b);
    ck_assert_ptr_nonnull(out);
    return out;
}

START_TEST(test_json_object_commas_and_colons)
{
    struct fixture f;
    setup(&f);
    mr_json_obj(&f.j);
    mr_json_key(&f.j, "id");
    mr_json_int(&f.j, 3217);
    mr_json_key(&f.j, "randomNumber");
    mr_json_int(&f.j, 2149);
    mr_json_key(&f.j, "ok");
    mr_json_bool(&f.j, true);
    mr_json_key(&f.j, "no");
    mr_json_bool(&f.j, false);
    mr_json_key(&f.j, "message");
    mr_json_cstr(&f.j, "Hello, World!");
    mr_json_obj_end(&f.j);
    ck_assert_str_eq(text(&f), "{\"id\":3217,\"randomNumber\":2149,\"ok\":true,\"no\":false,"
                               "\"message\":\"Hello, World!\"}");
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_array_of_objects)
{
    struct fixture f;
    setup(&f);
    mr_json_arr(&f.j);
    for (int i = 1; i <= 3; i++) {
        mr_json_obj(&f.j);
        mr_json_key(&f.j, "id");
        mr_json_int(&f.j, i);
        mr_json_obj_end(&f.j);
    }
    mr_json_arr_end(&f.j);
    ck_assert_str_eq(text(&f), "[{\"id\":1},{\"id\":2},{\"id\":3}]");
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_nesting_and_empty_containers)
{
    struct fixture f;
    setup(&f);
    mr_json_obj(&f.j);
    mr_json_key(&f.j, "a");
    mr_json_arr(&f.j);
    mr_json_arr_end(&f.j);
    mr_json_key(&f.j, "b");
    mr_json_obj(&f.j);
    mr_json_obj_end(&f.j);
    mr_json_key(&f.j, "c");
    mr_json_arr(&f.j);
    mr_json_int(&f.j, 1);
    mr_json_arr(&f.j);
    mr_json_int(&f.j, 2);
    mr_json_obj(&f.j);
    mr_json_key(&f.j, "d");
    mr_json_arr(&f.j);
    mr_json_bool(&f.j, false);
    mr_json_arr_end(&f.j);
    mr_json_obj_end(&f.j);
    mr_json_arr_end(&f.j);
    mr_json_cstr(&f.j, "e");
    mr_json_arr_end(&f.j);
    mr_json_key(&f.j, "f");
    mr_json_int(&f.j, 0);
    mr_json_obj_end(&f.j);
    ck_assert_str_eq(text(&f), "{\"a\":[],\"b\":{},\"c\":[1,[2,{\"d\":[false]}],\"e\"],\"f\":0}");
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_deepest_nesting)
{
    struct fixture f;
    char want[2 * MR_JSON_DEPTH + 1];
    setup(&f);
    for (int i = 0; i < MR_JSON_DEPTH - 1; i++)
        mr_json_arr(&f.j);
    for (int i = 0; i < MR_JSON_DEPTH - 1; i++)
        mr_json_arr_end(&f.j);
    memset(want, '[', MR_JSON_DEPTH - 1);
    memset(want + MR_JSON_DEPTH - 1, ']', MR_JSON_DEPTH - 1);
    want[2 * (MR_JSON_DEPTH - 1)] = '\0';
    ck_assert_str_eq(text(&f), want);
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_int_extremes)
{
    struct fixture f;
    setup(&f);
    mr_json_arr(&f.j);
    mr_json_int(&f.j, INT64_MIN);
    mr_json_int(&f.j, INT64_MAX);
    mr_json_int(&f.j, 0);
    mr_json_int(&f.j, -1);
    mr_json_int(&f.j, 10000);
    mr_json_arr_end(&f.j);
    ck_assert_str_eq(text(&f), "[-9223372036854775808,9223372036854775807,0,-1,10000]");
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_escapes_quote_and_backslash)
{
    struct fixture f;
    setup(&f);
    mr_json_cstr(&f.j, "say \"hi\" C:\\dir\\");
    ck_assert_str_eq(text(&f), "\"say \\\"hi\\\" C:\\\\dir\\\\\"");
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_escapes_short_forms)
{
    struct fixture f;
    setup(&f);
    ck_assert_str_eq(escaped(&f, "a\nb\rc\td\be\ff", 11), "a\\nb\\rc\\td\\be\\ff");
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_escapes_every_control_character)
{
    struct fixture f;
    setup(&f);
    for (int c = 0; c < 0x20; c++) {
        char in[3] = {'x', (char)c, 'y'};
        char want[16];
        switch (c) {
        case '\b':
            (void)snprintf(want, sizeof(want), "x\\by");
            break;
        case '\t':
            (void)snprintf(want, sizeof(want), "x\\ty");
            break;
        case '\n':
            (void)snprintf(want, sizeof(want), "x\\ny");
            break;
        case '\f':
            (void)snprintf(want, sizeof(want), "x\\fy");
            break;
        case '\r':
            (void)snprintf(want, sizeof(want), "x\\ry");
            break;
        default:
            (void)snprintf(want, sizeof(want), "x\\u%04xy", (unsigned)c);
            break;
        }
        ck_assert_str_eq(escaped(&f, in, sizeof(in)), want);
    }
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_passes_del_and_utf8_through)
{
    static const char fw[] = "\xe3\x83\x95\xe3\x83\xac\xe3\x83\xbc\xe3\x83\xa0\xe3\x83\xaf\xe3"
                             "\x83\xbc\xe3\x82\xaf"; /* フレームワーク */
    struct fixture f;
    setup(&f);
    ck_assert_str_eq(escaped(&f, "a\177b", 3), "a\177b"); /* RFC 8259 leaves DEL unescaped */
    ck_assert_str_eq(escaped(&f, fw, sizeof(fw) - 1), fw);
    ck_assert_str_eq(escaped(&f, "\xf0\x9f\x98\x80", 4), "\xf0\x9f\x98\x80");
    mr_json_cstr(&f.j, "フレームワーク");
    ck_assert_str_eq(text(&f), "\"フレームワーク\"");
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_str_with_embedded_nul)
{
    struct fixture f;
    setup(&f);
    mr_json_arr(&f.j);
    mr_json_str(&f.j, "a\0b", 3);
    mr_json_str(&f.j, "\0", 1);
    mr_json_str(&f.j, "", 0);
    mr_json_arr_end(&f.j);
    ck_assert_str_eq(text(&f), "[\"a\\u0000b\",\"\\u0000\",\"\"]");
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_key_is_escaped)
{
    struct fixture f;
    setup(&f);
    mr_json_obj(&f.j);
    mr_json_key(&f.j, "a\"b\n");
    mr_json_int(&f.j, 1);
    mr_json_obj_end(&f.j);
    ck_assert_str_eq(text(&f), "{\"a\\\"b\\n\":1}");
    mr_arena_fini(&f.a);
}
END_TEST

START_TEST(test_json_long_string_grows_buffer)
{
    struct fixture f;
    char big[5000];
    setup(&f);
    memset(big, 'q', sizeof(big));
    big[100] = '"';
    mr_json_str(&f.j, big, sizeof(big));
    ck_assert(!f.b.failed);
    ck_assert_uint_eq(f.b.len, sizeof(big) + 3); /* two quotes and one backslash */
    ck_assert_int_eq(f.b.data[101], '\\');
    ck_assert_int_eq(f.b.data[102], '"');
    mr_arena_fini(&f.a);
}
END_TEST

Suite *
json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase_create("writer");
    tcase_add_test(tc, test_json_object_commas_and_colons);
    tcase_add_test(tc, test_json_array_of_objects);
    tcase_add_test(tc, test_json_nesting_and_empty_containers);
    tcase_add_test(tc, test_json_deepest_nesting);
    tcase_add_test(tc, test_json_int_extremes);
    tcase_add_test(tc, test_json_escapes_quote_and_backslash);
    tcase_add_test(tc, test_json_escapes_short_forms);
    tcase_add_test(tc, test_json_escapes_every_control_character);
    tcase_add_test(tc, test_json_passes_del_and_utf8_through);
    tcase_add_test(tc, test_json_str_with_embedded_nul);
    tcase_add_test(tc, test_json_key_is_escaped);
    tcase_add_test(tc, test_json_long_string_grows_buffer);
    suite_add_tcase(s, tc);
    return s;
}
