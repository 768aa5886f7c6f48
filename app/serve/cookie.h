/* SPDX-License-Identifier: BSD-2-Clause */
/* cookie: the Cookie request header read (RFC 6265 §4.2, §5.4: "a=1; b=2") and the
 * Set-Cookie value written with safe defaults. Reading is lenient: a malformed pair is
 * skipped, never a reason to fail the request. Writing is strict: a name that is not a
 * token or a value outside cookie-octet is refused, so a caller cannot inject attributes;
 * it percent-encodes such values itself. */
#ifndef MR_COOKIE_H
#define MR_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/lib/err.h"

struct mr_cookie {
    const char *name;  /* NUL-terminated, in the arena */
    const char *value; /* surrounding double quotes removed */
    size_t name_len;
    size_t value_len;
};

struct mr_cookies {
    struct mr_cookie *items; /* in header order; NULL when n == 0 */
    size_t n;
    size_t n_skipped; /* malformed pairs left out */
    size_t n_dropped; /* well-formed pairs past max_cookies, left out */
};

/* Parses the Cookie header (NULL or "" is no cookies) into c, keeping at most max_cookies
 * pairs. Returns 0, or -ENOMEM past the arena ceiling (c is then empty). Nothing to free. */
MR_MUST_CHECK int mr_cookie_parse(struct mr_cookies *c, const char *header, size_t max_cookies,
                                  struct mr_arena *a);
/* Value of the first cookie named `name` (case-sensitive), or NULL. The first is the one
 * with the longest path, the order browsers send them in. */
const char *mr_cookie_get(const struct mr_cookies *c, const char *name);

enum mr_samesite {
    MR_SAMESITE_LAX = 0, /* the default */
    MR_SAMESITE_STRICT,
    MR_SAMESITE_NONE, /* needs is_https: browsers drop SameSite=None without Secure */
};

/* Zeroed (or a NULL pointer) means Path=/; HttpOnly; SameSite=Lax, a session cookie. */
struct mr_cookie_opts {
    const char *path;    /* NULL: "/" */
    const char *domain;  /* NULL: host-only */
    bool has_max_age;    /* emit Max-Age=max_age_s (0 deletes the cookie) */
    long long max_age_s; /* >= 0 */
    time_t expires;      /* 0: no Expires attribute */
    enum mr_samesite samesite;
    bool is_https;       /* the request came over HTTPS: adds Secure */
    bool script_visible; /* leaves out HttpOnly (readable by JavaScript) */
};

/* Appends one Set-Cookie header value ("name=value; Path=/; HttpOnly; SameSite=Lax") to b.
 * Returns 0; -EINVAL (nothing appended) when name is not an RFC 6265 token, value has a
 * byte outside cookie-octet, path or domain has ';' or a control byte, max_age_s < 0,
 * SameSite=None without HTTPS, or a "__Secure-"/"__Host-" name without what its prefix
 * demands; -ENOMEM when b has failed. */
MR_MUST_CHECK int mr_cookie_format(struct mr_buf *b, const char *name, const char *value,
                                   const struct mr_cookie_opts *opts);

#endif
