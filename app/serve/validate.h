/* SPDX-License-Identifier: BSD-2-Clause */
/* validate: a route's inputs declared as a table, checked all at once before the handler runs
 * (kcgi's struct kvalid, made declarative). The table is compiled once at load (ranges,
 * defaults, regexes and error texts checked and prepared); per request every field is fetched
 * through a caller's get function, so this module does not know where values come from, and
 * either all are valid and typed values are read by row index, or the caller answers 400 with
 * a JSON body naming each bad field. Per request it allocates only from the arena, except
 * inside glibc's regexec while it fills its DFA cache (measured: see mr_valid_run). */
#ifndef MR_VALIDATE_H
#define MR_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "app/include/millrace.h"
#include "app/lib/arena.h"
#include "app/lib/buf.h"
#include "app/lib/err.h"

/* enum mr_source, enum mr_vtype, struct mr_input and the MR_IN_ macros are millrace.h's: a
 * route declares its inputs in the public API. */

struct mr_valid; /* a compiled table; read-only after compile, shareable across requests */
struct mr_value; /* one typed value */

/* The typed values of one request, filled by mr_valid_run. The array is in the arena. */
struct mr_values {
    const struct mr_valid *v;
    struct mr_value *vals;
    int n;
};

/* Raw text of field `name` from `from`, with its length in *len, or NULL when absent. The
 * text need not be NUL-terminated and must stay valid until mr_valid_run returns. JSON
 * scalars come as their text (true, 12, the unescaped string). */
typedef const char *(*mr_valid_get_fn)(void *arg, enum mr_source from, const char *name,
                                       size_t *len);

/* Checks every row of inputs and builds *out (malloc; free with mr_valid_free). inputs, its
 * names, defaults and choices are borrowed: they must outlive *out (route tables are static).
 * Returns 0, or -EINVAL with a reason naming the field in err: an unknown source or type, an
 * empty or duplicate name in the same source, min > max, a bound on a type without bounds, a
 * negative length, a pattern that regcomp refuses (with regerror's text) or on a non-string,
 * a backreference (\1..\9, slow to match) or a ')' without its '(' (it would unanchor the
 * pattern), an enum without choices or with a repeated one, a default on a required field or
 * one that does not itself validate. */
MR_MUST_CHECK int mr_valid_compile(const struct mr_input *inputs, struct mr_valid **out,
                                   struct mr_err *err);
/* Frees v and sets *v to NULL; safe on NULL. */
void mr_valid_free(struct mr_valid **v);
/* Number of rows (without the end row). */
int mr_valid_count(const struct mr_valid *v);
/* Row index of `name` from `from`, or -1; a linear scan, for load time. */
int mr_valid_index(const struct mr_valid *v, enum mr_source from, const char *name);

/* Fetches and checks every field, in declaration order. Returns 0 with out filled (strings
 * copied NUL-terminated into a); or 400 with errors_json (a buffer the caller initialized)
 * holding exactly
 *   {"error":"invalid input","fields":[{"name":"id","in":"path","reason":"..."},...]}
 * listing every bad field in declaration order; or -ENOMEM past the arena's ceiling.
 * Allocation: only from a, and inside glibc's regexec for rows with a pattern. Measured with
 * valgrind on glibc 2.36, in the C locale (millrace never calls setlocale), with one match
 * slot (REG_NOSUB counts the same): regexec mallocs while it builds its DFA state cache,
 * which lives in the compiled regex (a few hundred small blocks over a worker's first
 * requests, bounded by the pattern's states), then zero per call; had an app set a UTF-8
 * locale before compile, it would malloc and free about two blocks on every call. */
MR_MUST_CHECK int mr_valid_run(const struct mr_valid *v, mr_valid_get_fn get, void *get_arg,
                               struct mr_arena *a, struct mr_values *out,
                               struct mr_buf *errors_json);

/* Typed access by row index after a 0 from mr_valid_run. Asking for the wrong type is a
 * programming error (assert). An absent optional field without a default reads as 0, NULL
 * (len 0), -1 or false, and mr_values_has tells it apart. */
bool mr_values_has(const struct mr_values *vals, int index);
long long mr_values_int(const struct mr_values *vals, int index);
/* MR_V_STRING and MR_V_EMAIL: NUL-terminated, in the arena (or the table for a default). */
const char *mr_values_str(const struct mr_values *vals, int index, size_t *len);
/* MR_V_ENUM: the index in choices. */
int mr_values_enum(const struct mr_values *vals, int index);
bool mr_values_bool(const struct mr_values *vals, int index);
/* Why row index's given value is invalid (the text of the 400's "reason"), or NULL when it is
 * valid or absent. After a 400 from mr_valid_run the values are still filled: each invalid
 * row reads as absent and keeps its reason (for MR_ROUTE_INPUT_ERRORS routes). */
const char *mr_values_reason(const struct mr_values *vals, int index);
/* Row index of name (any source), or -1: a linear scan of the rows, cheap for a handful. */
int mr_values_find(const struct mr_values *vals, const char *name);

#endif
