/* SPDX-License-Identifier: BSD-2-Clause */
/* cookie: the header is copied into the arena once and cut in place, so a parse costs two
 * allocations however many cookies there are. The writer validates everything before it
 * appends anything, so a refused cookie leaves the buffer as it was. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "app/serve/cookie.h"

/* RFC 7230 tchar. */
static bool
is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 6265 cookie-octet: printable US-ASCII but for space, DQUOTE, comma, ';' and '\'. */
static bool
is_cookie_octet(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\';
}

static bool
all_of(const char *s, size_t len, bool (*ok)(unsigned char))
{
    for (size_t i = 0; i < len; i++)
        if (!ok((unsigned char)s[i]))
            return false;
    return true;
}

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static bool
is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_ws(s[i]))
            return false;
    return true;
}

/* Cuts one "name=value" piece s[0..len) of the writable copy in place; false if malformed. */
static bool
cut_pair(char *s, size_t len, struct mr_cookie *out)
{
    while (len > 0 && is_ws(*s)) {
        s++;
        len--;
    }
    while (len > 0 && is_ws(s[len - 1]))
        len--;
    char *eq = memchr(s, '=', len);
    if (eq == NULL)
        return false;
    size_t name_len = (size_t)(eq - s);
    while (name_len > 0 && is_ws(s[name_len - 1]))
        name_len--;
    char *v = eq + 1;
    size_t v_len = len - (size_t)(v - s);
    while (v_len > 0 && is_ws(*v)) {
        v++;
        v_len--;
    }
    if (v_len >= 2 && v[0] == '"' && v[v_len - 1] == '"') {
        v++;
        v_len -= 2;
    }
    if (name_len == 0 || !all_of(s, name_len, is_tchar) || !all_of(v, v_len, is_cookie_octet))
        return false;
    /* Both ends lie before the next ';' or the copy's NUL, so cutting loses nothing. */
    s[name_len] = '\0';
    v[v_len] = '\0';
    *out = (struct mr_cookie){.name = s, .value = v, .name_len = name_len, .value_len = v_len};
    return true;
}

int
mr_cookie_parse(struct mr_cookies *c, const char *header, size_t max_cookies, struct mr_arena *a)
{
    memset(c, 0, sizeof(*c));
    if (header == NULL || *header == '\0' || max_cookies == 0)
        return 0;
    size_t len = strlen(header), pieces = 1;
    for (size_t i = 0; i < len; i++)
        pieces += header[i] == ';';
    size_t cap = pieces < max_cookies ? pieces : max_cookies;
    char *copy = mr_arena_strndup(a, header, len);
    struct mr_cookie *items = mr_arena_alloc(a, cap * sizeof(*items));
    if (copy == NULL || items == NULL)
        return -ENOMEM;
    char *s = copy, *end = copy + len;
    while (s <= end) {
        char *semi = memchr(s, ';', (size_t)(end - s));
        char *stop = semi ? semi : end;
        struct mr_cookie one;
        size_t piece_len = (size_t)(stop - s);
        if (!cut_pair(s, piece_len, &one))
            c->n_skipped += !is_blank(s, piece_len); /* "a=1;" and "a=1; ;" are fine */
        else if (c->n < cap)
            items[c->n++] = one;
        else
            c->n_dropped++;
        s = stop + 1;
    }
    c->items = c->n ? items : NULL;
    return 0;
}

const char *
mr_cookie_get(const struct mr_cookies *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].name, name) == 0)
            return c->items[i].value;
    return NULL;
}

/* RFC 6265 av-octet for Path and Domain: no control bytes, no ';', nothing past ASCII. */
static bool
is_av_octet(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != ';';
}

static bool
valid_attr(const char *s)
{
    return s == NULL || (*s != '\0' && all_of(s, strlen(s), is_av_octet));
}

/* The checks of mr_cookie_format, before anything is appended. */
static bool
valid_cookie(const char *name, const char *value, const struct mr_cookie_opts *o)
{
    size_t name_len = strlen(name);
    if (name_len == 0 || !all_of(name, name_len, is_tchar) ||
        !all_of(value, strlen(value), is_cookie_octet))
        return false;
    if (!valid_attr(o->path) || !valid_attr(o->domain))
        return false;
    if ((o->has_max_age && o->max_age_s < 0) || o->samesite > MR_SAMESITE_NONE)
        return false;
    if (o->samesite == MR_SAMESITE_NONE && !o->is_https)
        return false;
    /* RFC 6265bis §4.1.3: browsers reject prefixed cookies that lack these. */
    if (strncmp(name, "__Secure-", 9) == 0 && !o->is_https)
        return false;
    if (strncmp(name, "__Host-", 7) == 0 &&
        (!o->is_https || o->domain != NULL || (o->path != NULL && strcmp(o->path, "/") != 0)))
        return false;
    return true;
}

/* IMF-fixdate (RFC 7231 §7.1.1.1) without the locale strftime would use. */
static bool
http_date(time_t t, char out[32])
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 1601)
        return false;
    int n = snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                     months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n > 0 && n < 32;
}

int
mr_cookie_format(struct mr_buf *b, const char *name, const char *value,
                 const struct mr_cookie_opts *opts)
{
    static const struct mr_cookie_opts defaults;
    static const char *const samesite[] = {"Lax", "Strict", "None"};
    const struct mr_cookie_opts *o = opts ? opts : &defaults;
    char date[32];
    if (name == NULL || value == NULL || !valid_cookie(name, value, o))
        return -EINVAL;
    if (o->expires != 0 && !http_date(o->expires, date))
        return -EINVAL;
    mr_buf_puts(b, name);
    mr_buf_putc(b, '=');
    mr_buf_puts(b, value);
    mr_buf_puts(b, "; Path=");
    mr_buf_puts(b, o->path ? o->path : "/");
    if (o->domain != NULL) {
        mr_buf_puts(b, "; Domain=");
        mr_buf_puts(b, o->domain);
    }
    if (o->has_max_age)
        mr_buf_printf(b, "; Max-Age=%lld", o->max_age_s);
    if (o->expires != 0) {
        mr_buf_puts(b, "; Expires=");
        mr_buf_puts(b, date);
    }
    if (o->is_https)
        mr_buf_puts(b, "; Secure");
    if (!o->script_visible)
        mr_buf_puts(b, "; HttpOnly");
    mr_buf_puts(b, "; SameSite=");
    mr_buf_puts(b, samesite[o->samesite]);
    return b->failed ? -ENOMEM : 0;
}
