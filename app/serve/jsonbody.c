/* SPDX-License-Identifier: BSD-2-Clause */
/* jsonbody: jansson 2.14 has no runtime depth limit (JSON_PARSER_MAX_DEPTH is 2048, fixed
 * when it is built), so a cheap pre-scan counts brackets outside strings and refuses a body
 * nested past max_depth before jansson recurses into it. The scan reports the position the
 * way jansson does: lines from 1, columns in characters. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "app/serve/jsonbody.h"

/* Returns 0, or -EINVAL with the line:column of the bracket that goes past max_depth. */
static int
check_depth(const char *s, size_t len, int max_depth, struct mr_err *err)
{
    int depth = 0, line = 1, col = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c & 0xc0) != 0x80)
            col++;
        if (c == '\n') {
            line++;
            col = 0;
        } else if (in_string) {
            if (c == '\\')
                i++; /* the escaped byte is never a quote that ends the string */
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return mr_err_set(err, -EINVAL, "%d:%d: nesting deeper than %d", line, col,
                                  max_depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

static void
decref(void *arg)
{
    json_decref(arg);
}

int
mr_jsonbody_parse(struct mr_jsonbody *jb, const char *body, size_t len,
                  const struct mr_jsonbody_limits *lim, struct mr_arena *a)
{
    jb->root = NULL;
    jb->err.msg[0] = '\0';
    if (len > lim->max_bytes)
        return mr_err_set(&jb->err, -E2BIG, "JSON body of %zu bytes, more than %zu", len,
                          lim->max_bytes);
    if (body == NULL)
        body = "";
    int rc = check_depth(body, len, lim->max_depth, &jb->err);
    if (rc < 0)
        return rc;
    json_error_t e;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
    if (root == NULL)
        return mr_err_set(&jb->err, -EINVAL, "%d:%d: %s", e.line, e.column, e.text);
    if (mr_arena_defer(a, decref, root) < 0) {
        json_decref(root);
        return mr_err_set(&jb->err, -ENOMEM, "request arena exhausted");
    }
    jb->root = root;
    return 0;
}

static const char *
type_name(const json_t *v)
{
    static const char *const names[] = {
        [JSON_OBJECT] = "object",   [JSON_ARRAY] = "array", [JSON_STRING] = "string",
        [JSON_INTEGER] = "integer", [JSON_REAL] = "real",   [JSON_TRUE] = "boolean",
        [JSON_FALSE] = "boolean",   [JSON_NULL] = "null",
    };
    return names[json_typeof(v)];
}

/* A decimal array index s[0..len), or -1. */
static long long
index_of(const char *s, size_t len)
{
    if (len == 0 || len > 9)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Walks `path` from root; returns the value, or NULL with -ENOENT/-EINVAL in *rc. */
static json_t *
walk(const json_t *root, const char *path, int *rc, struct mr_err *err)
{
    json_t *v = (json_t *)root;
    const char *s = path;
    while (v != NULL) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        if (json_is_object(v)) {
            v = json_object_getn(v, s, n);
        } else if (json_is_array(v)) {
            long long i = index_of(s, n);
            v = i < 0 ? NULL : json_array_get(v, (size_t)i);
        } else {
            int at = s > path ? (int)(s - path - 1) : 0;
            *rc = mr_err_set(err, -EINVAL, "%s: %.*s is %s, not an object or array", path, at, path,
                             type_name(v));
            return NULL;
        }
        if (dot == NULL)
            break;
        s = dot + 1;
    }
    if (v == NULL)
        *rc = mr_err_set(err, -ENOENT, "%s: missing", path);
    return v;
}

/* The value at path when its type passes `ok`, else NULL with the code in *rc. */
static json_t *
get_typed(const json_t *root, const char *path, bool (*ok)(const json_t *), const char *want,
          int *rc, struct mr_err *err)
{
    json_t *v = walk(root, path, rc, err);
    if (v != NULL && !ok(v)) {
        *rc = mr_err_set(err, -EINVAL, "%s: expected %s, got %s", path, want, type_name(v));
        return NULL;
    }
    return v;
}

static bool
is_string(const json_t *v)
{
    return json_is_string(v);
}

static bool
is_integer(const json_t *v)
{
    return json_is_integer(v);
}

static bool
is_boolean(const json_t *v)
{
    return json_is_boolean(v);
}

static bool
is_number(const json_t *v)
{
    return json_is_number(v);
}

int
mr_jsonbody_get_string(const json_t *root, const char *path, const char **out, struct mr_err *err)
{
    int rc = 0;
    json_t *v = get_typed(root, path, is_string, "string", &rc, err);
    if (v != NULL)
        *out = json_string_value(v);
    return rc;
}

int
mr_jsonbody_get_int(const json_t *root, const char *path, long long *out, struct mr_err *err)
{
    int rc = 0;
    json_t *v = get_typed(root, path, is_integer, "integer", &rc, err);
    if (v != NULL)
        *out = json_integer_value(v);
    return rc;
}

int
mr_jsonbody_get_bool(const json_t *root, const char *path, bool *out, struct mr_err *err)
{
    int rc = 0;
    json_t *v = get_typed(root, path, is_boolean, "boolean", &rc, err);
    if (v != NULL)
        *out = json_is_true(v);
    return rc;
}

int
mr_jsonbody_get_double(const json_t *root, const char *path, double *out, struct mr_err *err)
{
    int rc = 0;
    json_t *v = get_typed(root, path, is_number, "number", &rc, err);
    if (v != NULL)
        *out = json_number_value(v);
    return rc;
}
