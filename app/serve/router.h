/* SPDX-License-Identifier: BSD-2-Clause */
/* router: method + path -> route, over a segment trie compiled once at load from a table of
 * (method, pattern) rows (an application's struct mr_route, millrace.h). A path that matches with
 * another method gives 405 and the Allow list; HEAD is answered by a GET row when the pattern has
 * no HEAD row.
 *
 * Patterns are '/'-separated segments, each one of:
 *   users         static: the path's segment, byte for byte (no decoding; nginx's
 *                 DOCUMENT_URI is decoded already)
 *   {name:int}    an optional '-' then digits that fit a long long ("007" is 7; "+1" and
 *                 "1e3" are not ints); also in int_value. A segment that is not an int does
 *                 not match the row, so /u/{id:int} and /u/{name} can both exist
 *   {name}        any non-empty segment
 *   {name*}       the rest of the path, zero or more segments, only as the last segment:
 *                 /f/{p*} matches /f (p = ""), /f/ (p = "") and /f/a/b (p = "a/b")
 * At each segment the more specific kind is tried first: static, then int, then plain, then
 * rest; a path that fails deeper down backtracks to the next kind. The first pattern in that
 * order with a row for the method wins. "/" is the pattern with no segment; a trailing slash
 * is an empty last segment, so /a and /a/ are different paths. Names are [A-Za-z_][A-Za-z0-9_]*.
 *
 * Captured values are percent-decoded into the request arena and NUL-terminated. A value
 * whose decoding is invalid (bad escape, %00, a raw NUL, invalid UTF-8) or that contains a
 * '/' it did not have as a separator (%2F) makes the match -400: only the winning route's
 * values are decoded, so a bad escape elsewhere in the path changes nothing. */
#ifndef MR_ROUTER_H
#define MR_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "app/lib/arena.h"
#include "app/lib/err.h"

#define MR_ROUTE_MAX_PARAMS 8    /* per pattern; more is refused at build */
#define MR_ROUTE_MAX_SEGMENTS 32 /* per pattern; more is refused at build */
#define MR_ROUTE_ALLOW_LEN 48    /* "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS" + NUL */

/* What the router needs from a route: the first member of any row type given to it. */
struct mr_route_row {
    const char *method; /* GET HEAD POST PUT PATCH DELETE OPTIONS */
    const char *pattern;
};

/* Opaque; built once before fork, read-only afterwards (shared by the workers). */
struct mr_router;

struct mr_route_param {
    const char *name;  /* the pattern's name, owned by the router */
    const char *value; /* decoded, NUL-terminated, in the request arena */
    size_t value_len;
    long long int_value; /* {name:int}'s value; 0 for the other kinds */
};

struct mr_match {
    int route;    /* the row index, or -1 */
    int n_params; /* in the pattern's order */
    struct mr_route_param params[MR_ROUTE_MAX_PARAMS];
    char allow[MR_ROUTE_ALLOW_LEN]; /* on -405: "GET, HEAD, POST" (fixed method order) */
};

/* Compiles n rows, each `stride` bytes apart in `rows` and each starting with a struct
 * mr_route_row (so a bigger route struct can be passed directly). Row i's index is what
 * mr_router_match returns. Returns 0 and *out (free with mr_router_free), or -EINVAL with
 * err naming the first bad row as "METHOD PATTERN: reason", or both rows of a conflict (the
 * same method on two patterns of the same shape: same static segments and the same
 * parameter kinds at the same places, whatever the names). n may be 0. */
MR_MUST_CHECK int mr_router_build(const struct mr_route_row *rows, size_t n, size_t stride,
                                  struct mr_router **out, struct mr_err *err);
/* Frees *r and sets it to NULL; harmless on NULL. */
void mr_router_free(struct mr_router **r);

/* Matches method and path[0..path_len) (no query string; need not be NUL-terminated).
 * Returns the row index and fills m->params; or -404 when no pattern matches the path;
 * -405 when some do but none has a row for the method (method names are case-sensitive),
 * with m->allow; -400 for an invalid value (see the top of this file); -500 when the arena
 * is exhausted. Allocates only from `a`, and only for the values of the route it returns. */
int mr_router_match(const struct mr_router *r, const char *method, const char *path,
                    size_t path_len, struct mr_arena *a, struct mr_match *m);

#endif
