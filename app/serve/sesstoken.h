/* SPDX-License-Identifier: BSD-2-Clause */
/* sesstoken: the session cookie's value and the CSRF token, both HMAC-SHA256 (libsodium)
 * under the configured session keys. A session id is 32 random bytes written as 64 lowercase
 * hex digits; the cookie is `<id>.<mac>`, mac = base64url(HMAC(key, "millrace-session-v1:"
 * id)) without padding; the CSRF token is base64url(HMAC(key, "millrace-csrf-v1:" id)), so
 * neither can be made from the other. New values are signed with the first key; any listed key
 * verifies (rotation). Comparisons are constant-time (sodium_memcmp). Pure functions: no
 * allocation, no I/O beyond the random bytes of a new id. */
#ifndef MR_SESSTOKEN_H
#define MR_SESSTOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "app/config/config.h"

#define MR_SESSION_ID_LEN 64  /* hex digits of a session id */
#define MR_SESSION_MAC_LEN 43 /* base64url of 32 bytes, unpadded */
#define MR_SESSION_COOKIE_LEN (MR_SESSION_ID_LEN + 1 + MR_SESSION_MAC_LEN)
#define MR_CSRF_TOKEN_LEN MR_SESSION_MAC_LEN

/* A new random id (randombytes_buf), NUL-terminated. Returns 0, or -EIO when libsodium
 * cannot start (no entropy source): then no session can be made. */
int mr_sesstoken_new_id(char id[MR_SESSION_ID_LEN + 1]);
/* The cookie value for id under keys' first key, NUL-terminated. */
void mr_sesstoken_sign(const struct mr_session_cfg *keys, const char *id,
                       char out[MR_SESSION_COOKIE_LEN + 1]);
/* Whether value[0..len) is `<64 lowercase hex>.<43 base64url>` signed by one of the keys;
 * when it is, copies the id (NUL-terminated) into id. Anything else is false: tampered,
 * truncated, another key, another shape. */
bool mr_sesstoken_verify(const struct mr_session_cfg *keys, const char *value, size_t len,
                         char id[MR_SESSION_ID_LEN + 1]);
/* The CSRF token of session id under the first key, NUL-terminated. */
void mr_sesstoken_csrf(const struct mr_session_cfg *keys, const char *id,
                       char out[MR_CSRF_TOKEN_LEN + 1]);
/* Whether token[0..len) is id's CSRF token under one of the keys. */
bool mr_sesstoken_csrf_ok(const struct mr_session_cfg *keys, const char *id, const char *token,
                          size_t len);

#endif
