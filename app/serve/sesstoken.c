/* SPDX-License-Identifier: BSD-2-Clause */
/* sesstoken: signing and checking session cookies and CSRF tokens (see sesstoken.h). Every
 * check computes the expected text under each key and compares the whole of it in constant
 * time, so that neither the position of the first wrong byte nor which key matched shows in
 * the time taken beyond the number of keys configured. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "app/serve/sesstoken.h"

static const char cookie_ctx[] = "millrace-session-v1:";
static const char csrf_ctx[] = "millrace-csrf-v1:";

int
mr_sesstoken_new_id(char id[MR_SESSION_ID_LEN + 1])
{
    if (sodium_init() < 0)
        return -EIO;
    unsigned char raw[MR_SESSION_ID_LEN / 2];
    randombytes_buf(raw, sizeof(raw));
    (void)sodium_bin2hex(id, MR_SESSION_ID_LEN + 1, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
    return 0;
}

/* base64url(HMAC-SHA256(key i, context || id)), NUL-terminated. */
static void
mac_text(const struct mr_session_cfg *keys, int i, const char *context, size_t context_len,
         const char *id, char out[MR_SESSION_MAC_LEN + 1])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    (void)crypto_auth_hmacsha256_init(&st, keys->key[i], keys->key_len[i]);
    (void)crypto_auth_hmacsha256_update(&st, (const unsigned char *)context, context_len);
    (void)crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, MR_SESSION_ID_LEN);
    (void)crypto_auth_hmacsha256_final(&st, mac);
    (void)sodium_bin2base64(out, MR_SESSION_MAC_LEN + 1, mac, sizeof(mac),
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(&st, sizeof(st));
}

/* Whether text[0..len) equals the MAC of id under any key (each one compared in full). */
static bool
mac_matches(const struct mr_session_cfg *keys, const char *context, size_t context_len,
            const char *id, const char *text, size_t len)
{
    if (len != MR_SESSION_MAC_LEN)
        return false;
    bool ok = false;
    for (int i = 0; i < keys->n_keys; i++) {
        char want[MR_SESSION_MAC_LEN + 1];
        mac_text(keys, i, context, context_len, id, want);
        ok |= sodium_memcmp(want, text, MR_SESSION_MAC_LEN) == 0;
    }
    return ok;
}

static bool
is_id(const char *s)
{
    for (size_t i = 0; i < MR_SESSION_ID_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

void
mr_sesstoken_sign(const struct mr_session_cfg *keys, const char *id,
                  char out[MR_SESSION_COOKIE_LEN + 1])
{
    memcpy(out, id, MR_SESSION_ID_LEN);
    out[MR_SESSION_ID_LEN] = '.';
    mac_text(keys, 0, cookie_ctx, sizeof(cookie_ctx) - 1, id, out + MR_SESSION_ID_LEN + 1);
}

bool
mr_sesstoken_verify(const struct mr_session_cfg *keys, const char *value, size_t len,
                    char id[MR_SESSION_ID_LEN + 1])
{
    if (keys->n_keys <= 0 || len != MR_SESSION_COOKIE_LEN || value[MR_SESSION_ID_LEN] != '.' ||
        !is_id(value))
        return false;
    if (!mac_matches(keys, cookie_ctx, sizeof(cookie_ctx) - 1, value, value + MR_SESSION_ID_LEN + 1,
                     MR_SESSION_MAC_LEN))
        return false;
    memcpy(id, value, MR_SESSION_ID_LEN);
    id[MR_SESSION_ID_LEN] = '\0';
    return true;
}

void
mr_sesstoken_csrf(const struct mr_session_cfg *keys, const char *id,
                  char out[MR_CSRF_TOKEN_LEN + 1])
{
    mac_text(keys, 0, csrf_ctx, sizeof(csrf_ctx) - 1, id, out);
}

bool
mr_sesstoken_csrf_ok(const struct mr_session_cfg *keys, const char *id, const char *token,
                     size_t len)
{
    return keys->n_keys > 0 && mac_matches(keys, csrf_ctx, sizeof(csrf_ctx) - 1, id, token, len);
}
