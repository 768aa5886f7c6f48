/* SPDX-License-Identifier: BSD-2-Clause */
/* form: the application/x-www-form-urlencoded codec, shared by query strings (request.c)
 * and urlencoded request bodies: percent-decoding, UTF-8 validation, splitting into
 * name/value pairs in the request arena, and lookups that see every value of a repeated
 * name. Knows nothing of FastCGI. */
#ifndef MR_FORM_H
#define MR_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "app/lib/arena.h"
#include "app/lib/err.h"

struct mr_param {
    const char *name; /* decoded, NUL-terminated, in the arena */
    const char *value;
    size_t name_len;
    size_t value_len;
};

/* Decoded pairs in input order; repeated names are kept, each in its place. */
struct mr_form {
    struct mr_param *params; /* in the arena; NULL when n == 0 */
    size_t n;
};

/* Is content_type application/x-www-form-urlencoded (case-insensitive, parameters such as
 * "; charset=UTF-8" allowed)? NULL is not. */
bool mr_form_is_urlencoded(const char *content_type);

/* Parses an urlencoded request body into f (pairs in the arena, exactly as query strings
 * are parsed). Returns 0; -EMEDIUMTYPE when content_type is not urlencoded (415); -E2BIG
 * past max_params (413); -EINVAL for bad percent-encoding, %00 or invalid UTF-8 (400);
 * -ENOMEM past the arena ceiling (500). On error f is empty. Nothing to free. */
MR_MUST_CHECK int mr_form_parse(struct mr_form *f, const char *content_type, const char *body,
                                size_t len, struct mr_arena *a, int max_params);

/* Value of the first pair named `name`, or NULL. Borrowed from the arena. */
const char *mr_form_get(const struct mr_form *f, const char *name);
/* Every value of `name`, in order: fills out[0..cap) and returns how many there are in
 * all (which may exceed cap, so a caller can size a second call or refuse). */
size_t mr_form_values(const struct mr_form *f, const char *name, const char **out, size_t cap);

/* Parses an application/x-www-form-urlencoded string into params in the arena ('+' is a
 * space). Returns 0, -E2BIG past max_params, -EINVAL for bad percent-encoding or invalid
 * UTF-8, -ENOMEM past the arena ceiling. */
int mr_query_parse(const char *s, size_t len, struct mr_arena *a, int max_params,
                   struct mr_param **out, size_t *n);
/* Percent-decodes src[0..len) into dst (room for len + 1 bytes), NUL-terminates, and sets
 * *out_len. Returns 0 or -EINVAL (a '%' not followed by two hex digits, %00, or invalid
 * UTF-8). */
int mr_pct_decode(const char *src, size_t len, bool plus_is_space, char *dst, size_t *out_len);
/* Is s[0..len) valid UTF-8 (no overlongs, no surrogates, at most U+10FFFF)? */
bool mr_utf8_valid(const char *s, size_t len);

#endif
