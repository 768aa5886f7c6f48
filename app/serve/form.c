/* SPDX-License-Identifier: BSD-2-Clause */
/* form: the urlencoded codec. Query strings and urlencoded bodies go through the same
 * mr_query_parse, so a name means the same thing in either place. Every decoded byte lands
 * in the request arena. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "app/lib/hex.h"
#include "app/serve/form.h"

bool
mr_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= n) /* needs n continuation bytes after s[i] */
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

int
mr_pct_decode(const char *src, size_t len, bool plus_is_space, char *dst, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (len - i < 3)
                return -EINVAL;
            int hi = mr_hex_digit((unsigned char)src[i + 1]);
            int lo = mr_hex_digit((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0) /* %00: every consumer reads C strings */
                return -EINVAL;
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            dst[o++] = ' ';
        } else {
            dst[o++] = c;
        }
    }
    dst[o] = '\0';
    *out_len = o;
    return mr_utf8_valid(dst, o) ? 0 : -EINVAL;
}

static int
decode_part(const char *s, size_t len, struct mr_arena *a, const char **out, size_t *out_len)
{
    char *dst = mr_arena_alloc(a, len + 1);
    if (dst == NULL)
        return -ENOMEM;
    *out = dst;
    return mr_pct_decode(s, len, true, dst, out_len);
}

int
mr_query_parse(const char *s, size_t len, struct mr_arena *a, int max_params, struct mr_param **out,
               size_t *n)
{
    *out = NULL;
    *n = 0;
    /* Count the non-empty pieces: "a=1&" and "&&a=1" hold one parameter each. */
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += s[i] != '&' && (i == 0 || s[i - 1] == '&');
    if (count > (size_t)max_params)
        return -E2BIG;
    if (count == 0)
        return 0;
    struct mr_param *p = mr_arena_alloc(a, count * sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    size_t k = 0;
    const char *end = s + len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *stop = amp ? amp : end;
        if (stop > s) { /* skip empty pieces ("a=1&&b=2") */
            const char *eq = memchr(s, '=', (size_t)(stop - s));
            const char *name_end = eq ? eq : stop;
            const char *val = eq ? eq + 1 : stop;
            int rc = decode_part(s, (size_t)(name_end - s), a, &p[k].name, &p[k].name_len);
            if (rc == 0)
                rc = decode_part(val, (size_t)(stop - val), a, &p[k].value, &p[k].value_len);
            if (rc < 0)
                return rc;
            k++;
        }
        s = stop + (amp ? 1 : 0);
    }
    *out = p;
    *n = k;
    return 0;
}

bool
mr_form_is_urlencoded(const char *ct)
{
    static const char type[] = "application/x-www-form-urlencoded";
    if (ct == NULL)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    if (strncasecmp(ct, type, sizeof(type) - 1) != 0)
        return false;
    ct += sizeof(type) - 1;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return *ct == '\0' || *ct == ';';
}

int
mr_form_parse(struct mr_form *f, const char *content_type, const char *body, size_t len,
              struct mr_arena *a, int max_params)
{
    f->params = NULL;
    f->n = 0;
    if (!mr_form_is_urlencoded(content_type))
        return -EMEDIUMTYPE;
    return mr_query_parse(body ? body : "", body ? len : 0, a, max_params, &f->params, &f->n);
}

const char *
mr_form_get(const struct mr_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->params[i].name, name) == 0)
            return f->params[i].value;
    return NULL;
}

size_t
mr_form_values(const struct mr_form *f, const char *name, const char **out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->params[i].name, name) != 0)
            continue;
        if (k < cap)
            out[k] = f->params[i].value;
        k++;
    }
    return k;
}
