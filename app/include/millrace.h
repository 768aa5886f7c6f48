/* SPDX-License-Identifier: BSD-2-Clause */
/* millrace.h: everything an application sees of millrace, and all it may use.
 *
 * An application is a shared object built against this header (`pkg-config --cflags
 * millrace`, `-fPIC -shared`) that defines its routes and hooks with MR_APP (below). The
 * server loads it (config key `app`), validates it in a throwaway process, and runs its
 * handlers in a pool of worker processes: one request at a time per process, so a handler
 * needs no locks and may keep per-worker state in statics set up by its init hook.
 *
 * Memory: every pointer a function here returns, and every buffer it writes, lives in the
 * request's arena unless the comment says otherwise; it stays valid until the response has
 * been sent, and is released at once afterwards. Never free it; never keep it past the
 * request. mr_alloc gives the handler memory of the same lifetime.
 *
 * Failure: a call that can fail returns a negative errno value (or NULL) and leaves the
 * response as it was; the handler then usually returns an HTTP status (>= 400), and the
 * server answers with its uniform error page (JSON, or HTML for MR_ROUTE_HTML routes) that
 * carries the request id.
 *
 * Nothing of libfcgi, libpq, hiredis, libconfig or millrace's internals is visible here; the
 * types are opaque and the layout of the public structs is versioned by MR_API_VERSION. */
#ifndef MILLRACE_H
#define MILLRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a public struct or a function signature changes. A module records the
 * version it was built with; the server refuses a module built for another one. */
#define MR_API_VERSION 1

#if defined(__GNUC__)
#define MR_API __attribute__((visibility("default")))
#define MR_FMT(a, b) __attribute__((format(printf, a, b)))
#else
#define MR_API
#define MR_FMT(a, b)
#endif

/* One request being served. Opaque; valid only during the handler call. */
struct mr_ctx;

/* ---- Routes -------------------------------------------------------------------------- */

/* A handler fills the response and returns 0, or returns an HTTP status from 400 to 599 to
 * have the server answer its uniform error page with that status instead (whatever the
 * handler wrote is discarded). Any other return value is a 500. */
typedef int (*mr_handler_fn)(struct mr_ctx *ctx);

enum mr_route_flags {
    MR_ROUTE_NEVER_SHED = 1 << 0, /* answered even when the server sheds load (health checks) */
    MR_ROUTE_HTML = 1 << 1,       /* error pages of this route are HTML, not JSON */
};

/* One row of an application's route table. method is "GET", "POST", "PUT", "PATCH",
 * "DELETE" or "OPTIONS" (HEAD is answered by the GET row, without a body); pattern is the
 * path ("/users"). A table with two rows for the same method and pattern, or a row that
 * takes a path the server serves itself (/healthz, /readyz, /status, /metrics), is refused
 * at load with both rows named. */
struct mr_route {
    const char *method;
    const char *pattern;
    mr_handler_fn handler;
    unsigned flags; /* enum mr_route_flags */
};

/* ---- The application ------------------------------------------------------------------ */

/* One SQL statement of the application, prepared on every database connection of every
 * worker. sql takes its parameters as $1..$n; they are passed as text and the server infers
 * their types (cast where it cannot: `$1::int[]`). A handler names a statement by its index
 * in mr_app.statements. is_write: the statement changes data, so mr_sql_read and
 * mr_batch_read refuse it (they may run on a replica). name (unique, non-empty) is for
 * messages. At load, every statement is prepared once on the primary: one the server refuses
 * refuses the module, with its name and the server's reason. */
struct mr_statement {
    const char *name;
    const char *sql;
    bool is_write;
};

/* What the init hook learns about the worker it runs in. */
struct mr_worker_info {
    int worker;           /* the worker's slot, 0..workers-1 (for logs) */
    const char *app_path; /* the module's file as configured */
};

/* An application: what the module's entry point returns. Static data of the module. */
struct mr_app {
    unsigned api_version; /* MR_API_VERSION when built; MR_APP sets it */
    const char *name;     /* short, for logs and /status */
    const char *version;  /* the application's own version, e.g. "1.4.2" */
    const struct mr_route *routes;
    size_t n_routes;
    /* Optional. Runs in each worker after fork, before its first request (open files, warm
     * caches). Returns 0, or a negative errno: the worker exits and the module is refused. */
    int (*init)(const struct mr_worker_info *w);
    /* Optional. Runs in each worker before it exits normally. */
    void (*fini)(void);
    /* Optional. The statements the handlers run (Data, below). */
    const struct mr_statement *statements;
    size_t n_statements;
};

/* The symbols a module exports; MR_APP defines both. The server reads the version first and
 * calls the entry point only when it matches. */
#define MR_APP_ENTRY "millrace_app"
#define MR_APP_VERSION_SYMBOL "millrace_app_api_version"

/* Declares the module's application: MR_APP(.name = "site", .routes = routes,
 * .n_routes = sizeof(routes) / sizeof(routes[0]), .init = site_init). */
#define MR_APP(...)                                                                                \
    MR_API const unsigned millrace_app_api_version = MR_API_VERSION;                               \
    MR_API const struct mr_app *millrace_app(void);                                                \
    const struct mr_app *millrace_app(void)                                                        \
    {                                                                                              \
        static const struct mr_app app = {.api_version = MR_API_VERSION, __VA_ARGS__};             \
        return &app;                                                                               \
    }

/* ---- The request ---------------------------------------------------------------------- */

/* "GET", "POST", ...; HEAD requests report "HEAD" and run the GET handler. */
MR_API const char *mr_method(const struct mr_ctx *ctx);
/* The path, without the query string, as nginx sent it (DOCUMENT_URI). Sets *len if not
 * NULL. */
MR_API const char *mr_path(const struct mr_ctx *ctx, size_t *len);
/* The decoded value of the first query parameter `name`, or NULL when absent. Repeated keys
 * are kept: mr_query_at gives the i-th value (0-based) of `name`, or NULL past the last. */
MR_API const char *mr_query(const struct mr_ctx *ctx, const char *name);
MR_API const char *mr_query_at(const struct mr_ctx *ctx, const char *name, size_t i);
/* A request header by its HTTP name ("User-Agent"), or NULL. Case-insensitive. */
MR_API const char *mr_header(const struct mr_ctx *ctx, const char *name);
/* The raw body (NUL-terminated for convenience) and its length, or NULL when none. Bodies
 * larger than max_body_bytes never reach the handler (413). */
MR_API const char *mr_body(const struct mr_ctx *ctx, size_t *len);
/* nginx's $request_id (sent as the REQUEST_ID param), or "-". In every error page and log
 * line of the request. */
MR_API const char *mr_request_id(const struct mr_ctx *ctx);
/* Whether the client connection is HTTPS (nginx's HTTPS param is "on"). */
MR_API bool mr_is_https(const struct mr_ctx *ctx);
/* The client's address as nginx saw it (REMOTE_ADDR), or "". */
MR_API const char *mr_remote_addr(const struct mr_ctx *ctx);

/* ---- The response --------------------------------------------------------------------- */

/* The status (default 200). Values outside 100..599 become 500. */
MR_API void mr_set_status(struct mr_ctx *ctx, int status);
/* The Content-Type (default "text/plain; charset=utf-8"). The string must outlive the
 * request (a literal) or come from mr_alloc. */
MR_API void mr_set_type(struct mr_ctx *ctx, const char *content_type);
/* Adds a header line. Returns 0, or -EINVAL when the name is not a token or the name or
 * value holds CR, LF or NUL (nothing is added: no input can split the response). */
MR_API int mr_add_header(struct mr_ctx *ctx, const char *name, const char *value);
/* Appends bytes to the body. A body past the arena's ceiling turns the response into a 500;
 * these calls never fail otherwise. */
MR_API void mr_write(struct mr_ctx *ctx, const void *data, size_t len);
MR_API void mr_writef(struct mr_ctx *ctx, const char *fmt, ...) MR_FMT(2, 3);
/* Appends s[0..len) with & < > " ' escaped for HTML text and attribute values. */
MR_API void mr_write_html(struct mr_ctx *ctx, const char *s, size_t len);
/* A redirect: status 301, 302, 303, 307 or 308 (303 after a POST), Location: location.
 * Returns 0, or -EINVAL for another status or a location holding CR, LF or NUL. */
MR_API int mr_redirect(struct mr_ctx *ctx, int status, const char *location);
/* Sets ETag: "<tag>" (tag: printable ASCII without '"') and answers 304 Not Modified,
 * without a body, when the request's If-None-Match lists it (or is "*"). Returns true when
 * the response is now a 304 and the handler should return 0 without writing a body. */
MR_API bool mr_etag(struct mr_ctx *ctx, const char *tag);
/* Cache-Control: value ("no-store", "public, max-age=60"). Returns 0 or -EINVAL. */
MR_API int mr_cache_control(struct mr_ctx *ctx, const char *value);

/* ---- JSON ------------------------------------------------------------------------------ */

/* A streaming JSON writer into the body. mr_json_begin sets Content-Type application/json
 * and returns the request's writer (in the arena; never NULL). Calls must nest correctly:
 * key before every value inside an object. Strings are escaped and must be UTF-8. */
struct mr_jw;
MR_API struct mr_jw *mr_json_begin(struct mr_ctx *ctx);
MR_API void mr_jw_object(struct mr_jw *j);
MR_API void mr_jw_object_end(struct mr_jw *j);
MR_API void mr_jw_array(struct mr_jw *j);
MR_API void mr_jw_array_end(struct mr_jw *j);
MR_API void mr_jw_key(struct mr_jw *j, const char *key);
MR_API void mr_jw_string(struct mr_jw *j, const char *s);
MR_API void mr_jw_stringn(struct mr_jw *j, const char *s, size_t len);
MR_API void mr_jw_int(struct mr_jw *j, long long v);
MR_API void mr_jw_bool(struct mr_jw *j, bool v);
MR_API void mr_jw_null(struct mr_jw *j);

/* ---- Data ------------------------------------------------------------------------------ */

/* PostgreSQL, through the application's statements (mr_app.statements): reads go to a
 * replica whose lag is under the limit (round-robin, then the primary when configured),
 * writes to the primary; each call is one round trip, bounded by the request's deadline and
 * db.query_timeout_ms, and a failed backend is skipped by the circuit breakers.
 *
 * Every call below returns 0, or an HTTP status the handler can return as is:
 *   503  no usable backend (down, breaker open, connection lost)
 *   504  the deadline or a timeout passed (the server's statement_timeout included)
 *   409  a unique violation (SQLSTATE 23505)
 *   422  a foreign-key, check or not-null violation (23503, 23514, 23502)
 *   500  any other error: the server refused the statement, a bad statement index or
 *        parameter count, a write statement given to a read call, the arena's ceiling.
 * The reason (the server's message, the backend, the statement's name) goes to the
 * request's log line, never to the response.
 *
 * Parameters are text (NULL for SQL NULL), read during the call only. Results are kept as
 * they arrived (nothing is copied; in binary for a statement whose columns are all integers,
 * booleans and strings, else in the server's text form: the accessors read either), in the
 * request's arena: every pointer from them is valid until the response has been sent. */

/* One statement's result: rows of columns. Opaque; in the request's arena. */
struct mr_rows;

/* Runs statement stmt with n_params parameters on a replica (or the primary, as above) and
 * sets *out. Refuses (500) an is_write statement. */
MR_API int mr_sql_read(struct mr_ctx *ctx, int stmt, const char *const *params, int n_params,
                       struct mr_rows **out);
/* Runs statement stmt (any, read or write) on the primary, in a transaction of its own, and
 * sets *out. 0 means committed. */
MR_API int mr_sql_write(struct mr_ctx *ctx, int stmt, const char *const *params, int n_params,
                        struct mr_rows **out);

/* A batch: statements sent together in ONE pipelined round trip on one backend. */
struct mr_batch;
/* A new, empty batch in the arena, or NULL past the arena's ceiling. */
MR_API struct mr_batch *mr_batch_begin(struct mr_ctx *ctx);
/* Adds statement stmt. The params array is copied; the strings it points to are borrowed
 * and must stay valid until mr_batch_read or mr_batch_commit returns (arena memory or the
 * handler's own buffers). Returns 0 or 500 (a bad index, the arena's ceiling, b NULL); a
 * batch whose add failed fails as a whole, with that status, when run. */
MR_API int mr_batch_add(struct mr_batch *b, int stmt, const char *const *params, int n_params);
/* Runs the batch's statements, all reads, on one backend chosen like mr_sql_read; out[i]
 * (an array of at least as many pointers as statements added) is the result of the i-th. */
MR_API int mr_batch_read(struct mr_batch *b, struct mr_rows **out);
/* Runs BEGIN, the batch's statements (reads and writes) and COMMIT on the primary in one
 * round trip. Returns 0 only when the COMMIT succeeded (any failure rolls it all back);
 * out[i] as for mr_batch_read. A batch runs once: read or commit it only once. */
MR_API int mr_batch_commit(struct mr_batch *b, struct mr_rows **out);

/* Rows in a result, columns per row (0 for a statement that returns no rows, like an
 * UPDATE without RETURNING), and rows the statement changed (INSERT, UPDATE, DELETE; for a
 * SELECT the rows returned). A NULL r counts 0. */
MR_API size_t mr_rows_count(const struct mr_rows *r);
MR_API int mr_rows_columns(const struct mr_rows *r);
MR_API long long mr_rows_affected(const struct mr_rows *r);
/* Whether the value at row, col (0-based) is SQL NULL; also true when row or col is out of
 * range. */
MR_API bool mr_rows_null(const struct mr_rows *r, size_t row, int col);
/* The value of an int2, int4 or int8 column (any value whose text is a decimal integer);
 * 0 when NULL, out of range, or not an integer. */
MR_API long long mr_rows_int(const struct mr_rows *r, size_t row, int col);
/* Any column's text form (as psql shows it), NUL-terminated, owned by the result; *len (if
 * not NULL) is its length. NULL when the value is SQL NULL or out of range. */
MR_API const char *mr_rows_text(const struct mr_rows *r, size_t row, int col, size_t *len);
/* A boolean column: true for the server's "t"; false otherwise, NULL and out of range too. */
MR_API bool mr_rows_bool(const struct mr_rows *r, size_t row, int col);
/* A float4, float8 or numeric column (strtod of its text; NaN and Infinity as such); 0 when
 * NULL, out of range, or not a number. */
MR_API double mr_rows_float(const struct mr_rows *r, size_t row, int col);

/* ---- Memory, randomness, logging ------------------------------------------------------ */

/* n bytes from the request arena (aligned for any type, not zeroed), or NULL past the
 * arena's ceiling (arena_max_bytes). Released after the response. */
MR_API void *mr_alloc(struct mr_ctx *ctx, size_t n);
/* Zeroed n * size bytes, or NULL on overflow or past the ceiling. */
MR_API void *mr_calloc(struct mr_ctx *ctx, size_t n, size_t size);
/* A NUL-terminated copy of s[0..len) in the arena, or NULL. */
MR_API char *mr_strndup(struct mr_ctx *ctx, const char *s, size_t len);

/* A uniform random integer in lo..hi (inclusive), from the worker's generator (seeded per
 * worker; not for secrets). */
MR_API int32_t mr_random(struct mr_ctx *ctx, int32_t lo, int32_t hi);

enum mr_level { MR_ERROR = 3, MR_WARNING = 4, MR_INFO = 6, MR_DEBUG = 7 };
/* One logfmt line: `event=<event> request_id=<id> route=<path> ` then the formatted
 * key=value pairs (values with spaces must be quoted by the caller). ctx may be NULL
 * (outside a request, e.g. in init). */
MR_API void mr_logf(const struct mr_ctx *ctx, enum mr_level level, const char *event,
                    const char *fmt, ...) MR_FMT(4, 5);

#ifdef __cplusplus
}
#endif

#endif
