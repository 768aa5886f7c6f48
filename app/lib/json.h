/* SPDX-License-Identifier: BSD-2-Clause */
/* json: a small streaming JSON writer into a struct mr_buf. It places commas and colons
 * itself; strings are escaped per RFC 8259 (", \ and every control character; non-ASCII
 * UTF-8 passes through unchanged). Nesting deeper than MR_JSON_DEPTH is a programming error
 * (assert). */
#ifndef MR_JSON_H
#define MR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/lib/buf.h"

#define MR_JSON_DEPTH 16

struct mr_json {
    struct mr_buf *b;
    int depth;
    bool first[MR_JSON_DEPTH]; /* no value written yet at this level */
    bool after_key;
};

void mr_json_init(struct mr_json *j, struct mr_buf *b);
void mr_json_obj(struct mr_json *j);
void mr_json_obj_end(struct mr_json *j);
void mr_json_arr(struct mr_json *j);
void mr_json_arr_end(struct mr_json *j);
void mr_json_key(struct mr_json *j, const char *key);
void mr_json_str(struct mr_json *j, const char *s, size_t len);
void mr_json_cstr(struct mr_json *j, const char *s);
void mr_json_int(struct mr_json *j, int64_t v);
void mr_json_bool(struct mr_json *j, bool v);
void mr_json_null(struct mr_json *j);
/* Appends s as the inside of a JSON string (no quotes), escaped. */
void mr_json_escape(struct mr_buf *b, const char *s, size_t len);

#endif
