/* SPDX-License-Identifier: BSD-2-Clause */
/* lg_http: the response parser of loadgen (see lg_http.h). It is strict where a lenient
 * reading could hide a server bug from a benchmark (CRLF line ends only, no obsolete line
 * folding, one Content-Length value, a status of three digits in 100..599) and it never
 * reads or writes outside head[] or the caller's buffer: every length is checked before it
 * is used. The status line and headers are gathered into head[] and parsed once, when the
 * empty line has come; chunk-size and trailer lines reuse the same buffer. */
#include "tests/bench/lg_http.h"

#include <string.h>

/* A chunk size is at most 15 hex digits (2^60 bytes), so it cannot overflow. */
#define CHUNK_DIGITS_MAX 15
/* A Content-Length of 16 digits or more is refused rather than parsed with overflow risk. */
#define LENGTH_DIGITS_MAX 15

void
lg_http_init(struct lg_http *p)
{
    p->state = LG_HTTP_HEAD;
    p->status = 0;
    p->keep_alive = false;
    p->remaining = 0;
    p->body_bytes = 0;
    p->error = NULL;
    p->head_len = 0;
}

static void
fail(struct lg_http *p, const char *why)
{
    p->state = LG_HTTP_ERROR;
    p->error = why;
}

static char
lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool
same_word(const char *s, size_t n, const char *word)
{
    size_t w = strlen(word);
    if (n != w)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != word[i])
            return false;
    return true;
}

static bool
is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Appends what fits of buf[0..n) to head[] and looks for the terminator: CRLF for a line,
 * an empty line for a block (which may be the very first line, for an empty trailer). On
 * finding it, head_len ends just after it and the bytes of buf up to there are counted as
 * taken; otherwise all that fitted is taken. */
static size_t
gather(struct lg_http *p, const char *buf, size_t n, bool block, bool *found)
{
    size_t old = p->head_len;
    size_t room = LG_HTTP_HEAD_MAX - old;
    size_t take = n < room ? n : room;
    memcpy(p->head + old, buf, take);
    size_t len = old + take, end = 0;
    if (block && len >= 2 && p->head[0] == '\r' && p->head[1] == '\n') {
        end = 2;
    } else if (block) {
        for (size_t i = old >= 3 ? old - 3 : 0; end == 0 && i + 3 < len; i++)
            if (memcmp(p->head + i, "\r\n\r\n", 4) == 0)
                end = i + 4;
    } else {
        for (size_t i = old >= 1 ? old - 1 : 0; end == 0 && i + 1 < len; i++)
            if (p->head[i] == '\r' && p->head[i + 1] == '\n')
                end = i + 2;
    }
    *found = end != 0;
    if (end == 0) {
        p->head_len = len;
        return take;
    }
    p->head_len = end;
    return end - old;
}

/* Whether the bytes gathered since `old` hold a LF without its CR: refused at once rather
 * than waiting for a CRLF CRLF that will never come. */
static bool
has_bare_lf(const struct lg_http *p, size_t old)
{
    for (size_t i = old; i < p->head_len; i++)
        if (p->head[i] == '\n' && (i == 0 || p->head[i - 1] != '\r'))
            return true;
    return false;
}

/* A comma-separated list, each element trimmed of spaces and tabs: sets *last and *last_len
 * to the last non-empty element (length 0 when there is none), and the flags when "close" or
 * "keep-alive" is among them. */
static void
list_last(const char *v, size_t n, const char **last, size_t *last_len, bool *has_close,
          bool *has_keep_alive)
{
    *last = v;
    *last_len = 0;
    size_t i = 0;
    while (i <= n) {
        size_t j = i;
        while (j < n && v[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (v[a] == ' ' || v[a] == '\t'))
            a++;
        while (b > a && (v[b - 1] == ' ' || v[b - 1] == '\t'))
            b--;
        if (b > a) {
            *last = v + a;
            *last_len = b - a;
            if (same_word(v + a, b - a, "close"))
                *has_close = true;
            if (same_word(v + a, b - a, "keep-alive"))
                *has_keep_alive = true;
        }
        i = j + 1;
    }
}

struct head_info {
    bool http11;
    bool has_length;
    uint64_t length;
    bool has_te;
    bool chunked;
    bool conn_close;
    bool conn_keep_alive;
};

static bool
parse_length(const char *v, size_t n, uint64_t *out)
{
    if (n == 0 || n > LENGTH_DIGITS_MAX)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return true;
}

/* One header line "name: value" (no CRLF), folded into info. */
static const char *
parse_field(const char *line, size_t n, struct head_info *info)
{
    size_t colon = 0;
    while (colon < n && is_tchar(line[colon]))
        colon++;
    if (colon == 0 || colon == n || line[colon] != ':')
        return "malformed header line";
    const char *v = line + colon + 1;
    size_t vn = n - colon - 1;
    while (vn > 0 && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    const char *last;
    size_t last_len;
    bool dummy_close = false, dummy_ka = false;
    if (same_word(line, colon, "content-length")) {
        uint64_t len;
        if (!parse_length(v, vn, &len))
            return "bad Content-Length";
        if (info->has_length && info->length != len)
            return "two different Content-Length values";
        info->has_length = true;
        info->length = len;
    } else if (same_word(line, colon, "transfer-encoding")) {
        list_last(v, vn, &last, &last_len, &dummy_close, &dummy_ka);
        info->has_te = true;
        info->chunked = same_word(last, last_len, "chunked");
    } else if (same_word(line, colon, "connection")) {
        list_last(v, vn, &last, &last_len, &info->conn_close, &info->conn_keep_alive);
    }
    return NULL;
}

/* The status line: "HTTP/1.x SSS[ reason]". */
static const char *
parse_status(const char *line, size_t n, int *status, bool *http11)
{
    if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
        line[8] != ' ')
        return "bad status line";
    int s = 0;
    for (int i = 9; i < 12; i++) {
        if (line[i] < '0' || line[i] > '9')
            return "bad status code";
        s = s * 10 + (line[i] - '0');
    }
    if (s < 100 || s > 599 || (n > 12 && line[12] != ' '))
        return "bad status code";
    *status = s;
    *http11 = line[7] == '1';
    return NULL;
}

/* Parses head[0..head_len), which ends with the empty line, and picks how the body ends. */
static void
parse_head(struct lg_http *p)
{
    struct head_info info = {0};
    const char *err = NULL;
    size_t pos = 0, end = p->head_len - 2; /* the final CRLF */
    int status = 0;
    bool first = true;
    while (err == NULL && pos < end) {
        const char *line = p->head + pos;
        const char *cr = memchr(line, '\r', end - pos);
        size_t n = (size_t)(cr - line);
        if (cr[1] != '\n')
            err = "bare CR in head";
        else if (memchr(line, '\n', n) != NULL || memchr(line, '\0', n) != NULL)
            err = "bare LF or NUL in head";
        else if (first)
            err = parse_status(line, n, &status, &info.http11);
        else
            err = parse_field(line, n, &info);
        first = false;
        pos += n + 2;
    }
    if (err == NULL && first)
        err = "empty head";
    if (err != NULL) {
        fail(p, err);
        return;
    }
    p->head_len = 0;
    if (status < 200) {
        /* An interim answer (100 Continue, 103 Early Hints); the real one follows. 101
         * would switch protocols, which we never asked for. */
        if (status == 101)
            fail(p, "unexpected 101 Switching Protocols");
        return;
    }
    p->status = status;
    p->keep_alive = info.http11 ? !info.conn_close : info.conn_keep_alive && !info.conn_close;
    if (status == 204 || status == 304) {
        p->state = LG_HTTP_DONE;
    } else if (info.has_te) {
        /* Transfer-Encoding overrides Content-Length; a sender of both is not trusted with
         * the next request (RFC 9112, 6.3). */
        if (info.has_length)
            p->keep_alive = false;
        p->state = info.chunked ? LG_HTTP_CHUNK_SIZE : LG_HTTP_UNTIL_EOF;
        if (!info.chunked)
            p->keep_alive = false;
    } else if (info.has_length) {
        p->remaining = info.length;
        p->state = info.length == 0 ? LG_HTTP_DONE : LG_HTTP_BODY;
    } else {
        p->state = LG_HTTP_UNTIL_EOF;
        p->keep_alive = false;
    }
}

/* A chunk-size line in head[] (with its CRLF): hex digits, then spaces, tabs or an
 * extension after ';' up to the CRLF. */
static void
parse_chunk_size(struct lg_http *p)
{
    size_t n = p->head_len - 2, i = 0;
    uint64_t size = 0;
    while (i < n && hex_value(p->head[i]) >= 0) {
        if (i == CHUNK_DIGITS_MAX) {
            fail(p, "chunk size too large");
            return;
        }
        size = size * 16 + (uint64_t)hex_value(p->head[i]);
        i++;
    }
    if (i == 0) {
        fail(p, "bad chunk size");
        return;
    }
    while (i < n && (p->head[i] == ' ' || p->head[i] == '\t'))
        i++;
    if (i < n && p->head[i] != ';') {
        fail(p, "bad chunk size");
        return;
    }
    for (; i < n; i++) {
        if (p->head[i] == '\r' || p->head[i] == '\n' || p->head[i] == '\0') {
            fail(p, "bad chunk extension");
            return;
        }
    }
    p->head_len = 0;
    p->remaining = size;
    p->state = size == 0 ? LG_HTTP_TRAILER : LG_HTTP_CHUNK_DATA;
}

/* Takes up to `remaining` body bytes of buf. */
static size_t
take_body(struct lg_http *p, size_t n)
{
    size_t take = n < p->remaining ? n : (size_t)p->remaining;
    p->remaining -= take;
    p->body_bytes += take;
    return take;
}

/* One step of the state machine over buf[0..n), n > 0: returns the bytes it consumed. */
static size_t
step(struct lg_http *p, const char *buf, size_t n)
{
    bool found = false;
    size_t used, old;
    switch (p->state) {
    case LG_HTTP_HEAD:
    case LG_HTTP_CHUNK_SIZE:
    case LG_HTTP_TRAILER:
        old = p->head_len;
        used = gather(p, buf, n, p->state != LG_HTTP_CHUNK_SIZE, &found);
        if (has_bare_lf(p, old))
            fail(p, "LF without CR");
        else if (!found && p->head_len == LG_HTTP_HEAD_MAX)
            fail(p, p->state == LG_HTTP_HEAD ? "head too long" : "chunk line too long");
        else if (found && p->state == LG_HTTP_HEAD)
            parse_head(p);
        else if (found && p->state == LG_HTTP_CHUNK_SIZE)
            parse_chunk_size(p);
        else if (found)
            p->state = LG_HTTP_DONE; /* trailer fields are not needed */
        return used;
    case LG_HTTP_BODY:
        used = take_body(p, n);
        if (p->remaining == 0)
            p->state = LG_HTTP_DONE;
        return used;
    case LG_HTTP_CHUNK_DATA:
        used = take_body(p, n);
        if (p->remaining == 0) {
            p->state = LG_HTTP_CHUNK_END;
            p->remaining = 2;
        }
        return used;
    case LG_HTTP_CHUNK_END:
        if (buf[0] != "\r\n"[2 - p->remaining]) {
            fail(p, "chunk data not followed by CRLF");
            return 0;
        }
        if (--p->remaining == 0)
            p->state = LG_HTTP_CHUNK_SIZE;
        return 1;
    case LG_HTTP_UNTIL_EOF:
        p->body_bytes += n;
        return n;
    case LG_HTTP_DONE:
    case LG_HTTP_ERROR:
        break;
    }
    return 0;
}

size_t
lg_http_feed(struct lg_http *p, const char *buf, size_t n)
{
    size_t used = 0;
    while (used < n && p->state != LG_HTTP_DONE && p->state != LG_HTTP_ERROR)
        used += step(p, buf + used, n - used);
    return used;
}

void
lg_http_eof(struct lg_http *p)
{
    if (p->state == LG_HTTP_UNTIL_EOF) {
        p->state = LG_HTTP_DONE;
        p->keep_alive = false;
    } else if (p->state != LG_HTTP_DONE && p->state != LG_HTTP_ERROR) {
        fail(p, p->state == LG_HTTP_HEAD && p->head_len == 0 ? "closed before a response"
                                                             : "closed in mid-response");
    }
}
