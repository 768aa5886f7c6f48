/* SPDX-License-Identifier: BSD-2-Clause */
/* test_session: what sessions are made of, without a Redis: the signed cookie and the CSRF
 * token (sesstoken: tampered, wrong key, old key accepted, new key used), the session map and
 * its stored form (sessdata: round trip, limits, every corruption refused), and the
 * `sessions` config group (keys missing, short, not hex). Defines session_suite. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/config/config.h"
#include "app/lib/arena.h"
#include "app/serve/sessdata.h"
#include "app/serve/sesstoken.h"

Suite *session_suite(void);

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f"
#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct mr_arena arena;

static void
setup(void)
{
    mr_arena_init(&arena, 4096, 1 << 20);
}

static void
teardown(void)
{
    mr_arena_fini(&arena);
}

/* Keys as the config holds them, decoded from hex. */
static struct mr_session_cfg
keys_of(const char *first, const char *second)
{
    struct mr_session_cfg k = {.is_on = true};
    const char *hex[2] = {first, second};
    for (int i = 0; i < 2 && hex[i] != NULL; i++) {
        for (size_t j = 0; j < 32; j++) {
            unsigned v;
            ck_assert_int_eq(sscanf(hex[i] + 2 * j, "%2x", &v), 1);
            k.key[i][j] = (unsigned char)v;
        }
        k.key_len[i] = 32;
        k.n_keys = i + 1;
    }
    return k;
}

START_TEST(test_cookie_signed_then_verified)
{
    struct mr_session_cfg k = keys_of(KEY_A, NULL);
    char cookie[MR_SESSION_COOKIE_LEN + 1], id[MR_SESSION_ID_LEN + 1];
    mr_sesstoken_sign(&k, ID, cookie);
    ck_assert_uint_eq(strlen(cookie), MR_SESSION_COOKIE_LEN);
    ck_assert_int_eq(strncmp(cookie, ID ".", MR_SESSION_ID_LEN + 1), 0);
    ck_assert(mr_sesstoken_verify(&k, cookie, strlen(cookie), id));
    ck_assert_str_eq(id, ID);
    /* Only the cookie-octets of RFC 6265: base64url without padding. */
    ck_assert_uint_eq(strspn(cookie,
                             "0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz"
                             "-_."),
                      MR_SESSION_COOKIE_LEN);
}
END_TEST

START_TEST(test_cookie_tampered_anywhere_is_refused)
{
    struct mr_session_cfg k = keys_of(KEY_A, NULL);
    char cookie[MR_SESSION_COOKIE_LEN + 1], id[MR_SESSION_ID_LEN + 1];
    mr_sesstoken_sign(&k, ID, cookie);
    for (size_t i = 0; i < MR_SESSION_COOKIE_LEN; i++) {
        char bad[MR_SESSION_COOKIE_LEN + 1];
        memcpy(bad, cookie, sizeof(bad));
        bad[i] = bad[i] == 'a' ? 'b' : 'a';
        ck_assert_msg(!mr_sesstoken_verify(&k, bad, MR_SESSION_COOKIE_LEN, id),
                      "byte %zu changed, still accepted", i);
    }
    ck_assert(!mr_sesstoken_verify(&k, cookie, MR_SESSION_COOKIE_LEN - 1, id));
    ck_assert(!mr_sesstoken_verify(&k, "", 0, id));
    char upper[MR_SESSION_COOKIE_LEN + 1];
    memcpy(upper, cookie, sizeof(upper));
    upper[10] = 'A'; /* ids are lowercase hex only */
    ck_assert(!mr_sesstoken_verify(&k, upper, MR_SESSION_COOKIE_LEN, id));
}
END_TEST

START_TEST(test_cookie_of_another_key_is_refused)
{
    struct mr_session_cfg a = keys_of(KEY_A, NULL), b = keys_of(KEY_B, NULL);
    char cookie[MR_SESSION_COOKIE_LEN + 1], id[MR_SESSION_ID_LEN + 1];
    mr_sesstoken_sign(&b, ID, cookie);
    ck_assert(!mr_sesstoken_verify(&a, cookie, MR_SESSION_COOKIE_LEN, id));
    struct mr_session_cfg none = {0};
    ck_assert(!mr_sesstoken_verify(&none, cookie, MR_SESSION_COOKIE_LEN, id));
}
END_TEST

START_TEST(test_rotation_signs_with_new_key_and_accepts_old)
{
    struct mr_session_cfg old = keys_of(KEY_A, NULL), rotated = keys_of(KEY_B, KEY_A);
    struct mr_session_cfg only_new = keys_of(KEY_B, NULL);
    char by_old[MR_SESSION_COOKIE_LEN + 1], by_rotated[MR_SESSION_COOKIE_LEN + 1];
    char id[MR_SESSION_ID_LEN + 1];
    mr_sesstoken_sign(&old, ID, by_old);
    mr_sesstoken_sign(&rotated, ID, by_rotated);
    /* Issued before the rotation: still accepted beside the new key. */
    ck_assert(mr_sesstoken_verify(&rotated, by_old, MR_SESSION_COOKIE_LEN, id));
    /* New cookies are signed with the first key, the new one. */
    ck_assert_str_ne(by_old, by_rotated);
    ck_assert(mr_sesstoken_verify(&only_new, by_rotated, MR_SESSION_COOKIE_LEN, id));
    ck_assert(!mr_sesstoken_verify(&old, by_rotated, MR_SESSION_COOKIE_LEN, id));
}
END_TEST

START_TEST(test_new_ids_are_random_hex)
{
    char a[MR_SESSION_ID_LEN + 1], b[MR_SESSION_ID_LEN + 1];
    ck_assert_int_eq(mr_sesstoken_new_id(a), 0);
    ck_assert_int_eq(mr_sesstoken_new_id(b), 0);
    ck_assert_uint_eq(strlen(a), MR_SESSION_ID_LEN);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), MR_SESSION_ID_LEN);
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(test_csrf_token_tied_to_session_and_key)
{
    struct mr_session_cfg a = keys_of(KEY_A, NULL), rotated = keys_of(KEY_B, KEY_A);
    char t[MR_CSRF_TOKEN_LEN + 1], cookie[MR_SESSION_COOKIE_LEN + 1];
    mr_sesstoken_csrf(&a, ID, t);
    ck_assert_uint_eq(strlen(t), MR_CSRF_TOKEN_LEN);
    ck_assert(mr_sesstoken_csrf_ok(&a, ID, t, strlen(t)));
    ck_assert(mr_sesstoken_csrf_ok(&rotated, ID, t, strlen(t)));
    char other[] = "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    ck_assert(!mr_sesstoken_csrf_ok(&a, other, t, strlen(t)));
    ck_assert(!mr_sesstoken_csrf_ok(&a, ID, t, strlen(t) - 1));
    ck_assert(!mr_sesstoken_csrf_ok(&a, ID, "", 0));
    t[5] = t[5] == 'x' ? 'y' : 'x';
    ck_assert(!mr_sesstoken_csrf_ok(&a, ID, t, strlen(t)));
    /* The token is not the cookie's MAC: one cannot be made from the other. */
    mr_sesstoken_csrf(&a, ID, t);
    mr_sesstoken_sign(&a, ID, cookie);
    ck_assert_str_ne(t, cookie + MR_SESSION_ID_LEN + 1);
}
END_TEST

START_TEST(test_sessdata_round_trip)
{
    struct mr_sessdata m = {0}, back;
    ck_assert_int_eq(mr_sessdata_set(&m, "user", "42", 4096, &arena), 0);
    ck_assert_int_eq(mr_sessdata_set(&m, "flash", "saved \xc3\xa9", 4096, &arena), 0);
    ck_assert_int_eq(mr_sessdata_set(&m, "empty", "", 4096, &arena), 0);
    ck_assert_int_eq(mr_sessdata_set(&m, "user", "43", 4096, &arena), 0);
    ck_assert_uint_eq(m.n, 3);
    char *buf;
    size_t len;
    ck_assert_int_eq(mr_sessdata_encode(&m, &arena, &buf, &len), 0);
    ck_assert_uint_eq(len, mr_sessdata_size(&m));
    ck_assert_uint_eq(len, 4 + (5 + 4 + 2) + (5 + 5 + 8) + (5 + 5 + 0));
    ck_assert_int_eq(mr_sessdata_decode(buf, len, &arena, &back), 0);
    ck_assert_uint_eq(back.n, 3);
    ck_assert_str_eq(mr_sessdata_get(&back, "user"), "43");
    ck_assert_str_eq(mr_sessdata_get(&back, "flash"), "saved \xc3\xa9");
    ck_assert_str_eq(mr_sessdata_get(&back, "empty"), "");
    ck_assert_ptr_null(mr_sessdata_get(&back, "nope"));
    ck_assert(mr_sessdata_del(&back, "user"));
    ck_assert(!mr_sessdata_del(&back, "user"));
    ck_assert_ptr_null(mr_sessdata_get(&back, "user"));
    ck_assert_str_eq(mr_sessdata_get(&back, "empty"), "");
    ck_assert_uint_eq(back.n, 2);
}
END_TEST

START_TEST(test_sessdata_empty_map_round_trips)
{
    struct mr_sessdata m = {0}, back;
    char *buf;
    size_t len;
    ck_assert_int_eq(mr_sessdata_encode(&m, &arena, &buf, &len), 0);
    ck_assert_uint_eq(len, MR_SESSDATA_HEADER);
    ck_assert_int_eq(mr_sessdata_decode(buf, len, &arena, &back), 0);
    ck_assert_uint_eq(back.n, 0);
}
END_TEST

START_TEST(test_sessdata_limits)
{
    struct mr_sessdata m = {0};
    char key[80];
    memset(key, 'k', sizeof(key));
    key[MR_SESSDATA_MAX_KEY] = '\0';
    ck_assert_int_eq(mr_sessdata_set(&m, key, "v", 4096, &arena), 0);
    key[MR_SESSDATA_MAX_KEY] = 'k';
    key[MR_SESSDATA_MAX_KEY + 1] = '\0';
    ck_assert_int_eq(mr_sessdata_set(&m, key, "v", 4096, &arena), -EINVAL);
    ck_assert_int_eq(mr_sessdata_set(&m, "", "v", 4096, &arena), -EINVAL);
    /* max_bytes counts the stored form: header, then 5 + key + value per entry. */
    struct mr_sessdata n = {0};
    ck_assert_int_eq(mr_sessdata_set(&n, "a", "0123456789", 4 + 5 + 1 + 10, &arena), 0);
    ck_assert_int_eq(mr_sessdata_set(&n, "b", "", 4 + 5 + 1 + 10, &arena), -E2BIG);
    ck_assert_int_eq(mr_sessdata_set(&n, "a", "01234567890", 4 + 5 + 1 + 10, &arena), -E2BIG);
    ck_assert_str_eq(mr_sessdata_get(&n, "a"), "0123456789"); /* unchanged by the refusal */
    ck_assert_int_eq(mr_sessdata_set(&n, "a", "x", 4 + 5 + 1 + 10, &arena), 0);
    /* At most MR_SESSDATA_MAX_ENTRIES keys, whatever the bytes. */
    struct mr_sessdata e = {0};
    for (unsigned i = 0; i < MR_SESSDATA_MAX_ENTRIES; i++) {
        char k[16];
        (void)snprintf(k, sizeof(k), "k%u", i);
        ck_assert_int_eq(mr_sessdata_set(&e, k, "", 1 << 20, &arena), 0);
    }
    ck_assert_int_eq(mr_sessdata_set(&e, "one-more", "", 1 << 20, &arena), -E2BIG);
    ck_assert_int_eq(mr_sessdata_set(&e, "k0", "replaced", 1 << 20, &arena), 0);
}
END_TEST

/* Encodes {"user": "42", "x": "y"} into buf; returns its length. */
static size_t
sample(char *buf)
{
    struct mr_sessdata m = {0};
    ck_assert_int_eq(mr_sessdata_set(&m, "user", "42", 4096, &arena), 0);
    ck_assert_int_eq(mr_sessdata_set(&m, "x", "y", 4096, &arena), 0);
    char *p;
    size_t len;
    ck_assert_int_eq(mr_sessdata_encode(&m, &arena, &p, &len), 0);
    memcpy(buf, p, len);
    return len;
}

START_TEST(test_sessdata_decode_refuses_corruption)
{
    char buf[64], bad[64];
    size_t n = sample(buf);
    struct mr_sessdata m;
    for (size_t len = 0; len < n; len++) {
        ck_assert_int_eq(mr_sessdata_decode(buf, len, &arena, &m), -EINVAL);
        ck_assert_uint_eq(m.n, 0);
    }
    memcpy(bad, buf, n);
    bad[n] = 'z';
    ck_assert_int_eq(mr_sessdata_decode(bad, n + 1, &arena, &m), -EINVAL); /* trailing byte */
    memcpy(bad, buf, n);
    bad[0] = 'x';
    ck_assert_int_eq(mr_sessdata_decode(bad, n, &arena, &m), -EINVAL); /* magic */
    memcpy(bad, buf, n);
    bad[1] = 2;
    ck_assert_int_eq(mr_sessdata_decode(bad, n, &arena, &m), -EINVAL); /* version */
    memcpy(bad, buf, n);
    bad[4 + 1 + 1] = '\0';
    ck_assert_int_eq(mr_sessdata_decode(bad, n, &arena, &m), -EINVAL); /* NUL in a key */
    memcpy(bad, buf, n);
    bad[n - 1] = '\0';
    ck_assert_int_eq(mr_sessdata_decode(bad, n, &arena, &m), -EINVAL); /* NUL in a value */
    memcpy(bad, buf, n);
    bad[4] = 0;
    ck_assert_int_eq(mr_sessdata_decode(bad, n, &arena, &m), -EINVAL); /* empty key */
    /* The same key twice. */
    static const char dup[] = "\xf6\x01\x02\x00"
                              "\x01k\x01\x00\x00\x00v"
                              "\x01k\x01\x00\x00\x00w";
    ck_assert_int_eq(mr_sessdata_decode(dup, sizeof(dup) - 1, &arena, &m), -EINVAL);
    /* A value length past the end, and one that wraps a 32-bit size. */
    static const char huge[] = "\xf6\x01\x01\x00\x01k\xff\xff\xff\xffv";
    ck_assert_int_eq(mr_sessdata_decode(huge, sizeof(huge) - 1, &arena, &m), -EINVAL);
    static const char count[] = "\xf6\x01\xff\xff";
    ck_assert_int_eq(mr_sessdata_decode(count, sizeof(count) - 1, &arena, &m), -EINVAL);
    ck_assert_int_eq(mr_sessdata_decode(buf, n, &arena, &m), 0);
    ck_assert_str_eq(mr_sessdata_get(&m, "user"), "42");
}
END_TEST

START_TEST(test_sessdata_past_arena_ceiling_is_enomem)
{
    char buf[64];
    size_t n = sample(buf);
    struct mr_arena small;
    mr_arena_init(&small, 64, 64);
    struct mr_sessdata m;
    void *fill = mr_arena_alloc(&small, 60);
    ck_assert_ptr_nonnull(fill);
    ck_assert_int_eq(mr_sessdata_decode(buf, n, &small, &m), -ENOMEM);
    ck_assert_uint_eq(m.n, 0);
    mr_arena_fini(&small);
}
END_TEST

/* Loads a config whose sessions group is text; returns mr_cfg_load's result, err filled. */
static int
load_sessions(struct mr_cfg *cfg, const char *text, struct mr_err *err)
{
    char dir[] = "/tmp/mr-unit-sess-XXXXXX", path[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    (void)snprintf(path, sizeof(path), "%s/millrace.conf", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    int rc = mr_cfg_load(cfg, path, err);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    return rc;
}

static void
refused(const char *text, const char *needle)
{
    struct mr_cfg cfg;
    struct mr_err err = {0};
    ck_assert_int_eq(load_sessions(&cfg, text, &err), -EINVAL);
    ck_assert_msg(strstr(err.msg, needle) != NULL, "\"%s\" lacks \"%s\"", err.msg, needle);
    mr_cfg_fini(&cfg);
}

START_TEST(test_config_sessions_off_without_the_group)
{
    struct mr_cfg cfg;
    struct mr_err err = {0};
    ck_assert_int_eq(load_sessions(&cfg, "workers = 1;\n", &err), 0);
    ck_assert(!cfg.sessions.is_on);
    ck_assert_int_eq(cfg.sessions.ttl_s, 1209600);
    ck_assert_str_eq(cfg.sessions.cookie, "millrace_session");
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_sessions_keys_decoded)
{
    struct mr_cfg cfg;
    struct mr_err err = {0};
    int rc = load_sessions(&cfg,
                           "sessions = { keys = [\"" KEY_B "\", \"" KEY_A KEY_A "\"];\n"
                           "  ttl_s = 600; cookie = \"sid\"; max_bytes = 1024; };\n",
                           &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert(cfg.sessions.is_on);
    ck_assert_int_eq(cfg.sessions.n_keys, 2);
    ck_assert_uint_eq(cfg.sessions.key_len[0], 32);
    ck_assert_uint_eq(cfg.sessions.key_len[1], 64);
    ck_assert_uint_eq(cfg.sessions.key[0][0], 0xf0);
    ck_assert_uint_eq(cfg.sessions.key[1][31], 0x1f);
    ck_assert_int_eq(cfg.sessions.ttl_s, 600);
    ck_assert_str_eq(cfg.sessions.cookie, "sid");
    mr_cfg_fini(&cfg);
}
END_TEST

START_TEST(test_config_sessions_bad_keys_refused)
{
    refused("sessions = { ttl_s = 600; };\n", "sessions need at least one key");
    refused("sessions = { keys = []; };\n", "sessions.keys: sessions need at least one key");
    refused("sessions = { keys = [\"abcd\"]; };\n", "key 1 is too short: at least 32 bytes");
    refused("sessions = { keys = [\"" KEY_A "\", \"zz" KEY_A "\"]; };\n", "key 2 is not hex");
    refused("sessions = { keys = [\"" KEY_A "0\"]; };\n", "key 1 has an odd number");
    refused("sessions = { keys = [\"" KEY_A KEY_A "00\"]; };\n", "key 1 is too long");
    refused("sessions = { keys = [\"\"]; };\n", "key 1 is empty");
    refused("sessions = { keys = [\"" KEY_A "\"]; cookie = \"a b\"; };\n",
            "sessions.cookie: must be a cookie name");
}
END_TEST

Suite *
session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *token = tcase_create("token");
    tcase_add_test(token, test_cookie_signed_then_verified);
    tcase_add_test(token, test_cookie_tampered_anywhere_is_refused);
    tcase_add_test(token, test_cookie_of_another_key_is_refused);
    tcase_add_test(token, test_rotation_signs_with_new_key_and_accepts_old);
    tcase_add_test(token, test_new_ids_are_random_hex);
    tcase_add_test(token, test_csrf_token_tied_to_session_and_key);
    suite_add_tcase(s, token);
    TCase *data = tcase_create("data");
    tcase_add_checked_fixture(data, setup, teardown);
    tcase_add_test(data, test_sessdata_round_trip);
    tcase_add_test(data, test_sessdata_empty_map_round_trips);
    tcase_add_test(data, test_sessdata_limits);
    tcase_add_test(data, test_sessdata_decode_refuses_corruption);
    tcase_add_test(data, test_sessdata_past_arena_ceiling_is_enomem);
    suite_add_tcase(s, data);
    TCase *config = tcase_create("config");
    tcase_add_test(config, test_config_sessions_off_without_the_group);
    tcase_add_test(config, test_config_sessions_keys_decoded);
    tcase_add_test(config, test_config_sessions_bad_keys_refused);
    suite_add_tcase(s, config);
    return s;
}
