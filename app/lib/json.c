/* SPDX-License-Identifier: BSD-2-Clause */
/* json: the writer. Most strings and every key a handler writes need no escape: they are
 * copied as they are scanned, into room reserved once; only a string that holds a byte to
 * escape goes the slow way, in runs of safe bytes between its escapes. */
#include <assert.h>
#include <string.h>

#include "app/lib/json.h"

void
mr_json_init(struct mr_json *j, struct mr_buf *b)
{
    j->b = b;
    j->depth = 0;
    j->first[0] = true;
    j->after_key = false;
}

/* Before any value or key: a comma unless it is the first at its level or follows a key. */
static void
sep(struct mr_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        mr_buf_putc(j->b, ',');
    j->first[j->depth] = false;
}

static void
open_level(struct mr_json *j, char c)
{
    sep(j);
    mr_buf_putc(j->b, c);
    assert(j->depth + 1 < MR_JSON_DEPTH);
    j->depth++;
    j->first[j->depth] = true;
}

static void
close_level(struct mr_json *j, char c)
{
    assert(j->depth > 0);
    j->depth--;
    mr_buf_putc(j->b, c);
}

void
mr_json_obj(struct mr_json *j)
{
    open_level(j, '{');
}

void
mr_json_obj_end(struct mr_json *j)
{
    close_level(j, '}');
}

void
mr_json_arr(struct mr_json *j)
{
    open_level(j, '[');
}

void
mr_json_arr_end(struct mr_json *j)
{
    close_level(j, ']');
}

/* The letter of c's two-character escape (\" \\ \n \r \t \b \f), or 0: \u00XX. */
static char
short_escape(unsigned char c)
{
    static const char from[] = "\"\\\n\r\t\b\f";
    static const char to[] = "\"\\nrtbf";
    const char *p = c != 0 ? strchr(from, c) : NULL;
    return p != NULL ? to[p - from] : 0;
}

/* 1 for the bytes a JSON string escapes: controls, '"' and '\\'. A table: one load a byte
 * where there were three compares. */
/* clang-format off */
static const unsigned char escaped_bytes[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x00..0x0f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x10..0x1f */
    ['"'] = 1, ['\\'] = 1,
};
/* clang-format on */

static bool
is_escaped(unsigned char c)
{
    return escaped_bytes[c] != 0;
}

/* Copies the longest prefix of s[0..len) that needs no escape to dst; returns its length. */
static size_t
copy_plain(char *dst, const char *s, size_t len)
{
    size_t i = 0;
    for (; i < len && !is_escaped((unsigned char)s[i]); i++)
        dst[i] = s[i];
    return i;
}

void
mr_json_escape(struct mr_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char *dst = mr_buf_reserve(b, len);
    if (dst == NULL)
        return;
    size_t run = copy_plain(dst, s, len);
    mr_buf_commit(b, run);
    for (size_t i = run; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_escaped(c))
            continue;
        mr_buf_append(b, s + run, i - run);
        run = i + 1;
        char e = short_escape(c);
        if (e != 0) {
            char two[2] = {'\\', e};
            mr_buf_append(b, two, 2);
        } else {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            mr_buf_append(b, u, 6);
        }
    }
    mr_buf_append(b, s + run, len - run);
}

void
mr_json_key(struct mr_json *j, const char *key)
{
    sep(j);
    j->after_key = true;
    size_t len = strlen(key);
    char *dst = mr_buf_reserve(j->b, len + 3);
    if (dst == NULL)
        return;
    dst[0] = '"';
    if (copy_plain(dst + 1, key, len) == len) { /* "key": in one piece */
        dst[len + 1] = '"';
        dst[len + 2] = ':';
        mr_buf_commit(j->b, len + 3);
        return;
    }
    mr_buf_commit(j->b, 1);
    mr_json_escape(j->b, key, len);
    mr_buf_append(j->b, "\":", 2);
}

void
mr_json_str(struct mr_json *j, const char *s, size_t len)
{
    sep(j);
    mr_buf_putc(j->b, '"');
    mr_json_escape(j->b, s, len);
    mr_buf_putc(j->b, '"');
}

void
mr_json_cstr(struct mr_json *j, const char *s)
{
    mr_json_str(j, s, strlen(s));
}

void
mr_json_int(struct mr_json *j, int64_t v)
{
    sep(j);
    mr_buf_int(j->b, v);
}

void
mr_json_bool(struct mr_json *j, bool v)
{
    sep(j);
    mr_buf_puts(j->b, v ? "true" : "false");
}

void
mr_json_null(struct mr_json *j)
{
    sep(j);
    mr_buf_puts(j->b, "null");
}
