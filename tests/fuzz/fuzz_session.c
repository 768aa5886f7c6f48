/* SPDX-License-Identifier: BSD-2-Clause */
/* fuzz_session: the two parsers of a session that read bytes from outside: the stored data's
 * decoder (mr_sessdata_decode: what Redis holds, which anyone with Redis access can write) and
 * the signed cookie's parser (mr_sesstoken_verify: what any client sends).
 * Input: byte 0 even: the rest is stored data, decoded under an arena ceiling chosen by byte 1
 * (256 B, 4 KiB, 1 MiB). Invariants: a refusal leaves an empty map; an accepted map has at
 * most MR_SESSDATA_MAX_ENTRIES unique keys of 1..MR_SESSDATA_MAX_KEY bytes, keys and values
 * NUL-terminated at their length without an inner NUL, and encodes back to exactly the input
 * (the stored form is canonical). Byte 0 odd: the rest is a cookie value, checked under two
 * fixed keys. Invariants: an accepted value is exactly what signing its id gives under one
 * of the keys; and for an id made from the input, signing then verifying succeeds, and every
 * one-byte change of the signed value is refused. */
#include <errno.h>
#include <string.h>

#include "app/lib/arena.h"
#include "app/serve/sessdata.h"
#include "app/serve/sesstoken.h"
#include "tests/fuzz/ref.h"

static struct mr_session_cfg keys;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    keys.is_on = true;
    keys.n_keys = 2;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < 32; i++)
            keys.key[k][i] = (unsigned char)(i * 7 + (size_t)k * 101);
        keys.key_len[k] = 32;
    }
    return 0;
}

static void
check_data(const uint8_t *data, size_t size)
{
    static const size_t ceilings[] = {256, 4096, 1 << 20};
    if (size < 1)
        return;
    struct mr_arena a;
    mr_arena_init(&a, 256, ceilings[data[0] % 3]);
    struct mr_sessdata m;
    int rc = mr_sessdata_decode((const char *)data + 1, size - 1, &a, &m);
    FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
    if (rc != 0) {
        FUZZ_CHECK(m.n == 0);
        mr_arena_fini(&a);
        return;
    }
    FUZZ_CHECK(m.n <= MR_SESSDATA_MAX_ENTRIES);
    for (size_t i = 0; i < m.n; i++) {
        const struct mr_sessdata_pair *p = &m.v[i];
        FUZZ_CHECK(p->key_len >= 1 && p->key_len <= MR_SESSDATA_MAX_KEY);
        FUZZ_CHECK(strlen(p->key) == p->key_len && strlen(p->value) == p->value_len);
        FUZZ_CHECK(mr_sessdata_get(&m, p->key) == p->value); /* unique: the first is this one */
    }
    /* Encoding into a fresh arena, so that a ceiling reached above does not hide a mismatch. */
    struct mr_arena b;
    mr_arena_init(&b, 256, (size_t)1 << 21);
    char *out;
    size_t len;
    FUZZ_CHECK(mr_sessdata_encode(&m, &b, &out, &len) == 0);
    FUZZ_CHECK(len == size - 1 && memcmp(out, data + 1, len) == 0);
    mr_arena_fini(&b);
    mr_arena_fini(&a);
}

static void
check_cookie(const uint8_t *data, size_t size)
{
    char id[MR_SESSION_ID_LEN + 1], signed_value[MR_SESSION_COOKIE_LEN + 1];
    if (mr_sesstoken_verify(&keys, (const char *)data, size, id)) {
        struct mr_session_cfg one = keys;
        bool matched = false;
        for (int k = 0; k < 2; k++) {
            memcpy(one.key[0], keys.key[k], sizeof(one.key[0]));
            one.key_len[0] = keys.key_len[k];
            mr_sesstoken_sign(&one, id, signed_value);
            matched |= memcmp(signed_value, data, MR_SESSION_COOKIE_LEN) == 0;
        }
        FUZZ_CHECK(size == MR_SESSION_COOKIE_LEN && matched);
    }
    /* An id from the input's bytes: signed, it verifies; changed anywhere, it does not. */
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < MR_SESSION_ID_LEN; i++)
        id[i] = hex[(i < size ? data[i] : 0) & 15];
    id[MR_SESSION_ID_LEN] = '\0';
    mr_sesstoken_sign(&keys, id, signed_value);
    char back[MR_SESSION_ID_LEN + 1];
    FUZZ_CHECK(mr_sesstoken_verify(&keys, signed_value, MR_SESSION_COOKIE_LEN, back));
    FUZZ_CHECK(memcmp(back, id, sizeof(back)) == 0);
    size_t at = size > 0 ? data[size - 1] % MR_SESSION_COOKIE_LEN : 0;
    signed_value[at] = signed_value[at] == 'a' ? 'b' : 'a';
    FUZZ_CHECK(!mr_sesstoken_verify(&keys, signed_value, MR_SESSION_COOKIE_LEN, back));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] % 2 == 0)
        check_data(data + 1, size - 1);
    else
        check_cookie(data + 1, size - 1);
    return 0;
}
